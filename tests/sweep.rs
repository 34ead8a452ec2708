use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use poolsim::metrics::stats::{mean_ci, wilson};
use poolsim::metrics::{RunFigures, summarise};
use poolsim::sweep::grid::{Grid, parse_set};

use crate::support::{poolsim, slow_sweep, wait_for_rows};

/// A small scenario with a grid of 2 x 2 points in its `[sweep]` table.
const GRID: &str = r#"name = "grid"
horizon = "30m"
seeds = 3

[sweep]
"workloads.app.replicas" = [4, 6]
"policies.single-pool.pools.all.desired" = "2..3"

[[workloads]]
name = "dns"
class = "system"
replicas = 2
min_available = 1
cpu = "100m"
memory = "128Mi"

[[workloads]]
name = "app"
class = "user"
replicas = 4
cpu = "500m"
memory = "512Mi"
needs = ["dns"]

[[policies]]
name = "single-pool"
pools = [{ name = "all", instance_type = "m5.large", desired = 2, max = 4 }]

[[policies]]
name = "split-pool"
pools = [
  { name = "system", instance_type = "m5.large", desired = 1, labels = { role = "system" } },
  { name = "user", instance_type = "m5.large", desired = 2, labels = { role = "user" } },
]
placement.system.node_selector = { role = "system" }
placement.user.node_selector = { role = "user" }

[[faults]]
kind = "terminate_all"
at = "10m"
"#;

pub(crate) fn grid_file(dir: &Path) -> PathBuf {
    let f = dir.join("grid.toml");
    std::fs::write(&f, GRID).unwrap();
    f
}

/// Runs `poolsim run FILE ARGS --out DIR -q`, asserting success.
pub(crate) fn run_ok(file: &Path, out: &Path, args: &[&str]) -> String {
    let mut all = vec![
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "-q",
    ];
    all.extend(args);
    let o = poolsim(&all);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const FILES: [&str; 5] = [
    "runs.csv",
    "summary.csv",
    "timeseries.csv",
    "sweep.toml",
    "scenario.resolved.toml",
];

pub(crate) fn assert_same_files(a: &Path, b: &Path) {
    for f in FILES {
        let (x, y) = (a.join(f), b.join(f));
        assert_eq!(x.exists(), y.exists(), "{f}");
        if x.exists() {
            assert!(
                std::fs::read(&x).unwrap() == std::fs::read(&y).unwrap(),
                "{f} differs between {} and {}",
                a.display(),
                b.display()
            );
        }
    }
}

#[test]
fn set_values_and_ranges_expand_row_major() {
    let a = parse_set("workloads.worker.replicas=100..300:100,500").unwrap();
    let v: Vec<i64> = a.values.iter().map(|v| v.as_integer().unwrap()).collect();
    assert_eq!(v, [100, 200, 300, 500]);
    let d = parse_set("instances.launch_delay.median=30s..90s:30s").unwrap();
    let v: Vec<&str> = d.values.iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(v, ["30s", "1m", "1m30s"]);
    let g = Grid { axes: vec![a, d] };
    // 4 x 3 points; the last axis varies fastest.
    assert_eq!(g.points(), 12);
    assert_eq!(g.labels(0), ["100", "30s"]);
    assert_eq!(g.labels(4), ["200", "1m"]);
    assert_eq!(g.labels(11), ["500", "1m30s"]);
    for bad in ["novalue", "=1", "a=", "a=3..1", "a=1..5:0", "seeds=1,2"] {
        assert!(parse_set(bad).is_err(), "{bad}");
    }
}

/// The file's grid (2 x 2) times a `--set` axis (2 values) times 2 policies
/// times 3 seeds: 48 runs, each swept value a column.
#[test]
fn grid_points_times_policies_times_seeds() {
    let tmp = tempfile::tempdir().unwrap();
    let file = grid_file(tmp.path());
    let out = tmp.path().join("out");
    run_ok(&file, &out, &["--set", "faults.0.at=5m,10m"]);
    let runs = std::fs::read_to_string(out.join("runs.csv")).unwrap();
    let mut lines = runs.lines();
    assert_eq!(
        lines.next().unwrap(),
        "policy,seed,workloads.app.replicas,policies.single-pool.pools.all.desired,faults.0.at,status,\
         deadlocked,system_recovery_s,system_unavailable_s,system_outages,user_work_done_frac,pending_pod_s,preemptions,\
         instances_launched,instance_hours,cost_usd,cost_by_pool,scale_ups,scale_downs,nodeclaims_launched,consolidations,disrupted_pods,max_nodes,scheduling_attempts,pods_created,events,stall_cause,error"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 2 * 2 * 2 * 2 * 3);
    // First point, seed-major then policy.
    assert_eq!(rows[0][..5], ["single-pool", "1", "4", "2", "5m"]);
    assert_eq!(rows[1][..5], ["split-pool", "1", "4", "2", "5m"]);
    assert_eq!(rows[2][..5], ["single-pool", "2", "4", "2", "5m"]);
    assert_eq!(rows[6][..5], ["single-pool", "1", "4", "2", "10m"]);
    assert_eq!(rows[47][..5], ["split-pool", "3", "6", "3", "10m"]);
    // A grid point's value reaches the model (column 13, instances_launched):
    // 3 desired nodes launch 3
    // replacements after terminate_all, 2 launch 2.
    assert_eq!(rows[0][13], "2");
    assert_eq!(rows[47 - 1][13], "3");
    let summary = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert_eq!(summary.lines().count(), 1 + 8 * 2);
    assert!(summary.starts_with(
        "workloads.app.replicas,policies.single-pool.pools.all.desired,faults.0.at,policy,runs,"
    ));
    // The resolved scenario holds the whole grid and reproduces the sweep.
    let again = tmp.path().join("again");
    run_ok(&out.join("scenario.resolved.toml"), &again, &[]);
    assert_same_files(&out, &again);
}

#[test]
fn unknown_key_names_the_nearest_valid_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let file = grid_file(tmp.path());
    let out = tmp.path().join("out");
    for (set, wanted) in [
        (
            "workloads.app.replicaz=1",
            "unknown key `workloads.app.replicaz` (nearest valid: `workloads.app.replicas`",
        ),
        (
            "policies.single-pool.pools.al.max=3",
            "unknown key `policies.single-pool.pools.al.max` (nearest valid: `policies.single-pool.pools.all`",
        ),
        (
            "kubernetes.schedulr.max_backoff=5s",
            "nearest valid: `kubernetes.scheduler.max_backoff`",
        ),
    ] {
        let o = poolsim(&[
            "run",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--set",
            set,
        ]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(wanted), "expected `{wanted}` in: {stderr}");
        assert!(!out.exists(), "output written for a bad key");
    }
}

#[test]
fn bytes_do_not_depend_on_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let file = grid_file(tmp.path());
    let one = tmp.path().join("one");
    let two = tmp.path().join("two");
    run_ok(&file, &one, &["--threads", "1", "--timeseries", "1m"]);
    run_ok(&file, &two, &["--threads", "2", "--timeseries", "1m"]);
    assert_same_files(&one, &two);
}

#[test]
fn shards_merged_equal_the_unsharded_run() {
    let tmp = tempfile::tempdir().unwrap();
    let file = grid_file(tmp.path());
    let whole = tmp.path().join("whole");
    run_ok(&file, &whole, &["--timeseries", "5m"]);
    let mut dirs = Vec::new();
    for i in [2, 0, 1] {
        let d = tmp.path().join(format!("shard{i}"));
        run_ok(
            &file,
            &d,
            &["--timeseries", "5m", "--shard", &format!("{i}/3")],
        );
        dirs.push(d.to_str().unwrap().to_string());
    }
    let merged = tmp.path().join("merged");
    let mut args = vec!["merge"];
    args.extend(dirs.iter().map(|s| s.as_str()));
    args.extend(["--out", merged.to_str().unwrap()]);
    let o = poolsim(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_same_files(&whole, &merged);
    // A missing shard is an error, not a short result.
    let o = poolsim(&[
        "merge",
        &dirs[0],
        &dirs[1],
        "--out",
        tmp.path().join("m2").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing"));
}

/// SIGKILL a sweep once some rows are on disk, resume it, and compare with
/// an uninterrupted sweep. The test hook slows each run down by 10 ms so
/// the sweep (320 runs on one thread) is still going when rows appear
/// (they are flushed every second), however fast the machine.
#[test]
fn killed_then_resumed_equals_uninterrupted() {
    let tmp = tempfile::tempdir().unwrap();
    let file = grid_file(tmp.path());
    let args = ["--seeds", "40", "--timeseries", "2m"];
    let killed = tmp.path().join("killed");
    let mut child = slow_sweep(&file, &killed, &args)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let partial = killed.join("runs.csv.partial");
    wait_for_rows(&mut child, &killed, 3);
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    assert!(!killed.join("runs.csv").exists());
    let stdout = run_ok(&file, &killed, &[&args[..], &["--resume"]].concat());
    assert!(stdout.contains("resumed "), "{stdout}");
    assert!(!partial.exists());
    let whole = tmp.path().join("whole");
    run_ok(&file, &whole, &args);
    assert_same_files(&whole, &killed);
}

#[test]
fn resume_refuses_another_plan() {
    let tmp = tempfile::tempdir().unwrap();
    let file = grid_file(tmp.path());
    let out = tmp.path().join("out");
    run_ok(&file, &out, &[]);
    let o = poolsim(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--seeds",
        "5",
        "--resume",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("different sweep"));
}

/// The test hook makes every run of seed 2 panic: those rows say `failed`
/// with the message, the others are complete, and the sweep finishes.
#[test]
fn a_panicking_run_is_a_failed_row() {
    let tmp = tempfile::tempdir().unwrap();
    let file = grid_file(tmp.path());
    let out = tmp.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_poolsim"))
        .args([
            "run",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "-q",
        ])
        .env(poolsim::sweep::TEST_PANIC_SEED, "2")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let runs = std::fs::read_to_string(out.join("runs.csv")).unwrap();
    let failed: Vec<&str> = runs.lines().filter(|l| l.contains(",failed,")).collect();
    assert_eq!(failed.len(), 4 * 2);
    assert!(failed.iter().all(|l| l.split(',').nth(1) == Some("2")));
    assert!(failed[0].ends_with("forced panic for seed 2 (POOLSIM_TEST_PANIC_SEED)"));
    assert_eq!(
        runs.lines().filter(|l| l.contains(",ok,")).count(),
        4 * 2 * 2
    );
    let summary = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    // Each group: 3 runs, 1 failed.
    for l in summary.lines().skip(1) {
        assert!(l.contains(",3,1,"), "{l}");
    }
}

#[test]
fn timeseries_samples_a_fixed_grid_without_changing_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let file = grid_file(tmp.path());
    let plain = tmp.path().join("plain");
    let sampled = tmp.path().join("sampled");
    run_ok(&file, &plain, &[]);
    run_ok(&file, &sampled, &["--timeseries", "10s"]);
    assert_eq!(
        std::fs::read(plain.join("runs.csv")).unwrap(),
        std::fs::read(sampled.join("runs.csv")).unwrap()
    );
    assert!(!plain.join("timeseries.csv").exists());
    let ts = std::fs::read_to_string(sampled.join("timeseries.csv")).unwrap();
    let mut lines = ts.lines();
    assert_eq!(
        lines.next().unwrap(),
        "policy,seed,workloads.app.replicas,policies.single-pool.pools.all.desired,t_s,ready_nodes,\
         ready_nodes.all,ready_nodes.system,ready_nodes.user,pending_system,pending_user,stalled,unready"
    );
    // 30 minutes every 10 s, both ends included: 181 samples per run, 24 runs.
    assert_eq!(lines.clone().count(), 181 * 24);
    let first: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(first[..5], ["single-pool", "1", "4", "2", "0.000"]);
    // Before the fault (10 m) the 2 nodes of the first point are Ready.
    let at_5m = ts
        .lines()
        .find(|l| l.starts_with("single-pool,1,4,2,300.000,"))
        .unwrap();
    assert!(
        at_5m.starts_with("single-pool,1,4,2,300.000,2,2,,,"),
        "{at_5m}"
    );
}

/// Wilson interval for 3 of 10: p = 0.3, z^2 = 3.8415;
/// centre = (0.3 + 3.8415/20) / (1 + 3.8415/10) = 0.49207 / 1.38415 = 0.35551;
/// half = 1.96 * sqrt(0.3*0.7/10 + 3.8415/400) / 1.38415 = 0.24772;
/// so [0.10779, 0.60322] (R: prop.test(3, 10, correct = FALSE)).
#[test]
fn wilson_interval_by_hand() {
    let (lo, hi) = wilson(3, 10);
    assert!((lo - 0.10779).abs() < 1e-4, "{lo}");
    assert!((hi - 0.60322).abs() < 1e-4, "{hi}");
}

/// Mean of 2, 4, 4, 4, 5, 5, 7, 9 is 5; sample variance 32/7 = 4.5714,
/// standard error sqrt(4.5714/8) = 0.75593, t(7) = 2.365, half-width 1.78777.
#[test]
fn mean_interval_by_hand() {
    let (m, lo, hi) = mean_ci(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
    assert_eq!(m, 5.0);
    assert!((lo - 3.21223).abs() < 1e-4, "{lo}");
    assert!((hi - 6.78777).abs() < 1e-4, "{hi}");
}

/// Paired differences over common seeds: costs 2, 3, 5 against the
/// baseline's 1, 1, 2 give differences 1, 2, 3: mean 2, standard deviation
/// 1, standard error 0.57735, t(2) = 4.303, half-width 2.48434. A seed the
/// baseline lacks (4) is left out.
#[test]
fn paired_difference_by_hand() {
    let run = |seed, cost| RunFigures {
        seed,
        ok: true,
        cost_usd: cost,
        ..RunFigures::default()
    };
    let base = [run(1, 1.0), run(2, 1.0), run(3, 2.0)];
    let other = [run(1, 2.0), run(2, 3.0), run(3, 5.0), run(4, 50.0)];
    let s = summarise(vec![], "other", &other, ("base", Some(&base)));
    assert_eq!(s.get("cost_usd_diff_mean"), Some(2.0));
    assert!((s.get("cost_usd_diff_lo").unwrap() + 0.48434).abs() < 1e-4);
    assert!((s.get("cost_usd_diff_hi").unwrap() - 4.48434).abs() < 1e-4);
    let b = summarise(vec![], "base", &base, ("base", None));
    assert!(b.get("cost_usd_diff_mean").unwrap().is_nan());
}

/// The file sets no launch delay; its default (lognormal, median 40 s) is
/// in the resolved document, so its median can be swept, and a slower
/// launch delays recovery.
#[test]
fn a_default_can_be_swept() {
    let tmp = tempfile::tempdir().unwrap();
    let file = grid_file(tmp.path());
    let out = tmp.path().join("out");
    run_ok(
        &file,
        &out,
        &[
            "--set",
            "instances.launch_delay.median=10s,5m",
            "--set",
            "instances.launch_delay.p95=10m",
            "--seeds",
            "1",
            "--policy",
            "single-pool",
        ],
    );
    let runs = std::fs::read_to_string(out.join("runs.csv")).unwrap();
    let header: Vec<&str> = runs.lines().next().unwrap().split(',').collect();
    let col = header
        .iter()
        .position(|h| *h == "system_recovery_s")
        .unwrap();
    let recovery = |median: &str| -> f64 {
        runs.lines()
            .map(|l| l.split(',').collect::<Vec<_>>())
            .find(|r| r[2] == "4" && r[3] == "2" && r[4] == median)
            .unwrap()[col]
            .parse()
            .unwrap()
    };
    assert!(recovery("5m") > recovery("10s") + 60.0, "{runs}");
}
