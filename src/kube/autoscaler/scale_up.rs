//! Scale-up: which pending pods need a new node, how many nodes of each
//! group they would take, and which group grows (cluster-autoscaler
//! `core/scaleup/orchestrator`, `estimator/binpacking_estimator.go`).
//!
//! Pods that fit the free room of existing nodes or of nodes already on
//! their way (target size minus registered nodes, as template nodes) are
//! left to the scheduler (`filterOutSchedulable`). For the rest, each group
//! that is not backed off and is below its maximum gets an estimate: the
//! pods that pass the filters on its template node (the group's first
//! instance type's allocatable, its labels and taints, its DaemonSet pods
//! subtracted) are packed first-fit-decreasing by Σ(cpu/alloc + mem/alloc)
//! onto as many template nodes as the group's room, `max_nodes_total` and
//! `max_nodes_per_scale_up` allow. The expander picks one option; one group
//! grows per scan.

use crate::engine::Millis;
use crate::quantity::Resources;

use super::super::scheduler::{fits_resources, fits_template, passes_static};
use super::super::{Cluster, PodId, PodState, WorkloadKind};
use super::{Action, Autoscaler, GroupSnapshot, Readiness, Request};

/// One group's estimate.
#[derive(Debug, Clone, Copy)]
pub(super) struct Candidate {
    /// Index into the scan's snapshots.
    pub group: usize,
    /// Nodes to add.
    pub nodes: u32,
    /// Pods they would hold.
    pub pods: u32,
    /// Sum of those pods' requests.
    pub requested: Resources,
    /// The template node's capacity, which least-waste measures against
    /// (`expander/waste/waste.go`, `resourcesForNode`).
    pub capacity: Resources,
}

/// A template node's room once the group's DaemonSet pods are on it.
#[derive(Debug, Clone, Copy)]
struct Template {
    free: Resources,
    slots: u32,
}

impl Autoscaler {
    /// Returns true if it scaled a group up.
    pub(super) fn scale_up(
        &mut self,
        now: Millis,
        groups: &[GroupSnapshot],
        cluster: &Cluster,
        out: &mut Vec<Action>,
    ) -> bool {
        let mut pending = std::mem::take(&mut self.pending);
        self.pending_pods(cluster, &mut pending);
        if pending.is_empty() {
            self.pending = pending;
            return false;
        }
        let templates: Vec<Template> = groups
            .iter()
            .map(|g| template(self.template_room(g), g, cluster))
            .collect();
        let upcoming: Vec<u32> = groups
            .iter()
            .map(|g| {
                let r = self.tally[g.pool.index()];
                g.target.saturating_sub(r.ready + r.unready)
            })
            .collect();
        self.filter_out_schedulable(now, &mut pending, groups, &templates, &upcoming, cluster);
        if pending.is_empty() {
            self.pending = pending;
            return false;
        }
        let options = self.options(now, groups, &templates, &pending, cluster);
        self.pending = pending;
        let Some(best) = self.expand(&options, groups) else {
            return false;
        };
        self.grow(now, &groups[options[best].group], options[best].nodes, out);
        true
    }

    /// The pods that may trigger a scale-up, in the scheduler's order
    /// (priority, then age): pending, not expendable, not waiting for a
    /// preemption they triggered.
    fn pending_pods(&self, cluster: &Cluster, pending: &mut Vec<PodId>) {
        pending.clear();
        cluster.queue().waiting(cluster.pods(), pending);
        let cutoff = self.config.expendable_pods_priority_cutoff;
        pending.retain(|&p| {
            let pod = &cluster.pods()[p.index()];
            // Expendable pods never trigger a scale-up; pods waiting for a
            // preemption they triggered are skipped (FAQ).
            pod.state() == PodState::Pending && pod.priority >= cutoff && pod.nominated.is_none()
        });
        // The scheduler's order: priority, then age.
        pending.sort_by_key(|&p| {
            let pod = &cluster.pods()[p.index()];
            (std::cmp::Reverse(pod.priority), pod.created_at, p)
        });
    }

    /// Each group's estimate for the `pending` pods, where the group may
    /// grow: below its maximum, not backed off, healthy, within
    /// `max_nodes_per_scale_up` and `max_nodes_total`.
    fn options(
        &self,
        now: Millis,
        groups: &[GroupSnapshot],
        templates: &[Template],
        pending: &[PodId],
        cluster: &Cluster,
    ) -> Vec<Candidate> {
        let total: u32 = groups.iter().map(|g| g.target.max(g.instances)).sum();
        let mut options = Vec::new();
        for (i, g) in groups.iter().enumerate() {
            if g.target >= g.max || self.backed_off(g.pool, now) || !self.group_healthy(g) {
                continue;
            }
            let mut cap = (g.max - g.target).min(self.config.max_nodes_per_scale_up);
            if self.config.max_nodes_total > 0 {
                cap = cap.min(self.config.max_nodes_total.saturating_sub(total));
            }
            if cap == 0 {
                continue;
            }
            let room = self.template_room(g);
            if let Some(o) = estimate(i, g, room.0, templates[i], cap, pending, cluster) {
                options.push(o);
            }
        }
        options
    }

    /// Grows group `g` by `nodes`: its new target, and the scale-up
    /// request whose registration the scan watches.
    fn grow(&mut self, now: Millis, g: &GroupSnapshot, nodes: u32, out: &mut Vec<Action>) {
        let target = g.target + nodes;
        out.push(Action::SetTarget {
            pool: g.pool,
            target,
        });
        let earlier = self.groups[g.pool.index()]
            .request
            .map_or(0, |q| q.increase);
        self.groups[g.pool.index()].request = Some(Request {
            at: now,
            target,
            increase: earlier + nodes,
        });
        self.last_scale_up = Some(now);
        self.scale_ups += 1;
    }
}

/// The group's template node: its room (allocatable and pod slots) less the
/// requests of the DaemonSet pods that would run on it.
fn template(room: (Resources, u32), g: &GroupSnapshot, cluster: &Cluster) -> Template {
    let (mut free, mut slots) = room;
    for w in cluster.workloads() {
        if matches!(w.spec.kind, WorkloadKind::DaemonSet { .. }) && w.fits_pool[g.pool.index()] {
            let r = w.spec.requests;
            free.cpu.0 = free.cpu.0.saturating_sub(r.cpu.0);
            free.memory.0 = free.memory.0.saturating_sub(r.memory.0);
            free.gpu = free.gpu.saturating_sub(r.gpu);
            slots = slots.saturating_sub(1);
        }
    }
    Template { free, slots }
}

impl Autoscaler {
    /// Removes the pods that fit, first-fit in queue order, on existing
    /// nodes' free room or on upcoming template nodes: the scheduler will
    /// place them without new capacity. Upcoming are `upcoming[i]` template
    /// nodes of group `i` (target less Ready and Unready nodes:
    /// `GetUpcomingNodes`); the NotStarted nodes they stand for are left out
    /// of the existing nodes, as `static_autoscaler.go` removes them from
    /// its snapshot.
    fn filter_out_schedulable(
        &self,
        now: Millis,
        pending: &mut Vec<PodId>,
        groups: &[GroupSnapshot],
        templates: &[Template],
        upcoming: &[u32],
        cluster: &Cluster,
    ) {
        // Simulated extra load per existing node.
        let mut taken: Vec<(Resources, u32)> = Vec::new();
        let mut nodes = Vec::new();
        for pool in cluster.pool_nodes() {
            nodes.extend(pool.iter().copied().filter(|&n| {
                self.readiness(&cluster.nodes()[n.index()], now) != Readiness::NotStarted
            }));
        }
        nodes.sort();
        taken.resize(nodes.len(), (Resources::default(), 0));
        // Upcoming nodes: (group index, free, slots).
        let mut coming: Vec<(usize, Resources, u32)> = Vec::new();
        for (i, &k) in upcoming.iter().enumerate() {
            for _ in 0..k {
                coming.push((i, templates[i].free, templates[i].slots));
            }
        }
        pending.retain(|&p| {
            let pod = &cluster.pods()[p.index()];
            let wl = &cluster.workloads()[pod.workload.index()];
            for (k, &n) in nodes.iter().enumerate() {
                let node = &cluster.nodes()[n.index()];
                if passes_static(wl, node)
                    && wl.volumes_allow(pod.slot, node)
                    && fits_resources(pod, node, taken[k])
                {
                    taken[k].0 += pod.requests;
                    taken[k].1 += 1;
                    return false;
                }
            }
            for u in coming.iter_mut() {
                if fits_template(pod.requests, wl, groups[u.0].pool.index(), u.1, u.2) {
                    u.1 -= pod.requests;
                    u.2 -= 1;
                    return false;
                }
            }
            true
        });
    }
}

/// First-fit-decreasing onto at most `cap` template nodes of group `i`.
fn estimate(
    i: usize,
    g: &GroupSnapshot,
    alloc: Resources,
    t: Template,
    cap: u32,
    pending: &[PodId],
    cluster: &Cluster,
) -> Option<Candidate> {
    let pool = g.pool.index();
    let mut pods: Vec<PodId> = pending
        .iter()
        .copied()
        .filter(|&p| {
            let pod = &cluster.pods()[p.index()];
            fits_template(
                pod.requests,
                &cluster.workloads()[pod.workload.index()],
                pool,
                t.free,
                t.slots,
            )
        })
        .collect();
    if pods.is_empty() {
        return None;
    }
    // Σ(cpu/alloc + mem/alloc), largest first; ties by pending order.
    let size = |p: &PodId| {
        let r = cluster.pods()[p.index()].requests;
        let c = r.cpu.0 as f64 / alloc.cpu.0.max(1) as f64;
        let m = r.memory.0 as f64 / alloc.memory.0.max(1) as f64;
        c + m
    };
    pods.sort_by(|a, b| size(b).total_cmp(&size(a)));
    let mut bins: Vec<(Resources, u32)> = Vec::new();
    let mut placed = 0u32;
    let mut requested = Resources::default();
    for p in &pods {
        let r = cluster.pods()[p.index()].requests;
        let slot = bins.iter().position(|b| b.1 > 0 && r.fits_in(&b.0));
        let k = match slot {
            Some(k) => k,
            None if (bins.len() as u32) < cap => {
                bins.push((t.free, t.slots));
                bins.len() - 1
            }
            None => continue,
        };
        let bin = &mut bins[k];
        bin.0 -= r;
        bin.1 -= 1;
        placed += 1;
        requested += r;
    }
    Some(Candidate {
        group: i,
        nodes: bins.len() as u32,
        pods: placed,
        requested,
        capacity: g.capacity,
    })
}
