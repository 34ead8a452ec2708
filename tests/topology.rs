//! Topology spread and inter-pod affinity with hand-computed placements:
//! three m5.large nodes (1930m allocatable), one per zone us-east-1a/b/c,
//! pods of 200m, so only the rules (and a filler pod where one is placed)
//! decide where pods go.

use std::collections::BTreeMap;

use poolsim::engine::Millis;
use poolsim::kube::{NodeId, Pod, PodState};
use poolsim::sim::World;

use crate::bad_input::rejects;
use crate::support::scenario;

/// Three nodes, `workloads` appended, `kubernetes` keys under
/// `[kubernetes]`.
fn three(kubernetes: &str, workloads: &str) -> String {
    format!(
        r#"
name = "topology"
horizon = "10m"
[instances]
launch_delay = {{ dist = "fixed", value = "30s" }}
boot_delay = {{ dist = "fixed", value = "60s" }}
[kubernetes]
pod_startup = {{ dist = "fixed", value = "5s" }}
{kubernetes}
{workloads}
[[policies]]
name = "single-pool"
pools = [{{ name = "all", instance_type = "m5.large", desired = 3, max = 3 }}]
"#
    )
}

const PACK: &str = "scheduler.scoring = \"most-allocated\"\nscheduler.default_spreading = false";

fn web(replicas: u32, extra: &str) -> String {
    format!(
        "[[workloads]]\nname = \"web\"\nclass = \"user\"\nreplicas = {replicas}\ncpu = \"200m\"\nmemory = \"128Mi\"\n{extra}\n"
    )
}

fn run(text: &str) -> World {
    let s = scenario(text);
    let (mut world, mut sim) = World::new(&s, 0, 1);
    sim.run_until(&mut world, Millis::from_secs(300));
    world
}

/// The pods of workload `name`.
fn pods_of<'a>(w: &'a World, name: &str) -> Vec<&'a Pod> {
    let c = &w.cluster;
    let i = c
        .workloads()
        .iter()
        .position(|x| x.spec.name == name)
        .expect("workload");
    c.pods()
        .iter()
        .filter(|p| p.workload.index() == i)
        .collect()
}

fn node_of(p: &Pod) -> Option<NodeId> {
    match p.state() {
        PodState::Running(n) => Some(n),
        _ => None,
    }
}

/// Running pods of `name` per zone, sorted.
fn per_zone(w: &World, name: &str) -> Vec<usize> {
    let mut m = BTreeMap::new();
    for p in pods_of(w, name) {
        if let Some(n) = node_of(p) {
            *m.entry(w.cluster.nodes()[n.index()].spec.zone).or_insert(0) += 1;
        }
    }
    let mut v: Vec<usize> = m.into_values().collect();
    v.sort_unstable();
    v
}

/// MostAllocated packs the five pods onto one node; a DoNotSchedule zone
/// spread of maxSkew 1 admits at each step only zones within one pod of
/// the emptiest, so five pods end 1/2/2.
#[test]
fn hard_zone_spread_balances_what_packing_would_not() {
    let packed = run(&three(PACK, &web(5, "")));
    assert_eq!(per_zone(&packed, "web"), [5]);
    let spread = "topology_spread = [{ max_skew = 1, topology_key = \"zone\" }]";
    let spread = run(&three(PACK, &web(5, spread)));
    assert_eq!(per_zone(&spread, "web"), [1, 2, 2]);
}

/// The system default constraints (hostname maxSkew 3, zone maxSkew 5,
/// ScheduleAnyway) outweigh MostAllocated's preference: for the second
/// pod, with three feasible nodes in three zones (weights ln 5 = 1.61),
/// the node holding the first scores raw round(1.61 + 2 + 1.61 + 4) = 9,
/// the others 6; normalised 100 * (9 + 6 - s) / 9: 66 against 100, times
/// weight 2: 68 points, more than packing gains (about 10 plus balance).
#[test]
fn default_spreading_spreads_a_deployment() {
    let text = three("scheduler.scoring = \"most-allocated\"", &web(3, ""));
    assert_eq!(per_zone(&run(&text), "web"), [1, 1, 1]);
}

/// Required anti-affinity to itself per hostname: three of four replicas
/// run, one per node; the fourth is Pending, rejected by InterPodAffinity
/// on every node.
#[test]
fn required_anti_affinity_leaves_the_fourth_pod_pending() {
    let anti = "pod_anti_affinity = { required = [{ workloads = [\"web\"], topology_key = \"hostname\" }] }";
    let w = run(&three(PACK, &web(4, anti)));
    let pods = pods_of(&w, "web");
    let mut nodes: Vec<NodeId> = pods.iter().filter_map(|p| node_of(p)).collect();
    nodes.sort_unstable();
    nodes.dedup();
    assert_eq!(nodes.len(), 3);
    let pending: Vec<&&Pod> = pods
        .iter()
        .filter(|p| p.state() == PodState::Pending)
        .collect();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].rejected_by.names(), ["InterPodAffinity"]);
    let r = w.cluster.rejection(pending[0].id);
    assert_eq!((r.nodes, r.pod_affinity, r.spread_skew), (3, 3, 0));
}

/// Existing pods' anti-affinity is symmetric: `noisy` (system, created
/// first) refuses `web` on its node, so under packing every web pod runs
/// on one of the two other nodes.
#[test]
fn existing_pods_anti_affinity_keeps_others_away() {
    let noisy = "[[workloads]]\nname = \"noisy\"\nclass = \"system\"\nreplicas = 1\ncpu = \"200m\"\nmemory = \"128Mi\"\npod_anti_affinity = { required = [{ workloads = [\"web\"], topology_key = \"hostname\" }] }\n";
    let w = run(&three(PACK, &format!("{noisy}{}", web(4, ""))));
    let noisy_node = node_of(pods_of(&w, "noisy")[0]).expect("noisy runs");
    let web_nodes: Vec<NodeId> = pods_of(&w, "web")
        .iter()
        .filter_map(|p| node_of(p))
        .collect();
    assert_eq!(web_nodes.len(), 4);
    assert!(web_nodes.iter().all(|&n| n != noisy_node));
}

/// Required affinity to `db` per hostname puts every cache pod on db's
/// node, although default spreading and LeastAllocated would spread them.
#[test]
fn required_affinity_follows_its_target() {
    let db = "[[workloads]]\nname = \"db\"\nclass = \"system\"\nreplicas = 1\ncpu = \"200m\"\nmemory = \"128Mi\"\n";
    let cache = "[[workloads]]\nname = \"cache\"\nclass = \"user\"\nreplicas = 3\ncpu = \"200m\"\nmemory = \"128Mi\"\npod_affinity = { required = [{ selector = { app = \"db\" }, topology_key = \"hostname\" }] }\n";
    let w = run(&three("", &format!("{db}{cache}")));
    let db_node = node_of(pods_of(&w, "db")[0]).expect("db runs");
    let cache: Vec<Option<NodeId>> = pods_of(&w, "cache").iter().map(|p| node_of(p)).collect();
    assert_eq!(cache, vec![Some(db_node); 3]);
}

/// A group with affinity to itself: the first pod goes anywhere (no pod
/// matches yet and it matches its own term), the rest follow it into its
/// zone.
#[test]
fn self_affinity_gathers_the_group_in_one_zone() {
    let aff = "pod_affinity = { required = [{ workloads = [\"web\"], topology_key = \"zone\" }] }";
    let w = run(&three("", &web(4, aff)));
    assert_eq!(per_zone(&w, "web"), [4]);
}

/// A filler of 1800m leaves its node no room for a 200m pod. Two web pods
/// take the other two zones; the third would make skew 2 there (the full
/// node's zone counts 0 and is a domain), so DoNotSchedule leaves it
/// Pending (NodeResourcesFit on the full node, PodTopologySpread on the
/// others) and ScheduleAnyway places it.
#[test]
fn do_not_schedule_against_schedule_anyway() {
    let filler = "[[workloads]]\nname = \"filler\"\nclass = \"system\"\nreplicas = 1\ncpu = \"1800m\"\nmemory = \"128Mi\"\n";
    let hard = "topology_spread = [{ max_skew = 1, topology_key = \"zone\" }]";
    let w = run(&three("", &format!("{filler}{}", web(3, hard))));
    let pods = pods_of(&w, "web");
    let pending: Vec<&&Pod> = pods
        .iter()
        .filter(|p| p.state() == PodState::Pending)
        .collect();
    assert_eq!(pending.len(), 1);
    assert_eq!(
        pending[0].rejected_by.names(),
        ["NodeResourcesFit", "PodTopologySpread"]
    );
    let r = w.cluster.rejection(pending[0].id);
    assert_eq!((r.insufficient_cpu, r.spread_skew), (1, 2));
    let soft = "topology_spread = [{ max_skew = 1, topology_key = \"zone\", when_unsatisfiable = \"ScheduleAnyway\" }]";
    let w = run(&three("", &format!("{filler}{}", web(3, soft))));
    assert_eq!(per_zone(&w, "web"), [1, 2]);
}

/// minDomains 4 with three zones: the global minimum counts as 0, so
/// maxSkew 1 admits one pod per zone and the fourth stays Pending.
#[test]
fn min_domains_beyond_the_zones_caps_each_zone() {
    let c = "topology_spread = [{ max_skew = 1, topology_key = \"zone\", min_domains = 4 }]";
    let w = run(&three(PACK, &web(4, c)));
    assert_eq!(per_zone(&w, "web"), [1, 1, 1]);
}

const BASE: &str = "name = \"t\"\nhorizon = \"1h\"\n[[policies]]\nname = \"p\"\npools = [{ name = \"a\", instance_type = \"m5.large\", desired = 1 }]\n[[workloads]]\nname = \"web\"\nclass = \"user\"\nreplicas = 1\ncpu = \"100m\"\nmemory = \"64Mi\"\n";

#[test]
fn bad_rules_are_refused_with_their_key() {
    rejects(
        &format!("{BASE}topology_spread = [{{ max_skew = 0, topology_key = \"zone\" }}]\n"),
        12,
        "workloads.web.topology_spread.max_skew",
        "at least 1",
    );
    rejects(
        &format!("{BASE}topology_spread = [{{ max_skew = 1, topology_key = \"rack\" }}]\n"),
        12,
        "workloads.web.topology_spread.topology_key",
        "expected zone",
    );
    rejects(
        &format!(
            "{BASE}pod_affinity = {{ required = [{{ workloads = [\"dbb\"], topology_key = \"zone\" }}] }}\n"
        ),
        12,
        "workloads.web.pod_affinity.required.workloads",
        "no workload named `dbb`",
    );
    rejects(
        &format!(
            "{BASE}pod_anti_affinity = {{ required = [{{ selector = {{ tier = \"x\" }}, topology_key = \"zone\" }}] }}\n"
        ),
        12,
        "workloads.web.pod_anti_affinity.required.selector",
        "label key `tier`",
    );
    rejects(
        &format!(
            "{BASE}pod_affinity = {{ preferred = [{{ weight = 0, workloads = [\"web\"], topology_key = \"zone\" }}] }}\n"
        ),
        12,
        "workloads.web.pod_affinity.preferred.weight",
        "expected 1 to 100",
    );
    rejects(
        &format!(
            "{BASE}topology_spread = [{{ max_skew = 1, topology_key = \"zone\", when_unsatisfiable = \"ScheduleAnyway\", min_domains = 2 }}]\n"
        ),
        12,
        "workloads.web.topology_spread.min_domains",
        "DoNotSchedule",
    );
}
