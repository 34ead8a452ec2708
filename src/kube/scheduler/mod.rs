//! The kube-scheduler: a scheduling queue, filters, scores, the choice of
//! one node per pod, and preemption.
//!
//! Semantics follow kube-scheduler (see `docs/fidelity.md`, "Scheduler" and
//! "Scheduler queue"): pods are tried one at a time from activeQ; a pod that
//! fits nowhere may preempt lower-priority pods (PostFilter), then goes to
//! unschedulablePods and comes back on a cluster event or after a backoff;
//! among the feasible nodes the highest score wins and ties are broken
//! uniformly at random.

mod filter;
mod fit_index;
pub mod hints;
mod ordered;
pub(crate) mod preemption;
mod queue;
pub(crate) mod score;
mod select;
mod snapshot;
pub(crate) mod topology;

pub(crate) use filter::{fits_resources, fits_template, nominated_load, passes_static};
pub use hints::{EventView, NodeView, Plugins, PodMatch, worth_requeuing};
pub use queue::{FailRun, Moved, SchedulingQueue};
pub use score::{
    NodeScore, ShapePoint, balanced_allocation, least_allocated, most_allocated,
    requested_to_capacity_ratio,
};
pub use select::num_feasible_nodes_to_find;
pub(crate) use select::{SelectState, select_node};

use crate::engine::Millis;

/// Eligible nodes from which a decision uses the feasible-node index: a
/// walk of a few hundred rows costs about what the index's upkeep does.
pub const FIT_INDEX_MIN_NODES: usize = 1000;

/// Scheduler settings; defaults are kube-scheduler's, of the newest
/// version modelled (`KubeVersion::NEWEST`).
#[derive(Debug, Clone, PartialEq)]
pub struct SchedulerConfig {
    /// `podInitialBackoffSeconds` (1 s).
    pub initial_backoff: Millis,
    /// `podMaxBackoffSeconds` (10 s).
    pub max_backoff: Millis,
    /// `podMaxInUnschedulablePodsDuration` (5 min).
    pub max_in_unschedulable: Millis,
    /// Period of the leftover flush of unschedulablePods (30 s).
    pub leftover_flush_period: Millis,
    /// Period of the backoffQ flush (1 s).
    pub backoff_flush_period: Millis,
    /// Time one scheduling cycle takes; bounds throughput (UNCONFIRMED:
    /// depends on cluster size and API latency; default 5 ms).
    pub decision_time: Millis,
    /// Node scoring strategy of NodeResourcesFit.
    pub scoring: ScoringStrategy,
    /// Shape of RequestedToCapacityRatio (default (0,0), (100,10): packs).
    pub ratio_shape: Vec<ShapePoint>,
    /// `percentageOfNodesToScore`; 0 is the adaptive default
    /// `max(5, 50 - n/125)`.
    pub percentage_of_nodes_to_score: u32,
    /// DefaultPreemption `minCandidateNodesPercentage` (10).
    pub min_candidate_nodes_percentage: u32,
    /// DefaultPreemption `minCandidateNodesAbsolute` (100).
    pub min_candidate_nodes_absolute: u32,
    /// Feature gate `SchedulerQueueingHints` (on from 1.32): a rejected
    /// pod is requeued only by events its rejecting plugins' hints accept.
    pub queueing_hints: bool,
    /// Feature gate `SchedulerPopFromBackoffQ` (on from 1.33): 1 s backoff
    /// ordering windows, and backoffQ popped when activeQ is empty.
    pub pop_from_backoff: bool,
    /// Reuse a "fits no node" verdict for pods of one workload while the
    /// cluster is unchanged (`select::select_node`). Not a scenario key:
    /// it changes no history, and exists so a test can prove that.
    #[doc(hidden)]
    pub verdict_memo: bool,
    /// Answer decisions of pods whose eligible pools hold at least this
    /// many nodes from the feasible-node index (`fit_index/`) instead of
    /// walking the nodes. Not a scenario key: it changes no history, and
    /// exists so a test can prove that (`usize::MAX`: never; 0: always).
    #[doc(hidden)]
    pub fit_index_min_nodes: usize,
    /// The cluster-level default spread constraints (`defaultingType:
    /// System`, the default: hostname maxSkew 3 and zone maxSkew 5,
    /// ScheduleAnyway) score pods that have no constraints of their own;
    /// `false` is `defaultingType: List` with no constraints.
    pub default_spreading: bool,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            initial_backoff: Millis::from_secs(1),
            max_backoff: Millis::from_secs(10),
            max_in_unschedulable: Millis::from_mins(5),
            leftover_flush_period: Millis::from_secs(30),
            backoff_flush_period: Millis::from_secs(1),
            decision_time: Millis(5),
            scoring: ScoringStrategy::LeastAllocated,
            ratio_shape: vec![
                ShapePoint {
                    utilization: 0,
                    score: 0,
                },
                ShapePoint {
                    utilization: 100,
                    score: 10,
                },
            ],
            percentage_of_nodes_to_score: 0,
            min_candidate_nodes_percentage: 10,
            min_candidate_nodes_absolute: 100,
            queueing_hints: true,
            pop_from_backoff: true,
            verdict_memo: true,
            fit_index_min_nodes: FIT_INDEX_MIN_NODES,
            default_spreading: true,
        }
    }
}

/// NodeResourcesFit scoring strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoringStrategy {
    /// Prefer the emptiest node (kube-scheduler's default): spreads pods.
    LeastAllocated,
    /// Prefer the fullest node: packs pods.
    MostAllocated,
    /// A user-given function of utilization ([`SchedulerConfig::ratio_shape`]).
    RequestedToCapacityRatio,
}
