//! Filter plugins: may this pod run on this node at all?

use crate::kube::{Node, Pod};

/// NodeResourcesFit (cpu, memory, pod count), NodeAffinity via the pod's
/// nodeSelector, and the node's Ready condition.
pub(super) fn feasible(pod: &Pod, fits_pool: &[bool], node: &Node) -> bool {
    node.is_ready()
        && fits_pool[node.spec.pool.index()]
        && (node.pods.len() as u32) < node.spec.max_pods
        && pod.requests.fits_in(&node.free())
}
