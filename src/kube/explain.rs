//! Explanations for a trace: why the scheduler rejects a pod, and who
//! holds the room a stuck cluster's pending system pods could use.
//!
//! These read the cluster's state and scan nodes and pods, so only
//! `poolsim trace` calls them (once per rejected attempt, and once at the
//! end); the run loop never does. `diagnosis.rs` keeps the one-word cause
//! written to `runs.csv`.

use crate::engine::Millis;
use crate::quantity::Resources;

use super::scheduler::Plugins;
use super::scheduler::topology::Plan;
use super::{Cluster, NodeId, PodClass, PodId, PodState, WorkloadId};

/// Why the nodes a pod was tried against were rejected, counted per reason
/// as kube-scheduler's "0/N nodes are available" message does (a node may
/// count under several resource reasons).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rejection {
    /// Registered nodes considered.
    pub nodes: u32,
    /// In a pool the pod may not use (nodeSelector, affinity, pool taints).
    pub pool_mismatch: u32,
    /// Not Ready (network plugin not running yet, or unreachable).
    pub not_ready: u32,
    /// Cordoned.
    pub cordoned: u32,
    /// Not enough free cpu.
    pub insufficient_cpu: u32,
    /// Not enough free memory.
    pub insufficient_memory: u32,
    /// Without enough free `nvidia.com/gpu`.
    pub insufficient_gpu: u32,
    /// At their pod limit.
    pub too_many_pods: u32,
    /// With room, but in another zone than the pod's bound volumes
    /// ("volume node affinity conflict").
    pub volume_conflict: u32,
    /// With room, but a DoNotSchedule spread constraint's skew would be
    /// exceeded ("didn't match pod topology spread constraints").
    pub spread_skew: u32,
    /// With room, but required pod affinity or anti-affinity (the pod's or
    /// an existing pod's) rules it out ("didn't match pod affinity rules").
    pub pod_affinity: u32,
}

/// A Running or starting user pod holding room on a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The pod.
    pub pod: PodId,
    /// Its requests.
    pub requests: Resources,
    /// Since when it runs (or, if still starting, since its creation).
    pub since: Millis,
    /// Whether its containers are running.
    pub running: bool,
    /// The services it needs that are down: it makes no progress.
    pub stalled_on: Vec<WorkloadId>,
}

/// A node the pending system pods could use, and the user pods on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldNode {
    /// The node.
    pub node: NodeId,
    /// Its free room.
    pub free: Resources,
    /// The user pods bound there.
    pub holders: Vec<Holder>,
}

/// A pending system pod and why it does not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingPod {
    /// The pod.
    pub pod: PodId,
    /// Pending since its creation.
    pub since: Millis,
    /// What the scheduler would find now.
    pub rejection: Rejection,
}

/// A stuck (or merely unhealthy) cluster explained from its state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StallReport {
    /// System services below their minimum.
    pub services_down: Vec<WorkloadId>,
    /// Pending system pods, oldest first.
    pub pending_system: Vec<PendingPod>,
    /// Ready nodes in pools the pending system pods may use, with the user
    /// pods bound there.
    pub held_nodes: Vec<HeldNode>,
}

impl Cluster {
    /// What the filters say about `pod` against every registered node (or
    /// its pinned node) now.
    pub fn rejection(&self, pod: PodId) -> Rejection {
        let pod = &self.pods[pod.index()];
        let wl = &self.workloads[pod.workload.index()];
        let mut r = Rejection::default();
        let topology = self.select.topology();
        let rules = topology.rules(pod.workload);
        let plan = rules
            .filters()
            .then(|| Plan::new(rules, wl, topology.counts()));
        // A DaemonSet pod is only ever tried against its own node.
        let nodes: Vec<NodeId> = match pod.pinned {
            Some(n) => vec![n],
            None => self.nodes.by_pool().iter().flatten().copied().collect(),
        };
        for id in nodes {
            let n = &self.nodes[id.index()];
            if !n.is_registered() {
                continue;
            }
            r.nodes += 1;
            if !wl.fits_pool[n.spec.pool.index()] {
                r.pool_mismatch += 1;
            } else if !n.is_ready() || n.unreachable {
                r.not_ready += 1;
            } else if n.unschedulable {
                r.cordoned += 1;
            } else {
                let free = n.free();
                let cpu = pod.requests.cpu > free.cpu;
                let memory = pod.requests.memory > free.memory;
                let gpu = pod.requests.gpu > free.gpu;
                let slots = n.pods.len() as u32 >= n.spec.max_pods;
                r.insufficient_cpu += u32::from(cpu);
                r.insufficient_memory += u32::from(memory);
                r.insufficient_gpu += u32::from(gpu);
                r.too_many_pods += u32::from(slots);
                // VolumeBinding runs after NodeResourcesFit, then
                // PodTopologySpread and InterPodAffinity.
                let room = !(cpu || memory || gpu || slots);
                let zone_ok = wl.volumes_allow(pod.slot, n);
                r.volume_conflict += u32::from(room && !zone_ok);
                if room && zone_ok {
                    match plan.as_ref().and_then(|p| p.rejects(topology.counts(), n)) {
                        Some(p) if p == Plugins::POD_TOPOLOGY_SPREAD => r.spread_skew += 1,
                        Some(_) => r.pod_affinity += 1,
                        None => {}
                    }
                }
            }
        }
        r
    }

    /// Which system services are down, which system pods are pending and
    /// why, and which user pods hold the nodes those pods may use.
    pub fn stall_report(&self) -> StallReport {
        let services_down: Vec<WorkloadId> = self
            .workloads
            .iter()
            .enumerate()
            .filter(|(_, w)| w.spec.class == PodClass::System && w.is_unavailable())
            .map(|(i, _)| WorkloadId(i as u16))
            .collect();
        let mut pending_system: Vec<PendingPod> = self
            .pods
            .iter()
            .filter(|p| {
                p.state() == PodState::Pending
                    && self.workloads[p.workload.index()].spec.class == PodClass::System
            })
            .map(|p| PendingPod {
                pod: p.id,
                since: p.created_at,
                rejection: self.rejection(p.id),
            })
            .collect();
        pending_system.sort_by_key(|p| (p.since, p.pod));
        // The pools any pending system pod may use.
        let mut usable = vec![false; self.nodes.by_pool().len()];
        for p in &pending_system {
            let pod = &self.pods[p.pod.index()];
            let fits = &self.workloads[pod.workload.index()].fits_pool;
            for (u, f) in usable.iter_mut().zip(fits) {
                *u |= *f;
            }
        }
        let mut held_nodes = Vec::new();
        for (pool, list) in self.nodes.by_pool().iter().enumerate() {
            if !usable[pool] {
                continue;
            }
            let mut ids = list.clone();
            ids.sort_unstable();
            for id in ids {
                let n = &self.nodes[id.index()];
                if !n.is_ready() {
                    continue;
                }
                let mut holders: Vec<Holder> =
                    n.pods.iter().filter_map(|&q| self.user_holder(q)).collect();
                holders.sort_by_key(|h| h.pod);
                held_nodes.push(HeldNode {
                    node: id,
                    free: n.free(),
                    holders,
                });
            }
        }
        StallReport {
            services_down,
            pending_system,
            held_nodes,
        }
    }

    /// A user pod bound to a node, as a holder of its room: `None` for a
    /// system pod or one that holds the room without running or starting.
    fn user_holder(&self, pid: PodId) -> Option<Holder> {
        let q = &self.pods[pid.index()];
        let wl = &self.workloads[q.workload.index()];
        if wl.spec.class != PodClass::User {
            return None;
        }
        let running = match q.state() {
            PodState::Running(_) | PodState::Unready(_) => true,
            PodState::Starting(_) => false,
            _ => return None,
        };
        let stalled_on = wl
            .spec
            .needs
            .iter()
            .copied()
            .filter(|s| self.workloads[s.index()].is_unavailable())
            .collect();
        Some(Holder {
            pod: q.id,
            requests: q.requests,
            since: q.started_at.unwrap_or(q.created_at),
            running,
            stalled_on,
        })
    }
}
