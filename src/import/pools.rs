//! Pools from the nodes' groups: one ASG pool per managed node group, ASG
//! or (without its NodePool manifest) Karpenter NodePool, with the
//! group's common labels and taints, its zones and instance types; nodes
//! in no group make a fixed pool. AWS data, when given, sets sizes and
//! ASG settings.

use std::collections::{BTreeMap, BTreeSet};

use crate::scenario::file::{CapacityFile, PoolFile, TaintFile, WarmPoolFile};
use crate::scenario::units::DurationText;

use super::aws::AsgInfo;
use super::nodes::{GroupKey, NodeInfo, common_labels, common_taints};
use super::notes::Notes;

/// A derived pool and where it came from.
#[derive(Debug, Clone)]
pub struct Pool {
    /// The group.
    pub key: GroupKey,
    /// The pool as the scenario writes it.
    pub file: PoolFile,
    /// Number of nodes found in it.
    pub nodes: u32,
}

fn spanned<T>(v: T) -> toml::Spanned<T> {
    toml::Spanned::new(0..0, v)
}

/// Instance types by count, most used first (ties by name).
fn types_by_use(nodes: &[&NodeInfo]) -> Vec<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for n in nodes {
        *counts.entry(n.instance_type.as_str()).or_default() += 1;
    }
    let mut v: Vec<(&str, usize)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    v.into_iter().map(|(t, _)| t.to_string()).collect()
}

fn is_spot(n: &NodeInfo) -> bool {
    n.labels
        .get("eks.amazonaws.com/capacityType")
        .map(String::as_str)
        == Some("SPOT")
        || n.labels
            .get("karpenter.sh/capacity-type")
            .map(String::as_str)
            == Some("spot")
}

/// The pool's name: the group's, or `ungrouped`.
fn pool_name(key: &GroupKey) -> String {
    match key {
        GroupKey::NodeGroup(n) | GroupKey::NodePool(n) | GroupKey::Asg(n) => n.clone(),
        GroupKey::None => "ungrouped".into(),
    }
}

/// One pool per group of nodes (groups in `skip` are left to the caller,
/// e.g. NodePools with a manifest), in group order.
pub fn pools(
    nodes: &[NodeInfo],
    asgs: &[AsgInfo],
    skip: &BTreeSet<GroupKey>,
    notes: &mut Notes,
) -> Vec<Pool> {
    let mut groups: BTreeMap<GroupKey, Vec<&NodeInfo>> = BTreeMap::new();
    for n in nodes {
        groups.entry(n.group.clone()).or_default().push(n);
    }
    let mut out = Vec::new();
    for (key, members) in groups {
        if skip.contains(&key) {
            continue;
        }
        let name = pool_name(&key);
        let asg = asgs.iter().find(|a| a.matches(&key));
        out.push(pool(&key, &name, &members, asg, notes));
    }
    out
}

/// The pool of one group of nodes, with its ASG's settings if found.
fn pool(
    key: &GroupKey,
    name: &str,
    members: &[&NodeInfo],
    asg: Option<&AsgInfo>,
    notes: &mut Notes,
) -> Pool {
    let count = u32::try_from(members.len()).unwrap_or(u32::MAX);
    let mut types = types_by_use(members);
    let mut zones: BTreeSet<String> = members.iter().filter_map(|n| n.zone.clone()).collect();
    if let Some(a) = asg {
        for t in &a.instance_types {
            if !types.contains(t) {
                types.push(t.clone());
            }
        }
        zones.extend(a.zones.iter().cloned());
    }
    let (labels, taints) = node_placement(members, asg, name, notes);
    let spot = is_spot_pool(members, asg, name, notes);
    let (min, max) = size_range(key, asg, count, name, notes);
    let first = types.first().cloned().unwrap_or_default();
    let fallback: Vec<String> = types.iter().skip(1).cloned().collect();
    if !fallback.is_empty() {
        notes.approximate(
            "pools of several instance types: the most used first, the others as fallback types",
            format!("pool {name} ({})", types.join(", ")),
        );
    }
    let file = PoolFile {
        name: spanned(name.to_string()),
        instance_type: spanned(first),
        desired: spanned(count),
        min: (min != count).then(|| spanned(min)),
        max: (max != count).then(|| spanned(max)),
        zones: Some(spanned(zones.into_iter().collect())),
        labels,
        taints,
        launch_delay: None,
        boot_delay: None,
        fallback_types: (!fallback.is_empty()).then(|| spanned(fallback)),
        capacity: spot.then_some(CapacityFile::Spot),
        health_check_grace_period: asg
            .and_then(|a| a.grace_seconds)
            .map(|s| DurationText(crate::engine::Millis(s.saturating_mul(1000)))),
        protect_from_scale_in: asg.and_then(|a| a.protect).filter(|&p| p),
        capacity_rebalance: asg.and_then(|a| a.capacity_rebalance).filter(|&c| c),
        az_rebalance: asg.and_then(|a| a.az_rebalance).filter(|&r| !r),
        warm_pool: asg.and_then(|a| a.warm_pool).map(|w| WarmPoolFile {
            min_size: w.0,
            // Below the desired capacity AWS keeps the warm pool at its
            // minimum size, which the model does when the key is absent.
            max_prepared_capacity: w.1.filter(|&m| m >= count),
            state: w.2,
            delay: None,
        }),
    };
    Pool {
        key: key.clone(),
        file,
        nodes: count,
    }
}

/// The labels and configured taints every node of the pool has, with
/// the ASG's (its labels win, its taints are added).
fn node_placement(
    members: &[&NodeInfo],
    asg: Option<&AsgInfo>,
    name: &str,
    notes: &mut Notes,
) -> (BTreeMap<String, String>, Vec<TaintFile>) {
    let mut labels = common_labels(members);
    let mut taints = common_taints(members, name, notes);
    if let Some(a) = asg {
        for (k, v) in &a.labels {
            labels.insert(k.clone(), v.clone());
        }
        for t in &a.taints {
            if !taints
                .iter()
                .any(|x| x.key == t.key && x.effect == t.effect)
            {
                taints.push(t.clone());
            }
        }
    }
    (labels, taints)
}

/// Whether the pool is Spot: as its ASG says, else as most of its nodes
/// are (a note when they are mixed).
fn is_spot_pool(
    members: &[&NodeInfo],
    asg: Option<&AsgInfo>,
    name: &str,
    notes: &mut Notes,
) -> bool {
    let spot_nodes = members.iter().filter(|n| is_spot(n)).count();
    let spot = match asg.and_then(|a| a.spot) {
        Some(s) => s,
        None => spot_nodes * 2 > members.len(),
    };
    if spot_nodes != 0 && spot_nodes != members.len() {
        notes.approximate(
            "pools with both Spot and On-Demand nodes: one capacity type for the pool",
            name,
        );
    }
    spot
}

/// The pool's minimum and maximum around the `count` nodes found: its
/// ASG's, widened to hold them, else fixed at their number (with a note
/// saying why; another when the ASG's desired capacity differs).
fn size_range(
    key: &GroupKey,
    asg: Option<&AsgInfo>,
    count: u32,
    name: &str,
    notes: &mut Notes,
) -> (u32, u32) {
    let range = match asg {
        Some(a) => (a.min.min(count), a.max.max(count)),
        None => {
            let why = match key {
                GroupKey::None => {
                    "nodes in no node group, ASG or NodePool: a fixed pool of their number (min = max = desired)"
                }
                GroupKey::NodePool(_) => {
                    "Karpenter NodePools without their NodePool manifest: a fixed pool of their nodes"
                }
                _ => {
                    "node groups without AWS data (--asg, --nodegroup): a fixed pool of their nodes"
                }
            };
            notes.approximate(why, format!("pool {name} ({count} nodes)"));
            (count, count)
        }
    };
    if let Some(a) = asg
        && a.desired != count
    {
        notes.approximate(
            "ASG desired capacity differs from the nodes found: the nodes found",
            format!("pool {name} (desired {}, {count} nodes)", a.desired),
        );
    }
    range
}
