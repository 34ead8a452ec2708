use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use poolsim::Scenario;

/// Parses an inline scenario, panicking with the error if it is invalid.
pub fn scenario(text: &str) -> Scenario {
    Scenario::parse(text, "inline.toml").unwrap_or_else(|e| panic!("{e}"))
}

/// A Job of 4 completions, 2 at a time, 60 s of work per pod, arriving at
/// 0 s and at 100 s; pods start 5 s after binding.
pub const JOBS: &str = r#"
name = "jobs"
horizon = "10m"
[kubernetes]
pod_startup = { dist = "fixed", value = "5s" }
[[workloads]]
name = "batch"
class = "user"
kind = "job"
completions = 4
parallelism = 2
work = { dist = "fixed", value = "60s" }
arrivals = { at = ["0s", "100s"] }
cpu = "200m"
memory = "256Mi"
[[policies]]
name = "single-pool"
pools = [{ name = "all", instance_type = "m5.xlarge", desired = 1 }]
"#;

/// The index of a policy by name.
pub fn policy(s: &Scenario, name: &str) -> usize {
    s.policies
        .iter()
        .position(|p| p.name == name)
        .unwrap_or_else(|| panic!("no policy {name}"))
}

/// Runs the `poolsim` binary.
pub fn poolsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_poolsim"))
        .args(args)
        .output()
        .expect("poolsim runs")
}

/// A shipped scenario file.
pub fn shipped(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name)
}

/// `poolsim run FILE --out OUT ARGS` on one thread, each run slowed by
/// 10 ms (the test hook), quiet and with stdout dropped: a sweep still
/// going when its first rows reach the disk, to kill or to race. Set
/// stderr and spawn.
pub fn slow_sweep(file: &Path, out: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_poolsim"));
    c.args([
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
    .args(args)
    .args(["--threads", "1", "-q"])
    .env(poolsim::sweep::TEST_SLOW_MS, "10")
    .stdout(Stdio::null());
    c
}

/// Waits until `out/runs.csv.partial` holds more than `rows` lines (rows
/// are flushed every second), failing if the sweep ends first.
pub fn wait_for_rows(child: &mut Child, out: &Path, rows: usize) {
    let partial = out.join("runs.csv.partial");
    let start = Instant::now();
    while std::fs::read_to_string(&partial).map_or(0, |t| t.lines().count()) <= rows {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the sweep ended too soon"
        );
        assert!(start.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(20));
    }
}
