//! Validation of a workload's placement rules between pods: its pod
//! `labels`, `topology_spread` constraints and `pod_affinity` /
//! `pod_anti_affinity` terms, with selectors resolved to the workloads
//! whose pods they select. Every error names the file, the line and the
//! key.

use std::collections::BTreeMap;
use std::ops::Range;

use crate::input::escape;
use crate::kube::{
    PodAffinity, PodAffinityTerm, SpreadConstraint, TopologyKey, WeightedPodAffinityTerm,
    WorkloadId, WorkloadKind,
};

use super::ScenarioError;
use super::file::{ScenarioFile, WorkloadFile};
use super::topology_file::{PodAffinityFile, SpreadFile, TermFile};
use super::validate::Source;

/// The most spread constraints, and the most terms of each kind, one
/// workload may have: each costs a lookup per node in every decision.
pub(super) const MAX_RULES: usize = 8;

/// Every workload's pod labels: its `labels`, or `app = <name>`.
pub(super) fn pod_labels(raw: &ScenarioFile) -> Vec<BTreeMap<String, String>> {
    raw.workloads
        .iter()
        .map(|w| match &w.labels {
            Some(l) => l.clone(),
            None => BTreeMap::from([("app".to_string(), w.name.get_ref().clone())]),
        })
        .collect()
}

/// What resolves selectors: the workloads by name and their pod labels.
pub(super) struct Selectors<'a> {
    /// Workload indices by name.
    pub names: &'a BTreeMap<String, usize>,
    /// Each workload's pod labels.
    pub labels: &'a [BTreeMap<String, String>],
}

/// The placement rules of workload `w` (index `me`).
pub(super) fn rules(
    src: &Source<'_>,
    w: &WorkloadFile,
    me: WorkloadId,
    kind: WorkloadKind,
    sel: &Selectors<'_>,
) -> Result<(Vec<SpreadConstraint>, PodAffinity), ScenarioError> {
    let key = format!("workloads.{}", w.name.get_ref());
    let any =
        !w.topology_spread.is_empty() || w.pod_affinity.is_some() || w.pod_anti_affinity.is_some();
    if any && matches!(kind, WorkloadKind::DaemonSet { .. }) {
        return Err(src.error(
            Some(w.name.span()),
            format!("{key}.topology_spread"),
            "a DaemonSet's pods are placed one per node: spread and pod affinity are not modelled for them",
        ));
    }
    if w.topology_spread.len() > MAX_RULES {
        return Err(src.error(
            Some(w.name.span()),
            format!("{key}.topology_spread"),
            format!("at most {MAX_RULES} constraints"),
        ));
    }
    let mut spread = Vec::new();
    for c in &w.topology_spread {
        spread.push(constraint(
            src,
            c,
            me,
            sel,
            &format!("{key}.topology_spread"),
        )?);
    }
    let mut affinity = PodAffinity::default();
    if let Some(a) = &w.pod_affinity {
        let k = format!("{key}.pod_affinity");
        (affinity.required, affinity.preferred) = terms(src, a, sel, &k)?;
    }
    if let Some(a) = &w.pod_anti_affinity {
        let k = format!("{key}.pod_anti_affinity");
        (affinity.required_anti, affinity.preferred_anti) = terms(src, a, sel, &k)?;
    }
    Ok((spread, affinity))
}

fn constraint(
    src: &Source<'_>,
    c: &SpreadFile,
    me: WorkloadId,
    sel: &Selectors<'_>,
    key: &str,
) -> Result<SpreadConstraint, ScenarioError> {
    let span = Some(c.topology_key.span());
    let max_skew = *c.max_skew.get_ref();
    if max_skew == 0 {
        return Err(src.error(
            Some(c.max_skew.span()),
            format!("{key}.max_skew"),
            "max_skew must be at least 1 (Kubernetes refuses 0)",
        ));
    }
    let hard = match c.when_unsatisfiable.as_ref().map(|s| s.get_ref().as_str()) {
        None | Some("DoNotSchedule") => true,
        Some("ScheduleAnyway") => false,
        Some(other) => {
            return Err(src.error(
                c.when_unsatisfiable.as_ref().map(|s| s.span()),
                format!("{key}.when_unsatisfiable"),
                format!(
                    "`{}`: expected DoNotSchedule or ScheduleAnyway",
                    escape(other)
                ),
            ));
        }
    };
    let min_domains = min_domains(src, c, hard, key)?;
    let selector = match (&c.selector, &c.workloads) {
        (None, None) => vec![me],
        _ => select(
            src,
            c.selector.as_ref(),
            c.workloads.as_deref(),
            sel,
            key,
            span,
        )?,
    };
    Ok(SpreadConstraint {
        max_skew,
        key: topology_key(src, &c.topology_key, key)?,
        hard,
        selector,
        min_domains,
        honor_node_affinity: policy(
            src,
            c.node_affinity_policy.as_ref(),
            true,
            key,
            "node_affinity_policy",
        )?,
        honor_node_taints: policy(
            src,
            c.node_taints_policy.as_ref(),
            false,
            key,
            "node_taints_policy",
        )?,
    })
}

/// `minDomains`: DoNotSchedule only, at least 1.
fn min_domains(
    src: &Source<'_>,
    c: &SpreadFile,
    hard: bool,
    key: &str,
) -> Result<Option<u32>, ScenarioError> {
    match &c.min_domains {
        None => Ok(None),
        Some(m) if !hard => Err(src.error(
            Some(m.span()),
            format!("{key}.min_domains"),
            "min_domains is for when_unsatisfiable = \"DoNotSchedule\" only",
        )),
        Some(m) if *m.get_ref() == 0 => Err(src.error(
            Some(m.span()),
            format!("{key}.min_domains"),
            "min_domains must be at least 1",
        )),
        Some(m) => Ok(Some(*m.get_ref())),
    }
}

type Terms = (Vec<PodAffinityTerm>, Vec<WeightedPodAffinityTerm>);

fn terms(
    src: &Source<'_>,
    a: &PodAffinityFile,
    sel: &Selectors<'_>,
    key: &str,
) -> Result<Terms, ScenarioError> {
    if a.required.len() > MAX_RULES || a.preferred.len() > MAX_RULES {
        return Err(src.error(
            None,
            key.to_string(),
            format!("at most {MAX_RULES} terms of each kind"),
        ));
    }
    let mut required = Vec::new();
    for t in &a.required {
        let k = format!("{key}.required");
        if let Some(w) = &t.weight {
            return Err(src.error(
                Some(w.span()),
                format!("{k}.weight"),
                "a required term has no weight (only preferred terms do)",
            ));
        }
        required.push(term(src, t, sel, &k)?);
    }
    let mut preferred = Vec::new();
    for t in &a.preferred {
        let k = format!("{key}.preferred");
        let weight = match &t.weight {
            Some(w) if (1..=100).contains(w.get_ref()) => *w.get_ref(),
            Some(w) => {
                return Err(src.error(
                    Some(w.span()),
                    format!("{k}.weight"),
                    format!("weight {} is out of range: expected 1 to 100", w.get_ref()),
                ));
            }
            None => {
                return Err(src.error(
                    Some(t.topology_key.span()),
                    format!("{k}.weight"),
                    "a preferred term needs a weight (1 to 100)",
                ));
            }
        };
        preferred.push(WeightedPodAffinityTerm {
            weight,
            term: term(src, t, sel, &k)?,
        });
    }
    Ok((required, preferred))
}

fn term(
    src: &Source<'_>,
    t: &TermFile,
    sel: &Selectors<'_>,
    key: &str,
) -> Result<PodAffinityTerm, ScenarioError> {
    let span = Some(t.topology_key.span());
    if t.selector.is_none() && t.workloads.is_none() {
        return Err(src.error(
            span,
            format!("{key}.selector"),
            "a term needs `selector = { label = \"value\" }` or `workloads = [\"name\"]`",
        ));
    }
    Ok(PodAffinityTerm {
        selector: select(
            src,
            t.selector.as_ref(),
            t.workloads.as_deref(),
            sel,
            key,
            span,
        )?,
        key: topology_key(src, &t.topology_key, key)?,
    })
}

/// The workloads a selector selects: by name, or by matchLabels against
/// each workload's pod labels. An unknown name or label key, or a selector
/// that selects nothing, is an error (a typo would otherwise make a rule
/// silently count no pod).
fn select(
    src: &Source<'_>,
    labels: Option<&BTreeMap<String, String>>,
    names: Option<&[toml::Spanned<String>]>,
    sel: &Selectors<'_>,
    key: &str,
    span: Option<Range<usize>>,
) -> Result<Vec<WorkloadId>, ScenarioError> {
    let mut out = Vec::new();
    match (labels, names) {
        (Some(_), Some(_)) => {
            return Err(src.error(
                span,
                format!("{key}.workloads"),
                "give `selector` or `workloads`, not both",
            ));
        }
        (_, Some(names)) => {
            for n in names {
                let Some(&i) = sel.names.get(n.get_ref()) else {
                    let known: Vec<&str> = sel.names.keys().map(|s| s.as_str()).collect();
                    return Err(src.error(
                        Some(n.span()),
                        format!("{key}.workloads"),
                        format!(
                            "no workload named `{}` (workloads: {})",
                            escape(n.get_ref()),
                            known.join(", ")
                        ),
                    ));
                };
                out.push(WorkloadId(i as u16));
            }
        }
        (Some(labels), None) => {
            for k in labels.keys() {
                if !sel.labels.iter().any(|l| l.contains_key(k)) {
                    return Err(src.error(
                        span,
                        format!("{key}.selector"),
                        format!("no workload's pods have the label key `{}`", escape(k)),
                    ));
                }
            }
            for (i, l) in sel.labels.iter().enumerate() {
                if labels.iter().all(|(k, v)| l.get(k) == Some(v)) {
                    out.push(WorkloadId(i as u16));
                }
            }
            if out.is_empty() {
                return Err(src.error(
                    span,
                    format!("{key}.selector"),
                    "selects no workload's pods (pods are labelled `labels`, or `app = <name>`)",
                ));
            }
        }
        (None, None) => {}
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

fn topology_key(
    src: &Source<'_>,
    k: &toml::Spanned<String>,
    key: &str,
) -> Result<TopologyKey, ScenarioError> {
    match k.get_ref().as_str() {
        "zone" | "topology.kubernetes.io/zone" => Ok(TopologyKey::Zone),
        "hostname" | "kubernetes.io/hostname" => Ok(TopologyKey::Hostname),
        other => Err(src.error(
            Some(k.span()),
            format!("{key}.topology_key"),
            format!(
                "`{}`: expected zone (topology.kubernetes.io/zone) or hostname (kubernetes.io/hostname)",
                escape(other)
            ),
        )),
    }
}

fn policy(
    src: &Source<'_>,
    p: Option<&toml::Spanned<String>>,
    default: bool,
    key: &str,
    name: &str,
) -> Result<bool, ScenarioError> {
    match p.map(|s| s.get_ref().as_str()) {
        None => Ok(default),
        Some("Honor") => Ok(true),
        Some("Ignore") => Ok(false),
        Some(other) => Err(src.error(
            p.map(|s| s.span()),
            format!("{key}.{name}"),
            format!("`{}`: expected Honor or Ignore", escape(other)),
        )),
    }
}
