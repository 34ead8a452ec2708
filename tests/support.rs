use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use poolsim::Scenario;
use poolsim::engine::{Millis, Simulation};
use poolsim::sim::{Event, World};

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

/// Karpenter's test ground, first part: one zone `z1`, launches of 30 s,
/// boots of 60 s, nothing reserved; the `[instances]` table is left open
/// for more keys, so [`KARPENTER_TYPES`] must follow.
pub const KARPENTER_INSTANCES: &str = r#"
zones = ["z1"]
[instances]
launch_delay = { dist = "fixed", value = "30s" }
boot_delay = { dist = "fixed", value = "60s" }
reserved_cpu = "0"
reserved_memory = "0"
"#;

/// Karpenter's test ground, second part: three types, `small` 2 cpu / 4Gi
/// $0.10, `medium` 4 cpu / 8Gi $0.19, `large` 8 cpu / 16Gi $0.40, 20 pods
/// each.
pub const KARPENTER_TYPES: &str = r#"
[[instance_types]]
name = "small"
cpu = "2"
memory = "4Gi"
max_pods = 20
price_per_hour = 0.10
[[instance_types]]
name = "medium"
cpu = "4"
memory = "8Gi"
max_pods = 20
price_per_hour = 0.19
[[instance_types]]
name = "large"
cpu = "8"
memory = "16Gi"
max_pods = 20
price_per_hour = 0.40
"#;

/// The world of `text`'s first policy, seed 1, run until `t`.
pub fn run_to(text: &str, t: Millis) -> World {
    let s = scenario(text);
    let (mut world, mut sim): (World, Simulation<Event>) = World::new(&s, 0, 1);
    sim.run_until(&mut world, t);
    world
}

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

/// Every shipped scenario (`scenarios/*.toml`, by file name), loaded, with
/// its file name and the seeds from its first that a comparison of two
/// ways of running it takes per policy: four, enough to cross faults,
/// backlogs and preemptions in every shipped scenario while keeping the
/// test short; one for the large cluster. A scenario added to
/// `scenarios/` is covered without editing the tests that call this.
pub fn every_shipped() -> Vec<(String, Scenario, Range<u64>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("scenarios/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "shipped scenarios: {files:?}");
    files
        .into_iter()
        .map(|file| {
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("")
                .to_string();
            let scenario = Scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
            let seeds = if name.starts_with("large-cluster") {
                1
            } else {
                4
            };
            let first = scenario.first_seed;
            (name, scenario, first..first + seeds)
        })
        .collect()
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
