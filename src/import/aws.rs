//! AWS inputs: `aws autoscaling describe-auto-scaling-groups` and
//! `aws eks describe-nodegroup` JSON, read into [`AsgInfo`] and matched
//! to the nodes (by instance id and the node group label); an in-service
//! ASG instance that is no node is an error.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use crate::input::{escape, read_text};
use crate::scenario::file::{TaintFile, WarmStateFile};

use super::ImportError;
use super::nodes::{GroupKey, NodeInfo};
use super::object::{At, Bad};
use super::read::{MAX_INPUT_BYTES, parse_json};
use super::template::taint_effect;

/// What the AWS inputs say about one node group or ASG.
#[derive(Debug, Clone, Default)]
pub struct AsgInfo {
    /// ASG name.
    pub name: String,
    /// The managed node group it backs (tag `eks:nodegroup-name`, or the
    /// node group's own file).
    pub nodegroup: Option<String>,
    /// `MinSize` / `scalingConfig.minSize`.
    pub min: u32,
    /// `DesiredCapacity`.
    pub desired: u32,
    /// `MaxSize`.
    pub max: u32,
    /// `AvailabilityZones`.
    pub zones: Vec<String>,
    /// Mixed-instances overrides or the node group's instance types.
    pub instance_types: Vec<String>,
    /// Spot (`capacityType: SPOT`, or no On-Demand above base).
    pub spot: Option<bool>,
    /// `HealthCheckGracePeriod`, seconds.
    pub grace_seconds: Option<u64>,
    /// `NewInstancesProtectedFromScaleIn`.
    pub protect: Option<bool>,
    /// `CapacityRebalance`.
    pub capacity_rebalance: Option<bool>,
    /// `AZRebalance` not suspended.
    pub az_rebalance: Option<bool>,
    /// Warm pool: min size, max prepared capacity, state.
    pub warm_pool: Option<(Option<u32>, Option<u32>, Option<WarmStateFile>)>,
    /// Node group labels.
    pub labels: BTreeMap<String, String>,
    /// Node group taints.
    pub taints: Vec<TaintFile>,
    /// In-service instance ids and the path of each.
    pub instances: Vec<(String, String)>,
    /// The file it came from.
    pub file: String,
}

impl AsgInfo {
    /// Whether this ASG or node group is the one behind `key`.
    pub fn matches(&self, key: &GroupKey) -> bool {
        match key {
            GroupKey::NodeGroup(n) => self.nodegroup.as_deref() == Some(n.as_str()),
            GroupKey::Asg(n) => &self.name == n,
            _ => false,
        }
    }
}

fn u32_of(a: &At<'_>, key: &str) -> Result<u32, Bad> {
    let n = a.u64(key)?.ok_or_else(|| Bad {
        path: format!("{}.{key}", a.path),
        message: "missing".into(),
    })?;
    u32::try_from(n).map_err(|_| Bad {
        path: format!("{}.{key}", a.path),
        message: "too large".into(),
    })
}

fn read_json(path: &Path) -> Result<(String, Value), ImportError> {
    let file = path.display().to_string();
    let text = read_text(path, MAX_INPUT_BYTES).map_err(|e| ImportError::Read {
        file: file.clone(),
        message: e.to_string(),
    })?;
    let v = parse_json(&file, &text)?;
    Ok((file, v))
}

fn aws_error(file: &str, object: String, b: Bad) -> ImportError {
    ImportError::Object {
        file: file.to_string(),
        object: escape(&object).to_string(),
        path: b.path,
        message: b.message,
    }
}

/// Reads `describe-auto-scaling-groups` output.
pub fn read_asgs(path: &Path) -> Result<Vec<AsgInfo>, ImportError> {
    let (file, v) = read_json(path)?;
    let root = At::root(&v);
    let groups = root
        .list("AutoScalingGroups")
        .and_then(|l| {
            if root.get("AutoScalingGroups").is_none() {
                Err(Bad {
                    path: ".AutoScalingGroups".into(),
                    message: "missing: expected the output of `aws autoscaling describe-auto-scaling-groups`".into(),
                })
            } else {
                Ok(l)
            }
        })
        .map_err(|b| aws_error(&file, "AutoScalingGroups".into(), b))?;
    let mut out = Vec::new();
    for g in groups {
        let name = g
            .need("AutoScalingGroupName")
            .and_then(|n| n.as_str())
            .map_err(|b| aws_error(&file, "AutoScalingGroup/?".into(), b))?
            .to_string();
        let obj = format!("AutoScalingGroup/{name}");
        out.push(asg(&g, name, &file).map_err(|b| aws_error(&file, obj, b))?);
    }
    Ok(out)
}

fn asg(g: &At<'_>, name: String, file: &str) -> Result<AsgInfo, Bad> {
    let mut a = AsgInfo {
        name,
        file: file.to_string(),
        min: u32_of(g, "MinSize")?,
        desired: u32_of(g, "DesiredCapacity")?,
        max: u32_of(g, "MaxSize")?,
        zones: g.strings("AvailabilityZones")?,
        grace_seconds: g.u64("HealthCheckGracePeriod")?,
        protect: g.bool("NewInstancesProtectedFromScaleIn")?,
        capacity_rebalance: g.bool("CapacityRebalance")?,
        ..AsgInfo::default()
    };
    for t in g.list("Tags")? {
        if t.str("Key")? == Some("eks:nodegroup-name") {
            a.nodegroup = t.str("Value")?.map(str::to_string);
        }
    }
    let suspended: BTreeSet<String> = g
        .list("SuspendedProcesses")?
        .iter()
        .filter_map(|p| p.str("ProcessName").ok().flatten().map(str::to_string))
        .collect();
    a.az_rebalance = Some(!suspended.contains("AZRebalance"));
    if let Some(m) = g.get("MixedInstancesPolicy") {
        if let Some(lt) = m.get("LaunchTemplate") {
            for o in lt.list("Overrides")? {
                if let Some(t) = o.str("InstanceType")? {
                    a.instance_types.push(t.to_string());
                }
            }
        }
        if let Some(d) = m.get("InstancesDistribution") {
            let base = d.u64("OnDemandBaseCapacity")?.unwrap_or(0);
            let above = d.u64("OnDemandPercentageAboveBaseCapacity")?.unwrap_or(100);
            a.spot = Some(base == 0 && above == 0);
        }
    }
    if let Some(w) = g.get("WarmPoolConfiguration") {
        let state = match w.str("PoolState")? {
            Some("Running") => Some(WarmStateFile::Running),
            Some("Stopped") => Some(WarmStateFile::Stopped),
            _ => None,
        };
        let size = |k: &str| -> Result<Option<u32>, Bad> {
            Ok(w.i64(k)?.and_then(|n| u32::try_from(n).ok()))
        };
        a.warm_pool = Some((size("MinSize")?, size("MaxGroupPreparedCapacity")?, state));
    }
    for i in g.list("Instances")? {
        let id = i.need("InstanceId")?.as_str()?.to_string();
        if i.str("LifecycleState")? == Some("InService") {
            a.instances.push((id, format!("{}.InstanceId", i.path)));
        }
        if a.instance_types.is_empty()
            && let Some(t) = i.str("InstanceType")?
        {
            a.instance_types.push(t.to_string());
        }
    }
    Ok(a)
}

/// Reads `eks describe-nodegroup` output, merged into the ASG it names if
/// that is among `asgs`, else added.
pub fn read_nodegroup(path: &Path, asgs: &mut Vec<AsgInfo>) -> Result<(), ImportError> {
    let (file, v) = read_json(path)?;
    let root = At::root(&v);
    let ng = root.need("nodegroup").map_err(|mut b| {
        b.message = "missing: expected the output of `aws eks describe-nodegroup`".into();
        aws_error(&file, "nodegroup".into(), b)
    })?;
    let name = ng
        .need("nodegroupName")
        .and_then(|n| n.as_str())
        .map_err(|b| aws_error(&file, "Nodegroup/?".into(), b))?
        .to_string();
    let obj = format!("Nodegroup/{name}");
    let e = |b| aws_error(&file, obj.clone(), b);
    let scaling = ng.need("scalingConfig").map_err(e)?;
    let taints = nodegroup_taints(&ng, &e)?;
    let asg_names = nodegroup_asgs(&ng);
    let info = AsgInfo {
        name: asg_names.first().cloned().unwrap_or_else(|| name.clone()),
        nodegroup: Some(name.clone()),
        min: u32_of(&scaling, "minSize").map_err(e)?,
        desired: u32_of(&scaling, "desiredSize").map_err(e)?,
        max: u32_of(&scaling, "maxSize").map_err(e)?,
        instance_types: ng.strings("instanceTypes").map_err(e)?,
        spot: Some(ng.str("capacityType").map_err(e)? == Some("SPOT")),
        labels: ng.string_map("labels").map_err(e)?,
        taints,
        file: file.clone(),
        ..AsgInfo::default()
    };
    match asgs
        .iter_mut()
        .find(|a| asg_names.contains(&a.name) || a.nodegroup.as_deref() == Some(&name))
    {
        Some(a) => {
            a.nodegroup = Some(name);
            a.labels = info.labels;
            a.taints = info.taints;
            a.spot = info.spot;
            if a.instance_types.is_empty() {
                a.instance_types = info.instance_types;
            }
        }
        None => asgs.push(info),
    }
    Ok(())
}

/// A node group's taints, their effects written as EKS writes them
/// (`NO_SCHEDULE`, `NO_EXECUTE`, `PREFER_NO_SCHEDULE`).
fn nodegroup_taints(
    ng: &At<'_>,
    e: &dyn Fn(Bad) -> ImportError,
) -> Result<Vec<TaintFile>, ImportError> {
    let mut taints = Vec::new();
    for t in ng.list("taints").map_err(e)? {
        let effect = match t.str("effect").map_err(e)? {
            Some("NO_SCHEDULE") => "NoSchedule",
            Some("NO_EXECUTE") => "NoExecute",
            Some("PREFER_NO_SCHEDULE") => "PreferNoSchedule",
            _ => {
                return Err(e(Bad {
                    path: format!("{}.effect", t.path),
                    message: "expected NO_SCHEDULE, NO_EXECUTE or PREFER_NO_SCHEDULE".into(),
                }));
            }
        };
        let fixed = serde_json::json!({ "effect": effect });
        taints.push(TaintFile {
            key: t
                .need("key")
                .and_then(|k| k.as_str())
                .map_err(e)?
                .to_string(),
            value: t.str("value").map_err(e)?.unwrap_or("").to_string(),
            effect: taint_effect(&At::root(&fixed)).map_err(e)?,
        });
    }
    Ok(taints)
}

/// The names of a node group's Auto Scaling groups.
fn nodegroup_asgs(ng: &At<'_>) -> Vec<String> {
    ng.dig(&["resources", "autoScalingGroups"])
        .map(|l| {
            l.v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.get("name").and_then(Value::as_str))
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        })
        .unwrap_or_default()
}

/// Puts self-managed nodes into their ASG by instance id, and checks that
/// every in-service ASG instance is a node.
pub fn match_nodes(nodes: &mut [NodeInfo], asgs: &[AsgInfo]) -> Result<(), ImportError> {
    let by_id: BTreeMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .filter_map(|(i, n)| n.instance_id.as_deref().map(|id| (id, i)))
        .collect();
    let mut moves = Vec::new();
    for a in asgs {
        for (id, path) in &a.instances {
            let Some(&i) = by_id.get(id.as_str()) else {
                return Err(ImportError::Object {
                    file: a.file.clone(),
                    object: escape(&format!("AutoScalingGroup/{}", a.name)).to_string(),
                    path: path.clone(),
                    message: format!(
                        "instance {} is InService but no node has it in spec.providerID: the dumps are of different moments or clusters",
                        escape(id)
                    ),
                });
            };
            if nodes[i].group == GroupKey::None {
                moves.push((i, a.name.clone()));
            }
        }
    }
    for (i, name) in moves {
        nodes[i].group = GroupKey::Asg(name);
    }
    Ok(())
}
