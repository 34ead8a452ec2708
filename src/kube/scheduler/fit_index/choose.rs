//! A decision's choice among the feasible nodes of the window the index
//! found: the plain resource score, or with the spread score normalised
//! over the window ([`super::spread`]).

use rand::Rng;

use crate::kube::NodeId;

use super::super::topology::{Plan, SpreadScale, spread_normalized};
use super::spread::{self, Best};
use super::{Agg, Query, ShapeIndex, SpreadIndex};

/// Buffers of one decision, reused by every decision.
#[derive(Debug, Default)]
pub(super) struct Scratch {
    /// The slices of the window with feasible nodes: (pool, from, to),
    /// positions in the pool's list.
    pub ranges: Vec<(usize, usize, usize)>,
    /// The tree nodes covering the window: (range, tree node).
    covers: Vec<(usize, usize)>,
    /// Per zone, the fewest and most pods of the spread group on a found
    /// node.
    zone_pods: Vec<Option<(u16, u16)>>,
    /// Per covering node and zone, the best total.
    cells: Vec<Best>,
    /// Spread scores by zone and pod count; `bounds[z]` is zone `z`'s
    /// (fewest, most, first index).
    table: Vec<i32>,
    bounds: Vec<(u16, u16, usize)>,
    /// Per zone, whether the covering node being descended has a tie.
    with_ties: Vec<bool>,
}

/// Zones times pod counts above which spread scores are not tabulated.
const MAX_TABLE: usize = 1 << 12;

/// The best resource score (plus the pool's score where pools differ) in
/// the window, and the node drawn among those that have it.
pub(super) fn plain<R: Rng>(
    shape: &ShapeIndex,
    q: &Query<'_>,
    ranges: &[(usize, usize, usize)],
    bonus: &impl Fn(usize) -> i32,
    rng: &mut R,
) -> (Option<NodeId>, i32) {
    let tree = |p: usize| shape.pools[p].as_ref().expect("an eligible pool");
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
    let mut pick = spread::draw(at_max, rng);
    for r in ranges {
        let (m, n) = best(r);
        if m != max {
            continue;
        }
        if pick < n {
            let (p, a, b) = *r;
            let resource = max - bonus(p);
            let weight = |x: &Agg| if x.max == resource { x.at_max } else { 0 };
            return (
                tree(p)
                    .find(a, b, pick, weight)
                    .map(|pos| q.by_pool[p][pos]),
                max,
            );
        }
        pick -= n;
    }
    (None, max)
}

/// The best total (resource score, spread score normalised over the
/// window, pool score where pools differ) and the node drawn among those
/// that have it; `None`, before any draw, if the window's pod counts are
/// too spread out to tabulate their scores.
pub(super) fn spread<R: Rng>(
    s: &SpreadIndex,
    plan: &Plan,
    q: &Query<'_>,
    found: usize,
    bonus: &impl Fn(usize) -> i32,
    scratch: &mut Scratch,
    rng: &mut R,
) -> Option<(Option<NodeId>, i32)> {
    let trees = |p: usize| s.pools[p].as_ref().expect("an eligible pool");
    cover_window(s, scratch);
    let Scratch {
        ranges,
        covers,
        zone_pods,
        cells,
        table,
        bounds,
        with_ties,
    } = scratch;
    let scores = Tabulated::of(plan, s.host.is_some(), found, zone_pods, (table, bounds))?;
    let g = |z: usize, h: u16| scores.get(z, h);
    // Per covering node and zone, the best total; then the best of all.
    let width = zone_pods.len();
    cells.clear();
    let mut best = Best::NONE;
    for &(i, v) in covers.iter() {
        let p = ranges[i].0;
        for z in 0..width {
            let b = trees(p).best_at(z, v, &|h| g(z, h) + bonus(p));
            best.add(b.max, b.ties);
            cells.push(b);
        }
    }
    // The drawn tie, in walk order: covering nodes in order, then down
    // the one that holds it, across the zones with a tie there.
    let mut pick = spread::draw(best.ties, rng);
    for (&(i, v), row) in covers.iter().zip(cells.chunks(width.max(1))) {
        let w: u32 = row
            .iter()
            .filter(|b| b.max == best.max)
            .map(|b| b.ties)
            .sum();
        if pick >= w {
            pick -= w;
            continue;
        }
        let p = ranges[i].0;
        with_ties.clear();
        with_ties.extend(row.iter().map(|b| b.max == best.max));
        let gp = |z: usize, h: u16| g(z, h) + bonus(p);
        let pos = trees(p).descend(v, with_ties, best.max, &gp, pick);
        return Some((Some(q.by_pool[p][pos]), best.max));
    }
    Some((None, best.max))
}

/// The tree nodes covering the window (shared by every zone's tree) into
/// `scratch.covers`, and per zone the fewest and most pods of the group on
/// a found node into `scratch.zone_pods`: PreScore's domains and
/// NormalizeScore's bounds.
fn cover_window(s: &SpreadIndex, scratch: &mut Scratch) {
    let trees = |p: usize| s.pools[p].as_ref().expect("an eligible pool");
    let Scratch {
        ranges,
        covers,
        zone_pods,
        ..
    } = scratch;
    covers.clear();
    for (i, &(p, a, b)) in ranges.iter().enumerate() {
        trees(p).cover(a, b, |v| covers.push((i, v)));
    }
    zone_pods.clear();
    for &(i, v) in covers.iter() {
        let t = trees(ranges[i].0);
        if zone_pods.len() < t.zones() {
            zone_pods.resize(t.zones(), None);
        }
        for (z, acc) in zone_pods.iter_mut().enumerate().take(t.zones()) {
            if let Some((lo, hi)) = t.at(z, v).pods_range() {
                *acc = Some(acc.map_or((lo, hi), |(l, h)| (l.min(lo), h.max(hi))));
            }
        }
    }
}

/// The weighted, normalised spread score of every (zone, pod count) of
/// the window, computed once.
struct Tabulated<'a> {
    table: &'a [i32],
    /// Per zone: (fewest, most, index of the fewest's score).
    bounds: &'a [(u16, u16, usize)],
    scale: SpreadScale,
    host: bool,
    min: i64,
    max: i64,
}

impl<'a> Tabulated<'a> {
    /// The scores of the window whose found nodes hold `zone_pods` (per
    /// zone, the fewest and most pods of the group), `found` of them;
    /// `host`: whether a hostname constraint counts pods per node. `None`
    /// if there are too many to tabulate.
    fn of(
        plan: &Plan,
        host: bool,
        found: usize,
        zone_pods: &[Option<(u16, u16)>],
        (table, bounds): (&'a mut Vec<i32>, &'a mut Vec<(u16, u16, usize)>),
    ) -> Option<Tabulated<'a>> {
        let zones = zone_pods.iter().filter(|z| z.is_some()).count();
        let max_zone = zone_pods.iter().rposition(Option::is_some).unwrap_or(0);
        let mut t = Tabulated {
            table: &[],
            bounds: &[],
            scale: plan.spread_scale(found, zones, max_zone as u16),
            host,
            min: i64::MAX,
            max: i64::MIN,
        };
        let mut len = 0usize;
        for (z, pods) in zone_pods.iter().enumerate() {
            if let Some((lo, hi)) = *pods {
                t.min = t.min.min(t.raw(z, lo));
                t.max = t.max.max(t.raw(z, hi));
                len += usize::from(hi - lo) + 1;
            }
        }
        if len > MAX_TABLE {
            return None;
        }
        table.clear();
        bounds.clear();
        for (z, pods) in zone_pods.iter().enumerate() {
            let (lo, hi) = pods.unwrap_or((1, 0));
            bounds.push((lo, hi, table.len()));
            table.extend((lo..=hi).map(|h| t.score(z, h)));
        }
        t.table = table;
        t.bounds = bounds;
        Some(t)
    }

    fn raw(&self, z: usize, h: u16) -> i64 {
        let on_node = self.host.then_some(u32::from(h));
        self.scale.raw(z as u16, on_node.into_iter())
    }

    /// At most 200.
    fn score(&self, z: usize, h: u16) -> i32 {
        spread_normalized(self.raw(z, h), self.min, self.max) as i32
    }

    /// The score of a node of zone `z` with `h` pods of the group.
    #[inline]
    fn get(&self, z: usize, h: u16) -> i32 {
        match self.bounds.get(z) {
            Some(&(lo, hi, at)) if (lo..=hi).contains(&h) => self.table[at + usize::from(h - lo)],
            // Not a count of the window (no caller asks for one).
            _ => self.score(z, h),
        }
    }
}
