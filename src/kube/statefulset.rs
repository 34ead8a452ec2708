//! The StatefulSet controller (`pkg/controller/statefulset/
//! stateful_set_control.go`, `updateStatefulSet` and `processReplica`): pods
//! with stable ordinals (`prometheus-0`, `-1`: the pod's slot), each with
//! its own PersistentVolumeClaims that outlive the pod.
//!
//! A sync walks the ordinals in order. Under `OrderedReady` (the default,
//! "monotonic") it creates the first missing ordinal and stops, and it
//! stops at the first pod that is terminating or not Running and Ready, so
//! `-1` is created only once `-0` runs, and after a loss the lowest ordinal
//! comes back first. Under `Parallel` it creates every missing ordinal at
//! once. A replacement keeps its ordinal's name, so it is created only
//! once the old pod is gone from the API: a pod Terminating on an
//! unreachable node holds its ordinal until PodGC deletes it.
//!
//! The controller learns of a change through its informer
//! (`controller_delay` after it) and sends its create calls through its own
//! API client. Syncs are queued per StatefulSet, at most one pending at a
//! time. Volumes (`volume.rs`) bind on the first pod's node.

use rand_chacha::ChaCha8Rng;

use crate::engine::{Context, Millis};

use super::events::KubeEvent;
use super::replicaset::RateLimiter;
use super::volume::VolumeClaim;
use super::{Cluster, PodId, PodState, WorkloadId};

/// `spec.podManagementPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodManagementPolicy {
    /// One ordinal at a time, each after its predecessors are Running and
    /// Ready (the default).
    OrderedReady,
    /// Every ordinal at once.
    Parallel,
}

impl PodManagementPolicy {
    /// The name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            PodManagementPolicy::OrderedReady => "OrderedReady",
            PodManagementPolicy::Parallel => "Parallel",
        }
    }
}

/// A StatefulSet's configuration beyond `replicas`.
#[derive(Debug, Clone, PartialEq)]
pub struct StatefulSetSpec {
    /// `podManagementPolicy`.
    pub policy: PodManagementPolicy,
    /// `volumeClaimTemplates`: one claim of each per ordinal.
    pub volume_claims: Vec<VolumeClaim>,
}

/// Who holds an ordinal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ordinal {
    /// No pod, and none being created.
    Empty,
    /// A create call is on its way.
    Creating,
    /// This pod (not yet deleted from the API).
    Pod(PodId),
}

/// A StatefulSet's run-time state.
#[derive(Debug, Clone)]
pub struct StatefulState {
    /// Per ordinal, who holds it.
    pub ordinals: Vec<Ordinal>,
    /// Per ordinal, the zone its volumes were provisioned in, once its
    /// first pod was bound (the PersistentVolumes' node affinity).
    pub volume_zone: Vec<Option<u16>>,
    /// When the pending sync runs, if one is queued.
    sync_at: Option<Millis>,
}

impl StatefulState {
    /// A StatefulSet with `replicas` ordinals, none created.
    pub fn new(replicas: u32) -> StatefulState {
        let n = replicas as usize;
        StatefulState {
            ordinals: vec![Ordinal::Empty; n],
            volume_zone: vec![None; n],
            sync_at: None,
        }
    }
}

/// The StatefulSet controller's API client and the StatefulSets whose pods
/// changed during the current event.
#[derive(Debug, Clone)]
pub(crate) struct StatefulSetController {
    client: RateLimiter,
    /// StatefulSets whose pods changed during the current event.
    dirty: Vec<WorkloadId>,
    /// Volume attach times (`Stream::VolumeAttach`).
    attach_rng: ChaCha8Rng,
}

impl StatefulSetController {
    /// A controller whose create calls go through `client`, drawing
    /// volume attach times from `attach_rng`.
    pub fn new(client: RateLimiter, attach_rng: ChaCha8Rng) -> StatefulSetController {
        StatefulSetController {
            client,
            dirty: Vec::new(),
            attach_rng,
        }
    }

    /// The generator of volume attach times.
    pub fn attach_rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.attach_rng
    }

    /// Whether no StatefulSet's pods changed during the current event.
    pub fn is_clean(&self) -> bool {
        self.dirty.is_empty()
    }

    /// Marks StatefulSet `w` as changed during the current event.
    fn mark(&mut self, w: WorkloadId) {
        self.dirty.push(w);
    }
}

impl Cluster {
    /// Creates the pods a StatefulSet's first sync creates, at once (as
    /// [`Cluster::create_initial_pods`] does for Deployments): ordinal 0
    /// under `OrderedReady`, every ordinal under `Parallel`.
    pub(super) fn create_initial_stateful<E: From<KubeEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        w: WorkloadId,
    ) {
        for ord in self.ordinals_to_create(w) {
            self.create_pod(ctx, w, ord);
        }
    }

    /// Records that pod `id` now holds ordinal `slot` of `w`, if `w` is a
    /// StatefulSet.
    pub(super) fn stateful_pod_created(&mut self, w: WorkloadId, slot: u32, id: PodId) {
        if let Some(st) = self.workloads[w.index()].stateful.as_mut()
            && let Some(o) = st.ordinals.get_mut(slot as usize)
        {
            *o = Ordinal::Pod(id);
        }
    }

    /// A pod of `w` changed in a way its StatefulSet's sync cares about
    /// (deleted, Ready): queue a sync at the end of the event.
    pub(super) fn stateful_changed(&mut self, w: WorkloadId) {
        if self.workloads[w.index()].stateful.is_some() {
            self.controllers.statefulsets.mark(w);
        }
    }

    /// Pod `pid` is gone from the API: its ordinal is free again.
    pub(super) fn stateful_pod_deleted(&mut self, pid: PodId) {
        let pod = &self.pods[pid.index()];
        let (w, slot) = (pod.workload, pod.slot as usize);
        if let Some(st) = self.workloads[w.index()].stateful.as_mut() {
            if st.ordinals.get(slot) == Some(&Ordinal::Pod(pid)) {
                st.ordinals[slot] = Ordinal::Empty;
            }
            self.controllers.statefulsets.mark(w);
        }
    }

    /// Queues one sync of each StatefulSet whose pods changed, when its
    /// informer has seen the change.
    pub(super) fn flush_statefulsets<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>) {
        let at = ctx.now() + self.config.controller_delay;
        while let Some(w) = self.controllers.statefulsets.dirty.pop() {
            let Some(st) = self.workloads[w.index()].stateful.as_mut() else {
                continue;
            };
            if st.sync_at.is_none() {
                st.sync_at = Some(at);
                ctx.schedule_at(at, KubeEvent::StatefulSetSync(w));
            }
        }
    }

    /// One sync of StatefulSet `w`: a create call for each ordinal
    /// [`Cluster::ordinals_to_create`] names, paced by the controller's
    /// client.
    pub(super) fn statefulset_sync<E: From<KubeEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        w: WorkloadId,
    ) {
        if let Some(st) = self.workloads[w.index()].stateful.as_mut() {
            st.sync_at = None;
        }
        for ord in self.ordinals_to_create(w) {
            if let Some(st) = self.workloads[w.index()].stateful.as_mut() {
                st.ordinals[ord as usize] = Ordinal::Creating;
            }
            let at = self.controllers.statefulsets.client.reserve(ctx.now());
            ctx.schedule_at(at, KubeEvent::CreatePod(w, ord));
        }
    }

    /// The ordinals a sync of `w` creates now (`processReplica` over
    /// `runForAll`): under `OrderedReady`, the first empty ordinal if every
    /// ordinal before it is Running and Ready, and nothing while one is
    /// being created, terminating or not ready; under `Parallel`, every
    /// empty ordinal.
    fn ordinals_to_create(&self, w: WorkloadId) -> Vec<u32> {
        let wl = &self.workloads[w.index()];
        let (Some(st), Some(spec)) = (&wl.stateful, &wl.spec.statefulset) else {
            return Vec::new();
        };
        let monotonic = spec.policy == PodManagementPolicy::OrderedReady;
        let mut out = Vec::new();
        for (ord, o) in st.ordinals.iter().enumerate() {
            let ready = match *o {
                Ordinal::Empty => {
                    out.push(ord as u32);
                    false
                }
                Ordinal::Creating => false,
                Ordinal::Pod(p) => self.running_and_ready(p),
            };
            if monotonic && !ready {
                break;
            }
        }
        out
    }

    /// `isRunningAndReady`: the pod runs on a live node and is Ready (its
    /// workload's `readiness_delay` is over).
    fn running_and_ready(&self, pid: PodId) -> bool {
        matches!(self.pods[pid.index()].state(), PodState::Running(_))
    }
}
