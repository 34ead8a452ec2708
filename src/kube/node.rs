//! Nodes: allocatable capacity, what is requested of it, and readiness.

use std::collections::BTreeMap;

use crate::engine::Millis;
use crate::quantity::Resources;

use super::{PodId, Taint};

/// What every node of a pool carries: the ASG's labels and taints.
#[derive(Debug, Clone, Default)]
pub struct PoolInfo {
    /// Node labels.
    pub labels: BTreeMap<String, String>,
    /// Node taints.
    pub taints: Vec<Taint>,
}

/// Index of a node within a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u32);

impl NodeId {
    /// Position in the run's node table.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Index of the node pool (one per ASG) a node belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PoolId(pub u16);

impl PoolId {
    /// Position in the run's pool table.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// The node's Ready condition, as the node lifecycle controller sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeCondition {
    /// Heartbeats arrive and the network is up.
    Ready,
    /// Registered but not Ready: its network plugin pod is not running yet
    /// (tainted `not-ready:NoSchedule`), or no heartbeat for the grace
    /// period (Ready=Unknown, tainted `unreachable`).
    NotReady,
    /// Deleted from the API.
    Deleted,
}

/// What the cloud tells Kubernetes about a node that joins.
#[derive(Debug, Clone, Copy)]
pub struct NodeSpec {
    /// The pool (ASG) it belongs to; its labels come from there.
    pub pool: PoolId,
    /// Opaque id of the machine behind it.
    pub provider_id: u64,
    /// Capacity left for pods.
    pub allocatable: Resources,
    /// Maximum pods.
    pub max_pods: u32,
    /// Its availability zone, as an index the world assigns (the node
    /// lifecycle controller rate-limits evictions per zone).
    pub zone: u16,
}

/// One node.
#[derive(Debug, Clone)]
pub struct Node {
    /// Its id.
    pub id: NodeId,
    /// What the cloud said when it joined.
    pub spec: NodeSpec,
    /// Sum of the requests of the pods bound here.
    pub requested: Resources,
    /// The same sum with the scheduler's non-zero defaults (100m, 200 MB)
    /// substituted for zero requests; used for scoring only.
    pub requested_for_scoring: Resources,
    /// Pods bound here (any state but Deleted).
    pub pods: Vec<PodId>,
    /// Ready condition.
    pub condition: NodeCondition,
    /// Tainted `node.kubernetes.io/unreachable` (heartbeat lost for the
    /// grace period).
    pub unreachable: bool,
    /// Since when it carries the `unreachable:NoExecute` taint.
    pub no_execute_since: Option<Millis>,
    /// Cordoned: `spec.unschedulable`, tainted
    /// `node.kubernetes.io/unschedulable:NoSchedule`.
    pub unschedulable: bool,
    /// DaemonSet pods pinned to this node (any state), so the DaemonSet
    /// controller can delete the unbound ones when the node goes.
    pub daemon_pods: Vec<PodId>,
    /// Pending pods nominated to this node by preemption; the scheduler
    /// counts their requests as taken for pods of lower or equal priority.
    pub nominated: Vec<PodId>,
    /// When it registered and became Ready.
    pub joined_at: Millis,
    /// When it first became Ready (at once, or when its network plugin
    /// started); `None` while it never was.
    pub ready_at: Option<Millis>,
    /// When its machine stopped answering, if it did: its kubelet's
    /// heartbeats stop.
    pub heartbeat_lost_at: Option<Millis>,
    /// The kubelet's last Lease renewal before its machine stopped (up to
    /// `node_lease_renew_interval` earlier): the node lifecycle
    /// controller's grace period runs from the first pass that saw it.
    pub lease_renewed_at: Option<Millis>,
    /// When it became NotReady after losing its heartbeat.
    pub not_ready_since: Option<Millis>,
    /// When the cloud reported its instance `terminated` (no longer
    /// existing); until then the cloud node lifecycle controller keeps it.
    pub instance_gone_at: Option<Millis>,
    /// When it was deleted.
    pub deleted_at: Option<Millis>,
    /// Its position in its pool's list of registered nodes.
    pub(super) pool_slot: Option<usize>,
}

impl Node {
    /// Capacity not yet requested.
    pub fn free(&self) -> Resources {
        self.spec.allocatable - self.requested
    }

    /// Whether its Ready condition is True.
    pub fn is_ready(&self) -> bool {
        self.condition == NodeCondition::Ready
    }

    /// Whether it is registered and not deleted.
    pub fn is_registered(&self) -> bool {
        self.condition != NodeCondition::Deleted
    }
}
