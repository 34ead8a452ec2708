//! The controllers that turn a vanished machine into recreated pods: the
//! node lifecycle controller (NotReady after the grace period), the cloud
//! node lifecycle controller (deletes Nodes whose instance is gone), pod
//! garbage collection (deletes pods bound to deleted Nodes) and the
//! Deployment controller (recreates them).
//!
//! Taint-based eviction (after 300 s of NotReady) is not modelled: when every
//! instance is lost all zones are fully disrupted and the controller stops
//! evicting, and otherwise the cloud controller deletes the Node well before
//! the toleration expires (`FIDELITY.md` §3a, §7.9).

use rand::seq::SliceRandom;

use crate::engine::{Context, Millis};

use super::cluster::KubeEvent;
use super::{Cluster, NodeCondition, NodeId, PodState, WorkloadKind};

impl Cluster {
    pub(super) fn arm_monitor<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>) {
        if !self.armed.monitor && !self.lost_nodes.is_empty() {
            self.armed.monitor = true;
            let at = Millis(ctx.now().0 + 1).next_multiple_of(self.config.node_monitor_period);
            ctx.schedule_at(at, KubeEvent::NodeMonitor);
        }
    }

    fn arm_gc<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>) {
        if !self.armed.gc && !self.orphan_nodes.is_empty() {
            self.armed.gc = true;
            let at = Millis(ctx.now().0 + 1).next_multiple_of(self.config.pod_gc_period);
            ctx.schedule_at(at, KubeEvent::PodGc);
        }
    }

    /// One pass of the node lifecycle and cloud node lifecycle controllers
    /// over nodes whose heartbeat stopped: Ready=Unknown and tainted
    /// `unreachable` once the grace period has passed, deleted at the next
    /// pass (the instance is gone).
    pub(super) fn node_monitor<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>) {
        self.armed.monitor = false;
        let now = ctx.now();
        let grace = self.config.node_monitor_grace_period;
        let mut still_lost = Vec::with_capacity(self.lost_nodes.len());
        for node in std::mem::take(&mut self.lost_nodes) {
            let n = &self.nodes[node.index()];
            let lost_at = n.heartbeat_lost_at.unwrap_or(now);
            if n.condition == NodeCondition::Deleted {
                continue;
            }
            if !n.unreachable {
                if now.saturating_sub(lost_at) >= grace {
                    self.set_condition(node, NodeCondition::NotReady);
                    let n = &mut self.nodes[node.index()];
                    n.unreachable = true;
                    n.not_ready_since = Some(now);
                }
                still_lost.push(node);
            } else if n.not_ready_since.is_some_and(|t| t < now) {
                self.delete_node(node, now);
            } else {
                still_lost.push(node);
            }
        }
        self.lost_nodes = still_lost;
        self.arm_monitor(ctx);
        self.arm_gc(ctx);
    }

    fn delete_node(&mut self, node: NodeId, now: Millis) {
        self.set_condition(node, NodeCondition::Deleted);
        self.unregister(node);
        // Pods nominated here look elsewhere.
        for pid in std::mem::take(&mut self.nodes[node.index()].nominated) {
            self.pods[pid.index()].nominated = None;
        }
        let n = &mut self.nodes[node.index()];
        n.deleted_at = Some(now);
        if !n.pods.is_empty() {
            self.orphan_nodes.push(node);
        }
    }

    /// PodGC: deletes the pods of nodes deleted at least the quarantine ago,
    /// then the Deployment controller recreates them in a shuffled order.
    pub(super) fn pod_gc<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>) {
        self.armed.gc = false;
        let now = ctx.now();
        let quarantine = self.config.pod_gc_quarantine;
        let mut recreate = Vec::new();
        let mut deleted_any = false;
        let mut waiting = Vec::new();
        for node in std::mem::take(&mut self.orphan_nodes) {
            let deleted_at = self.nodes[node.index()].deleted_at.unwrap_or(now);
            if now.saturating_sub(deleted_at) < quarantine {
                waiting.push(node);
                continue;
            }
            let pods = self.nodes[node.index()].pods.clone();
            for pid in pods {
                let pod = &self.pods[pid.index()];
                // A DaemonSet has nothing to recreate for a deleted node, and
                // a terminating pod was already replaced.
                if self.workloads[pod.workload.index()].spec.kind == WorkloadKind::Deployment
                    && !matches!(pod.state, PodState::Terminating(_))
                {
                    recreate.push((pod.workload, pod.slot));
                }
                self.delete_pod(pid);
                deleted_any = true;
            }
        }
        self.orphan_nodes = waiting;
        // Sort first so that every policy shuffles the same list: the order
        // then depends on the seed only (common random numbers).
        recreate.sort_unstable();
        recreate.shuffle(&mut self.order_rng);
        let start = now + self.config.controller_delay;
        for (i, (w, slot)) in recreate.into_iter().enumerate() {
            let at = start + Millis(self.config.pod_create_interval.0 * i as u64);
            ctx.schedule_at(at, KubeEvent::CreatePod(w, slot));
        }
        // Deleting assigned pods is a cluster event (AssignedPodDelete).
        if deleted_any {
            self.cluster_event(ctx);
        }
        self.arm_gc(ctx);
    }
}
