//! An EC2 Auto Scaling Group: its configuration, the instances it counts
//! towards its desired capacity, zone balancing and the `Default`
//! termination policy.
//!
//! What a group *does* over time (reconcile, health checks, rebalancing,
//! instance refresh) lives in `reconcile.rs` and `refresh.rs`.

use std::collections::{BTreeMap, HashMap};

use crate::engine::Millis;

use super::{Instance, InstanceId};
use crate::quantity::Delay;

/// Index of a group within a run; it is also the node pool's index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AsgId(pub u16);

impl AsgId {
    /// Position in the run's group table.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// How a group is configured (validated).
#[derive(Debug, Clone)]
pub struct AsgSpec {
    /// Name, e.g. `system`.
    pub name: String,
    /// Index into the run's instance types: the first choice.
    pub instance_type: usize,
    /// A mixed-instances group's other types, in priority order (the
    /// `prioritized` allocation strategy, the On-Demand default: AWS API
    /// InstancesDistribution). Tried when the first cannot launch.
    pub fallback_types: Vec<usize>,
    /// Minimum size.
    pub min: u32,
    /// Desired capacity.
    pub desired: u32,
    /// Maximum size.
    pub max: u32,
    /// Availability zones, by name.
    pub zones: Vec<String>,
    /// Labels every node of this group carries.
    pub labels: BTreeMap<String, String>,
    /// From launch request to `running`.
    pub launch_delay: Delay,
    /// From `running` to the node's kubelet being Ready.
    pub boot_delay: Delay,
    /// `HealthCheckGracePeriod`: an impaired instance is not replaced before
    /// it has been InService this long (console default 300 s; user guide,
    /// health-check-grace-period). A terminated instance is replaced at once
    /// whatever the grace period (ec2-auto-scaling-health-checks).
    pub health_check_grace_period: Millis,
    /// New instances are protected from scale-in
    /// (`NewInstancesProtectedFromScaleIn`; user guide,
    /// ec2-auto-scaling-instance-protection).
    pub protect_from_scale_in: bool,
    /// Capacity Rebalancing: on a Spot interruption notice, launch the
    /// replacement at once rather than after the termination (user guide,
    /// ec2-auto-scaling-capacity-rebalancing).
    pub capacity_rebalance: bool,
    /// The `AZRebalance` process: after zones become unbalanced (e.g. a zone
    /// came back), launch in the emptiest zone, then terminate in the
    /// fullest (user guide, auto-scaling-benefits, "Rebalancing activities").
    pub az_rebalance: bool,
    /// Instances are Spot.
    pub spot: bool,
    /// A warm pool of pre-initialized instances, if any.
    pub warm_pool: Option<WarmPoolSpec>,
}

/// A warm pool (user guide, ec2-auto-scaling-warm-pools): instances launched
/// and initialized ahead of need, kept stopped (or running), that the group
/// takes first when it must add capacity, then refills.
#[derive(Debug, Clone, PartialEq)]
pub struct WarmPoolSpec {
    /// Instances kept warm: max(MinSize, MaxPreparedCapacity - desired),
    /// MaxPreparedCapacity defaulting to the group's max.
    pub size: u32,
    /// Kept stopped (the AWS default; compute not billed) or running.
    pub stopped: bool,
    /// From leaving the pool to the kubelet Ready (UNCONFIRMED: start of a
    /// stopped, already initialized instance; default lognormal median 30 s,
    /// p95 60 s).
    pub delay: Delay,
}

impl AsgSpec {
    /// Every instance type the group may launch, in priority order.
    pub fn types_in_order(&self) -> impl Iterator<Item = usize> + '_ {
        std::iter::once(self.instance_type).chain(self.fallback_types.iter().copied())
    }
}

/// An instance refresh in progress.
#[derive(Debug, Clone, Copy)]
pub(super) struct Refresh {
    /// Instances of an older generation than this are replaced.
    pub generation: u32,
    /// `MinHealthyPercentage` of desired capacity.
    pub min_healthy_percentage: u32,
    /// `InstanceWarmup`: how long a new instance must have been Ready before
    /// the next batch.
    pub warmup: Millis,
}

/// Instances in the order they were added, each once, each removed in
/// O(log n): a mass termination of n instances stays O(n log n) (a `Vec`
/// searched and shifted on each removal was O(n^2)). A group's counted
/// instances, its leaving ones and its fleet.
#[derive(Debug, Clone, Default)]
pub(super) struct Members {
    /// Instances by the sequence number of their counting.
    by_seq: BTreeMap<u64, InstanceId>,
    /// The sequence number of each instance counted.
    seq_of: HashMap<InstanceId, u64>,
    /// The next sequence number.
    next: u64,
}

impl Members {
    /// Counts `id` last (once: counting it again keeps its place).
    pub(super) fn push(&mut self, id: InstanceId) {
        if let std::collections::hash_map::Entry::Vacant(e) = self.seq_of.entry(id) {
            e.insert(self.next);
            self.by_seq.insert(self.next, id);
            self.next += 1;
        }
    }

    /// Uncounts `id`, if counted.
    pub(super) fn remove(&mut self, id: InstanceId) {
        if let Some(seq) = self.seq_of.remove(&id) {
            self.by_seq.remove(&seq);
        }
    }

    /// The instances, oldest first.
    pub(super) fn iter(&self) -> impl Iterator<Item = InstanceId> + '_ {
        self.by_seq.values().copied()
    }

    /// How many.
    pub(super) fn len(&self) -> usize {
        self.by_seq.len()
    }

    /// Whether `id` is one.
    pub(super) fn contains(&self, id: InstanceId) -> bool {
        self.seq_of.contains_key(&id)
    }
}

/// A group and the instances it counts.
#[derive(Debug, Clone)]
pub struct AutoScalingGroup {
    id: AsgId,
    pub(super) spec: AsgSpec,
    /// The scenario-wide index of each of the group's zones.
    pub(super) zone_ids: Vec<usize>,
    /// Counted instances per group zone (same order as `zone_ids`).
    pub(super) live_per_zone: Vec<u32>,
    /// Counted instances (pending or running, not yet replaced).
    pub(super) members: Members,
    /// A reconcile is already scheduled.
    pub(super) reconcile_pending: bool,
    /// Wait before the next retry after a launch failed everywhere.
    pub(super) backoff: Millis,
    /// Current launch-template generation.
    pub(super) generation: u32,
    /// The instance refresh in progress, if any.
    pub(super) refresh: Option<Refresh>,
    /// Instances launched by AZ rebalancing that are not yet up.
    pub(super) rebalancing: u32,
    /// Warm-pool instances (initializing or ready), oldest first.
    pub(super) warm: Vec<InstanceId>,
    /// Live instances no longer counted: interrupted Spot instances whose
    /// replacement Capacity Rebalancing already launched.
    pub(super) leaving: Members,
    /// Live instances launched outside the desired count
    /// (`Cloud::launch_fleet_instance`), oldest first.
    pub(super) fleet: Members,
}

impl AutoScalingGroup {
    pub(super) fn new(id: AsgId, spec: AsgSpec, zone_ids: Vec<usize>) -> Self {
        let zones = zone_ids.len().max(1);
        AutoScalingGroup {
            id,
            spec,
            zone_ids,
            live_per_zone: vec![0; zones],
            members: Members::default(),
            reconcile_pending: false,
            backoff: Millis::ZERO,
            generation: 0,
            refresh: None,
            rebalancing: 0,
            warm: Vec::new(),
            leaving: Members::default(),
            fleet: Members::default(),
        }
    }

    /// Its id.
    pub fn id(&self) -> AsgId {
        self.id
    }

    /// Its configuration.
    pub fn spec(&self) -> &AsgSpec {
        &self.spec
    }

    /// Desired capacity.
    pub fn desired(&self) -> u32 {
        self.spec.desired
    }

    /// Counted (pending or running, not yet replaced) instances.
    pub fn live(&self) -> u32 {
        self.live_per_zone.iter().sum()
    }

    /// The counted instances, in the order they were counted.
    pub fn members(&self) -> impl Iterator<Item = InstanceId> + '_ {
        self.members.iter()
    }

    /// How many live instances were launched outside the desired count
    /// (Karpenter's).
    pub fn fleet_len(&self) -> usize {
        self.fleet.len()
    }

    /// Counted instances per zone, by scenario zone index.
    pub fn live_by_zone(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        self.zone_ids
            .iter()
            .copied()
            .zip(self.live_per_zone.iter().copied())
    }

    /// Its last launch attempt failed in every zone and type (a `Failed`
    /// scaling activity), and no launch has succeeded since.
    pub fn launch_failing(&self) -> bool {
        self.backoff > Millis::ZERO
    }

    /// How many instances to launch to reach the desired count.
    pub fn missing(&self) -> u32 {
        self.spec.desired.saturating_sub(self.live())
    }

    /// The group's zones in the order a launch tries them: fewest counted
    /// instances first, then zone order, as AWS launches into "the AZ with
    /// the fewest instances" and falls back to another AZ when a launch
    /// fails (user guide, auto-scaling-benefits; ts-as-instancelaunchfailure).
    pub(super) fn zones_for_launch(&self, order: &mut Vec<usize>) {
        order.clear();
        order.extend(0..self.zone_ids.len());
        order.sort_by_key(|&z| (self.live_per_zone[z], z));
    }

    /// The position of a scenario zone among the group's zones.
    pub(super) fn local_zone(&self, zone: usize) -> Option<usize> {
        self.zone_ids.iter().position(|&z| z == zone)
    }

    pub(super) fn count(&mut self, id: InstanceId, zone: usize) {
        if let Some(z) = self.local_zone(zone) {
            self.live_per_zone[z] += 1;
        }
        self.members.push(id);
    }

    pub(super) fn uncount(&mut self, id: InstanceId, zone: usize) {
        if let Some(z) = self.local_zone(zone) {
            self.live_per_zone[z] = self.live_per_zone[z].saturating_sub(1);
        }
        self.members.remove(id);
    }

    /// The instance the `Default` termination policy picks among the
    /// group's unprotected counted instances, skipping `exclude`. AWS order
    /// (user guide, ec2-auto-scaling-termination-policies): the zone with the
    /// most unprotected instances; then (mixed groups) the allocation
    /// strategy, not modelled; then the oldest launch template, here the
    /// oldest refresh generation; then the instance closest to its next
    /// billing hour; then at random, here the lowest id so that the choice
    /// does not consume random numbers.
    pub(super) fn termination_victim(
        &self,
        instances: &[Instance],
        now: Millis,
        exclude: impl Fn(&Instance) -> bool,
    ) -> Option<InstanceId> {
        let candidates = || {
            self.members
                .iter()
                .map(|m| &instances[m.index()])
                .filter(|i| !i.protected && !exclude(i))
        };
        let mut per_zone = vec![0u32; self.zone_ids.len()];
        for i in candidates() {
            if let Some(z) = self.local_zone(i.zone) {
                per_zone[z] += 1;
            }
        }
        let most = *per_zone.iter().max()?;
        if most == 0 {
            return None;
        }
        const HOUR: u64 = 3_600_000;
        candidates()
            .filter(|i| self.local_zone(i.zone).is_some_and(|z| per_zone[z] == most))
            .min_by_key(|i| {
                let into_hour = now.saturating_sub(i.launched_at).0 % HOUR;
                // Closest to the next billing hour = most of the hour used.
                (i.generation, HOUR - into_hour, i.id)
            })
            .map(|i| i.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::InstanceState;

    /// Added once each, removed from anywhere, iterated oldest first.
    #[test]
    fn members_keep_their_order_through_removals() {
        let mut m = Members::default();
        for i in [4, 1, 7, 1, 9] {
            m.push(InstanceId(i));
        }
        assert_eq!(m.len(), 4);
        m.remove(InstanceId(7));
        m.remove(InstanceId(3));
        assert!(m.contains(InstanceId(9)) && !m.contains(InstanceId(7)));
        let order: Vec<u32> = m.iter().map(|i| i.0).collect();
        assert_eq!(order, [4, 1, 9]);
    }

    fn spec() -> AsgSpec {
        AsgSpec {
            name: "g".into(),
            instance_type: 0,
            fallback_types: vec![],
            min: 0,
            desired: 5,
            max: 6,
            zones: vec!["a".into(), "b".into()],
            labels: BTreeMap::new(),
            launch_delay: Delay::Fixed(Millis::ZERO),
            boot_delay: Delay::Fixed(Millis::ZERO),
            health_check_grace_period: Millis::ZERO,
            protect_from_scale_in: false,
            capacity_rebalance: false,
            az_rebalance: true,
            spot: false,
            warm_pool: None,
        }
    }

    fn inst(id: u32, zone: usize, launched_s: u64, generation: u32, protected: bool) -> Instance {
        Instance {
            id: InstanceId(id),
            asg: AsgId(0),
            instance_type: 0,
            zone,
            state: InstanceState::Running,
            launched_at: Millis::from_secs(launched_s),
            running_at: None,
            booted_at: None,
            terminated_at: None,
            gone_at: None,
            price_per_hour: 0.0,
            spot: false,
            protected,
            generation,
            impaired_at: None,
            interrupted_at: None,
            rebalance: false,
            warm: None,
            stopped_since: None,
            stopped_total: Millis::ZERO,
            counted: true,
        }
    }

    /// AWS `Default` order: the zone with the most unprotected instances,
    /// then the oldest generation, then the one closest to its next billing
    /// hour.
    #[test]
    fn default_termination_policy_order() {
        let mut g = AutoScalingGroup::new(AsgId(0), spec(), vec![0, 1]);
        let instances = vec![
            // Zone 0: three instances, one protected, so two candidates.
            inst(0, 0, 0, 1, false),
            inst(1, 0, 0, 1, true),
            inst(2, 0, 0, 1, true),
            // Zone 1: three unprotected: the zone to pick.
            inst(3, 1, 0, 1, false),    // 3000 s into its hour at t = 3000
            inst(4, 1, 2000, 1, false), // 1000 s into its hour
            inst(5, 1, 100, 0, false),  // the older generation
        ];
        for i in &instances {
            g.count(i.id, i.zone);
        }
        let now = Millis::from_secs(3000);
        let pick =
            |exclude: &[u32]| g.termination_victim(&instances, now, |i| exclude.contains(&i.id.0));
        assert_eq!(pick(&[]), Some(InstanceId(5)));
        // Without the old generation: closest to the billing hour.
        assert_eq!(pick(&[5]), Some(InstanceId(3)));
        // Zones tie at one candidate each (0 and 4): billing hour decides.
        assert_eq!(pick(&[5, 3]), Some(InstanceId(0)));
        // Protected instances are never chosen.
        assert_eq!(pick(&[0, 3, 4, 5]), None);
    }
}
