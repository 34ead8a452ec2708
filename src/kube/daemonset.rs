//! The DaemonSet controller: one pod per node the DaemonSet may run on
//! (`pkg/controller/daemon/daemon_controller.go`, `nodeShouldRunDaemonPod`).
//!
//! The controller creates a node's pod once the node's NoSchedule and
//! NoExecute taints are tolerated: a DaemonSet that does not tolerate
//! `not-ready:NoSchedule` (a log agent) gets its pod only when the node is
//! Ready, and then races user pods for the node's room through the
//! scheduling queue. A network-plugin DaemonSet (a CNI such as aws-node)
//! tolerates every taint; its node stays NotReady until its pod runs.
//! Default DaemonSet tolerations are added when the scenario is built
//! (`pkg/controller/daemon/util/daemonset_util.go`).

use crate::engine::Context;

use super::events::{Change, KubeEvent, RuntimeTaints};
use super::{Cluster, NodeCondition, NodeId, WorkloadId, WorkloadKind};

impl Cluster {
    /// Creates the DaemonSet pods a node should run now. With `only_new`,
    /// only those of DaemonSets that waited for the node to be Ready.
    fn daemon_pods_for<E: From<KubeEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        node: NodeId,
        only_new: bool,
    ) {
        let pool = self.nodes[node.index()].spec.pool.index();
        let ready = self.nodes[node.index()].condition == NodeCondition::Ready;
        for w in 0..self.workloads.len() {
            let wl = &self.workloads[w];
            if !matches!(wl.spec.kind, WorkloadKind::DaemonSet { .. }) || !wl.fits_pool[pool] {
                continue;
            }
            let now_ok = ready || wl.dynamic.not_ready;
            let created_before = wl.dynamic.not_ready;
            if !now_ok || (only_new && created_before) {
                continue;
            }
            // The controller's own API client paces its create calls.
            let at = self
                .controllers
                .daemonset_create_at(ctx.now() + self.config.controller_delay);
            ctx.schedule_at(at, KubeEvent::CreatePod(WorkloadId(w as u16), node.0));
        }
    }

    /// A node registered: create the pods of the DaemonSets that may run on
    /// it already.
    pub(super) fn create_daemon_pods<E: From<KubeEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        node: NodeId,
    ) {
        self.daemon_pods_for(ctx, node, false);
    }

    /// A node turned Ready (its network plugin runs): DaemonSets that waited
    /// for that get their pods, and pending pods may now fit (a Node update
    /// is a cluster event).
    pub(super) fn node_became_ready<E: From<KubeEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        node: NodeId,
    ) {
        self.status.progress_steps += 1;
        self.daemon_pods_for(ctx, node, true);
        // The node lifecycle controller removes `not-ready:NoSchedule`.
        let before = RuntimeTaints {
            not_ready: true,
            ..RuntimeTaints::of(&self.nodes[node.index()])
        };
        self.cluster_event(ctx, Change::TaintsRemoved { node, before });
    }
}
