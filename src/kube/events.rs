//! Event dispatch: the events the Kubernetes side schedules for itself
//! ([`KubeEvent`], [`Cluster::handle`]), the self-rescheduling loops that
//! are armed at most once each, and the cluster events (`Change`) that move
//! pods out of unschedulablePods through their QueueingHints.

use crate::engine::{Context, Millis};
use crate::quantity::Resources;

use super::scheduler::{self, EventView, NodeView, PodMatch};
use super::{Cluster, Node, NodeCondition, NodeId, Pod, PodId, PodState, Workload, WorkloadId};

/// Events the Kubernetes side schedules for itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KubeEvent {
    /// One scheduling cycle: try the head of activeQ.
    ScheduleOne,
    /// Move pods whose backoff expired to activeQ.
    FlushBackoff,
    /// Move pods stuck in unschedulablePods for too long.
    FlushUnschedulable,
    /// A bound pod's containers are up.
    PodStarted(PodId),
    /// A started pod's readiness delay is over: it turns Ready.
    PodReady(PodId),
    /// The node lifecycle controllers' periodic check.
    NodeMonitor,
    /// The pod garbage collector's periodic sweep.
    PodGc,
    /// A controller creates a pod in this replica slot (for a DaemonSet,
    /// the slot is the node's index).
    CreatePod(WorkloadId, u32),
    /// The ReplicaSet controller's informer adds this ReplicaSet's key to
    /// the work queue.
    ReplicaSetAdd(WorkloadId),
    /// The work queue's rate-limited re-add of this ReplicaSet's key falls
    /// due (stale unless it is the key's earliest pending re-add).
    ReplicaSetRetry(WorkloadId),
    /// A create call of this ReplicaSet worker returns.
    ReplicaSetCreate(u16),
    /// A gracefully deleted pod's grace period is over: it is gone.
    PodTerminated(PodId),
    /// The pod's toleration of its node's `unreachable:NoExecute` taint may
    /// have run out.
    TaintEvict(PodId),
    /// A controller retries creating the pods an admission webhook
    /// rejected.
    RetryCreate(WorkloadId),
    /// A Job of this workload arrives.
    JobArrival(WorkloadId),
    /// Job pods of this workload may have finished their work (stale unless
    /// the epoch matches).
    JobCheck(WorkloadId, u32),
    /// Retry the evictions a PodDisruptionBudget refused on a draining node.
    DrainRetry(NodeId),
    /// The StatefulSet controller syncs this StatefulSet.
    StatefulSetSync(WorkloadId),
}

/// A change to the cluster that may make pending pods schedulable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Change {
    /// A node registered (`Node/Add`).
    NodeAdded(NodeId),
    /// Run-time taints left a node (it turned Ready, or was uncordoned):
    /// `Node/UpdateNodeTaint`, with the node's taints before.
    TaintsRemoved {
        /// The node.
        node: NodeId,
        /// Its run-time taints before the change.
        before: RuntimeTaints,
    },
    /// A pod bound to a node was deleted or finished (`AssignedPodDelete`):
    /// of this workload, or `None` for pods no placement rule selects.
    AssignedPodDeleted(Option<WorkloadId>),
    /// A pod of this workload was bound (`AssignedPodAdd`); sent only for
    /// workloads a spread constraint or required affinity selects.
    AssignedPodAdded(WorkloadId),
}

/// A node's run-time taints: `unschedulable` (cordon), `not-ready`,
/// `unreachable`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RuntimeTaints {
    /// Cordoned.
    pub unschedulable: bool,
    /// NotReady (and not unreachable).
    pub not_ready: bool,
    /// Unreachable.
    pub unreachable: bool,
}

impl RuntimeTaints {
    /// The node's taints now.
    pub fn of(n: &Node) -> RuntimeTaints {
        RuntimeTaints {
            unschedulable: n.unschedulable,
            not_ready: n.condition == NodeCondition::NotReady && !n.unreachable,
            unreachable: n.unreachable,
        }
    }
}

/// How `pod`'s filters see `node` with the run-time taints `state`.
fn node_view(
    nodes: &[Node],
    workloads: &[Workload],
    node: NodeId,
    pod: &Pod,
    state: RuntimeTaints,
) -> NodeView {
    let n = &nodes[node.index()];
    let wl = &workloads[pod.workload.index()];
    let v = wl.pool_verdict[n.spec.pool.index()];
    let d = wl.dynamic;
    let runtime = (state.unschedulable && !d.unschedulable)
        || (state.not_ready && !d.not_ready)
        || (state.unreachable && !d.unreachable);
    NodeView {
        // A DaemonSet pod's affinity names its node.
        labels_match: v.labels_match && pod.pinned.is_none_or(|p| p == node),
        untolerated_no_schedule: v.untolerated_no_schedule || runtime,
        untolerated_no_execute: v.untolerated_no_execute,
        unschedulable: state.unschedulable,
        fits_allocatable: n.spec.max_pods > 0 && pod.requests.fits_in(&n.spec.allocatable),
        fits_now: scheduler::fits_resources(pod, n, Default::default()),
        spread_honors_taints: false,
        pod_affinity_terms: false,
    }
}

/// The cluster's self-rescheduling loops, each with one event in the
/// queue at most.
#[derive(Debug, Clone, Copy)]
pub(super) enum Loop {
    /// The scheduler's next cycle (`ScheduleOne`).
    ScheduleOne,
    /// The flush of backoffQ (`FlushBackoff`).
    Backoff,
    /// The flush of unschedulablePods (`FlushUnschedulable`).
    Leftover,
    /// The node lifecycle controller's pass (`NodeMonitor`).
    Monitor,
    /// PodGC's pass (`PodGc`).
    Gc,
}

/// Which loops have their event in the queue.
#[derive(Debug, Default)]
pub(super) struct Armed {
    queued: u8,
}

impl Armed {
    /// Marks `l`'s event queued; `false` if it already was (schedule
    /// nothing).
    pub fn arm(&mut self, l: Loop) -> bool {
        let was = self.queued & Self::bit(l) != 0;
        self.queued |= Self::bit(l);
        !was
    }

    /// `l`'s event has fired: none is queued.
    pub fn fired(&mut self, l: Loop) {
        self.queued &= !Self::bit(l);
    }

    fn bit(l: Loop) -> u8 {
        1 << l as u8
    }
}

impl Cluster {
    /// Handles one Kubernetes event.
    pub fn handle<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>, event: KubeEvent) {
        match event {
            KubeEvent::ScheduleOne => self.schedule_one(ctx),
            KubeEvent::FlushBackoff => {
                self.armed.fired(Loop::Backoff);
                let n = self
                    .queue
                    .flush_backoff(&mut self.pods, ctx.now(), &self.config.scheduler);
                if n > 0 {
                    self.arm_schedule(ctx);
                }
                self.arm_backoff(ctx);
            }
            KubeEvent::FlushUnschedulable => {
                self.armed.fired(Loop::Leftover);
                let moved =
                    self.queue
                        .flush_leftover(&mut self.pods, ctx.now(), &self.config.scheduler);
                self.after_move(ctx, moved);
                self.arm_leftover(ctx);
            }
            KubeEvent::PodStarted(pid) => self.pod_started(ctx, pid),
            KubeEvent::PodReady(pid) => self.pod_ready(pid),
            KubeEvent::NodeMonitor => self.node_monitor(ctx),
            KubeEvent::PodGc => self.pod_gc(ctx),
            KubeEvent::CreatePod(w, slot) => self.try_create_pod(ctx, w, slot),
            KubeEvent::ReplicaSetAdd(w) => self.replicaset_add(ctx, w),
            KubeEvent::ReplicaSetRetry(w) => self.replicaset_retry(ctx, w),
            KubeEvent::ReplicaSetCreate(k) => self.replicaset_create(ctx, k),
            KubeEvent::RetryCreate(w) => self.retry_create(ctx, w),
            KubeEvent::JobArrival(w) => self.job_arrival(ctx, w),
            KubeEvent::JobCheck(w, epoch) => self.job_check(ctx, w, epoch),
            KubeEvent::DrainRetry(node) => self.drain_pass(ctx, node),
            KubeEvent::StatefulSetSync(w) => self.statefulset_sync(ctx, w),
            KubeEvent::TaintEvict(pid) => self.taint_evict(ctx, pid),
            KubeEvent::PodTerminated(pid) => {
                if matches!(self.pods[pid.index()].state(), PodState::Terminating(_)) {
                    self.delete_pod(pid);
                    // AssignedPodDelete: the room may help pending pods.
                    let w = self.pods[pid.index()].workload;
                    self.cluster_event(ctx, Change::AssignedPodDeleted(self.deletion_subject(w)));
                }
            }
        }
        self.flush_job_dirty(ctx);
    }

    /// A node joined or turned Ready, or a pod released room: the pods in
    /// unschedulablePods that the event's QueueingHints accept move on
    /// (`MoveAllToActiveOrBackoffQueue`).
    pub(super) fn cluster_event<E: From<KubeEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        change: Change,
    ) {
        if !self.queue.has_unschedulable() {
            return;
        }
        let (nodes, workloads) = (self.nodes.all(), &self.workloads);
        let topology = self.select.topology();
        let hints = self.config.scheduler.queueing_hints;
        // The answer for the last unpinned pod asked about: one for every
        // pod of its workload with the same rejecting plugins and requests
        // (what the hints read of a pod), which usually follow each other.
        let mut last: Option<(WorkloadId, scheduler::Plugins, Resources, bool)> = None;
        let moved =
            self.queue
                .on_cluster_event(&mut self.pods, ctx.now(), &self.config.scheduler, |pod| {
                    let key = (pod.workload, pod.rejected_by, pod.requests);
                    if pod.pinned.is_none()
                        && let Some((w, r, q, go)) = last
                        && (w, r, q) == key
                    {
                        return go;
                    }
                    let rules = topology.rules(pod.workload);
                    let view = |node, state| {
                        let mut v = node_view(nodes, workloads, node, pod, state);
                        v.spread_honors_taints = rules.hard_spread.iter().any(|c| c.honor_taints);
                        v.pod_affinity_terms = rules.affinity.is_some() || !rules.anti.is_empty();
                        v
                    };
                    let matched = |w: WorkloadId| PodMatch {
                        spread: rules.spread_selects.contains(&w),
                        affinity: rules.affinity_selects.contains(&w),
                        anti: rules.anti_selects.contains(&w),
                    };
                    let event = match change {
                        Change::NodeAdded(n) => {
                            EventView::NodeAdd(view(n, RuntimeTaints::of(&nodes[n.index()])))
                        }
                        Change::TaintsRemoved { node, before } => EventView::NodeTaintUpdate {
                            old: view(node, before),
                            new: view(node, RuntimeTaints::of(&nodes[node.index()])),
                        },
                        Change::AssignedPodDeleted(w) => {
                            EventView::AssignedPodDelete(w.map(matched).unwrap_or_default())
                        }
                        Change::AssignedPodAdded(w) => EventView::AssignedPodAdd(matched(w)),
                    };
                    let go = scheduler::worth_requeuing(pod.rejected_by, &event, hints);
                    if pod.pinned.is_none() {
                        last = Some((key.0, key.1, key.2, go));
                    }
                    go
                });
        self.after_move(ctx, moved);
    }

    /// The workload an `AssignedPodDeleted` event names for a deleted pod
    /// of `w`: `None` unless some pod's placement rules select `w`.
    pub(super) fn deletion_subject(&self, w: WorkloadId) -> Option<WorkloadId> {
        self.select.topology().wakes_on_delete(w).then_some(w)
    }

    pub(super) fn after_move<E: From<KubeEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        moved: scheduler::Moved,
    ) {
        if moved.to_active > 0 {
            self.arm_schedule(ctx);
        }
        if moved.to_backoff > 0 {
            self.arm_backoff(ctx);
            // With pop-from-backoffQ, a pod in backoffQ wakes an idle
            // scheduler (`activeQ.broadcast`).
            if self.config.scheduler.pop_from_backoff {
                self.arm_schedule(ctx);
            }
        }
    }

    pub(super) fn arm_schedule<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>) {
        if self.armed.arm(Loop::ScheduleOne) {
            ctx.schedule_in(Millis::ZERO, KubeEvent::ScheduleOne);
        }
    }

    pub(super) fn arm_backoff<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>) {
        if self.queue.has_backoff() && self.armed.arm(Loop::Backoff) {
            let period = self.config.scheduler.backoff_flush_period;
            let at = Millis(ctx.now().0 + 1).next_multiple_of(period);
            ctx.schedule_at(at, KubeEvent::FlushBackoff);
        }
    }

    pub(super) fn arm_leftover<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>) {
        if self.queue.has_unschedulable() && self.armed.arm(Loop::Leftover) {
            let period = self.config.scheduler.leftover_flush_period;
            let at = Millis(ctx.now().0 + 1).next_multiple_of(period);
            ctx.schedule_at(at, KubeEvent::FlushUnschedulable);
        }
    }

    /// Updates the progress clocks of Job workloads whose needs changed.
    pub(super) fn flush_job_dirty<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>) {
        while let Some(w) = self.controllers.next_dirty_job() {
            self.job_progress_changed(ctx, w);
        }
        self.flush_statefulsets(ctx);
    }
}

#[cfg(test)]
mod tests {
    use super::{Armed, Loop};

    /// A loop is armed once until its event fires; loops are independent.
    #[test]
    fn a_loop_is_armed_once_until_it_fires() {
        let mut a = Armed::default();
        assert!(a.arm(Loop::Backoff));
        assert!(!a.arm(Loop::Backoff));
        assert!(a.arm(Loop::Gc));
        a.fired(Loop::Backoff);
        assert!(a.arm(Loop::Backoff));
        assert!(!a.arm(Loop::Gc));
    }
}
