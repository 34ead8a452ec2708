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
use super::fit_index::{FitIndex, NodeView, Query};
use super::score::{self, NodeScore, WEIGHT_AFFINITY, WEIGHT_TAINT};
use super::snapshot::Snapshot;
use super::topology::{Plan, Topology};
use super::{Plugins, SchedulerConfig};
use walk::Feasible;

mod walk;

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
    index: FitIndex,
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

    /// Tells the fit index that `node`'s row was just refreshed.
    pub fn refresh_index(&mut self, node: NodeId) {
        self.index.refresh(node);
    }

    /// Tells the fit index that `node`'s spread counts changed.
    pub fn counts_changed(&mut self, node: NodeId) {
        self.index.counts_changed(node);
    }

    /// Position `pos` of `pool`'s list now holds `node` (`None`: the list
    /// ended before it).
    pub fn place_in_index(
        &mut self,
        pool: usize,
        pos: usize,
        node: Option<&Node>,
        config: &SchedulerConfig,
    ) {
        let v = NodeView {
            rows: self.snapshot.rows(),
            config,
            counts: self.topology.counts(),
        };
        self.index.place(pool, pos, node, v);
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

/// The slices a walk from `start` visits, in order, over the ring of
/// `eligible` positions (the concatenation of the lists of the pools with
/// `fits_pool`): `[start, eligible)`, then `[0, start)`, each cut at the
/// pools' bounds as (pool, from, to), positions in that pool's list. No
/// node before the start is visited (a linear skip would cost O(nodes)
/// per decision).
pub(super) fn ring_slices<'a>(
    by_pool: &'a [Vec<NodeId>],
    fits_pool: &'a [bool],
    start: usize,
    eligible: usize,
) -> impl Iterator<Item = (usize, usize, usize)> + 'a {
    [(start, eligible), (0, start)]
        .into_iter()
        .flat_map(move |(lo, hi)| {
            let mut offset = 0;
            by_pool
                .iter()
                .enumerate()
                .filter(|&(p, _)| fits_pool[p])
                .filter_map(move |(p, list)| {
                    let base = offset;
                    offset += list.len();
                    let (from, to) = (lo.max(base), hi.min(base + list.len()));
                    (from < to).then_some((p, from - base, to - base))
                })
        })
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

/// What one decision reads: the pod, its workload, the cluster.
#[derive(Clone, Copy)]
struct Ask<'a> {
    pod: &'a Pod,
    wl: &'a Workload,
    nodes: &'a [Node],
    by_pool: &'a [Vec<NodeId>],
    pods: &'a [Pod],
    config: &'a SchedulerConfig,
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
    let ask = Ask {
        pod,
        wl,
        nodes,
        by_pool,
        pods,
        config,
    };
    state.last_score = None;
    if let Some(preset) = preset(ask, state) {
        return preset;
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
    // PreFilter and PreScore of PodTopologySpread and InterPodAffinity.
    let rules = state.topology.rules(pod.workload);
    let plan = rules
        .any()
        .then(|| Plan::new(rules, wl, state.topology.counts()));
    let to_find = num_feasible_nodes_to_find(all_nodes, config.percentage_of_nodes_to_score);
    let start = state.next_start % eligible;
    let window = Window {
        start,
        eligible,
        to_find,
    };
    let (processed, chosen, score) = decide(ask, window, volume_zone, plan.as_ref(), state, rng);
    state.next_start = (start + processed) % eligible;
    if chosen.is_none() && memo {
        state.record_no_fit(shape, generation);
    }
    state.last_score = score;
    chosen
}

/// The walk's outcome, from the index where it can answer (a large
/// cluster, where every node's verdict is its workload's: no nominated
/// pods anywhere, no zone from volumes, no spread or inter-pod affinity
/// rule that filters, their verdicts depending on other pods, and no
/// inter-pod affinity score), else by walking: the nodes visited, the node
/// chosen and its score when scores were compared.
fn decide<R: Rng>(
    ask: Ask<'_>,
    window: Window,
    volume_zone: Option<u16>,
    plan: Option<&Plan>,
    state: &mut SelectState,
    rng: &mut R,
) -> (usize, Option<NodeId>, Option<NodeScore>) {
    let indexed = window.eligible >= ask.config.fit_index_min_nodes
        && ask.pod.nominated.is_none()
        && volume_zone.is_none()
        && plan.is_none_or(|p| p.spread_only().is_some())
        && !state.snapshot.any_nominated();
    if indexed && let Some(d) = from_index(ask, window, plan, state, rng) {
        return (d.processed, d.node, d.score);
    }
    let processed = walk::walk(ask, window, volume_zone, plan, state);
    let (chosen, score) = walk::choose(ask, plan, state, rng);
    (processed, chosen, score)
}

/// Where a decision's walk starts and how far it goes.
#[derive(Clone, Copy)]
struct Window {
    /// The start, a position in the ring of eligible nodes.
    start: usize,
    /// Nodes in the pod's eligible pools.
    eligible: usize,
    /// `numFeasibleNodesToFind`.
    to_find: usize,
}

/// The node chosen before any walk: a feasible nominated node
/// (PreferNominatedNode) or the node a pod is pinned to (`Some(None)`: it
/// does not fit there). `None`: walk.
fn preset(ask: Ask<'_>, state: &SelectState) -> Option<Option<NodeId>> {
    let Ask {
        pod,
        wl,
        nodes,
        pods,
        ..
    } = ask;
    // Built only where a node is filtered (not for a remembered verdict).
    let topology_ok = |n: NodeId| {
        let rules = state.topology.rules(pod.workload);
        !rules.any()
            || Plan::new(rules, wl, state.topology.counts())
                .rejects(state.topology.counts(), &nodes[n.index()])
                .is_none()
    };
    if let Some(n) = pod.nominated
        && filter::feasible(pod, wl, &nodes[n.index()], pods)
        && topology_ok(n)
    {
        return Some(Some(n));
    }
    pod.pinned.map(|n| {
        (filter::feasible(pod, wl, &nodes[n.index()], pods) && topology_ok(n)).then_some(n)
    })
}

/// The walk answered from the fit index, or `None` where the index cannot
/// answer (before any draw).
fn from_index<R: Rng>(
    ask: Ask<'_>,
    window: Window,
    plan: Option<&Plan>,
    state: &mut SelectState,
    rng: &mut R,
) -> Option<super::fit_index::Decision> {
    debug_assert_eq!(ask.pod.requests, ask.wl.spec.requests);
    let query = Query {
        shape: ask.pod.workload.index(),
        wl: ask.wl,
        by_pool: ask.by_pool,
        nodes: ask.nodes,
        rows: state.snapshot.rows(),
        config: ask.config,
        start: window.start,
        eligible: window.eligible,
        to_find: window.to_find,
        spread: plan,
        counts: state.topology.counts(),
    };
    state.index.decide(&query, rng)
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
