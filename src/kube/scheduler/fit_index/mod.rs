//! The feasible nodes of a pod shape, indexed so that a decision in a large
//! cluster does not walk them.
//!
//! [`super::select_node`] walks the pod's eligible pools from a rotating
//! start index until it has found `numFeasibleNodesToFind` feasible nodes
//! (5 % of the cluster from 5,000 nodes up), then draws among the best
//! scores. At 100,000 nodes that is 5,000 nodes per decision, so a run that
//! places n pods on n/30 nodes costs O(n^2). Here, per workload (pods of a
//! workload share requests and tolerations, so one filter and one resource
//! score per node) and per pool, a segment tree over the positions of the
//! pool's node list holds, for every range of positions, how many nodes
//! admit the pod, their best resource score and how many have it. The walk
//! becomes a few queries: where the walk would stop, the best score in the
//! window it covered, and the position of the chosen maximum, each
//! O(log n). A node's change marks its leaves stale in every indexed
//! workload; a workload brings its stale leaves up to date (O(log n) each,
//! or one rebuild when many are stale) when it next decides.
//!
//! The answer is the walk's, node for node and draw for draw (the same
//! stop position, the same count of tied maxima, the same choice among
//! them in walk order); `tests/fit_index.rs` runs every shipped scenario
//! with the index always on and never on. It is not used where a node's
//! verdict depends on the pod rather than its workload: pods nominated
//! somewhere, nodes with nominated pods, pods whose volumes hold them to a
//! zone, pods with spread or inter-pod affinity rules that filter (those
//! walk, as before). Pods scored by ScheduleAnyway spread constraints
//! only, which is every Deployment and StatefulSet pod under the system
//! default spreading, are answered by the zone trees of [`spread`].

mod choose;
mod spread;
mod tree;
mod zone_trees;

use rand::Rng;

use crate::kube::{Node, NodeId, Workload};
use crate::quantity::Resources;

use super::SchedulerConfig;
use super::score::{self, NodeScore};
use super::select::{PoolScores, ring_slices};
use super::snapshot::{NodeFit, PodFilter};
use super::topology::{Counts, GroupId, Plan};
use choose::Scratch;
use tree::{Aggregate, Tree};
use zone_trees::{Leaf, ZoneTrees};

/// The indexed workloads, by workload index.
#[derive(Debug, Default)]
pub(crate) struct FitIndex {
    shapes: Vec<Option<ShapeIndex>>,
    /// Buffers reused by every decision.
    scratch: Scratch,
}

/// One workload's trees.
#[derive(Debug)]
struct ShapeIndex {
    filter: PodFilter,
    requests: Resources,
    /// Per pool; `None` for the pools the workload cannot use.
    pools: Vec<Option<Tree<Agg>>>,
    /// For a workload scored by ScheduleAnyway spread constraints only.
    spread: Option<SpreadIndex>,
    /// Nodes whose leaves are stale, each once; `marked` by node index.
    dirty: Vec<NodeId>,
    marked: Vec<bool>,
}

/// The spread part of a workload's index.
#[derive(Debug)]
struct SpreadIndex {
    /// The group whose pods per node the hostname constraint counts.
    host: Option<GroupId>,
    /// Per pool, as [`ShapeIndex::pools`].
    pools: Vec<Option<ZoneTrees>>,
    /// A count or score did not fit a leaf: decisions walk.
    overflow: bool,
}

impl SpreadIndex {
    /// The spread leaf of `node` (in zone `zone`; `resources` its score
    /// if it admits the pod), or `None` if its count or score does not
    /// fit one.
    fn leaf(
        &self,
        resources: Option<i32>,
        (node, zone): (usize, u16),
        counts: &Counts,
    ) -> Option<Leaf> {
        let Some(r) = resources else {
            return Some(Leaf::NONE);
        };
        let h = self.host.map_or(0, |g| counts.on_node(g, node));
        Leaf::new(zone, u16::try_from(h).ok()?, u16::try_from(r).ok()?)
    }
}

/// A range of positions: how many nodes admit the pod, the best resource
/// score among those and how many have it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Agg {
    count: u32,
    at_max: u32,
    max: i32,
}

/// No feasible node.
const NONE: Agg = Agg {
    count: 0,
    at_max: 0,
    max: i32::MIN,
};

impl Aggregate for Agg {
    const EMPTY: Agg = NONE;

    fn join(a: Agg, b: Agg) -> Agg {
        let max = a.max.max(b.max);
        let at = |x: Agg| if x.max == max { x.at_max } else { 0 };
        Agg {
            count: a.count + b.count,
            at_max: at(a) + at(b),
            max,
        }
    }
}

/// One decision's question: the pod's workload and what the walk reads.
pub(super) struct Query<'a> {
    pub shape: usize,
    pub wl: &'a Workload,
    pub by_pool: &'a [Vec<NodeId>],
    pub nodes: &'a [Node],
    pub rows: &'a [NodeFit],
    pub config: &'a SchedulerConfig,
    /// The walk's start, a position in the ring of eligible nodes.
    pub start: usize,
    /// Nodes in the pod's eligible pools.
    pub eligible: usize,
    /// `numFeasibleNodesToFind`.
    pub to_find: usize,
    /// The pod's spread plan (ScheduleAnyway constraints only, see
    /// [`Plan::spread_only`]), if it has one.
    pub spread: Option<&'a Plan>,
    pub counts: &'a Counts,
}

/// What the walk would have done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Decision {
    /// Nodes the walk visits.
    pub processed: usize,
    /// Feasible nodes it finds.
    pub found: usize,
    /// The node chosen, if any.
    pub node: Option<NodeId>,
    /// Its score, when scores were compared (two or more feasible nodes).
    pub score: Option<NodeScore>,
}

/// What a node's leaves are computed from: its row, the node and the
/// spread counts.
#[derive(Clone, Copy)]
pub(super) struct NodeView<'a> {
    pub rows: &'a [NodeFit],
    pub config: &'a SchedulerConfig,
    pub counts: &'a Counts,
}

impl ShapeIndex {
    /// Marks `node`'s leaves stale.
    fn mark(&mut self, node: NodeId) {
        let i = node.index();
        if self.marked.len() <= i {
            self.marked.resize(i + 1, false);
        }
        if !self.marked[i] {
            self.marked[i] = true;
            self.dirty.push(node);
        }
    }

    /// Brings the stale leaves up to date: one by one (a climb each), or,
    /// when there are many (more than an eighth of `eligible`), by setting
    /// the leaves and recomputing every range (one join each).
    fn flush(&mut self, nodes: &[Node], v: NodeView<'_>, eligible: usize) {
        let dirty = std::mem::take(&mut self.dirty);
        let climb = dirty.len().saturating_mul(8) <= eligible;
        for &id in &dirty {
            self.marked[id.index()] = false;
            let node = &nodes[id.index()];
            let Some(pos) = node.pool_slot else {
                continue;
            };
            let pool = node.spec.pool.index();
            let fit = self.fit(&v.rows[id.index()], node, v.config);
            if let Some(Some(tree)) = self.pools.get_mut(pool) {
                let leaf = fit.map_or(NONE, leaf);
                match climb {
                    true => tree.set(pos, leaf),
                    false => tree.set_leaf(pos, leaf),
                }
            }
            self.place_spread(pool, pos, (node, fit, v.counts), climb);
        }
        if !climb {
            self.pools.iter_mut().flatten().for_each(Tree::rebuild);
            if let Some(s) = self.spread.as_mut() {
                s.pools.iter_mut().flatten().for_each(ZoneTrees::rebuild);
            }
        }
        self.dirty = dirty;
        self.dirty.clear();
    }

    /// Whether `row` admits the pod, and the node's resource score if so.
    fn fit(&self, row: &NodeFit, node: &Node, config: &SchedulerConfig) -> Option<i32> {
        row.admits(&self.filter).then(|| {
            let s =
                score::resources_score_of(self.requests, node, config.scoring, &config.ratio_shape);
            // Resource scores are 0 to 200.
            s as i32
        })
    }

    /// Sets `node`'s leaves at position `pos` of pool `pool`'s trees
    /// (`None`: the list ended before `pos`).
    fn place(&mut self, pool: usize, pos: usize, node: Option<&Node>, v: NodeView<'_>) {
        let fit = node.and_then(|n| self.fit(&v.rows[n.id.index()], n, v.config));
        if let Some(Some(tree)) = self.pools.get_mut(pool) {
            tree.set(pos, fit.map_or(NONE, leaf));
        }
        match node {
            Some(n) => self.place_spread(pool, pos, (n, fit, v.counts), true),
            None => {
                let trees = self.spread.as_mut().and_then(|s| s.pools.get_mut(pool));
                if let Some(Some(trees)) = trees {
                    trees.set(pos, Leaf::NONE, true);
                }
            }
        }
    }

    /// Sets the spread leaf of `node` (whose fit is `fit`, pods counted by
    /// `counts`) at position `pos` of `pool`, updating the ranges above at
    /// once if `climb`.
    fn place_spread(
        &mut self,
        pool: usize,
        pos: usize,
        (node, fit, counts): (&Node, Option<i32>, &Counts),
        climb: bool,
    ) {
        let Some(s) = self.spread.as_mut() else {
            return;
        };
        let leaf = s.leaf(fit, (node.id.index(), node.spec.zone), counts);
        let Some(Some(trees)) = s.pools.get_mut(pool) else {
            return;
        };
        match leaf {
            Some(leaf) => trees.set(pos, leaf, climb),
            None => s.overflow = true,
        }
    }
}

/// The plain tree's leaf of a node that admits the pod with resource score
/// `s`.
fn leaf(s: i32) -> Agg {
    Agg {
        count: 1,
        at_max: 1,
        max: s,
    }
}

impl FitIndex {
    /// Marks `node`'s leaves stale in every indexed workload: its row was
    /// just refreshed. Leaves are brought up to date when their workload
    /// next decides, so a node that changes several times between two
    /// decisions is updated once, and a workload that rarely decides does
    /// not pay for every bind.
    pub fn refresh(&mut self, node: NodeId) {
        for shape in self.shapes.iter_mut().flatten() {
            shape.mark(node);
        }
    }

    /// Marks `node`'s spread leaves stale: its pods of some group changed.
    pub fn counts_changed(&mut self, node: NodeId) {
        for shape in self.shapes.iter_mut().flatten() {
            if shape.spread.is_some() {
                shape.mark(node);
            }
        }
    }

    /// Position `pos` of `pool`'s list now holds `node` (`None`: the list
    /// ended before it), after a node left the list.
    pub fn place(&mut self, pool: usize, pos: usize, node: Option<&Node>, v: NodeView<'_>) {
        for shape in self.shapes.iter_mut().flatten() {
            shape.place(pool, pos, node, v);
        }
    }

    /// The trees of `q.shape`, built on first use (and rebuilt if the
    /// workload's filter or spread group changed).
    fn shape(&mut self, q: &Query<'_>) -> &ShapeIndex {
        let filter = PodFilter::of(crate::kube::WorkloadId(q.shape as u16), q.wl);
        let requests = q.wl.spec.requests;
        let host = q.spread.and_then(Plan::spread_only);
        if self.shapes.len() <= q.shape {
            self.shapes.resize_with(q.shape + 1, || None);
        }
        let slot = &mut self.shapes[q.shape];
        let stale = slot.as_ref().is_none_or(|s| {
            s.filter != filter
                || s.requests != requests
                || s.spread.as_ref().map(|sp| sp.host) != host
        });
        if stale {
            *slot = Some(build(q, filter, requests, host));
        }
        let shape = slot.as_mut().expect("built above");
        let v = NodeView {
            rows: q.rows,
            config: q.config,
            counts: q.counts,
        };
        shape.flush(q.nodes, v, q.eligible);
        shape
    }

    /// The walk of [`super::select_node`] over the ring of the eligible
    /// pools from `q.start`, answered from the trees; `None` if they cannot
    /// answer it (a count too large for a leaf), before any draw.
    pub(super) fn decide<R: Rng>(&mut self, q: &Query<'_>, rng: &mut R) -> Option<Decision> {
        let mut scratch = std::mem::take(&mut self.scratch);
        let d = decide_with(self.shape(q), q, &mut scratch, rng);
        self.scratch = scratch;
        d
    }
}

/// [`FitIndex::decide`] with the workload's trees up to date.
fn decide_with<R: Rng>(
    shape: &ShapeIndex,
    q: &Query<'_>,
    scratch: &mut Scratch,
    rng: &mut R,
) -> Option<Decision> {
    if shape.spread.as_ref().is_some_and(|s| s.overflow) {
        return None;
    }
    let (processed, found) = window(q, shape, &mut scratch.ranges);
    let ranges = &scratch.ranges;
    let mut d = Decision {
        processed,
        found,
        node: None,
        score: None,
    };
    let tree = |p: usize| shape.pools[p].as_ref().expect("an eligible pool");
    match found {
        0 => {}
        1 => {
            let (p, a, b) = ranges[0];
            d.node = tree(p)
                .find(a, b, 0, |a| a.count)
                .map(|pos| q.by_pool[p][pos]);
        }
        _ => {
            let pools = PoolScores::of(q.wl, ranges.iter().map(|r| r.0));
            let first = pools.score(q.wl, ranges[0].0);
            let uniform = ranges.iter().all(|r| pools.score(q.wl, r.0) == first);
            // Scores are at most a few thousand.
            let bonus = |p: usize| {
                if uniform {
                    0
                } else {
                    pools.score(q.wl, p) as i32
                }
            };
            let (node, max) = match (&shape.spread, q.spread) {
                (Some(s), Some(plan)) => choose::spread(s, plan, q, found, &bonus, scratch, rng)?,
                _ => choose::plain(shape, q, ranges, &bonus, rng),
            };
            d.node = node;
            d.score = Some(NodeScore::from(max) + if uniform { first } else { 0 });
        }
    }
    Some(d)
}

/// Builds a workload's trees from every node of its eligible pools.
fn build(
    q: &Query<'_>,
    filter: PodFilter,
    requests: Resources,
    host: Option<Option<GroupId>>,
) -> ShapeIndex {
    let mut shape = ShapeIndex {
        filter,
        requests,
        pools: Vec::new(),
        dirty: Vec::new(),
        marked: Vec::new(),
        spread: host.map(|host| SpreadIndex {
            host,
            pools: Vec::new(),
            overflow: false,
        }),
    };
    let mut spread_pools = Vec::new();
    for (p, list) in q.by_pool.iter().enumerate() {
        if !q.wl.fits_pool[p] {
            shape.pools.push(None);
            spread_pools.push(None);
            continue;
        }
        let fits: Vec<Option<i32>> = list
            .iter()
            .map(|&id| shape.fit(&q.rows[id.index()], &q.nodes[id.index()], q.config))
            .collect();
        let leaves: Vec<Agg> = fits.iter().map(|f| f.map_or(NONE, leaf)).collect();
        shape.pools.push(Some(Tree::with_leaves(&leaves, 0)));
        if let Some(s) = shape.spread.as_mut() {
            let mut overflow = false;
            let leaves = list.iter().zip(&fits).enumerate().map(|(pos, (&id, &f))| {
                let zone = q.nodes[id.index()].spec.zone;
                let leaf = s.leaf(f, (id.index(), zone), q.counts);
                overflow |= leaf.is_none();
                (pos, leaf.unwrap_or(Leaf::NONE))
            });
            let trees = ZoneTrees::of(list.len(), leaves);
            s.overflow |= overflow;
            spread_pools.push(Some(trees));
        }
    }
    if let Some(s) = shape.spread.as_mut() {
        s.pools = spread_pools;
    }
    shape
}

/// Where the walk stops: the slices of the ring it covers with feasible
/// nodes into `ranges` (pool, from, to), and how many nodes it visits and
/// finds.
fn window(
    q: &Query<'_>,
    shape: &ShapeIndex,
    ranges: &mut Vec<(usize, usize, usize)>,
) -> (usize, usize) {
    ranges.clear();
    let tree = |p: usize| shape.pools[p].as_ref().expect("an eligible pool");
    let (mut found, mut processed) = (0, 0);
    for (p, a, b) in ring_slices(q.by_pool, &q.wl.fits_pool, q.start, q.eligible) {
        let c = tree(p).range(a, b).count as usize;
        if found + c >= q.to_find {
            let k = (q.to_find - found - 1) as u32;
            let at = tree(p).find(a, b, k, |a| a.count).expect("counted");
            ranges.push((p, a, at + 1));
            return (processed + at + 1 - a, q.to_find);
        }
        if c > 0 {
            ranges.push((p, a, b));
        }
        found += c;
        processed += b - a;
    }
    (processed, found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf_of(score: Option<i32>) -> Agg {
        score.map_or(NONE, |s| Agg {
            count: 1,
            at_max: 1,
            max: s,
        })
    }

    /// Positions 0..8 with scores 5, -, 7, 7, -, 3, 7, 5 (`-`: does not
    /// admit the pod).
    fn tree() -> Tree<Agg> {
        let s = [
            Some(5),
            None,
            Some(7),
            Some(7),
            None,
            Some(3),
            Some(7),
            Some(5),
        ];
        Tree::with_leaves(&s.map(leaf_of), 0)
    }

    #[test]
    fn ranges_count_and_keep_the_best_score() {
        let t = tree();
        assert_eq!(
            t.range(0, 8),
            Agg {
                count: 6,
                at_max: 3,
                max: 7
            }
        );
        // 7 (pos 3), -, 3: one 7.
        assert_eq!(
            t.range(3, 6),
            Agg {
                count: 2,
                at_max: 1,
                max: 7
            }
        );
        assert_eq!(t.range(4, 5), NONE);
        assert_eq!(t.range(7, 8).max, 5);
    }

    #[test]
    fn find_counts_in_position_order_within_the_range() {
        let t = tree();
        let count = |a: &Agg| a.count;
        // Feasible positions from 1: 2, 3, 5, 6, 7.
        assert_eq!(t.find(1, 8, 0, count), Some(2));
        assert_eq!(t.find(1, 8, 2, count), Some(5));
        assert_eq!(t.find(1, 8, 4, count), Some(7));
        assert_eq!(t.find(1, 8, 5, count), None);
        // The 7s of [3, 8): positions 3 and 6.
        let sevens = |a: &Agg| if a.max == 7 { a.at_max } else { 0 };
        assert_eq!(t.find(3, 8, 0, sevens), Some(3));
        assert_eq!(t.find(3, 8, 1, sevens), Some(6));
        assert_eq!(t.find(3, 8, 2, sevens), None);
    }

    #[test]
    fn setting_past_the_end_grows_the_tree() {
        let mut t = tree();
        t.set(10, leaf_of(Some(9)));
        assert_eq!(t.cap(), 16);
        assert_eq!(t.range(0, 16).max, 9);
        assert_eq!(t.range(0, 16).count, 7);
        t.set(10, NONE);
        t.set(2, NONE);
        assert_eq!(
            t.range(0, 16),
            Agg {
                count: 5,
                at_max: 2,
                max: 7
            }
        );
    }
}
