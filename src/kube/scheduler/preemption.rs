//! DefaultPreemption (PostFilter): when a pod fits nowhere, find nodes where
//! deleting lower-priority pods would make room, pick the victims on each
//! node and the best node, nominate it, and delete the victims gracefully
//! (`pkg/scheduler/framework/plugins/defaultpreemption/default_preemption.go`
//! `SelectVictimsOnNode`; `pkg/scheduler/framework/preemption/preemption.go`
//! `DryRunPreemption`, `pickOneNodeForPreemption`).
//!
//! PodDisruptionBudgets are respected where possible, as kube-scheduler
//! does: victims whose removal would break a budget are reprieved first, and
//! nodes with fewer such violations are preferred (`filterPodsWithPDBViolation`).

use crate::kube::{Node, NodeId, Pod, PodId, PodState, Workload};
use crate::quantity::Resources;

use super::filter;

/// A node where preemption would make room, and the pods to delete there,
/// most important first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The node.
    pub node: NodeId,
    /// The victims, by decreasing priority then increasing start time.
    pub victims: Vec<PodId>,
    /// Victims whose eviction breaks their PodDisruptionBudget.
    pub pdb_violations: u32,
}

/// Whether `victim` is more important than `other` (`MoreImportantPod`):
/// higher priority, then the earlier start time.
fn more_important(a: &Pod, b: &Pod) -> std::cmp::Ordering {
    b.priority
        .cmp(&a.priority)
        .then(start_time(a).cmp(&start_time(b)))
        .then(a.id.cmp(&b.id))
}

/// A pod's start time; one not yet started counts as the youngest.
fn start_time(p: &Pod) -> crate::engine::Millis {
    p.started_at.unwrap_or(crate::engine::Millis(u64::MAX))
}

/// `SelectVictimsOnNode`: remove every lower-priority pod, check the
/// preemptor fits, then add pods back, those whose eviction would break a
/// PodDisruptionBudget first, each group from the most important down,
/// keeping each one whose return still leaves room. `allowed[w]` is
/// workload `w`'s disruptions allowed (`None`: no budget). Returns the
/// victims and how many break a budget; `None` if even removing them all
/// does not make room.
pub fn select_victims_on_node(
    pod: &Pod,
    node: &Node,
    pods: &[Pod],
    allowed: &[Option<i64>],
) -> Option<(Vec<PodId>, u32)> {
    let mut potential: Vec<PodId> = node
        .pods
        .iter()
        .copied()
        .filter(|&q| {
            let v = &pods[q.index()];
            v.priority < pod.priority
                && matches!(
                    v.state(),
                    PodState::Starting(_)
                        | PodState::Unready(_)
                        | PodState::Running(_)
                        | PodState::Terminating(_)
                )
        })
        .collect();
    let taken = filter::nominated_load(pod, node, pods);
    let mut removed = Resources::default();
    for &q in &potential {
        removed += pods[q.index()].requests;
    }
    let fits = |removed: Resources, removed_count: usize| {
        let used = node.requested - removed + taken.0;
        (node.pods.len() - removed_count) as u32 + taken.1 < node.spec.max_pods
            && used.cpu.0 + pod.requests.cpu.0 <= node.spec.allocatable.cpu.0
            && used.memory.0 + pod.requests.memory.0 <= node.spec.allocatable.memory.0
            && used.gpu + pod.requests.gpu <= node.spec.allocatable.gpu
    };
    if !fits(removed, potential.len()) {
        return None;
    }
    potential.sort_by(|&a, &b| more_important(&pods[a.index()], &pods[b.index()]));
    // filterPodsWithPDBViolation: each victim uses one of its budget's
    // allowed disruptions; past zero it violates the budget.
    let mut left: Vec<Option<i64>> = allowed.to_vec();
    let (mut violating, mut fine) = (Vec::new(), Vec::new());
    for q in potential {
        let w = pods[q.index()].workload.index();
        let counts = matches!(pods[q.index()].state(), PodState::Running(_));
        match left.get_mut(w) {
            Some(Some(a)) if counts => {
                *a -= 1;
                if *a < 0 {
                    violating.push(q);
                } else {
                    fine.push(q);
                }
            }
            _ => fine.push(q),
        }
    }
    let mut victims = Vec::new();
    let mut violations = 0;
    let mut count = violating.len() + fine.len();
    let n_violating = violating.len();
    for (i, q) in violating.into_iter().chain(fine).enumerate() {
        let r = pods[q.index()].requests;
        // Try to reprieve q: put it back.
        let back = removed - r;
        if fits(back, count - 1) {
            removed = back;
            count -= 1;
        } else {
            victims.push(q);
            if i < n_violating {
                violations += 1;
            }
        }
    }
    victims.sort_by(|&a, &b| more_important(&pods[a.index()], &pods[b.index()]));
    Some((victims, violations))
}

/// `pickOneNodeForPreemption`: (1) fewest PDB violations;
/// (2) lowest highest-victim priority; (3) smallest sum of victim
/// priorities, each shifted by `MaxInt32 + 1`; (4) fewest victims; (5) the
/// latest start among each node's highest-priority victims; (6) the first.
pub fn pick_one_node(candidates: &[Candidate], pods: &[Pod]) -> Option<usize> {
    if let Some(i) = candidates.iter().position(|c| c.victims.is_empty()) {
        return Some(i);
    }
    let prio = |q: PodId| pods[q.index()].priority;
    let key = |c: &Candidate| {
        let highest = prio(c.victims[0]);
        let sum: i64 = c
            .victims
            .iter()
            .map(|&q| i64::from(prio(q)) + i64::from(i32::MAX) + 1)
            .sum();
        let earliest = c
            .victims
            .iter()
            .filter(|&&q| prio(q) == highest)
            .map(|&q| start_time(&pods[q.index()]))
            .min()
            .unwrap_or(crate::engine::Millis(0));
        (
            c.pdb_violations,
            highest,
            sum,
            c.victims.len(),
            std::cmp::Reverse(earliest),
        )
    };
    let mut best: Option<(usize, _)> = None;
    for (i, c) in candidates.iter().enumerate() {
        let k = key(c);
        if best.as_ref().is_none_or(|(_, b)| k < *b) {
            best = Some((i, k));
        }
    }
    best.map(|(i, _)| i)
}

/// `DryRunPreemption` over the nodes `pod` could use: starting at `offset`,
/// collect candidates until `wanted` are found.
#[allow(clippy::too_many_arguments)]
pub fn find_candidates(
    pod: &Pod,
    wl: &Workload,
    nodes: &[Node],
    potential: &[NodeId],
    pods: &[Pod],
    allowed: &[Option<i64>],
    offset: usize,
    wanted: usize,
) -> Vec<Candidate> {
    let mut out = Vec::new();
    let n = potential.len();
    for i in 0..n {
        let id = potential[(offset + i) % n];
        let node = &nodes[id.index()];
        if !filter::passes_static(wl, node) || !wl.volumes_allow(pod.slot, node) {
            continue;
        }
        if let Some((victims, pdb_violations)) = select_victims_on_node(pod, node, pods, allowed) {
            out.push(Candidate {
                node: id,
                victims,
                pdb_violations,
            });
            if out.len() >= wanted {
                break;
            }
        }
    }
    out
}

/// `GetOffsetAndNumCandidates`: `max(n * pct / 100, abs)`, at most `n`.
pub fn num_candidates(n: usize, pct: u32, abs: u32) -> usize {
    (n * pct as usize / 100).max(abs as usize).min(n)
}
