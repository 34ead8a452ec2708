//! What `poolsim validate` prints about placement: every workload's
//! effective nodeSelector, tolerations, node affinity and priority under a
//! policy, after the policy's class rules (`Scenario::workloads_under`), so
//! a user sees what will run where before running it.

use std::fmt::Write;

use crate::kube::affinity::{Requirement, SelectorOperator, Term};
use crate::kube::taint::TolerationOperator;
use crate::kube::{PreemptionPolicy, Toleration, WorkloadKind};
use crate::scenario::{Policy, Scenario};

/// The `placement:` block of one policy: a line per workload, then the
/// overprovisioning placeholders.
pub(super) fn effective_placement(out: &mut String, s: &Scenario, policy: &Policy) {
    let _ = writeln!(out, "    placement (effective, after the policy's rules):");
    for w in s.workloads_under(policy) {
        let mut parts = Vec::new();
        parts.push(if w.node_selector.is_empty() {
            "select any".to_string()
        } else {
            let sel: Vec<String> = w
                .node_selector
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            format!("select {}", sel.join(","))
        });
        if !w.affinity.required.is_empty() {
            let terms: Vec<String> = w.affinity.required.iter().map(term_text).collect();
            parts.push(format!("require {}", terms.join(" or ")));
        }
        if !w.tolerations.is_empty() {
            let t: Vec<String> = w.tolerations.iter().map(toleration_text).collect();
            parts.push(format!("tolerate {}", t.join(", ")));
        }
        parts.push(format!(
            "priority {}{}",
            w.priority,
            match w.preemption_policy {
                PreemptionPolicy::PreemptLowerPriority => "",
                PreemptionPolicy::Never => " (never preempts)",
            }
        ));
        let name = if w.placeholder {
            "(overprovision)".to_string()
        } else {
            w.name.clone()
        };
        let kind = match w.kind {
            WorkloadKind::Deployment => "deployment",
            WorkloadKind::DaemonSet { .. } => "daemonset",
            WorkloadKind::Job => "job",
            WorkloadKind::StatefulSet => "statefulset",
        };
        let _ = writeln!(out, "      {name:<20} {kind:<10} {}", parts.join("; "));
    }
}

/// `key=value:Effect`, `key:Exists` or `*` (every taint), as a toleration
/// reads in a pod spec.
fn toleration_text(t: &Toleration) -> String {
    let what = match (t.key.is_empty(), t.operator) {
        (true, _) => "*".to_string(),
        (false, TolerationOperator::Exists) => t.key.clone(),
        (false, TolerationOperator::Equal) => format!("{}={}", t.key, t.value),
    };
    let effect = t.effect.map(|e| format!(":{e:?}")).unwrap_or_default();
    let secs = t
        .toleration_seconds
        .map(|d| format!(" for {}", crate::quantity::format_duration(d)))
        .unwrap_or_default();
    format!("{what}{effect}{secs}")
}

/// One required node selector term: its requirements ANDed.
fn term_text(term: &Term) -> String {
    let reqs: Vec<String> = term.iter().map(requirement_text).collect();
    format!("({})", reqs.join(" and "))
}

fn requirement_text(r: &Requirement) -> String {
    match r.operator {
        SelectorOperator::In => format!("{} in [{}]", r.key, r.values.join(",")),
        SelectorOperator::NotIn => format!("{} notin [{}]", r.key, r.values.join(",")),
        SelectorOperator::Exists => format!("{} exists", r.key),
        SelectorOperator::DoesNotExist => format!("{} absent", r.key),
    }
}
