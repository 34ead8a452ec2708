//! Where a launch lands, or why it fails: zone outages, insufficient
//! capacity (ICE) windows and random per-zone launch failures.
//!
//! A failed `RunInstances` call creates nothing and bills nothing. The group
//! tries its zones in balancing order and, in each, its instance types in
//! priority order; AWS "tries to launch in other Availability Zones until it
//! succeeds" on InsufficientInstanceCapacity (user guide,
//! ts-as-instancelaunchfailure) and a mixed-instances group falls back to its
//! other types. If nothing launches, the group retries after a backoff that
//! doubles up to a maximum (the interval is undocumented: UNCONFIRMED,
//! defaults 10 s doubling to 5 min).

use rand::Rng;

use crate::engine::{Context, Millis};

use super::{AsgId, Cloud, CloudEvent, InstanceId};

/// A zone cannot launch an instance type between two times.
#[derive(Debug, Clone, PartialEq)]
pub struct IceWindow {
    /// Scenario zone index.
    pub zone: usize,
    /// Instance type index.
    pub instance_type: usize,
    /// Start (inclusive).
    pub from: Millis,
    /// End (exclusive).
    pub until: Millis,
}

/// Launch failures of a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchFailures {
    /// Probability that a launch attempt in each zone fails (by scenario
    /// zone index).
    pub probability: Vec<f64>,
    /// Insufficient-capacity windows.
    pub ice: Vec<IceWindow>,
    /// First retry after a launch failed everywhere.
    pub retry_backoff: Millis,
    /// Longest retry interval.
    pub max_retry_backoff: Millis,
}

impl LaunchFailures {
    /// No failures, default retry timing, for `zones` zones.
    pub fn new(zones: usize) -> Self {
        LaunchFailures {
            probability: vec![0.0; zones],
            ice: Vec::new(),
            retry_backoff: Millis::from_secs(10),
            max_retry_backoff: Millis::from_mins(5),
        }
    }

    pub(super) fn ice(&self, zone: usize, instance_type: usize, now: Millis) -> bool {
        self.ice.iter().any(|w| {
            w.zone == zone && w.instance_type == instance_type && w.from <= now && now < w.until
        })
    }
}

impl Cloud {
    /// Tries to launch one instance for `asg`, in `only_zone` if given, for
    /// its warm pool if `warm`. Returns the new instance, already scheduled
    /// to reach `running`.
    pub(super) fn try_launch<E: From<CloudEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        asg: AsgId,
        only_zone: Option<usize>,
        warm: bool,
    ) -> Option<InstanceId> {
        let now = ctx.now();
        let mut order = std::mem::take(&mut self.scratch_zones);
        self.asgs[asg.index()].zones_for_launch(&mut order);
        let mut chosen = None;
        'zones: for &local in &order {
            let zone = self.asgs[asg.index()].zone_ids[local];
            if only_zone.is_some_and(|z| z != zone) || self.zone_down_until[zone] > now {
                continue;
            }
            for t in self.asgs[asg.index()].spec.types_in_order() {
                if self.config.launch_failures.ice(zone, t, now) {
                    continue;
                }
                // Draw only where failures are configured, so scenarios
                // without them consume no random numbers.
                let p = self.config.launch_failures.probability[zone];
                if p > 0.0 && self.launch_failure_rng.random::<f64>() < p {
                    continue 'zones;
                }
                chosen = Some((zone, t));
                break 'zones;
            }
        }
        self.scratch_zones = order;
        let (zone, t) = chosen?;
        let spot = self.asgs[asg.index()].spec.spot;
        let id = self.create_instance(asg, zone, t, now, warm, spot);
        self.launched += 1;
        self.note(super::CloudRecord::Launched(id));
        let delay = self.asgs[asg.index()]
            .spec
            .launch_delay
            .sample(&mut self.launch_rng);
        ctx.schedule_in(delay, CloudEvent::InstanceRunning(id));
        Some(id)
    }
}
