//! A policy's Karpenter NodePools and controller settings: requirements
//! evaluated against the instance catalogue, zones and capacity types;
//! the pool (cloud group, kube labels and taints) each NodePool's nodes
//! live in; defaults from `docs/fidelity.md`, "Karpenter". Errors name the
//! file, the NodePool's line and the key.

use std::collections::{BTreeMap, BTreeSet};

use crate::cloud::{AsgSpec, InstanceType};
use crate::engine::Millis;
use crate::karpenter::{CapacityTypes, KarpenterConfig, Limits, NodePoolSpec};
use crate::kube::{PoolId, Taint};

use super::karpenter_file::{
    KarpenterFile, NodePoolFile, NodePoolRequirementFile, RequirementOperatorFile,
};
use super::policy_checks::PoolContext;
use super::validate::{Source, delay};
use super::{ScenarioError, file::PolicyFile};

/// What a policy's NodePools add to it.
pub(super) struct NodePools {
    /// One fleet group per NodePool, after the ASG pools.
    pub pools: Vec<AsgSpec>,
    /// Their taints.
    pub taints: Vec<Vec<Taint>>,
    /// The controller.
    pub config: Option<KarpenterConfig>,
}

/// The well-known labels a requirement may name, besides capacity type
/// and zone: each instance type's value of it.
pub const TYPE_KEYS: [&str; 10] = [
    "node.kubernetes.io/instance-type",
    "karpenter.k8s.aws/instance-family",
    "karpenter.k8s.aws/instance-size",
    "karpenter.k8s.aws/instance-category",
    "karpenter.k8s.aws/instance-generation",
    "karpenter.k8s.aws/instance-cpu",
    "karpenter.k8s.aws/instance-memory",
    GPU_COUNT,
    "kubernetes.io/arch",
    "kubernetes.io/os",
];
pub const CAPACITY_TYPE: &str = "karpenter.sh/capacity-type";
/// The GPU count label, which only types with GPUs carry.
const GPU_COUNT: &str = "karpenter.k8s.aws/instance-gpu-count";
pub const ZONE: &str = "topology.kubernetes.io/zone";

/// Validates the policy's NodePools; `first_pool` is the pool index of the
/// first (the number of ASG pools); `names` the pool names taken so far.
pub(super) fn nodepools(
    src: &Source<'_>,
    p: &PolicyFile,
    cx: &PoolContext<'_>,
    first_pool: usize,
    names: &mut BTreeSet<String>,
) -> Result<NodePools, ScenarioError> {
    let pkey = format!("policies.{}", p.name.get_ref());
    let mut out = NodePools {
        pools: Vec::new(),
        taints: Vec::new(),
        config: None,
    };
    if p.nodepools.is_empty() {
        if p.karpenter.is_some() {
            return Err(src.error(
                Some(p.name.span()),
                format!("{pkey}.karpenter"),
                "Karpenter settings without a NodePool: add [[policies.nodepools]]",
            ));
        }
        return Ok(out);
    }
    let mut specs = Vec::new();
    for (i, np) in p.nodepools.iter().enumerate() {
        let key = format!("{pkey}.nodepools.{}", np.name.get_ref());
        let span = Some(np.name.span());
        if !names.insert(np.name.get_ref().clone()) {
            return Err(src.error(span, key, "duplicate pool or NodePool name in this policy"));
        }
        let pool = PoolId((first_pool + i) as u16);
        let (spec, group) = nodepool(src, np, &key, cx, pool)?;
        out.taints
            .push(super::placement::taints(src, &np.taints, &key, span)?);
        out.pools.push(group);
        specs.push(spec);
    }
    let mut c = KarpenterConfig::new(specs);
    if let Some(k) = &p.karpenter {
        settings(src, k, &format!("{pkey}.karpenter"), p, &mut c)?;
    }
    out.config = Some(c);
    Ok(out)
}

fn settings(
    src: &Source<'_>,
    k: &KarpenterFile,
    key: &str,
    p: &PolicyFile,
    c: &mut KarpenterConfig,
) -> Result<(), ScenarioError> {
    let set = |v: &Option<super::units::DurationText>, d: &mut Millis| {
        if let Some(t) = v {
            *d = t.0;
        }
    };
    set(&k.batch_idle_duration, &mut c.batch_idle);
    set(&k.batch_max_duration, &mut c.batch_max);
    set(&k.registration_ttl, &mut c.registration_ttl);
    set(&k.unavailable_offering_ttl, &mut c.unavailable_offering_ttl);
    c.interruption = k.interruption_queue.unwrap_or(false);
    for (what, v) in [
        ("batch_idle_duration", c.batch_idle),
        ("batch_max_duration", c.batch_max),
        ("registration_ttl", c.registration_ttl),
    ] {
        if v == Millis::ZERO {
            return Err(src.error(
                Some(p.name.span()),
                format!("{key}.{what}"),
                "must be longer than 0s",
            ));
        }
    }
    Ok(())
}

/// One NodePool: its model spec and the fleet group its nodes live in.
fn nodepool(
    src: &Source<'_>,
    np: &NodePoolFile,
    key: &str,
    cx: &PoolContext<'_>,
    pool: PoolId,
) -> Result<(NodePoolSpec, AsgSpec), ScenarioError> {
    let span = Some(np.name.span());
    let err = |k: &str, m: String| src.error(span.clone(), format!("{key}.{k}"), m);
    let Allowed {
        types,
        zones,
        capacity,
        mut labels,
    } = requirements(&np.requirements, cx, &|m| err("requirements", m))?;
    node_labels(np, capacity, &mut labels);
    let limits = limits(np, &types, cx.types, &err)?;
    let weight = match np.weight {
        None => 0,
        Some(w @ 1..=100) => w,
        Some(w) => return Err(err("weight", format!("{w} is not a weight from 1 to 100"))),
    };
    let group = fleet_group(np, cx, (&types, &zones), labels, &err)?;
    let disruption = super::disruption_checks::disruption(np, &err)?;
    let updates = super::disruption_checks::updates(np, cx, &zones, &err)?;
    let spec = NodePoolSpec {
        name: np.name.get_ref().clone(),
        pool,
        weight,
        types,
        capacity,
        zones,
        limits,
        disruption,
        updates,
    };
    Ok((spec, group))
}

/// Adds to the labels of the requirements those every node of the
/// NodePool gets: its one capacity type, if it allows one, its `labels`,
/// `karpenter.sh/nodepool`, architecture and OS.
fn node_labels(np: &NodePoolFile, capacity: CapacityTypes, labels: &mut BTreeMap<String, String>) {
    let ct = match (capacity.on_demand, capacity.spot) {
        (true, false) => Some("on-demand"),
        (false, true) => Some("spot"),
        _ => None,
    };
    if let Some(ct) = ct {
        labels.insert(CAPACITY_TYPE.to_string(), ct.to_string());
    }
    labels.extend(np.labels.clone());
    labels.insert(
        "karpenter.sh/nodepool".to_string(),
        np.name.get_ref().clone(),
    );
    labels.insert("kubernetes.io/arch".to_string(), "amd64".to_string());
    labels.insert("kubernetes.io/os".to_string(), "linux".to_string());
}

/// The cloud group a NodePool's fleet instances live in: sized 0 (nothing
/// but Karpenter launches there), its allowed types and zones, its nodes'
/// labels and its launch and boot delays (the policy's by default).
fn fleet_group(
    np: &NodePoolFile,
    cx: &PoolContext<'_>,
    (types, zones): (&[usize], &[usize]),
    labels: BTreeMap<String, String>,
    err: &dyn Fn(&str, String) -> ScenarioError,
) -> Result<AsgSpec, ScenarioError> {
    let pool_delay = |d: &Option<super::file::DelayFile>,
                      what: &str,
                      default: &crate::quantity::Delay| match d {
        Some(d) => delay(d).map_err(|m| err(what, m)),
        None => Ok(default.clone()),
    };
    // The largest type stands for the pool where one type is asked for
    // (whether a pod can be placed at all).
    let largest = *types
        .iter()
        .max_by_key(|&&t| (cx.types[t].cpu, cx.types[t].memory, std::cmp::Reverse(t)))
        .unwrap_or(&types[0]);
    Ok(AsgSpec {
        name: np.name.get_ref().clone(),
        instance_type: largest,
        fallback_types: types.iter().copied().filter(|&t| t != largest).collect(),
        min: 0,
        desired: 0,
        max: 0,
        zones: zones.iter().map(|&z| cx.zones[z].clone()).collect(),
        labels,
        launch_delay: pool_delay(&np.launch_delay, "launch_delay", &cx.launch_delay)?,
        boot_delay: pool_delay(&np.boot_delay, "boot_delay", &cx.boot_delay)?,
        health_check_grace_period: Millis::ZERO,
        protect_from_scale_in: false,
        capacity_rebalance: false,
        az_rebalance: false,
        spot: false,
        warm_pool: None,
    })
}

/// What a NodePool's requirements allow.
pub(super) struct Allowed {
    /// Instance types, by catalogue index.
    pub types: Vec<usize>,
    /// Zones, by scenario zone index.
    pub zones: Vec<usize>,
    /// Capacity types.
    pub capacity: CapacityTypes,
    /// Labels every node gets (requirements `In` one value).
    pub labels: BTreeMap<String, String>,
}

/// Evaluates requirements against the catalogue and the zones; `err`
/// makes an error about them.
pub(super) fn requirements(
    reqs: &[NodePoolRequirementFile],
    cx: &PoolContext<'_>,
    err: &dyn Fn(String) -> ScenarioError,
) -> Result<Allowed, ScenarioError> {
    let mut types: Vec<usize> = (0..cx.types.len()).collect();
    let mut zones: Vec<usize> = (0..cx.zones.len()).collect();
    let mut capacity = CapacityTypes {
        on_demand: true,
        spot: false,
    };
    let mut capacity_written = false;
    let mut labels = BTreeMap::new();
    for r in reqs {
        check_operator(r).map_err(err)?;
        if r.operator == RequirementOperatorFile::In && r.values.len() == 1 {
            labels.insert(r.key.clone(), r.values[0].clone());
        }
        match r.key.as_str() {
            CAPACITY_TYPE => {
                capacity = narrow_capacity(r, capacity_written.then_some(capacity)).map_err(err)?;
                capacity_written = true;
            }
            ZONE => {
                for v in &r.values {
                    if !cx.zones.contains(v) {
                        return Err(err(format!(
                            "unknown zone `{v}` (zones: {})",
                            cx.zones.join(", ")
                        )));
                    }
                }
                zones.retain(|&z| matches_value(r, &cx.zones[z]));
            }
            k if TYPE_KEYS.contains(&k) => {
                types.retain(|&t| matches_label(r, type_label(&cx.types[t], k).as_deref()));
            }
            other => {
                return Err(err(format!(
                    "poolsim does not model the label `{other}` in NodePool requirements (it knows {}, {CAPACITY_TYPE}, {ZONE}); put custom labels in `labels`",
                    TYPE_KEYS.join(", ")
                )));
            }
        }
    }
    if types.is_empty() {
        return Err(err(
            "no instance type satisfies these requirements".to_string()
        ));
    }
    if zones.is_empty() {
        return Err(err("no zone satisfies these requirements".to_string()));
    }
    if !capacity.on_demand && !capacity.spot {
        return Err(err(format!(
            "no capacity type satisfies the `{CAPACITY_TYPE}` requirements"
        )));
    }
    Ok(Allowed {
        types,
        zones,
        capacity,
        labels,
    })
}

/// The capacity types a `karpenter.sh/capacity-type` requirement leaves
/// of `before` (the earlier ones' verdict; both types when it is the
/// first, so that one requirement can allow Spot).
fn narrow_capacity(
    r: &NodePoolRequirementFile,
    before: Option<CapacityTypes>,
) -> Result<CapacityTypes, String> {
    for v in &r.values {
        if v != "on-demand" && v != "spot" {
            return Err(format!(
                "`{CAPACITY_TYPE}` takes `on-demand` or `spot`, not `{v}`"
            ));
        }
    }
    let base = before.unwrap_or(CapacityTypes {
        on_demand: true,
        spot: true,
    });
    Ok(CapacityTypes {
        on_demand: base.on_demand && matches_value(r, "on-demand"),
        spot: base.spot && matches_value(r, "spot"),
    })
}

/// `spec.limits`, refused when below the capacity of one node of every
/// allowed type (the NodePool could never launch).
fn limits(
    np: &NodePoolFile,
    types: &[usize],
    catalogue: &[InstanceType],
    err: &dyn Fn(&str, String) -> ScenarioError,
) -> Result<Limits, ScenarioError> {
    let Some(l) = &np.limits else {
        return Ok(Limits::default());
    };
    let limits = Limits {
        cpu: l.cpu.map(|c| c.0),
        memory: l.memory.map(|m| m.0),
    };
    let fits_one = types.iter().any(|&t| {
        limits.cpu.is_none_or(|c| catalogue[t].cpu <= c)
            && limits.memory.is_none_or(|m| catalogue[t].memory <= m)
    });
    if !fits_one {
        let smallest = types
            .iter()
            .map(|&t| &catalogue[t])
            .min_by_key(|t| (t.cpu, t.memory))
            .map_or(String::new(), |t| {
                format!(
                    "{} ({} vCPU, {})",
                    t.name,
                    t.cpu.0 / 1000,
                    crate::quantity::format_memory(t.memory)
                )
            });
        return Err(err(
            "limits",
            format!(
                "below the capacity of one node of any allowed type; the smallest is {smallest}"
            ),
        ));
    }
    Ok(limits)
}

fn check_operator(r: &NodePoolRequirementFile) -> Result<(), String> {
    use RequirementOperatorFile::*;
    match r.operator {
        In | NotIn if r.values.is_empty() => Err(format!("`{}`: In and NotIn need values", r.key)),
        Exists | DoesNotExist if !r.values.is_empty() => Err(format!(
            "`{}`: Exists and DoesNotExist take no values",
            r.key
        )),
        Gt | Lt if r.values.len() != 1 || r.values[0].parse::<i64>().is_err() => {
            Err(format!("`{}`: Gt and Lt take one integer value", r.key))
        }
        _ => Ok(()),
    }
}

/// Whether a label value satisfies one requirement (every label named
/// here exists on every node).
fn matches_value(r: &NodePoolRequirementFile, v: &str) -> bool {
    use RequirementOperatorFile::*;
    let number = || v.parse::<i64>().ok();
    let bound = || r.values.first().and_then(|b| b.parse::<i64>().ok());
    match r.operator {
        In => r.values.iter().any(|x| x == v),
        NotIn => !r.values.iter().any(|x| x == v),
        Exists => true,
        DoesNotExist => false,
        Gt => matches!((number(), bound()), (Some(n), Some(b)) if n > b),
        Lt => matches!((number(), bound()), (Some(n), Some(b)) if n < b),
    }
}

/// Whether a type's label (`None`: the type has no such label) meets a
/// requirement: as in Kubernetes node selector requirements, `NotIn` and
/// `DoesNotExist` accept a missing label, the others refuse it.
fn matches_label(r: &NodePoolRequirementFile, v: Option<&str>) -> bool {
    match v {
        Some(v) => matches_value(r, v),
        None => matches!(
            r.operator,
            RequirementOperatorFile::NotIn | RequirementOperatorFile::DoesNotExist
        ),
    }
}

/// An instance type's value of a well-known label: `m5.xlarge` has family
/// `m5`, size `xlarge`, category `m`, generation `5`, its vCPUs and MiB;
/// `g5.12xlarge` also has a GPU count of 4, which types without GPUs lack
/// (karpenter-provider-aws labels only GPU types with it).
fn type_label(t: &InstanceType, key: &str) -> Option<String> {
    if key == GPU_COUNT {
        return (t.gpu > 0).then(|| t.gpu.to_string());
    }
    let (family, size) = t.name.split_once('.').unwrap_or((&t.name, ""));
    let category: String = family
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    let generation: String = family
        .chars()
        .skip_while(|c| c.is_ascii_alphabetic())
        .take_while(|c| c.is_ascii_digit())
        .collect();
    Some(match key {
        "node.kubernetes.io/instance-type" => t.name.clone(),
        "karpenter.k8s.aws/instance-family" => family.to_string(),
        "karpenter.k8s.aws/instance-size" => size.to_string(),
        "karpenter.k8s.aws/instance-category" => category,
        "karpenter.k8s.aws/instance-generation" => generation,
        "karpenter.k8s.aws/instance-cpu" => (t.cpu.0 / 1000).to_string(),
        "karpenter.k8s.aws/instance-memory" => {
            (t.memory.0 / crate::quantity::Bytes::MI).to_string()
        }
        "kubernetes.io/arch" => "amd64".to_string(),
        _ => "linux".to_string(),
    })
}
