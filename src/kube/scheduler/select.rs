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

use super::filter;
use super::fit_index::{FitIndex, Query};
use super::score::{self, NodeScore, WEIGHT_AFFINITY, WEIGHT_TAINT};
use super::snapshot::{NodeFit, PodFilter, Snapshot};
use super::topology::{Counts, Plan, Topology};
use super::{Plugins, SchedulerConfig};

/// `minFeasibleNodesToFind`.
const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// `minFeasibleNodesPercentageToFind`.
const MIN_FEASIBLE_PERCENTAGE: usize = 5;

/// State kept between scheduling cycles.
#[derive(Debug, Default)]
pub(crate) struct SelectState {
    /// `nextStartNodeIndex`.
    pub next_start: usize,
    /// What the filters and scores read of each node.
    pub snapshot: Snapshot,
    /// The score of the node the last decision picked; `None` when it was
    /// picked without scoring (nominated, pinned, or the only feasible
    /// node). Read by traces only.
    pub last_score: Option<NodeScore>,
    /// Buffers reused by every decision.
    feasible: Feasible,
    /// The feasible nodes of the workloads decided in large clusters.
    pub index: FitIndex,
    /// Per workload: the snapshot generation at which a pod of that shape
    /// last fitted no node (see [`select_node`]), and the plugins that
    /// rejected it then, once asked.
    no_fit: Vec<Option<NoFit>>,
    /// Spread and inter-pod affinity: counts and rules.
    topology: Topology,
    /// Topology scores of the feasible nodes, reused by every decision.
    topology_scores: Vec<i64>,
    /// A buffer of the topology scores.
    topology_scratch: Vec<i64>,
}

/// A "fits no node" verdict for one pod shape.
#[derive(Debug, Clone, Copy)]
struct NoFit {
    generation: u64,
    rejectors: Option<Plugins>,
}

impl SelectState {
    /// The state of a cluster whose workloads have `topology`'s rules.
    pub fn new(topology: Topology) -> SelectState {
        SelectState {
            topology,
            ..SelectState::default()
        }
    }

    /// Spread and inter-pod affinity counts and rules.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Spread and inter-pod affinity counts and rules, to update; a count
    /// that changes is a change the filters read (a new generation).
    pub fn topology_mut(&mut self) -> (&mut Topology, &mut Snapshot) {
        (&mut self.topology, &mut self.snapshot)
    }

    /// The verdict for pods of workload `shape` if it was reached at the
    /// snapshot's current generation.
    fn no_fit_now(&self, shape: usize) -> Option<NoFit> {
        let g = self.snapshot.generation();
        self.no_fit
            .get(shape)
            .copied()
            .flatten()
            .filter(|v| v.generation == g)
    }

    /// The plugins that rejected a pod of `shape` at this generation, if a
    /// pod of that shape fitted no node and they were recorded.
    pub fn remembered_rejectors(&self, shape: usize) -> Option<Plugins> {
        self.no_fit_now(shape).and_then(|v| v.rejectors)
    }

    /// Records that a pod of `shape` fitted no node at `generation`.
    fn record_no_fit(&mut self, shape: usize, generation: u64) {
        if self.no_fit.len() <= shape {
            self.no_fit.resize(shape + 1, None);
        }
        self.no_fit[shape] = Some(NoFit {
            generation,
            rejectors: None,
        });
    }

    /// Records the plugins that rejected a pod of `shape`, which fitted no
    /// node at this generation.
    pub fn remember_rejectors(&mut self, shape: usize, rejectors: Plugins) {
        if let Some(Some(v)) = self.no_fit.get_mut(shape)
            && v.generation == self.snapshot.generation()
        {
            v.rejectors = Some(rejectors);
        }
    }
}

/// The feasible nodes of one decision, in the order the walk found them.
#[derive(Debug, Default)]
struct Feasible {
    candidates: Vec<Candidate>,
    /// Runs of consecutive candidates from one pool: (end, pool).
    runs: Vec<(usize, usize)>,
}

/// A feasible node and its score, packed in 8 bytes: the walk writes one
/// per node, and a single narrow push is what keeps it fast.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    node: NodeId,
    /// NodeResourcesFit plus BalancedAllocation; plus the pool's
    /// TaintToleration and NodeAffinity scores where those differ between
    /// the feasible nodes' pools.
    score: i32,
}

/// The filters a pod has beyond its node's row: VolumeBinding for a pod
/// whose volumes are bound to a zone, PodTopologySpread and
/// InterPodAffinity for a pod with placement rules.
#[derive(Clone, Copy)]
struct Extra<'a> {
    /// Either filter applies (one branch per feasible node otherwise).
    any: bool,
    /// The zone of the pod's bound volumes.
    zone: Option<u16>,
    /// The pod's rules, counted, and the counts.
    topology: Option<(&'a Plan, &'a Counts)>,
    nodes: &'a [Node],
}

impl Extra<'_> {
    #[inline(never)]
    fn admits(&self, id: NodeId) -> bool {
        let node = &self.nodes[id.index()];
        self.zone.is_none_or(|z| node.spec.zone == z)
            && self
                .topology
                .is_none_or(|(plan, counts)| plan.rejects(counts, node).is_none())
    }
}

/// Runs the filters on the nodes `ids` in order, adding the feasible ones
/// to `found` with their resource scores (remembered, or computed by
/// `score` and remembered), and stops at the one that brings `found` to
/// `to_find`: its position in `ids` is returned. `nominated` is the full
/// filter, for the rare nodes with nominated pods; `extra` the filters
/// beyond the node's row.
#[inline]
#[allow(clippy::too_many_arguments)]
fn scan(
    ids: &[NodeId],
    rows: &mut [NodeFit],
    filter: &PodFilter,
    found: &mut Vec<Candidate>,
    to_find: usize,
    mut nominated: impl FnMut(NodeId) -> bool,
    mut score: impl FnMut(NodeId) -> NodeScore,
    extra: Extra<'_>,
) -> Option<usize> {
    let workload = filter.workload();
    for (k, &id) in ids.iter().enumerate() {
        let row = &mut rows[id.index()];
        // One branch for the common case: no nominated pods, and it fits.
        let fits = row.admits(filter) & !row.has_nominated();
        if !(fits || (row.has_nominated() && cold(|| nominated(id)))) {
            continue;
        }
        // VolumeBinding, PodTopologySpread, InterPodAffinity.
        if extra.any && !extra.admits(id) {
            continue;
        }
        // The row is in cache now: score the node at once.
        let resources = match row.remembered(workload) {
            Some(s) => s,
            None => cold(|| {
                let s = score(id);
                row.remember(workload, s);
                s
            }),
        };
        found.push(Candidate {
            node: id,
            // Resource scores are 0 to 200.
            score: resources as i32,
        });
        if found.len() >= to_find {
            return Some(k);
        }
    }
    None
}

/// Runs `f` out of line, keeping the rare paths of [`scan`] out of its loop.
#[cold]
#[inline(never)]
fn cold<T>(f: impl FnOnce() -> T) -> T {
    f()
}

/// TaintToleration and NodeAffinity, normalised over the pools of the
/// feasible nodes (both depend on the pool only).
pub(super) struct PoolScores {
    max_taint: i64,
    max_affinity: i64,
}

impl PoolScores {
    /// The normalisation over `pools`, those of the feasible nodes.
    pub fn of(wl: &Workload, pools: impl Iterator<Item = usize>) -> PoolScores {
        let mut s = PoolScores {
            max_taint: 0,
            max_affinity: 0,
        };
        for p in pools {
            s.max_taint = s.max_taint.max(wl.pool_prefer_taints[p]);
            s.max_affinity = s.max_affinity.max(wl.pool_affinity[p]);
        }
        s
    }

    /// The two scores, weighted, of a node of pool `p`.
    pub fn score(&self, wl: &Workload, p: usize) -> NodeScore {
        WEIGHT_TAINT * score::taint_normalized(wl.pool_prefer_taints[p], self.max_taint)
            + WEIGHT_AFFINITY * score::affinity_normalized(wl.pool_affinity[p], self.max_affinity)
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
    // PreFilter and PreScore of PodTopologySpread and InterPodAffinity,
    // built only where a node is filtered (not for a remembered verdict).
    let rules = state.topology.rules(pod.workload);
    let new_plan = || {
        rules
            .any()
            .then(|| Plan::new(rules, wl, state.topology.counts()))
    };
    let topology_ok = |n: NodeId| {
        new_plan().is_none_or(|p| {
            p.rejects(state.topology.counts(), &nodes[n.index()])
                .is_none()
        })
    };
    // PreferNominatedNode: a feasible nominated node is taken at once.
    if let Some(n) = pod.nominated
        && filter::feasible(pod, wl, &nodes[n.index()], pods)
        && topology_ok(n)
    {
        return Some(n);
    }
    if let Some(n) = pod.pinned {
        return (filter::feasible(pod, wl, &nodes[n.index()], pods) && topology_ok(n)).then_some(n);
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
    // A pod of a shape that fitted no node at this generation fits none
    // again: the walk is skipped, and only what it would have changed (the
    // start index, taken modulo this pod's eligible nodes) is applied. The
    // shape is the workload: its pods share requests, selector, tolerations
    // and affinity. Left out: a nominated pod (the filter of a node with
    // nominated pods depends on which pod asks) and a pod whose volumes
    // hold it to a zone (VolumeBinding differs pod by pod); pinned pods
    // returned above. Every per-pod input of the filters must be part of
    // the key or exclude the pod.
    let shape = pod.workload.index();
    let generation = state.snapshot.generation();
    let volume_zone = wl.volume_zone(pod.slot);
    let memo = config.verdict_memo && pod.nominated.is_none() && volume_zone.is_none();
    if memo && state.no_fit_now(shape).is_some() {
        state.next_start %= eligible;
        return None;
    }
    let plan = new_plan();
    let to_find = num_feasible_nodes_to_find(all_nodes, config.percentage_of_nodes_to_score);
    let pod_filter = PodFilter::of(pod.workload, wl);
    debug_assert_eq!(pod.requests, wl.spec.requests);
    let start = state.next_start % eligible;
    // In a large cluster the walk is answered from the index, where every
    // node's verdict is its workload's: no nominated pods anywhere, no
    // zone from volumes, no spread or inter-pod affinity (whose filters
    // and scores depend on other pods).
    if eligible >= config.fit_index_min_nodes
        && pod.nominated.is_none()
        && volume_zone.is_none()
        && plan.is_none()
        && !state.snapshot.any_nominated()
    {
        let query = Query {
            shape,
            wl,
            by_pool,
            nodes,
            rows: state.snapshot.rows(),
            config,
            start,
            eligible,
            to_find,
        };
        let d = state.index.decide(&query, rng);
        state.next_start = (start + d.processed) % eligible;
        if d.found == 0 && memo {
            state.record_no_fit(shape, generation);
        }
        state.last_score = d.score;
        return d.node;
    }
    let found = &mut state.feasible;
    found.candidates.clear();
    found.runs.clear();
    let mut processed = 0;
    let rows = state.snapshot.rows_mut();
    let nominated = |id: NodeId| filter::feasible(pod, wl, &nodes[id.index()], pods);
    let resources = |id: NodeId| {
        score::resources_score(pod, &nodes[id.index()], config.scoring, &config.ratio_shape)
    };
    let extra = Extra {
        any: volume_zone.is_some() || plan.as_ref().is_some_and(|p| p.filters()),
        zone: volume_zone,
        topology: plan
            .as_ref()
            .filter(|p| p.filters())
            .map(|p| (p, state.topology.counts())),
        nodes,
    };
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
            let ids = &list[from - base..to - base];
            let before = found.candidates.len();
            let stop = scan(
                ids,
                rows,
                &pod_filter,
                &mut found.candidates,
                to_find,
                nominated,
                resources,
                extra,
            );
            if found.candidates.len() > before {
                found.runs.push((found.candidates.len(), p));
            }
            if let Some(k) = stop {
                processed += k + 1;
                break 'walk;
            }
            processed += ids.len();
        }
    }
    state.next_start = (start + processed) % eligible;
    match found.candidates.len() {
        0 if memo => {
            state.record_no_fit(shape, generation);
            return None;
        }
        0 => return None,
        // A single feasible node is chosen without comparing scores.
        1 => return Some(found.candidates[0].node),
        _ => {}
    }
    // PodTopologySpread and InterPodAffinity normalise over the feasible
    // nodes.
    if let Some(p) = plan.as_ref().filter(|p| p.scores()) {
        let scores = &mut state.topology_scores;
        let feasible = found.candidates.iter().map(|c| c.node.index());
        let scratch = &mut state.topology_scratch;
        p.score(state.topology.counts(), feasible, scores, scratch);
        for (c, s) in found.candidates.iter_mut().zip(scores.iter()) {
            // At most 400.
            c.score += *s as i32;
        }
    }
    // TaintToleration and NodeAffinity normalise over the feasible nodes;
    // both depend on the pool only.
    let pools = PoolScores::of(wl, found.runs.iter().map(|r| r.1));
    let pool_score = |p: usize| pools.score(wl, p);
    let first = pool_score(found.runs[0].1);
    // With one pool score for every feasible node (one pool, or pools the
    // pod prefers equally) the order of the totals is that of the resource
    // scores; otherwise add each node's pool score.
    let uniform = found.runs.iter().all(|&(_, p)| pool_score(p) == first);
    if !uniform {
        let mut begin = 0;
        for &(end, p) in &found.runs {
            // Scores are at most a few thousand.
            let bonus = pool_score(p) as i32;
            found.candidates[begin..end]
                .iter_mut()
                .for_each(|c| c.score += bonus);
            begin = end;
        }
    }
    // selectHost: a uniform choice among the nodes with the highest score
    // (docs/fidelity.md, "Scheduler", ties). kube-scheduler draws once per tied
    // maximum (a reservoir over a max-heap); one draw of an index among the
    // maxima gives the same distribution whatever the number of ties.
    let candidates = &found.candidates;
    let max = candidates.iter().map(|c| c.score).fold(i32::MIN, i32::max);
    let at_max = candidates.iter().filter(|c| c.score == max).count();
    let pick = if at_max > 1 {
        rng.random_range(0..at_max)
    } else {
        0
    };
    let chosen = candidates
        .iter()
        .filter(|c| c.score == max)
        .nth(pick)
        .map(|c| c.node);
    state.last_score = Some(NodeScore::from(max) + if uniform { first } else { 0 });
    chosen
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
