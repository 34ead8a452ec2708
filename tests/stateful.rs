//! StatefulSets and zonal volumes with hand-computed times: ordinals
//! created in order (`OrderedReady`) or at once (`Parallel`), a volume bound
//! in the zone of its first node, and a zone outage that keeps the ordinal
//! Pending until its zone is back. Fixed delays: launch 30 s, boot 60 s,
//! replacement 10 s, pod start-up 5 s, controller delay 1 s; one m5.large
//! (1930m) per zone in us-east-1a/b/c, each with room for one 1500m pod.

use poolsim::engine::Millis;
use poolsim::kube::{Ordinal, PodState, WorkloadId};
use poolsim::sim::World;

use crate::bad_input::rejects;
use crate::support::scenario;

/// Three nodes, one StatefulSet `db` of `replicas` with `extra` keys, and
/// `faults` appended.
fn three(replicas: u32, extra: &str, faults: &str) -> String {
    format!(
        r#"
name = "stateful"
horizon = "40m"
[instances]
launch_delay = {{ dist = "fixed", value = "30s" }}
boot_delay = {{ dist = "fixed", value = "60s" }}
replacement_delay = "10s"
[kubernetes]
pod_startup = {{ dist = "fixed", value = "5s" }}
controller_delay = "1s"
[[workloads]]
name = "db"
class = "system"
kind = "statefulset"
replicas = {replicas}
min_available = {replicas}
cpu = "1500m"
memory = "1Gi"
{extra}
[[policies]]
name = "single-pool"
pools = [{{ name = "all", instance_type = "m5.large", desired = 3, max = 4 }}]
{faults}
"#
    )
}

const TERMINATE_ALL: &str = "[[faults]]\nkind = \"terminate_all\"\nat = \"10m\"";
const OUTAGE_1A: &str =
    "[[faults]]\nkind = \"zone_outage\"\nzone = \"us-east-1a\"\nat = \"10m\"\nduration = \"20m\"";
const VOLUME: &str =
    "volume_claims = [{ name = \"data\", attach_delay = { dist = \"fixed\", value = \"20s\" } }]";

fn run(text: &str, until: Millis) -> World {
    let s = scenario(text);
    let (mut world, mut sim) = World::new(&s, 0, 1);
    sim.run_until(&mut world, until);
    world
}

fn secs(s: u64) -> Millis {
    Millis::from_secs(s)
}

/// (slot, created, started) of every pod, in creation order.
fn history(w: &World) -> Vec<(u32, Millis, Option<Millis>)> {
    w.cluster
        .pods()
        .iter()
        .map(|p| (p.slot, p.created_at, p.started_at))
        .collect()
}

/// OrderedReady: `-1` is created when the controller sees `-0` Running
/// (start-up 5 s, then the 1 s informer delay: 6 s), `-2` likewise at 12 s.
/// All nodes die at 600 s; their Nodes go at 660 s and PodGC deletes the
/// pods at 700 s (quarantine 40 s, period 20 s), when the replacement nodes
/// have joined (610 + 30 + 60). The controller recreates `-0` first
/// (701 s), `-1` only once `-0` runs (706 s, so 707 s), then `-2` at 713 s.
#[test]
fn ordered_ready_creates_and_recreates_in_ordinal_order() {
    let w = run(&three(3, "", TERMINATE_ALL), secs(900));
    let h = history(&w);
    let at = |s| Some(secs(s));
    assert_eq!(
        h,
        vec![
            (0, secs(0), at(5)),
            (1, secs(6), at(11)),
            (2, secs(12), at(17)),
            (0, secs(701), at(706)),
            (1, secs(707), at(712)),
            (2, secs(713), at(718)),
        ]
    );
}

/// OrderedReady waits for Ready, not Running: with a 10 s readiness delay
/// `-0` starts at 5 s and is Ready at 15 s, so `-1` is created at 16 s
/// (the 1 s informer delay), starts at 21 s, is Ready at 31 s; `-2` is
/// created at 32 s. After the loss the same 16 s steps from 701 s.
#[test]
fn ordered_ready_waits_for_each_ordinal_to_be_ready() {
    let extra = r#"readiness_delay = { dist = "fixed", value = "10s" }"#;
    let w = run(&three(3, extra, TERMINATE_ALL), secs(900));
    let at = |s| Some(secs(s));
    assert_eq!(
        history(&w),
        vec![
            (0, secs(0), at(5)),
            (1, secs(16), at(21)),
            (2, secs(32), at(37)),
            (0, secs(701), at(706)),
            (1, secs(717), at(722)),
            (2, secs(733), at(738)),
        ]
    );
}

/// Parallel: every ordinal at once, at the start and after the loss (701 s,
/// three create calls within the client's burst).
#[test]
fn parallel_creates_every_ordinal_at_once() {
    let extra = "pod_management_policy = \"Parallel\"";
    let w = run(&three(3, extra, TERMINATE_ALL), secs(900));
    let created: Vec<(u32, Millis)> = history(&w).iter().map(|h| (h.0, h.1)).collect();
    assert_eq!(
        created,
        vec![
            (0, secs(0)),
            (1, secs(0)),
            (2, secs(0)),
            (0, secs(701)),
            (1, secs(701)),
            (2, secs(701)),
        ]
    );
}

/// `-0` binds to node 0 in us-east-1a at 0 s, so its volume is provisioned
/// there; it starts after the 20 s attach and 5 s start-up (25 s). `-1` is
/// created at 26 s and starts at 51 s on node 1 (us-east-1b). us-east-1a
/// fails at 600 s: node 0 is deleted at 660 s and PodGC deletes `-0` at
/// 700 s; the controller recreates it at 701 s. Nodes in 1b and 1c have
/// room, but the volume's node affinity names 1a: the pod stays Pending
/// through the outage. 1a is back at 1800 s; AZ rebalancing launches there
/// (1800 + 30 + 60 = 1890 s), the new node's Node/Add requeues the pod
/// (VolumeBinding), it binds at once and starts at 1890 + 20 + 5 = 1915 s.
#[test]
fn zonal_volume_keeps_its_pod_pending_until_the_zone_returns() {
    let w = run(&three(2, VOLUME, OUTAGE_1A), secs(2400));
    let c = &w.cluster;
    let pods = c.pods();
    let st = c.workloads()[0].stateful.as_ref().expect("a StatefulSet");
    let zone_of = |p: usize| {
        c.nodes()[pods[p].state().node().expect("bound").index()]
            .spec
            .zone
    };
    assert_eq!(
        history(&w)[..2],
        [(0, secs(0), Some(secs(25))), (1, secs(26), Some(secs(51)))]
    );
    // Pod 2 is the second `-0`.
    assert_eq!((pods[2].slot, pods[2].created_at), (0, secs(701)));
    assert_eq!(pods[2].started_at, Some(secs(1915)));
    let node = pods[2].state().node().expect("bound");
    assert_eq!(c.nodes()[node.index()].joined_at, secs(1890));
    assert_eq!(st.volume_zone[0], Some(c.nodes()[0].spec.zone));
    assert_eq!(zone_of(2), c.nodes()[0].spec.zone);
    assert_eq!(st.ordinals[0], Ordinal::Pod(pods[2].id));
    // `-1`'s volume is in us-east-1b; wherever `-1` runs now, it is there.
    assert_eq!(st.volume_zone[1], Some(c.nodes()[1].spec.zone));
    for (i, p) in pods.iter().enumerate() {
        if p.slot == 1 && matches!(p.state(), PodState::Running(_)) {
            assert_eq!(zone_of(i), c.nodes()[1].spec.zone);
        }
    }
}

/// The same outage without volumes: the second `-0` binds at 701 s to the
/// free node in us-east-1c and starts at 706 s.
#[test]
fn without_volumes_the_pod_moves_zones() {
    let w = run(&three(2, "", OUTAGE_1A), secs(900));
    let pods = w.cluster.pods();
    assert_eq!((pods[2].slot, pods[2].started_at), (0, Some(secs(706))));
    assert_eq!(w.cluster.workloads()[0].volume_zone(0), None);
}

/// While the zone is out, the pod is refused by VolumeBinding on the nodes
/// with room and by NodeResourcesFit on the one holding `-1`.
#[test]
fn the_rejection_names_the_volume_conflict() {
    let w = run(&three(2, VOLUME, OUTAGE_1A), secs(1000));
    let c = &w.cluster;
    let pod = &c.pods()[2];
    assert!(matches!(pod.state(), PodState::Pending));
    assert_eq!(
        pod.rejected_by.names(),
        ["NodeResourcesFit", "VolumeBinding"]
    );
    let r = c.rejection(pod.id);
    // Nodes 1 (holds `-1`), 2 (1c) and 3 (a replacement in 1b or 1c).
    assert_eq!((r.nodes, r.insufficient_cpu, r.volume_conflict), (3, 1, 2));
    assert_eq!(c.workloads()[0].spec.name, "db");
    assert_eq!(pod.workload, WorkloadId(0));
}

#[test]
fn statefulset_without_replicas_is_refused() {
    let text = three(2, "", "").replace("replicas = 2\n", "");
    rejects(
        &text,
        12,
        "workloads.db.replicas",
        "a StatefulSet needs replicas",
    );
}

#[test]
fn volume_claims_on_a_deployment_are_refused() {
    let text = three(2, VOLUME, "").replace("kind = \"statefulset\"\n", "");
    rejects(
        &text,
        18,
        "workloads.db.volume_claims",
        "are for kind = \"statefulset\"",
    );
}

#[test]
fn duplicate_claim_names_are_refused() {
    let claims = "volume_claims = [{ name = \"data\" }, { name = \"data\" }]";
    rejects(
        &three(2, claims, ""),
        19,
        "workloads.db.volume_claims.name",
        "used twice",
    );
}

#[test]
fn bad_attach_delay_is_refused() {
    let claims = "volume_claims = [{ name = \"data\", attach_delay = { dist = \"lognormal\", median = \"30s\", p95 = \"10s\" } }]";
    rejects(
        &three(2, claims, ""),
        19,
        "workloads.db.volume_claims.data.attach_delay",
        "p95 must be at least the median",
    );
}

#[test]
fn unknown_pod_management_policy_is_refused() {
    let extra = "pod_management_policy = \"Burst\"";
    rejects(
        &three(2, extra, ""),
        19,
        "workloads.db.pod_management_policy",
        "unknown variant `Burst`",
    );
}

/// `service_name` is optional (kubernetes/kubernetes#130233); when given
/// it must be a DNS label, and only a StatefulSet has one.
#[test]
fn service_name_is_checked_when_given() {
    let ok = three(2, "service_name = \"db-headless\"", "");
    crate::support::scenario(&ok);
    let bad = three(2, "service_name = \"DB_headless\"", "");
    rejects(&bad, 19, "workloads.db.service_name", "not a DNS label");
    let deployment = three(2, "service_name = \"db\"", "").replace("kind = \"statefulset\"\n", "");
    rejects(
        &deployment,
        18,
        "workloads.db.service_name",
        "are for kind = \"statefulset\"",
    );
}
