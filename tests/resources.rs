//! Effective requests and the `nvidia.com/gpu` extended resource, with
//! hand-computed expectations: a pod's requests from its containers, init
//! containers, sidecars and overhead; a GPU pod Pending where no node has
//! GPUs and bound where one does; the cluster autoscaler and Karpenter
//! choosing GPU capacity for it.

use poolsim::engine::{Millis, Simulation};
use poolsim::kube::PodState;
use poolsim::kube::scheduler::Plugins;
use poolsim::quantity::{Bytes, MilliCpu, Resources};
use poolsim::sim::{Event, World};

use crate::bad_input::{VALID, rejects};
use crate::support::scenario;

fn r(mcpu: u64, mib: u64) -> Resources {
    Resources::new(MilliCpu(mcpu), Bytes(mib * Bytes::MI))
}

/// A workload `api` with the given container keys on an m5.xlarge.
fn with_containers(keys: &str) -> String {
    format!(
        r#"
name = "requests"
horizon = "1m"
[[workloads]]
name = "api"
class = "user"
replicas = 1
{keys}
[[policies]]
name = "p"
pools = [{{ name = "all", instance_type = "m5.xlarge", desired = 1 }}]
"#
    )
}

/// Two app containers, 500m/256Mi and 250m/512Mi: running, 750m/768Mi.
/// A sidecar (100m/64Mi) declared before a migration init container
/// (1200m/128Mi): while the migration runs, 1300m/192Mi are in use. Per
/// resource the larger: cpu 1300m (the init phase), memory 832Mi
/// (768 + 64, the running phase). Overhead 50m/20Mi on top:
/// 1350m/852Mi.
#[test]
fn effective_request_of_containers_init_sidecar_and_overhead() {
    let s = scenario(&with_containers(
        r#"containers = [
  { name = "app", cpu = "500m", memory = "256Mi" },
  { name = "proxy", cpu = "250m", memory = "512Mi" },
]
init_containers = [
  { name = "log-shipper", cpu = "100m", memory = "64Mi", restart_policy = "Always" },
  { name = "migrate", cpu = "1200m", memory = "128Mi" },
]
overhead = { cpu = "50m", memory = "20Mi" }"#,
    ));
    assert_eq!(s.workloads[0].requests, r(1350, 852));
    // Without the sidecar: max(750, 1200) = 1200m, max(768, 128) = 768Mi.
    let s = scenario(&with_containers(
        r#"containers = [
  { name = "app", cpu = "500m", memory = "256Mi" },
  { name = "proxy", cpu = "250m", memory = "512Mi" },
]
init_containers = [{ name = "migrate", cpu = "1200m", memory = "128Mi" }]"#,
    ));
    assert_eq!(s.workloads[0].requests, r(1200, 768));
    // The one implicit container of `cpu`/`memory`, with overhead.
    let s = scenario(&with_containers(
        "cpu = \"1\"\nmemory = \"1Gi\"\noverhead = { cpu = \"250m\" }",
    ));
    assert_eq!(s.workloads[0].requests, r(1250, 1024));
}

/// Two m5.xlarge nodes (4 vCPU, 16 GiB, no GPU) and a g5.xlarge pool (1
/// A10G) at `g5` nodes; one pod of 2 cpu / 8Gi / 1 GPU.
fn gpu_cluster(g5: u32) -> String {
    format!(
        r#"
name = "gpu"
horizon = "10m"
zones = ["z1"]
[instances]
launch_delay = {{ dist = "fixed", value = "30s" }}
boot_delay = {{ dist = "fixed", value = "30s" }}
[[workloads]]
name = "train"
class = "user"
replicas = 1
cpu = "2"
memory = "8Gi"
gpu = 1
[[policies]]
name = "p"
pools = [
  {{ name = "cpu", instance_type = "m5.xlarge", desired = 2 }},
  {{ name = "gpu", instance_type = "g5.xlarge", desired = {g5} }},
]
"#
    )
}

/// The instance types of Karpenter's NodeClaims, in claim order.
fn claimed_types(world: &World) -> Vec<&str> {
    let k = world.karpenter.as_ref().expect("karpenter on");
    k.claims()
        .iter()
        .map(|c| world.cloud.instance_types()[c.instance_type].name.as_str())
        .collect()
}

fn run_to(text: &str, t: Millis) -> World {
    let s = scenario(text);
    let (mut world, mut sim): (World, Simulation<Event>) = World::new(&s, 0, 1);
    sim.run_until(&mut world, t);
    world
}

/// With no g5 node the pod fits neither m5 node, which have the cpu and
/// memory but no GPU: Pending, rejected by NodeResourcesFit on both
/// ("0/2 nodes: 2 insufficient nvidia.com/gpu"). With one g5 node it is
/// bound there, and the node's row counts the GPU as taken.
#[test]
fn a_gpu_pod_is_pending_on_m5_and_bound_on_g5() {
    let world = run_to(&gpu_cluster(0), Millis::from_mins(5));
    let c = &world.cluster;
    assert_eq!(c.nodes().len(), 2);
    let pod = &c.pods()[0];
    assert_eq!(pod.state(), PodState::Pending);
    assert_eq!(pod.rejected_by, Plugins::NODE_RESOURCES_FIT);
    let why = c.rejection(pod.id);
    assert_eq!((why.nodes, why.insufficient_gpu), (2, 2));
    assert_eq!((why.insufficient_cpu, why.insufficient_memory), (0, 0));

    let world = run_to(&gpu_cluster(1), Millis::from_mins(5));
    let c = &world.cluster;
    let node = match c.pods()[0].state() {
        PodState::Running(n) => &c.nodes()[n.index()],
        other => panic!("the GPU pod is {other:?}"),
    };
    assert_eq!(node.spec.allocatable.gpu, 1);
    assert_eq!(node.requested.gpu, 1);
    assert_eq!(c.snapshot_mismatch(), None);
}

/// An empty m5.xlarge group listed first and an empty g5.xlarge group,
/// both 0..3, and the GPU pod pending: the first scan (10 s) finds the m5
/// template cannot hold it (no GPU) and grows the g5 group by one, the
/// only option under any expander; the pod runs on the new node after
/// the 30 s launch and 30 s boot.
#[test]
fn the_autoscaler_scales_the_g5_group_for_a_gpu_pod() {
    let text = gpu_cluster(0)
        .replace(
            "instance_type = \"m5.xlarge\", desired = 2",
            "instance_type = \"m5.xlarge\", desired = 0, min = 0, max = 3",
        )
        .replace(
            "instance_type = \"g5.xlarge\", desired = 0",
            "instance_type = \"g5.xlarge\", desired = 0, min = 0, max = 3",
        )
        + "[policies.autoscaler]\nexpander = \"least-waste\"\n";
    let world = run_to(&text, Millis::from_secs(10));
    let desired: Vec<u32> = world.cloud.asgs().iter().map(|g| g.desired()).collect();
    assert_eq!(desired, [0, 1]);
    let world = run_to(&text, Millis::from_mins(3));
    let c = &world.cluster;
    let node = c.pods()[0].state().node().expect("bound");
    assert_eq!(c.nodes()[node.index()].spec.allocatable.gpu, 1);
    assert_eq!(
        world
            .cloud
            .asgs()
            .iter()
            .map(|g| g.desired())
            .collect::<Vec<_>>(),
        [0, 1]
    );
}

/// A NodePool of m5 and g5 types: Karpenter's cheapest type that holds 2
/// cpu / 8Gi is m5.xlarge ($0.192/h), but only g5 types have a GPU, and of
/// those g5.xlarge ($1.006/h) is the cheapest.
#[test]
fn karpenter_launches_a_g5_for_a_gpu_pod() {
    let text = gpu_cluster(0).replace(
        "[[policies]]\nname = \"p\"\npools = [\n  { name = \"cpu\", instance_type = \"m5.xlarge\", desired = 2 },\n  { name = \"gpu\", instance_type = \"g5.xlarge\", desired = 0 },\n]\n",
        r#"[[policies]]
name = "p"
[[policies.nodepools]]
name = "default"
requirements = [
  { key = "karpenter.k8s.aws/instance-family", operator = "In", values = ["m5", "g5"] },
  { key = "karpenter.sh/capacity-type", operator = "In", values = ["on-demand"] },
]
"#,
    );
    assert!(text.contains("nodepools"), "{text}");
    let world = run_to(&text, Millis::from_mins(3));
    let types = claimed_types(&world);
    assert_eq!(types, ["g5.xlarge"]);
    assert!(world.cluster.pods()[0].state().node().is_some());
}

/// `instance-gpu-count Gt 3` leaves g5.12xlarge (4 GPUs, $5.672/h),
/// g5.48xlarge (8, $16.288/h) and p4d.24xlarge (8, $32.7726/h): the
/// cheapest, g5.12xlarge, is launched for the GPU pod. Types without
/// GPUs have no such label, so they fail `Gt`.
#[test]
fn karpenter_gpu_count_requirement_narrows_the_types() {
    let text = gpu_cluster(0).replace(
        "[[policies]]\nname = \"p\"\npools = [\n  { name = \"cpu\", instance_type = \"m5.xlarge\", desired = 2 },\n  { name = \"gpu\", instance_type = \"g5.xlarge\", desired = 0 },\n]\n",
        r#"[[policies]]
name = "p"
[[policies.nodepools]]
name = "big-gpus"
requirements = [{ key = "karpenter.k8s.aws/instance-gpu-count", operator = "Gt", values = ["3"] }]
"#,
    );
    assert!(text.contains("big-gpus"), "{text}");
    let world = run_to(&text, Millis::from_mins(3));
    let types = claimed_types(&world);
    assert_eq!(types, ["g5.12xlarge"]);
}

/// Bad input names the file, the line and the key.
#[test]
fn bad_container_keys_are_refused() {
    let base = VALID.replace("cpu = \"500m\"\nmemory = \"128Mi\"\n", "");
    // Both `cpu` and `containers`: the workload's name line.
    let both = VALID.replace(
        "memory = \"128Mi\"\n",
        "memory = \"128Mi\"\ncontainers = [{ name = \"a\", cpu = \"1\" }]\n",
    );
    rejects(&both, 9, "workloads.dns.cpu", "with `containers`");
    // A duplicate name, across containers and init containers.
    let dup = base.replace(
        "min_available = 1\n",
        "min_available = 1\ncontainers = [{ name = \"a\", cpu = \"1\" }]\ninit_containers = [{ name = \"a\", cpu = \"1\" }]\n",
    );
    rejects(
        &dup,
        10,
        "workloads.dns.init_containers.a",
        "duplicate container name",
    );
    // A negative quantity.
    let neg = base.replace(
        "min_available = 1\n",
        "min_available = 1\ncontainers = [{ name = \"a\", cpu = \"-1\" }]\n",
    );
    rejects(
        &neg,
        9,
        "workloads.dns.containers",
        "invalid cpu quantity `-1`",
    );
    // restart_policy on an app container.
    let rp = base.replace(
        "min_available = 1\n",
        "min_available = 1\ncontainers = [{ name = \"a\", restart_policy = \"Always\" }]\n",
    );
    rejects(
        &rp,
        9,
        "workloads.dns.containers.a.restart_policy",
        "only init containers",
    );
    // A GPU pod where no pool has GPUs: it could never be scheduled.
    let gpu = VALID.replace("memory = \"128Mi\"\n", "memory = \"128Mi\"\ngpu = 1\n");
    rejects(
        &gpu,
        5,
        "workloads.dns",
        "asks for 1 nvidia.com/gpu and no instance type of the pools it may use has that many (m5.large)",
    );
}
