//! Filter plugins: may this pod run on this node at all?
//!
//! NodeResourcesFit (cpu, memory, `nvidia.com/gpu`, pod count;
//! `plugins/noderesources/fit.go`),
//! NodeUnschedulable (`plugins/nodeunschedulable`), NodeAffinity with the
//! nodeSelector (`plugins/nodeaffinity`) and TaintToleration for NoSchedule
//! and NoExecute (`plugins/tainttoleration`). The parts that depend only on
//! the node's pool (labels, configured taints) are precomputed per workload
//! in [`Workload::fits_pool`]; the run-time taints (not-ready, unreachable,
//! unschedulable) are checked per node.

use crate::kube::{Node, NodeCondition, Pod, Workload};
use crate::quantity::Resources;

/// Every filter except NodeResourcesFit: the node's pool, its run-time
/// taints and cordon. A node that fails here cannot be helped by
/// preemption (`UnschedulableAndUnresolvable`).
pub(crate) fn passes_static(wl: &Workload, node: &Node) -> bool {
    let d = wl.dynamic;
    node.is_registered()
        && wl.fits_pool[node.spec.pool.index()]
        && (!node.unschedulable || d.unschedulable)
        && (!node.unreachable || d.unreachable)
        && (node.condition != NodeCondition::NotReady || node.unreachable || d.not_ready)
}

/// Requests and pod count of the pods nominated to `node` that `pod` must
/// leave room for: those of equal or higher priority (kube-scheduler
/// `addGENominatedPods`).
pub(crate) fn nominated_load(pod: &Pod, node: &Node, pods: &[Pod]) -> (Resources, u32) {
    let mut r = Resources::default();
    let mut n = 0;
    for &q in &node.nominated {
        let other = &pods[q.index()];
        if q != pod.id && other.priority >= pod.priority {
            r += other.requests;
            n += 1;
        }
    }
    (r, n)
}

/// NodeResourcesFit: requests (cpu, memory and the extended resource
/// `nvidia.com/gpu`) fit the free allocatable and a pod slot is left,
/// after `taken` (nominated pods' requests and count).
pub(crate) fn fits_resources(pod: &Pod, node: &Node, taken: (Resources, u32)) -> bool {
    let used = node.requested + taken.0;
    (node.pods.len() as u32 + taken.1) < node.spec.max_pods
        && used.cpu.0 + pod.requests.cpu.0 <= node.spec.allocatable.cpu.0
        && used.memory.0 + pod.requests.memory.0 <= node.spec.allocatable.memory.0
        && used.gpu + pod.requests.gpu <= node.spec.allocatable.gpu
}

/// All filters.
pub(crate) fn feasible(pod: &Pod, wl: &Workload, node: &Node, pods: &[Pod]) -> bool {
    passes_static(wl, node) && wl.volumes_allow(pod.slot, node) && {
        let taken = if node.nominated.is_empty() {
            Default::default()
        } else {
            nominated_load(pod, node, pods)
        };
        fits_resources(pod, node, taken)
    }
}

/// The filters as the cluster autoscaler runs them against a template node of
/// `pool` (a fresh, Ready, uncordoned node of the group with `free` room and
/// `slots` pod slots left): the pool's labels and taints (NodeAffinity,
/// TaintToleration) and NodeResourcesFit. The CA runs PreFilter/Filter only, no
/// Score (`docs/fidelity.md`, "Cluster autoscaler"; cluster-autoscaler
/// `simulator/`, `estimator/binpacking_estimator.go`).
pub(crate) fn fits_template(
    requests: Resources,
    wl: &Workload,
    pool: usize,
    free: Resources,
    slots: u32,
) -> bool {
    wl.fits_pool[pool] && slots > 0 && requests.fits_in(&free)
}
