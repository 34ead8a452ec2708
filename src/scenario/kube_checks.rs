//! Validation of the Kubernetes objects of a scenario: PriorityClasses, a
//! workload's Kubernetes-side keys (kind, replicas, priority, tolerations
//! and node affinity through `placement.rs`, PodDisruptionBudget),
//! per-class placement rules, DaemonSet tolerations, admission webhooks and
//! overprovisioning placeholders. The `[kubernetes]` table's control plane
//! is `control_plane_checks.rs`'s.

use std::collections::{BTreeMap, BTreeSet};

use crate::engine::Millis;
use crate::kube::affinity::NodeAffinity;
use crate::kube::taint::TolerationOperator;
use crate::kube::taint::{NOT_READY, UNREACHABLE, UNSCHEDULABLE};
use crate::kube::{
    PodClass, PreemptionPolicy, TaintEffect, Toleration, WorkloadKind, WorkloadSpec,
};
use crate::quantity::Resources;

use super::ScenarioError;
use super::file::{
    ClassPlacementFile, KindFile, OverprovisionFile, PreemptionPolicyFile, ScenarioFile,
    WorkloadFile,
};
use super::placement::{affinity, tolerations};
use super::validate::Source;

/// `system-cluster-critical` (`pkg/apis/scheduling/types.go`).
pub const SYSTEM_CLUSTER_CRITICAL: i32 = 2_000_000_000;
/// `system-node-critical`.
pub const SYSTEM_NODE_CRITICAL: i32 = 2_000_001_000;
/// Highest value of a user-defined PriorityClass
/// (`HighestUserDefinablePriority`).
pub const HIGHEST_USER_PRIORITY: i64 = 1_000_000_000;
/// Default priority of overprovisioning placeholders: -1, the value of the
/// cluster-autoscaler FAQ's example PriorityClass ("How can I configure
/// overprovisioning"), above its expendable cutoff of -10 so placeholders
/// still trigger scale-up. kubernetes.io's node-overprovisioning task uses
/// -1000 instead; no single value is canonical, so it is a parameter.
pub const DEFAULT_PLACEHOLDER_PRIORITY: i32 = -1;

/// A resolved PriorityClass.
pub type PriorityValue = (i32, PreemptionPolicy);

/// The PriorityClasses by name, and the global default (0 without one).
#[derive(Debug, Clone)]
pub struct PriorityClasses {
    /// By name, including the two built-in system classes.
    pub by_name: BTreeMap<String, PriorityValue>,
    /// What a pod without a class gets.
    pub default: PriorityValue,
}

/// Per-class rules of a policy beyond its nodeSelector.
#[derive(Debug, Clone, Default)]
pub struct ClassRules {
    /// PriorityClass for pods that name none.
    pub priority: Option<PriorityValue>,
    /// Extra tolerations.
    pub tolerations: Vec<Toleration>,
    /// Extra node affinity (ANDed).
    pub affinity: NodeAffinity,
    /// Workloads the class's rules (selector included) skip.
    pub except: BTreeSet<String>,
}

/// Reads the file's PriorityClasses.
pub(super) fn priority_classes(
    src: &Source<'_>,
    raw: &ScenarioFile,
) -> Result<PriorityClasses, ScenarioError> {
    let mut by_name = BTreeMap::new();
    by_name.insert(
        "system-cluster-critical".to_string(),
        (
            SYSTEM_CLUSTER_CRITICAL,
            PreemptionPolicy::PreemptLowerPriority,
        ),
    );
    by_name.insert(
        "system-node-critical".to_string(),
        (SYSTEM_NODE_CRITICAL, PreemptionPolicy::PreemptLowerPriority),
    );
    let mut default = (0, PreemptionPolicy::PreemptLowerPriority);
    let mut defaults = 0;
    for pc in &raw.priority_classes {
        let name = pc.name.get_ref();
        let key = format!("priority_classes.{name}");
        if by_name.contains_key(name) {
            return Err(src.error(
                Some(pc.name.span()),
                key,
                "duplicate PriorityClass name (system-cluster-critical and system-node-critical are built in)",
            ));
        }
        let v = *pc.value.get_ref();
        if v > HIGHEST_USER_PRIORITY || v < i64::from(i32::MIN) {
            return Err(src.error(
                Some(pc.value.span()),
                format!("{key}.value"),
                format!("must lie within [-2147483648, {HIGHEST_USER_PRIORITY}]"),
            ));
        }
        let policy = match pc.preemption_policy {
            None | Some(PreemptionPolicyFile::PreemptLowerPriority) => {
                PreemptionPolicy::PreemptLowerPriority
            }
            Some(PreemptionPolicyFile::Never) => PreemptionPolicy::Never,
        };
        by_name.insert(name.clone(), (v as i32, policy));
        if pc.global_default {
            defaults += 1;
            if defaults > 1 {
                return Err(src.error(
                    Some(pc.name.span()),
                    format!("{key}.global_default"),
                    "only one PriorityClass may be the global default",
                ));
            }
            default = (v as i32, policy);
        }
    }
    Ok(PriorityClasses { by_name, default })
}

/// Looks a class up by name.
pub(super) fn lookup(
    src: &Source<'_>,
    classes: &PriorityClasses,
    name: &toml::Spanned<String>,
    key: &str,
) -> Result<PriorityValue, ScenarioError> {
    classes.by_name.get(name.get_ref()).copied().ok_or_else(|| {
        let known: Vec<&str> = classes.by_name.keys().map(|s| s.as_str()).collect();
        src.error(
            Some(name.span()),
            key.to_string(),
            format!(
                "no PriorityClass named `{}` (known: {})",
                name.get_ref(),
                known.join(", ")
            ),
        )
    })
}

/// The rules of one class in one policy.
pub(super) fn class_rules(
    src: &Source<'_>,
    classes: &PriorityClasses,
    raw: &ScenarioFile,
    c: &ClassPlacementFile,
    key: &str,
    span: Option<std::ops::Range<usize>>,
) -> Result<ClassRules, ScenarioError> {
    let priority = match &c.priority_class {
        Some(name) => Some(lookup(
            src,
            classes,
            name,
            &format!("{key}.priority_class"),
        )?),
        None => None,
    };
    let mut except = BTreeSet::new();
    for e in &c.except {
        if !raw
            .workloads
            .iter()
            .any(|w| w.name.get_ref() == e.get_ref())
        {
            return Err(src.error(
                Some(e.span()),
                format!("{key}.except"),
                format!("no workload named `{}`", e.get_ref()),
            ));
        }
        except.insert(e.get_ref().clone());
    }
    Ok(ClassRules {
        priority,
        tolerations: tolerations(src, &c.tolerations, key, span.clone())?,
        affinity: affinity(src, c.node_affinity.as_ref(), key, span)?,
        except,
    })
}

/// The tolerations the DaemonSet controller adds to its pods
/// (`pkg/controller/daemon/util/daemonset_util.go`
/// `AddOrUpdateDaemonPodTolerations`): not-ready and unreachable NoExecute
/// without a time limit, unschedulable NoSchedule. A network plugin
/// tolerates every taint, as aws-node does (`operator: Exists`).
fn daemonset_tolerations(network_plugin: bool) -> Vec<Toleration> {
    let mut t = vec![
        Toleration::exists(NOT_READY, TaintEffect::NoExecute),
        Toleration::exists(UNREACHABLE, TaintEffect::NoExecute),
        Toleration::exists(UNSCHEDULABLE, TaintEffect::NoSchedule),
    ];
    if network_plugin {
        t.push(Toleration {
            key: String::new(),
            operator: TolerationOperator::Exists,
            value: String::new(),
            effect: None,
            toleration_seconds: None,
        });
    }
    t
}

/// The Kubernetes-side fields of a workload: kind, priority, tolerations,
/// affinity and grace period, with the replicas it keeps.
pub(super) struct WorkloadKube {
    pub kind: WorkloadKind,
    pub replicas: u32,
    pub own_priority: Option<PriorityValue>,
    pub priority: PriorityValue,
    pub tolerations: Vec<Toleration>,
    pub affinity: NodeAffinity,
    pub termination_grace: Millis,
    pub job: Option<crate::kube::job::JobSpec>,
    pub pdb: Option<crate::kube::Pdb>,
    pub statefulset: Option<crate::kube::StatefulSetSpec>,
    pub readiness_delay: Option<crate::quantity::Delay>,
}

/// Checks and builds a workload's Kubernetes-side fields.
pub(super) fn workload(
    src: &Source<'_>,
    classes: &PriorityClasses,
    w: &WorkloadFile,
) -> Result<WorkloadKube, ScenarioError> {
    let key = format!("workloads.{}", w.name.get_ref());
    let span = Some(w.name.span());
    let kind = workload_kind(src, w, &key)?;
    let job = super::jobs::job(src, w, kind, &key)?;
    let statefulset = super::stateful_checks::statefulset(src, w, kind, &key)?;
    let replicas = replicas(src, w, kind, &key)?;
    if w.min_available.is_some() && kind == WorkloadKind::Job {
        return Err(src.error(
            span,
            format!("{key}.min_available"),
            "a Job is not a service",
        ));
    }
    let own_priority = match &w.priority_class {
        Some(n) => Some(lookup(src, classes, n, &format!("{key}.priority_class"))?),
        None => None,
    };
    let readiness_delay = readiness_delay(src, w, kind, &key)?;
    let mut tolerations = tolerations(src, &w.tolerations, &key, span.clone())?;
    if let WorkloadKind::DaemonSet { network_plugin } = kind {
        tolerations.extend(daemonset_tolerations(network_plugin));
    }
    Ok(WorkloadKube {
        kind,
        replicas,
        own_priority,
        priority: own_priority.unwrap_or(classes.default),
        tolerations,
        affinity: affinity(src, w.node_affinity.as_ref(), &key, span)?,
        termination_grace: w.termination_grace.map_or(Millis::from_secs(30), |d| d.0),
        job,
        statefulset,
        readiness_delay,
        pdb: pdb(src, w, &key)?,
    })
}

/// A workload's kind (a Deployment unless it says otherwise); only a
/// DaemonSet may be the network plugin.
fn workload_kind(
    src: &Source<'_>,
    w: &WorkloadFile,
    key: &str,
) -> Result<WorkloadKind, ScenarioError> {
    let kind = match w.kind.unwrap_or(KindFile::Deployment) {
        KindFile::Deployment => WorkloadKind::Deployment,
        KindFile::Daemonset => WorkloadKind::DaemonSet {
            network_plugin: w.network_plugin,
        },
        KindFile::Job => WorkloadKind::Job,
        KindFile::Statefulset => WorkloadKind::StatefulSet,
    };
    if w.network_plugin && !matches!(kind, WorkloadKind::DaemonSet { .. }) {
        return Err(src.error(
            Some(w.name.span()),
            format!("{key}.network_plugin"),
            "only a DaemonSet (kind = \"daemonset\") can be a network plugin",
        ));
    }
    Ok(kind)
}

/// The replicas a workload keeps: required of a Deployment and a
/// StatefulSet, refused for a DaemonSet (one pod per node) and a Job
/// (completions and parallelism), which keep 0.
fn replicas(
    src: &Source<'_>,
    w: &WorkloadFile,
    kind: WorkloadKind,
    key: &str,
) -> Result<u32, ScenarioError> {
    let refuse =
        |message: &str| Err(src.error(Some(w.name.span()), format!("{key}.replicas"), message));
    match (kind, w.replicas) {
        (WorkloadKind::Deployment | WorkloadKind::StatefulSet, Some(r)) => Ok(r),
        (WorkloadKind::StatefulSet, None) => refuse("a StatefulSet needs replicas"),
        (WorkloadKind::Deployment, None) => refuse("a Deployment needs replicas"),
        (WorkloadKind::DaemonSet { .. }, Some(_)) => {
            refuse("a DaemonSet runs one pod per node; it takes no replicas")
        }
        (WorkloadKind::Job, Some(_)) => {
            refuse("a Job takes completions and parallelism, not replicas")
        }
        (WorkloadKind::DaemonSet { .. } | WorkloadKind::Job, None) => Ok(0),
    }
}

/// A workload's PodDisruptionBudget: exactly one of `min_available` and
/// `max_unavailable`.
fn pdb(
    src: &Source<'_>,
    w: &WorkloadFile,
    key: &str,
) -> Result<Option<crate::kube::Pdb>, ScenarioError> {
    let Some(p) = &w.pdb else {
        return Ok(None);
    };
    match (p.min_available, p.max_unavailable) {
        (Some(m), None) => Ok(Some(crate::kube::Pdb::MinAvailable(m))),
        (None, Some(u)) => Ok(Some(crate::kube::Pdb::MaxUnavailable(u))),
        _ => Err(src.error(
            Some(w.name.span()),
            format!("{key}.pdb"),
            "give exactly one of `min_available`, `max_unavailable`",
        )),
    }
}

/// A workload's `readiness_delay`: `None` when it is absent or always
/// zero (Ready as it starts, exactly as without the key); refused for a
/// Job, whose pods do their work whether Ready or not.
fn readiness_delay(
    src: &Source<'_>,
    w: &WorkloadFile,
    kind: WorkloadKind,
    key: &str,
) -> Result<Option<crate::quantity::Delay>, ScenarioError> {
    let Some(d) = &w.readiness_delay else {
        return Ok(None);
    };
    let at = |m: String| src.error(Some(w.name.span()), format!("{key}.readiness_delay"), m);
    if kind == WorkloadKind::Job {
        return Err(at(
            "a Job's pods do their work from the start; readiness_delay is for Deployments, StatefulSets and DaemonSets".into(),
        ));
    }
    let d = super::validate::delay(d).map_err(at)?;
    Ok((d != crate::quantity::Delay::Fixed(Millis::ZERO)).then_some(d))
}

/// The placeholder workload of a policy's `overprovision`.
pub(super) fn overprovision(
    src: &Source<'_>,
    o: &OverprovisionFile,
    key: &str,
) -> Result<WorkloadSpec, ScenarioError> {
    Ok(WorkloadSpec {
        name: "overprovisioning".into(),
        class: PodClass::User,
        replicas: o.replicas,
        requests: Resources::new(o.cpu.0, o.memory.0),
        node_selector: o.node_selector.clone(),
        min_available: None,
        needs: Vec::new(),
        kind: WorkloadKind::Deployment,
        priority: o.priority.unwrap_or(DEFAULT_PLACEHOLDER_PRIORITY),
        // The pause pods never need to preempt anything.
        preemption_policy: PreemptionPolicy::Never,
        tolerations: tolerations(src, &o.tolerations, key, None)?,
        affinity: NodeAffinity::default(),
        // A pause container exits at once on SIGTERM.
        termination_grace: Millis::ZERO,
        placeholder: true,
        statefulset: None,
        readiness_delay: None,
        topology_spread: Vec::new(),
        pod_affinity: Default::default(),
        webhooks: Vec::new(),
        job: None,
        pdb: None,
        do_not_disrupt: false,
    })
}

/// Resolves every service's `webhook` into the gated workloads' lists.
pub(super) fn webhooks(
    src: &Source<'_>,
    raw: &ScenarioFile,
    workloads: &mut [WorkloadSpec],
) -> Result<(), ScenarioError> {
    use super::file::{ClassFile, FailurePolicyFile};
    for (i, w) in raw.workloads.iter().enumerate() {
        let Some(hook) = &w.webhook else { continue };
        let key = format!("workloads.{}.webhook", w.name.get_ref());
        if w.min_available.is_none() {
            return Err(src.error(
                Some(w.name.span()),
                key,
                "a webhook is served by a service: give the workload `min_available`",
            ));
        }
        if hook.failure_policy == Some(FailurePolicyFile::Ignore) {
            continue;
        }
        let mut targets = Vec::new();
        for name in &hook.workloads {
            let Some(t) = raw
                .workloads
                .iter()
                .position(|x| x.name.get_ref() == name.get_ref())
            else {
                return Err(src.error(
                    Some(name.span()),
                    format!("{key}.workloads"),
                    format!("no workload named `{}`", name.get_ref()),
                ));
            };
            if t == i {
                return Err(src.error(
                    Some(name.span()),
                    format!("{key}.workloads"),
                    "a webhook cannot gate its own pods (it could never start again)",
                ));
            }
            targets.push(t);
        }
        for class in &hook.classes {
            let class = match class {
                ClassFile::System => PodClass::System,
                ClassFile::User => PodClass::User,
            };
            for (t, x) in workloads.iter().enumerate() {
                if t != i
                    && x.class == class
                    && matches!(
                        x.kind,
                        WorkloadKind::Deployment | WorkloadKind::Job | WorkloadKind::StatefulSet
                    )
                {
                    targets.push(t);
                }
            }
        }
        for t in targets {
            let id = crate::kube::WorkloadId(i as u16);
            if !workloads[t].webhooks.contains(&id) {
                workloads[t].webhooks.push(id);
            }
        }
    }
    Ok(())
}
