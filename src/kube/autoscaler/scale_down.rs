//! Scale-down: nodes that are unneeded for `scale_down_unneeded_time` are
//! removed (cluster-autoscaler `core/scaledown/`; FAQ "How does scale-down
//! work?").
//!
//! A node is unneeded when its utilization (the larger of its cpu and
//! memory requests over allocatable, DaemonSet pods included) is below the
//! threshold and every pod on it can move: it has a controller (every
//! poolsim pod has), it is not a kube-system pod without a
//! PodDisruptionBudget (`skip-nodes-with-system-pods`), its budget allows a
//! disruption, and it fits on another node (the scheduler's filters,
//! first-fit over the remaining nodes, whose room the moved pods then use,
//! as the CA's removal simulation does). Expendable pods (below the
//! priority cutoff) are simply deleted. Local storage is not modelled.
//!
//! Removal waits for `scale_down_delay_after_add` after a scale-up,
//! `_after_delete` after a deletion and `_after_failure` after a failed
//! drain. Empty nodes (only DaemonSet pods) go at once, up to
//! `max_empty_bulk_delete` per scan; others are drained, at most
//! `max_drain_parallelism` at a time, and deleted when their pods are gone.

use crate::engine::Millis;
use crate::quantity::Resources;

use super::super::scheduler::{fits_resources, passes_static};
use super::super::{Cluster, NodeId, PodClass, PodState, WorkloadKind};
use super::{Action, Autoscaler, GroupSnapshot, Readiness};

impl Autoscaler {
    pub(super) fn scale_down(
        &mut self,
        now: Millis,
        groups: &[GroupSnapshot],
        cluster: &Cluster,
        out: &mut Vec<Action>,
    ) {
        self.finish_drains(now, cluster, out);
        let unneeded = self.unneeded_nodes(now, groups, cluster);
        // Refresh the timers: a node keeps its start while it stays
        // unneeded, and loses it as soon as it is needed again.
        let mut since = vec![None; cluster.nodes().len()];
        for &n in &unneeded {
            since[n.index()] = Some(
                self.unneeded_since
                    .get(n.index())
                    .copied()
                    .flatten()
                    .unwrap_or(now),
            );
        }
        self.unneeded_since = since;
        let c = &self.config;
        let cooling = self
            .last_scale_up
            .is_some_and(|t| now < t + c.scale_down_delay_after_add)
            || self
                .last_delete
                .is_some_and(|t| now < t + c.scale_down_delay_after_delete)
            || self
                .last_failure
                .is_some_and(|t| now < t + c.scale_down_delay_after_failure);
        if cooling {
            return;
        }
        let mut empty_left = c.max_empty_bulk_delete;
        let mut drains_left = c
            .max_drain_parallelism
            .saturating_sub(self.draining.len() as u32);
        let (unneeded_time, unready_time) = (c.scale_down_unneeded_time, c.scale_down_unready_time);
        for n in unneeded {
            let Some(t) = self.unneeded_since[n.index()] else {
                continue;
            };
            // An unready node waits `scale_down_unready_time` instead
            // (`lookupAndSetRemovalThreshold`). Removable only once
            // `since + wait` is strictly before now (`!Add(..).Before(now)`
            // skips the node), so a node unneeded since a scan is removed
            // one scan after the wait, not at it.
            let wait = if cluster.nodes()[n.index()].is_ready() {
                unneeded_time
            } else {
                unready_time
            };
            if now <= t + wait {
                continue;
            }
            if movable_pods(cluster, n).next().is_none() {
                if empty_left > 0 {
                    empty_left -= 1;
                    self.delete(now, n, out);
                }
            } else if drains_left > 0 {
                drains_left -= 1;
                self.draining.push((n, now));
                self.unneeded_since[n.index()] = None;
                out.push(Action::Drain(n));
            }
        }
    }

    fn delete(&mut self, now: Millis, n: NodeId, out: &mut Vec<Action>) {
        out.push(Action::Delete(n));
        self.unneeded_since[n.index()] = None;
        self.last_delete = Some(now);
        self.scale_downs += 1;
    }

    /// Drained nodes whose pods are gone are deleted; a drain that outlasts
    /// `max_drain_time` failed: the node is uncordoned and scale-down waits
    /// `scale_down_delay_after_failure`.
    fn finish_drains(&mut self, now: Millis, cluster: &Cluster, out: &mut Vec<Action>) {
        let draining = std::mem::take(&mut self.draining);
        for (n, since) in draining {
            let node = &cluster.nodes()[n.index()];
            if !node.is_registered() {
                continue;
            }
            let busy = node.pods.iter().any(|&p| {
                let pod = &cluster.pods()[p.index()];
                !is_daemon(cluster, p)
                    && matches!(
                        pod.state(),
                        PodState::Starting(_)
                            | PodState::Unready(_)
                            | PodState::Running(_)
                            | PodState::Terminating(_)
                    )
            });
            if !busy {
                if self.unneeded_since.len() <= n.index() {
                    self.unneeded_since.resize(n.index() + 1, None);
                }
                self.delete(now, n, out);
            } else if now >= since + self.config.max_drain_time {
                self.last_failure = Some(now);
                out.push(Action::Uncordon(n));
            } else {
                self.draining.push((n, since));
            }
        }
    }

    /// The Ready, schedulable nodes of low utilization, empty ones first
    /// (the CA removes them before nodes it must drain), then in node
    /// order; and per pool how many nodes may go: down to the group's
    /// minimum, less those already draining.
    fn candidates(
        &self,
        now: Millis,
        groups: &[GroupSnapshot],
        cluster: &Cluster,
    ) -> (Vec<NodeId>, Vec<u32>) {
        let mut candidates = Vec::new();
        let mut removable = vec![0u32; cluster.pool_nodes().len()];
        for g in groups {
            let draining = self
                .draining
                .iter()
                .filter(|(n, _)| cluster.nodes()[n.index()].spec.pool == g.pool)
                .count() as u32;
            removable[g.pool.index()] = g.target.saturating_sub(g.min).saturating_sub(draining);
            for &n in &cluster.pool_nodes()[g.pool.index()] {
                let node = &cluster.nodes()[n.index()];
                // NotStarted nodes are upcoming, not candidates
                // (`static_autoscaler.go`); Unready ones are.
                if self.readiness(node, now) != Readiness::NotStarted
                    && !node.unschedulable
                    && self.utilization_low(cluster, n)
                {
                    candidates.push(n);
                }
            }
        }
        candidates.sort_by_key(|&n| (movable_pods(cluster, n).next().is_some(), n));
        (candidates, removable)
    }

    /// The nodes that could go now, in node order, with their pods'
    /// new places reserved on the nodes that stay.
    fn unneeded_nodes(
        &self,
        now: Millis,
        groups: &[GroupSnapshot],
        cluster: &Cluster,
    ) -> Vec<NodeId> {
        let (candidates, mut removable) = self.candidates(now, groups, cluster);
        let mut taken: Vec<(Resources, u32)> = vec![Default::default(); cluster.nodes().len()];
        let mut gone = vec![false; cluster.nodes().len()];
        for &(n, _) in &self.draining {
            gone[n.index()] = true;
        }
        // PodDisruptionBudgets: each node found removable spends its pods'
        // budgets for the rest of the pass (`RemainingPdbTracker`).
        let mut budgets: Vec<Option<i64>> = cluster
            .workloads()
            .iter()
            .map(|w| w.disruptions_allowed())
            .collect();
        let mut unneeded = Vec::new();
        for n in candidates {
            let pool = cluster.nodes()[n.index()].spec.pool.index();
            if removable[pool] == 0 {
                continue;
            }
            gone[n.index()] = true;
            if self.pods_can_move(cluster, n, &gone, &mut taken, &mut budgets) {
                removable[pool] -= 1;
                unneeded.push(n);
            } else {
                gone[n.index()] = false;
            }
        }
        unneeded
    }

    /// Whether every pod `n` must move has a place on a node that stays
    /// (first fit, reserving its room in `taken`) and a budget that allows
    /// its eviction (spending it in `budgets`). On failure nothing is kept.
    fn pods_can_move(
        &self,
        cluster: &Cluster,
        n: NodeId,
        gone: &[bool],
        taken: &mut [(Resources, u32)],
        budgets: &mut [Option<i64>],
    ) -> bool {
        let mut placed: Vec<(usize, Resources)> = Vec::new();
        let mut spent: Vec<usize> = Vec::new();
        let mut ok = true;
        for p in movable_pods(cluster, n) {
            let pod = &cluster.pods()[p.index()];
            if pod.priority < self.config.expendable_pods_priority_cutoff {
                continue;
            }
            let w = pod.workload.index();
            let wl = &cluster.workloads()[w];
            let system = wl.spec.class == PodClass::System;
            if (system && budgets[w].is_none() && self.config.skip_nodes_with_system_pods)
                || budgets[w].is_some_and(|a| a <= 0)
            {
                ok = false;
                break;
            }
            let spot = cluster.pool_nodes().iter().flatten().copied().find(|&m| {
                let other = &cluster.nodes()[m.index()];
                !gone[m.index()]
                    && other.is_ready()
                    && passes_static(wl, other)
                    && wl.volumes_allow(pod.slot, other)
                    && fits_resources(pod, other, taken[m.index()])
            });
            let Some(m) = spot else {
                ok = false;
                break;
            };
            taken[m.index()].0 += pod.requests;
            taken[m.index()].1 += 1;
            placed.push((m.index(), pod.requests));
            if let Some(a) = budgets[w].as_mut() {
                *a -= 1;
                spent.push(w);
            }
        }
        if !ok {
            for &(m, r) in &placed {
                taken[m].0 -= r;
                taken[m].1 -= 1;
            }
            for &w in &spent {
                if let Some(a) = budgets[w].as_mut() {
                    *a += 1;
                }
            }
        }
        ok
    }

    /// max(cpu, memory) requests over allocatable below the threshold.
    fn utilization_low(&self, cluster: &Cluster, n: NodeId) -> bool {
        let node = &cluster.nodes()[n.index()];
        let a = node.spec.allocatable;
        let r = node.requested;
        let cpu = r.cpu.0 as f64 / a.cpu.0.max(1) as f64;
        let mem = r.memory.0 as f64 / a.memory.0.max(1) as f64;
        cpu.max(mem) < self.config.scale_down_utilization_threshold
    }
}

fn is_daemon(cluster: &Cluster, p: super::super::PodId) -> bool {
    let w = cluster.pods()[p.index()].workload;
    matches!(
        cluster.workloads()[w.index()].spec.kind,
        WorkloadKind::DaemonSet { .. }
    )
}

/// The pods a removal must move: bound, not DaemonSet pods, not already
/// terminating.
fn movable_pods(cluster: &Cluster, n: NodeId) -> impl Iterator<Item = super::super::PodId> + '_ {
    cluster.nodes()[n.index()]
        .pods
        .iter()
        .copied()
        .filter(move |&p| {
            !is_daemon(cluster, p)
                && matches!(
                    cluster.pods()[p.index()].state(),
                    PodState::Starting(_) | PodState::Unready(_) | PodState::Running(_)
                )
        })
}
