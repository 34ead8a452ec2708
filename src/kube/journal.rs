//! An optional journal of what the cluster did, for `poolsim trace`.
//!
//! The cluster pushes a typed record at each interesting transition, only
//! when a journal was asked for ([`Cluster::enable_journal`]); otherwise
//! each push point is one `Option` test and nothing is allocated. Records
//! carry ids, not names: the renderer (`report::trace`) names them. Keeping
//! a journal reads no random stream and schedules no event, so a traced run
//! has the same history as an untraced one.

use super::{Cluster, NodeId, PodId, WorkloadId};

/// One thing that happened in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KubeRecord {
    /// A controller created a pod (it is Pending).
    PodCreated(PodId),
    /// The scheduler bound a pod to a node.
    Bound {
        /// The pod.
        pod: PodId,
        /// Its node.
        node: NodeId,
        /// The node's score, when the scheduler scored several.
        score: Option<i64>,
    },
    /// A scheduling attempt found no feasible node for the pod.
    Unschedulable(PodId),
    /// A pod's containers started (Running; also Ready unless its workload
    /// has a `readiness_delay`).
    Started(PodId),
    /// A started pod turned Ready after its workload's `readiness_delay`.
    Ready(PodId),
    /// A pod was deleted from the API.
    Deleted {
        /// The pod.
        pod: PodId,
        /// The node it was bound to, if any.
        node: Option<NodeId>,
    },
    /// Scheduler preemption deleted `victim` to make room for `by`.
    Preempted {
        /// The pod deleted.
        victim: PodId,
        /// The preemptor.
        by: PodId,
    },
    /// The taint manager evicted a pod from an unreachable node.
    Evicted(PodId),
    /// A drain evicted a pod (Eviction API).
    DrainEvicted(PodId),
    /// An admission webhook that is down rejected a controller's pod
    /// creation for this workload.
    CreationRejected(WorkloadId),
    /// A node registered.
    NodeJoined(NodeId),
    /// A node's Ready condition turned True.
    NodeReady(NodeId),
    /// A node's machine is gone: its heartbeats stopped.
    NodeLost(NodeId),
    /// The node lifecycle controller marked a silent node NotReady.
    NodeNotReady(NodeId),
    /// The cloud node lifecycle controller deleted a node.
    NodeDeleted(NodeId),
    /// A service fell below its minimum of Running pods.
    ServiceDown(WorkloadId),
    /// A service is back at its minimum.
    ServiceUp(WorkloadId),
}

/// Who watches the cluster from outside: the journal `poolsim trace`
/// reads, and the nodes of pod events Karpenter's pod-events controller
/// reads. Each is kept only once asked for; until then a push is one
/// `Option` test.
#[derive(Debug, Default)]
pub(super) struct Watchers {
    /// What happened, for `poolsim trace`.
    journal: Option<Vec<KubeRecord>>,
    /// Nodes where a pod (not a DaemonSet pod) was bound, began
    /// terminating or ended, since the watcher last took them.
    pod_events: Option<Vec<NodeId>>,
}

impl Watchers {
    /// Records `r` if a journal is kept.
    #[inline]
    pub(super) fn note(&mut self, r: KubeRecord) {
        if let Some(j) = self.journal.as_mut() {
            j.push(r);
        }
    }

    /// Whether a journal is kept.
    #[inline]
    pub(super) fn journaling(&self) -> bool {
        self.journal.is_some()
    }

    /// Whether the nodes of pod events are kept.
    #[inline]
    pub(super) fn pod_events_watched(&self) -> bool {
        self.pod_events.is_some()
    }

    /// Records a pod event on `node` if they are watched.
    pub(super) fn pod_event(&mut self, node: NodeId) {
        if let Some(events) = self.pod_events.as_mut() {
            events.push(node);
        }
    }
}

impl Cluster {
    /// Starts keeping a journal (see [`Cluster::take_journal`]).
    pub fn enable_journal(&mut self) {
        self.watchers.journal.get_or_insert_with(Vec::new);
    }

    /// Starts keeping the nodes of pod events (a pod bound, terminating or
    /// ended there; DaemonSet pods left out), for [`Cluster::take_pod_events`].
    pub fn watch_pod_events(&mut self) {
        self.watchers.pod_events.get_or_insert_with(Vec::new);
    }

    /// Moves the nodes of pod events since the last call into `into`
    /// (which should be empty), in event order; nothing unless watched.
    pub fn take_pod_events(&mut self, into: &mut Vec<NodeId>) {
        if let Some(j) = self.watchers.pod_events.as_mut() {
            std::mem::swap(j, into);
        }
    }

    /// Moves the records kept since the last call into `into` (which
    /// should be empty); nothing when no journal is kept.
    pub fn take_journal(&mut self, into: &mut Vec<KubeRecord>) {
        if let Some(j) = self.watchers.journal.as_mut() {
            std::mem::swap(j, into);
        }
    }

    /// Records `r` if a journal is kept.
    #[inline]
    pub(super) fn note(&mut self, r: KubeRecord) {
        self.watchers.note(r);
    }
}
