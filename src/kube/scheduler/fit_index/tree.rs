//! A segment tree over the positions of one pool's node list, generic over
//! what a range of positions keeps ([`Aggregate`]).

/// What a range of positions keeps: an empty value and an associative join
/// of two adjacent ranges (left, right).
pub(super) trait Aggregate: Copy + PartialEq {
    /// The range without a feasible node.
    const EMPTY: Self;
    /// The range made of `a` followed by `b`.
    fn join(a: Self, b: Self) -> Self;
}

/// Node 1 is the root, node `v` has children `2v` and `2v + 1`, leaves are
/// `cap..2 cap`.
#[derive(Debug, Clone)]
pub(super) struct Tree<A> {
    cap: usize,
    t: Vec<A>,
}

impl<A: Aggregate> Tree<A> {
    /// A tree of `leaves`, with room for at least `min_cap` positions.
    pub fn with_leaves(leaves: &[A], min_cap: usize) -> Tree<A> {
        let cap = leaves.len().max(min_cap).next_power_of_two().max(1);
        let mut t = vec![A::EMPTY; 2 * cap];
        t[cap..cap + leaves.len()].copy_from_slice(leaves);
        for v in (1..cap).rev() {
            t[v] = A::join(t[2 * v], t[2 * v + 1]);
        }
        Tree { cap, t }
    }

    /// Positions the tree has room for (a power of two).
    #[cfg(test)]
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Grows the tree to room for `cap` positions (a power of two).
    pub fn grow(&mut self, cap: usize) {
        if cap > self.cap {
            let leaves = self.t[self.cap..].to_vec();
            *self = Tree::with_leaves(&leaves, cap);
        }
    }

    /// Sets position `pos`, growing the tree if it has no room for it.
    pub fn set(&mut self, pos: usize, leaf: A) {
        if pos >= self.cap {
            self.grow((pos + 1).next_power_of_two());
        }
        let mut v = self.cap + pos;
        if self.t[v] == leaf {
            return;
        }
        self.t[v] = leaf;
        while v > 1 {
            v /= 2;
            let joined = A::join(self.t[2 * v], self.t[2 * v + 1]);
            // Above an unchanged aggregate nothing changes.
            if self.t[v] == joined {
                return;
            }
            self.t[v] = joined;
        }
    }

    /// Sets position `pos` without updating the ranges above it, growing
    /// the tree if it has no room for it: [`Tree::rebuild`] must follow.
    pub fn set_leaf(&mut self, pos: usize, leaf: A) {
        if pos >= self.cap {
            self.grow((pos + 1).next_power_of_two());
        }
        self.t[self.cap + pos] = leaf;
    }

    /// Recomputes every range from the leaves, after [`Tree::set_leaf`].
    pub fn rebuild(&mut self) {
        for v in (1..self.cap).rev() {
            self.t[v] = A::join(self.t[2 * v], self.t[2 * v + 1]);
        }
    }

    /// The aggregate of positions `[lo, hi)`.
    pub fn range(&self, lo: usize, hi: usize) -> A {
        let mut out = A::EMPTY;
        self.cover(lo, hi, |v| out = A::join(out, self.t[v]));
        out
    }

    /// Calls `f` with the tree nodes that exactly cover `[lo, hi)`, in
    /// position order.
    pub fn cover(&self, lo: usize, hi: usize, f: impl FnMut(usize)) {
        cover(self.cap, lo, hi, f);
    }

    /// The position of the `k`-th (from 0) leaf of `[lo, hi)` counted by
    /// `weight` (1 or 0 per leaf, summed by a range's aggregate), in
    /// position order; `None` if the range has `k` or fewer.
    pub fn find(&self, lo: usize, hi: usize, k: u32, weight: impl Fn(&A) -> u32) -> Option<usize> {
        let mut k = k;
        let mut found = None;
        self.cover(lo, hi, |v| {
            if found.is_some() {
                return;
            }
            let w = weight(&self.t[v]);
            if k >= w {
                k -= w;
                return;
            }
            // Wholly inside: descend to the leaf.
            let mut v = v;
            while v < self.cap {
                let left = weight(&self.t[2 * v]);
                if k < left {
                    v *= 2;
                } else {
                    k -= left;
                    v = 2 * v + 1;
                }
            }
            found = Some(v - self.cap);
        });
        found
    }
}

/// Calls `f` with the nodes of a tree with `cap` leaves (a power of two;
/// node 1 the root, leaves `cap..2 cap`) that exactly cover positions
/// `[lo, hi)`, in position order.
pub(super) fn cover(cap: usize, lo: usize, hi: usize, mut f: impl FnMut(usize)) {
    let (mut l, mut r) = (lo.min(cap) + cap, hi.min(cap) + cap);
    // Left nodes come in position order; right nodes in reverse.
    let mut right = [0usize; 64];
    let mut n_right = 0;
    while l < r {
        if l & 1 == 1 {
            f(l);
            l += 1;
        }
        if r & 1 == 1 {
            r -= 1;
            right[n_right] = r;
            n_right += 1;
        }
        l /= 2;
        r /= 2;
    }
    for &v in right[..n_right].iter().rev() {
        f(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sum, to test the tree's walks on their own.
    #[derive(Debug, Clone, Copy, PartialEq)]
    struct Sum(u32);

    impl Aggregate for Sum {
        const EMPTY: Sum = Sum(0);
        fn join(a: Sum, b: Sum) -> Sum {
            Sum(a.0 + b.0)
        }
    }

    #[test]
    fn cover_visits_the_range_in_position_order() {
        let t = Tree::with_leaves(&[Sum(1); 8], 0);
        let mut seen = Vec::new();
        t.cover(1, 7, |v| seen.push(v));
        // Leaves are 8..16: [1, 7) is leaf 9, node 5 (2, 3), node 3 (4..8)
        // minus leaf 15, so 9, 5, 6 (positions 4, 5), 14.
        assert_eq!(seen, [9, 5, 6, 14]);
        assert_eq!(t.range(1, 7), Sum(6));
        assert_eq!(t.range(3, 3), Sum(0));
    }

    #[test]
    fn find_and_grow() {
        let mut t = Tree::with_leaves(&[Sum(1), Sum(0), Sum(1), Sum(1)], 0);
        let w = |a: &Sum| a.0;
        assert_eq!(t.find(0, 4, 1, w), Some(2));
        assert_eq!(t.find(1, 4, 0, w), Some(2));
        assert_eq!(t.find(0, 4, 3, w), None);
        t.set(9, Sum(1));
        assert_eq!(t.cap(), 16);
        assert_eq!(t.find(0, 16, 3, w), Some(9));
        t.grow(8);
        assert_eq!(t.cap(), 16);
    }
}
