//! Choosing a node for a pod: the nominated node first, then the feasible
//! nodes found from a rotating start index until `percentageOfNodesToScore`
//! is satisfied, then the weighted sum of scores and a random choice among
//! the best (`pkg/scheduler/schedule_one.go`: `findNodesThatFitPod`,
//! `numFeasibleNodesToFind`, `prioritizeNodes`, `selectHost`).
//!
//! Placement does not scan every node: nodes are grouped by pool, pools the
//! pod cannot use (labels, configured taints) are skipped, and the search
//! stops once enough feasible nodes are found. Unlike kube-scheduler, the
//! rotating start index walks the concatenation of the pod's eligible pools
//! rather than all nodes; nodes of other pools would fail the filters
//! anyway, so only the order of the walk differs.

use rand::Rng;

use crate::kube::{Node, NodeId, Pod, Workload};

use super::SchedulerConfig;
use super::filter;
use super::score::{self, NodeScore, WEIGHT_AFFINITY, WEIGHT_TAINT};
use super::snapshot::{PodFilter, Snapshot};

/// `minFeasibleNodesToFind`.
const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// `minFeasibleNodesPercentageToFind`.
const MIN_FEASIBLE_PERCENTAGE: usize = 5;

/// State kept between scheduling cycles.
#[derive(Debug, Default)]
pub(crate) struct SelectState {
    /// `nextStartNodeIndex`.
    pub next_start: usize,
    /// Reused buffer of feasible nodes.
    pub feasible: Vec<NodeId>,
    /// Reused buffer: per pool, whether a feasible node was found there.
    feasible_pools: Vec<bool>,
    /// Reused buffer: per pool, its TaintToleration and NodeAffinity score.
    pool_scores: Vec<NodeScore>,
    /// What the filters and scores read of each node.
    pub snapshot: Snapshot,
    /// The score of the node the last decision picked; `None` when it was
    /// picked without scoring (nominated, pinned, or the only feasible
    /// node). Read by traces only.
    pub last_score: Option<NodeScore>,
}

/// How many feasible nodes to find among `all` nodes before scoring.
pub fn num_feasible_nodes_to_find(all: usize, percentage: u32) -> usize {
    if all < MIN_FEASIBLE_NODES_TO_FIND {
        return all;
    }
    let mut pct = percentage as usize;
    if pct == 0 {
        pct = 50usize
            .saturating_sub(all / 125)
            .max(MIN_FEASIBLE_PERCENTAGE);
    }
    (all * pct / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// Picks a node for `pod` (of workload `wl`), or `None` if no node passes
/// the filters. `by_pool[p]` lists the registered nodes of pool `p`;
/// `all_nodes` is their total.
#[allow(clippy::too_many_arguments)]
pub(crate) fn select_node<R: Rng>(
    pod: &Pod,
    wl: &Workload,
    nodes: &[Node],
    by_pool: &[Vec<NodeId>],
    all_nodes: usize,
    pods: &[Pod],
    config: &SchedulerConfig,
    state: &mut SelectState,
    rng: &mut R,
) -> Option<NodeId> {
    state.last_score = None;
    // PreferNominatedNode: a feasible nominated node is taken at once.
    if let Some(n) = pod.nominated
        && filter::feasible(pod, wl, &nodes[n.index()], pods)
    {
        return Some(n);
    }
    if let Some(n) = pod.pinned {
        return filter::feasible(pod, wl, &nodes[n.index()], pods).then_some(n);
    }
    let eligible: usize = by_pool
        .iter()
        .enumerate()
        .filter(|(p, _)| wl.fits_pool[*p])
        .map(|(_, l)| l.len())
        .sum();
    if eligible == 0 {
        return None;
    }
    let to_find = num_feasible_nodes_to_find(all_nodes, config.percentage_of_nodes_to_score);
    let pod_filter = PodFilter::of(wl);
    debug_assert_eq!(pod.requests, wl.spec.requests);
    state.feasible.clear();
    state.feasible_pools.clear();
    state.feasible_pools.resize(by_pool.len(), false);
    let start = state.next_start % eligible;
    let mut processed = 0;
    // Walk the eligible pools' lists as one ring starting at `start`: first
    // the global positions [start, eligible), then [0, start). Each pass
    // slices the pool lists it overlaps, so no node before the start index
    // is visited (a linear skip would cost O(nodes) per decision).
    'walk: for (lo, hi) in [(start, eligible), (0, start)] {
        let mut offset = 0;
        for (p, list) in by_pool.iter().enumerate() {
            if !wl.fits_pool[p] {
                continue;
            }
            let (from, to) = (lo.max(offset), hi.min(offset + list.len()));
            offset += list.len();
            if from >= to {
                continue;
            }
            let base = offset - list.len();
            for &id in &list[from - base..to - base] {
                processed += 1;
                let row = state.snapshot.row(id);
                let fits = if row.has_nominated() {
                    filter::feasible(pod, wl, &nodes[id.index()], pods)
                } else {
                    row.admits(&pod_filter)
                };
                if fits {
                    state.feasible.push(id);
                    state.feasible_pools[p] = true;
                    if state.feasible.len() >= to_find {
                        break 'walk;
                    }
                }
            }
        }
    }
    state.next_start = (start + processed) % eligible;
    match state.feasible.len() {
        0 => return None,
        // A single feasible node is chosen without scoring.
        1 => return Some(state.feasible[0]),
        _ => {}
    }
    // TaintToleration and NodeAffinity normalise over the feasible nodes;
    // both depend on the pool only.
    let mut max_taint = 0;
    let mut max_affinity = 0;
    for (p, _) in state.feasible_pools.iter().enumerate().filter(|(_, f)| **f) {
        max_taint = max_taint.max(wl.pool_prefer_taints[p]);
        max_affinity = max_affinity.max(wl.pool_affinity[p]);
    }
    state.pool_scores.clear();
    state.pool_scores.extend((0..by_pool.len()).map(|p| {
        WEIGHT_TAINT * score::taint_normalized(wl.pool_prefer_taints[p], max_taint)
            + WEIGHT_AFFINITY * score::affinity_normalized(wl.pool_affinity[p], max_affinity)
    }));
    let mut best: Option<(NodeScore, NodeId)> = None;
    let mut ties = 0u32;
    for k in 0..state.feasible.len() {
        let id = state.feasible[k];
        let pool = state.snapshot.row(id).pool();
        let resources = state.snapshot.resources_score(id, pod.workload, || {
            score::resources_score(pod, &nodes[id.index()], config.scoring, &config.ratio_shape)
        });
        let s = resources + state.pool_scores[pool];
        // selectHost: reservoir sampling over the maxima, so the k-th tied
        // node replaces the pick with probability 1/k.
        match best {
            Some((b, _)) if s < b => {}
            Some((b, _)) if s == b => {
                ties += 1;
                if rng.random_range(0..ties) == 0 {
                    best = Some((s, id));
                }
            }
            _ => {
                best = Some((s, id));
                ties = 1;
            }
        }
    }
    state.last_score = best.map(|(s, _)| s);
    best.map(|(_, id)| id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// n < 100: every node; 1000 nodes: 50 - 1000/125 = 42 % -> 420;
    /// 5000 nodes: 50 - 40 = 10 % -> 500; 10000: max(5, 50 - 80) = 5 % ->
    /// 500; 150 nodes: 50 - 1 = 49 % -> 73, raised to 100.
    #[test]
    fn adaptive_percentage() {
        assert_eq!(num_feasible_nodes_to_find(99, 0), 99);
        assert_eq!(num_feasible_nodes_to_find(1000, 0), 420);
        assert_eq!(num_feasible_nodes_to_find(5000, 0), 500);
        assert_eq!(num_feasible_nodes_to_find(10000, 0), 500);
        assert_eq!(num_feasible_nodes_to_find(150, 0), 100);
        assert_eq!(num_feasible_nodes_to_find(1000, 20), 200);
    }
}
