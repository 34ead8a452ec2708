//! Why a stuck cluster is stuck, computed from its state.

use super::{Cluster, PodClass, PodState};

/// The reason a system service stays below its minimum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StallCause {
    /// Pending system pods fit no Ready node of the pools they may use: the
    /// room is taken (typically by user pods).
    NoRoomInPool,
    /// Some Ready node has room for a pending system pod, but a filter
    /// (nodeSelector) forbids it, and no permitted node has room.
    RoomForbiddenByFilter,
    /// No Ready node belongs to a pool the pending system pods may use.
    NoEligibleNode,
    /// A system service is down and its controller cannot create its pods:
    /// an admission webhook with `failurePolicy: Fail` is itself down.
    WebhookBlocksCreation,
    /// A system service is down but none of its pods is pending (for example
    /// its pods are bound to a node that never became usable).
    ServiceDownNoPendingPods,
}

impl StallCause {
    /// The name written to `runs.csv`.
    pub fn as_str(self) -> &'static str {
        match self {
            StallCause::NoRoomInPool => "system-pods-no-room",
            StallCause::RoomForbiddenByFilter => "room-forbidden-by-filter",
            StallCause::NoEligibleNode => "no-eligible-node",
            StallCause::WebhookBlocksCreation => "webhook-blocks-creation",
            StallCause::ServiceDownNoPendingPods => "service-down-no-pending-pods",
        }
    }
}

impl Cluster {
    /// Diagnoses the first down system service, if any.
    pub fn stall_cause(&self) -> Option<StallCause> {
        let down = self
            .workloads
            .iter()
            .position(|w| w.spec.class == PodClass::System && w.is_unavailable())?;
        let Some(pod) = self
            .pods
            .iter()
            .find(|p| p.workload.index() == down && p.state() == PodState::Pending)
        else {
            return Some(if self.workloads[down].blocked_slots.is_empty() {
                StallCause::ServiceDownNoPendingPods
            } else {
                StallCause::WebhookBlocksCreation
            });
        };
        let fits_pool = &self.workloads[down].fits_pool;
        let mut eligible = false;
        let mut forbidden_room = false;
        for &id in self.nodes.by_pool().iter().flatten() {
            let node = &self.nodes[id.index()];
            if !node.is_ready() || node.unschedulable {
                continue;
            }
            let room =
                pod.requests.fits_in(&node.free()) && (node.pods.len() as u32) < node.spec.max_pods;
            if fits_pool[node.spec.pool.index()] {
                eligible = true;
            } else if room {
                forbidden_room = true;
            }
        }
        Some(if !eligible && !forbidden_room {
            StallCause::NoEligibleNode
        } else if forbidden_room {
            StallCause::RoomForbiddenByFilter
        } else {
            StallCause::NoRoomInPool
        })
    }
}
