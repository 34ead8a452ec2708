//! Each workload's placement rules, compiled once into counted groups: its
//! own spread constraints (or the cluster's system defaults), its own
//! affinity terms, and the terms of other workloads that select its pods
//! (the existing pods' anti-affinity a Filter checks, and the terms an
//! InterPodAffinity score adds up).

use crate::kube::topology::{SpreadConstraint, TopologyKey};
use crate::kube::{WorkloadId, WorkloadKind, WorkloadSpec};

use super::counts::{Counts, GroupId};

/// The cluster-level default constraints of kube-scheduler
/// (`defaultingType: System`): hostname maxSkew 3 and zone maxSkew 5,
/// both ScheduleAnyway.
const SYSTEM_DEFAULTS: [(TopologyKey, u32); 2] =
    [(TopologyKey::Hostname, 3), (TopologyKey::Zone, 5)];

/// A spread constraint over a counted group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spread {
    /// The pods it counts.
    pub group: GroupId,
    /// Its topology key.
    pub key: TopologyKey,
    /// `maxSkew`.
    pub max_skew: i64,
    /// `minDomains` (1 when unset).
    pub min_domains: u32,
    /// `nodeAffinityPolicy: Honor`.
    pub honor_affinity: bool,
    /// `nodeTaintsPolicy: Honor`.
    pub honor_taints: bool,
    /// The incoming pod matches its selector (`selfMatchNum`).
    pub self_match: bool,
}

/// A term over a counted group, with its weight for scoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Term {
    /// The pods it counts.
    pub group: GroupId,
    /// Its topology key.
    pub key: TopologyKey,
    /// Its signed weight (scores only).
    pub weight: i64,
}

/// The required pod affinity of a workload: pods matching every term must
/// be in the node's domain of each term's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Affinity {
    /// The pods that match every term.
    pub group: GroupId,
    /// The terms' keys.
    pub keys: Vec<TopologyKey>,
    /// The incoming pod matches every term itself (the first pod of a
    /// group with affinity to itself may go anywhere).
    pub self_match: bool,
}

/// One workload's compiled rules.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// DoNotSchedule constraints (PodTopologySpread Filter).
    pub hard_spread: Vec<Spread>,
    /// ScheduleAnyway constraints, or the system defaults (Score).
    pub soft_spread: Vec<Spread>,
    /// Every workload its own constraints select (QueueingHints).
    pub spread_selects: Vec<WorkloadId>,
    /// Required pod affinity (Filter).
    pub affinity: Option<Affinity>,
    /// The workloads matching every required affinity term (QueueingHints).
    pub affinity_selects: Vec<WorkloadId>,
    /// Required anti-affinity terms (Filter).
    pub anti: Vec<Term>,
    /// The workloads matching every required anti-affinity term.
    pub anti_selects: Vec<WorkloadId>,
    /// Existing pods' required anti-affinity terms that select this
    /// workload's pods, each counting the pods that carry it (Filter).
    pub existing_anti: Vec<Term>,
    /// Preferred terms, its own and other pods' that select it, and other
    /// pods' required affinity (hardPodAffinityWeight 1) (Score).
    pub score_terms: Vec<Term>,
}

impl Rules {
    /// Whether a filter of these rules can reject a node.
    pub fn filters(&self) -> bool {
        !self.hard_spread.is_empty()
            || self.affinity.is_some()
            || !self.anti.is_empty()
            || !self.existing_anti.is_empty()
    }

    /// Whether these rules score nodes.
    pub fn scores(&self) -> bool {
        !self.soft_spread.is_empty() || !self.score_terms.is_empty()
    }

    /// Whether any rule applies.
    pub fn any(&self) -> bool {
        self.filters() || self.scores()
    }
}

/// The hardPodAffinityWeight of InterPodAffinityArgs (default 1).
const HARD_POD_AFFINITY_WEIGHT: i64 = 1;

/// Compiles every workload's rules, interning their groups in `counts`.
/// `default_spreading`: the scheduler applies the system default
/// constraints to pods without their own.
pub fn compile(
    specs: &[&WorkloadSpec],
    counts: &mut Counts,
    default_spreading: bool,
) -> Vec<Rules> {
    let mut rules: Vec<Rules> = specs
        .iter()
        .enumerate()
        .map(|(i, s)| own_rules(WorkloadId(i as u16), s, counts, default_spreading))
        .collect();
    // Other workloads' terms that select each workload's pods.
    for (q, spec) in specs.iter().enumerate() {
        let owner = [WorkloadId(q as u16)];
        let a = &spec.pod_affinity;
        for t in &a.required_anti {
            for w in &t.selector {
                let group = counts.intern(&owner, true);
                rules[w.index()].existing_anti.push(Term {
                    group,
                    key: t.key,
                    weight: 0,
                });
            }
        }
        let symmetric = a
            .required
            .iter()
            .map(|t| (t, HARD_POD_AFFINITY_WEIGHT))
            .chain(a.preferred.iter().map(|t| (&t.term, i64::from(t.weight))))
            .chain(
                a.preferred_anti
                    .iter()
                    .map(|t| (&t.term, -i64::from(t.weight))),
            );
        for (t, weight) in symmetric {
            for w in &t.selector {
                let group = counts.intern(&owner, true);
                rules[w.index()].score_terms.push(Term {
                    group,
                    key: t.key,
                    weight,
                });
            }
        }
    }
    rules
}

/// The rules a workload declares itself.
fn own_rules(
    w: WorkloadId,
    spec: &WorkloadSpec,
    counts: &mut Counts,
    default_spreading: bool,
) -> Rules {
    let mut r = Rules::default();
    spread_rules(&mut r, w, spec, counts, default_spreading);
    affinity_rules(&mut r, w, spec, counts);
    r
}

/// A workload's spread constraints, or the system defaults in their
/// place.
fn spread_rules(
    r: &mut Rules,
    w: WorkloadId,
    spec: &WorkloadSpec,
    counts: &mut Counts,
    default_spreading: bool,
) {
    let spread = |c: &SpreadConstraint, counts: &mut Counts| Spread {
        group: counts.intern(&c.selector, false),
        key: c.key,
        max_skew: i64::from(c.max_skew),
        min_domains: c.min_domains.unwrap_or(1),
        honor_affinity: c.honor_node_affinity,
        honor_taints: c.honor_node_taints,
        self_match: c.selector.contains(&w),
    };
    for c in &spec.topology_spread {
        let s = spread(c, counts);
        if c.hard {
            r.hard_spread.push(s);
        } else {
            r.soft_spread.push(s);
        }
        r.spread_selects.extend(&c.selector);
    }
    // `buildDefaultConstraints`: the selector is that of the Services,
    // ReplicaSets and StatefulSets selecting the pod; a pod of none (a Job
    // or DaemonSet pod that no Service selects) gets no default.
    let owned = matches!(
        spec.kind,
        WorkloadKind::Deployment | WorkloadKind::StatefulSet
    ) || spec.min_available.is_some();
    if default_spreading && spec.topology_spread.is_empty() && owned {
        for (key, max_skew) in SYSTEM_DEFAULTS {
            let c = SpreadConstraint {
                max_skew,
                key,
                hard: false,
                selector: vec![w],
                min_domains: None,
                honor_node_affinity: true,
                honor_node_taints: false,
            };
            r.soft_spread.push(spread(&c, counts));
        }
        r.spread_selects.push(w);
    }
    r.spread_selects.sort_unstable();
    r.spread_selects.dedup();
}

/// A workload's pod affinity and anti-affinity, required and preferred.
fn affinity_rules(r: &mut Rules, w: WorkloadId, spec: &WorkloadSpec, counts: &mut Counts) {
    let a = &spec.pod_affinity;
    if !a.required.is_empty() {
        let every = intersection(a.required.iter().map(|t| &t.selector[..]));
        let mut keys: Vec<TopologyKey> = a.required.iter().map(|t| t.key).collect();
        keys.sort_unstable();
        keys.dedup();
        r.affinity = Some(Affinity {
            group: counts.intern(&every, true),
            keys,
            self_match: every.contains(&w),
        });
        r.affinity_selects = every;
    }
    for t in &a.required_anti {
        r.anti.push(Term {
            group: counts.intern(&t.selector, true),
            key: t.key,
            weight: 0,
        });
    }
    if !a.required_anti.is_empty() {
        r.anti_selects = intersection(a.required_anti.iter().map(|t| &t.selector[..]));
    }
    for (t, sign) in a
        .preferred
        .iter()
        .map(|t| (t, 1))
        .chain(a.preferred_anti.iter().map(|t| (t, -1)))
    {
        r.score_terms.push(Term {
            group: counts.intern(&t.term.selector, true),
            key: t.term.key,
            weight: sign * i64::from(t.weight),
        });
    }
}

/// The workloads in every one of `sets` (each sorted).
fn intersection<'a>(mut sets: impl Iterator<Item = &'a [WorkloadId]>) -> Vec<WorkloadId> {
    let Some(first) = sets.next() else {
        return Vec::new();
    };
    let mut out = first.to_vec();
    for s in sets {
        out.retain(|w| s.contains(w));
    }
    out
}
