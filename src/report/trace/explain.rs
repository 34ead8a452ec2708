//! The explanation that closes a trace: at the horizon, the run's verdict
//! and recovery as its `runs.csv` row has them, which system services are
//! down, which system pods are pending since when and why,
//! and which user pods hold the nodes those pods could use.

use crate::engine::Millis;
use crate::kube::PodClass;
use crate::quantity::format_duration;

use super::Line;
use super::names::{Names, rejection_text};

/// The explanation's lines as they are written, all at the horizon.
struct Lines {
    t: Millis,
    out: Vec<(usize, Line)>,
}

impl Lines {
    fn push(&mut self, indent: usize, event: &'static str, object: String, detail: String) {
        let t = self.t;
        self.out.push((
            indent,
            Line {
                t,
                event,
                object,
                detail,
            },
        ));
    }

    /// A heading line of the explanation.
    fn heading(&mut self, detail: String) {
        self.push(0, "summary", String::new(), detail);
    }
}

impl Names<'_> {
    /// The explanation at the horizon, as (indent, line) pairs.
    pub(super) fn summary(&self) -> Vec<(usize, Line)> {
        let mut lines = Lines {
            t: self.scenario.horizon,
            out: Vec::new(),
        };
        self.verdict(&mut lines);
        if !self.traced.report.services_down.is_empty() {
            self.services_down(&mut lines);
            self.pending_system(&mut lines);
            self.held_nodes(&mut lines);
        }
        lines.out
    }

    /// The verdict and the recovery, as the run's row has them.
    fn verdict(&self, lines: &mut Lines) {
        let row = &self.traced.row;
        let verdict = if row.outcome.deadlocked {
            format!(
                "deadlocked (stall cause: {})",
                row.stall_cause.as_deref().unwrap_or("unknown")
            )
        } else if self.traced.report.services_down.is_empty() {
            "every system service at its minimum".to_string()
        } else {
            "not deadlocked, but system services are down".to_string()
        };
        lines.heading(format!("== at the horizon {}: {verdict}", lines.t));
        let o = &row.outcome;
        let recovery = match o.system_recovery {
            Some(r) if o.system_outages == 0 => {
                debug_assert_eq!(r, crate::engine::Millis::ZERO);
                "no system service went below its minimum after the first fault".to_string()
            }
            Some(r) => format!("recovered: longest outage {:.3}s", r.as_secs_f64()),
            None if o.system_outages == 0 => "no fault struck".to_string(),
            None => "never recovered: the run ends in an outage".to_string(),
        };
        lines.heading(format!(
            "{recovery} ({} outage(s), {:.3}s unavailable in all)",
            o.system_outages,
            o.system_unavailable.as_secs_f64()
        ));
    }

    /// The system services below their minimum at the horizon.
    fn services_down(&self, lines: &mut Lines) {
        let report = &self.traced.report;
        let cluster = &self.traced.world.cluster;
        lines.heading(format!(
            "system services down ({}):",
            report.services_down.len()
        ));
        for &w in &report.services_down {
            let wl = &cluster.workloads()[w.index()];
            lines.push(
                1,
                "service-down",
                self.service(w),
                format!(
                    "{} running, needs {}; {} pending",
                    wl.running,
                    wl.spec.min_available.unwrap_or(0),
                    wl.pending
                ),
            );
        }
    }

    /// The pending system pods, oldest first, and why each does not fit.
    fn pending_system(&self, lines: &mut Lines) {
        let report = &self.traced.report;
        let cluster = &self.traced.world.cluster;
        let t = lines.t;
        lines.heading(format!(
            "pending system pods ({}), oldest first:",
            report.pending_system.len()
        ));
        for p in &report.pending_system {
            let pod = &cluster.pods()[p.pod.index()];
            lines.push(
                1,
                "pending",
                self.pod(p.pod),
                format!(
                    "since {} ({} ago), {}: {}",
                    p.since,
                    ago(t.saturating_sub(p.since)),
                    pod.requests,
                    rejection_text(&p.rejection)
                ),
            );
        }
    }

    /// The Ready nodes the pending system pods may use, and the user pods
    /// holding them.
    fn held_nodes(&self, lines: &mut Lines) {
        let report = &self.traced.report;
        let cluster = &self.traced.world.cluster;
        let held: usize = report.held_nodes.iter().map(|n| n.holders.len()).sum();
        lines.heading(format!(
            "Ready nodes those pods may use ({}), and the {held} user pods holding them:",
            report.held_nodes.len()
        ));
        for n in &report.held_nodes {
            lines.push(
                1,
                "node",
                format!("node/{}", n.node.0),
                format!("{}, free {}", self.node_detail(n.node), n.free),
            );
            for h in &n.holders {
                let pod = &cluster.pods()[h.pod.index()];
                debug_assert_eq!(
                    cluster.workloads()[pod.workload.index()].spec.class,
                    PodClass::User
                );
                let state = if h.running {
                    "running since"
                } else {
                    "starting, created"
                };
                let stalled = if h.stalled_on.is_empty() {
                    "progressing".to_string()
                } else {
                    let s: Vec<&str> = h.stalled_on.iter().map(|&w| self.workload(w)).collect();
                    format!("stalled on {}", s.join(", "))
                };
                lines.push(
                    2,
                    "holder",
                    self.pod(h.pod),
                    format!("{}, {state} {}, {stalled}", h.requests, h.since),
                );
            }
        }
    }
}

/// How long ago, to the second (the exact instant is printed beside it):
/// `1h28m18s`, not `5298450ms`.
fn ago(d: Millis) -> String {
    if d.0 < 1000 {
        return format_duration(d);
    }
    format_duration(Millis(d.0 - d.0 % 1000))
}

#[cfg(test)]
mod tests {
    use super::ago;
    use crate::engine::Millis;

    #[test]
    fn ago_is_to_the_second() {
        assert_eq!(ago(Millis(5_298_450)), "1h28m18s");
        assert_eq!(ago(Millis(450)), "450ms");
        assert_eq!(ago(Millis(60_000)), "1m");
    }
}
