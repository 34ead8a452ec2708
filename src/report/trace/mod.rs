//! `poolsim trace`: one run's event log in readable lines or JSON lines,
//! and, at the end, an explanation of what holds the cluster stuck.
//!
//! The run and its typed records come from `sim::run_traced`; this module
//! only names objects (`pod/<workload>-<slot>`, a Job's
//! `pod/<workload>-<arrival>-<n>`, `node/<id>`,
//! `instance/i-<id>`, `service/<workload>`), filters and formats. Unlike
//! the plots it reads the model, because a trace is about one run's
//! objects, not about result files.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::str::FromStr;

use crate::engine::Millis;
use crate::metrics::RunRow;
use crate::scenario::Scenario;
use crate::sim::{Traced, run_traced};

mod explain;
mod names;

use names::Names;

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
            known: scenario.policy_names(),
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
    let names = Names::new(scenario, traced);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::Rejection;
    use names::rejection_text;

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
