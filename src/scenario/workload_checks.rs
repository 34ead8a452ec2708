//! Validation of the `[[workloads]]` of a scenario: unique names, services
//! and what needs them, built into the cluster's `WorkloadSpec`s (the
//! per-workload keys are checked in `kube_checks.rs`, the requests in
//! `requests.rs`). Every error names the
//! file and the key, and the line where it is written (none when the file
//! writes no workload at all).

use std::collections::BTreeMap;

use crate::kube::{PodClass, WorkloadId, WorkloadKind, WorkloadSpec};

use super::ScenarioError;
use super::file::{ClassFile, ScenarioFile, WorkloadFile};
use super::kube_checks::{self, PriorityClasses, PriorityValue};
use super::topology_checks;
use super::validate::Source;

/// Each workload's index by name; an error on a duplicate or on none.
pub(super) fn names(
    src: &Source<'_>,
    raw: &ScenarioFile,
) -> Result<BTreeMap<String, usize>, ScenarioError> {
    let mut names = BTreeMap::new();
    for (i, w) in raw.workloads.iter().enumerate() {
        if names.insert(w.name.get_ref().clone(), i).is_some() {
            return Err(src.error(
                Some(w.name.span()),
                format!("workloads.{}", w.name.get_ref()),
                "duplicate workload name",
            ));
        }
    }
    if raw.workloads.is_empty() {
        return Err(src.error(None, "workloads", "at least one workload is needed"));
    }
    Ok(names)
}

/// The workloads in file order, and for each the priority of the
/// PriorityClass it names itself, if any (which then wins over a policy's
/// class rule).
pub(super) fn workloads(
    src: &Source<'_>,
    raw: &ScenarioFile,
    names: &BTreeMap<String, usize>,
    classes: &PriorityClasses,
) -> Result<(Vec<WorkloadSpec>, Vec<Option<PriorityValue>>), ScenarioError> {
    let mut workloads = Vec::new();
    let mut own_priority = Vec::new();
    let labels = topology_checks::pod_labels(raw);
    let selectors = topology_checks::Selectors {
        names,
        labels: &labels,
    };
    for (i, w) in raw.workloads.iter().enumerate() {
        let name = w.name.get_ref();
        let key = format!("workloads.{name}");
        let k = kube_checks::workload(src, classes, w)?;
        let requests = super::requests::effective(src, w, &key)?;
        if let Some(m) = w.min_available
            && m > k.replicas
            && matches!(k.kind, WorkloadKind::Deployment | WorkloadKind::StatefulSet)
        {
            return Err(src.error(
                Some(w.name.span()),
                format!("{key}.min_available"),
                format!("{m} exceeds replicas ({})", k.replicas),
            ));
        }
        let (topology_spread, pod_affinity) =
            topology_checks::rules(src, w, WorkloadId(i as u16), k.kind, &selectors)?;
        workloads.push(WorkloadSpec {
            name: name.clone(),
            class: match w.class {
                ClassFile::System => PodClass::System,
                ClassFile::User => PodClass::User,
            },
            replicas: k.replicas,
            requests,
            node_selector: w.node_selector.clone(),
            min_available: w.min_available,
            needs: needs(src, raw, names, w, &key)?,
            kind: k.kind,
            priority: k.priority.0,
            preemption_policy: k.priority.1,
            tolerations: k.tolerations,
            affinity: k.affinity,
            termination_grace: k.termination_grace,
            placeholder: false,
            webhooks: Vec::new(),
            job: k.job,
            pdb: k.pdb,
            statefulset: k.statefulset,
            do_not_disrupt: w.do_not_disrupt.unwrap_or(false),
            readiness_delay: k.readiness_delay,
            topology_spread,
            pod_affinity,
        });
        own_priority.push(k.own_priority);
    }
    Ok((workloads, own_priority))
}

/// The services a workload's pods need: other workloads, each with a
/// `min_available`.
fn needs(
    src: &Source<'_>,
    raw: &ScenarioFile,
    names: &BTreeMap<String, usize>,
    w: &WorkloadFile,
    key: &str,
) -> Result<Vec<WorkloadId>, ScenarioError> {
    let mut needs = Vec::new();
    for n in &w.needs {
        let Some(&idx) = names.get(n.get_ref()) else {
            let known: Vec<&str> = names.keys().map(|s| s.as_str()).collect();
            return Err(src.error(
                Some(n.span()),
                format!("{key}.needs"),
                format!(
                    "no workload named `{}` (workloads: {})",
                    n.get_ref(),
                    known.join(", ")
                ),
            ));
        };
        if raw.workloads[idx].min_available.is_none() {
            return Err(src.error(
                Some(n.span()),
                format!("{key}.needs"),
                format!(
                    "`{}` is not a service: give it `min_available`",
                    n.get_ref()
                ),
            ));
        }
        if n.get_ref() == w.name.get_ref() {
            return Err(src.error(
                Some(n.span()),
                format!("{key}.needs"),
                "a workload cannot need itself",
            ));
        }
        needs.push(WorkloadId(idx as u16));
    }
    Ok(needs)
}
