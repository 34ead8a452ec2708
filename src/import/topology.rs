//! Placement rules between pods: a pod spec's `topologySpreadConstraints`
//! and `affinity.podAffinity` / `podAntiAffinity` read as written
//! (`read`), then resolved against the imported workloads (`resolve`)
//! into `topology_spread`, `pod_affinity`, `pod_anti_affinity` and the
//! `labels` of the workloads a selector selects. What the model cannot
//! express is skipped with a note naming the object and the JSON path.

use std::collections::{BTreeMap, BTreeSet};

use toml::Spanned;

use crate::input::escape;
use crate::scenario::file::{PodAffinityFile, SpreadFile, TermFile};

use super::notes::Notes;
use super::object::{At, Bad};
use super::workloads::{Controller, Workload};

/// The most constraints, and terms of each kind, a workload may have (the
/// scenario's limit, `topology_checks::MAX_RULES`).
const MAX_RULES: usize = 8;

/// A selector or rule the model cannot express: why, as a report line.
const EXPRESSIONS: &str = "spread and pod affinity selectors with matchExpressions other than In with one value: not modelled";
const LABEL_KEYS: &str = "spread and pod affinity matchLabelKeys / mismatchLabelKeys: not modelled";
const NAMESPACES: &str =
    "pod affinity terms over other namespaces (namespaces, namespaceSelector): not modelled";
const KEYS: &str =
    "spread and pod affinity on topology keys other than zone and hostname: not modelled";
const NO_SELECTOR: &str =
    "spread constraints and pod affinity terms without labelSelector (they count no pods)";
const SELECTS_NONE: &str = "spread and pod affinity selectors that select no imported workload";
const TOO_MANY: &str = "spread constraints or pod affinity terms past the model's 8 per kind";
const DAEMONSETS: &str =
    "spread and pod affinity of DaemonSet pods (placed one per node): not modelled";

/// A `topologySpreadConstraints` entry as read.
#[derive(Debug, Clone)]
pub struct Spread {
    path: String,
    max_skew: u32,
    key: &'static str,
    when_unsatisfiable: String,
    labels: BTreeMap<String, String>,
    min_domains: Option<u32>,
    node_affinity_policy: Option<String>,
    node_taints_policy: Option<String>,
}

/// A `podAffinityTerm` as read, with its weight when preferred.
#[derive(Debug, Clone)]
pub struct Term {
    path: String,
    key: &'static str,
    labels: BTreeMap<String, String>,
    namespaces: Vec<String>,
    weight: Option<i32>,
}

/// `podAffinity` or `podAntiAffinity` as read.
#[derive(Debug, Clone, Default)]
pub struct Terms {
    required: Vec<Term>,
    preferred: Vec<Term>,
}

/// A pod spec's rules between pods, as read.
#[derive(Debug, Clone, Default)]
pub struct PodRules {
    spread: Vec<Spread>,
    affinity: Terms,
    anti: Terms,
}

impl PodRules {
    fn is_empty(&self) -> bool {
        self.spread.is_empty()
            && [&self.affinity, &self.anti]
                .iter()
                .all(|t| t.required.is_empty() && t.preferred.is_empty())
    }
}

/// A workload's rules as written in the scenario.
#[derive(Debug, Clone, Default)]
pub struct Written {
    /// `labels`: its pods' labels, when a written selector selects it.
    pub labels: Option<BTreeMap<String, String>>,
    /// `topology_spread`.
    pub spread: Vec<SpreadFile>,
    /// `pod_affinity`.
    pub affinity: Option<PodAffinityFile>,
    /// `pod_anti_affinity`.
    pub anti: Option<PodAffinityFile>,
}

fn note(notes: &mut Notes, what: &str, who: &str, path: &str) {
    notes.skip(what, format!("{who} {path}"));
}

fn one_of(a: &At<'_>, key: &str, allowed: &[&str]) -> Result<Option<String>, Bad> {
    match a.str(key)? {
        None => Ok(None),
        Some(s) if allowed.contains(&s) => Ok(Some(s.to_string())),
        Some(other) => Err(Bad {
            path: format!("{}.{key}", a.path),
            message: format!("`{}`: expected {}", escape(other), allowed.join(" or ")),
        }),
    }
}

/// A positive integer field that fits a u32 (Kubernetes refuses 0).
fn positive(a: &At<'_>, key: &str) -> Result<Option<u32>, Bad> {
    match a.i64(key)? {
        None => Ok(None),
        Some(n) => match u32::try_from(n) {
            Ok(v) if v >= 1 => Ok(Some(v)),
            _ => Err(Bad {
                path: format!("{}.{key}", a.path),
                message: format!("{n}: expected at least 1"),
            }),
        },
    }
}

/// `zone` or `hostname` for their label keys; other keys are noted.
fn topology_key(a: &At<'_>, who: &str, notes: &mut Notes) -> Result<Option<&'static str>, Bad> {
    let k = a.need("topologyKey")?;
    Ok(match k.as_str()? {
        "topology.kubernetes.io/zone" => Some("zone"),
        "kubernetes.io/hostname" => Some("hostname"),
        _ => {
            note(notes, KEYS, who, &k.path);
            None
        }
    })
}

/// The `labelSelector` of `a` as matchLabels: an `In` with one value is a
/// matchLabels entry; anything else, or no selector, is noted.
fn selector(
    a: &At<'_>,
    who: &str,
    notes: &mut Notes,
) -> Result<Option<BTreeMap<String, String>>, Bad> {
    let Some(s) = a.get("labelSelector") else {
        note(notes, NO_SELECTOR, who, &a.path);
        return Ok(None);
    };
    let mut labels = s.string_map("matchLabels")?;
    for e in s.list("matchExpressions")? {
        let key = e.need("key")?.as_str()?.to_string();
        let values = e.strings("values")?;
        let one = e.need("operator")?.as_str()? == "In" && values.len() == 1;
        let clash = labels.get(&key).is_some_and(|v| Some(v) != values.first());
        if !one || clash {
            note(notes, EXPRESSIONS, who, &e.path);
            return Ok(None);
        }
        labels.insert(key, values.into_iter().next().unwrap_or_default());
    }
    for k in ["matchLabelKeys", "mismatchLabelKeys"] {
        if !a.list(k)?.is_empty() {
            note(notes, LABEL_KEYS, who, &format!("{}.{k}", a.path));
            return Ok(None);
        }
    }
    Ok(Some(labels))
}

/// Reads the spread constraints and pod (anti-)affinity of the pod spec
/// at `spec`; `who` names the object in notes. Values Kubernetes refuses
/// are errors.
pub fn read(spec: &At<'_>, who: &str, notes: &mut Notes) -> Result<PodRules, Bad> {
    let mut out = PodRules::default();
    for c in spec.list("topologySpreadConstraints")? {
        let max_skew = positive(&c, "maxSkew")?.ok_or_else(|| Bad {
            path: format!("{}.maxSkew", c.path),
            message: "missing".into(),
        })?;
        let when = one_of(
            &c,
            "whenUnsatisfiable",
            &["DoNotSchedule", "ScheduleAnyway"],
        )?
        .ok_or_else(|| Bad {
            path: format!("{}.whenUnsatisfiable", c.path),
            message: "missing".into(),
        })?;
        let min_domains = positive(&c, "minDomains")?;
        if min_domains.is_some() && when != "DoNotSchedule" {
            return Err(Bad {
                path: format!("{}.minDomains", c.path),
                message: "minDomains is for whenUnsatisfiable: DoNotSchedule only".into(),
            });
        }
        let policies = ["Honor", "Ignore"];
        let node_affinity_policy = one_of(&c, "nodeAffinityPolicy", &policies)?;
        let node_taints_policy = one_of(&c, "nodeTaintsPolicy", &policies)?;
        let Some(key) = topology_key(&c, who, notes)? else {
            continue;
        };
        let Some(labels) = selector(&c, who, notes)? else {
            continue;
        };
        out.spread.push(Spread {
            path: c.path.clone(),
            max_skew,
            key,
            when_unsatisfiable: when,
            labels,
            min_domains,
            node_affinity_policy,
            node_taints_policy,
        });
    }
    if let Some(aff) = spec.get("affinity") {
        for (k, into) in [
            ("podAffinity", &mut out.affinity),
            ("podAntiAffinity", &mut out.anti),
        ] {
            if let Some(a) = aff.get(k) {
                *into = terms(&a, who, notes)?;
            }
        }
    }
    Ok(out)
}

fn terms(a: &At<'_>, who: &str, notes: &mut Notes) -> Result<Terms, Bad> {
    let mut out = Terms::default();
    for t in a.list("requiredDuringSchedulingIgnoredDuringExecution")? {
        if let Some(t) = term(&t, None, who, notes)? {
            out.required.push(t);
        }
    }
    for p in a.list("preferredDuringSchedulingIgnoredDuringExecution")? {
        let w = p.need("weight")?;
        let weight =
            w.v.as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .filter(|n| (1..=100).contains(n))
                .ok_or_else(|| Bad {
                    path: w.path.clone(),
                    message: "expected an integer from 1 to 100".into(),
                })?;
        if let Some(t) = term(&p.need("podAffinityTerm")?, Some(weight), who, notes)? {
            out.preferred.push(t);
        }
    }
    Ok(out)
}

fn term(
    t: &At<'_>,
    weight: Option<i32>,
    who: &str,
    notes: &mut Notes,
) -> Result<Option<Term>, Bad> {
    if t.get("namespaceSelector").is_some() {
        note(
            notes,
            NAMESPACES,
            who,
            &format!("{}.namespaceSelector", t.path),
        );
        return Ok(None);
    }
    let Some(key) = topology_key(t, who, notes)? else {
        return Ok(None);
    };
    let Some(labels) = selector(t, who, notes)? else {
        return Ok(None);
    };
    Ok(Some(Term {
        path: t.path.clone(),
        key,
        labels,
        namespaces: t.strings("namespaces")?,
        weight,
    }))
}

/// What resolves selectors: the workloads and who is selected so far.
struct Resolver<'a> {
    all: &'a [Workload],
    /// The workloads some kept selector selects.
    selected: BTreeSet<usize>,
}

impl Resolver<'_> {
    /// The workloads of `me`'s namespace whose pods `labels` selects,
    /// or `None` (noted) when there are none.
    fn select(
        &mut self,
        me: usize,
        labels: &BTreeMap<String, String>,
        path: &str,
        notes: &mut Notes,
    ) -> Option<Vec<usize>> {
        let ns = &self.all[me].namespace;
        let out: Vec<usize> = (0..self.all.len())
            .filter(|&j| {
                let w = &self.all[j];
                &w.namespace == ns
                    && labels
                        .iter()
                        .all(|(k, v)| w.template.labels.get(k) == Some(v))
            })
            .collect();
        if out.is_empty() {
            note(notes, SELECTS_NONE, &self.all[me].id, path);
            return None;
        }
        self.selected.extend(out.iter().copied());
        Some(out)
    }
}

/// A kept rule: its matchLabels and the workloads they select.
type Selection = (BTreeMap<String, String>, Vec<usize>);

/// A workload's rules kept, each with its selection: spread constraints,
/// then required and preferred affinity, required and preferred
/// anti-affinity terms.
#[derive(Default)]
struct Kept {
    spread: Vec<(Spread, Selection)>,
    terms: [Vec<(Term, Selection)>; 4],
}

impl Resolver<'_> {
    /// The rules of workload `i` that the model can express.
    fn keep(&mut self, i: usize, notes: &mut Notes) -> Kept {
        let w = &self.all[i];
        let rules = &w.template.rules;
        let mut out = Kept::default();
        if !rules.is_empty() && w.controller == Controller::DaemonSet {
            notes.skip(DAEMONSETS, &w.id);
            return out;
        }
        for c in &rules.spread {
            if let Some(sel) = self.select(i, &c.labels, &c.path, notes) {
                let item = (c.clone(), (c.labels.clone(), sel));
                push_capped(&mut out.spread, item, &w.id, &c.path, notes);
            }
        }
        let lists = [
            &rules.affinity.required,
            &rules.affinity.preferred,
            &rules.anti.required,
            &rules.anti.preferred,
        ];
        for (list, into) in lists.into_iter().zip(out.terms.iter_mut()) {
            for t in list {
                if t.namespaces.iter().any(|n| n != &w.namespace) {
                    note(notes, NAMESPACES, &w.id, &format!("{}.namespaces", t.path));
                    continue;
                }
                if let Some(sel) = self.select(i, &t.labels, &t.path, notes) {
                    let item = (t.clone(), (t.labels.clone(), sel));
                    push_capped(into, item, &w.id, &t.path, notes);
                }
            }
        }
        out
    }
}

/// The rules of every workload resolved against the imported workloads,
/// in their order: a selector counts the pods of its own namespace only,
/// as `namespaces` unset does. A selector is written as `selector` when it
/// selects the same workloads in the scenario (where pods are labelled by
/// `labels` or `app = <name>`), else as `workloads = [...]`.
pub fn resolve(all: &[Workload], notes: &mut Notes) -> Vec<Written> {
    let mut r = Resolver {
        all,
        selected: BTreeSet::new(),
    };
    let kept: Vec<Kept> = (0..all.len()).map(|i| r.keep(i, notes)).collect();
    let scenario_labels: Vec<BTreeMap<String, String>> = all
        .iter()
        .enumerate()
        .map(|(j, w)| match written_labels(&r.selected, j, w) {
            Some(l) => l,
            None => BTreeMap::from([("app".to_string(), w.scenario_name.clone())]),
        })
        .collect();
    let how = |(labels, sel): &Selection| -> How {
        let resolved: Vec<usize> = (0..all.len())
            .filter(|&j| {
                labels
                    .iter()
                    .all(|(k, v)| scenario_labels[j].get(k) == Some(v))
            })
            .collect();
        if !labels.is_empty() && &resolved == sel {
            (Some(labels.clone()), None)
        } else {
            let names = sel.iter().map(|&j| spanned(all[j].scenario_name.clone()));
            (None, Some(names.collect()))
        }
    };
    kept.into_iter()
        .enumerate()
        .map(|(j, k)| {
            let [aff_req, aff_pref, anti_req, anti_pref] = k.terms;
            Written {
                labels: written_labels(&r.selected, j, &all[j]),
                spread: k
                    .spread
                    .into_iter()
                    .map(|(c, s)| spread_file(c, how(&s)))
                    .collect(),
                affinity: affinity_file(aff_req, aff_pref, &how),
                anti: affinity_file(anti_req, anti_pref, &how),
            }
        })
        .collect()
}

/// The `labels` written for workload `j`: its pods' labels, when a kept
/// selector selects it and it has any.
fn written_labels(
    selected: &BTreeSet<usize>,
    j: usize,
    w: &Workload,
) -> Option<BTreeMap<String, String>> {
    (selected.contains(&j) && !w.template.labels.is_empty()).then(|| w.template.labels.clone())
}

fn push_capped<T>(list: &mut Vec<T>, item: T, who: &str, path: &str, notes: &mut Notes) {
    if list.len() < MAX_RULES {
        list.push(item);
    } else {
        note(notes, TOO_MANY, who, path);
    }
}

fn spanned<T>(v: T) -> Spanned<T> {
    Spanned::new(0..0, v)
}

type How = (
    Option<BTreeMap<String, String>>,
    Option<Vec<Spanned<String>>>,
);

fn spread_file(c: Spread, (selector, workloads): How) -> SpreadFile {
    SpreadFile {
        max_skew: spanned(c.max_skew),
        topology_key: spanned(c.key.to_string()),
        when_unsatisfiable: Some(spanned(c.when_unsatisfiable)),
        selector,
        workloads,
        min_domains: c.min_domains.map(spanned),
        node_affinity_policy: c.node_affinity_policy.map(spanned),
        node_taints_policy: c.node_taints_policy.map(spanned),
    }
}

fn affinity_file(
    required: Vec<(Term, Selection)>,
    preferred: Vec<(Term, Selection)>,
    how: &impl Fn(&Selection) -> How,
) -> Option<PodAffinityFile> {
    if required.is_empty() && preferred.is_empty() {
        return None;
    }
    let file = |(t, s): (Term, Selection)| {
        let (selector, workloads) = how(&s);
        TermFile {
            topology_key: spanned(t.key.to_string()),
            selector,
            workloads,
            weight: t.weight.map(spanned),
        }
    };
    Some(PodAffinityFile {
        required: required.into_iter().map(file).collect(),
        preferred: preferred.into_iter().map(file).collect(),
    })
}
