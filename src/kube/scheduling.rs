//! One scheduling cycle as the cluster runs it: pop a pod, pick a node or
//! preempt, bind, and the pod's start (`pkg/scheduler/schedule_one.go`).
//! The decisions themselves live in `scheduler/`; this file applies them to
//! the cluster's state.

use crate::engine::{Context, Millis};

use super::events::{KubeEvent, Loop};
use super::scheduler::topology::Plan;
use super::scheduler::{self, preemption};
use super::workload::PreemptionPolicy;
use super::{
    Cluster, KubeRecord, NodeCondition, NodeId, Pod, PodId, PodState, WorkloadId, WorkloadKind,
};

/// What a futile attempt of a pod of one shape does, known for a batch
/// of in-place attempts ([`Cluster::futile_next`]).
#[derive(Debug, Clone, Copy)]
struct FutileShape {
    workload: WorkloadId,
    priority: i32,
    /// The plugins that reject it (the memo's).
    rejected: scheduler::Plugins,
    /// The nodes of the pools it may use (the start index is taken modulo
    /// this, as `select_node` does on a memo hit).
    eligible: usize,
}

impl Cluster {
    /// One `ScheduleOne` event: an attempt, then, while the next attempt
    /// is known to be futile and would be the very next event, that one in
    /// place ([`Cluster::futile_next`], [`Cluster::futile_attempt`]), then
    /// the next cycle scheduled.
    pub(super) fn schedule_one<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>) {
        self.armed.fired(Loop::ScheduleOne);
        self.attempt(ctx);
        let d = self.config.scheduler.decision_time;
        // Whatever runs after the attempt in this event (the Job and
        // StatefulSet flushes) must have nothing to do, so that the next
        // attempt is the next thing done.
        let mut known = None;
        while self.attempts_in_place
            && self.controllers.jobs_clean()
            && self.controllers.statefulsets_clean()
            && let Some((pid, verdict)) = self.futile_next(&mut known)
            && ctx.handle_next_at(ctx.now().saturating_add(d))
        {
            self.futile_attempt(ctx, pid, verdict);
            self.futile_run(ctx, verdict);
        }
        if self.queue.has_poppable(&self.config.scheduler) {
            // Queued whether or not the attempt armed one already, as
            // before this flag had methods.
            self.armed.arm(Loop::ScheduleOne);
            ctx.schedule_in(d, KubeEvent::ScheduleOne);
        }
    }

    /// The pod [`SchedulingQueue::pop`] gives next, with the plugins that
    /// will reject it, if its attempt is known to fail without changing
    /// anything the world observes after an event: its shape fitted no
    /// node at this snapshot generation (the verdict memo, as in
    /// `select_node`, with its rejecting plugins, so it waits in
    /// unschedulablePods, not backoffQ), it has failed before (no first
    /// failure counted) and it cannot preempt. `known` keeps the verdict
    /// of the last shape asked about within one batch of attempts, in
    /// which nothing it depends on changes (a futile attempt moves no
    /// node, no pod count and no node list).
    fn futile_next(&self, known: &mut Option<FutileShape>) -> Option<(PodId, FutileShape)> {
        if !self.config.scheduler.verdict_memo {
            return None;
        }
        let pid = self.queue.peek(&self.pods, &self.config.scheduler)?;
        let pod = &self.pods[pid.index()];
        let wl = &self.workloads[pod.workload.index()];
        if pod.pinned.is_some()
            || pod.nominated.is_some()
            || pod.attempts == 0
            || wl.volume_zone(pod.slot).is_some()
        {
            return None;
        }
        if let Some(k) = *known
            && k.workload == pod.workload
            && k.priority == pod.priority
        {
            return Some((pid, k));
        }
        let rejected = self.select.remembered_rejectors(pod.workload.index())?;
        if rejected.is_empty() || self.may_preempt(pid) {
            return None;
        }
        let eligible = self
            .nodes
            .by_pool()
            .iter()
            .zip(&wl.fits_pool)
            .filter(|(_, fits)| **fits)
            .map(|(l, _)| l.len())
            .sum();
        let k = FutileShape {
            workload: pod.workload,
            priority: pod.priority,
            rejected,
            eligible,
        };
        *known = Some(k);
        Some((pid, k))
    }

    /// The attempt [`Cluster::futile_next`] foresaw: what
    /// [`Cluster::attempt`] does for it, without asking again what the
    /// memo answers (`select_node` moves only the start index, taken modulo
    /// the pod's eligible nodes; `try_preempt` returns at once).
    fn futile_attempt<E: From<KubeEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        pid: PodId,
        verdict: FutileShape,
    ) {
        let popped = self.queue.pop(&mut self.pods, &self.config.scheduler);
        debug_assert_eq!(popped, Some(pid));
        self.status.scheduling_attempts += 1;
        self.select.last_score = None;
        if verdict.eligible > 0 {
            self.select.next_start %= verdict.eligible;
        }
        self.note(KubeRecord::Unschedulable(pid));
        let moved = self.queue.push_unschedulable(
            &mut self.pods[pid.index()],
            ctx.now(),
            verdict.rejected,
            &self.config.scheduler,
        );
        debug_assert_eq!(moved.to_backoff, 0);
        self.arm_leftover(ctx);
    }

    /// After a futile attempt of shape `verdict`, the attempts of the
    /// pods of the same shape that follow it in the queue, as many as
    /// would be the very next events one after the other, made as one
    /// step ([`scheduler::SchedulingQueue::fail_run`]): each is what
    /// [`Cluster::futile_attempt`] would make of it at its own time, with
    /// nothing else to do (the leftover flush is armed, the start index
    /// already taken modulo the eligible nodes).
    fn futile_run<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>, verdict: FutileShape) {
        if self.watchers.journaling() {
            return;
        }
        let step = self.config.scheduler.decision_time;
        let first = ctx.now().saturating_add(step);
        let room = ctx.in_place_room(first, step);
        if room == 0 {
            return;
        }
        let run = scheduler::FailRun {
            first,
            step,
            max: usize::try_from(room).unwrap_or(usize::MAX),
            rejected: verdict.rejected,
        };
        let wl = &self.workloads[verdict.workload.index()];
        let n = self
            .queue
            .fail_run(&mut self.pods, &self.config.scheduler, &run, |p| {
                p.workload == verdict.workload
                    && p.priority == verdict.priority
                    && p.pinned.is_none()
                    && p.nominated.is_none()
                    && p.attempts > 0
                    && wl.volume_zone(p.slot).is_none()
            });
        self.status.scheduling_attempts += n as u64;
        ctx.handle_run(first, step, n as u64);
    }

    /// One scheduling cycle: the head of the queue tried, bound or sent
    /// back to the queue.
    fn attempt<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>) {
        let now = ctx.now();
        if let Some(pid) = self.queue.pop(&mut self.pods, &self.config.scheduler) {
            self.status.scheduling_attempts += 1;
            let pod = &self.pods[pid.index()];
            let wl = &self.workloads[pod.workload.index()];
            match scheduler::select_node(
                pod,
                wl,
                self.nodes.all(),
                self.nodes.by_pool(),
                self.nodes.registered(),
                &self.pods,
                &self.config.scheduler,
                &mut self.select,
                self.streams.tie_break(),
            ) {
                Some(node) => self.bind(ctx, pid, node),
                None => {
                    // PostFilter, then back to the queue: the preemptor waits
                    // for its victims to go (an AssignedPodDelete event).
                    self.note(KubeRecord::Unschedulable(pid));
                    if self.pods[pid.index()].attempts == 0 {
                        self.status.first_failures += 1;
                    }
                    let rejected = self.rejectors(pid);
                    self.try_preempt(ctx, pid);
                    let moved = self.queue.push_unschedulable(
                        &mut self.pods[pid.index()],
                        now,
                        rejected,
                        &self.config.scheduler,
                    );
                    if moved.to_backoff > 0 {
                        self.arm_backoff(ctx);
                    }
                    self.arm_leftover(ctx);
                }
            }
        }
    }

    /// The plugins that rejected `pid`, which fits no node now; remembered
    /// per workload while the cluster is unchanged, as the verdict is.
    fn rejectors(&mut self, pid: PodId) -> scheduler::Plugins {
        let pod = &self.pods[pid.index()];
        let wl = &self.workloads[pod.workload.index()];
        let shape = pod.workload.index();
        // Pods whose volumes hold them to a zone differ pod by pod: never
        // remembered.
        let memo = self.config.scheduler.verdict_memo
            && pod.pinned.is_none()
            && pod.nominated.is_none()
            && wl.volume_zone(pod.slot).is_none();
        if memo && let Some(p) = self.select.remembered_rejectors(shape) {
            return p;
        }
        let pinned = pod
            .pinned
            .map(|n| (n, self.nodes[n.index()].spec.pool.index()));
        let base = self.select.snapshot.rejectors(wl, pinned);
        if wl.volume_zone(pod.slot).is_some()
            || self.select.topology().rules(pod.workload).filters()
        {
            let out = self.volume_rejectors(pid, base);
            if memo {
                self.select.remember_rejectors(shape, out);
            }
            return out;
        }
        if memo {
            self.select.remember_rejectors(shape, base);
        }
        base
    }

    fn bind<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>, pid: PodId, node: NodeId) {
        self.set_pod_state(pid, PodState::Starting(node));
        let w = self.pods[pid.index()].workload;
        if self.select.topology().wakes_on_add(w) {
            self.cluster_event(ctx, super::events::Change::AssignedPodAdded(w));
        }
        let startup = self.streams.pod_startup(&self.config.pod_startup);
        let attach = self.bind_volumes(pid, node);
        ctx.schedule_in(attach + startup, KubeEvent::PodStarted(pid));
    }

    /// The kubelet started the pod's containers: it is Running, and Ready
    /// at once unless its workload has a `readiness_delay` (then it is
    /// Ready that much later, [`Cluster::pod_ready`]). A pod bound to a
    /// node whose machine is gone never starts.
    pub(super) fn pod_started<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>, pid: PodId) {
        let PodState::Starting(node) = self.pods[pid.index()].state() else {
            return;
        };
        if self.nodes[node.index()].heartbeat_lost_at.is_some() {
            return;
        }
        self.pods[pid.index()].started_at = Some(ctx.now());
        let w = self.pods[pid.index()].workload;
        match &self.workloads[w.index()].spec.readiness_delay {
            Some(d) => {
                let after = self.streams.readiness(d);
                self.set_pod_state(pid, PodState::Unready(node));
                ctx.schedule_in(after, KubeEvent::PodReady(pid));
            }
            None => self.set_pod_state(pid, PodState::Running(node)),
        }
        if self.workloads[w.index()].spec.job.is_some() {
            self.job_pod_started(ctx, pid);
        }
        // A network plugin running makes its node Ready.
        if matches!(
            self.workloads[w.index()].spec.kind,
            WorkloadKind::DaemonSet {
                network_plugin: true
            }
        ) && self.nodes[node.index()].condition == NodeCondition::NotReady
            && !self.nodes[node.index()].unreachable
        {
            self.set_condition(node, NodeCondition::Ready);
            let n = &mut self.nodes[node.index()];
            n.ready_at = n.ready_at.or(Some(ctx.now()));
            self.note(KubeRecord::NodeReady(node));
            self.node_became_ready(ctx, node);
        }
    }

    /// A started pod's readiness delay is over: it turns Ready, unless it
    /// left its node meanwhile (lost, evicted or deleted).
    pub(super) fn pod_ready(&mut self, pid: PodId) {
        if let PodState::Unready(node) = self.pods[pid.index()].state() {
            self.set_pod_state(pid, PodState::Running(node));
        }
    }

    /// PostFilter (DefaultPreemption) for a pod that fits nowhere.
    fn try_preempt<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>, pid: PodId) {
        if !self.may_preempt(pid) {
            return;
        }
        let pod = &self.pods[pid.index()];
        let wl = &self.workloads[pod.workload.index()];
        // PodEligibleToPreemptOthers: a pod whose nominated node already has
        // a lower-priority pod terminating waits for it.
        if let Some(n) = pod.nominated {
            let waiting = self.nodes[n.index()].pods.iter().any(|&q| {
                let v = &self.pods[q.index()];
                matches!(v.state(), PodState::Terminating(_)) && v.priority < pod.priority
            });
            if waiting {
                return;
            }
        }
        let rules = self.select.topology().rules(pod.workload);
        let plan = rules
            .filters()
            .then(|| Plan::new(rules, wl, self.select.topology().counts()));
        let topology_ok = |n: NodeId| {
            plan.as_ref().is_none_or(|p| {
                p.rejects(self.select.topology().counts(), &self.nodes[n.index()])
                    .is_none()
            })
        };
        let potential: Vec<NodeId> = match pod.pinned {
            Some(n) => vec![n],
            None => self
                .nodes
                .by_pool()
                .iter()
                .enumerate()
                .filter(|(p, _)| wl.fits_pool[*p])
                .flat_map(|(_, l)| l.iter().copied())
                // A volume in another zone is UnschedulableAndUnresolvable.
                .filter(|n| wl.volumes_allow(pod.slot, &self.nodes[n.index()]))
                // Preemption does not simulate the spread and affinity
                // counts without its victims: a node those filters reject
                // now is no candidate (docs/fidelity.md).
                .filter(|&n| topology_ok(n))
                .collect(),
        };
        if potential.is_empty() {
            return;
        }
        let cfg = &self.config.scheduler;
        let wanted = preemption::num_candidates(
            potential.len(),
            cfg.min_candidate_nodes_percentage,
            cfg.min_candidate_nodes_absolute,
        );
        let offset = self.streams.preemption_offset(potential.len());
        let allowed: Vec<Option<i64>> = self
            .workloads
            .iter()
            .map(|w| w.disruptions_allowed())
            .collect();
        let candidates = preemption::find_candidates(
            pod,
            wl,
            self.nodes.all(),
            &potential,
            &self.pods,
            &allowed,
            offset,
            wanted,
        );
        let Some(best) = preemption::pick_one_node(&candidates, &self.pods) else {
            return;
        };
        self.nominate(pid, candidates[best].node);
        for &v in &candidates[best].victims {
            self.note(KubeRecord::Preempted { victim: v, by: pid });
            self.evict_gracefully(ctx, v);
            self.status.preemptions += 1;
        }
    }

    /// Whether `pid` may preempt at all: its policy allows it and some
    /// workload of lower priority has pods (a scan of workloads, not pods:
    /// cheap when, as usual, every pod has the same priority).
    fn may_preempt(&self, pid: PodId) -> bool {
        let pod = &self.pods[pid.index()];
        let wl = &self.workloads[pod.workload.index()];
        wl.spec.preemption_policy != PreemptionPolicy::Never
            && self
                .workloads
                .iter()
                .any(|w| w.spec.priority < pod.priority && w.live > 0)
    }

    /// Deletes a pod gracefully: it stops serving now, its controller
    /// replaces it, and it holds its room until its grace period ends.
    pub(super) fn evict_gracefully<E: From<KubeEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        pid: PodId,
    ) {
        let w = self.pods[pid.index()].workload;
        let (PodState::Running(node) | PodState::Unready(node) | PodState::Starting(node)) =
            self.pods[pid.index()].state()
        else {
            return;
        };
        // It leaves its controller's count (`live`) at once.
        self.set_pod_state(pid, PodState::Terminating(node));
        let grace = self.workloads[w.index()].spec.termination_grace;
        ctx.schedule_in(grace, KubeEvent::PodTerminated(pid));
        // The ReplicaSet does not count terminating pods: it creates a
        // replacement at once.
        let slot = self.pods[pid.index()].slot;
        self.replace_pod(ctx, w, slot);
    }
}

impl Cluster {
    /// One scheduling decision for a new pod of workload `w`, without
    /// creating or binding it: the filters, the scores and the tie-break of
    /// a real cycle, returning the node it would choose. For benchmarks and
    /// what-if questions; like a real cycle it advances the rotating start
    /// index and the tie-break stream, so calling it inside a run changes
    /// that run's history.
    pub fn decide(&mut self, w: WorkloadId) -> Option<NodeId> {
        let spec = &self.workloads[w.index()].spec;
        let pod = Pod::new(
            PodId(u32::MAX),
            w,
            0,
            spec.requests,
            spec.priority,
            None,
            Millis::ZERO,
        );
        scheduler::select_node(
            &pod,
            &self.workloads[w.index()],
            self.nodes.all(),
            self.nodes.by_pool(),
            self.nodes.registered(),
            &self.pods,
            &self.config.scheduler,
            &mut self.select,
            self.streams.tie_break(),
        )
    }
}
