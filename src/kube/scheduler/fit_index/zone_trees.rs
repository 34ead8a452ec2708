//! One pool's spread trees: per zone, the ranges of a segment tree over
//! the positions of the pool's node list ([`ZoneAgg`]), with the leaves
//! kept once for every zone (a node is in one zone), which halves the
//! memory of a tree per zone.

use super::spread::{Best, ZoneAgg};
use super::tree::{Aggregate, cover};

/// A position's node as the spread trees see it: its zone, its pods of the
/// spread group and its resource score; [`Leaf::NONE`] where no node or
/// one that does not admit the pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Leaf {
    zone: u16,
    h: u16,
    r: u16,
}

impl Leaf {
    /// No feasible node.
    pub const NONE: Leaf = Leaf {
        zone: u16::MAX,
        h: 0,
        r: 0,
    };

    /// A feasible node of zone `zone` with `h` pods of the group and
    /// resource score `r`; `None` for a zone number kept for [`Leaf::NONE`].
    pub fn new(zone: u16, h: u16, r: u16) -> Option<Leaf> {
        (zone != u16::MAX).then_some(Leaf { zone, h, r })
    }

    fn zone(self) -> Option<usize> {
        (self.zone != u16::MAX).then_some(usize::from(self.zone))
    }
}

/// Per zone, tree nodes `1..cap` (node 1 the root, node `v`'s children
/// `2v` and `2v + 1`); node `cap + pos` is position `pos`'s leaf, read
/// from `leaves`.
#[derive(Debug, Clone)]
pub(super) struct ZoneTrees {
    cap: usize,
    leaves: Vec<Leaf>,
    inner: Vec<Vec<ZoneAgg>>,
}

impl ZoneTrees {
    /// The trees of a list of `len` positions with `leaves` (position,
    /// leaf) of the feasible nodes.
    pub fn of(len: usize, leaves: impl Iterator<Item = (usize, Leaf)>) -> ZoneTrees {
        let cap = len.next_power_of_two().max(1);
        let mut t = ZoneTrees {
            cap,
            leaves: vec![Leaf::NONE; cap],
            inner: Vec::new(),
        };
        for (pos, leaf) in leaves {
            t.leaves[pos] = leaf;
            if let Some(z) = leaf.zone()
                && t.inner.len() <= z
            {
                t.inner.resize_with(z + 1, Vec::new);
            }
        }
        t.rebuild();
        t
    }

    /// Zone `z`'s aggregate at tree node `v`.
    #[inline]
    pub fn at(&self, z: usize, v: usize) -> ZoneAgg {
        if v >= self.cap {
            let l = self.leaves[v - self.cap];
            return match l.zone() == Some(z) {
                true => ZoneAgg::leaf(l.h, l.r),
                false => ZoneAgg::EMPTY,
            };
        }
        self.inner.get(z).map_or(ZoneAgg::EMPTY, |t| t[v])
    }

    /// Sets position `pos` (growing the trees if they have no room for
    /// it), updating the ranges above it in the zones it leaves and enters
    /// if `climb`, else leaving that to [`ZoneTrees::rebuild`].
    pub fn set(&mut self, pos: usize, leaf: Leaf, climb: bool) {
        if pos >= self.cap {
            self.grow((pos + 1).next_power_of_two());
        }
        let old = self.leaves[pos];
        if old == leaf {
            return;
        }
        self.leaves[pos] = leaf;
        if let Some(z) = leaf.zone()
            && self.inner.len() <= z
        {
            // A new zone: no range of its tree held a node before.
            let cap = self.cap;
            self.inner.resize_with(z + 1, || vec![ZoneAgg::EMPTY; cap]);
        }
        if climb {
            for z in [old.zone(), leaf.zone()].into_iter().flatten() {
                self.climb(z, pos);
            }
        }
    }

    /// Recomputes zone `z`'s ranges above position `pos`.
    fn climb(&mut self, z: usize, pos: usize) {
        let mut v = self.cap + pos;
        while v > 1 {
            v /= 2;
            let joined = ZoneAgg::join(self.at(z, 2 * v), self.at(z, 2 * v + 1));
            // Above an unchanged range nothing changes.
            if self.inner[z][v] == joined {
                return;
            }
            self.inner[z][v] = joined;
        }
    }

    /// Recomputes every range from the leaves.
    pub fn rebuild(&mut self) {
        for z in 0..self.inner.len() {
            let mut t = std::mem::take(&mut self.inner[z]);
            t.clear();
            t.resize(self.cap, ZoneAgg::EMPTY);
            self.inner[z] = t;
            for v in (1..self.cap).rev() {
                self.inner[z][v] = ZoneAgg::join(self.at(z, 2 * v), self.at(z, 2 * v + 1));
            }
        }
    }

    /// Room for `cap` positions (a power of two).
    fn grow(&mut self, cap: usize) {
        if cap > self.cap {
            self.cap = cap;
            self.leaves.resize(cap, Leaf::NONE);
            self.rebuild();
        }
    }

    /// Zones with a tree.
    pub fn zones(&self) -> usize {
        self.inner.len()
    }

    /// Calls `f` with the tree nodes that exactly cover positions
    /// `[lo, hi)`, in position order.
    pub fn cover(&self, lo: usize, hi: usize, f: impl FnMut(usize)) {
        cover(self.cap, lo, hi, f);
    }

    /// The best total below tree node `v` of zone `z`'s tree, each node's
    /// total `r + g(h)`, and how many nodes have it.
    pub fn best_at(&self, z: usize, v: usize, g: &impl Fn(u16) -> i32) -> Best {
        let mut best = Best::NONE;
        if z < self.inner.len() {
            self.best_below(z, v, g, &mut best);
        }
        best
    }

    /// The position of the `k`-th (from 0) node below tree node `v` whose
    /// total is `target`, in position order across the zones where
    /// `with_ties[z]`; `target` is the best total there (no node scores
    /// above it), and there are more than `k` such nodes.
    pub fn descend(
        &self,
        v: usize,
        with_ties: &[bool],
        target: i32,
        g: &impl Fn(usize, u16) -> i32,
        mut k: u32,
    ) -> usize {
        let ties = |v: usize| -> u32 {
            (0..self.inner.len())
                .filter(|&z| with_ties.get(z).copied().unwrap_or(false))
                .map(|z| self.ties_below(z, v, &|h| g(z, h), target))
                .sum()
        };
        let mut v = v;
        while v < self.cap {
            let left = ties(2 * v);
            if k < left {
                v *= 2;
            } else {
                k -= left;
                v = 2 * v + 1;
            }
        }
        v - self.cap
    }

    /// Adds tree node `v`'s best total to `best`, descending where the
    /// aggregate does not tell and its bound reaches `best`.
    fn best_below(&self, z: usize, v: usize, g: &impl Fn(u16) -> i32, best: &mut Best) {
        let a = self.at(z, v);
        if a.is_empty() {
            return;
        }
        match a.exact(g) {
            Some(b) => best.add(b.max, b.ties),
            None if a.upper(g) < best.max => {}
            None => {
                self.best_below(z, 2 * v, g, best);
                self.best_below(z, 2 * v + 1, g, best);
            }
        }
    }

    /// How many nodes below tree node `v` total `target`, where none
    /// totals more.
    fn ties_below(&self, z: usize, v: usize, g: &impl Fn(u16) -> i32, target: i32) -> u32 {
        let a = self.at(z, v);
        if a.is_empty() {
            return 0;
        }
        match a.exact(g) {
            Some(b) if b.max == target => b.ties,
            Some(_) => 0,
            None if a.upper(g) < target => 0,
            None => self.ties_below(z, 2 * v, g, target) + self.ties_below(z, 2 * v + 1, g, target),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The best total over `[lo, hi)` and the position of its `k`-th
    /// node, as a decision finds them.
    fn best_and_find(
        trees: &ZoneTrees,
        (lo, hi): (usize, usize),
        g: &impl Fn(usize, u16) -> i32,
        k: u32,
    ) -> (Best, Option<usize>) {
        let mut covers = Vec::new();
        trees.cover(lo, hi, |v| covers.push(v));
        let zones = trees.zones();
        let cells: Vec<Vec<Best>> = covers
            .iter()
            .map(|&v| {
                (0..zones)
                    .map(|z| trees.best_at(z, v, &|h| g(z, h)))
                    .collect()
            })
            .collect();
        let mut best = Best::NONE;
        cells.iter().flatten().for_each(|b| best.add(b.max, b.ties));
        let mut k = k;
        for (&v, row) in covers.iter().zip(&cells) {
            let with: Vec<bool> = row.iter().map(|b| b.max == best.max).collect();
            let w: u32 = row
                .iter()
                .filter(|b| b.max == best.max)
                .map(|b| b.ties)
                .sum();
            if k < w {
                return (best, Some(trees.descend(v, &with, best.max, g, k)));
            }
            k -= w;
        }
        (best, None)
    }

    /// Positions 0..6 in zones 0, 1, 0, 1, 0, 1 with (pods, score)
    /// (0, 50), (2, 80), (1, 70), (0, 50), (0, 60), (3, 90); g = -15 h in
    /// zone 0 and -5 h in zone 1: totals 50, 70, 55, 50, 60, 75. Best 75
    /// at 5; over [0, 5) 70 at 1. With g = -40 h in both: 50, 0, 30, 50,
    /// 60, -30: over [0, 4) 50 twice, at 0 and 3, found in position order
    /// across the zones.
    #[test]
    fn best_and_find_across_zones() {
        let nodes = [(0, 50), (2, 80), (1, 70), (0, 50), (0, 60), (3, 90)];
        let trees = ZoneTrees::of(
            6,
            nodes
                .iter()
                .enumerate()
                .map(|(p, &(h, r))| (p, Leaf::new((p % 2) as u16, h, r).unwrap())),
        );
        let g = |z: usize, h: u16| -(if z == 0 { 15 } else { 5 }) * i32::from(h);
        let top = |max| Best { max, ties: 1 };
        assert_eq!(best_and_find(&trees, (0, 6), &g, 0), (top(75), Some(5)));
        assert_eq!(best_and_find(&trees, (0, 5), &g, 0), (top(70), Some(1)));
        let low = |_: usize, h: u16| -40 * i32::from(h);
        assert_eq!(best_and_find(&trees, (0, 6), &low, 0), (top(60), Some(4)));
        let fifty = Best { max: 50, ties: 2 };
        assert_eq!(best_and_find(&trees, (0, 4), &low, 0), (fifty, Some(0)));
        assert_eq!(best_and_find(&trees, (0, 4), &low, 1), (fifty, Some(3)));
        assert_eq!(best_and_find(&trees, (0, 4), &low, 2), (fifty, None));
    }

    /// A node moving between zones leaves one tree and enters the other;
    /// a position past the room grows every tree.
    #[test]
    fn setting_moves_a_node_between_zones_and_grows() {
        let mut trees = ZoneTrees::of(2, [(0, Leaf::new(0, 1, 50).unwrap())].into_iter());
        assert_eq!(trees.at(0, 1).pods_range(), Some((1, 1)));
        trees.set(0, Leaf::new(2, 4, 60).unwrap(), true);
        assert!(trees.at(0, 1).is_empty());
        assert_eq!(trees.zones(), 3);
        assert_eq!(trees.at(2, 1).pods_range(), Some((4, 4)));
        trees.set(5, Leaf::new(2, 7, 10).unwrap(), true);
        assert_eq!(trees.cap, 8);
        assert_eq!(trees.at(2, 1).pods_range(), Some((4, 7)));
        trees.set(0, Leaf::NONE, true);
        assert_eq!(trees.at(2, 1).pods_range(), Some((7, 7)));
    }
}
