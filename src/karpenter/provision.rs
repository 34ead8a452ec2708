//! Provisioning: at the end of a batch window, the provisionable pods are
//! simulated onto the cluster as Karpenter's scheduler does
//! (kubernetes-sigs/karpenter `pkg/controllers/provisioning/scheduling/`):
//! pods by cpu then memory, largest first; each onto the first existing
//! node with room (Ready nodes first, then nodes and NodeClaims still
//! starting), else onto a NodeClaim of this round (the one with the fewest
//! pods first), else onto a new NodeClaim of the first NodePool, by
//! weight, whose labels and taints admit it and one of whose instance
//! types, within its remaining limits, holds it and the DaemonSet pods
//! that would run there. A NodeClaim keeps the instance types that hold
//! all its pods; it launches on the cheapest (`nodeclaim.rs`).

use std::cmp::Reverse;

use crate::cloud::{Cloud, CloudEvent};
use crate::engine::{Context, Millis};
use crate::kube::scheduler::fits_template;
use crate::kube::{Cluster, NodeId, PodId, PodState, Workload, WorkloadKind};
use crate::quantity::Resources;

use super::{Karpenter, KarpenterEvent};

/// Free room on a node, or on a NodeClaim still starting.
#[derive(Debug, Clone, Copy)]
struct Room {
    pool: usize,
    free: Resources,
    slots: u32,
    /// A node that has been Ready (Karpenter's initialized NodeClaim).
    initialized: bool,
}

/// A NodeClaim being filled in this round.
#[derive(Debug, Clone)]
pub(super) struct Draft {
    /// Its NodePool.
    pub nodepool: usize,
    pool: usize,
    /// Instance types that still hold every pod added.
    pub types: Vec<usize>,
    /// Requests of its pods and DaemonSet pods.
    used: Resources,
    /// Its pods, DaemonSet pods included.
    pods: u32,
    /// Its pods, DaemonSet pods excluded (the ordering key).
    own: u32,
}

/// Capacity left under a NodePool's limits (`None`: no limit), signed
/// because Karpenter subtracts pessimistically and may go below zero.
#[derive(Debug, Clone, Copy)]
struct Remaining {
    cpu: Option<i128>,
    memory: Option<i128>,
}

impl Remaining {
    fn admits(&self, cpu: u64, memory: u64) -> bool {
        self.cpu.is_none_or(|c| i128::from(cpu) <= c)
            && self.memory.is_none_or(|m| i128::from(memory) <= m)
    }

    fn take(&mut self, cpu: u64, memory: u64) {
        if let Some(c) = &mut self.cpu {
            *c -= i128::from(cpu);
        }
        if let Some(m) = &mut self.memory {
            *m -= i128::from(memory);
        }
    }
}

/// Where a scheduling simulation put its pods.
#[derive(Debug, Default)]
pub(super) struct Placement {
    /// New NodeClaims it needs.
    pub drafts: Vec<Draft>,
    /// Pods it could not place, or placed on a node or NodeClaim that is
    /// not initialized yet.
    pub unsettled: Vec<PodId>,
}

impl Karpenter {
    /// One provisioning round: provisionable pods and the pods of nodes
    /// being deleted. Returns whether provisionable pods existed (the pod
    /// controller then requeues them).
    pub(super) fn provision<E>(
        &mut self,
        ctx: &mut Context<'_, E>,
        cloud: &mut Cloud,
        cluster: &Cluster,
    ) -> bool
    where
        E: From<KarpenterEvent> + From<CloudEvent>,
    {
        let mut pods = provisionable(cluster);
        let pending = !pods.is_empty();
        pods.extend(self.deleting_pods(cluster));
        if pods.is_empty() {
            return false;
        }
        sort_pods(cluster, &mut pods);
        let placement = self.simulate(cluster, cloud, ctx.now(), &pods, &[]);
        let mut launched = false;
        for d in placement.drafts {
            launched |= self.launch(ctx, d.nodepool, &d.types, cloud).is_some();
        }
        if launched {
            self.provisioning_rounds += 1;
        }
        pending
    }

    /// The scheduling simulation: `pods` (in order) onto the nodes that
    /// accept pods (less `exclude`), the NodeClaims in flight, and new
    /// NodeClaims of the NodePools by weight.
    pub(super) fn simulate(
        &self,
        cluster: &Cluster,
        cloud: &Cloud,
        now: Millis,
        pods: &[PodId],
        exclude: &[NodeId],
    ) -> Placement {
        let mut rooms = self.rooms(cluster, cloud, exclude);
        let mut remaining = self.remaining(cloud);
        let overhead: Vec<(Resources, u32)> = self
            .config
            .nodepools
            .iter()
            .map(|np| daemon_overhead(cluster.workloads(), np.pool.index()))
            .collect();
        let mut order: Vec<usize> = (0..self.config.nodepools.len()).collect();
        order.sort_by_key(|&i| (Reverse(self.config.nodepools[i].weight), i));
        let mut out = Placement::default();
        for &pid in pods {
            let pod = &cluster.pods()[pid.index()];
            let wl = &cluster.workloads()[pod.workload.index()];
            let req = pod.requests;
            if let Some(r) = rooms
                .iter_mut()
                .find(|r| fits_template(req, wl, r.pool, r.free, r.slots))
            {
                r.free -= req;
                r.slots -= 1;
                if !r.initialized {
                    out.unsettled.push(pid);
                }
                continue;
            }
            out.drafts.sort_by_key(|d| d.own);
            if out
                .drafts
                .iter_mut()
                .any(|d| wl.fits_pool[d.pool] && add(d, req, cloud))
            {
                continue;
            }
            let mut placed = false;
            for &np in &order {
                let spec = &self.config.nodepools[np];
                if !wl.fits_pool[spec.pool.index()] {
                    continue;
                }
                let catalogue = cloud.instance_types();
                let types = self.launchable(np, &remaining[np], now, cloud);
                let (used, pods) = overhead[np];
                let mut d = Draft {
                    nodepool: np,
                    pool: spec.pool.index(),
                    types,
                    used,
                    pods,
                    own: 0,
                };
                if add(&mut d, req, cloud) {
                    // subtractMax: the largest capacity the NodeClaim might
                    // get counts against the limits.
                    let cpu = d.types.iter().map(|&t| catalogue[t].cpu.0).max();
                    let mem = d.types.iter().map(|&t| catalogue[t].memory.0).max();
                    remaining[np].take(cpu.unwrap_or(0), mem.unwrap_or(0));
                    out.drafts.push(d);
                    placed = true;
                    break;
                }
            }
            if !placed {
                out.unsettled.push(pid);
            }
        }
        out
    }

    /// NodePool `np`'s types within what its limits leave that have an
    /// available offering of a capacity type it allows.
    fn launchable(
        &self,
        np: usize,
        remaining: &Remaining,
        now: Millis,
        cloud: &Cloud,
    ) -> Vec<usize> {
        let spec = &self.config.nodepools[np];
        let catalogue = cloud.instance_types();
        let (od, spot) = (spec.capacity.on_demand, spec.capacity.spot);
        spec.types
            .iter()
            .copied()
            .filter(|&t| remaining.admits(catalogue[t].cpu.0, catalogue[t].memory.0))
            .filter(|&t| {
                spec.zones.iter().any(|&z| {
                    (od && self.offering_available(t, z, false, now))
                        || (spot && self.offering_available(t, z, true, now))
                })
            })
            .collect()
    }

    /// Room on registered nodes that accept pods (not cordoned, not
    /// unreachable; Ready ones first, then by node id), then on NodeClaims
    /// still starting (their instance type's allocatable less their
    /// NodePool's DaemonSet pods).
    fn rooms(&self, cluster: &Cluster, cloud: &Cloud, exclude: &[NodeId]) -> Vec<Room> {
        let mut ready = Vec::new();
        let mut starting = Vec::new();
        for n in cluster.nodes() {
            if !n.is_registered() || n.unschedulable || n.unreachable || exclude.contains(&n.id) {
                continue;
            }
            let room = Room {
                pool: n.spec.pool.index(),
                free: n.free(),
                slots: n.spec.max_pods.saturating_sub(n.pods.len() as u32),
                initialized: n.ready_at.is_some(),
            };
            if n.is_ready() {
                ready.push(room);
            } else {
                starting.push(room);
            }
        }
        ready.extend(starting);
        for c in &self.claims {
            if !self.in_flight(c, cloud) {
                continue;
            }
            let pool = self.config.nodepools[c.nodepool].pool.index();
            let (used, pods) = daemon_overhead(cluster.workloads(), pool);
            let alloc = cloud.type_allocatable(c.instance_type);
            let max_pods = cloud.instance_types()[c.instance_type].max_pods;
            ready.push(Room {
                pool,
                free: Resources::new(
                    crate::quantity::MilliCpu(alloc.cpu.0.saturating_sub(used.cpu.0)),
                    crate::quantity::Bytes(alloc.memory.0.saturating_sub(used.memory.0)),
                )
                .with_gpu(alloc.gpu.saturating_sub(used.gpu)),
                slots: max_pods.saturating_sub(pods),
                initialized: false,
            });
        }
        ready
    }

    /// Each NodePool's limits less the capacity of its live NodeClaims.
    fn remaining(&self, cloud: &Cloud) -> Vec<Remaining> {
        let mut out: Vec<Remaining> = self
            .config
            .nodepools
            .iter()
            .map(|np| Remaining {
                cpu: np.limits.cpu.map(|c| i128::from(c.0)),
                memory: np.limits.memory.map(|m| i128::from(m.0)),
            })
            .collect();
        for c in &self.claims {
            if self.exists(c, cloud) {
                let t = &cloud.instance_types()[c.instance_type];
                out[c.nodepool].take(t.cpu.0, t.memory.0);
            }
        }
        out
    }
}

/// Adds a pod's requests to a draft if some instance type still holds
/// everything; narrows the draft's types to those that do.
fn add(d: &mut Draft, req: Resources, cloud: &Cloud) -> bool {
    let used = d.used + req;
    let pods = d.pods + 1;
    let catalogue = cloud.instance_types();
    let fits = |t: usize| used.fits_in(&cloud.type_allocatable(t)) && pods <= catalogue[t].max_pods;
    if !d.types.iter().any(|&t| fits(t)) {
        return false;
    }
    d.types.retain(|&t| fits(t));
    d.used = used;
    d.pods = pods;
    d.own += 1;
    true
}

/// Requests and count of the DaemonSet pods that would run on a node of
/// `pool` (Karpenter's daemon overhead).
fn daemon_overhead(workloads: &[Workload], pool: usize) -> (Resources, u32) {
    let mut r = Resources::default();
    let mut n = 0;
    for w in workloads {
        if matches!(w.spec.kind, WorkloadKind::DaemonSet { .. }) && w.fits_pool[pool] {
            r += w.spec.requests;
            n += 1;
        }
    }
    (r, n)
}

/// Provisionable pods (`pod.IsProvisionable`): pending, marked
/// unschedulable by a failed attempt, not waiting for a preemption they
/// triggered, not DaemonSet pods; by cpu then memory, largest first, then
/// oldest.
pub(super) fn provisionable(cluster: &Cluster) -> Vec<PodId> {
    let workloads = cluster.workloads();
    let mut pods: Vec<PodId> = cluster
        .pods()
        .iter()
        .filter(|p| {
            p.state() == PodState::Pending
                && p.attempts > 0
                && p.nominated.is_none()
                && !matches!(
                    workloads[p.workload.index()].spec.kind,
                    WorkloadKind::DaemonSet { .. }
                )
        })
        .map(|p| p.id)
        .collect();
    sort_pods(cluster, &mut pods);
    pods
}

/// Karpenter's queue order: cpu, then memory, largest first, then oldest.
pub(super) fn sort_pods(cluster: &Cluster, pods: &mut [PodId]) {
    let all = cluster.pods();
    pods.sort_by_key(|&p| {
        let pod = &all[p.index()];
        (
            Reverse(pod.requests.cpu),
            Reverse(pod.requests.memory),
            pod.created_at,
            p,
        )
    });
}
