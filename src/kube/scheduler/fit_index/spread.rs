//! The index of a workload scored by PodTopologySpread's ScheduleAnyway
//! constraints (the system default spreading included): per pool and zone,
//! a tree whose ranges keep, for the two fewest counts of the spread
//! group's pods on a node, the best resource score and how many nodes have
//! it, and bounds for the nodes with more.
//!
//! A feasible node's total is its resource score plus the normalised
//! spread score, which depends on its zone `z` and the group's pods on it
//! `h` (`g(z, h)`, never higher for more pods), normalised over the
//! minimum and maximum raw scores of the nodes the walk found. Each range
//! keeps, per zone, the two smallest values of `h` among its feasible
//! nodes exactly (the best resource score at each and how many nodes have
//! it) and the rest as bounds (fewest and most pods, best resource score).
//! Where `g` is the same over the rest's pods, as it is in any large
//! cluster (a pod more on one node moves the raw score by `ln(found + 2)`
//! against a maximum in the tens of thousands), a range's best total and
//! its ties are exact without descending; elsewhere the descent goes on
//! while a range's bound can reach the best. The answer is the walk's,
//! node for node and draw for draw.

use rand::Rng;

use super::tree::Aggregate;

/// The nodes of one range with `h` pods of the group: the best resource
/// score among them and how many have it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Entry {
    h: u16,
    r: u16,
    n: u32,
}

impl Entry {
    /// The better of two sets of nodes by resource score, counting ties.
    fn best(a: Entry, b: Entry) -> (u16, u32) {
        match (a.n, b.n) {
            (0, _) => (b.r, b.n),
            (_, 0) => (a.r, a.n),
            _ if a.r == b.r => (a.r, a.n + b.n),
            _ if a.r > b.r => (a.r, a.n),
            _ => (b.r, b.n),
        }
    }
}

/// A range of one zone's feasible nodes: `front[..len]` for the two
/// smallest pod counts (every node with that count), `rest` for the nodes
/// with more (`rest.h` the fewest, `rest_hi` the most; `rest.n = 0`:
/// none). Unused fields are zero, so that equal ranges compare equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct ZoneAgg {
    front: [Entry; 2],
    len: u8,
    rest: Entry,
    rest_hi: u16,
}

impl Aggregate for ZoneAgg {
    const EMPTY: ZoneAgg = ZoneAgg {
        front: [Entry { h: 0, r: 0, n: 0 }; 2],
        len: 0,
        rest: Entry { h: 0, r: 0, n: 0 },
        rest_hi: 0,
    };

    fn join(a: ZoneAgg, b: ZoneAgg) -> ZoneAgg {
        // Most ranges of a zone's tree hold nodes of one side only.
        if b.len == 0 {
            return a;
        }
        if a.len == 0 {
            return b;
        }
        // Merge the fronts by pod count (at most four entries).
        let mut merged = [Entry::default(); 4];
        let mut k = 0;
        let (fa, fb) = (&a.front[..a.len as usize], &b.front[..b.len as usize]);
        let (mut i, mut j) = (0, 0);
        while i < fa.len() || j < fb.len() {
            let e = match (fa.get(i), fb.get(j)) {
                (Some(x), Some(y)) if x.h == y.h => {
                    i += 1;
                    j += 1;
                    let (r, n) = Entry::best(*x, *y);
                    Entry { h: x.h, r, n }
                }
                (Some(x), Some(y)) if x.h < y.h => {
                    i += 1;
                    *x
                }
                (Some(x), None) => {
                    i += 1;
                    *x
                }
                (_, Some(y)) => {
                    j += 1;
                    *y
                }
                (None, None) => unreachable!("loop condition"),
            };
            merged[k] = e;
            k += 1;
        }
        let mut out = ZoneAgg::EMPTY;
        let keep = k.min(2);
        out.front[..keep].copy_from_slice(&merged[..keep]);
        out.len = keep as u8;
        // The rest: the spilled entries and both rests, whose counts all
        // exceed the new front's (each side's rest exceeds its own front,
        // whose counts are candidates for the new one).
        let mut rest = Entry::default();
        let mut hi = 0;
        let spilled = merged[keep..k].iter().copied();
        let rests = [(a.rest, a.rest_hi), (b.rest, b.rest_hi)]
            .into_iter()
            .filter(|(e, _)| e.n > 0);
        for (e, top) in spilled.map(|e| (e, e.h)).chain(rests) {
            let lo = if rest.n == 0 { e.h } else { rest.h.min(e.h) };
            let (r, n) = Entry::best(rest, e);
            rest = Entry { h: lo, r, n };
            hi = hi.max(top);
        }
        out.rest = rest;
        out.rest_hi = if rest.n > 0 { hi } else { 0 };
        out
    }
}

impl ZoneAgg {
    /// A feasible node with `h` pods of the group and resource score `r`.
    pub fn leaf(h: u16, r: u16) -> ZoneAgg {
        let mut a = ZoneAgg::EMPTY;
        a.front[0] = Entry { h, r, n: 1 };
        a.len = 1;
        a
    }

    /// Whether the range has a feasible node.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The fewest and the most pods of the group on one of its nodes.
    pub fn pods_range(&self) -> Option<(u16, u16)> {
        (!self.is_empty()).then(|| {
            let hi = if self.rest.n > 0 {
                self.rest_hi
            } else {
                self.front[self.len as usize - 1].h
            };
            (self.front[0].h, hi)
        })
    }

    fn entries(&self) -> &[Entry] {
        &self.front[..self.len as usize]
    }

    /// No node of the range scores above this.
    pub fn upper(&self, g: &impl Fn(u16) -> i32) -> i32 {
        let mut m = i32::MIN;
        for e in self.entries() {
            m = m.max(i32::from(e.r) + g(e.h));
        }
        if self.rest.n > 0 {
            m = m.max(i32::from(self.rest.r) + g(self.rest.h));
        }
        m
    }

    /// The best total and how many nodes have it, if the aggregate alone
    /// tells (the rest's nodes all have the same spread score).
    pub fn exact(&self, g: &impl Fn(u16) -> i32) -> Option<Best> {
        let mut b = Best::NONE;
        for e in self.entries() {
            b.add(i32::from(e.r) + g(e.h), e.n);
        }
        if self.rest.n > 0 {
            let lo = g(self.rest.h);
            if lo != g(self.rest_hi) {
                return None;
            }
            b.add(i32::from(self.rest.r) + lo, self.rest.n);
        }
        Some(b)
    }
}

/// A best total and how many nodes have it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Best {
    pub max: i32,
    pub ties: u32,
}

impl Best {
    pub const NONE: Best = Best {
        max: i32::MIN,
        ties: 0,
    };

    pub fn add(&mut self, m: i32, n: u32) {
        if n == 0 || m < self.max {
            return;
        }
        if m > self.max {
            *self = Best { max: m, ties: n };
        } else {
            self.ties += n;
        }
    }
}

/// Draws one of `ties` tied maxima, as the walk does (one draw among two
/// or more).
pub(super) fn draw<R: Rng>(ties: u32, rng: &mut R) -> u32 {
    if ties > 1 {
        rng.random_range(0..ties as usize) as u32
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn join_all(leaves: &[(u16, u16)]) -> ZoneAgg {
        leaves
            .iter()
            .map(|&(h, r)| ZoneAgg::leaf(h, r))
            .fold(ZoneAgg::EMPTY, ZoneAgg::join)
    }

    /// Five nodes with (pods, resource score) (3, 50), (1, 40), (1, 60),
    /// (5, 90), (3, 70): the two smallest counts 1 (best 60, once) and 3
    /// (best 70, once) exactly; the rest 5..5 with 90.
    #[test]
    fn a_range_keeps_the_two_fewest_counts_and_bounds_the_rest() {
        let a = join_all(&[(3, 50), (1, 40), (1, 60), (5, 90), (3, 70)]);
        assert_eq!(
            a.entries(),
            [Entry { h: 1, r: 60, n: 1 }, Entry { h: 3, r: 70, n: 1 }]
        );
        assert_eq!(a.rest, Entry { h: 5, r: 90, n: 1 });
        assert_eq!(a.pods_range(), Some((1, 5)));
        // The same nodes joined in another order and grouping agree.
        let b = ZoneAgg::join(
            join_all(&[(5, 90), (3, 70)]),
            join_all(&[(3, 50), (1, 40), (1, 60)]),
        );
        assert_eq!(a, b);
    }

    /// Four nodes (pods, score) (1, 60), (3, 70), (5, 90), (7, 95): the
    /// rest is 5..7 with best 95. With g(h) = -10 h its nodes score
    /// differently, so the aggregate does not tell; the bound is the best
    /// of 60 - 10, 70 - 30 and 95 - 50: 50. With a flat g: 95, once.
    #[test]
    fn exact_only_where_the_rest_scores_alike() {
        let a = join_all(&[(1, 60), (3, 70), (5, 90), (7, 95)]);
        assert_eq!(a.rest, Entry { h: 5, r: 95, n: 1 });
        assert_eq!(a.exact(&|h| -10 * i32::from(h)), None);
        assert_eq!(a.upper(&|h| -10 * i32::from(h)), 50);
        assert_eq!(a.exact(&|_| 0), Some(Best { max: 95, ties: 1 }));
    }
}
