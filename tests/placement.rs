//! A policy's placement rules and a workload's own: the rule fills in label
//! keys the workload leaves open and never overrides one it sets; `validate`
//! prints the result per policy.

use poolsim::engine::Millis;
use poolsim::sim::World;

use crate::support::{poolsim, scenario};

/// Two pools: `general` (pool=general, role=user) and a Spot `batch` pool
/// (pool=batch, role=user). The policy sends user pods to `pool=general`;
/// the Job selects `pool=batch` itself, the Deployment selects nothing.
const JOB_SELECTOR: &str = r#"
name = "job-selector"
horizon = "10m"
[kubernetes]
pod_startup = { dist = "fixed", value = "5s" }
[[workloads]]
name = "web"
class = "user"
replicas = 2
cpu = "500m"
memory = "512Mi"
[[workloads]]
name = "nightly-etl"
class = "user"
kind = "job"
completions = 3
parallelism = 3
work = { dist = "fixed", value = "60s" }
cpu = "1"
memory = "1Gi"
node_selector = { pool = "batch" }
[[policies]]
name = "pools"
pools = [
  { name = "general", instance_type = "m5.xlarge", desired = 1, labels = { pool = "general", role = "user" } },
  { name = "batch", instance_type = "m5.xlarge", desired = 1, capacity = "spot", labels = { pool = "batch", role = "user" } },
]
placement.user.node_selector = { pool = "general", role = "user" }
"#;

fn selector(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The Job keeps `pool=batch` and gains `role=user`; the Deployment takes
/// the rule whole. In the run every Job pod is bound to the batch pool's
/// node (pool 1) and every web pod to the general pool's (pool 0).
#[test]
fn a_workloads_own_selector_wins_over_the_policys_rule() {
    let s = scenario(JOB_SELECTOR);
    let under = s.workloads_under(&s.policies[0]);
    assert_eq!(
        under[0].node_selector,
        selector(&[("pool", "general"), ("role", "user")])
    );
    assert_eq!(
        under[1].node_selector,
        selector(&[("pool", "batch"), ("role", "user")])
    );
    let (mut world, mut sim) = World::new(&s, 0, 1);
    sim.run_until(&mut world, Millis::from_secs(30));
    let c = &world.cluster;
    let mut seen = [0, 0];
    for p in c.pods() {
        let node = p.state().node().expect("every pod bound within 30 s");
        let pool = c.nodes()[node.index()].spec.pool.index();
        let wl = &c.workloads()[p.workload.index()].spec.name;
        match wl.as_str() {
            "web" => assert_eq!(pool, 0, "web pod on pool {pool}"),
            "nightly-etl" => assert_eq!(pool, 1, "Job pod on pool {pool}"),
            other => panic!("unexpected workload {other}"),
        }
        seen[pool] += 1;
    }
    assert_eq!(seen, [2, 3]);
}

/// `poolsim validate` shows each workload's effective placement under the
/// policy.
#[test]
fn validate_prints_the_effective_placement() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("job-selector.toml");
    let text = JOB_SELECTOR.replace(
        "name = \"web\"",
        "name = \"web\"\ntolerations = [{ key = \"dedicated\", operator = \"Equal\", value = \"web\", effect = \"NoSchedule\" }]",
    );
    std::fs::write(&file, text).unwrap();
    let out = poolsim(&["validate", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let line = |name: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(name) && l.contains(" select "))
            .unwrap_or_else(|| panic!("no line for {name} in\n{text}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert!(text.contains("placement (effective"), "{text}");
    assert_eq!(
        line("web "),
        "web deployment select pool=general,role=user; tolerate dedicated=web:NoSchedule; priority 0"
    );
    assert_eq!(
        line("nightly-etl "),
        "nightly-etl job select pool=batch,role=user; priority 0"
    );
}
