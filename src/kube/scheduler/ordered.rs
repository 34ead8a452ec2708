//! The ordered lists behind activeQ and backoffQ: entries kept sorted by
//! a packed key, popped from the front.
//!
//! A binary heap pops in O(log n) with a comparison and a move of its
//! entry per level. Here a pop reads the front and moves a cursor; a
//! push goes to the end when it is the last in order (a new pod, whose
//! timestamp and sequence number are the latest) or is inserted after a
//! binary search; a cluster event that moves many pods appends them all
//! and sorts once (the sort finds the list already in order and merges
//! the new run into it). The order is the heaps' order exactly: the key
//! packs the same fields, most significant first, and the sequence
//! number makes every key distinct.

use crate::engine::Millis;
use crate::kube::PodId;

/// Bits kept of a timestamp and of the sequence number: a timestamp is
/// at most `MAX_DURATION` plus a backoff (below 2^43 ms), and 2^48
/// pushes are more than any run makes.
const FIELD_BITS: u32 = 48;
const FIELD_MASK: u128 = (1 << FIELD_BITS) - 1;

/// One queue entry: its key `(major, minor)`, then the pod and the
/// pod's queue generation when it was pushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Entry {
    /// backoffQ: the backoff expiry; activeQ: 0.
    major: u64,
    /// Higher priority first, then the older timestamp, then the
    /// sequence number (insertion order).
    minor: u128,
    /// The pod.
    pub id: PodId,
    /// Its `queue_gen` at the push: a different one now makes the entry
    /// stale.
    pub generation: u32,
}

impl Entry {
    /// An entry ordered by `(major, Reverse(priority), ts, seq)`.
    pub fn new(
        major: Millis,
        priority: i32,
        ts: Millis,
        seq: u64,
        id: PodId,
        generation: u32,
    ) -> Entry {
        debug_assert!(u128::from(ts.0) <= FIELD_MASK && u128::from(seq) <= FIELD_MASK);
        // Order-preserving from i32 to u32, then reversed.
        let rank = !((priority as u32) ^ 0x8000_0000);
        let minor = (u128::from(rank) << (2 * FIELD_BITS))
            | ((u128::from(ts.0) & FIELD_MASK) << FIELD_BITS)
            | (u128::from(seq) & FIELD_MASK);
        Entry {
            major: major.0,
            minor,
            id,
            generation,
        }
    }

    /// The `major` part of the key (a backoffQ entry's expiry).
    pub fn major(&self) -> Millis {
        Millis(self.major)
    }
}

/// Entries in ascending order from `head` on.
#[derive(Debug, Default)]
pub(super) struct Ordered {
    items: Vec<Entry>,
    /// Entries before it were popped.
    head: usize,
    /// Entries from here on were appended by [`Ordered::append`] and are
    /// not yet sorted in.
    sorted: usize,
}

impl Ordered {
    /// Whether no entry (live or stale) is left.
    pub fn is_empty(&self) -> bool {
        self.head == self.items.len()
    }

    /// The first entry.
    pub fn peek(&self) -> Option<&Entry> {
        debug_assert_eq!(self.sorted, self.items.len());
        self.items.get(self.head)
    }

    /// Removes and returns the first entry.
    pub fn pop(&mut self) -> Option<Entry> {
        let e = *self.peek()?;
        self.advance(1);
        Some(e)
    }

    /// The entries not yet popped, in order.
    pub fn pending(&self) -> &[Entry] {
        debug_assert_eq!(self.sorted, self.items.len());
        &self.items[self.head..]
    }

    /// Removes the first `n` entries (at most [`Ordered::pending`]'s
    /// length), as `n` pops would.
    pub fn advance(&mut self, n: usize) {
        debug_assert!(self.head + n <= self.items.len());
        self.head += n;
        if self.head == self.items.len() {
            self.items.clear();
            self.head = 0;
        } else if self.head >= 64 && 2 * self.head >= self.items.len() {
            // Popped entries are dropped once they are half of the list.
            self.items.drain(..self.head);
            self.head = 0;
        }
        self.sorted = self.items.len();
    }

    /// Adds an entry in its place.
    pub fn push(&mut self, e: Entry) {
        debug_assert_eq!(self.sorted, self.items.len());
        match self.items.last() {
            Some(last) if *last > e => {
                let at = self.head + self.items[self.head..].partition_point(|x| *x < e);
                self.items.insert(at, e);
            }
            _ => self.items.push(e),
        }
        self.sorted = self.items.len();
    }

    /// Adds an entry at the end, out of order until [`Ordered::settle`].
    pub fn append(&mut self, e: Entry) {
        self.items.push(e);
    }

    /// Sorts appended entries in.
    pub fn settle(&mut self) {
        if self.sorted < self.items.len() {
            // A stable sort finds the sorted part as one run and merges
            // the appended entries into it.
            self.items[self.head..].sort();
            self.sorted = self.items.len();
        }
    }

    /// The entries, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.items[self.head..].iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    use proptest::prelude::*;

    #[test]
    fn keys_order_as_the_tuples() {
        let e = |major, priority, ts, seq| {
            Entry::new(Millis(major), priority, Millis(ts), seq, PodId(0), 0)
        };
        // Expiry first, then higher priority, then older, then first in.
        assert!(e(1, i32::MIN, 9, 9) < e(2, i32::MAX, 0, 0));
        assert!(e(1, 5, 9, 9) < e(1, 4, 0, 0));
        assert!(e(1, -1, 9, 9) < e(1, -2, 0, 0));
        assert!(e(1, 0, 3, 9) < e(1, 0, 4, 0));
        assert!(e(1, 0, 3, 1) < e(1, 0, 3, 2));
    }

    proptest! {
        /// Against a binary heap of the tuples the queue used before: any
        /// interleaving of pushes, appended batches and pops gives the
        /// same sequence.
        #[test]
        fn pops_as_a_heap_of_tuples(ops in prop::collection::vec(
            (0u8..3, 0u64..50, -3i32..3, 0u64..50, 1usize..5), 1..300)) {
            let mut q = Ordered::default();
            let mut reference = BinaryHeap::new();
            let mut seq = 0u64;
            for (kind, major, priority, ts, n) in ops {
                if kind == 0 {
                    let got = q.pop().map(|e| e.id);
                    let want = reference.pop().map(|Reverse((_, _, _, _, id))| id);
                    prop_assert_eq!(got, want);
                } else {
                    for k in 0..n {
                        seq += 1;
                        let (m, t) = (major + k as u64 % 2, ts + k as u64);
                        let id = PodId(seq as u32);
                        let e = Entry::new(Millis(m), priority, Millis(t), seq, id, 0);
                        if kind == 1 { q.push(e) } else { q.append(e) }
                        reference.push(Reverse((m, Reverse(priority), t, seq, id)));
                    }
                    q.settle();
                }
                prop_assert_eq!(q.iter().count(), reference.len());
                prop_assert_eq!(q.is_empty(), reference.is_empty());
            }
        }
    }
}
