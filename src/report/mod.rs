//! What people look at: the console table of a sweep's summary.

use crate::metrics::SummaryRow;

/// A fixed-width table of the headline figures per policy.
pub fn summary_table(rows: &[SummaryRow]) -> String {
    let mut out = format!(
        "{:<24} {:>6} {:>8} {:>22} {:>20} {:>12}\n",
        "policy", "runs", "deadlock", "(95% interval)", "recovery p50/p95 s", "cost $ mean"
    );
    for r in rows {
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
        crate::scenario::units::format_duration(s.horizon),
        s.seeds,
        s.first_seed,
        crate::scenario::units::format_duration(s.detection_window)
    );
    let _ = writeln!(out, "  workloads:");
    for w in &s.workloads {
        let _ = writeln!(
            out,
            "    {:<20} {:<6} {:>5} x {}{}{}{}",
            w.name,
            w.class.as_str(),
            match w.kind {
                crate::kube::WorkloadKind::Deployment => w.replicas.to_string(),
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
                t.allocatable()
            );
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
    for f in &s.faults {
        let _ = writeln!(out, "  fault {f:?}");
    }
    out
}
