//! Nodes: what each one is (instance type, zone, labels, taints,
//! capacity, allocatable) and which group it belongs to (a managed node
//! group, a Karpenter NodePool, an ASG by instance id, or none), and the
//! instance types the scenario needs.

use std::collections::{BTreeMap, BTreeSet};

use crate::cloud::builtin_instance_types;
use crate::quantity::{Bytes, MilliCpu};
use crate::scenario::file::{InstanceTypeFile, TaintFile};
use crate::scenario::units::{CpuText, MemoryText};

use super::ImportError;
use super::notes::Notes;
use super::object::{At, Object};
use super::template::taint_effect;

/// The label of a managed node group's nodes.
pub const NODEGROUP_LABEL: &str = "eks.amazonaws.com/nodegroup";
/// The label of a Karpenter NodePool's nodes.
pub const NODEPOOL_LABEL: &str = "karpenter.sh/nodepool";
/// The instance type label.
pub const TYPE_LABEL: &str = "node.kubernetes.io/instance-type";
/// The zone label.
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// Labels that differ from node to node by nature; never a pool's label.
const PER_NODE_LABELS: &[&str] = &[
    "kubernetes.io/hostname",
    "topology.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/zone",
    "topology.ebs.csi.aws.com/zone",
    "topology.k8s.aws/zone-id",
    "karpenter.sh/nodeclaim",
];

/// Taints a node carries because of its state, not its configuration.
fn runtime_taint(key: &str) -> bool {
    key.starts_with("node.kubernetes.io/")
        || key.starts_with("node.cloudprovider.kubernetes.io/")
        || matches!(
            key,
            "ToBeDeletedByClusterAutoscaler"
                | "DeletionCandidateOfClusterAutoscaler"
                | "karpenter.sh/disrupted"
                | "karpenter.sh/unregistered"
        )
}

/// Which group a node belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum GroupKey {
    /// An EKS managed node group, by name.
    NodeGroup(String),
    /// A Karpenter NodePool, by name.
    NodePool(String),
    /// An ASG, by name (self-managed nodes matched by instance id).
    Asg(String),
    /// No group.
    None,
}

/// One node as the importer reads it.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    /// `metadata.name`.
    pub name: String,
    /// The EC2 instance id from `spec.providerID`.
    pub instance_id: Option<String>,
    /// `topology.kubernetes.io/zone`.
    pub zone: Option<String>,
    /// `node.kubernetes.io/instance-type`.
    pub instance_type: String,
    /// `metadata.labels`.
    pub labels: BTreeMap<String, String>,
    /// Configured taints (`spec.taints` less the run-time ones).
    pub taints: Vec<TaintFile>,
    /// `status.capacity` cpu, memory and pods.
    pub capacity: (MilliCpu, Bytes, u32),
    /// `status.allocatable` cpu and memory.
    pub allocatable: (MilliCpu, Bytes),
    /// `status.capacity` `nvidia.com/gpu` (0 without).
    pub gpu: u32,
    /// `status.nodeInfo.kubeletVersion`.
    pub kubelet_version: Option<String>,
    /// Its group (set after the AWS inputs are matched).
    pub group: GroupKey,
}

/// Reads a Node object.
pub fn read_node(o: &Object) -> Result<NodeInfo, ImportError> {
    let root = o.root();
    let labels = o.labels()?;
    let instance_type = labels
        .get(TYPE_LABEL)
        .or_else(|| labels.get("beta.kubernetes.io/instance-type"))
        .cloned()
        .ok_or_else(|| {
            o.error_at(
                &format!(".metadata.labels[\"{TYPE_LABEL}\"]"),
                "missing: poolsim needs each node's instance type",
            )
        })?;
    let status = root.need("status").map_err(|b| o.error(b))?;
    let alloc = status.get("allocatable").ok_or_else(|| {
        o.error_at(
            ".status.allocatable",
            "missing: a node without allocatable resources cannot be imported",
        )
    })?;
    let cap = status.need("capacity").map_err(|b| o.error(b))?;
    let (ccpu, cmem) = resources(o, &cap)?;
    let pods = pod_capacity(o, &cap)?;
    let spec = root.get("spec");
    let provider = match &spec {
        Some(s) => s.str("providerID").map_err(|b| o.error(b))?,
        None => None,
    };
    let taints = match &spec {
        Some(s) => configured_taints(o, s)?,
        None => Vec::new(),
    };
    Ok(NodeInfo {
        name: o.name.clone(),
        instance_id: provider
            .and_then(|p| p.rsplit('/').next())
            .filter(|i| i.starts_with("i-"))
            .map(str::to_string),
        zone: labels.get(ZONE_LABEL).cloned(),
        instance_type,
        taints,
        capacity: (ccpu, cmem, pods),
        allocatable: resources(o, &alloc)?,
        gpu: match cap.get("nvidia.com/gpu") {
            Some(g) => super::template::gpus(&g).map_err(|b| o.error(b))?,
            None => 0,
        },
        kubelet_version: status
            .dig(&["nodeInfo", "kubeletVersion"])
            .and_then(|v| v.as_str().ok())
            .map(str::to_string),
        group: match (labels.get(NODEPOOL_LABEL), labels.get(NODEGROUP_LABEL)) {
            (Some(p), _) => GroupKey::NodePool(p.clone()),
            (None, Some(g)) => GroupKey::NodeGroup(g.clone()),
            _ => GroupKey::None,
        },
        labels,
    })
}

/// The cpu and memory of a node's `capacity` or `allocatable` `a`.
fn resources(o: &Object, a: &At<'_>) -> Result<(MilliCpu, Bytes), ImportError> {
    let cpu = a
        .cpu("cpu")
        .map_err(|b| o.error(b))?
        .ok_or_else(|| o.error_at(&format!("{}.cpu", a.path), "missing"))?;
    let mem = a
        .memory("memory")
        .map_err(|b| o.error(b))?
        .ok_or_else(|| o.error_at(&format!("{}.memory", a.path), "missing"))?;
    Ok((cpu, mem))
}

/// The pods a node's `capacity` holds: a positive number, written as a
/// string (as the API does) or a number.
fn pod_capacity(o: &Object, cap: &At<'_>) -> Result<u32, ImportError> {
    let pods_at = cap.need("pods").map_err(|b| o.error(b))?;
    pods_at
        .as_str()
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
        .or_else(|| pods_at.v.as_u64().and_then(|n| u32::try_from(n).ok()))
        .filter(|&n| n > 0)
        .ok_or_else(|| o.error_at(&pods_at.path, "expected a positive number of pods"))
}

/// A node's configured taints: those of its `spec` less the ones it
/// carries because of its state (`runtime_taint`), which the model sets
/// itself.
fn configured_taints(o: &Object, spec: &At<'_>) -> Result<Vec<TaintFile>, ImportError> {
    let mut taints = Vec::new();
    for t in spec.list("taints").map_err(|b| o.error(b))? {
        let key = t
            .need("key")
            .and_then(|k| k.as_str())
            .map_err(|b| o.error(b))?;
        if runtime_taint(key) {
            continue;
        }
        taints.push(TaintFile {
            key: key.to_string(),
            value: t.str("value").map_err(|b| o.error(b))?.unwrap_or("").into(),
            effect: taint_effect(&t).map_err(|b| o.error(b))?,
        });
    }
    Ok(taints)
}

/// Labels every node of a group has with the same value, less the
/// per-node ones.
pub fn common_labels(nodes: &[&NodeInfo]) -> BTreeMap<String, String> {
    let Some(first) = nodes.first() else {
        return BTreeMap::new();
    };
    first
        .labels
        .iter()
        .filter(|(k, v)| {
            !PER_NODE_LABELS.contains(&k.as_str())
                && nodes.iter().all(|n| n.labels.get(*k) == Some(*v))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Taints every node of a group has; others are noted.
pub fn common_taints(nodes: &[&NodeInfo], pool: &str, notes: &mut Notes) -> Vec<TaintFile> {
    let Some(first) = nodes.first() else {
        return Vec::new();
    };
    let same =
        |a: &TaintFile, b: &TaintFile| a.key == b.key && a.value == b.value && a.effect == b.effect;
    for n in nodes {
        for t in &n.taints {
            if !nodes.iter().all(|m| m.taints.iter().any(|x| same(x, t))) {
                notes.skip(
                    "taints on some nodes of a group only (the pool keeps the common ones)",
                    format!("pool {pool}: Node/{} {}", n.name, t.key),
                );
            }
        }
    }
    first
        .taints
        .iter()
        .filter(|t| nodes.iter().all(|n| n.taints.iter().any(|x| same(x, t))))
        .cloned()
        .collect()
}

/// The scenario's `instance_types`: one entry per type the nodes use that
/// the catalogue lacks (capacity from the node, price unknown), with a
/// note for each; and a note where the nodes' allocatable differs from
/// the model's for a catalogue type.
pub fn instance_types(nodes: &[NodeInfo], notes: &mut Notes) -> Vec<InstanceTypeFile> {
    let catalogue = builtin_instance_types();
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for n in nodes {
        if !seen.insert(n.instance_type.clone()) {
            continue;
        }
        match catalogue.iter().find(|t| t.name == n.instance_type) {
            Some(t) => {
                let a = t.allocatable();
                if a.cpu != n.allocatable.0 || a.memory != n.allocatable.1 {
                    notes.approximate(
                        "node allocatable differs from the model's (EKS formula on the catalogue type): the model's is used",
                        format!(
                            "{}: nodes {}/{}, model {}/{}",
                            t.name, n.allocatable.0, n.allocatable.1, a.cpu, a.memory
                        ),
                    );
                }
            }
            None => {
                notes.approximate(
                    "instance types not in the catalogue: cpu, memory, GPUs and max pods from the node's capacity, price unknown (0 $/h)",
                    &n.instance_type,
                );
                out.push(InstanceTypeFile {
                    name: n.instance_type.clone(),
                    cpu: CpuText(n.capacity.0),
                    memory: MemoryText(n.capacity.1),
                    max_pods: n.capacity.2,
                    gpu: (n.gpu > 0).then_some(n.gpu),
                    price_per_hour: 0.0,
                });
            }
        }
    }
    out
}

/// The Kubernetes minor version of the nodes' kubelets, if poolsim models
/// it (`1.31`..`1.35`); otherwise a note and the default.
pub fn kube_version(nodes: &[NodeInfo], notes: &mut Notes) -> Option<String> {
    let mut versions: BTreeMap<String, usize> = BTreeMap::new();
    for n in nodes {
        if let Some(v) = &n.kubelet_version {
            let minor: String = v
                .trim_start_matches('v')
                .split('.')
                .take(2)
                .collect::<Vec<_>>()
                .join(".");
            *versions.entry(minor).or_default() += 1;
        }
    }
    let (v, _) = versions
        .iter()
        .max_by_key(|(v, n)| (**n, std::cmp::Reverse(*v)))?;
    if crate::kube::version::KubeVersion::parse(v).is_some() {
        Some(v.clone())
    } else {
        notes.approximate(
            "kubelet version poolsim does not model: its default version is used",
            v,
        );
        None
    }
}

/// Whether the scenario could have GPU nodes: a node with GPU capacity,
/// or a node of a catalogue type with GPUs.
pub fn any_gpus(nodes: &[NodeInfo]) -> bool {
    let catalogue = builtin_instance_types();
    nodes.iter().any(|n| {
        n.gpu > 0
            || catalogue
                .iter()
                .any(|t| t.name == n.instance_type && t.gpu > 0)
    })
}
