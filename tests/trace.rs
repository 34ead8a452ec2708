//! `poolsim trace`: the event log of one run, its filters, and the
//! explanation of a deadlock.

use poolsim::Scenario;
use poolsim::engine::Millis;
use poolsim::report::{ObjectKind, TraceFormat, TraceOptions, trace};

use crate::support::{policy, poolsim, shipped};

/// A seed of `seed-deadlock.toml` whose single-pool run deadlocks under
/// every version modelled (`poolsim run scenarios/seed-deadlock.toml
/// --seeds 20 --set kubernetes.version=1.31,1.35` gives `deadlocked=true`
/// for seeds 4, 7, 9, 13 and 20 under 1.31 and 3, 9, 13, 17 and 18 under
/// 1.35).
const DEADLOCK_SEED: u64 = 9;

fn seed_deadlock() -> Scenario {
    Scenario::load(&shipped("seed-deadlock.toml")).expect("shipped scenario")
}

/// The trace of one run as text.
fn traced(s: &Scenario, policy: &str, seed: u64, opts: &TraceOptions) -> String {
    let mut out = Vec::new();
    trace(s, policy, seed, opts, &mut out).expect("trace");
    String::from_utf8(out).expect("utf-8")
}

/// The event lines of a text trace (before the blank line that opens the
/// explanation).
fn event_lines(text: &str) -> Vec<&str> {
    text.lines().take_while(|l| !l.is_empty()).collect()
}

/// The time at the start of a text event line, in milliseconds.
fn time_of(line: &str) -> u64 {
    let t = line.split_whitespace().next().expect("time");
    let (hms, ms) = t.split_once('.').expect("h:mm:ss.mmm");
    let p: Vec<u64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
    ((p[0] * 60 + p[1]) * 60 + p[2]) * 1000 + ms.parse::<u64>().unwrap()
}

#[test]
fn a_deadlock_trace_shows_pending_system_pods_and_the_user_pods_holding_the_nodes() {
    let out = poolsim(&[
        "trace",
        shipped("seed-deadlock.toml").to_str().unwrap(),
        "--policy",
        "single-pool",
        "--seed",
        &DEADLOCK_SEED.to_string(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let events = event_lines(&text);
    assert!(
        events
            .iter()
            .any(|l| l.contains(" fault ") && l.contains("20 instances"))
    );
    // Stuck is noted once services have been down for the whole detection
    // window: not before the fault at 30m plus the 10m window, although
    // the steady backlog made no progress before the fault either.
    let stuck: Vec<&&str> = events.iter().filter(|l| l.contains(" stuck ")).collect();
    assert_eq!(stuck.len(), 1, "{stuck:?}");
    assert!(time_of(stuck[0]) >= 40 * 60_000, "{}", stuck[0]);
    assert!(events.iter().any(|l| l.contains(" node-ready ")));
    assert!(events.iter().any(|l| l.contains(" bound ")));
    let explanation = &text[text.find("== at the horizon").expect("summary")..];
    assert!(explanation.contains("deadlocked (stall cause: system-pods-no-room)"));
    assert!(explanation.contains("system services down"));
    // Each pending system pod, with since when and the scheduler's verdict.
    let pending: Vec<&str> = explanation
        .lines()
        .skip_while(|l| !l.starts_with("pending system pods"))
        .skip(1)
        .take_while(|l| l.starts_with("  pod/"))
        .collect();
    assert!(!pending.is_empty(), "{explanation}");
    for l in &pending {
        assert!(
            l.contains("since 0:") && l.contains("insufficient cpu"),
            "{l}"
        );
    }
    // The nodes they could use, each with the user pods on it, stalled on
    // a missing service.
    assert!(explanation.contains("user pods holding them"));
    let nodes = explanation
        .lines()
        .filter(|l| l.starts_with("  node/"))
        .count();
    let holders: Vec<&str> = explanation
        .lines()
        .filter(|l| l.starts_with("    pod/"))
        .collect();
    assert!(nodes > 0 && !holders.is_empty());
    assert!(
        holders
            .iter()
            .all(|l| l.contains("running since") || l.contains("starting"))
    );
    assert!(holders.iter().any(|l| l.contains("stalled on")));
}

#[test]
fn a_recovering_run_says_so() {
    let s = seed_deadlock();
    let text = traced(&s, "split-pool", DEADLOCK_SEED, &TraceOptions::default());
    assert!(
        text.contains("every system service at its minimum"),
        "{text}"
    );
    assert!(!text.contains("pending system pods"));
}

#[test]
fn tracing_changes_no_history() {
    let s = seed_deadlock();
    for name in ["single-pool", "split-pool"] {
        let p = policy(&s, name);
        let untraced = poolsim::run_one(&s, p, DEADLOCK_SEED);
        let mut sink = Vec::new();
        let row = trace(&s, name, DEADLOCK_SEED, &TraceOptions::default(), &mut sink).unwrap();
        assert_eq!(row.record(), untraced.record(), "{name}");
        if name == "single-pool" {
            assert!(row.outcome.deadlocked);
        }
    }
}

#[test]
fn one_seed_one_trace() {
    let s = seed_deadlock();
    let opts = TraceOptions::default();
    let a = traced(&s, "single-pool", DEADLOCK_SEED, &opts);
    let b = traced(&s, "single-pool", DEADLOCK_SEED, &opts);
    assert_eq!(a, b);
}

#[test]
fn only_keeps_the_kinds_asked_for() {
    let s = seed_deadlock();
    let opts = TraceOptions {
        only: vec![ObjectKind::Pods],
        ..TraceOptions::default()
    };
    let text = traced(&s, "single-pool", DEADLOCK_SEED, &opts);
    let events = event_lines(&text);
    assert!(!events.is_empty());
    for l in &events {
        let object = l.split_whitespace().nth(2).unwrap();
        assert!(
            object.starts_with("pod/") || object.starts_with("workload/"),
            "{l}"
        );
    }
    assert!(
        !events
            .iter()
            .any(|l| l.contains("node/") && l.contains("node-"))
    );
}

#[test]
fn the_window_bounds_the_times() {
    let s = seed_deadlock();
    let (from, to) = (Millis::from_mins(29), Millis::from_mins(45));
    let opts = TraceOptions {
        from: Some(from),
        to: Some(to),
        ..TraceOptions::default()
    };
    let text = traced(&s, "single-pool", DEADLOCK_SEED, &opts);
    let events = event_lines(&text);
    assert!(events.len() > 100);
    for l in &events {
        let t = time_of(l);
        assert!(from.0 <= t && t <= to.0, "{l}");
    }
    // The fault at 30m is inside, the initial creations are not.
    assert!(events.iter().any(|l| l.contains(" fault ")));
    assert_eq!(time_of(events[0]), 30 * 60_000);
}

#[test]
fn jsonl_lines_parse() {
    let s = seed_deadlock();
    let opts = TraceOptions {
        format: TraceFormat::Jsonl,
        only: vec![
            ObjectKind::Faults,
            ObjectKind::Services,
            ObjectKind::Cluster,
        ],
        ..TraceOptions::default()
    };
    let text = traced(&s, "single-pool", DEADLOCK_SEED, &opts);
    let mut events = Vec::new();
    for line in text.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        for key in ["time", "event", "object", "detail"] {
            assert!(v[key].is_string(), "{key} in {line}");
        }
        let t = v["t_ms"].as_u64().expect("t_ms");
        assert!(t <= s.horizon.0);
        events.push(v["event"].as_str().unwrap().to_string());
    }
    assert!(events.iter().any(|e| e == "fault"));
    assert!(events.iter().any(|e| e == "service-down"));
    assert!(events.iter().any(|e| e == "pending"));
    assert!(events.iter().any(|e| e == "holder"));
}

#[test]
fn bad_trace_input_exits_2() {
    let file = shipped("seed-deadlock.toml");
    let file = file.to_str().unwrap();
    let out = poolsim(&["trace", file, "--policy", "nope", "--seed", "1"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown policy `nope`") && err.contains("single-pool"),
        "{err}"
    );
    for args in [
        ["--from", "soon"],
        ["--to", "-5m"],
        ["--only", "pods,widgets"],
        ["--format", "xml"],
    ] {
        let out = poolsim(&[
            "trace",
            file,
            "--policy",
            "single-pool",
            "--seed",
            "1",
            args[0],
            args[1],
        ]);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}
