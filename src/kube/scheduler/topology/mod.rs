//! PodTopologySpread and InterPodAffinity: the counts they read (kept
//! incrementally, `counts.rs`), each workload's rules over counted groups
//! (`rules.rs`), and one decision's filter and scores (`plan.rs`).
//!
//! A decision never scans pods: domain counts are updated on every pod
//! bind, start of termination and deletion, and on every node that
//! registers or leaves.

mod counts;
mod plan;
mod rules;

pub use counts::Place;
pub use plan::{Plan, SpreadScale, spread_normalized};
pub use rules::Rules;

use crate::kube::{PodState, WorkloadId, WorkloadSpec};

pub use counts::{Counts, GroupId};

/// The counts and every workload's rules.
#[derive(Debug, Default)]
pub struct Topology {
    counts: Counts,
    rules: Vec<Rules>,
    /// Per workload: binding one of its pods may make a pod rejected by
    /// these plugins schedulable (it is selected by a DoNotSchedule
    /// constraint or matches every required affinity term of a pod).
    wakes_on_add: Vec<bool>,
    /// Per workload: deleting one of its pods may (it is selected by a
    /// spread constraint or matches every required anti-affinity term).
    wakes_on_delete: Vec<bool>,
}

/// Where a pod in `state` counts: its node, and whether it is terminating.
pub fn presence(state: PodState) -> Option<(crate::kube::NodeId, bool)> {
    match state {
        PodState::Starting(n) | PodState::Unready(n) | PodState::Running(n) | PodState::Lost(n) => {
            Some((n, false))
        }
        PodState::Terminating(n) => Some((n, true)),
        PodState::Pending | PodState::Succeeded | PodState::Failed | PodState::Deleted => None,
    }
}

impl Topology {
    /// The rules of `specs` over `pools` pools; `default_spreading`: the
    /// system default constraints apply.
    pub fn new(specs: &[&WorkloadSpec], pools: usize, default_spreading: bool) -> Topology {
        let mut counts = Counts::new(pools, specs.len());
        let rules = rules::compile(specs, &mut counts, default_spreading);
        let mut wakes_on_add = vec![false; specs.len()];
        let mut wakes_on_delete = vec![false; specs.len()];
        for r in &rules {
            if !r.hard_spread.is_empty() {
                for &w in &r.spread_selects {
                    wakes_on_add[w.index()] = true;
                    wakes_on_delete[w.index()] = true;
                }
            }
            for &w in &r.affinity_selects {
                wakes_on_add[w.index()] = true;
            }
            for &w in &r.anti_selects {
                wakes_on_delete[w.index()] = true;
            }
        }
        Topology {
            counts,
            rules,
            wakes_on_add,
            wakes_on_delete,
        }
    }

    /// The rules of workload `w`.
    pub fn rules(&self, w: WorkloadId) -> &Rules {
        &self.rules[w.index()]
    }

    /// The counts.
    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// Whether binding a pod of `w` is an event pods may wait for.
    pub fn wakes_on_add(&self, w: WorkloadId) -> bool {
        self.wakes_on_add.get(w.index()).copied().unwrap_or(false)
    }

    /// Whether deleting a pod of `w` is an event pods may wait for.
    pub fn wakes_on_delete(&self, w: WorkloadId) -> bool {
        self.wakes_on_delete
            .get(w.index())
            .copied()
            .unwrap_or(false)
    }

    /// A node registered.
    pub fn node_added(&mut self, node: usize, pool: usize, zone: usize) {
        self.counts.node_added(node, pool, zone);
    }

    /// A node left the scheduler's node list.
    pub fn node_removed(&mut self, node: usize, pool: usize, zone: usize) {
        self.counts.node_removed(node, pool, zone);
    }

    /// A pod of `w` moved from `from` to `to` (each: where it counts,
    /// [`presence`]); `place` gives a node's pool, zone and registration.
    /// Returns whether a count changed.
    pub fn pod_moved(
        &mut self,
        w: WorkloadId,
        from: Option<(crate::kube::NodeId, bool)>,
        to: Option<(crate::kube::NodeId, bool)>,
        place: impl Fn(crate::kube::NodeId) -> Place,
    ) -> bool {
        if from == to || !self.counts.counts_workload(w) {
            return false;
        }
        let mut changed = false;
        if let Some((n, terminating)) = from {
            changed |= self.counts.pod_moved(w, place(n), terminating, -1);
        }
        if let Some((n, terminating)) = to {
            changed |= self.counts.pod_moved(w, place(n), terminating, 1);
        }
        changed
    }
}

impl Topology {
    /// The first count that differs from a recount of `pods` on `nodes`
    /// (`registered`: whether each node is in the scheduler's node list),
    /// described; `None` when every count agrees. For the invariants test.
    pub fn mismatch(
        &self,
        pods: &[crate::kube::Pod],
        nodes: &[crate::kube::Node],
        registered: impl Fn(&crate::kube::Node) -> bool,
    ) -> Option<String> {
        for (g, members, with_terminating) in self.counts.groups() {
            let mut on_node = vec![0u32; nodes.len()];
            for p in pods {
                if let Some((n, terminating)) = presence(p.state())
                    && members.contains(&p.workload)
                    && (!terminating || with_terminating)
                {
                    on_node[n.index()] += 1;
                }
            }
            let mut zones: Vec<Vec<u32>> = Vec::new();
            let mut total = 0u64;
            let mut min: Vec<Option<u32>> = Vec::new();
            for (i, node) in nodes.iter().enumerate() {
                let have = self.counts.on_node(g, i);
                if have != on_node[i] {
                    return Some(format!(
                        "group {g:?}: node {i} counts {have}, recount {}",
                        on_node[i]
                    ));
                }
                if !registered(node) {
                    continue;
                }
                let (p, z) = (node.spec.pool.index(), usize::from(node.spec.zone));
                if zones.len() <= p {
                    zones.resize(p + 1, Vec::new());
                    min.resize(p + 1, None);
                }
                if zones[p].len() <= z {
                    zones[p].resize(z + 1, 0);
                }
                zones[p][z] += on_node[i];
                total += u64::from(on_node[i]);
                min[p] = Some(min[p].map_or(on_node[i], |m| m.min(on_node[i])));
            }
            if self.counts.total(g) != total {
                return Some(format!(
                    "group {g:?}: total {}, recount {total}",
                    self.counts.total(g)
                ));
            }
            for (p, want) in zones.iter().enumerate() {
                let have = self.counts.in_zones(g, p);
                for (z, &w) in want.iter().enumerate() {
                    if have.get(z).copied().unwrap_or(0) != w {
                        return Some(format!("group {g:?}: pool {p} zone {z} counts differ"));
                    }
                }
                if self.counts.min_on_nodes(g, p) != min[p] {
                    return Some(format!("group {g:?}: pool {p} minimum per node differs"));
                }
            }
        }
        None
    }
}
