//! The node table: nodes joining, losing their machine, changing
//! condition and leaving their pool's index, with the counts kept per pool
//! and zone and the scheduler's snapshot row refreshed on each change.
//!
//! [`NodeTable`] owns the nodes and what is kept about them as a set (the
//! per-pool index of registered nodes, the counts per zone, the nodes the
//! node lifecycle controller and PodGC still have to visit); its methods
//! change a node's membership and condition together with those. The
//! `Cluster` methods below add what the rest of the cluster keeps (the
//! scheduler's snapshot, the status counters, the journal).

use std::ops::{Index, IndexMut};

use crate::engine::{Context, Millis};

use super::events::{Change, KubeEvent};
use super::{Cluster, KubeRecord, Node, NodeCondition, NodeId, NodeSpec, PodId, PodState};

/// Node counts of one zone, kept on every transition, and its NoExecute
/// tainter's rate limiter.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ZoneCounts {
    /// Registered nodes.
    pub nodes: u32,
    /// Registered nodes whose Ready condition is not True.
    pub not_ready: u32,
    /// When the zone's NoExecute tainter may act next (rate limiter).
    pub next_taint_at: Millis,
}

/// Every node of the run (a node's id is its index; a deleted node stays),
/// with the registered ones indexed by pool and counted by zone.
#[derive(Debug, Clone)]
pub(super) struct NodeTable {
    nodes: Vec<Node>,
    /// Registered (not deleted) nodes of each pool, in no meaningful order
    /// (swap-removed): the scheduler's index.
    by_pool: Vec<Vec<NodeId>>,
    /// Registered nodes in all pools.
    registered: usize,
    /// Per pool: whether a network-plugin DaemonSet runs there, so its nodes
    /// join NotReady.
    pool_gated: Vec<bool>,
    /// Node counts per zone, for the node lifecycle controller.
    zones: Vec<ZoneCounts>,
    /// Nodes whose heartbeat stopped and that are not yet deleted (the
    /// node lifecycle controller's to visit).
    lost: Vec<NodeId>,
    /// Deleted nodes whose pods PodGC has not yet removed.
    orphans: Vec<NodeId>,
}

impl Index<usize> for NodeTable {
    type Output = Node;

    fn index(&self, i: usize) -> &Node {
        &self.nodes[i]
    }
}

impl IndexMut<usize> for NodeTable {
    fn index_mut(&mut self, i: usize) -> &mut Node {
        &mut self.nodes[i]
    }
}

impl NodeTable {
    /// An empty table; `pool_gated[p]` says whether nodes of pool `p` join
    /// NotReady (a network-plugin DaemonSet must run there first).
    pub(super) fn new(pool_gated: Vec<bool>) -> Self {
        NodeTable {
            nodes: Vec::new(),
            by_pool: vec![Vec::new(); pool_gated.len()],
            registered: 0,
            pool_gated,
            zones: Vec::new(),
            lost: Vec::new(),
            orphans: Vec::new(),
        }
    }

    /// All nodes ever registered, by id.
    pub(super) fn all(&self) -> &[Node] {
        &self.nodes
    }

    /// Registered nodes by pool, in no meaningful order.
    pub(super) fn by_pool(&self) -> &[Vec<NodeId>] {
        &self.by_pool
    }

    /// How many nodes are registered.
    pub(super) fn registered(&self) -> usize {
        self.registered
    }

    /// Node counts per zone (a zone no node joined yet may be missing).
    pub(super) fn zones(&self) -> &[ZoneCounts] {
        &self.zones
    }

    /// A node registers in its pool's index and its zone's counts, NotReady
    /// if its pool is gated, else Ready.
    fn add(&mut self, spec: NodeSpec, now: Millis) -> NodeId {
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
            joined_at: now,
            ready_at: (!gated).then_some(now),
            heartbeat_lost_at: None,
            lease_renewed_at: None,
            not_ready_since: None,
            instance_gone_at: None,
            deleted_at: None,
            pool_slot: Some(self.by_pool[pool].len()),
        });
        self.by_pool[pool].push(id);
        self.registered += 1;
        self.count_in_zone(id, 1, i32::from(gated));
        id
    }

    /// Takes `node` out of its pool's index and its zone's count of nodes:
    /// its pool and position, and the node moved into that position, if
    /// any; `None` if it was not in the index.
    fn remove_from_pool(&mut self, node: NodeId) -> Option<(usize, usize, Option<NodeId>)> {
        let pos = self.nodes[node.index()].pool_slot.take()?;
        let pool = self.nodes[node.index()].spec.pool.index();
        self.by_pool[pool].swap_remove(pos);
        let moved = self.by_pool[pool].get(pos).copied();
        if let Some(m) = moved {
            self.nodes[m.index()].pool_slot = Some(pos);
        }
        self.registered -= 1;
        self.count_in_zone(node, -1, 0);
        Some((pool, pos, moved))
    }

    /// Sets a node's Ready condition, keeping its zone's NotReady count;
    /// the condition it had, if it changed.
    fn set_condition(&mut self, node: NodeId, condition: NodeCondition) -> Option<NodeCondition> {
        let n = &mut self.nodes[node.index()];
        if n.condition == condition {
            return None;
        }
        let old = std::mem::replace(&mut n.condition, condition);
        if old == NodeCondition::NotReady {
            self.count_in_zone(node, 0, -1);
        }
        if condition == NodeCondition::NotReady {
            self.count_in_zone(node, 0, 1);
        }
        Some(old)
    }

    /// Counts a node in its zone, or takes it out.
    fn count_in_zone(&mut self, node: NodeId, registered: i32, not_ready: i32) {
        let z = usize::from(self.nodes[node.index()].spec.zone);
        if self.zones.len() <= z {
            self.zones.resize(z + 1, ZoneCounts::default());
        }
        let c = &mut self.zones[z];
        c.nodes = c.nodes.wrapping_add_signed(registered);
        c.not_ready = c.not_ready.wrapping_add_signed(not_ready);
    }

    /// Zone `z`'s NoExecute tainter may act next at `at`.
    pub(super) fn set_next_taint_at(&mut self, z: usize, at: Millis) {
        self.zones[z].next_taint_at = at;
    }

    /// The machine behind `node` stopped answering at `now`, its kubelet's
    /// last Lease renewal at `renewed`: the node lifecycle controller will
    /// visit it. Nothing if it had stopped already.
    fn lose(&mut self, node: NodeId, now: Millis, renewed: Millis) {
        let n = &mut self.nodes[node.index()];
        if n.heartbeat_lost_at.is_some() {
            return;
        }
        n.heartbeat_lost_at = Some(now);
        n.lease_renewed_at = Some(renewed.max(n.joined_at));
        self.lost.push(node);
    }

    /// The nodes the node lifecycle controller has yet to visit, in the
    /// order they were lost.
    pub(super) fn lost(&self) -> &[NodeId] {
        &self.lost
    }

    /// Takes the nodes the node lifecycle controller has to visit, for a
    /// pass that gives back those still to visit ([`NodeTable::still_lost`]).
    pub(super) fn take_lost(&mut self) -> Vec<NodeId> {
        std::mem::take(&mut self.lost)
    }

    /// Gives back a node a pass took that is still to visit.
    pub(super) fn still_lost(&mut self, node: NodeId) {
        self.lost.push(node);
    }

    /// `node` was deleted at `now`; PodGC has its pods to remove, if any.
    fn mark_deleted(&mut self, node: NodeId, now: Millis) {
        let n = &mut self.nodes[node.index()];
        n.deleted_at = Some(now);
        if !n.pods.is_empty() {
            self.orphans.push(node);
        }
    }

    /// Whether PodGC has deleted nodes to visit.
    pub(super) fn has_orphans(&self) -> bool {
        !self.orphans.is_empty()
    }

    /// Takes the deleted nodes PodGC has to visit, for a pass that gives
    /// back those it leaves for later ([`NodeTable::still_orphaned`]).
    pub(super) fn take_orphans(&mut self) -> Vec<NodeId> {
        std::mem::take(&mut self.orphans)
    }

    /// Gives back a deleted node a PodGC pass took and left for later.
    pub(super) fn still_orphaned(&mut self, node: NodeId) {
        self.orphans.push(node);
    }
}

impl Cluster {
    /// A node registers. It is Ready at once unless a network-plugin
    /// DaemonSet must run on it first (then it is NotReady, tainted
    /// `not-ready:NoSchedule`, until that pod runs).
    pub fn node_join<E: From<KubeEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        spec: NodeSpec,
    ) -> NodeId {
        let pool = spec.pool.index();
        let id = self.nodes.add(spec, ctx.now());
        let gated = !self.nodes[id.index()].is_ready();
        let zone = usize::from(self.nodes[id.index()].spec.zone);
        self.select
            .topology_mut()
            .0
            .node_added(id.index(), pool, zone);
        self.refresh_node(id);
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
        // The machine stops at a uniformly random point of its Lease
        // renewal cycle (a renewal at the instant it stops counts).
        let cycle = self.config.node_lease_renew_interval.0;
        let since = if cycle == 0 {
            0
        } else {
            self.streams.lease_offset(cycle)
        };
        let renewed = Millis(now.0.saturating_sub(since));
        self.nodes.lose(node, now, renewed);
        self.note(KubeRecord::NodeLost(node));
        for i in 0..self.nodes[node.index()].pods.len() {
            let pid = self.nodes[node.index()].pods[i];
            if let PodState::Running(n) | PodState::Unready(n) | PodState::Starting(n) =
                self.pods[pid.index()].state()
            {
                self.set_pod_state(pid, PodState::Lost(n));
            }
        }
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
        let Some((pool, pos, moved)) = self.nodes.remove_from_pool(node) else {
            return;
        };
        let sel = &mut self.select;
        let cfg = &self.config.scheduler;
        if let Some(moved) = moved {
            sel.place_in_index(pool, pos, Some(&self.nodes[moved.index()]), cfg);
        }
        let end = self.nodes.by_pool()[pool].len();
        sel.place_in_index(pool, end, None, cfg);
        let zone = usize::from(self.nodes[node.index()].spec.zone);
        self.select
            .topology_mut()
            .0
            .node_removed(node.index(), pool, zone);
        self.select.snapshot.touch();
    }

    /// Sets a node's Ready condition, keeping the Ready count and its
    /// zone's NotReady count.
    pub(super) fn set_condition(&mut self, node: NodeId, condition: NodeCondition) {
        let Some(old) = self.nodes.set_condition(node, condition) else {
            return;
        };
        self.refresh_node(node);
        if old == NodeCondition::Ready {
            self.status.ready_nodes -= 1;
        }
        if condition == NodeCondition::Ready {
            self.status.ready_nodes += 1;
        }
    }

    /// The cloud node lifecycle controller deletes `node` at `now`: it
    /// leaves its pool's index, the pods nominated to it look elsewhere,
    /// its unbound DaemonSet pods go now and its bound pods with PodGC.
    pub(super) fn delete_node(&mut self, node: NodeId, now: Millis) {
        self.set_condition(node, NodeCondition::Deleted);
        self.note(KubeRecord::NodeDeleted(node));
        self.unregister(node);
        // Pods nominated here look elsewhere.
        for pid in std::mem::take(&mut self.nodes[node.index()].nominated) {
            self.pods[pid.index()].nominated = None;
        }
        self.refresh_node(node);
        // The DaemonSet controller deletes the pods of a node that is gone;
        // bound ones go with PodGC, unbound ones now.
        for pid in std::mem::take(&mut self.nodes[node.index()].daemon_pods) {
            if self.pods[pid.index()].state() == PodState::Pending {
                self.delete_pod(pid);
            }
        }
        self.nodes.mark_deleted(node, now);
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
        self.select.snapshot.mismatch(self.nodes.all())
    }

    /// The first spread or inter-pod affinity count that differs from a
    /// recount of the pods, described (for the invariants test).
    pub fn topology_mismatch(&self) -> Option<String> {
        self.select
            .topology()
            .mismatch(&self.pods, self.nodes.all(), |n| n.pool_slot.is_some())
    }

    /// Copies a node's state into the scheduler's snapshot; called after
    /// every change to what the filters and scores read.
    pub(super) fn refresh_node(&mut self, node: NodeId) {
        let n = &self.nodes[node.index()];
        self.select.snapshot.refresh(n);
        self.select.refresh_index(node);
    }
}
