//! Placement rules between pods: topology spread constraints
//! (`topologySpreadConstraints`) and inter-pod affinity and anti-affinity,
//! as a workload declares them (`docs/fidelity.md`, "Topology spread and
//! inter-pod affinity").
//!
//! Every pod of a workload carries the same labels, so a label selector is
//! resolved once, when the scenario is read, into the set of workloads
//! whose pods it selects; the scheduler then counts pods per workload set
//! and topology domain (`scheduler/topology/`).

use super::WorkloadId;

/// The node label a rule groups nodes by. Every node carries both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TopologyKey {
    /// `topology.kubernetes.io/zone`: one domain per availability zone.
    Zone,
    /// `kubernetes.io/hostname`: one domain per node.
    Hostname,
}

impl TopologyKey {
    /// The label key, as Kubernetes writes it.
    pub fn label(self) -> &'static str {
        match self {
            TopologyKey::Zone => "topology.kubernetes.io/zone",
            TopologyKey::Hostname => "kubernetes.io/hostname",
        }
    }
}

/// One `topologySpreadConstraints` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpreadConstraint {
    /// `maxSkew`, at least 1.
    pub max_skew: u32,
    /// `topologyKey`.
    pub key: TopologyKey,
    /// `whenUnsatisfiable: DoNotSchedule` (a filter); otherwise
    /// `ScheduleAnyway` (a score).
    pub hard: bool,
    /// The workloads whose pods `labelSelector` selects, sorted.
    pub selector: Vec<WorkloadId>,
    /// `minDomains` (DoNotSchedule only); `None` is 1.
    pub min_domains: Option<u32>,
    /// `nodeAffinityPolicy: Honor` (the default): only nodes that match the
    /// pod's nodeSelector and required node affinity are counted.
    pub honor_node_affinity: bool,
    /// `nodeTaintsPolicy: Honor` (default `Ignore`): only nodes whose
    /// taints the pod tolerates are counted.
    pub honor_node_taints: bool,
}

/// One `podAffinityTerm`: pods selected, grouped by a topology key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodAffinityTerm {
    /// The workloads whose pods `labelSelector` selects, sorted.
    pub selector: Vec<WorkloadId>,
    /// `topologyKey`.
    pub key: TopologyKey,
}

/// A `weightedPodAffinityTerm` (preferred).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightedPodAffinityTerm {
    /// `weight`, 1-100.
    pub weight: i32,
    /// The term.
    pub term: PodAffinityTerm,
}

/// A pod's `podAffinity` and `podAntiAffinity`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodAffinity {
    /// `podAffinity.requiredDuringSchedulingIgnoredDuringExecution`.
    pub required: Vec<PodAffinityTerm>,
    /// `podAffinity.preferredDuringSchedulingIgnoredDuringExecution`.
    pub preferred: Vec<WeightedPodAffinityTerm>,
    /// `podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution`.
    pub required_anti: Vec<PodAffinityTerm>,
    /// `podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution`.
    pub preferred_anti: Vec<WeightedPodAffinityTerm>,
}

impl PodAffinity {
    /// Whether no term is set.
    pub fn is_empty(&self) -> bool {
        self.required.is_empty()
            && self.preferred.is_empty()
            && self.required_anti.is_empty()
            && self.preferred_anti.is_empty()
    }
}
