//! `poolsim trace`: the event log of one run, its filters, and the
//! explanation of a deadlock.

use poolsim::Scenario;
use poolsim::engine::Millis;
use poolsim::report::{ObjectKind, TraceFormat, TraceOptions, trace};

use crate::support::{KARPENTER_INSTANCES, KARPENTER_TYPES, policy, poolsim, scenario, shipped};

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
    // The row's recovery: one outage, from the fault, and recovered.
    assert!(
        text.contains("\nrecovered: longest outage ") && text.contains(" (1 outage(s), "),
        "{text}"
    );
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

/// Every pod of a Job gets its own name: two arrivals (0 s and 100 s) of a
/// Job of 4 completions, 2 at a time, create `batch-0-0` .. `batch-0-3` and
/// `batch-1-0` .. `batch-1-3`, each once, in that order within a Job.
#[test]
fn job_pods_have_unique_names() {
    let s = crate::support::scenario(crate::support::JOBS);
    let opts = TraceOptions {
        only: vec![ObjectKind::Pods],
        ..TraceOptions::default()
    };
    let text = traced(&s, "single-pool", 1, &opts);
    let created: Vec<&str> = event_lines(&text)
        .into_iter()
        .filter(|l| l.split_whitespace().nth(1) == Some("created"))
        .map(|l| l.split_whitespace().nth(2).unwrap())
        .collect();
    assert_eq!(
        created,
        [
            "pod/batch-0-0",
            "pod/batch-0-1",
            "pod/batch-0-2",
            "pod/batch-0-3",
            "pod/batch-1-0",
            "pod/batch-1-1",
            "pod/batch-1-2",
            "pod/batch-1-3",
        ]
    );
}

/// `--only faults,instances` keeps the explanation whole, with the run's
/// recovery: a deadlocked run never recovered.
#[test]
fn the_explanation_survives_only() {
    let s = seed_deadlock();
    let opts = TraceOptions {
        only: vec![ObjectKind::Faults, ObjectKind::Instances],
        ..TraceOptions::default()
    };
    let text = traced(&s, "single-pool", DEADLOCK_SEED, &opts);
    let events = event_lines(&text);
    assert!(events.iter().all(|l| {
        let object = l.split_whitespace().nth(2).unwrap();
        object == "all" || object.starts_with("instance/") || object.starts_with("pool/")
    }));
    let explanation = &text[text.find("\n\n").expect("a blank line") + 2..];
    assert!(
        explanation.starts_with("== at the horizon 2:00:00.000: deadlocked"),
        "{explanation}"
    );
    let second = explanation.lines().nth(1).unwrap();
    assert!(
        second.starts_with("never recovered: the run ends in an outage (1 outage(s), "),
        "{second}"
    );
    for part in ["system services down", "pending system pods", "Ready nodes"] {
        assert!(explanation.contains(part), "{part} missing:\n{explanation}");
    }
}

/// Every `terminated` line says why. In a zone outage (seed 1 of
/// `zone-outage.toml`, single pool) the zone's instances go with the fault
/// and, once the zone is back, AZ rebalancing terminates instances in the
/// fullest zones after their replacements are up.
/// In `spot-interruptions.toml` the notices run out: `spot interruption`.
#[test]
fn every_termination_says_why() {
    let reasons_in = |file: &str| -> Vec<String> {
        let s = Scenario::load(&shipped(file)).expect("shipped scenario");
        let opts = TraceOptions {
            only: vec![ObjectKind::Instances],
            ..TraceOptions::default()
        };
        let text = traced(&s, "single-pool", 1, &opts);
        event_lines(&text)
            .into_iter()
            .filter(|l| l.split_whitespace().nth(1) == Some("terminated"))
            .map(|l| {
                // time, event, object, then the detail: "<reason>, was node/N".
                let detail: Vec<&str> = l.split_whitespace().skip(3).collect();
                detail.join(" ").split(',').next().unwrap().to_string()
            })
            .collect()
    };
    let spot = reasons_in("spot-interruptions.toml");
    assert!(
        !spot.is_empty() && spot.iter().any(|r| r == "spot interruption"),
        "{spot:?}"
    );
    let mut reasons = reasons_in("zone-outage.toml");
    let zone_outage = reasons.len();
    reasons.extend(spot);
    assert!(zone_outage > 0);
    let known = [
        "fault",
        "spot interruption",
        "health check",
        "az rebalance",
        "scale-in",
        "instance refresh",
    ];
    for r in &reasons {
        assert!(known.contains(&r.as_str()), "unknown reason `{r}`");
    }
    assert!(reasons[..zone_outage].iter().any(|r| r == "fault"));
    assert!(reasons[..zone_outage].iter().any(|r| r == "az rebalance"));
}

/// A Spot interruption's fault line counts the instances it struck, a
/// Karpenter NodeClaim's as well as an ASG member, and each struck
/// instance has its `interrupted` line at the strike. Policy `k`: the two
/// pods (1 cpu each) fail at 0 and 5 ms, the batch ends at 1.005 s with one
/// Spot `small` NodeClaim, instance i-0, node 0. Policy `asg`: two Spot
/// `small` members from the start, i-0 and i-1 (nodes 0 and 1). At 10 min
/// the fault strikes one Spot instance: `k`'s only one, i-0; in `asg`
/// the seeded choice (seed 1) falls on i-1. Nothing is terminated then
/// (the notice is 2 min), which the count once said: 0 instances.
#[test]
fn a_spot_interruption_counts_the_instances_it_struck() {
    let text = format!(
        r#"
name = "spot-struck"
horizon = "15m"
{KARPENTER_INSTANCES}{KARPENTER_TYPES}
[[workloads]]
name = "api"
class = "user"
replicas = 2
cpu = "1"
memory = "1Gi"
[[policies]]
name = "k"
karpenter = {{ interruption_queue = true }}
[[policies.nodepools]]
name = "default"
requirements = [{{ key = "node.kubernetes.io/instance-type", operator = "In", values = ["small"] }}, {{ key = "karpenter.sh/capacity-type", operator = "In", values = ["spot"] }}]
disruption = {{ consolidate_after = "Never" }}
[[policies]]
name = "asg"
pools = [{{ name = "spot", instance_type = "small", desired = 2, capacity = "spot" }}]
[[faults]]
kind = "spot_interruption"
at = "10m"
count = 1
"#
    );
    let s = scenario(&text);
    let opts = TraceOptions {
        only: vec![ObjectKind::Faults, ObjectKind::Instances],
        ..TraceOptions::default()
    };
    for (policy, struck) in [("k", "instance/i-0"), ("asg", "instance/i-1")] {
        let text = traced(&s, policy, 1, &opts);
        let at_strike: Vec<Vec<&str>> = event_lines(&text)
            .into_iter()
            .filter(|l| time_of(l) == 600_000)
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(at_strike.len(), 2, "{policy}: {at_strike:?}");
        assert_eq!(at_strike[0][1], "fault", "{policy}");
        assert_eq!(at_strike[0][at_strike[0].len() - 2..], ["1", "instances"]);
        assert_eq!(at_strike[1][1..3], ["interrupted", struck], "{policy}");
    }
}

/// A run of a sweep traced with the same `--set` and its grid point gives
/// that run's `runs.csv` row; the file's base values (what a trace without
/// `--set` runs) give another. `--results` refuses what the results do not
/// hold, and a grid of several points needs `--point`.
#[test]
fn trace_with_set_reproduces_a_grid_points_row() {
    let tmp = tempfile::tempdir().unwrap();
    let file = shipped("seed-deadlock.toml");
    let file = file.to_str().unwrap();
    let out = tmp.path().join("out");
    let out = out.to_str().unwrap();
    let set = "workloads.worker.replicas=100,200";
    let run = poolsim(&[
        "run", file, "--seeds", "2", "--set", set, "--out", out, "-q",
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );

    let base = seed_deadlock();
    let at = poolsim::sweep::grid_point(&base, &[set.to_string()], Some(1)).expect("point 1");
    assert_eq!(
        at.values,
        [("workloads.worker.replicas".to_string(), "200".to_string())]
    );
    let runs = std::fs::read_to_string(tmp.path().join("out/runs.csv")).unwrap();
    let row: Vec<&str> = runs
        .lines()
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|c| c[0] == "single-pool" && c[1] == "2" && c[2] == "200")
        .expect("the row of single-pool, seed 2, 200 workers");
    let traced_row = trace(
        &at.scenario,
        "single-pool",
        2,
        &TraceOptions::default(),
        &mut std::io::sink(),
    )
    .expect("trace");
    let mut expected = traced_row.record();
    expected.insert(2, "200".to_string());
    assert_eq!(row, expected);
    let base_row = trace(
        &base,
        "single-pool",
        2,
        &TraceOptions::default(),
        &mut std::io::sink(),
    )
    .expect("trace");
    assert_ne!(base_row.record(), traced_row.record());
    results_and_point_are_checked(file, set, out);
}

/// `poolsim trace` on the sweep of `file` with `--set set` written to
/// `out` (grid point 1 is 200 workers): `--point` with `--results` gives
/// the lines `--set` of that point's value alone gives; a grid needs
/// `--point`, which must be one of its points, and `--results` refuses a
/// seed, a point or a grid its runs do not hold (exit 2, nothing printed).
fn results_and_point_are_checked(file: &str, set: &str, out: &str) {
    let with = |extra: &[&str]| {
        let mut args = vec!["trace", file, "--policy", "single-pool", "--only", "faults"];
        args.extend_from_slice(extra);
        poolsim(&args)
    };
    let ok = with(&[
        "--seed",
        "2",
        "--set",
        set,
        "--point",
        "1",
        "--results",
        out,
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let pinned = with(&[
        "--seed",
        "2",
        "--set",
        "workloads.worker.replicas=200",
        "--results",
        out,
    ]);
    assert_eq!(pinned.stdout, ok.stdout);
    for (args, says) in [
        (vec!["--seed", "2", "--set", set], "--point"),
        (
            vec!["--seed", "2", "--set", set, "--point", "2"],
            "2 point(s)",
        ),
        (
            vec![
                "--seed",
                "3",
                "--set",
                set,
                "--point",
                "1",
                "--results",
                out,
            ],
            "holds no run of policy `single-pool` with seed 3 at workloads.worker.replicas=200",
        ),
        (
            vec![
                "--seed",
                "2",
                "--set",
                "workloads.worker.replicas=300",
                "--results",
                out,
            ],
            "holds no run",
        ),
        (
            vec!["--seed", "2", "--results", out],
            "its runs sweep [workloads.worker.replicas] but this trace's grid sweeps []",
        ),
    ] {
        let o = with(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(o.stdout.is_empty(), "{args:?}");
    }
}
