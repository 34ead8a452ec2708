//! The node lifecycle controller and the cloud node lifecycle controller
//! (`pkg/controller/nodelifecycle/node_lifecycle_controller.go`,
//! `staging/src/k8s.io/cloud-provider/controllers/nodelifecycle/`).
//!
//! Every `node-monitor-period` a pass looks at nodes whose heartbeat
//! stopped. Once `node-monitor-grace-period` has passed, Ready turns
//! Unknown and the node is tainted `unreachable:NoSchedule`; the
//! `unreachable:NoExecute` taint follows through a per-zone rate limiter
//! (`node-eviction-rate`, or the secondary rate in a partially disrupted
//! large zone, or nothing in a partially disrupted small zone), and pods are
//! evicted when their toleration of it runs out (300 s by default, added by
//! the DefaultTolerationSeconds admission plugin). When every zone is fully
//! disrupted the controller assumes a control-plane network problem: it
//! stops tainting and removes the NoExecute taints it placed, cancelling the
//! evictions. The cloud node lifecycle controller deletes a not-Ready Node
//! whose instance no longer exists. For AWS (cloud-provider-aws
//! `InstanceExistsByProviderID`) an instance exists in every state but
//! `terminated`: an impaired instance, and one still `shutting-down`, keep
//! their Node, which stays Unknown and tainted while its pods are evicted
//! as their tolerations run out. `terminated_instance_visible_for`
//! (default 0 s) adds a lag after `terminated`, e.g. for an eventually
//! consistent `DescribeInstances`; see `docs/fidelity.md`, "Node
//! lifecycle".

use crate::engine::{Context, Millis};

use super::events::{KubeEvent, Loop};
use super::{Cluster, KubeRecord, NodeCondition, PodId, PodState, WorkloadKind};

/// `ComputeZoneState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ZoneState {
    Normal,
    PartialDisruption,
    FullDisruption,
}

impl Cluster {
    pub(super) fn arm_monitor<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>) {
        if !self.nodes.lost().is_empty() && self.armed.arm(Loop::Monitor) {
            let at = Millis(ctx.now().0 + 1).next_multiple_of(self.config.node_monitor_period);
            ctx.schedule_at(at, KubeEvent::NodeMonitor);
        }
    }

    fn zone_state(&self, z: usize) -> ZoneState {
        let c = self.nodes.zones()[z];
        let ready = c.nodes - c.not_ready;
        if ready == 0 && c.not_ready > 0 {
            ZoneState::FullDisruption
        } else if c.not_ready > 2
            && f64::from(c.not_ready) / f64::from(c.nodes) >= self.config.unhealthy_zone_threshold
        {
            ZoneState::PartialDisruption
        } else {
            ZoneState::Normal
        }
    }

    /// One pass of the node lifecycle and cloud node lifecycle controllers
    /// over nodes whose heartbeat stopped.
    pub(super) fn node_monitor<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>) {
        self.armed.fired(Loop::Monitor);
        let now = ctx.now();
        let grace = self.config.node_monitor_grace_period;
        let visible = self.config.terminated_instance_visible_for;
        for node in self.nodes.take_lost() {
            let n = &self.nodes[node.index()];
            if n.condition == NodeCondition::Deleted {
                continue;
            }
            if !n.unreachable {
                // `probeTimestamp`: the first pass (passes fall on multiples
                // of the period) that saw the last Lease renewal.
                let renewed = n.lease_renewed_at.unwrap_or(now);
                let probe = renewed.next_multiple_of(self.config.node_monitor_period);
                if now >= probe + grace {
                    self.set_condition(node, NodeCondition::NotReady);
                    let n = &mut self.nodes[node.index()];
                    n.unreachable = true;
                    n.not_ready_since = Some(now);
                    self.refresh_node(node);
                    self.note(KubeRecord::NodeNotReady(node));
                }
                self.nodes.still_lost(node);
            } else if n.not_ready_since.is_some_and(|t| t < now)
                && n.instance_gone_at
                    .is_some_and(|g| now.saturating_sub(g) >= visible)
            {
                self.delete_node(node, now);
            } else {
                self.nodes.still_lost(node);
            }
        }
        self.no_execute_pass(ctx);
        self.arm_monitor(ctx);
        self.arm_gc(ctx);
    }

    /// Taints unreachable nodes `NoExecute` through the per-zone rate
    /// limiters, or untaints them all when every zone is fully disrupted.
    fn no_execute_pass<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>) {
        let now = ctx.now();
        let zones = self.nodes.zones().len();
        let states: Vec<ZoneState> = (0..zones).map(|z| self.zone_state(z)).collect();
        let all_full = self
            .nodes
            .zones()
            .iter()
            .zip(&states)
            .filter(|(c, _)| c.nodes > 0)
            .all(|(_, s)| *s == ZoneState::FullDisruption);
        for i in 0..self.nodes.lost().len() {
            let node = self.nodes.lost()[i];
            let n = &self.nodes[node.index()];
            if !n.unreachable {
                continue;
            }
            if all_full {
                // markNodeAsReachable: the taint goes, evictions are off.
                self.nodes[node.index()].no_execute_since = None;
                continue;
            }
            if n.no_execute_since.is_some() {
                continue;
            }
            let z = usize::from(n.spec.zone);
            let rate = match states[z] {
                ZoneState::Normal | ZoneState::FullDisruption => self.config.node_eviction_rate,
                ZoneState::PartialDisruption
                    if self.nodes.zones()[z].nodes > self.config.large_cluster_size_threshold =>
                {
                    self.config.secondary_node_eviction_rate
                }
                ZoneState::PartialDisruption => 0.0,
            };
            if rate <= 0.0 || now < self.nodes.zones()[z].next_taint_at {
                continue;
            }
            let next = now + Millis((1000.0 / rate).round() as u64);
            self.nodes.set_next_taint_at(z, next);
            self.nodes[node.index()].no_execute_since = Some(now);
            for k in 0..self.nodes[node.index()].pods.len() {
                let pid = self.nodes[node.index()].pods[k];
                let w = self.pods[pid.index()].workload;
                if let Some(after) = self.workloads[w.index()].evict_after {
                    ctx.schedule_in(after, KubeEvent::TaintEvict(pid));
                }
            }
        }
    }

    /// The taint manager evicts a pod whose toleration of the NoExecute
    /// taint ran out, unless the taint was removed meanwhile. Its
    /// controller replaces it at once.
    pub(super) fn taint_evict<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>, pid: PodId) {
        let Some(node) = self.pods[pid.index()].state().node() else {
            return;
        };
        let w = self.pods[pid.index()].workload;
        let (Some(since), Some(after)) = (
            self.nodes[node.index()].no_execute_since,
            self.workloads[w.index()].evict_after,
        ) else {
            return;
        };
        if ctx.now() < since + after
            || matches!(self.pods[pid.index()].state(), PodState::Terminating(_))
        {
            return;
        }
        self.status.evictions += 1;
        self.note(KubeRecord::Evicted(pid));
        let slot = self.pods[pid.index()].slot;
        // The kubelet is gone, so the pod never finishes terminating; it
        // leaves the controller's count now and PodGC removes it with the
        // Node.
        self.set_pod_state(pid, PodState::Terminating(node));
        if !matches!(
            self.workloads[w.index()].spec.kind,
            WorkloadKind::DaemonSet { .. }
        ) {
            self.replace_pod(ctx, w, slot);
        }
    }
}
