//! What people look at: the console table of a sweep's summary, the
//! description `validate` prints (with every workload's effective placement
//! per policy, `placement.rs`), SVG figures drawn from result CSVs, and
//! one run's trace (`trace.rs`), and `report.html` (`page.rs`).

pub mod axis;
pub mod figure;
pub mod page;
mod page_parts;
mod placement;
pub mod plots;
pub mod svg;
pub mod timeline;
pub mod trace;

pub use page::{ReportError, write_report};
pub use plots::{PlotError, plot_dir, plot_dir_with};
pub use timeline::RunChoice;
pub use trace::{ObjectKind, TraceError, TraceFormat, TraceOptions, trace};

use crate::metrics::SummaryRow;

/// A fixed-width table of the headline figures per policy.
pub fn summary_table(rows: &[SummaryRow]) -> String {
    let mut out = format!(
        "{:<24} {:>6} {:>8} {:>22} {:>20} {:>12}\n",
        "policy", "runs", "deadlock", "(95% interval)", "recovery p50/p95 s", "cost $ mean"
    );
    let mut point: Option<&[(String, String)]> = None;
    for r in rows {
        if !r.params.is_empty() && point != Some(r.params.as_slice()) {
            let values: Vec<String> = r.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push_str(&format!("{}\n", values.join(" ")));
            point = Some(r.params.as_slice());
        }
        let g = |c: &str| r.get(c).unwrap_or(f64::NAN);
        let num = |v: f64| {
            if v.is_nan() {
                "-".to_string()
            } else {
                format!("{v:.0}")
            }
        };
        out.push_str(&format!(
            "{:<24} {:>6} {:>8.3} {:>22} {:>20} {:>12.2}\n",
            r.policy,
            r.runs,
            g("deadlock_rate"),
            format!(
                "[{:.3}, {:.3}]",
                g("deadlock_rate_lo"),
                g("deadlock_rate_hi")
            ),
            format!(
                "{} / {}",
                num(g("system_recovery_s_p50")),
                num(g("system_recovery_s_p95"))
            ),
            g("cost_usd_mean"),
        ));
    }
    out
}

/// What `poolsim validate` prints: what a scenario would run.
pub fn describe(s: &crate::Scenario) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "scenario {} ({}): ok", s.name, s.source);
    if !s.description.is_empty() {
        let _ = writeln!(out, "  {}", s.description.trim());
    }
    let _ = writeln!(
        out,
        "  horizon {}, {} seeds from {}, deadlock window {}",
        crate::quantity::format_duration(s.horizon),
        s.seeds,
        s.first_seed,
        crate::quantity::format_duration(s.detection_window)
    );
    let sc = &s.kube.scheduler;
    let on = |b: bool| if b { "on" } else { "off" };
    let _ = writeln!(
        out,
        "  kubernetes {}: QueueingHints {}, pop from backoffQ {}, node-monitor grace {}",
        s.kube_version,
        on(sc.queueing_hints),
        on(sc.pop_from_backoff),
        crate::quantity::format_duration(s.kube.node_monitor_grace_period)
    );
    let _ = writeln!(out, "  workloads:");
    for w in &s.workloads {
        let _ = writeln!(
            out,
            "    {:<20} {:<6} {:>5} x {}{}{}{}",
            w.name,
            w.class.as_str(),
            match w.kind {
                crate::kube::WorkloadKind::Deployment | crate::kube::WorkloadKind::StatefulSet =>
                    w.replicas.to_string(),
                crate::kube::WorkloadKind::DaemonSet { .. } => "node".to_string(),
                crate::kube::WorkloadKind::Job => "job".to_string(),
            },
            w.requests,
            if w.priority != 0 {
                format!(", priority {}", w.priority)
            } else {
                String::new()
            },
            w.min_available
                .map(|m| format!(", service min {m}"))
                .unwrap_or_default(),
            if w.needs.is_empty() {
                String::new()
            } else {
                format!(
                    ", needs {}",
                    w.needs
                        .iter()
                        .map(|n| s.workloads[n.index()].name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        );
    }
    for p in &s.policies {
        let _ = writeln!(out, "  policy {}:", p.name);
        for pool in &p.pools {
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
                let _ = writeln!(
                    out,
                    "      {}{}",
                    if pool.spot { "spot; " } else { "" },
                    if types.is_empty() {
                        String::new()
                    } else {
                        format!("falls back to {}", types.join(", "))
                    }
                );
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
            use crate::quantity::format_duration as d;
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
        placement::effective_placement(&mut out, s, p);
    }
    for f in &s.faults {
        let _ = writeln!(out, "  fault {}", f.describe(&s.cloud.zones));
    }
    out
}

/// What `poolsim validate` prints about a scenario's `[sweep]` grid.
pub fn describe_grid(plan: &crate::sweep::Plan) -> String {
    use std::fmt::Write;
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
