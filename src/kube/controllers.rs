//! Pod garbage collection (deletes pods bound to deleted Nodes,
//! `pkg/controller/podgc/gc_controller.go`) and the owners' replacement of
//! what went away: a ReplicaSet through its controller's work queue
//! (`replicaset.rs`), a Job or a DaemonSet pod through its controller's own
//! API client. The node lifecycle controllers that delete Nodes and evict
//! pods are in `node_lifecycle.rs`.

use rand_chacha::ChaCha8Rng;

use crate::engine::{Context, Millis};

use super::config::KubeConfig;
use super::events::{Change, KubeEvent, Loop};
use super::replicaset::{RateLimiter, ReplicaSetController};
use super::statefulset::StatefulSetController;
use super::{Cluster, PodState, WorkloadId, WorkloadKind};

/// The controllers' own state: the ReplicaSet and StatefulSet controllers
/// (each keeps its queue and API client private to its file), the Job and
/// DaemonSet controllers' API clients, and the Job workloads whose
/// progress changed during the current event.
#[derive(Debug, Clone)]
pub(super) struct Controllers {
    /// The ReplicaSet controller's work queue, workers and API client.
    pub(super) replicasets: ReplicaSetController,
    /// The StatefulSet controller: its API client and pending syncs.
    pub(super) statefulsets: StatefulSetController,
    /// The Job controller's API client.
    job_client: RateLimiter,
    /// The DaemonSet controller's API client.
    daemonset_client: RateLimiter,
    /// Job workloads whose progress (needed services) changed during the
    /// current event; their progress clocks are updated at its end.
    job_dirty: Vec<WorkloadId>,
}

impl Controllers {
    /// Idle controllers for `workloads` workloads; the StatefulSet
    /// controller draws volume attach times from `attach_rng`.
    pub(super) fn new(config: &KubeConfig, workloads: usize, attach_rng: ChaCha8Rng) -> Self {
        // Each controller builds its own API client, so its own bucket.
        let client = RateLimiter::new(config.pod_create_interval, config.pod_create_burst);
        Controllers {
            replicasets: ReplicaSetController::new(
                workloads,
                config.concurrent_replicaset_syncs,
                config.replicaset_burst,
                client.clone(),
            ),
            statefulsets: StatefulSetController::new(client.clone(), attach_rng),
            job_client: client.clone(),
            daemonset_client: client,
            job_dirty: Vec::new(),
        }
    }

    /// When a create call the Job controller makes at `now` goes, paced by
    /// its API client.
    pub(super) fn job_create_at(&mut self, now: Millis) -> Millis {
        self.job_client.reserve(now)
    }

    /// When a create call the DaemonSet controller makes at `now` goes,
    /// paced by its API client.
    pub(super) fn daemonset_create_at(&mut self, now: Millis) -> Millis {
        self.daemonset_client.reserve(now)
    }

    /// Marks Job workload `w`'s progress as changed in this event.
    pub(super) fn job_progress_changed(&mut self, w: WorkloadId) {
        self.job_dirty.push(w);
    }

    /// The next Job workload whose progress changed in this event, taken.
    pub(super) fn next_dirty_job(&mut self) -> Option<WorkloadId> {
        self.job_dirty.pop()
    }

    /// Whether no Job workload's progress changed in this event.
    pub(super) fn jobs_clean(&self) -> bool {
        self.job_dirty.is_empty()
    }

    /// Whether no StatefulSet waits for a sync to be queued in this event.
    pub(super) fn statefulsets_clean(&self) -> bool {
        self.statefulsets.is_clean()
    }
}

impl Cluster {
    /// The owner of a pod that went away (deleted, evicted, preempted)
    /// replaces it once its informer has seen that (`controller_delay`): a
    /// ReplicaSet through its work queue and workers; a Job, or a
    /// DaemonSet for a node that still exists, with one create call through
    /// its controller's API client.
    pub(super) fn replace_pod<E: From<KubeEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        w: WorkloadId,
        slot: u32,
    ) {
        let seen = ctx.now() + self.config.controller_delay;
        let at = match self.workloads[w.index()].spec.kind {
            WorkloadKind::Deployment => return self.replica_gone(ctx, w, slot),
            // The ordinal is free only once the old pod is deleted.
            WorkloadKind::StatefulSet => return self.stateful_changed(w),
            WorkloadKind::Job => self.controllers.job_create_at(seen),
            WorkloadKind::DaemonSet { .. } => self.controllers.daemonset_create_at(seen),
        };
        ctx.schedule_at(at, KubeEvent::CreatePod(w, slot));
    }

    pub(super) fn arm_gc<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>) {
        if self.nodes.has_orphans() && self.armed.arm(Loop::Gc) {
            let at = Millis(ctx.now().0 + 1).next_multiple_of(self.config.pod_gc_period);
            ctx.schedule_at(at, KubeEvent::PodGc);
        }
    }

    /// PodGC: deletes the pods of nodes deleted at least the quarantine ago,
    /// then the Deployment controller recreates them in a shuffled order.
    pub(super) fn pod_gc<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>) {
        self.armed.fired(Loop::Gc);
        let now = ctx.now();
        let quarantine = self.config.pod_gc_quarantine;
        let mut recreate = Vec::new();
        let mut deleted_any = false;
        let mut subjects = Vec::new();
        for node in self.nodes.take_orphans() {
            let deleted_at = self.nodes[node.index()].deleted_at.unwrap_or(now);
            if now.saturating_sub(deleted_at) < quarantine {
                self.nodes.still_orphaned(node);
                continue;
            }
            let pods = self.nodes[node.index()].pods.clone();
            for pid in pods {
                let pod = &self.pods[pid.index()];
                // A DaemonSet has nothing to recreate for a deleted node, and
                // a terminating pod was already replaced.
                if !matches!(
                    self.workloads[pod.workload.index()].spec.kind,
                    WorkloadKind::DaemonSet { .. }
                ) && !matches!(pod.state(), PodState::Terminating(_))
                {
                    recreate.push((pod.workload, pod.slot));
                }
                let w = self.pods[pid.index()].workload;
                subjects.extend(self.deletion_subject(w));
                self.delete_pod(pid);
                deleted_any = true;
            }
        }
        // PodGC deletes in its lister's order, which is no order: a shuffle.
        // Sort first so that every policy shuffles the same list: the order
        // then depends on the seed only (common random numbers). Each
        // deletion reaches its owner's informer in that order.
        recreate.sort_unstable();
        self.streams.shuffle_deletions(&mut recreate);
        for (w, slot) in recreate {
            self.replace_pod(ctx, w, slot);
        }
        // Deleting assigned pods is a cluster event (AssignedPodDelete),
        // one per deleted pod that placement rules select.
        if deleted_any {
            self.cluster_event(ctx, Change::AssignedPodDeleted(None));
        }
        subjects.sort_unstable();
        subjects.dedup();
        for w in subjects {
            self.cluster_event(ctx, Change::AssignedPodDeleted(Some(w)));
        }
        self.arm_gc(ctx);
    }
}
