//! The scenario file from what was derived: run settings, zones, instance
//! types, PriorityClasses, one `[[workloads]]` per workload, the policies
//! and the story's fault (every instance terminated at 30m).

use std::collections::BTreeMap;

use crate::engine::Millis;
use crate::scenario::file::{
    ArrivalsFile, DelayFile, FaultFile, FaultKindFile, InstanceTypeFile, InstancesFile, KindFile,
    KubernetesFile, PodManagementPolicyFile, PolicyFile, PriorityClassFile, ScenarioFile,
    VolumeClaimFile, WebhookFile, WorkloadFile,
};
use crate::scenario::units::{CpuText, DurationText, MemoryText};

use super::services::{Extra, class_file};
use super::topology::Written;
use super::workloads::{Controller, Workload};

fn spanned<T>(v: T) -> toml::Spanned<T> {
    toml::Spanned::new(0..0, v)
}

fn duration(seconds: u64) -> DurationText {
    DurationText(Millis(seconds.saturating_mul(1000)))
}

/// Job work when no finished Job says how long one takes.
pub const DEFAULT_WORK_SECONDS: u64 = 600;

/// The parts of the scenario.
pub struct Parts {
    /// Scenario name.
    pub name: String,
    /// Zones of every pool.
    pub zones: Vec<String>,
    /// Kubernetes minor version.
    pub version: Option<String>,
    /// Types not in the catalogue.
    pub instance_types: Vec<InstanceTypeFile>,
    /// PriorityClasses.
    pub priority_classes: Vec<PriorityClassFile>,
    /// Policies.
    pub policies: Vec<PolicyFile>,
}

/// The whole file.
pub fn scenario(
    parts: Parts,
    workloads: &[Workload],
    extra: &[Extra],
    rules: &[Written],
) -> ScenarioFile {
    ScenarioFile {
        name: parts.name,
        description: "Imported by `poolsim import`: today's cluster (as-is) and two fixes (split, as-is-priority) under the loss of every instance at 30m.".into(),
        horizon: duration(2 * 3600),
        seeds: Some(100),
        first_seed: None,
        sweep: None,
        detection_window: Some(duration(600)),
        zones: Some(parts.zones),
        instance_types: parts.instance_types,
        instances: InstancesFile {
            launch_delay: Some(DelayFile::Lognormal {
                median: duration(40),
                p95: duration(90),
            }),
            boot_delay: Some(DelayFile::Lognormal {
                median: duration(60),
                p95: duration(120),
            }),
            ..InstancesFile::default()
        },
        kubernetes: KubernetesFile {
            version: parts.version.map(spanned),
            ..KubernetesFile::default()
        },
        priority_classes: parts.priority_classes,
        workloads: workloads
            .iter()
            .zip(extra)
            .zip(rules)
            .map(|((w, e), r)| workload(w, e, r, workloads))
            .collect(),
        policies: parts.policies,
        faults: vec![FaultFile {
            kind: spanned(FaultKindFile::TerminateAll),
            at: Some(duration(1800)),
            every: None,
            until: None,
            pool: None,
            zone: None,
            fraction: None,
            count: None,
            over: None,
            duration: None,
            mtbf: None,
            notice: None,
            drain: None,
            min_healthy_percentage: None,
            warmup: None,
        }],
    }
}

fn workload(w: &Workload, e: &Extra, rules: &Written, all: &[Workload]) -> WorkloadFile {
    let t = &w.template;
    let r = &t.requests;
    let single = r.is_single();
    let kind = match w.controller {
        Controller::Deployment | Controller::BarePod => None,
        Controller::StatefulSet => Some(KindFile::Statefulset),
        Controller::DaemonSet => Some(KindFile::Daemonset),
        Controller::CronJob | Controller::Job => Some(KindFile::Job),
    };
    let name_of = |i: &usize| spanned(all[*i].scenario_name.clone());
    let job = w.job.as_ref();
    WorkloadFile {
        name: spanned(w.scenario_name.clone()),
        class: class_file(e),
        kind,
        network_plugin: e.network_plugin,
        replicas: matches!(
            w.controller,
            Controller::Deployment | Controller::BarePod | Controller::StatefulSet
        )
        .then_some(w.replicas),
        // One container alone: the workload's own keys, as before
        // containers could be written.
        cpu: single.then_some(CpuText(t.cpu)),
        memory: single.then_some(MemoryText(t.memory)),
        gpu: (single && r.total.gpu > 0).then(|| spanned(r.total.gpu)),
        containers: if single {
            Vec::new()
        } else {
            r.containers.clone()
        },
        init_containers: r.init_containers.clone(),
        overhead: r.overhead.clone(),
        min_available: e.min_available,
        needs: e.needs.iter().map(name_of).collect(),
        node_selector: t.node_selector.clone(),
        priority_class: t.priority_class.clone().map(spanned),
        tolerations: t.tolerations.clone(),
        node_affinity: t.node_affinity.clone(),
        termination_grace: t.termination_grace_seconds.map(duration),
        webhook: e.webhook.as_ref().map(|(policy, gated)| WebhookFile {
            failure_policy: Some(*policy),
            workloads: gated.iter().map(name_of).collect(),
            classes: Vec::new(),
        }),
        completions: job.map(|j| j.completions),
        parallelism: job.map(|j| j.parallelism),
        work: job.map(|j| DelayFile::Fixed {
            value: duration(j.work_seconds.unwrap_or(DEFAULT_WORK_SECONDS)),
        }),
        failure_probability: None,
        backoff_limit: job.and_then(|j| j.backoff_limit),
        arrivals: job.and_then(|j| j.rate_per_hour).map(|r| ArrivalsFile {
            rate_per_hour: Some(r),
            ..ArrivalsFile::default()
        }),
        pdb: e.pdb.clone(),
        do_not_disrupt: t.do_not_disrupt.then_some(true),
        pod_management_policy: (w.controller == Controller::StatefulSet && w.parallel)
            .then_some(PodManagementPolicyFile::Parallel),
        service_name: None,
        volume_claims: w
            .claim_templates
            .iter()
            .map(|c| VolumeClaimFile {
                name: spanned(c.clone()),
                attach_delay: None,
            })
            .collect(),
        readiness_delay: t
            .readiness_seconds
            .filter(|&s| s > 0 && job.is_none())
            .map(|s| DelayFile::Fixed { value: duration(s) }),
        labels: rules.labels.clone(),
        topology_spread: rules.spread.clone(),
        pod_affinity: rules.affinity.clone(),
        pod_anti_affinity: rules.anti.clone(),
    }
}

/// Source comments per workload name: where each came from.
pub fn origins(workloads: &[Workload], extra: &[Extra]) -> BTreeMap<String, String> {
    workloads
        .iter()
        .zip(extra)
        .map(|(w, e)| {
            let mut s = w.id.clone();
            if let Some((lo, hi)) = e.hpa {
                s.push_str(&format!("; HPA {lo}-{hi}"));
            }
            if w.pending > 0 {
                s.push_str(&format!("; {} Pending", w.pending));
            }
            (w.scenario_name.clone(), s)
        })
        .collect()
}
