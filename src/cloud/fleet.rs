//! Instances launched one at a time for a caller that chose the instance
//! type, zone and purchase option itself (Karpenter's `CreateFleet` call
//! with one override), outside any ASG's desired count.
//!
//! The instance belongs to a group so that billing, faults and per-pool
//! costs find it, but the group's desired count is not raised: its
//! reconcile never replaces it, and terminating it (by the caller or a
//! fault) leaves the group as it was. A launch fails, creating and billing
//! nothing, when the zone is out, the type is in an insufficient-capacity
//! window there, or the zone's launch-failure probability draws a failure
//! (drawn only where one is set, as for ASG launches).

use rand::Rng;

use crate::engine::Context;

use super::{AsgId, Cloud, CloudEvent, CloudRecord, InstanceId, TerminationReason};

/// Why a fleet launch created nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaunchRefused {
    /// The zone is out (a zone outage).
    ZoneDown,
    /// `InsufficientInstanceCapacity` for this type in this zone.
    InsufficientCapacity,
    /// A random launch failure of the zone.
    Failed,
}

impl Cloud {
    /// Launches one instance of type `instance_type` in scenario zone
    /// `zone` for group `asg`, Spot if `spot`, without counting it towards
    /// the group's desired capacity. It reaches `running` after the group's
    /// launch delay and boots as any other instance.
    pub fn launch_fleet_instance<E: From<CloudEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        asg: AsgId,
        instance_type: usize,
        zone: usize,
        spot: bool,
    ) -> Result<InstanceId, LaunchRefused> {
        let now = ctx.now();
        if self.zone_down_until[zone] > now {
            return Err(LaunchRefused::ZoneDown);
        }
        if self.config.launch_failures.ice(zone, instance_type, now) {
            return Err(LaunchRefused::InsufficientCapacity);
        }
        let p = self.config.launch_failures.probability[zone];
        if p > 0.0 && self.launch_failure_rng.random::<f64>() < p {
            return Err(LaunchRefused::Failed);
        }
        let id = self.create_instance(asg, zone, instance_type, now, false, spot);
        // Not part of the group's count: nothing replaces it when it goes.
        let inst = &mut self.instances[id.index()];
        inst.counted = false;
        self.asgs[asg.index()].uncount(id, zone);
        self.asgs[asg.index()].fleet.push(id);
        self.launched += 1;
        self.note(CloudRecord::Launched(id));
        let delay = self.asgs[asg.index()]
            .spec
            .launch_delay
            .sample(&mut self.launch_rng);
        ctx.schedule_in(delay, CloudEvent::InstanceRunning(id));
        Ok(id)
    }

    /// Terminates a fleet instance at its owner's request (Karpenter
    /// deleting its NodeClaim, `why` saying so for the journal):
    /// `shutting-down` now, `terminated` after `shutting_down`. Nothing
    /// replaces it.
    pub fn terminate_fleet_instance<E: From<CloudEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        id: InstanceId,
        why: &'static str,
    ) {
        self.terminate_instance(
            ctx,
            id,
            crate::engine::Millis::ZERO,
            TerminationReason::NodeClaimDeleted(why),
        );
    }
}
