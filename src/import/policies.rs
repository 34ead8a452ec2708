//! The generated policies: `as-is` (today's pools and placement),
//! `split` (a tainted system pool sized for the system pods, which select
//! and tolerate it; the rest unchanged) and `as-is-priority`
//! (`system-cluster-critical` for system workloads without a class).

use std::collections::BTreeMap;

use crate::cloud::{InstanceType, builtin_instance_types};
use crate::quantity::{Bytes, MilliCpu};
use crate::scenario::file::{
    ClassPlacementFile, EffectFile, InstanceTypeFile, NodeAffinityFile, NodePoolFile,
    PlacementFile, PolicyFile, PoolFile, SelectorOperatorFile, TaintFile, TolerationFile,
    TolerationOperatorFile,
};

use super::notes::Notes;
use super::services::Extra;
use super::template::PodTemplate;
use super::workloads::{Controller, Workload};

/// The label that marks the split policy's system pool.
pub const SYSTEM_POOL_LABEL: &str = "poolsim/pool";
/// The taint that keeps other pods off it (as EKS add-ons tolerate it).
pub const SYSTEM_POOL_TAINT: &str = "CriticalAddonsOnly";

fn spanned<T>(v: T) -> toml::Spanned<T> {
    toml::Spanned::new(0..0, v)
}

/// The three policies.
pub fn policies(
    pools: &[PoolFile],
    nodepools: &[NodePoolFile],
    workloads: &[Workload],
    extra: &[Extra],
    types: &[InstanceTypeFile],
    notes: &mut Notes,
) -> Vec<PolicyFile> {
    let base = |name: &str, description: &str| PolicyFile {
        name: spanned(name.to_string()),
        description: description.to_string(),
        pools: pools.to_vec(),
        nodepools: nodepools.to_vec(),
        karpenter: None,
        placement: PlacementFile::default(),
        overprovision: None,
        autoscaler: None,
    };
    let mut out = vec![base("as-is", "Today's pools and placement, as imported.")];
    if let Some(split) = split(pools, workloads, extra, types, notes) {
        let mut p = base(
            "split",
            "A tainted system pool sized for the system pods, which select and tolerate it; every other pool as today.",
        );
        p.pools.push(split.pool);
        p.placement.system = Some(split.placement);
        out.push(p);
    }
    let mut p = base(
        "as-is-priority",
        "Today's pools; system workloads that name no PriorityClass get system-cluster-critical.",
    );
    p.placement.system = Some(ClassPlacementFile {
        priority_class: Some(spanned("system-cluster-critical".to_string())),
        ..ClassPlacementFile::default()
    });
    out.push(p);
    out
}

struct Split {
    pool: PoolFile,
    placement: ClassPlacementFile,
}

/// Whether labels satisfy a workload's nodeSelector and required node
/// affinity.
fn selects(w: &Workload, labels: &BTreeMap<String, String>) -> bool {
    let t = &w.template;
    let sel = t
        .node_selector
        .iter()
        .all(|(k, v)| labels.get(k) == Some(v));
    let aff = match &t.node_affinity {
        Some(NodeAffinityFile { required, .. }) if !required.is_empty() => {
            required.iter().any(|term| {
                term.iter().all(|r| {
                    let have = labels.get(&r.key);
                    match r.operator {
                        SelectorOperatorFile::In => have.is_some_and(|v| r.values.contains(v)),
                        SelectorOperatorFile::NotIn => !have.is_some_and(|v| r.values.contains(v)),
                        SelectorOperatorFile::Exists => have.is_some(),
                        SelectorOperatorFile::DoesNotExist => have.is_none(),
                    }
                })
            })
        }
        _ => true,
    };
    sel && aff
}

/// The model's allocatable of a type by name.
fn allocatable(name: &str, types: &[InstanceTypeFile]) -> Option<(MilliCpu, Bytes, u32)> {
    let t = match types.iter().find(|t| t.name == name) {
        Some(f) => InstanceType {
            name: f.name.clone(),
            cpu: f.cpu.0,
            memory: f.memory.0,
            max_pods: f.max_pods,
            gpu: f.gpu.unwrap_or(0),
            price_per_hour: f.price_per_hour,
        },
        None => builtin_instance_types()
            .into_iter()
            .find(|t| t.name == name)?,
    };
    let a = t.allocatable();
    Some((a.cpu, a.memory, t.max_pods))
}

/// The system pool: the type, zones and labels of the largest untainted
/// pool, enough nodes for the system pods (after the DaemonSets' share of
/// each node) plus one spare, at least two.
fn split(
    pools: &[PoolFile],
    workloads: &[Workload],
    extra: &[Extra],
    types: &[InstanceTypeFile],
    notes: &mut Notes,
) -> Option<Split> {
    let base = pools
        .iter()
        .filter(|p| {
            p.taints
                .iter()
                .all(|t| t.effect == EffectFile::PreferNoSchedule)
        })
        .max_by_key(|p| {
            (
                *p.desired.get_ref(),
                std::cmp::Reverse(p.name.get_ref().clone()),
            )
        })?;
    let (acpu, amem, apods) = allocatable(base.instance_type.get_ref(), types)?;
    let mut labels = base.labels.clone();
    labels.insert(SYSTEM_POOL_LABEL.into(), "system".into());
    let (pods, daemons, except) = system_demand(workloads, extra, &labels, notes);
    let room = Demand {
        cpu: acpu.0.saturating_sub(daemons.cpu).max(1),
        memory: amem.0.saturating_sub(daemons.memory).max(1),
        pods: u64::from(apods).saturating_sub(daemons.pods).max(1),
    };
    let need = pods
        .cpu
        .div_ceil(room.cpu)
        .max(pods.memory.div_ceil(room.memory))
        .max(pods.pods.div_ceil(room.pods));
    let nodes = u32::try_from(need.saturating_add(1).max(2)).unwrap_or(u32::MAX);
    let name = if pools.iter().any(|p| p.name.get_ref() == "system") {
        "system-split"
    } else {
        "system"
    };
    let mut pool = base.clone();
    pool.name = spanned(name.to_string());
    pool.desired = spanned(nodes);
    pool.min = None;
    pool.max = None;
    pool.labels = labels;
    pool.taints = vec![TaintFile {
        key: SYSTEM_POOL_TAINT.into(),
        value: "true".into(),
        effect: EffectFile::NoSchedule,
    }];
    pool.warm_pool = None;
    pool.fallback_types = base.fallback_types.clone();
    Some(Split {
        pool,
        placement: ClassPlacementFile {
            node_selector: BTreeMap::from([(SYSTEM_POOL_LABEL.into(), "system".into())]),
            priority_class: None,
            tolerations: vec![TolerationFile {
                key: SYSTEM_POOL_TAINT.into(),
                operator: Some(TolerationOperatorFile::Exists),
                value: String::new(),
                effect: Some(EffectFile::NoSchedule),
                toleration_seconds: None,
            }],
            node_affinity: None,
            except,
        },
    })
}

/// Requests summed over pods: cpu (millicores), memory (bytes), pods.
#[derive(Debug, Clone, Copy, Default)]
struct Demand {
    cpu: u64,
    memory: u64,
    pods: u64,
}

impl Demand {
    /// Adds `n` pods of the template's requests.
    fn add(&mut self, t: &PodTemplate, n: u64) {
        self.cpu = self.cpu.saturating_add(t.cpu.0.saturating_mul(n));
        self.memory = self.memory.saturating_add(t.memory.0.saturating_mul(n));
        self.pods = self.pods.saturating_add(n);
    }
}

/// What the system workloads ask of the system pool (its nodes' `labels`):
/// the pods that move there, one pod per node of each DaemonSet, and the
/// workloads the placement leaves out (DaemonSets, and those whose own
/// selectors rule the pool out, noted).
fn system_demand(
    workloads: &[Workload],
    extra: &[Extra],
    labels: &BTreeMap<String, String>,
    notes: &mut Notes,
) -> (Demand, Demand, Vec<toml::Spanned<String>>) {
    let (mut pods, mut daemons) = (Demand::default(), Demand::default());
    let mut except = Vec::new();
    for (w, e) in workloads.iter().zip(extra) {
        if !e.system {
            continue;
        }
        let t = &w.template;
        if w.controller == Controller::DaemonSet {
            daemons.add(t, 1);
            except.push(spanned(w.scenario_name.clone()));
            continue;
        }
        if !selects(w, labels) {
            notes.approximate(
                "split: system workloads whose own selectors rule out the system pool stay where they are",
                &w.id,
            );
            except.push(spanned(w.scenario_name.clone()));
            continue;
        }
        let n = u64::from(match &w.job {
            Some(j) => j.parallelism,
            None => w.replicas,
        });
        pods.add(t, n);
    }
    (pods, daemons, except)
}
