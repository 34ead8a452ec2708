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
    /// Per node, the last few resource scores computed there.
    memo: Vec<[ScoreMemo; MEMO_WAYS]>,
    /// The score of the node the last decision picked; `None` when it was
    /// picked without scoring (nominated, pinned, or the only feasible
    /// node). Read by traces only.
    pub last_score: Option<NodeScore>,
}

/// Remembered resource scores per node.
const MEMO_WAYS: usize = 4;

/// One resource score with everything it was computed from. The score is a
/// pure function of the pod's requests and the node's requested sums (the
/// allocatable and the strategy are fixed for a node and a run), so a hit
/// is exact. Between two decisions only the node that got the pod changes,
/// and most pods come from a few workloads, so most of the hundreds of
/// nodes a decision scores hit (on `large-cluster.toml` this halves a run).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct ScoreMemo {
    key: [u64; 6],
    score: NodeScore,
    valid: bool,
}

impl SelectState {
    fn resources_score(&mut self, pod: &Pod, node: &Node, config: &SchedulerConfig) -> NodeScore {
        let i = node.id.index();
        if self.memo.len() <= i {
            self.memo.resize(i + 1, Default::default());
        }
        let key = [
            pod.requests.cpu.0,
            pod.requests.memory.0,
            node.requested.cpu.0,
            node.requested.memory.0,
            node.requested_for_scoring.cpu.0,
            node.requested_for_scoring.memory.0,
        ];
        let ways = &mut self.memo[i];
        // Field by field: `==` on the arrays becomes a memcmp call.
        let same = |m: &ScoreMemo| {
            m.valid
                && m.key[0] == key[0]
                && m.key[1] == key[1]
                && m.key[2] == key[2]
                && m.key[3] == key[3]
                && m.key[4] == key[4]
                && m.key[5] == key[5]
        };
        if let Some(hit) = ways.iter().find(|m| same(m)) {
            return hit.score;
        }
        let score = score::resources_score(pod, node, config.scoring, &config.ratio_shape);
        // Newest first; the oldest way falls out.
        ways.copy_within(0..MEMO_WAYS - 1, 1);
        ways[0] = ScoreMemo {
            key,
            score,
            valid: true,
        };
        score
    }
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
    state.feasible.clear();
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
            for &id in &list[from - (offset - list.len())..to - (offset - list.len())] {
                processed += 1;
                if filter::feasible(pod, wl, &nodes[id.index()], pods) {
                    state.feasible.push(id);
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
    let mut max_taint = 0;
    let mut max_affinity = 0;
    for &id in &state.feasible {
        let p = nodes[id.index()].spec.pool.index();
        max_taint = max_taint.max(wl.pool_prefer_taints[p]);
        max_affinity = max_affinity.max(wl.pool_affinity[p]);
    }
    let mut best: Option<(NodeScore, NodeId)> = None;
    let mut ties = 0u32;
    for k in 0..state.feasible.len() {
        let id = state.feasible[k];
        let node = &nodes[id.index()];
        let p = node.spec.pool.index();
        let s = state.resources_score(pod, node, config)
            + WEIGHT_TAINT * score::taint_normalized(wl.pool_prefer_taints[p], max_taint)
            + WEIGHT_AFFINITY * score::affinity_normalized(wl.pool_affinity[p], max_affinity);
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
