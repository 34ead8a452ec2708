//! Cordon and drain, as the AWS node termination handler does on a Spot
//! interruption notice (aws/aws-node-termination-handler: cordon, then evict
//! the node's pods through the Eviction API).
//!
//! Kept apart from the rest of the cluster code on purpose: it is the only
//! entry point besides `node_join` and `instance_lost` through which the
//! cloud side (via the world) acts on Kubernetes. PodDisruptionBudgets and
//! graceful termination periods are not modelled: evicted pods are deleted
//! at once and their controllers recreate them after the controller delay.
//! DaemonSet pods stay, as `kubectl drain --ignore-daemonsets` leaves them.

use crate::engine::{Context, Millis};

use super::cluster::KubeEvent;
use super::{Cluster, NodeId, PodState, WorkloadKind};

impl Cluster {
    /// Cordons `node` (no new pods land on it) and evicts its pods; their
    /// controllers recreate them, spaced like any other recreation.
    pub fn drain<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>, node: NodeId) {
        // Cordoned: `spec.unschedulable`, so the NodeUnschedulable filter
        // keeps new pods off it (DaemonSet pods tolerate it).
        self.nodes[node.index()].unschedulable = true;
        let mut pods = self.nodes[node.index()].pods.clone();
        // Evict in pod id order: the order a handler lists them in does not
        // matter here and this keeps one seed one history.
        pods.sort_unstable();
        let start = ctx.now() + self.config.controller_delay;
        let mut i = 0u64;
        for pid in pods {
            let (w, slot) = (self.pods[pid.index()].workload, self.pods[pid.index()].slot);
            let daemon = matches!(
                self.workloads[w.index()].spec.kind,
                WorkloadKind::DaemonSet { .. }
            );
            if daemon
                || matches!(
                    self.pods[pid.index()].state,
                    PodState::Lost(_) | PodState::Terminating(_)
                )
            {
                continue;
            }
            self.delete_pod(pid);
            let at = start + Millis(self.config.pod_create_interval.0 * i);
            ctx.schedule_at(at, KubeEvent::CreatePod(w, slot));
            i += 1;
        }
        // Evicting assigned pods is a cluster event (AssignedPodDelete).
        if i > 0 {
            self.cluster_event(ctx);
        }
    }
}
