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
//! O(log n); a node's change costs O(log n) per indexed workload.
//!
//! The answer is the walk's, node for node and draw for draw (the same
//! stop position, the same count of tied maxima, the same choice among
//! them in walk order); `tests/fit_index.rs` runs every shipped scenario
//! with the index always on and never on. It is not used where a node's
//! verdict depends on the pod rather than its workload: pods nominated
//! somewhere, nodes with nominated pods, pods whose volumes hold them to a
//! zone (those walk, as before).

use rand::Rng;

use crate::kube::{Node, NodeId, Workload};
use crate::quantity::Resources;

use super::SchedulerConfig;
use super::score::{self, NodeScore};
use super::select::PoolScores;
use super::snapshot::{NodeFit, PodFilter};

/// The indexed workloads, by workload index.
#[derive(Debug, Default)]
pub(crate) struct FitIndex {
    shapes: Vec<Option<ShapeIndex>>,
    /// The slices of one decision with feasible nodes: (pool, from, to),
    /// positions in the pool's list. Reused by every decision.
    ranges: Vec<(usize, usize, usize)>,
}

/// One workload's trees.
#[derive(Debug)]
struct ShapeIndex {
    filter: PodFilter,
    requests: Resources,
    /// Per pool; `None` for the pools the workload cannot use.
    pools: Vec<Option<Tree>>,
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

impl Agg {
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

/// A segment tree over the positions of one pool's node list: node 1 is
/// the root, node `v` has children `2v` and `2v + 1`, leaves are
/// `cap..2 cap`.
#[derive(Debug, Clone)]
struct Tree {
    cap: usize,
    t: Vec<Agg>,
}

impl Tree {
    fn with_leaves(leaves: &[Agg]) -> Tree {
        let cap = leaves.len().next_power_of_two().max(1);
        let mut t = vec![NONE; 2 * cap];
        t[cap..cap + leaves.len()].copy_from_slice(leaves);
        for v in (1..cap).rev() {
            t[v] = Agg::join(t[2 * v], t[2 * v + 1]);
        }
        Tree { cap, t }
    }

    fn set(&mut self, pos: usize, leaf: Agg) {
        if pos >= self.cap {
            let mut leaves = self.t[self.cap..].to_vec();
            leaves.resize(pos + 1, NONE);
            *self = Tree::with_leaves(&leaves);
        }
        let mut v = self.cap + pos;
        if self.t[v] == leaf {
            return;
        }
        self.t[v] = leaf;
        while v > 1 {
            v /= 2;
            let joined = Agg::join(self.t[2 * v], self.t[2 * v + 1]);
            // Above an unchanged aggregate nothing changes.
            if self.t[v] == joined {
                return;
            }
            self.t[v] = joined;
        }
    }

    /// The aggregate of positions `[lo, hi)`.
    fn range(&self, lo: usize, hi: usize) -> Agg {
        let (mut l, mut r) = (lo + self.cap, hi.min(self.cap) + self.cap);
        let mut out = NONE;
        while l < r {
            if l & 1 == 1 {
                out = Agg::join(out, self.t[l]);
                l += 1;
            }
            if r & 1 == 1 {
                r -= 1;
                out = Agg::join(out, self.t[r]);
            }
            l /= 2;
            r /= 2;
        }
        out
    }

    /// The position of the `k`-th (from 0) leaf of `[lo, hi)` counted by
    /// `weight` (1 or 0 per leaf, summed by a range's aggregate), in
    /// position order; `None` if the range has `k` or fewer.
    fn find(&self, lo: usize, hi: usize, k: u32, weight: impl Fn(&Agg) -> u32) -> Option<usize> {
        let mut k = k;
        self.find_in(1, 0, self.cap, (lo, hi), &mut k, &weight)
    }

    fn find_in(
        &self,
        v: usize,
        nl: usize,
        nr: usize,
        (lo, hi): (usize, usize),
        k: &mut u32,
        weight: &impl Fn(&Agg) -> u32,
    ) -> Option<usize> {
        if nr <= lo || hi <= nl {
            return None;
        }
        if lo <= nl && nr <= hi {
            let w = weight(&self.t[v]);
            if *k >= w {
                *k -= w;
                return None;
            }
            // Wholly inside: descend to the leaf.
            let mut v = v;
            while v < self.cap {
                let left = weight(&self.t[2 * v]);
                if *k < left {
                    v *= 2;
                } else {
                    *k -= left;
                    v = 2 * v + 1;
                }
            }
            return Some(v - self.cap);
        }
        let mid = nl + (nr - nl) / 2;
        self.find_in(2 * v, nl, mid, (lo, hi), k, weight)
            .or_else(|| self.find_in(2 * v + 1, mid, nr, (lo, hi), k, weight))
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

/// The leaf of `node` (whose row is `row`) for pods of `filter` that
/// request `requests`.
fn leaf(
    (filter, requests): (&PodFilter, Resources),
    row: &NodeFit,
    node: &Node,
    config: &SchedulerConfig,
) -> Agg {
    if !row.admits(filter) {
        return NONE;
    }
    let s = score::resources_score_of(requests, node, config.scoring, &config.ratio_shape);
    Agg {
        count: 1,
        at_max: 1,
        // Resource scores are 0 to 200.
        max: s as i32,
    }
}

impl FitIndex {
    /// Updates every indexed workload's leaf of `node`, whose row was just
    /// refreshed. A node outside its pool's list has no leaf.
    pub fn refresh(&mut self, rows: &[NodeFit], node: &Node, config: &SchedulerConfig) {
        let Some(pos) = node.pool_slot else {
            return;
        };
        let pool = node.spec.pool.index();
        let row = &rows[node.id.index()];
        for shape in self.shapes.iter_mut().flatten() {
            let pod = (&shape.filter, shape.requests);
            if let Some(Some(tree)) = shape.pools.get_mut(pool) {
                tree.set(pos, leaf(pod, row, node, config));
            }
        }
    }

    /// Position `pos` of `pool`'s list now holds `node` (`None`: the list
    /// ended before it), after a node left the list.
    pub fn place(
        &mut self,
        pool: usize,
        pos: usize,
        node: Option<&Node>,
        rows: &[NodeFit],
        config: &SchedulerConfig,
    ) {
        for shape in self.shapes.iter_mut().flatten() {
            let pod = (&shape.filter, shape.requests);
            if let Some(Some(tree)) = shape.pools.get_mut(pool) {
                tree.set(
                    pos,
                    node.map_or(NONE, |n| leaf(pod, &rows[n.id.index()], n, config)),
                );
            }
        }
    }

    /// The trees of `q.shape`, built on first use (and rebuilt if the
    /// workload's filter changed).
    fn shape(&mut self, q: &Query<'_>) -> &ShapeIndex {
        let filter = PodFilter::of(crate::kube::WorkloadId(q.shape as u16), q.wl);
        let requests = q.wl.spec.requests;
        if self.shapes.len() <= q.shape {
            self.shapes.resize_with(q.shape + 1, || None);
        }
        let slot = &mut self.shapes[q.shape];
        if slot
            .as_ref()
            .is_none_or(|s| s.filter != filter || s.requests != requests)
        {
            let mut shape = ShapeIndex {
                filter,
                requests,
                pools: Vec::new(),
            };
            shape.pools = q
                .by_pool
                .iter()
                .enumerate()
                .map(|(p, list)| {
                    q.wl.fits_pool[p].then(|| {
                        let leaves: Vec<Agg> = list
                            .iter()
                            .map(|&id| {
                                leaf(
                                    (&shape.filter, shape.requests),
                                    &q.rows[id.index()],
                                    &q.nodes[id.index()],
                                    q.config,
                                )
                            })
                            .collect();
                        Tree::with_leaves(&leaves)
                    })
                })
                .collect();
            *slot = Some(shape);
        }
        slot.as_ref().expect("built above")
    }

    /// The walk of [`super::select_node`] over the ring of the eligible
    /// pools from `q.start`, answered from the trees.
    pub(super) fn decide<R: Rng>(&mut self, q: &Query<'_>, rng: &mut R) -> Decision {
        let mut ranges = std::mem::take(&mut self.ranges);
        ranges.clear();
        let shape = self.shape(q);
        let tree = |p: usize| shape.pools[p].as_ref().expect("an eligible pool");
        let count = |a: &Agg| a.count;
        let (mut found, mut processed) = (0, 0);
        'walk: for (lo, hi) in [(q.start, q.eligible), (0, q.start)] {
            let mut offset = 0;
            for (p, list) in q.by_pool.iter().enumerate() {
                if !q.wl.fits_pool[p] {
                    continue;
                }
                let (from, to) = (lo.max(offset), hi.min(offset + list.len()));
                offset += list.len();
                if from >= to {
                    continue;
                }
                let base = offset - list.len();
                let (a, b) = (from - base, to - base);
                let c = tree(p).range(a, b).count as usize;
                if found + c >= q.to_find {
                    let k = (q.to_find - found - 1) as u32;
                    let at = tree(p).find(a, b, k, count).expect("counted");
                    ranges.push((p, a, at + 1));
                    processed += at + 1 - a;
                    found = q.to_find;
                    break 'walk;
                }
                if c > 0 {
                    ranges.push((p, a, b));
                }
                found += c;
                processed += b - a;
            }
        }
        let mut d = Decision {
            processed,
            found,
            node: None,
            score: None,
        };
        let id = |p: usize, pos: usize| q.by_pool[p][pos];
        match found {
            0 => {}
            1 => {
                let (p, a, b) = ranges[0];
                d.node = tree(p).find(a, b, 0, count).map(|pos| id(p, pos));
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
                let best = |&(p, a, b): &(usize, usize, usize)| {
                    let agg = tree(p).range(a, b);
                    (agg.max + bonus(p), agg.at_max)
                };
                let max = ranges.iter().map(|r| best(r).0).fold(i32::MIN, i32::max);
                let at_max: u32 = ranges
                    .iter()
                    .map(best)
                    .filter(|&(m, _)| m == max)
                    .map(|(_, n)| n)
                    .sum();
                let mut pick = if at_max > 1 {
                    rng.random_range(0..at_max as usize) as u32
                } else {
                    0
                };
                for r in &ranges {
                    let (m, n) = best(r);
                    if m != max {
                        continue;
                    }
                    if pick < n {
                        let (p, a, b) = *r;
                        let resource = max - bonus(p);
                        let weight = |x: &Agg| if x.max == resource { x.at_max } else { 0 };
                        d.node = tree(p).find(a, b, pick, weight).map(|pos| id(p, pos));
                        break;
                    }
                    pick -= n;
                }
                d.score = Some(NodeScore::from(max) + if uniform { first } else { 0 });
            }
        }
        self.ranges = ranges;
        d
    }
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
    fn tree() -> Tree {
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
        Tree::with_leaves(&s.map(leaf_of))
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
        assert_eq!(t.cap, 16);
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
