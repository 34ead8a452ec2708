//! The cluster's state ([`Cluster`]): its tables of nodes, pods and
//! workloads, its controllers' queues and clients, its random streams, and
//! the creation of pods. Each part with state of its own is one field of a
//! type that owns its transitions: the node table (`node_table.rs`), the
//! controllers (`controllers.rs`), the watchers (`journal.rs`), the
//! scheduler's state and queue (`scheduler/`). Pod transitions are in
//! `pod/transition.rs`, event dispatch in `events.rs`.

use crate::engine::{Context, RngStreams, Stream};

use super::config::KubeConfig;
use super::controllers::Controllers;
use super::events::{Armed, KubeEvent};
use super::journal::Watchers;
use super::node_table::NodeTable;
use super::scheduler::topology::Topology;
use super::scheduler::{SchedulingQueue, SelectState};
use super::streams::Streams;
use super::workload::new_workload;
use super::{
    Node, NodeId, Pod, PodClass, PodId, PoolInfo, Workload, WorkloadId, WorkloadKind, WorkloadSpec,
};

/// The most pods one run may create, of every kind and counting every
/// recreation: a pod is never forgotten (its id is its index), so this
/// bounds the memory of a run's pods.
pub const MAX_PODS_CREATED: usize = 10_000_000;

/// Counters that summarise the cluster at an instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClusterStatus {
    /// Nodes that are Ready.
    pub ready_nodes: u32,
    /// System pods waiting for a node or starting.
    pub pending_system: u32,
    /// User pods waiting for a node or starting.
    pub pending_user: u32,
    /// Running user pods whose needed services are all available.
    pub progressing_user: u32,
    /// Their cpu requests, in millicores: the rate of useful user work.
    pub progressing_user_mcpu: u64,
    /// The cpu requests, in millicores, of the user pods the controllers
    /// want: every replica of each user Deployment and the active pods of
    /// each unfinished Job (the demand user work is measured against).
    pub wanted_user_mcpu: u64,
    /// Running pods (any class) stalled on an unavailable service.
    pub stalled: u32,
    /// System services below their minimum of Running pods.
    pub system_services_down: u32,
    /// Count of forward steps (bindings, starts, node joins); a deadlock is
    /// when this stops moving.
    pub progress_steps: u64,
    /// Pods deleted by scheduler preemption.
    pub preemptions: u64,
    /// Pods evicted by the taint manager (NoExecute).
    pub evictions: u64,
    /// Controller syncs whose pod creation a down webhook rejected.
    pub webhook_rejections: u64,
    /// Jobs that completed.
    pub jobs_completed: u64,
    /// Jobs that failed (backoff limit).
    pub jobs_failed: u64,
    /// Pods evicted by drains (Eviction API).
    pub drain_evictions: u64,
    /// Scheduling cycles: pods popped from the queue and tried.
    pub scheduling_attempts: u64,
    /// Pods created (every replacement counts).
    pub pods_created: u64,
    /// Pods that failed their first scheduling attempt (the scheduler set
    /// their `PodScheduled` condition to False): what wakes Karpenter.
    pub first_failures: u64,
    /// Pods whose containers run but that are not yet Ready (their
    /// workload's `readiness_delay` is not over): they serve nothing yet.
    pub unready: u32,
}

/// The Kubernetes state of one run.
pub struct Cluster {
    /// The control plane's timings and settings.
    pub(super) config: KubeConfig,
    /// The nodes, indexed by pool and counted by zone, and the lost and
    /// deleted ones the controllers have yet to visit.
    pub(super) nodes: NodeTable,
    /// The scheduler's state between cycles.
    pub(super) select: SelectState,
    /// Every pod ever created, by id; a pod's state changes only through
    /// `Cluster::set_pod_state`.
    pub(super) pods: Vec<Pod>,
    /// The workloads and their counters.
    pub(super) workloads: Vec<Workload>,
    /// The scheduling queue.
    pub(super) queue: SchedulingQueue,
    /// The controllers' queues, API clients and per-event work.
    pub(super) controllers: Controllers,
    /// Which self-rescheduling loops have their next event queued.
    pub(super) armed: Armed,
    /// The summary counters.
    pub(super) status: ClusterStatus,
    /// The random streams, one per kind of draw.
    pub(super) streams: Streams,
    /// The journal and the pod-events watch, each kept once asked for.
    pub(super) watchers: Watchers,
    /// Whether futile scheduling attempts may be handled in place, as
    /// later events of one `ScheduleOne` ([`Cluster::set_attempts_in_place`]).
    pub(super) attempts_in_place: bool,
}

impl Cluster {
    /// A cluster with no nodes and no pods. `pools[p]` gives the labels and
    /// taints of nodes in pool `p`.
    pub fn new(
        config: KubeConfig,
        workloads: Vec<WorkloadSpec>,
        pools: &[PoolInfo],
        rng: &RngStreams,
    ) -> Self {
        let mut ws: Vec<Workload> = workloads
            .into_iter()
            .map(|spec| new_workload(spec, pools, config.default_toleration_seconds))
            .collect();
        let pool_gated = (0..pools.len())
            .map(|p| {
                ws.iter().any(|w| {
                    w.fits_pool[p]
                        && matches!(
                            w.spec.kind,
                            WorkloadKind::DaemonSet {
                                network_plugin: true
                            }
                        )
                })
            })
            .collect();
        let status = link_workloads(&mut ws);
        let specs: Vec<&WorkloadSpec> = ws.iter().map(|w| &w.spec).collect();
        let topology = Topology::new(&specs, pools.len(), config.scheduler.default_spreading);
        let controllers = Controllers::new(&config, ws.len(), rng.stream(Stream::VolumeAttach));
        Cluster {
            config,
            nodes: NodeTable::new(pool_gated),
            select: SelectState::new(topology),
            pods: Vec::new(),
            workloads: ws,
            queue: SchedulingQueue::default(),
            controllers,
            armed: Armed::default(),
            status,
            streams: Streams::new(rng),
            watchers: Watchers::default(),
            attempts_in_place: false,
        }
    }

    /// Lets the scheduler handle futile attempts in place
    /// ([`crate::engine::Context::handle_next_at`]): only for a caller
    /// that observes nothing of such an attempt after each event (no
    /// journal, no watcher reading the failures it counts, no time
    /// series sampled between events).
    pub fn set_attempts_in_place(&mut self, on: bool) {
        self.attempts_in_place = on;
    }

    /// Summary counters.
    pub fn status(&self) -> ClusterStatus {
        self.status
    }

    /// All nodes ever created.
    pub fn nodes(&self) -> &[Node] {
        self.nodes.all()
    }

    /// Whether the run has created as many pods as it may
    /// ([`MAX_PODS_CREATED`]); the cluster then creates no more.
    pub fn pod_limit_reached(&self) -> bool {
        self.pods.len() >= MAX_PODS_CREATED
    }

    /// All pods ever created.
    pub fn pods(&self) -> &[Pod] {
        &self.pods
    }

    /// The workloads.
    pub fn workloads(&self) -> &[Workload] {
        &self.workloads
    }

    /// Registered nodes by pool, in no meaningful order: the scheduler's
    /// index.
    pub fn pool_nodes(&self) -> &[Vec<NodeId>] {
        self.nodes.by_pool()
    }

    /// The scheduling queue.
    pub(super) fn queue(&self) -> &SchedulingQueue {
        &self.queue
    }

    /// Creates every replica of every Deployment, system workloads first, as
    /// a cluster brought up from scratch starts its system pods first.
    /// DaemonSet pods are created as nodes join.
    pub fn create_initial_pods<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>) {
        for class in [PodClass::System, PodClass::User] {
            for w in 0..self.workloads.len() {
                let spec = &self.workloads[w].spec;
                if spec.class == class && spec.kind == WorkloadKind::StatefulSet {
                    self.create_initial_stateful(ctx, WorkloadId(w as u16));
                    continue;
                }
                if spec.class != class || spec.kind != WorkloadKind::Deployment {
                    continue;
                }
                for slot in 0..spec.replicas {
                    self.create_pod(ctx, WorkloadId(w as u16), slot);
                }
            }
        }
        self.start_jobs(ctx);
    }

    /// A controller creates a pod; it enters activeQ. A DaemonSet pod
    /// (slot = node index) is pinned to its node, and not created if the
    /// node is gone.
    pub(super) fn create_pod<E: From<KubeEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        w: WorkloadId,
        slot: u32,
    ) {
        let now = ctx.now();
        let spec = &self.workloads[w.index()].spec;
        let pinned = match spec.kind {
            WorkloadKind::Deployment | WorkloadKind::Job | WorkloadKind::StatefulSet => None,
            WorkloadKind::DaemonSet { .. } => {
                let node = NodeId(slot);
                if !self.nodes[node.index()].is_registered() {
                    return;
                }
                Some(node)
            }
        };
        if self.pods.len() >= MAX_PODS_CREATED {
            // The run is over: `World::exhausted` reports it.
            return;
        }
        let id = PodId(self.pods.len() as u32);
        let pod = Pod::new(id, w, slot, spec.requests, spec.priority, pinned, now);
        self.add_pod(pod);
        if let Some(n) = pinned {
            self.nodes[n.index()].daemon_pods.push(id);
        }
        self.queue.push_active(&mut self.pods[id.index()]);
        self.arm_schedule(ctx);
    }
}

/// Links each workload to the workloads that need it and returns the
/// cluster's counters before any pod exists: the user demand of the
/// Deployments, and every service below its minimum (nothing runs yet).
fn link_workloads(ws: &mut [Workload]) -> ClusterStatus {
    for i in 0..ws.len() {
        for need in ws[i].spec.needs.clone() {
            ws[need.index()].dependents.push(WorkloadId(i as u16));
        }
    }
    let mut status = ClusterStatus {
        wanted_user_mcpu: ws
            .iter()
            .filter(|w| {
                w.spec.class == PodClass::User
                    && matches!(
                        w.spec.kind,
                        WorkloadKind::Deployment | WorkloadKind::StatefulSet
                    )
                    && !w.spec.placeholder
            })
            .map(|w| u64::from(w.spec.replicas) * w.spec.requests.cpu.0)
            .sum(),
        ..ClusterStatus::default()
    };
    for i in 0..ws.len() {
        if ws[i].is_unavailable() {
            if ws[i].spec.class == PodClass::System {
                status.system_services_down += 1;
            }
            for d in ws[i].dependents.clone() {
                ws[d.index()].unmet_needs += 1;
            }
        }
    }
    status
}
