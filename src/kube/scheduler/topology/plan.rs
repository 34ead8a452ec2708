//! One decision's view of the placement rules: what PreFilter and PreScore
//! compute once per pod (domain counts and minimums), then the Filter of
//! each node and the normalised scores of the feasible nodes, with
//! kube-scheduler's formulas (`plugins/podtopologyspread/filtering.go`,
//! `scoring.go`; `plugins/interpodaffinity/filtering.go`, `scoring.go`).

use crate::kube::topology::TopologyKey;
use crate::kube::{Node, Workload};

use super::super::Plugins;
use super::counts::{Counts, GroupId};
use super::rules::{Rules, Spread};

/// `MaxNodeScore`.
const MAX_NODE_SCORE: i64 = 100;

/// A DoNotSchedule constraint, ready to filter.
#[derive(Debug)]
struct HardSpread {
    rule: Spread,
    /// Zone key: pods per zone over the nodes it counts.
    per_zone: Vec<i64>,
    /// `minMatchNum`: the global minimum, or 0 with too few domains.
    min: i64,
}

/// A term counted per zone over every registered node.
#[derive(Debug)]
struct Counted {
    group: GroupId,
    key: TopologyKey,
    weight: i64,
    per_zone: Vec<i64>,
}

impl Counted {
    fn of(counts: &Counts, group: GroupId, key: TopologyKey, weight: i64, pools: usize) -> Counted {
        let mut per_zone = Vec::new();
        if key == TopologyKey::Zone {
            for p in 0..pools {
                add_zones(&mut per_zone, counts.in_zones(group, p));
            }
        }
        Counted {
            group,
            key,
            weight,
            per_zone,
        }
    }

    /// Pods of the group in the domain of node `node`.
    #[inline]
    fn at(&self, counts: &Counts, node: usize) -> i64 {
        match self.key {
            TopologyKey::Hostname => i64::from(counts.on_node(self.group, node)),
            TopologyKey::Zone => self
                .per_zone
                .get(usize::from(counts.zone_of(node)))
                .copied()
                .unwrap_or(0),
        }
    }
}

/// One decision's rules, counted.
#[derive(Debug)]
pub struct Plan {
    hard: Vec<HardSpread>,
    soft: Vec<Counted>,
    /// (max_skew - 1) of each soft constraint, in `soft`'s order.
    soft_skew: Vec<i64>,
    affinity: Vec<Counted>,
    /// Required affinity is met anywhere: no pod matches every term, and
    /// the pod matches them itself.
    affinity_free: bool,
    anti: Vec<Counted>,
    terms: Vec<Counted>,
}

fn add_zones(acc: &mut Vec<i64>, zones: &[u32]) {
    if acc.len() < zones.len() {
        acc.resize(zones.len(), 0);
    }
    for (a, &z) in acc.iter_mut().zip(zones) {
        *a += i64::from(z);
    }
}

fn zone_value(per_zone: &[i64], node: &Node) -> i64 {
    per_zone
        .get(usize::from(node.spec.zone))
        .copied()
        .unwrap_or(0)
}

/// Whether constraint `c` counts the nodes of pool `p` (its node
/// inclusion policies).
fn includes(c: &Spread, wl: &Workload, p: usize) -> bool {
    let v = wl.pool_verdict[p];
    (!c.honor_affinity || v.labels_match)
        && (!c.honor_taints || !(v.untolerated_no_schedule || v.untolerated_no_execute))
}

impl Plan {
    /// PreFilter and PreScore for a pod of `wl` with `rules`.
    pub fn new(rules: &Rules, wl: &Workload, counts: &Counts) -> Plan {
        let pools = wl.pool_verdict.len();
        let hard = rules
            .hard_spread
            .iter()
            .map(|&c| hard_spread(c, wl, counts))
            .collect();
        let mut soft = Vec::new();
        let mut soft_skew = Vec::new();
        for c in &rules.soft_spread {
            let mut per_zone = Vec::new();
            if c.key == TopologyKey::Zone {
                for p in (0..pools).filter(|&p| includes(c, wl, p)) {
                    add_zones(&mut per_zone, counts.in_zones(c.group, p));
                }
            }
            soft.push(Counted {
                group: c.group,
                key: c.key,
                weight: 0,
                per_zone,
            });
            soft_skew.push(c.max_skew - 1);
        }
        let counted = |t: &super::rules::Term| Counted::of(counts, t.group, t.key, t.weight, pools);
        let (affinity, affinity_free) = match &rules.affinity {
            Some(a) => (
                a.keys
                    .iter()
                    .map(|&k| Counted::of(counts, a.group, k, 0, pools))
                    .collect(),
                counts.total(a.group) == 0 && a.self_match,
            ),
            None => (Vec::new(), false),
        };
        Plan {
            hard,
            soft,
            soft_skew,
            affinity,
            affinity_free,
            anti: rules
                .anti
                .iter()
                .chain(&rules.existing_anti)
                .map(counted)
                .collect(),
            terms: rules.score_terms.iter().map(counted).collect(),
        }
    }

    /// The filter plugin that rejects `node`, if one does:
    /// PodTopologySpread before InterPodAffinity, as in the default
    /// profile.
    pub fn rejects(&self, counts: &Counts, node: &Node) -> Option<Plugins> {
        for h in &self.hard {
            let here = match h.rule.key {
                TopologyKey::Hostname => i64::from(counts.on_node(h.rule.group, node.id.index())),
                TopologyKey::Zone => zone_value(&h.per_zone, node),
            };
            // 'existing matching num' + 'self-match' - 'global minimum'.
            if here + i64::from(h.rule.self_match) - h.min > h.rule.max_skew {
                return Some(Plugins::POD_TOPOLOGY_SPREAD);
            }
        }
        // Existing pods' anti-affinity, then the pod's own.
        if self.anti.iter().any(|t| t.at(counts, node.id.index()) > 0) {
            return Some(Plugins::INTER_POD_AFFINITY);
        }
        if !self.affinity.is_empty()
            && !self.affinity_free
            && self
                .affinity
                .iter()
                .any(|t| t.at(counts, node.id.index()) == 0)
        {
            return Some(Plugins::INTER_POD_AFFINITY);
        }
        None
    }

    /// Whether [`Plan::rejects`] can reject a node.
    pub fn filters(&self) -> bool {
        !self.hard.is_empty() || !self.anti.is_empty() || !self.affinity.is_empty()
    }

    /// Whether [`Plan::score`] changes anything.
    pub fn scores(&self) -> bool {
        !self.soft.is_empty() || !self.terms.is_empty()
    }

    /// PodTopologySpread and InterPodAffinity scores of the feasible
    /// `nodes`, normalised over them and weighted (2 each), written to
    /// `out` (cleared first), in `nodes`' order. `scratch` is a buffer.
    pub fn score(
        &self,
        counts: &Counts,
        nodes: impl ExactSizeIterator<Item = usize> + Clone,
        out: &mut Vec<i64>,
        scratch: &mut Vec<i64>,
    ) {
        out.clear();
        out.resize(nodes.len(), 0);
        if !self.soft.is_empty() {
            self.spread_raw(counts, nodes.clone(), scratch);
            let (min, max) = min_max(scratch);
            for (o, &s) in out.iter_mut().zip(scratch.iter()) {
                *o += spread_normalized(s, min, max);
            }
        }
        if !self.terms.is_empty() {
            scratch.clear();
            scratch.extend(nodes.map(|n| {
                self.terms
                    .iter()
                    .map(|t| t.weight * t.at(counts, n))
                    .sum::<i64>()
            }));
            let (min, max) = min_max(scratch);
            if max > min {
                for (o, &s) in out.iter_mut().zip(scratch.iter()) {
                    let v =
                        (MAX_NODE_SCORE as f64 * ((s - min) as f64 / (max - min) as f64)) as i64;
                    *o += WEIGHT_INTER_POD * v;
                }
            }
        }
    }

    /// PodTopologySpread's raw scores (`Score`) into `raw`, per node.
    fn spread_raw(
        &self,
        counts: &Counts,
        nodes: impl ExactSizeIterator<Item = usize> + Clone,
        raw: &mut Vec<i64>,
    ) {
        let feasible = nodes.len();
        // The zones of the feasible nodes (domains of a zone constraint).
        let mut zones = ZoneSet::default();
        for n in nodes.clone() {
            zones.insert(counts.zone_of(n));
        }
        let scale = self.spread_scale(feasible, zones.len(), zones.max());
        let hosts = self.soft.iter().filter(|c| c.key == TopologyKey::Hostname);
        raw.clear();
        raw.extend(nodes.map(|n| {
            let on_node = hosts.clone().map(|c| counts.on_node(c.group, n));
            scale.raw(counts.zone_of(n), on_node)
        }));
    }

    /// PreScore's weights for `feasible` nodes spanning `zones` zones, the
    /// highest `max_zone`.
    pub fn spread_scale(&self, feasible: usize, zones: usize, max_zone: u16) -> SpreadScale {
        let host_weight = ln(feasible as f64 + 2.0);
        let zone_weight = ln(zones as f64 + 2.0);
        // Per zone: the zone constraints' part.
        let zone_part = |z: u16| -> f64 {
            let mut v = 0.0;
            for c in self.soft.iter().filter(|c| c.key == TopologyKey::Zone) {
                let cnt = c.per_zone.get(usize::from(z)).copied().unwrap_or(0);
                v += cnt as f64 * zone_weight;
            }
            v
        };
        SpreadScale {
            by_zone: (0..=max_zone).map(zone_part).collect(),
            host_weight,
            skews: self.soft_skew.iter().map(|&k| k as f64).sum(),
        }
    }

    /// What the fit index can answer: a plan that filters nothing and
    /// scores only ScheduleAnyway spread constraints, at most one of them
    /// per hostname. Returns that constraint's group, if any.
    pub fn spread_only(&self) -> Option<Option<GroupId>> {
        let mut hosts = self.soft.iter().filter(|c| c.key == TopologyKey::Hostname);
        let host = hosts.next().map(|c| c.group);
        (!self.filters()
            && self.terms.is_empty()
            && !self.soft.is_empty()
            && hosts.next().is_none())
        .then_some(host)
    }
}

/// PodTopologySpread's `Score` of one decision: per node
/// `round(sum of count * log(domains + 2) + maxSkew - 1)`, the zone part
/// computed once per zone.
#[derive(Debug)]
pub struct SpreadScale {
    by_zone: Vec<f64>,
    host_weight: f64,
    skews: f64,
}

impl SpreadScale {
    /// The raw score of a node in zone `zone` holding `on_node` pods of each
    /// hostname constraint's group.
    #[inline]
    pub fn raw(&self, zone: u16, on_node: impl Iterator<Item = u32>) -> i64 {
        let mut s = self.by_zone.get(usize::from(zone)).copied().unwrap_or(0.0);
        for c in on_node {
            s += f64::from(c) * self.host_weight;
        }
        round(s + self.skews)
    }
}

/// NormalizeScore of a raw spread score `s` among raw scores from `min` to
/// `max`, weighted: fewer matching pods score higher.
#[inline]
pub fn spread_normalized(s: i64, min: i64, max: i64) -> i64 {
    let max = max.max(0);
    let v = if max == 0 {
        MAX_NODE_SCORE
    } else {
        MAX_NODE_SCORE * (max + min - s) / max
    };
    WEIGHT_SPREAD * v
}

/// A set of zone indices.
#[derive(Default)]
struct ZoneSet {
    bits: Vec<u64>,
    len: usize,
    max: u16,
}

impl ZoneSet {
    fn insert(&mut self, z: u16) {
        let (w, b) = (usize::from(z) / 64, z % 64);
        if self.bits.len() <= w {
            self.bits.resize(w + 1, 0);
        }
        if self.bits[w] & (1 << b) == 0 {
            self.bits[w] |= 1 << b;
            self.len += 1;
            self.max = self.max.max(z);
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn max(&self) -> u16 {
        self.max
    }
}

/// Go's `math.Round` of a non-negative score: half away from zero, without
/// a library call (`x - trunc(x)` is exact below 2^52).
fn round(x: f64) -> i64 {
    let t = x as i64;
    if x - t as f64 >= 0.5 { t + 1 } else { t }
}

fn min_max(v: &[i64]) -> (i64, i64) {
    v.iter()
        .fold((i64::MAX, i64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)))
}

/// Default weight of PodTopologySpread.
pub const WEIGHT_SPREAD: i64 = 2;
/// Default weight of InterPodAffinity.
pub const WEIGHT_INTER_POD: i64 = 2;

/// A DoNotSchedule constraint's PreFilter: the pods per domain over the
/// nodes it counts, and the minimum over its domains (0 when there are
/// fewer than `minDomains`).
fn hard_spread(rule: Spread, wl: &Workload, counts: &Counts) -> HardSpread {
    let pools = (0..wl.pool_verdict.len()).filter(|&p| includes(&rule, wl, p));
    let mut per_zone = Vec::new();
    let mut domains = 0u64;
    let mut min = i64::MAX;
    match rule.key {
        TopologyKey::Zone => {
            let mut nodes = Vec::new();
            for p in pools {
                add_zones(&mut per_zone, counts.in_zones(rule.group, p));
                add_zones(&mut nodes, counts.nodes_in(p));
            }
            for (z, &n) in nodes.iter().enumerate() {
                if n > 0 {
                    domains += 1;
                    min = min.min(per_zone.get(z).copied().unwrap_or(0));
                }
            }
        }
        TopologyKey::Hostname => {
            for p in pools {
                domains += counts
                    .nodes_in(p)
                    .iter()
                    .map(|&n| u64::from(n))
                    .sum::<u64>();
                if let Some(m) = counts.min_on_nodes(rule.group, p) {
                    min = min.min(i64::from(m));
                }
            }
        }
    }
    if domains < u64::from(rule.min_domains) {
        min = 0;
    }
    HardSpread {
        rule,
        per_zone,
        min,
    }
}

/// The natural logarithm from IEEE basic operations only, so that a score
/// is the same on every machine (a platform's `log` may differ in the last
/// bit). `x >= 1`: reduce to `m * 2^k` with `m` in [1, 2), then
/// `ln m = 2 atanh((m - 1) / (m + 1))` by its series.
pub fn ln(x: f64) -> f64 {
    debug_assert!(x >= 1.0);
    let mut m = x;
    let mut k = 0i32;
    while m >= 2.0 {
        m /= 2.0;
        k += 1;
    }
    let t = (m - 1.0) / (m + 1.0);
    let t2 = t * t;
    let mut term = t;
    let mut sum = 0.0;
    let mut n = 1.0;
    // t <= 1/3, so 30 terms leave an error below 1e-28.
    for _ in 0..30 {
        sum += term / n;
        term *= t2;
        n += 2.0;
    }
    f64::from(k) * std::f64::consts::LN_2 + 2.0 * sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_matches_the_platform_closely() {
        for x in [1.0, 2.0, 3.0, 5.0, 102.0, 502.0, 5002.0, 100_002.0] {
            assert!((ln(x) - f64::ln(x)).abs() < 1e-12, "{x}");
        }
    }

    /// Three nodes in zones 0, 1, 2 holding 2, 1 and 0 pods of a
    /// Deployment scored by the system defaults (hostname maxSkew 3, zone
    /// maxSkew 5), all three feasible: weights ln(3 + 2) = 1.6094 for
    /// both keys; raw round(2 * 1.6094 + 2 * 1.6094 + 2 + 4) = 12,
    /// round(1.6094 + 1.6094 + 6) = 9, 6; normalised 100 * (12 + 6 - s) / 12
    /// = 50, 75, 100, times 2. A preferred anti-affinity term of weight 50
    /// to the same pods per hostname: -100, -50, 0, normalised 0, 50, 100,
    /// times 2.
    #[test]
    fn default_spreading_and_preferred_anti_affinity_scores() {
        use crate::kube::WorkloadId;
        use crate::kube::topology::TopologyKey;
        let mut counts = Counts::new(1, 1);
        let g = counts.intern(&[WorkloadId(0)], false);
        let with_terminating = counts.intern(&[WorkloadId(0)], true);
        for z in 0..3 {
            counts.node_added(z, 0, z);
        }
        let at = |node| super::super::counts::Place {
            node,
            pool: 0,
            zone: node,
            registered: true,
        };
        for node in [0, 0, 1] {
            counts.pod_moved(WorkloadId(0), at(node), false, 1);
        }
        let soft = |key| Counted {
            group: g,
            key,
            weight: 0,
            per_zone: if key == TopologyKey::Zone {
                vec![2, 1, 0]
            } else {
                Vec::new()
            },
        };
        let plan = Plan {
            hard: Vec::new(),
            soft: vec![soft(TopologyKey::Hostname), soft(TopologyKey::Zone)],
            soft_skew: vec![2, 4],
            affinity: Vec::new(),
            affinity_free: false,
            anti: Vec::new(),
            terms: Vec::new(),
        };
        let (mut out, mut scratch) = (Vec::new(), Vec::new());
        plan.score(&counts, 0..3, &mut out, &mut scratch);
        assert_eq!(out, [100, 150, 200]);
        let plan = Plan {
            soft: Vec::new(),
            soft_skew: Vec::new(),
            terms: vec![Counted {
                group: with_terminating,
                key: TopologyKey::Hostname,
                weight: -50,
                per_zone: Vec::new(),
            }],
            ..plan
        };
        plan.score(&counts, 0..3, &mut out, &mut scratch);
        assert_eq!(out, [0, 100, 200]);
    }

    /// Half away from zero, as Go's math.Round.
    #[test]
    fn rounding() {
        assert_eq!(round(2.5), 3);
        assert_eq!(round(2.4999), 2);
        assert_eq!(round(9.22), 9);
        assert_eq!(round(0.0), 0);
    }
}
