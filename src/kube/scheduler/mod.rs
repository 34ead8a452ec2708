//! The kube-scheduler: a scheduling queue, filters, scores and the choice of
//! one node per pod.
//!
//! Semantics follow kube-scheduler (see `FIDELITY.md` §3b, §5, §6): pods are
//! tried one at a time from activeQ; a pod that fits nowhere goes to
//! unschedulablePods and comes back on a cluster event or after a backoff;
//! among the feasible nodes the highest score wins and ties are broken
//! uniformly at random.

mod filter;
mod queue;
pub(crate) mod score;

pub use queue::{Moved, SchedulingQueue};
pub use score::{NodeScore, balanced_allocation, least_allocated, most_allocated};

use rand::Rng;

use crate::engine::Millis;

use super::{Node, NodeId, Pod};

/// Scheduler settings; defaults are kube-scheduler's.
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
}

/// Picks a node for `pod` among `ready` nodes, or `None` if no node passes
/// the filters.
///
/// `fits_pool[p]` says whether the pod's nodeSelector matches pool `p`.
/// Score = NodeResourcesFit (weight 1) + BalancedAllocation (weight 1), the
/// default plugins that distinguish nodes here. Ties are broken by reservoir
/// sampling: the k-th tied node replaces the pick with probability 1/k, so a
/// single feasible node draws no random number.
pub fn select_node<R: Rng>(
    pod: &Pod,
    fits_pool: &[bool],
    nodes: &[Node],
    ready: &[NodeId],
    strategy: ScoringStrategy,
    rng: &mut R,
) -> Option<NodeId> {
    let mut best: Option<(i64, NodeId)> = None;
    let mut ties = 0u32;
    for &id in ready {
        let node = &nodes[id.index()];
        if !filter::feasible(pod, fits_pool, node) {
            continue;
        }
        let score = score::total(pod, node, strategy);
        match best {
            Some((b, _)) if score < b => {}
            Some((b, _)) if score == b => {
                ties += 1;
                if rng.random_range(0..ties) == 0 {
                    best = Some((score, id));
                }
            }
            _ => {
                best = Some((score, id));
                ties = 1;
            }
        }
    }
    best.map(|(_, id)| id)
}
