//! The node table: nodes joining, losing their machine, changing
//! condition and leaving their pool's index, with the counts kept per pool
//! and zone and the scheduler's snapshot row refreshed on each change.

use crate::engine::{Context, Millis};

use super::events::{Change, KubeEvent};
use super::{Cluster, KubeRecord, Node, NodeCondition, NodeId, NodeSpec, PodId, PodState};

impl Cluster {
    /// A node registers. It is Ready at once unless a network-plugin
    /// DaemonSet must run on it first (then it is NotReady, tainted
    /// `not-ready:NoSchedule`, until that pod runs).
    pub fn node_join<E: From<KubeEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        spec: NodeSpec,
    ) -> NodeId {
        let id = NodeId(self.nodes.len() as u32);
        let pool = spec.pool.index();
        let gated = self.pool_gated[pool];
        self.nodes.push(Node {
            id,
            spec,
            requested: Default::default(),
            requested_for_scoring: Default::default(),
            pods: Vec::new(),
            condition: if gated {
                NodeCondition::NotReady
            } else {
                NodeCondition::Ready
            },
            unreachable: false,
            no_execute_since: None,
            unschedulable: false,
            daemon_pods: Vec::new(),
            nominated: Vec::new(),
            joined_at: ctx.now(),
            ready_at: (!gated).then_some(ctx.now()),
            heartbeat_lost_at: None,
            lease_renewed_at: None,
            not_ready_since: None,
            instance_gone_at: None,
            deleted_at: None,
            pool_slot: Some(self.by_pool[pool].len()),
        });
        self.by_pool[pool].push(id);
        let zone = usize::from(self.nodes[id.index()].spec.zone);
        self.select
            .topology_mut()
            .0
            .node_added(id.index(), pool, zone);
        self.refresh_node(id);
        self.registered += 1;
        self.zone_count(id, 1, i32::from(gated));
        if !gated {
            self.status.ready_nodes += 1;
        }
        self.status.progress_steps += 1;
        self.note(KubeRecord::NodeJoined(id));
        if !gated {
            self.note(KubeRecord::NodeReady(id));
        }
        self.create_daemon_pods(ctx, id);
        self.cluster_event(ctx, Change::NodeAdded(id));
        self.flush_job_dirty(ctx);
        id
    }

    /// The machine behind `node` stopped answering (impaired, or shutting
    /// down): its heartbeats stop and its pods stop serving at once, though
    /// the API only notices later. The Node stays until its instance is
    /// gone ([`Cluster::instance_gone`]).
    pub fn instance_unreachable<E: From<KubeEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        node: NodeId,
    ) {
        let now = ctx.now();
        if self.nodes[node.index()].heartbeat_lost_at.is_some() {
            return;
        }
        let n = &mut self.nodes[node.index()];
        n.heartbeat_lost_at = Some(now);
        // The machine stops at a uniformly random point of its Lease
        // renewal cycle (a renewal at the instant it stops counts).
        let cycle = self.config.node_lease_renew_interval.0;
        let since = if cycle == 0 {
            0
        } else {
            self.streams.lease_offset(cycle)
        };
        n.lease_renewed_at = Some(Millis(now.0.saturating_sub(since)).max(n.joined_at));
        self.note(KubeRecord::NodeLost(node));
        for i in 0..self.nodes[node.index()].pods.len() {
            let pid = self.nodes[node.index()].pods[i];
            if let PodState::Running(n) | PodState::Unready(n) | PodState::Starting(n) =
                self.pods[pid.index()].state()
            {
                self.set_pod_state(pid, PodState::Lost(n));
            }
        }
        self.lost_nodes.push(node);
        self.arm_monitor(ctx);
        self.flush_job_dirty(ctx);
    }

    /// The machine behind `node` no longer exists (EC2 reports it
    /// `terminated`): the cloud node lifecycle controller may delete the
    /// Node once it is not Ready. A machine that vanished without a word
    /// stopped answering too.
    pub fn instance_gone<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>, node: NodeId) {
        self.instance_unreachable(ctx, node);
        let n = &mut self.nodes[node.index()];
        if n.instance_gone_at.is_none() {
            n.instance_gone_at = Some(ctx.now());
        }
    }

    /// Takes a deleted node out of its pool's index.
    pub(super) fn unregister(&mut self, node: NodeId) {
        if let Some(pos) = self.nodes[node.index()].pool_slot.take() {
            let pool = self.nodes[node.index()].spec.pool.index();
            self.by_pool[pool].swap_remove(pos);
            let sel = &mut self.select;
            let cfg = &self.config.scheduler;
            if let Some(&moved) = self.by_pool[pool].get(pos) {
                self.nodes[moved.index()].pool_slot = Some(pos);
                let rows = sel.snapshot.rows();
                sel.index
                    .place(pool, pos, Some(&self.nodes[moved.index()]), rows, cfg);
            }
            let end = self.by_pool[pool].len();
            sel.index.place(pool, end, None, sel.snapshot.rows(), cfg);
            self.registered -= 1;
            let zone = usize::from(self.nodes[node.index()].spec.zone);
            self.select
                .topology_mut()
                .0
                .node_removed(node.index(), pool, zone);
            self.zone_count(node, -1, 0);
            self.select.snapshot.touch();
        }
    }

    /// Sets a node's Ready condition, keeping the Ready count.
    pub(super) fn set_condition(&mut self, node: NodeId, condition: NodeCondition) {
        let n = &mut self.nodes[node.index()];
        if n.condition == condition {
            return;
        }
        let old = n.condition;
        n.condition = condition;
        self.refresh_node(node);
        if old == NodeCondition::Ready {
            self.status.ready_nodes -= 1;
        }
        if condition == NodeCondition::Ready {
            self.status.ready_nodes += 1;
        }
        if old == NodeCondition::NotReady {
            self.zone_count(node, 0, -1);
        }
        if condition == NodeCondition::NotReady {
            self.zone_count(node, 0, 1);
        }
    }

    /// Nominates `pid` to `node` (`status.nominatedNodeName`, set by
    /// preemption): the pods of lower priority nominated there lose their
    /// nomination, as they may no longer fit.
    pub(super) fn nominate(&mut self, pid: PodId, node: NodeId) {
        let priority = self.pods[pid.index()].priority;
        let lower: Vec<PodId> = self.nodes[node.index()]
            .nominated
            .iter()
            .copied()
            .filter(|&q| self.pods[q.index()].priority < priority)
            .collect();
        for q in lower {
            self.clear_nomination(q);
        }
        self.clear_nomination(pid);
        self.pods[pid.index()].nominated = Some(node);
        self.nodes[node.index()].nominated.push(pid);
        self.refresh_node(node);
    }

    /// Removes a pod's nomination, if any.
    pub(super) fn clear_nomination(&mut self, pid: PodId) {
        if let Some(node) = self.pods[pid.index()].nominated.take() {
            let list = &mut self.nodes[node.index()].nominated;
            if let Some(pos) = list.iter().position(|&p| p == pid) {
                list.swap_remove(pos);
            }
            self.refresh_node(node);
        }
    }

    /// The first node whose row in the scheduler's snapshot disagrees with
    /// it, if any. The snapshot is a cache kept up to date change by change;
    /// the invariant tests call this after every event.
    pub fn snapshot_mismatch(&self) -> Option<NodeId> {
        self.select.snapshot.mismatch(&self.nodes)
    }

    /// The first spread or inter-pod affinity count that differs from a
    /// recount of the pods, described (for the invariants test).
    pub fn topology_mismatch(&self) -> Option<String> {
        self.select
            .topology()
            .mismatch(&self.pods, &self.nodes, |n| n.pool_slot.is_some())
    }

    /// Copies a node's state into the scheduler's snapshot; called after
    /// every change to what the filters and scores read.
    pub(super) fn refresh_node(&mut self, node: NodeId) {
        let n = &self.nodes[node.index()];
        self.select.snapshot.refresh(n);
        let rows = self.select.snapshot.rows();
        self.select.index.refresh(rows, n, &self.config.scheduler);
    }
}
