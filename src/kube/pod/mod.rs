//! Pods: what they ask for and where they are in their life.
//!
//! A pod's state is private to this module: it changes only through
//! `Cluster::set_pod_state` (`transition.rs`), which keeps the per-workload
//! and cluster counters (`counters.rs`), the node's room and the journal in
//! step with it.

mod counters;
mod transition;

use crate::engine::Millis;
use crate::quantity::Resources;

use super::scheduler::Plugins;
use super::{NodeId, WorkloadId};

/// Index of a pod within a run. Pods are never reused: a recreated pod is a
/// new pod with a new id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PodId(pub u32);

impl PodId {
    /// Position in the run's pod table.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Which side of the story a pod is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PodClass {
    /// Cluster services other pods depend on (DNS, ingress, metrics...).
    System,
    /// Workloads.
    User,
}

impl PodClass {
    /// The name used in files and CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            PodClass::System => "system",
            PodClass::User => "user",
        }
    }
}

/// Kubernetes pod phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodPhase {
    /// Not yet running: unscheduled, or bound and starting.
    Pending,
    /// Bound and its containers started.
    Running,
    /// Finished successfully.
    Succeeded,
    /// Finished in failure.
    Failed,
}

/// Where a pod is; exactly one at any time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodState {
    /// Waiting for the scheduler.
    Pending,
    /// Bound to a node, containers starting.
    Starting(NodeId),
    /// Running on a live node, its containers started but not yet Ready
    /// (its workload's `readiness_delay` is not over): phase Running, but
    /// it serves nothing and counts toward no service.
    Unready(NodeId),
    /// Running and Ready on a live node: it serves.
    Running(NodeId),
    /// Deleted gracefully (e.g. preempted): no longer serving, but still
    /// holding its room on the node until its grace period ends.
    Terminating(NodeId),
    /// Bound to a node whose instance is gone: the API still shows it, but it
    /// serves nothing. Pod garbage collection will delete it.
    Lost(NodeId),
    /// A Job pod that finished its work (phase Succeeded); holds nothing.
    Succeeded,
    /// A Job pod that failed (phase Failed); holds nothing.
    Failed,
    /// Deleted from the API.
    Deleted,
}

impl PodState {
    /// The node the pod is bound to, if any.
    pub fn node(self) -> Option<NodeId> {
        match self {
            PodState::Starting(n)
            | PodState::Unready(n)
            | PodState::Running(n)
            | PodState::Terminating(n)
            | PodState::Lost(n) => Some(n),
            PodState::Pending | PodState::Succeeded | PodState::Failed | PodState::Deleted => None,
        }
    }

    /// The phase `kubectl` would show (`None` once deleted).
    pub fn phase(self) -> Option<PodPhase> {
        match self {
            PodState::Pending | PodState::Starting(_) => Some(PodPhase::Pending),
            PodState::Unready(_)
            | PodState::Running(_)
            | PodState::Terminating(_)
            | PodState::Lost(_) => Some(PodPhase::Running),
            PodState::Succeeded => Some(PodPhase::Succeeded),
            PodState::Failed => Some(PodPhase::Failed),
            PodState::Deleted => None,
        }
    }
}

/// Where a pending pod sits in the scheduling queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueSlot {
    /// Not queued (bound, or deleted).
    None,
    /// In activeQ, ready to be tried.
    Active,
    /// In backoffQ, waiting for its backoff to expire.
    Backoff,
    /// In unschedulablePods, waiting for a cluster event.
    Unschedulable,
}

/// One pod.
#[derive(Debug, Clone)]
pub struct Pod {
    /// Its id.
    pub id: PodId,
    /// The workload that owns it.
    pub workload: WorkloadId,
    /// The replica slot it fills in its workload (kept by replacements, so
    /// replacements can be ordered the same way under every policy).
    pub slot: u32,
    /// Resource requests.
    pub requests: Resources,
    /// Priority (0 when no PriorityClass applies).
    pub priority: i32,
    /// Lifecycle state: read it with [`Pod::state`]; only
    /// `Cluster::set_pod_state` writes it.
    state: PodState,
    /// When it was created.
    pub created_at: Millis,
    /// Queue timestamp: creation, refreshed on each failed attempt
    /// (kube-scheduler `AddUnschedulableIfNotPresent`).
    pub queue_ts: Millis,
    /// Failed scheduling attempts, for backoff.
    pub attempts: u32,
    /// Where it is queued.
    pub queue: QueueSlot,
    /// Bumped whenever the pod leaves a queue, so stale heap entries are
    /// recognised and skipped.
    pub queue_gen: u32,
    /// When it entered unschedulablePods.
    pub unschedulable_since: Millis,
    /// The filter plugins that rejected it in its last failed attempt
    /// (`UnschedulablePlugins`): which events may requeue it.
    pub rejected_by: Plugins,
    /// `status.nominatedNodeName`, set by preemption.
    pub nominated: Option<NodeId>,
    /// The node a DaemonSet pod is pinned to (its node affinity on
    /// `metadata.name`).
    pub pinned: Option<NodeId>,
    /// When its containers started (Running, whether Ready or not).
    pub started_at: Option<Millis>,
    /// For a Job pod: the progress-clock reading at which its work is done.
    pub work_due: Option<Millis>,
}

impl Pod {
    /// A new Pending pod of workload `w` in replica slot `slot`, created at
    /// `now`, not yet queued.
    pub fn new(
        id: PodId,
        workload: WorkloadId,
        slot: u32,
        requests: Resources,
        priority: i32,
        pinned: Option<NodeId>,
        now: Millis,
    ) -> Pod {
        Pod {
            id,
            workload,
            slot,
            requests,
            priority,
            state: PodState::Pending,
            created_at: now,
            queue_ts: now,
            attempts: 0,
            queue: QueueSlot::None,
            queue_gen: 0,
            unschedulable_since: now,
            rejected_by: Plugins::NONE,
            nominated: None,
            pinned,
            started_at: None,
            work_due: None,
        }
    }

    /// Where the pod is in its life.
    pub fn state(&self) -> PodState {
        self.state
    }
}
