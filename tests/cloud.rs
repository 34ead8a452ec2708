//! EC2 and Auto Scaling Group behaviours, one small deterministic scenario
//! each: fixed delays (launch 30 s, boot 60 s, replacement 10 s), an ASG of
//! six m5.large over three zones, exact times and counts.

use poolsim::cloud::{Instance, InstanceState};
use poolsim::engine::Millis;
use poolsim::kube::NodeCondition;
use poolsim::sim::World;

use crate::support::{policy, scenario};

/// One pool of six, spread 2/2/2 over us-east-1a/b/c; `pool` adds keys to
/// the pool, `instances` to `[instances]`, `faults` appends tables.
pub(crate) fn six(pool: &str, instances: &str, faults: &str) -> String {
    format!(
        r#"
name = "cloud"
horizon = "40m"
[instances]
launch_delay = {{ dist = "fixed", value = "30s" }}
boot_delay = {{ dist = "fixed", value = "60s" }}
replacement_delay = "10s"
{instances}
[[workloads]]
name = "dns"
class = "system"
replicas = 2
min_available = 1
cpu = "100m"
memory = "128Mi"
[[policies]]
name = "single-pool"
pools = [{{ name = "all", instance_type = "m5.large", desired = 6, max = 8 {pool} }}]
{faults}
"#
    )
}

/// Runs the first policy of `text`, seed 1, until `until`.
pub(crate) fn run(text: &str, until: Millis) -> World {
    let s = scenario(text);
    let (mut world, mut sim) = World::new(&s, 0, 1);
    sim.run_until(&mut world, until);
    world
}

/// `s` seconds.
pub(crate) fn secs(s: u64) -> Millis {
    Millis::from_secs(s)
}

/// Instances launched after the start, in id order.
pub(crate) fn replacements(w: &World) -> Vec<&Instance> {
    w.cloud
        .instances()
        .iter()
        .filter(|i| i.launched_at > Millis::ZERO)
        .collect()
}

/// Live instances in each of the three zones.
pub(crate) fn live_per_zone(w: &World) -> Vec<u32> {
    let mut v = vec![0; 3];
    for i in w.cloud.instances().iter().filter(|i| i.is_live()) {
        v[i.zone] += 1;
    }
    v
}

/// Live instances.
pub(crate) fn live_instances(w: &World) -> usize {
    w.cloud.instances().iter().filter(|i| i.is_live()).count()
}

/// Nodes whose Ready condition is True.
pub(crate) fn ready_nodes(w: &World) -> usize {
    w.cluster
        .nodes()
        .iter()
        .filter(|n| n.condition == NodeCondition::Ready)
        .count()
}

#[test]
fn terminate_all_brings_back_six_ready_nodes_at_t_plus_delays() {
    let w = run(
        &six("", "", "[[faults]]\nkind = \"terminate_all\"\nat = \"10m\""),
        secs(1200),
    );
    // 600 s + replacement 10 s + launch 30 s + boot 60 s = 700 s.
    let new = &w.cluster.nodes()[6..];
    assert_eq!(new.len(), 6);
    assert!(new.iter().all(|n| n.joined_at == secs(700)));
    assert_eq!(ready_nodes(&w), 6);
    assert_eq!(live_per_zone(&w), vec![2, 2, 2]);
}

#[test]
fn zone_outage_replaces_in_other_zones_then_rebalances() {
    let w = run(
        &six(
            "",
            "",
            "[[faults]]\nkind = \"zone_outage\"\nzone = \"us-east-1a\"\nat = \"10m\"\nduration = \"20m\"",
        ),
        secs(2400),
    );
    let new = replacements(&w);
    // The two instances in 1a die at 600 s; their replacements (610 s) land
    // in 1b and 1c, which then hold three each.
    assert_eq!(new[0].launched_at, secs(610));
    assert_eq!(new[1].launched_at, secs(610));
    assert_eq!((new[0].zone, new[1].zone), (1, 2));
    // 1a is back at 1800 s. AZ rebalancing launches into it (surge of one
    // for max 8), and when that instance is Ready (1800 + 90 s) terminates
    // one in the fullest zone, then repeats: a second launch at 1890 s,
    // Ready and the second victim gone at 1980 s.
    assert_eq!(new.len(), 4);
    assert_eq!((new[2].zone, new[2].launched_at), (0, secs(1800)));
    assert_eq!((new[3].zone, new[3].launched_at), (0, secs(1890)));
    let victims: Vec<Millis> = w
        .cloud
        .instances()
        .iter()
        .filter_map(|i| i.terminated_at.filter(|&t| t > secs(600)))
        .collect();
    assert_eq!(victims, vec![secs(1890), secs(1980)]);
    // The termination policy picks the fullest zones, then the instance
    // closest to its billing hour: originals (launched at 0) before the
    // replacements (launched at 610 s).
    for i in w.cloud.instances() {
        if i.terminated_at > Some(secs(600)) {
            assert_eq!(i.launched_at, Millis::ZERO);
        }
    }
    assert_eq!(live_per_zone(&w), vec![2, 2, 2]);
}

#[test]
fn ice_on_the_first_type_launches_the_second() {
    let ice = r#"
insufficient_capacity = [
  { zone = "us-east-1a", instance_type = "m5.large", from = "5m", until = "20m" },
  { zone = "us-east-1b", instance_type = "m5.large", from = "5m", until = "20m" },
  { zone = "us-east-1c", instance_type = "m5.large", from = "5m", until = "20m" },
]"#;
    let w = run(
        &six(
            ", fallback_types = [\"m6i.large\"]",
            ice,
            "[[faults]]\nkind = \"terminate_all\"\nat = \"10m\"",
        ),
        secs(1200),
    );
    let new = replacements(&w);
    assert_eq!(new.len(), 6);
    let m6i = 5; // index in the built-in catalogue
    assert_eq!(
        poolsim::cloud::builtin_instance_types()[m6i].name,
        "m6i.large"
    );
    assert!(new.iter().all(|i| i.instance_type == m6i));
    // No time is lost: Ready at 700 s as without the shortage.
    assert!(
        w.cluster.nodes()[6..]
            .iter()
            .all(|n| n.joined_at == secs(700))
    );
    assert_eq!(w.cloud.launch_failures(), 0);
}

#[test]
fn launch_failures_back_off_then_succeed() {
    // A single-type pool and a shortage everywhere until 700 s: attempts at
    // 610 s fail, retries after 10, 20, 40 s (620, 640, 680) fail, the next
    // after 80 s (760) succeeds; Ready at 760 + 90 = 850 s.
    let ice = r#"
insufficient_capacity = [
  { zone = "us-east-1a", instance_type = "m5.large", from = "0s", until = "700s" },
  { zone = "us-east-1b", instance_type = "m5.large", from = "0s", until = "700s" },
  { zone = "us-east-1c", instance_type = "m5.large", from = "0s", until = "700s" },
]"#;
    let w = run(
        &six(
            "",
            ice,
            "[[faults]]\nkind = \"terminate_all\"\nat = \"10m\"",
        ),
        secs(1200),
    );
    assert_eq!(w.cloud.launch_failures(), 4);
    assert!(replacements(&w).iter().all(|i| i.launched_at == secs(760)));
    assert!(
        w.cluster.nodes()[6..]
            .iter()
            .all(|n| n.joined_at == secs(850))
    );
}

#[test]
fn a_zone_that_always_fails_is_avoided() {
    let w = run(
        &six(
            "",
            "launch_failure_probability = { \"us-east-1a\" = 1.0 }",
            "[[faults]]\nkind = \"terminate_all\"\nat = \"10m\"",
        ),
        secs(1200),
    );
    assert_eq!(live_per_zone(&w), vec![0, 3, 3]);
    assert_eq!(w.cloud.launch_failures(), 0);
    assert_eq!(ready_nodes(&w), 6);
}

#[test]
fn terminate_fraction_spread_over_a_window() {
    // Half of six, spread over 3 minutes: at 600, 660 and 720 s.
    let w = run(
        &six(
            "",
            "",
            "[[faults]]\nkind = \"terminate_fraction\"\nfraction = 0.5\nover = \"3m\"\nat = \"10m\"",
        ),
        secs(1200),
    );
    let mut gone: Vec<Millis> = w
        .cloud
        .instances()
        .iter()
        .filter_map(|i| i.terminated_at)
        .collect();
    gone.sort_unstable();
    assert_eq!(gone, vec![secs(600), secs(660), secs(720)]);
    // Each replaced 10 s later.
    let mut launched: Vec<Millis> = replacements(&w).iter().map(|i| i.launched_at).collect();
    launched.sort_unstable();
    assert_eq!(launched, vec![secs(610), secs(670), secs(730)]);
    assert_eq!(ready_nodes(&w), 6);
}

#[test]
fn health_check_waits_for_detection_and_the_grace_period() {
    // MTBF of 10 minutes over 40 minutes: many failures. Each impaired
    // instance is terminated when the health check notices (3 min) but not
    // before it has been InService for the grace period (here 10 min), and
    // the ASG launches its replacement at once.
    let w = run(
        &six(
            ", health_check_grace_period = \"10m\"",
            "",
            "[[faults]]\nkind = \"instance_failures\"\nmtbf = \"10m\"",
        ),
        secs(2400),
    );
    let impaired: Vec<&Instance> = w
        .cloud
        .instances()
        .iter()
        .filter(|i| i.impaired_at.is_some())
        .collect();
    assert!(impaired.len() >= 6, "{} failures", impaired.len());
    let mut checked = 0;
    for i in impaired {
        let due = (i.impaired_at.unwrap() + Millis::from_mins(3))
            .max(i.running_at.unwrap() + Millis::from_mins(10));
        if due <= secs(2400) {
            assert_eq!(i.terminated_at, Some(due), "instance {:?}", i.id);
            assert_eq!(i.state, InstanceState::Terminated);
            checked += 1;
        }
        // Its replacement was requested in the same instant.
        if let Some(t) = i.terminated_at {
            assert!(w.cloud.instances().iter().any(|j| j.launched_at == t));
        }
    }
    assert!(checked > 0);
}

#[test]
fn faults_target_one_pool_or_one_zone() {
    let split = r#"
name = "split"
horizon = "20m"
[instances]
launch_delay = { dist = "fixed", value = "30s" }
boot_delay = { dist = "fixed", value = "60s" }
[[workloads]]
name = "dns"
class = "system"
replicas = 1
cpu = "100m"
memory = "128Mi"
[[policies]]
name = "split-pool"
pools = [
  { name = "system", instance_type = "m5.large", desired = 3 },
  { name = "user", instance_type = "m5.large", desired = 3, capacity = "spot" },
]
[[faults]]
kind = "terminate_all"
pool = "user"
at = "5m"
[[faults]]
kind = "terminate_all"
zone = "us-east-1a"
pool = "system"
at = "10m"
"#;
    let w = run(split, secs(1200));
    let gone: Vec<(u16, usize, Millis)> = w
        .cloud
        .instances()
        .iter()
        .filter_map(|i| i.terminated_at.map(|t| (i.asg.0, i.zone, t)))
        .collect();
    // The three user instances at 300 s, then the system one in 1a.
    assert_eq!(
        gone,
        vec![
            (0, 0, secs(600)),
            (1, 0, secs(300)),
            (1, 1, secs(300)),
            (1, 2, secs(300))
        ]
    );
    // Cost per pool: the Spot pool pays 35 % of on-demand.
    let s = scenario(split);
    let row = poolsim::run_one(&s, 0, 1);
    assert_eq!(row.cost_by_pool.len(), 2);
    let total: f64 = row.cost_by_pool.iter().map(|(_, c)| c).sum();
    assert!((total - row.cost_usd).abs() < 1e-9);
    // User pool: three instances 0..300 s, three 310..1200 s, at
    // 0.096 x 0.35 $/h.
    let user = (3.0 * 300.0 + 3.0 * 890.0) / 3600.0 * 0.096 * 0.35;
    assert!((row.cost_by_pool[1].1 - user).abs() < 1e-9, "{row:?}");
    assert!(
        row.record()
            .iter()
            .any(|c| c.starts_with("system=") && c.contains(";user="))
    );
}

#[test]
fn random_fault_times_are_common_to_both_policies() {
    let text = std::fs::read_to_string(crate::support::shipped("spot-interruptions.toml")).unwrap();
    let s = scenario(&text);
    for seed in 1..=3 {
        let times = |p: usize| {
            let (mut world, mut sim) = World::new(&s, p, seed);
            sim.run_until(&mut world, s.horizon);
            let mut t: Vec<Millis> = world
                .cloud
                .instances()
                .iter()
                .filter_map(|i| i.interrupted_at)
                .collect();
            t.sort_unstable();
            t.dedup();
            t
        };
        let single = times(policy(&s, "single-pool"));
        assert!(!single.is_empty());
        assert_eq!(single, times(policy(&s, "split-pool")), "seed {seed}");
    }
}

#[test]
fn shipped_cloud_scenarios_run_and_report_cost_per_pool() {
    for (name, pools) in [
        ("zone-outage.toml", ["workers=", "system="]),
        ("spot-interruptions.toml", ["workers=", "system="]),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let o = crate::support::poolsim(&[
            "run",
            crate::support::shipped(name).to_str().unwrap(),
            "--seeds",
            "3",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let runs = std::fs::read_to_string(out.join("runs.csv")).unwrap();
        let header: Vec<&str> = runs.lines().next().unwrap().split(',').collect();
        let col = header.iter().position(|c| *c == "cost_by_pool").unwrap();
        let rows: Vec<Vec<&str>> = runs
            .lines()
            .skip(1)
            .map(|l| l.split(',').collect())
            .collect();
        assert_eq!(rows.len(), 6);
        for (row, pool) in rows.iter().zip(pools.iter().cycle()) {
            assert!(row[col].starts_with(pool), "{name}: {}", row[col]);
        }
    }
}

#[test]
fn cloud_scenarios_are_deterministic() {
    for name in ["zone-outage.toml", "spot-interruptions.toml"] {
        let text = std::fs::read_to_string(crate::support::shipped(name)).unwrap();
        let s = scenario(&text);
        for p in 0..s.policies.len() {
            for seed in 1..=2 {
                assert_eq!(poolsim::run_one(&s, p, seed), poolsim::run_one(&s, p, seed));
            }
        }
    }
}
