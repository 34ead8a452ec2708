//! Cordon and drain, as `kubectl drain` or a node termination handler does
//! on a spot interruption notice: the node is marked unschedulable
//! (`node.kubernetes.io/unschedulable:NoSchedule`), then every pod not owned
//! by a DaemonSet is evicted through the Eviction API, which refuses while
//! the pod's PodDisruptionBudget allows no disruption; refused evictions are
//! retried every 5 s (kubectl's default retry interval).

use crate::engine::{Context, Millis};

use super::events::{Change, KubeEvent, RuntimeTaints};
use super::{Cluster, NodeId, PodState, WorkloadKind};

/// Interval between retries of evictions a PodDisruptionBudget refused.
const EVICTION_RETRY: Millis = Millis(5_000);

impl Cluster {
    /// Marks a node unschedulable; pods already there stay.
    pub fn cordon(&mut self, node: NodeId) {
        self.nodes[node.index()].unschedulable = true;
        self.refresh_node(node);
    }

    /// Makes a cordoned node schedulable again; pending pods may now fit.
    pub fn uncordon<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>, node: NodeId) {
        if std::mem::take(&mut self.nodes[node.index()].unschedulable) {
            self.refresh_node(node);
            let before = RuntimeTaints {
                unschedulable: true,
                ..RuntimeTaints::of(&self.nodes[node.index()])
            };
            self.cluster_event(ctx, Change::TaintsRemoved { node, before });
        }
    }

    /// Cordons the node and evicts its pods (except DaemonSet pods) where
    /// their PodDisruptionBudgets allow, retrying the others.
    pub fn drain<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>, node: NodeId) {
        self.cordon(node);
        self.drain_pass(ctx, node);
        self.flush_job_dirty(ctx);
    }

    /// One round of evictions on a draining node.
    pub(super) fn drain_pass<E: From<KubeEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        node: NodeId,
    ) {
        if !self.nodes[node.index()].is_registered() {
            return;
        }
        let mut refused = false;
        for pid in self.nodes[node.index()].pods.clone() {
            let pod = &self.pods[pid.index()];
            let w = pod.workload;
            if matches!(
                self.workloads[w.index()].spec.kind,
                WorkloadKind::DaemonSet { .. }
            ) || !matches!(
                pod.state(),
                PodState::Running(_) | PodState::Unready(_) | PodState::Starting(_)
            ) {
                continue;
            }
            // The Eviction API: a healthy (Running and Ready) pod under a
            // budget with no disruption left is refused (429).
            let counts = matches!(pod.state(), PodState::Running(_));
            if counts
                && self.workloads[w.index()]
                    .disruptions_allowed()
                    .is_some_and(|a| a <= 0)
            {
                refused = true;
                continue;
            }
            self.note(super::KubeRecord::DrainEvicted(pid));
            self.evict_gracefully(ctx, pid);
            self.status.drain_evictions += 1;
        }
        if refused {
            ctx.schedule_in(EVICTION_RETRY, KubeEvent::DrainRetry(node));
        }
    }
}
