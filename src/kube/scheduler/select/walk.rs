//! The walk of [`super::select_node`] where the fit index does not answer:
//! the eligible pools' nodes as one ring from the rotating start index,
//! filtered until `numFeasibleNodesToFind` are found, then scored
//! (`findNodesThatFitPod`, `prioritizeNodes`, `selectHost`).

use rand::Rng;

use crate::kube::{Node, NodeId};

use super::super::filter;
use super::super::score::{self, NodeScore};
use super::super::snapshot::{NodeFit, PodFilter};
use super::super::topology::{Counts, Plan};
use super::{Ask, PoolScores, SelectState, Window, ring_slices};

/// The feasible nodes of one decision, in the order the walk found them.
#[derive(Debug, Default)]
pub(super) struct Feasible {
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

/// Walks the eligible pools' lists as one ring from the window's start,
/// collecting feasible nodes into `state.feasible` until enough are found;
/// returns how many nodes it visited.
pub(super) fn walk(
    ask: Ask<'_>,
    window: Window,
    volume_zone: Option<u16>,
    plan: Option<&Plan>,
    state: &mut SelectState,
) -> usize {
    let Ask {
        pod,
        wl,
        nodes,
        by_pool,
        pods,
        config,
    } = ask;
    let found = &mut state.feasible;
    found.candidates.clear();
    found.runs.clear();
    let mut processed = 0;
    let rows = state.snapshot.rows_mut();
    let pod_filter = PodFilter::of(pod.workload, wl);
    let nominated = |id: NodeId| filter::feasible(pod, wl, &nodes[id.index()], pods);
    let resources = |id: NodeId| {
        score::resources_score(pod, &nodes[id.index()], config.scoring, &config.ratio_shape)
    };
    let filtering = plan.filter(|p| p.filters());
    let extra = Extra {
        any: volume_zone.is_some() || filtering.is_some(),
        zone: volume_zone,
        topology: filtering.map(|p| (p, state.topology.counts())),
        nodes,
    };
    let Window {
        start,
        eligible,
        to_find,
    } = window;
    for (p, a, b) in ring_slices(by_pool, &wl.fits_pool, start, eligible) {
        let ids = &by_pool[p][a..b];
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
            return processed + k + 1;
        }
        processed += ids.len();
    }
    processed
}

/// Scores the walked feasible nodes and draws among the best
/// (`prioritizeNodes`, `selectHost`): the node, and its score when scores
/// were compared.
pub(super) fn choose<R: Rng>(
    ask: Ask<'_>,
    plan: Option<&Plan>,
    state: &mut SelectState,
    rng: &mut R,
) -> (Option<NodeId>, Option<NodeScore>) {
    let wl = ask.wl;
    let found = &mut state.feasible;
    match found.candidates.len() {
        0 => return (None, None),
        // A single feasible node is chosen without comparing scores.
        1 => return (Some(found.candidates[0].node), None),
        _ => {}
    }
    // PodTopologySpread and InterPodAffinity normalise over the feasible
    // nodes.
    if let Some(p) = plan.filter(|p| p.scores()) {
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
    (
        chosen,
        Some(NodeScore::from(max) + if uniform { first } else { 0 }),
    )
}
