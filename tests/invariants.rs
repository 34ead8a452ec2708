use std::fmt::Write;

use proptest::prelude::*;

use poolsim::engine::Millis;
use poolsim::kube::{Cluster, ClusterStatus, PodClass, PodState, WorkloadKind};
use poolsim::quantity::Resources;
use poolsim::sim::World;
use poolsim::{Scenario, run_one};

/// A small random scenario: one to three system services, one to three user
/// workloads that need some of them, a single-pool and a split-pool policy
/// of random sizes, random delays, and maybe a mass termination.
#[derive(Debug, Clone)]
struct Small {
    services: Vec<(u32, u32, u64, u64)>,
    users: Vec<(u32, u64, u64, u8)>,
    instance_type: &'static str,
    system_nodes: u32,
    user_nodes: u32,
    launch: (u64, u64),
    boot: (u64, u64),
    fault_at: Option<u64>,
    /// The first service is a StatefulSet: 0 no, 1 OrderedReady with a
    /// volume, 2 Parallel with a volume, 3 OrderedReady without.
    stateful: u8,
}

fn small() -> impl Strategy<Value = Small> {
    let service = (1u32..4, 100u64..1500, 64u64..2048)
        .prop_flat_map(|(r, cpu, mem)| (Just(r), 1..=r, Just(cpu), Just(mem)));
    let user = (0u32..25, 100u64..1900, 64u64..4096, any::<u8>());
    (
        prop::collection::vec(service, 1..4),
        prop::collection::vec(user, 1..4),
        prop::sample::select(vec!["m5.large", "c5.large", "m5.xlarge"]),
        1u32..4,
        1u32..6,
        (5u64..60, 0u64..60),
        (5u64..90, 0u64..60),
        prop::option::of(60u64..1500),
        0u8..4,
    )
        .prop_map(
            |(
                services,
                users,
                instance_type,
                system_nodes,
                user_nodes,
                launch,
                boot,
                fault_at,
                stateful,
            )| {
                Small {
                    services,
                    users,
                    instance_type,
                    system_nodes,
                    user_nodes,
                    launch,
                    boot,
                    fault_at,
                    stateful,
                }
            },
        )
}

impl Small {
    /// The scenario file of this case.
    fn toml(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "name = \"prop\"\nhorizon = \"30m\"\ndetection_window = \"5m\""
        );
        self.write_instances(&mut t);
        self.write_services(&mut t);
        self.write_users(&mut t);
        self.write_policies(&mut t);
        if let Some(at) = self.fault_at {
            let _ = writeln!(t, "[[faults]]\nkind = \"terminate_all\"\nat = \"{at}s\"");
        }
        t
    }

    /// The `[instances]` table: launch and boot delays.
    fn write_instances(&self, t: &mut String) {
        let _ = writeln!(t, "[instances]");
        let _ = writeln!(
            t,
            "launch_delay = {{ dist = \"uniform\", min = \"{}s\", max = \"{}s\" }}",
            self.launch.0,
            self.launch.0 + self.launch.1
        );
        let _ = writeln!(
            t,
            "boot_delay = {{ dist = \"uniform\", min = \"{}s\", max = \"{}s\" }}",
            self.boot.0,
            self.boot.0 + self.boot.1
        );
    }

    /// The system services: the third anti-affine to itself, every other
    /// one with a readiness delay, the first a StatefulSet in some cases.
    fn write_services(&self, t: &mut String) {
        for (i, (replicas, min, cpu, mem)) in self.services.iter().enumerate() {
            let _ = writeln!(
                t,
                "[[workloads]]\nname = \"svc{i}\"\nclass = \"system\"\nreplicas = {replicas}\nmin_available = {min}\ncpu = \"{cpu}m\"\nmemory = \"{mem}Mi\""
            );
            // The third service wants one pod per node (its own pods
            // anti-affine by hostname), as CoreDNS charts do.
            if i == 2 {
                let _ = writeln!(
                    t,
                    "pod_anti_affinity = {{ required = [{{ workloads = [\"svc2\"], topology_key = \"hostname\" }}] }}"
                );
            }
            // Every other service turns Ready a while after it starts.
            if i % 2 == 1 {
                let _ = writeln!(
                    t,
                    "readiness_delay = {{ dist = \"uniform\", min = \"0s\", max = \"20s\" }}"
                );
            }
            if i == 0 && self.stateful > 0 {
                let _ = writeln!(t, "kind = \"statefulset\"");
                if self.stateful == 2 {
                    let _ = writeln!(t, "pod_management_policy = \"Parallel\"");
                }
                if self.stateful < 3 {
                    let _ = writeln!(
                        t,
                        "volume_claims = [{{ name = \"data\", attach_delay = {{ dist = \"uniform\", min = \"1s\", max = \"30s\" }} }}]"
                    );
                }
            }
        }
    }

    /// The user workloads, their needs and placement rules.
    fn write_users(&self, t: &mut String) {
        for (i, (replicas, cpu, mem, needs)) in self.users.iter().enumerate() {
            let needs_bits = *needs;
            let needs: Vec<String> = (0..self.services.len())
                .filter(|s| needs & (1 << s) != 0)
                .map(|s| format!("\"svc{s}\""))
                .collect();
            let _ = writeln!(
                t,
                "[[workloads]]\nname = \"user{i}\"\nclass = \"user\"\nreplicas = {replicas}\ncpu = \"{cpu}m\"\nmemory = \"{mem}Mi\"\nneeds = [{}]",
                needs.join(", ")
            );
            // The high bits of `needs` (above the three services) add
            // placement rules: a hard zone spread, and anti-affinity to
            // the first service's pods.
            if needs_bits & 0x80 != 0 {
                let _ = writeln!(
                    t,
                    "topology_spread = [{{ max_skew = 1, topology_key = \"zone\" }}]"
                );
            }
            if needs_bits & 0x40 != 0 {
                let _ = writeln!(
                    t,
                    "pod_anti_affinity = {{ preferred = [{{ weight = 50, workloads = [\"svc0\"], topology_key = \"hostname\" }}] }}"
                );
            }
        }
    }

    /// The two policies: one pool, or system and user pools with
    /// placement rules.
    fn write_policies(&self, t: &mut String) {
        let it = self.instance_type;
        let total = self.system_nodes + self.user_nodes;
        let _ = writeln!(
            t,
            "[[policies]]\nname = \"single-pool\"\npools = [{{ name = \"all\", instance_type = \"{it}\", desired = {total} }}]"
        );
        let _ = writeln!(
            t,
            "[[policies]]\nname = \"split-pool\"\npools = [\n  {{ name = \"system\", instance_type = \"{it}\", desired = {}, labels = {{ role = \"system\" }} }},\n  {{ name = \"user\", instance_type = \"{it}\", desired = {}, labels = {{ role = \"user\" }} }},\n]",
            self.system_nodes, self.user_nodes
        );
        let _ = writeln!(
            t,
            "placement.system.node_selector = {{ role = \"system\" }}\nplacement.user.node_selector = {{ role = \"user\" }}"
        );
    }
}

/// Checks, after every step of one run (futile scheduling attempts handled
/// in place within a step change none of this), that no node is over-committed,
/// that node sums and pod bindings agree, that every pod is on at most one
/// node, that the workload and cluster counters match a recount, that the
/// scheduler's snapshot agrees with the nodes, and that time never goes
/// back.
fn check_run(s: &Scenario, policy: usize, seed: u64) -> Result<u64, TestCaseError> {
    let (mut world, mut sim) = World::new(s, policy, seed);
    let mut last = Millis::ZERO;
    // A step may handle futile scheduling attempts in place, each counted
    // as an event by the engine.
    while let Some(t) = sim.step(&mut world, s.horizon) {
        prop_assert!(t >= last, "time went back: {t} < {last}");
        last = t;
        let c = &world.cluster;
        let pods = c.pods();
        let mut sums = vec![Resources::default(); c.nodes().len()];
        let mut counts = vec![0usize; c.nodes().len()];
        for p in pods {
            if let Some(n) = p.state().node() {
                sums[n.index()] += p.requests;
                counts[n.index()] += 1;
            }
        }
        let mut seen = vec![0u8; pods.len()];
        for node in c.nodes() {
            let i = node.id.index();
            prop_assert_eq!(node.requested, sums[i], "node {} sum", i);
            prop_assert_eq!(node.pods.len(), counts[i], "node {} pod list", i);
            prop_assert!(
                node.requested.fits_in(&node.spec.allocatable),
                "node {} over-committed at {}",
                i,
                t
            );
            prop_assert!(node.pods.len() as u32 <= node.spec.max_pods);
            for pid in &node.pods {
                seen[pid.index()] += 1;
                prop_assert_eq!(pods[pid.index()].state().node(), Some(node.id));
            }
        }
        prop_assert!(seen.iter().all(|&n| n <= 1), "a pod on two nodes");
        prop_assert_eq!(c.snapshot_mismatch(), None, "scheduler snapshot at {}", t);
        prop_assert_eq!(
            c.topology_mismatch(),
            None,
            "spread and affinity counts at {}",
            t
        );
        if let Some(why) = recount_mismatch(c) {
            return Err(TestCaseError::fail(format!("at {t}: {why}")));
        }
        for (i, w) in c.workloads().iter().enumerate() {
            if let Some(st) = &w.stateful {
                check_ordinals(c, i, st)?;
            }
        }
    }
    Ok(sim.events_handled())
}

/// A StatefulSet's books: each pod not yet deleted holds its ordinal (so
/// no two pods share one, terminating ones included), every ordinal that
/// names a pod names one of this set in its slot, and a bound pod is in its
/// volumes' zone.
fn check_ordinals(
    c: &poolsim::kube::Cluster,
    w: usize,
    st: &poolsim::kube::StatefulState,
) -> Result<(), TestCaseError> {
    use poolsim::kube::Ordinal;
    let pods = c.pods();
    for p in pods.iter().filter(|p| p.workload.index() == w) {
        let held = st.ordinals[p.slot as usize] == Ordinal::Pod(p.id);
        prop_assert_eq!(held, p.state() != PodState::Deleted, "ordinal {}", p.slot);
        if let (Some(n), Some(z)) = (p.state().node(), st.volume_zone[p.slot as usize]) {
            prop_assert_eq!(c.nodes()[n.index()].spec.zone, z, "volume zone");
        }
    }
    for (ord, o) in st.ordinals.iter().enumerate() {
        if let Ordinal::Pod(p) = *o {
            let pod = &pods[p.index()];
            prop_assert_eq!((pod.workload.index(), pod.slot as usize), (w, ord));
        }
    }
    Ok(())
}

/// Recounts the pods by state and compares the recount with the counters
/// the cluster keeps incrementally (each workload's pending, Running and
/// Ready, and live pods, the cluster's pending pods per class, its unready
/// pods and its created pods):
/// the first disagreement, if any.
fn recount_mismatch(c: &Cluster) -> Option<String> {
    let pods = c.pods();
    let n = c.workloads().len();
    let (mut pending, mut running, mut live) = (vec![0u32; n], vec![0u32; n], vec![0u32; n]);
    let (mut gone, mut unready) = (0, 0);
    for p in pods {
        let w = p.workload.index();
        match p.state() {
            PodState::Pending | PodState::Starting(_) => {
                pending[w] += 1;
                live[w] += 1;
            }
            PodState::Running(_) => {
                running[w] += 1;
                live[w] += 1;
            }
            PodState::Unready(_) => {
                unready += 1;
                live[w] += 1;
            }
            PodState::Lost(_) => live[w] += 1,
            // A terminating pod was already replaced; finished Job pods
            // hold nothing.
            PodState::Terminating(_)
            | PodState::Succeeded
            | PodState::Failed
            | PodState::Deleted => gone += 1,
        }
    }
    // Conservation: created = pending + starting + running + lost + gone.
    if live.iter().sum::<u32>() as usize + gone != pods.len() {
        return Some("pods lost from the tally".into());
    }
    if c.status().pods_created != pods.len() as u64 {
        return Some(format!(
            "pods_created {} but {} pods",
            c.status().pods_created,
            pods.len()
        ));
    }
    let (mut pending_system, mut pending_user) = (0, 0);
    for (i, w) in c.workloads().iter().enumerate() {
        let counted = (w.pending, w.running, w.live);
        if counted != (pending[i], running[i], live[i]) {
            return Some(format!(
                "workload {} counts (pending, running, live) {counted:?}, recount {:?}",
                w.spec.name,
                (pending[i], running[i], live[i])
            ));
        }
        if w.spec.kind == WorkloadKind::Deployment && w.live > w.spec.replicas {
            return Some(format!("workload {} has {} live pods", w.spec.name, w.live));
        }
        if w.spec.placeholder {
            continue;
        }
        match w.spec.class {
            PodClass::System => pending_system += pending[i],
            PodClass::User => pending_user += pending[i],
        }
    }
    let st = c.status();
    if st.unready != unready {
        return Some(format!("unready {}, recount {unready}", st.unready));
    }
    if (st.pending_system, st.pending_user) != (pending_system, pending_user) {
        return Some(format!(
            "pending (system, user) {:?}, recount {:?}",
            (st.pending_system, st.pending_user),
            (pending_system, pending_user)
        ));
    }
    None
}

/// Six nodes whose instances fail their status checks (mean 20 min) and
/// are found unhealthy only after 10 min.
const IMPAIRED: &str = r#"
name = "impaired"
horizon = "2h"
[instances]
impaired_detection = "10m"
[[workloads]]
name = "app"
class = "user"
replicas = 12
cpu = "500m"
memory = "256Mi"
[[policies]]
name = "single-pool"
pools = [{ name = "all", instance_type = "m5.large", desired = 6 }]
[[faults]]
kind = "instance_failures"
mtbf = "20m"
"#;

/// Every pod transition (bind, start, loss with its node, preemption,
/// taint-based eviction, drain eviction, a Job pod's end, PodGC deletion)
/// goes through `Cluster::set_pod_state`, which keeps the counters with the
/// state: after every event of shipped scenarios that exercise each of
/// them, the counters equal a recount of the pods' states.
#[test]
fn counters_equal_a_recount_through_every_kind_of_transition() {
    let cases = [
        ("seed-alternatives", "priority-preemption"),
        ("spot-interruptions", "single-pool"),
        ("zone-outage", "single-pool"),
        ("backlog-churn", "split-pool"),
        ("seed-webhook", "single-pool"),
    ];
    // Impaired instances keep their Node past the 300 s toleration, so the
    // taint manager evicts their pods.
    let impaired = Scenario::parse(IMPAIRED, "impaired.toml").expect("valid");
    let mut total = ClusterStatus::default();
    for (file, policy) in cases.into_iter().chain([("impaired", "single-pool")]) {
        let s = if file == "impaired" {
            impaired.clone()
        } else {
            let path = format!("{}/scenarios/{file}.toml", env!("CARGO_MANIFEST_DIR"));
            Scenario::load(std::path::Path::new(&path)).expect("shipped scenario")
        };
        let p = s
            .policies
            .iter()
            .position(|q| q.name == policy)
            .expect("policy");
        for seed in 1..=3 {
            let (mut world, mut sim) = World::new(&s, p, seed);
            let mut events = 0u64;
            while let Some(t) = sim.step(&mut world, s.horizon) {
                events += 1;
                if let Some(why) = recount_mismatch(&world.cluster) {
                    panic!("{file} {policy} seed {seed}, event {events} at {t}: {why}");
                }
            }
            let st = world.cluster.status();
            total.preemptions += st.preemptions;
            total.evictions += st.evictions;
            total.drain_evictions += st.drain_evictions;
            total.jobs_completed += st.jobs_completed;
            total.webhook_rejections += st.webhook_rejections;
        }
    }
    // Each kind of transition happened, so the recounts above saw it.
    assert!(total.preemptions > 0, "no preemption");
    assert!(total.evictions > 0, "no taint-based eviction");
    assert!(total.drain_evictions > 0, "no drain eviction");
    assert!(total.jobs_completed > 0, "no Job pod finished");
    assert!(total.webhook_rejections > 0, "no webhook rejection");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_at_every_event(small in small(), seed in 1u64..1000) {
        let text = small.toml();
        let s = match Scenario::parse(&text, "prop.toml") {
            Ok(s) => s,
            // Some draws are impossible (e.g. a pod larger than the type):
            // validation must say so, and there is nothing to run.
            Err(_) => return Ok(()),
        };
        for p in 0..s.policies.len() {
            let events = check_run(&s, p, seed)?;
            // Same seed, same history.
            let a = run_one(&s, p, seed);
            let b = run_one(&s, p, seed);
            prop_assert_eq!(&a, &b);
            prop_assert_eq!(a.events, events);
        }
    }
}
