//! An EC2 Auto Scaling Group: keeps a desired number of instances, spread
//! over its zones.

use std::collections::BTreeMap;

use super::Delay;

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
    /// Index into the run's instance types.
    pub instance_type: usize,
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
}

/// A group and its live instance counts.
#[derive(Debug, Clone)]
pub struct AutoScalingGroup {
    id: AsgId,
    spec: AsgSpec,
    /// Live (pending or running) instances per zone.
    live_per_zone: Vec<u32>,
    /// A reconcile is already scheduled.
    pub(super) reconcile_pending: bool,
}

impl AutoScalingGroup {
    pub(super) fn new(id: AsgId, spec: AsgSpec) -> Self {
        let zones = spec.zones.len().max(1);
        AutoScalingGroup {
            id,
            spec,
            live_per_zone: vec![0; zones],
            reconcile_pending: false,
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

    /// Live (pending or running) instances.
    pub fn live(&self) -> u32 {
        self.live_per_zone.iter().sum()
    }

    /// How many instances to launch to reach the desired count.
    pub fn missing(&self) -> u32 {
        self.spec.desired.saturating_sub(self.live())
    }

    /// Picks the zone for a new instance: the one with the fewest live
    /// instances, the first such on ties, as AWS balances launches across
    /// zones ("AZ with fewest instances", EC2 Auto Scaling user guide,
    /// auto-scaling-benefits).
    pub(super) fn place_instance(&mut self) -> usize {
        let zone = (0..self.live_per_zone.len())
            .min_by_key(|&z| self.live_per_zone[z])
            .unwrap_or(0);
        self.live_per_zone[zone] += 1;
        zone
    }

    pub(super) fn instance_gone(&mut self, zone: usize) {
        self.live_per_zone[zone] = self.live_per_zone[zone].saturating_sub(1);
    }
}
