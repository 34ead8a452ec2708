//! The scheduler's compact copy of what its filters and resource scores
//! read of each node, half a cache line per node, indexed by [`NodeId`].
//!
//! kube-scheduler works from a snapshot of its node cache that is updated
//! incrementally between cycles (`pkg/scheduler/backend/cache/snapshot.go`);
//! this is poolsim's version of that. A [`Node`] is a few hundred bytes
//! spread over several allocations; a decision on 5,000 nodes that touched
//! each of them spent most of its time waiting for memory. Here the free
//! room (GPUs included), the free pod slots and the run-time taints sit in
//! one 32-byte row
//! with the node's last few resource scores, so a decision walks contiguous
//! memory.
//!
//! Every change to a node's requests, pods, condition, taints, cordon or
//! nominations must be followed by [`Snapshot::refresh`]; the invariant
//! tests compare every row with its node after every event.
//!
//! The snapshot also counts, per pool, the registered nodes in each
//! combination of run-time states, so the plugins that rejected a pod that
//! fits nowhere are known without visiting a node
//! ([`Snapshot::rejectors`]).

use crate::kube::{Node, NodeCondition, NodeId, Workload, WorkloadId};
use crate::quantity::MAX_GPU;

use super::hints::Plugins;
use super::score::NodeScore;

// The rows hold free GPUs in a byte.
const _: () = assert!(MAX_GPU <= u8::MAX as u32);

/// Run-time states that stop a node from taking a pod, as bits of
/// [`NodeFit::blocked`].
mod bit {
    /// Deleted from the API.
    pub const DELETED: u8 = 1;
    /// Cordoned (`unschedulable:NoSchedule`).
    pub const UNSCHEDULABLE: u8 = 1 << 1;
    /// Tainted `unreachable`.
    pub const UNREACHABLE: u8 = 1 << 2;
    /// Tainted `not-ready` (NotReady but not unreachable).
    pub const NOT_READY: u8 = 1 << 3;
    /// Its requests exceed its allocatable: nothing more fits.
    pub const OVERCOMMITTED: u8 = 1 << 4;
    /// The states other than DELETED, shifted down by one: a pattern
    /// index of [`super::Snapshot`]'s per-pool counts.
    pub const PATTERNS: usize = 16;
}

/// The pattern index of a registered row's states.
fn pattern(blocked: u8) -> usize {
    usize::from(blocked >> 1) & (bit::PATTERNS - 1)
}

/// Resource scores remembered per node.
const MEMO_WAYS: usize = 3;

/// A remembered resource score: of the pods of `workload` (all pods of a
/// workload request the same) on the node as it is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ScoreMemo {
    workload: u16,
    score: i16,
}

/// No workload: `u16::MAX` is never remembered.
const EMPTY: ScoreMemo = ScoreMemo {
    workload: u16::MAX,
    score: 0,
};

/// What the filters and the resource score read of one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C, align(32))]
pub(crate) struct NodeFit {
    /// Allocatable cpu minus requested, in millicores.
    free_cpu: u64,
    /// Allocatable memory minus requested, in bytes.
    free_memory: u64,
    /// Pods it may still take (`max_pods` minus bound pods), at most
    /// `u8::MAX` (only whether it is 0 matters).
    free_slots: u8,
    /// Allocatable GPUs minus requested: exact, since no quantity holds
    /// more than [`MAX_GPU`] = `u8::MAX` GPUs.
    free_gpu: u8,
    /// Which of the [`bit`] states hold.
    blocked: u8,
    /// Pods are nominated here: the filter must count their requests, so
    /// the decision reads the full [`Node`].
    has_nominated: bool,
    /// Newest first; emptied whenever the row changes.
    memo: [ScoreMemo; MEMO_WAYS],
}

impl NodeFit {
    const UNUSED: NodeFit = NodeFit {
        free_cpu: 0,
        free_memory: 0,
        free_slots: 0,
        free_gpu: 0,
        blocked: bit::DELETED,
        has_nominated: false,
        memo: [EMPTY; MEMO_WAYS],
    };

    fn of(node: &Node) -> NodeFit {
        let alloc = node.spec.allocatable;
        let free_cpu = alloc.cpu.0.checked_sub(node.requested.cpu.0);
        let free_memory = alloc.memory.0.checked_sub(node.requested.memory.0);
        let free_gpu = alloc.gpu.checked_sub(node.requested.gpu);
        let mut blocked = 0;
        if node.condition == NodeCondition::Deleted {
            blocked |= bit::DELETED;
        }
        if node.unschedulable {
            blocked |= bit::UNSCHEDULABLE;
        }
        if node.unreachable {
            blocked |= bit::UNREACHABLE;
        }
        if node.condition == NodeCondition::NotReady && !node.unreachable {
            blocked |= bit::NOT_READY;
        }
        if free_cpu.is_none() || free_memory.is_none() || free_gpu.is_none() {
            blocked |= bit::OVERCOMMITTED;
        }
        NodeFit {
            free_cpu: free_cpu.unwrap_or(0),
            free_memory: free_memory.unwrap_or(0),
            free_slots: node
                .spec
                .max_pods
                .saturating_sub(node.pods.len() as u32)
                .min(u32::from(u8::MAX)) as u8,
            // At most the allocatable, itself at most `MAX_GPU`.
            free_gpu: free_gpu.unwrap_or(0).min(MAX_GPU) as u8,
            blocked,
            has_nominated: !node.nominated.is_empty(),
            memo: [EMPTY; MEMO_WAYS],
        }
    }

    /// Whether pods are nominated to this node.
    pub fn has_nominated(&self) -> bool {
        self.has_nominated
    }

    /// The filters for a pod of `filter`'s workload on a node of one of its
    /// pools with no nominated pods: no untolerated run-time taint, and
    /// room (cpu, memory, GPUs) and a slot (NodeResourcesFit). Equal to
    /// [`super::filter::feasible`] there.
    #[inline]
    pub fn admits(&self, filter: &PodFilter) -> bool {
        // `&`, not `&&`: five compares and one branch instead of five.
        (self.blocked & !filter.tolerated == 0)
            & (self.free_slots > 0)
            & (filter.cpu <= self.free_cpu)
            & (filter.memory <= self.free_memory)
            & (filter.gpu <= self.free_gpu)
    }

    /// The remembered resource score of `workload`'s pods here, if any.
    #[inline]
    pub fn remembered(&self, workload: WorkloadId) -> Option<NodeScore> {
        let key = workload.0;
        self.memo
            .iter()
            .find(|m| m.workload == key)
            .filter(|_| key != u16::MAX)
            .map(|m| NodeScore::from(m.score))
    }

    /// Remembers the resource score of `workload`'s pods here, until the
    /// row is next refreshed. The score is a pure function of the pod's
    /// requests (the same for every pod of a workload) and the node's
    /// requested sums (fixed until then), so a remembered score is exact.
    /// Between two decisions only the node that got the pod changes and
    /// most pods come from a few workloads, so most nodes a decision scores
    /// hit.
    pub fn remember(&mut self, workload: WorkloadId, score: NodeScore) {
        let workload = workload.0;
        // Scores are at most a few hundred; one that does not fit is simply
        // not remembered.
        if let Ok(score) = i16::try_from(score) {
            self.memo.copy_within(0..MEMO_WAYS - 1, 1);
            self.memo[0] = ScoreMemo { workload, score };
        }
    }
}

/// A pod's side of [`NodeFit::admits`], computed once per decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PodFilter {
    workload: WorkloadId,
    cpu: u64,
    memory: u64,
    /// GPUs (at most [`MAX_GPU`]).
    gpu: u8,
    /// The [`bit`] states its tolerations let it ignore.
    tolerated: u8,
}

impl PodFilter {
    /// The filter of one pod of `wl`, the workload `id`.
    pub fn of(id: WorkloadId, wl: &Workload) -> PodFilter {
        let d = wl.dynamic;
        let mut tolerated = 0;
        if d.unschedulable {
            tolerated |= bit::UNSCHEDULABLE;
        }
        if d.unreachable {
            tolerated |= bit::UNREACHABLE;
        }
        if d.not_ready {
            tolerated |= bit::NOT_READY;
        }
        PodFilter {
            workload: id,
            cpu: wl.spec.requests.cpu.0,
            memory: wl.spec.requests.memory.0,
            // Validated at most `MAX_GPU`; a larger count (never) fits
            // nowhere.
            gpu: u8::try_from(wl.spec.requests.gpu).unwrap_or(u8::MAX),
            tolerated,
        }
    }
}

impl PodFilter {
    /// The pod's workload.
    pub fn workload(&self) -> WorkloadId {
        self.workload
    }
}

/// Registered nodes of one pool per pattern of run-time states.
type PatternCounts = [u32; bit::PATTERNS];

/// One [`NodeFit`] per node the cluster ever had.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    rows: Vec<NodeFit>,
    /// Per pool: registered nodes per pattern of run-time states.
    patterns: Vec<PatternCounts>,
    /// Bumped by every change to what the filters read (a row refreshed,
    /// a node leaving its pool's list): two decisions at one generation
    /// see the same cluster.
    generation: u64,
    /// Rows with nominated pods.
    nominated_rows: usize,
}

impl Snapshot {
    /// Copies `node`'s state into its row and forgets the row's scores.
    pub fn refresh(&mut self, node: &Node) {
        self.generation += 1;
        let i = node.id.index();
        if self.rows.len() <= i {
            self.rows.resize(i + 1, NodeFit::UNUSED);
        }
        let pool = node.spec.pool.index();
        if self.patterns.len() <= pool {
            self.patterns.resize(pool + 1, [0; bit::PATTERNS]);
        }
        let old = self.rows[i].blocked;
        let new = NodeFit::of(node);
        let counts = &mut self.patterns[pool];
        if old & bit::DELETED == 0 {
            counts[pattern(old)] -= 1;
        }
        if new.blocked & bit::DELETED == 0 {
            counts[pattern(new.blocked)] += 1;
        }
        self.nominated_rows -= usize::from(self.rows[i].has_nominated);
        self.nominated_rows += usize::from(new.has_nominated);
        self.rows[i] = new;
    }

    /// The filter plugins that reject a pod of `wl` that fits no node
    /// (`pinned`: a DaemonSet pod tried on its node only): per registered
    /// node, the first plugin in the default profile's order that fails,
    /// NodeUnschedulable, TaintToleration, NodeAffinity, then
    /// NodeResourcesFit for the nodes the others let through. Reads the
    /// per-pool counts, never the nodes.
    pub fn rejectors(&self, wl: &Workload, pinned: Option<(NodeId, usize)>) -> Plugins {
        let filter = PodFilter::of(WorkloadId(0), wl);
        let mut out = Plugins::NONE;
        let mut add = |pool: usize, blocked: u8| {
            let v = wl.pool_verdict[pool];
            let untolerated = blocked & !filter.tolerated;
            out = out.with(if untolerated & bit::UNSCHEDULABLE != 0 {
                Plugins::NODE_UNSCHEDULABLE
            } else if v.untolerated_no_schedule
                || v.untolerated_no_execute
                || untolerated & (bit::UNREACHABLE | bit::NOT_READY) != 0
            {
                Plugins::TAINT_TOLERATION
            } else if !v.labels_match {
                Plugins::NODE_AFFINITY
            } else {
                Plugins::NODE_RESOURCES_FIT
            });
        };
        if let Some((node, pool)) = pinned {
            match self.rows.get(node.index()) {
                Some(r) if r.blocked & bit::DELETED == 0 => add(pool, r.blocked),
                _ => {}
            }
            return out;
        }
        for (pool, counts) in self.patterns.iter().enumerate() {
            for (p, &n) in counts.iter().enumerate() {
                if n > 0 {
                    // `p` as a pattern index fits in the low bits.
                    add(pool, (p as u8) << 1);
                }
            }
        }
        out
    }

    /// Marks a change the rows do not show (a node taken out of its pool's
    /// list).
    pub fn touch(&mut self) {
        self.generation += 1;
    }

    /// The current generation (see [`Snapshot::touch`]).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Whether some node has nominated pods (whose filter then depends
    /// on the pod that asks).
    pub fn any_nominated(&self) -> bool {
        self.nominated_rows > 0
    }

    /// Every row, indexed by [`NodeId::index`].
    pub fn rows(&self) -> &[NodeFit] {
        &self.rows
    }

    /// Every row, indexed by [`NodeId::index`].
    pub fn rows_mut(&mut self) -> &mut [NodeFit] {
        &mut self.rows
    }

    /// Whether every row matches its node (ignoring remembered scores);
    /// the first node that does not, otherwise.
    pub fn mismatch(&self, nodes: &[Node]) -> Option<NodeId> {
        if self.rows.len() != nodes.len() {
            return Some(NodeId(self.rows.len().min(nodes.len()) as u32));
        }
        // The per-pool counts, recounted.
        let mut counts = vec![[0u32; bit::PATTERNS]; self.patterns.len()];
        for n in nodes {
            let b = NodeFit::of(n).blocked;
            if b & bit::DELETED == 0 {
                match counts.get_mut(n.spec.pool.index()) {
                    Some(c) => c[pattern(b)] += 1,
                    None => return Some(n.id),
                }
            }
        }
        if counts != self.patterns {
            return nodes.first().map(|n| n.id);
        }
        nodes.iter().zip(&self.rows).find_map(|(n, row)| {
            let want = NodeFit::of(n);
            let same = NodeFit {
                memo: want.memo,
                ..*row
            } == want;
            (!same).then_some(n.id)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_rows_per_cache_line() {
        assert_eq!(std::mem::size_of::<NodeFit>(), 32);
    }
}
