//! `poolsim trace`: one run's event log in readable lines or JSON lines,
//! and, at the end, an explanation of what holds the cluster stuck.
//!
//! The run and its typed records come from `sim::run_traced`; this module
//! only names objects (`pod/<workload>-<slot>`, `node/<id>`,
//! `instance/i-<id>`, `service/<workload>`), filters and formats. Unlike
//! the plots it reads the model, because a trace is about one run's
//! objects, not about result files.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::str::FromStr;

use crate::cloud::{CloudRecord, InstanceId};
use crate::engine::Millis;
use crate::kube::{KubeRecord, NodeId, PodClass, PodId, Rejection, WorkloadId};
use crate::metrics::RunRow;
use crate::scenario::Scenario;
use crate::scenario::units::format_duration;
use crate::sim::{TraceRecord, Traced, run_traced};

/// The kinds of object a trace line is about, for `--only`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// Pods (created, bound, unschedulable, started, deleted, preempted,
    /// evicted, creation rejected).
    Pods,
    /// Nodes (joined, Ready, lost, NotReady, deleted).
    Nodes,
    /// EC2 instances (launched, running, booted, terminated, failed
    /// launches).
    Instances,
    /// Services (down, up).
    Services,
    /// Faults striking.
    Faults,
    /// The cluster as a whole (detected stuck).
    Cluster,
}

impl ObjectKind {
    /// Every kind, in the order `--only` lists them.
    pub const ALL: [ObjectKind; 6] = [
        ObjectKind::Pods,
        ObjectKind::Nodes,
        ObjectKind::Instances,
        ObjectKind::Services,
        ObjectKind::Faults,
        ObjectKind::Cluster,
    ];

    /// The name `--only` accepts.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Pods => "pods",
            ObjectKind::Nodes => "nodes",
            ObjectKind::Instances => "instances",
            ObjectKind::Services => "services",
            ObjectKind::Faults => "faults",
            ObjectKind::Cluster => "cluster",
        }
    }
}

impl FromStr for ObjectKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ObjectKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = ObjectKind::ALL.iter().map(|k| k.as_str()).collect();
                format!("unknown object kind `{s}` (kinds: {})", names.join(", "))
            })
    }
}

/// How a trace is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TraceFormat {
    /// Aligned columns for people: time, event, object, detail.
    #[default]
    Text,
    /// One JSON object per line (`t_ms`, `time`, `event`, `object`,
    /// `detail`) for tools.
    Jsonl,
}

impl FromStr for TraceFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(TraceFormat::Text),
            "jsonl" => Ok(TraceFormat::Jsonl),
            _ => Err(format!("unknown format `{s}` (formats: text, jsonl)")),
        }
    }
}

/// What to show of a trace.
#[derive(Debug, Clone, Default)]
pub struct TraceOptions {
    /// Only lines about these kinds of object; empty for all.
    pub only: Vec<ObjectKind>,
    /// Only lines at or after this time.
    pub from: Option<Millis>,
    /// Only lines at or before this time.
    pub to: Option<Millis>,
    /// Text or JSON lines.
    pub format: TraceFormat,
}

/// Why a trace could not be written.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The scenario has no policy of this name.
    #[error("unknown policy `{name}` (policies: {known})")]
    UnknownPolicy {
        /// What was asked.
        name: String,
        /// What exists.
        known: String,
    },
    /// `--from` is after `--to`.
    #[error("--from {from} is after --to {to}")]
    EmptyWindow {
        /// The window's start.
        from: Millis,
        /// The window's end.
        to: Millis,
    },
    /// Writing the output failed.
    #[error("writing the trace: {0}")]
    Write(#[from] io::Error),
}

/// Runs `policy` of `scenario` with `seed` and writes its trace to `out`;
/// returns the run's row (the same as an untraced run's).
pub fn trace(
    scenario: &Scenario,
    policy: &str,
    seed: u64,
    opts: &TraceOptions,
    out: &mut dyn Write,
) -> Result<RunRow, TraceError> {
    let index = scenario
        .policies
        .iter()
        .position(|p| p.name == policy)
        .ok_or_else(|| TraceError::UnknownPolicy {
            name: policy.to_string(),
            known: scenario
                .policies
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    if let (Some(from), Some(to)) = (opts.from, opts.to)
        && from > to
    {
        return Err(TraceError::EmptyWindow { from, to });
    }
    let traced = run_traced(scenario, index, seed);
    write_trace(scenario, &traced, opts, out)?;
    Ok(traced.row)
}

/// One rendered line.
struct Line {
    t: Millis,
    event: &'static str,
    object: String,
    detail: String,
}

/// Writes a traced run: the lines `opts` selects, then the explanation.
pub fn write_trace(
    scenario: &Scenario,
    traced: &Traced,
    opts: &TraceOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let names = Names { scenario, traced };
    for e in &traced.entries {
        if opts.from.is_some_and(|f| e.t < f) || opts.to.is_some_and(|t| e.t > t) {
            continue;
        }
        let (kind, line) = names.line(e.t, e.record);
        if !opts.only.is_empty() && !opts.only.contains(&kind) {
            continue;
        }
        write_line(out, opts.format, &line)?;
    }
    let summary = names.summary();
    match opts.format {
        TraceFormat::Text => {
            writeln!(out)?;
            for (indent, line) in &summary {
                let pad = "  ".repeat(*indent);
                if line.object.is_empty() {
                    writeln!(out, "{pad}{}", line.detail)?;
                } else {
                    writeln!(out, "{pad}{:<20} {}", line.object, line.detail)?;
                }
            }
        }
        TraceFormat::Jsonl => {
            for (_, line) in &summary {
                write_line(out, opts.format, line)?;
            }
        }
    }
    Ok(())
}

fn write_line(out: &mut dyn Write, format: TraceFormat, l: &Line) -> io::Result<()> {
    match format {
        TraceFormat::Text => {
            let line = format!(
                "{:>12}  {:<14} {:<22} {}",
                l.t.to_string(),
                l.event,
                l.object,
                l.detail
            );
            writeln!(out, "{}", line.trim_end())
        }
        TraceFormat::Jsonl => writeln!(
            out,
            "{{\"t_ms\":{},\"time\":\"{}\",\"event\":{},\"object\":{},\"detail\":{}}}",
            l.t.0,
            l.t,
            json_string(l.event),
            json_string(&l.object),
            json_string(&l.detail)
        ),
    }
}

/// A JSON string literal: quotes, backslashes and control characters
/// escaped (names come from scenario files, so anything may appear).
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Turns ids into names, from the run's final state (pods, nodes and
/// instances are never reused, so the final tables name every id).
struct Names<'a> {
    scenario: &'a Scenario,
    traced: &'a Traced,
}

impl Names<'_> {
    fn workload(&self, w: WorkloadId) -> &str {
        &self.traced.world.cluster.workloads()[w.index()].spec.name
    }

    fn pod(&self, p: PodId) -> String {
        let pod = &self.traced.world.cluster.pods()[p.index()];
        format!("pod/{}-{}", self.workload(pod.workload), pod.slot)
    }

    fn service(&self, w: WorkloadId) -> String {
        format!("service/{}", self.workload(w))
    }

    fn pool(&self, pool: usize) -> &str {
        &self.traced.world.cloud.asgs()[pool].spec().name
    }

    fn instance_detail(&self, id: InstanceId) -> String {
        let cloud = &self.traced.world.cloud;
        let inst = cloud.instance(id);
        let zone = cloud.zones().get(inst.zone).map_or("?", String::as_str);
        format!(
            "pool={} zone={} type={}",
            self.pool(inst.asg.index()),
            zone,
            cloud.instance_type_of(id).name
        )
    }

    fn node_detail(&self, n: NodeId) -> String {
        let node = &self.traced.world.cluster.nodes()[n.index()];
        format!(
            "pool={} zone={} instance/i-{}",
            self.pool(node.spec.pool.index()),
            self.traced.world.zone_name(node.spec.zone),
            node.spec.provider_id
        )
    }

    fn line(&self, t: Millis, r: TraceRecord) -> (ObjectKind, Line) {
        use ObjectKind as K;
        let cluster = &self.traced.world.cluster;
        let node = |n: NodeId| format!("node/{}", n.0);
        let instance = |i: InstanceId| format!("instance/i-{}", i.0);
        let (kind, event, object, detail) = match r {
            TraceRecord::Fault { index, instances } => {
                let f = &self.scenario.faults[usize::from(index)];
                let object = f
                    .target
                    .pool
                    .as_ref()
                    .map_or("all".to_string(), |p| format!("pool/{p}"));
                let what = f.describe(self.traced.world.cloud.zones());
                (
                    K::Faults,
                    "fault",
                    object,
                    format!("{what}: {instances} instances"),
                )
            }
            TraceRecord::Stuck { services_down } => (
                K::Cluster,
                "stuck",
                "cluster".to_string(),
                format!(
                    "{services_down} system service(s) down and no progress for {}",
                    format_duration(self.scenario.detection_window)
                ),
            ),
            TraceRecord::Unschedulable { pod, rejection } => (
                K::Pods,
                "unschedulable",
                self.pod(pod),
                rejection_text(&rejection),
            ),
            TraceRecord::Cloud(c) => match c {
                CloudRecord::Launched(i) => (
                    K::Instances,
                    "launched",
                    instance(i),
                    self.instance_detail(i),
                ),
                CloudRecord::Running(i) => (K::Instances, "running", instance(i), String::new()),
                CloudRecord::Booted(i) => (K::Instances, "booted", instance(i), String::new()),
                CloudRecord::Terminated(i) => (
                    K::Instances,
                    "terminated",
                    instance(i),
                    self.traced
                        .node_of(i)
                        .map_or(String::new(), |n| format!("was {}", node(n))),
                ),
                CloudRecord::LaunchFailed(g) => (
                    K::Instances,
                    "launch-failed",
                    format!("pool/{}", self.pool(g.index())),
                    "no zone or type could launch".to_string(),
                ),
            },
            TraceRecord::Kube(k) => match k {
                KubeRecord::PodCreated(p) => {
                    let pod = &cluster.pods()[p.index()];
                    let wl = &cluster.workloads()[pod.workload.index()];
                    (
                        K::Pods,
                        "created",
                        self.pod(p),
                        format!("class={} {}", wl.spec.class.as_str(), pod.requests),
                    )
                }
                KubeRecord::Bound { pod, node: n } => {
                    (K::Pods, "bound", self.pod(pod), format!("-> {}", node(n)))
                }
                KubeRecord::Unschedulable(p) => {
                    (K::Pods, "unschedulable", self.pod(p), String::new())
                }
                KubeRecord::Started(p) => {
                    let on = cluster.pods()[p.index()].state.node();
                    (
                        K::Pods,
                        "started",
                        self.pod(p),
                        on.map_or(String::new(), |n| format!("on {}", node(n))),
                    )
                }
                KubeRecord::Deleted(p) => (K::Pods, "deleted", self.pod(p), String::new()),
                KubeRecord::Preempted { victim, by } => (
                    K::Pods,
                    "preempted",
                    self.pod(victim),
                    format!("by {}", self.pod(by)),
                ),
                KubeRecord::Evicted(p) => (
                    K::Pods,
                    "evicted",
                    self.pod(p),
                    "node unreachable, toleration ran out".to_string(),
                ),
                KubeRecord::DrainEvicted(p) => {
                    (K::Pods, "drain-evicted", self.pod(p), String::new())
                }
                KubeRecord::CreationRejected(w) => (
                    K::Pods,
                    "create-rejected",
                    format!("workload/{}", self.workload(w)),
                    "an admission webhook is down".to_string(),
                ),
                KubeRecord::NodeJoined(n) => {
                    (K::Nodes, "node-joined", node(n), self.node_detail(n))
                }
                KubeRecord::NodeReady(n) => (K::Nodes, "node-ready", node(n), self.node_detail(n)),
                KubeRecord::NodeLost(n) => (
                    K::Nodes,
                    "node-lost",
                    node(n),
                    "machine gone, heartbeats stopped".to_string(),
                ),
                KubeRecord::NodeNotReady(n) => (
                    K::Nodes,
                    "node-notready",
                    node(n),
                    "unreachable".to_string(),
                ),
                KubeRecord::NodeDeleted(n) => (K::Nodes, "node-deleted", node(n), String::new()),
                KubeRecord::ServiceDown(w) => (
                    K::Services,
                    "service-down",
                    self.service(w),
                    self.min_text(w, "below"),
                ),
                KubeRecord::ServiceUp(w) => (
                    K::Services,
                    "service-up",
                    self.service(w),
                    self.min_text(w, "back at"),
                ),
            },
        };
        (
            kind,
            Line {
                t,
                event,
                object,
                detail,
            },
        )
    }

    fn min_text(&self, w: WorkloadId, how: &str) -> String {
        let wl = &self.traced.world.cluster.workloads()[w.index()];
        format!(
            "{} {how} min_available={}",
            wl.spec.class.as_str(),
            wl.spec.min_available.unwrap_or(0)
        )
    }

    /// The explanation at the horizon, as (indent, line) pairs.
    fn summary(&self) -> Vec<(usize, Line)> {
        let t = self.scenario.horizon;
        let row = &self.traced.row;
        let report = &self.traced.report;
        let cluster = &self.traced.world.cluster;
        let mut out = Vec::new();
        let mut push = |indent: usize, event: &'static str, object: String, detail: String| {
            out.push((
                indent,
                Line {
                    t,
                    event,
                    object,
                    detail,
                },
            ))
        };
        let verdict = if row.outcome.deadlocked {
            format!(
                "deadlocked (stall cause: {})",
                row.stall_cause.as_deref().unwrap_or("unknown")
            )
        } else if report.services_down.is_empty() {
            "every system service at its minimum".to_string()
        } else {
            "not deadlocked, but system services are down".to_string()
        };
        push(
            0,
            "summary",
            String::new(),
            format!("== at the horizon {t}: {verdict}"),
        );
        if report.services_down.is_empty() {
            return out;
        }
        push(
            0,
            "summary",
            String::new(),
            format!("system services down ({}):", report.services_down.len()),
        );
        for &w in &report.services_down {
            let wl = &cluster.workloads()[w.index()];
            push(
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
        push(
            0,
            "summary",
            String::new(),
            format!(
                "pending system pods ({}), oldest first:",
                report.pending_system.len()
            ),
        );
        for p in &report.pending_system {
            let pod = &cluster.pods()[p.pod.index()];
            push(
                1,
                "pending",
                self.pod(p.pod),
                format!(
                    "since {} ({} ago), {}: {}",
                    p.since,
                    format_duration(t.saturating_sub(p.since)),
                    pod.requests,
                    rejection_text(&p.rejection)
                ),
            );
        }
        let held: usize = report.held_nodes.iter().map(|n| n.holders.len()).sum();
        push(
            0,
            "summary",
            String::new(),
            format!(
                "Ready nodes those pods may use ({}), and the {held} user pods holding them:",
                report.held_nodes.len()
            ),
        );
        for n in &report.held_nodes {
            push(
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
                push(
                    2,
                    "holder",
                    self.pod(h.pod),
                    format!("{}, {state} {}, {stalled}", h.requests, h.since),
                );
            }
        }
        out
    }
}

/// kube-scheduler's "0/N nodes are available" message, from the counts.
fn rejection_text(r: &Rejection) -> String {
    if r.nodes == 0 {
        return "0/0 nodes: none registered".to_string();
    }
    let mut parts = Vec::new();
    for (n, why) in [
        (r.insufficient_cpu, "insufficient cpu"),
        (r.insufficient_memory, "insufficient memory"),
        (r.too_many_pods, "too many pods"),
        (r.not_ready, "not ready"),
        (r.cordoned, "cordoned"),
        (r.pool_mismatch, "in pools it may not use"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {why}"));
        }
    }
    if parts.is_empty() {
        // Every node passed the filters now: the attempt lost to a pod
        // nominated there, or room freed later in the same instant.
        parts.push("room reserved for nominated pods".to_string());
    }
    format!("0/{} nodes: {}", r.nodes, parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\u0001\"");
    }

    #[test]
    fn rejection_reads_like_the_scheduler() {
        let r = Rejection {
            nodes: 5,
            insufficient_cpu: 5,
            ..Rejection::default()
        };
        assert_eq!(rejection_text(&r), "0/5 nodes: 5 insufficient cpu");
    }
}
