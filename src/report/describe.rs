//! What `poolsim validate` prints: the scenario's settings, each workload,
//! each policy's pools (ASG groups and Karpenter NodePools), taints, class
//! rules, autoscaler and placement, the faults, and the `[sweep]` grid.

use std::fmt::Write;

use crate::kube::{PoolId, WorkloadKind};
use crate::quantity::{format_duration, format_memory};
use crate::scenario::{Policy, Scenario};

use super::placement;

/// What `poolsim validate` prints: what a scenario would run.
pub fn describe(s: &Scenario) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "scenario {} ({}): ok", s.name, s.source);
    if !s.description.is_empty() {
        let _ = writeln!(out, "  {}", s.description.trim());
    }
    let _ = writeln!(
        out,
        "  horizon {}, {} seeds from {}, deadlock window {}",
        format_duration(s.horizon),
        s.seeds,
        s.first_seed,
        format_duration(s.detection_window)
    );
    let sc = &s.kube.scheduler;
    let on = |b: bool| if b { "on" } else { "off" };
    let _ = writeln!(
        out,
        "  kubernetes {}: QueueingHints {}, pop from backoffQ {}, node-monitor grace {}",
        s.kube_version,
        on(sc.queueing_hints),
        on(sc.pop_from_backoff),
        format_duration(s.kube.node_monitor_grace_period)
    );
    let _ = writeln!(out, "  workloads:");
    for w in &s.workloads {
        workload_line(&mut out, s, w);
    }
    for p in &s.policies {
        let _ = writeln!(out, "  policy {}:", p.name);
        pools(&mut out, s, p);
        class_rules(&mut out, p);
        placement::effective_placement(&mut out, s, p);
    }
    for f in &s.faults {
        let _ = writeln!(out, "  fault {}", f.describe(&s.cloud.zones));
    }
    out
}

/// One workload: class, replicas, requests, priority, service and needs.
fn workload_line(out: &mut String, s: &Scenario, w: &crate::kube::WorkloadSpec) {
    let replicas = match w.kind {
        WorkloadKind::Deployment | WorkloadKind::StatefulSet => w.replicas.to_string(),
        WorkloadKind::DaemonSet { .. } => "node".to_string(),
        WorkloadKind::Job => "job".to_string(),
    };
    let priority = if w.priority != 0 {
        format!(", priority {}", w.priority)
    } else {
        String::new()
    };
    let service = w
        .min_available
        .map(|m| format!(", service min {m}"))
        .unwrap_or_default();
    let needs = if w.needs.is_empty() {
        String::new()
    } else {
        let names: Vec<&str> = w
            .needs
            .iter()
            .map(|n| s.workloads[n.index()].name.as_str())
            .collect();
        format!(", needs {}", names.join(", "))
    };
    let _ = writeln!(
        out,
        "    {:<20} {:<6} {:>5} x {}{priority}{service}{needs}",
        w.name,
        w.class.as_str(),
        replicas,
        w.requests,
    );
}

/// A policy's pools (or NodePools) and their taints.
fn pools(out: &mut String, s: &Scenario, p: &Policy) {
    for (i, pool) in p.pools.iter().enumerate() {
        if let Some(line) = nodepool_line(s, p, i) {
            let _ = writeln!(out, "{line}");
            continue;
        }
        let t = &s.instance_types[pool.instance_type];
        let labels: Vec<String> = pool
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(
            out,
            "    pool {:<12} {} x {} (min {}, max {}) [{}] allocatable {}",
            pool.name,
            pool.desired,
            t.name,
            pool.min,
            pool.max,
            labels.join(","),
            t.allocatable_with(&s.cloud.reservation)
        );
        if !pool.fallback_types.is_empty() || pool.spot {
            let types: Vec<&str> = pool
                .fallback_types
                .iter()
                .map(|&i| s.instance_types[i].name.as_str())
                .collect();
            let fallback = if types.is_empty() {
                String::new()
            } else {
                format!("falls back to {}", types.join(", "))
            };
            let spot = if pool.spot { "spot; " } else { "" };
            let _ = writeln!(out, "      {spot}{fallback}");
        }
    }
    for (pool, taints) in p.pools.iter().zip(&p.pool_taints) {
        for t in taints {
            let _ = writeln!(
                out,
                "    pool {} tainted {}={}:{:?}",
                pool.name, t.key, t.value, t.effect
            );
        }
    }
}

/// A policy's per-class rules, overprovisioning, autoscaler and placement
/// selectors.
fn class_rules(out: &mut String, p: &Policy) {
    for (class, r) in &p.rules {
        if let Some((prio, policy)) = r.priority {
            let _ = writeln!(
                out,
                "    {} pods priority {prio} ({policy:?})",
                class.as_str()
            );
        }
        if !r.tolerations.is_empty() {
            let _ = writeln!(
                out,
                "    {} pods add {} toleration(s)",
                class.as_str(),
                r.tolerations.len()
            );
        }
        if !r.except.is_empty() {
            let except: Vec<&str> = r.except.iter().map(|e| e.as_str()).collect();
            let _ = writeln!(
                out,
                "    {} rules skip {}",
                class.as_str(),
                except.join(", ")
            );
        }
    }
    if let Some(o) = &p.overprovision {
        let _ = writeln!(
            out,
            "    overprovision {} x {} at priority {}",
            o.replicas, o.requests, o.priority
        );
    }
    if let Some(a) = &p.autoscaler {
        let d = format_duration;
        let _ = writeln!(
            out,
            "    cluster autoscaler: scan {}, expander {}, provision timeout {}, backoff {}..{}, scale-down {} after {} unneeded below {}",
            d(a.scan_interval),
            a.expander.as_str(),
            d(a.max_node_provision_time),
            d(a.initial_backoff),
            d(a.max_backoff),
            if a.scale_down_enabled { "on" } else { "off" },
            d(a.scale_down_unneeded_time),
            a.scale_down_utilization_threshold
        );
    }
    for (class, sel) in &p.placement {
        if sel.is_empty() {
            continue;
        }
        let labels: Vec<String> = sel.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(
            out,
            "    {} pods select {}",
            class.as_str(),
            labels.join(",")
        );
    }
}

/// What `poolsim validate` prints about a scenario's `[sweep]` grid.
pub fn describe_grid(plan: &crate::sweep::Plan) -> String {
    let mut out = String::new();
    if plan.grid.axes.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "  sweep: {} grid points x {} policies x {} seeds = {} runs (every point valid)",
        plan.grid.points(),
        plan.policies.len(),
        plan.seeds,
        plan.len()
    );
    for a in &plan.grid.axes {
        let values: Vec<String> = a
            .values
            .iter()
            .map(crate::scenario::overrides::display)
            .collect();
        let _ = writeln!(out, "    {} = {}", a.key, values.join(", "));
    }
    out
}

/// `validate`'s line for pool `i` of policy `p` if it is a Karpenter
/// NodePool: its types, zones, capacity types, weight, limits and labels.
fn nodepool_line(s: &Scenario, p: &Policy, i: usize) -> Option<String> {
    let k = p.karpenter.as_ref()?;
    let np = &k.nodepools[k.nodepool_of(PoolId(i as u16))?];
    let types: Vec<&str> = np
        .types
        .iter()
        .map(|&t| s.instance_types[t].name.as_str())
        .collect();
    let zones: Vec<&str> = np
        .zones
        .iter()
        .map(|&z| s.cloud.zones[z].as_str())
        .collect();
    let capacity = match (np.capacity.on_demand, np.capacity.spot) {
        (true, true) => "spot or on-demand",
        (false, true) => "spot",
        _ => "on-demand",
    };
    let limit = |v: Option<String>| v.unwrap_or_else(|| "none".to_string());
    let labels: Vec<String> = p.pools[i]
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    Some(format!(
        "    nodepool {:<8} types {}; zones {}; {capacity}; weight {}; limits cpu {} memory {} [{}]",
        np.name,
        types.join(", "),
        zones.join(", "),
        np.weight,
        limit(np.limits.cpu.map(|c| format!("{}m", c.0))),
        limit(np.limits.memory.map(format_memory)),
        labels.join(",")
    ))
}
