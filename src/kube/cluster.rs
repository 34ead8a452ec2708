//! The cluster's state and its event handling: what happens when a node
//! joins, a pod is tried, a pod starts.

use rand_chacha::ChaCha8Rng;

use crate::engine::{Context, Millis, RngStreams, Stream};
use crate::quantity::Delay;

use super::node_lifecycle::ZoneCounts;
use super::replicaset::{RateLimiter, ReplicaSetController};
use super::scheduler::{
    self, EventView, NodeView, SchedulerConfig, SchedulingQueue, SelectState, score::non_zero,
};
use super::workload::new_workload;
use super::{
    KubeRecord, Node, NodeCondition, NodeId, NodeSpec, Pod, PodClass, PodId, PodState, PoolInfo,
    QueueSlot, Workload, WorkloadId, WorkloadKind, WorkloadSpec,
};

/// Timings of the control plane; defaults are Kubernetes' of the newest
/// version modelled (`docs/fidelity.md`, "Node lifecycle", "Controllers"
/// and "Scheduler queue").
#[derive(Debug, Clone, PartialEq)]
pub struct KubeConfig {
    /// `node-monitor-period` (5 s).
    pub node_monitor_period: Millis,
    /// `node-monitor-grace-period`: 40 s up to 1.31, 50 s from 1.32
    /// ([`super::KubeVersion::node_monitor_grace_period`]).
    pub node_monitor_grace_period: Millis,
    /// PodGC loop period (20 s).
    pub pod_gc_period: Millis,
    /// How long PodGC waits after a node is gone before deleting its pods
    /// (40 s orphan quarantine).
    pub pod_gc_quarantine: Millis,
    /// From a pod's deletion to its controller creating a replacement
    /// (UNCONFIRMED; default 1 s).
    pub controller_delay: Millis,
    /// Spacing of successive pod creations by controllers once their burst
    /// is spent: 50 ms, i.e. kube-controller-manager's default
    /// `--kube-api-qps` of 20 (managed control planes often raise it).
    pub pod_create_interval: Millis,
    /// Creations allowed at once before the rate applies:
    /// `--kube-api-burst`, 30. Each controller has its own API client, so
    /// its own bucket.
    pub pod_create_burst: u32,
    /// `--concurrent-replicaset-syncs` (5): ReplicaSets synced at once.
    pub concurrent_replicaset_syncs: u32,
    /// `burstReplicas` (500): most pods one ReplicaSet sync creates.
    pub replicaset_burst: u32,
    /// From binding to containers running (image pull, start).
    pub pod_startup: Delay,
    /// How long an instance still counts as existing for the cloud node
    /// lifecycle controller after EC2 reports it `terminated` (default 0 s:
    /// cloud-provider-aws answers from `DescribeInstances`, which reports
    /// the state at once; the Node goes at the first pass after that).
    pub terminated_instance_visible_for: Millis,
    /// `--node-eviction-rate`: NoExecute taints per second per zone (0.1).
    pub node_eviction_rate: f64,
    /// `--secondary-node-eviction-rate` (0.01), for partially disrupted
    /// zones larger than `large_cluster_size_threshold`.
    pub secondary_node_eviction_rate: f64,
    /// `--large-cluster-size-threshold` (50).
    pub large_cluster_size_threshold: u32,
    /// `--unhealthy-zone-threshold` (0.55).
    pub unhealthy_zone_threshold: f64,
    /// `--default-unreachable-toleration-seconds` (300 s).
    pub default_toleration_seconds: Millis,
    /// First retry of a failed controller sync (work queue rate limiter:
    /// 5 ms).
    pub controller_retry_initial: Millis,
    /// Longest retry of a failed controller sync (1000 s).
    pub controller_retry_max: Millis,
    /// Scheduler settings.
    pub scheduler: SchedulerConfig,
}

impl Default for KubeConfig {
    fn default() -> Self {
        KubeConfig {
            node_monitor_period: Millis::from_secs(5),
            node_monitor_grace_period: super::KubeVersion::NEWEST.node_monitor_grace_period(),
            pod_gc_period: Millis::from_secs(20),
            pod_gc_quarantine: Millis::from_secs(40),
            controller_delay: Millis::from_secs(1),
            pod_create_interval: Millis(50),
            pod_create_burst: 30,
            concurrent_replicaset_syncs: 5,
            replicaset_burst: 500,
            pod_startup: Delay::Fixed(Millis::from_secs(5)),
            terminated_instance_visible_for: Millis::ZERO,
            node_eviction_rate: 0.1,
            secondary_node_eviction_rate: 0.01,
            large_cluster_size_threshold: 50,
            unhealthy_zone_threshold: 0.55,
            default_toleration_seconds: Millis::from_secs(300),
            controller_retry_initial: Millis(5),
            controller_retry_max: Millis::from_secs(1000),
            scheduler: SchedulerConfig::default(),
        }
    }
}

/// Events the Kubernetes side schedules for itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KubeEvent {
    /// One scheduling cycle: try the head of activeQ.
    ScheduleOne,
    /// Move pods whose backoff expired to activeQ.
    FlushBackoff,
    /// Move pods stuck in unschedulablePods for too long.
    FlushUnschedulable,
    /// A bound pod's containers are up.
    PodStarted(PodId),
    /// The node lifecycle controllers' periodic check.
    NodeMonitor,
    /// The pod garbage collector's periodic sweep.
    PodGc,
    /// A controller creates a pod in this replica slot (for a DaemonSet,
    /// the slot is the node's index).
    CreatePod(WorkloadId, u32),
    /// The ReplicaSet controller's informer adds this ReplicaSet's key to
    /// the work queue.
    ReplicaSetAdd(WorkloadId),
    /// The work queue's rate-limited re-add of this ReplicaSet's key falls
    /// due (stale unless it is the key's earliest pending re-add).
    ReplicaSetRetry(WorkloadId),
    /// A create call of this ReplicaSet worker returns.
    ReplicaSetCreate(u16),
    /// A gracefully deleted pod's grace period is over: it is gone.
    PodTerminated(PodId),
    /// The pod's toleration of its node's `unreachable:NoExecute` taint may
    /// have run out.
    TaintEvict(PodId),
    /// A controller retries creating the pods an admission webhook
    /// rejected.
    RetryCreate(WorkloadId),
    /// A Job of this workload arrives.
    JobArrival(WorkloadId),
    /// Job pods of this workload may have finished their work (stale unless
    /// the epoch matches).
    JobCheck(WorkloadId, u32),
    /// Retry the evictions a PodDisruptionBudget refused on a draining node.
    DrainRetry(NodeId),
}

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
}

/// The Kubernetes state of one run.
pub struct Cluster {
    pub(super) config: KubeConfig,
    pub(super) nodes: Vec<Node>,
    /// Registered (not deleted) nodes of each pool, in no meaningful order
    /// (swap-removed): the scheduler's index.
    pub(super) by_pool: Vec<Vec<NodeId>>,
    /// Registered nodes in all pools.
    pub(super) registered: usize,
    /// Per pool: whether a network-plugin DaemonSet runs there, so its nodes
    /// join NotReady.
    pub(super) pool_gated: Vec<bool>,
    /// The scheduler's state between cycles.
    pub(super) select: SelectState,
    /// Node counts per zone, for the node lifecycle controller.
    pub(super) zones: Vec<ZoneCounts>,
    pub(super) pods: Vec<Pod>,
    pub(super) workloads: Vec<Workload>,
    pub(super) queue: SchedulingQueue,
    /// The ReplicaSet controller's work queue, workers and API client.
    pub(super) replicasets: ReplicaSetController,
    /// The Job controller's API client.
    pub(super) job_client: RateLimiter,
    /// The DaemonSet controller's API client.
    pub(super) daemonset_client: RateLimiter,
    /// Nodes whose heartbeat stopped and that are not yet deleted.
    pub(super) lost_nodes: Vec<NodeId>,
    /// Deleted nodes whose pods PodGC has not yet removed.
    pub(super) orphan_nodes: Vec<NodeId>,
    pub(super) armed: Armed,
    pub(super) status: ClusterStatus,
    pub(super) tie_rng: ChaCha8Rng,
    pub(super) order_rng: ChaCha8Rng,
    pub(super) startup_rng: ChaCha8Rng,
    pub(super) work_rng: ChaCha8Rng,
    pub(super) arrival_rng: ChaCha8Rng,
    /// Job workloads whose progress (needed services) changed during the
    /// current event; their progress clocks are updated at its end.
    pub(super) job_dirty: Vec<WorkloadId>,
    /// What happened, for `poolsim trace`; `None` (nothing kept) unless
    /// asked for.
    pub(super) journal: Option<Vec<super::KubeRecord>>,
}

/// A change to the cluster that may make pending pods schedulable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Change {
    /// A node registered (`Node/Add`).
    NodeAdded(NodeId),
    /// Run-time taints left a node (it turned Ready, or was uncordoned):
    /// `Node/UpdateNodeTaint`, with the node's taints before.
    TaintsRemoved {
        /// The node.
        node: NodeId,
        /// Its run-time taints before the change.
        before: RuntimeTaints,
    },
    /// A pod bound to a node was deleted or finished (`AssignedPodDelete`).
    AssignedPodDeleted,
}

/// A node's run-time taints: `unschedulable` (cordon), `not-ready`,
/// `unreachable`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RuntimeTaints {
    /// Cordoned.
    pub unschedulable: bool,
    /// NotReady (and not unreachable).
    pub not_ready: bool,
    /// Unreachable.
    pub unreachable: bool,
}

impl RuntimeTaints {
    /// The node's taints now.
    pub fn of(n: &Node) -> RuntimeTaints {
        RuntimeTaints {
            unschedulable: n.unschedulable,
            not_ready: n.condition == NodeCondition::NotReady && !n.unreachable,
            unreachable: n.unreachable,
        }
    }
}

/// How `pod`'s filters see `node` with the run-time taints `state`.
fn node_view(
    nodes: &[Node],
    workloads: &[Workload],
    node: NodeId,
    pod: &Pod,
    state: RuntimeTaints,
) -> NodeView {
    let n = &nodes[node.index()];
    let wl = &workloads[pod.workload.index()];
    let v = wl.pool_verdict[n.spec.pool.index()];
    let d = wl.dynamic;
    let runtime = (state.unschedulable && !d.unschedulable)
        || (state.not_ready && !d.not_ready)
        || (state.unreachable && !d.unreachable);
    NodeView {
        // A DaemonSet pod's affinity names its node.
        labels_match: v.labels_match && pod.pinned.is_none_or(|p| p == node),
        untolerated_no_schedule: v.untolerated_no_schedule || runtime,
        untolerated_no_execute: v.untolerated_no_execute,
        unschedulable: state.unschedulable,
        fits_allocatable: n.spec.max_pods > 0 && pod.requests.fits_in(&n.spec.allocatable),
        fits_now: scheduler::fits_resources(pod, n, Default::default()),
    }
}

/// Which self-rescheduling events are already in the queue, so each is
/// scheduled at most once.
#[derive(Debug, Default)]
pub(super) struct Armed {
    pub schedule_one: bool,
    pub backoff: bool,
    pub leftover: bool,
    pub monitor: bool,
    pub gc: bool,
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
        for i in 0..ws.len() {
            for need in ws[i].spec.needs.clone() {
                ws[need.index()].dependents.push(WorkloadId(i as u16));
            }
        }
        // Each controller builds its own API client, so its own bucket.
        let client = RateLimiter::new(config.pod_create_interval, config.pod_create_burst);
        let replicasets = ReplicaSetController::new(
            ws.len(),
            config.concurrent_replicaset_syncs,
            config.replicaset_burst,
            client.clone(),
        );
        let mut status = ClusterStatus {
            wanted_user_mcpu: ws
                .iter()
                .filter(|w| {
                    w.spec.class == PodClass::User
                        && w.spec.kind == WorkloadKind::Deployment
                        && !w.spec.placeholder
                })
                .map(|w| u64::from(w.spec.replicas) * w.spec.requests.cpu.0)
                .sum(),
            ..ClusterStatus::default()
        };
        // Nothing runs yet, so every service starts below its minimum.
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
        Cluster {
            config,
            nodes: Vec::new(),
            by_pool: vec![Vec::new(); pools.len()],
            registered: 0,
            pool_gated,
            select: SelectState::default(),
            zones: Vec::new(),
            pods: Vec::new(),
            workloads: ws,
            queue: SchedulingQueue::default(),
            replicasets,
            job_client: client.clone(),
            daemonset_client: client,
            lost_nodes: Vec::new(),
            orphan_nodes: Vec::new(),
            armed: Armed::default(),
            status,
            tie_rng: rng.stream(Stream::TieBreak),
            order_rng: rng.stream(Stream::PodOrder),
            startup_rng: rng.stream(Stream::PodStartup),
            work_rng: rng.stream(Stream::WorkSizes),
            arrival_rng: rng.stream(Stream::JobArrivals),
            job_dirty: Vec::new(),
            journal: None,
        }
    }

    /// Summary counters.
    pub fn status(&self) -> ClusterStatus {
        self.status
    }

    /// All nodes ever created.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
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

    /// Creates every replica of every Deployment, system workloads first, as
    /// a cluster brought up from scratch starts its system pods first.
    /// DaemonSet pods are created as nodes join.
    pub fn create_initial_pods<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>) {
        for class in [PodClass::System, PodClass::User] {
            for w in 0..self.workloads.len() {
                let spec = &self.workloads[w].spec;
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

    /// A node registers. It is Ready at once unless a network-plugin
    /// DaemonSet must run on it first (then it is NotReady, tainted
    /// `not-ready:NoSchedule`, until that pod runs).
    pub fn node_join<E: From<KubeEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        spec: NodeSpec,
    ) -> NodeId {
        let id = NodeId(self.nodes.len() as u32);
        let pool = spec.pool.index();
        let gated = self.pool_gated[pool];
        self.nodes.push(Node {
            id,
            spec,
            requested: Default::default(),
            requested_for_scoring: Default::default(),
            pods: Vec::new(),
            condition: if gated {
                NodeCondition::NotReady
            } else {
                NodeCondition::Ready
            },
            unreachable: false,
            no_execute_since: None,
            unschedulable: false,
            daemon_pods: Vec::new(),
            nominated: Vec::new(),
            joined_at: ctx.now(),
            heartbeat_lost_at: None,
            not_ready_since: None,
            instance_gone_at: None,
            deleted_at: None,
            pool_slot: Some(self.by_pool[pool].len()),
        });
        self.by_pool[pool].push(id);
        self.refresh_node(id);
        self.registered += 1;
        self.zone_count(id, 1, i32::from(gated));
        if !gated {
            self.status.ready_nodes += 1;
        }
        self.status.progress_steps += 1;
        self.note(KubeRecord::NodeJoined(id));
        if !gated {
            self.note(KubeRecord::NodeReady(id));
        }
        self.create_daemon_pods(ctx, id);
        self.cluster_event(ctx, Change::NodeAdded(id));
        self.flush_job_dirty(ctx);
        id
    }

    /// The machine behind `node` stopped answering (impaired, or shutting
    /// down): its heartbeats stop and its pods stop serving at once, though
    /// the API only notices later. The Node stays until its instance is
    /// gone ([`Cluster::instance_gone`]).
    pub fn instance_unreachable<E: From<KubeEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        node: NodeId,
    ) {
        let now = ctx.now();
        if self.nodes[node.index()].heartbeat_lost_at.is_some() {
            return;
        }
        self.nodes[node.index()].heartbeat_lost_at = Some(now);
        self.note(KubeRecord::NodeLost(node));
        for i in 0..self.nodes[node.index()].pods.len() {
            let pid = self.nodes[node.index()].pods[i];
            match self.pods[pid.index()].state {
                PodState::Running(n) => {
                    self.pods[pid.index()].state = PodState::Lost(n);
                    let w = self.pods[pid.index()].workload;
                    self.change_running(w, -1);
                }
                PodState::Starting(n) => {
                    self.pods[pid.index()].state = PodState::Lost(n);
                    let w = self.pods[pid.index()].workload;
                    self.change_pending(w, -1);
                }
                _ => {}
            }
        }
        self.lost_nodes.push(node);
        self.arm_monitor(ctx);
        self.flush_job_dirty(ctx);
    }

    /// The machine behind `node` no longer exists (EC2 reports it
    /// `terminated`): the cloud node lifecycle controller may delete the
    /// Node once it is not Ready. A machine that vanished without a word
    /// stopped answering too.
    pub fn instance_gone<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>, node: NodeId) {
        self.instance_unreachable(ctx, node);
        let n = &mut self.nodes[node.index()];
        if n.instance_gone_at.is_none() {
            n.instance_gone_at = Some(ctx.now());
        }
    }

    /// Handles one Kubernetes event.
    pub fn handle<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>, event: KubeEvent) {
        match event {
            KubeEvent::ScheduleOne => self.schedule_one(ctx),
            KubeEvent::FlushBackoff => {
                self.armed.backoff = false;
                let n = self
                    .queue
                    .flush_backoff(&mut self.pods, ctx.now(), &self.config.scheduler);
                if n > 0 {
                    self.arm_schedule(ctx);
                }
                self.arm_backoff(ctx);
            }
            KubeEvent::FlushUnschedulable => {
                self.armed.leftover = false;
                let moved =
                    self.queue
                        .flush_leftover(&mut self.pods, ctx.now(), &self.config.scheduler);
                self.after_move(ctx, moved);
                self.arm_leftover(ctx);
            }
            KubeEvent::PodStarted(pid) => self.pod_started(ctx, pid),
            KubeEvent::NodeMonitor => self.node_monitor(ctx),
            KubeEvent::PodGc => self.pod_gc(ctx),
            KubeEvent::CreatePod(w, slot) => self.try_create_pod(ctx, w, slot),
            KubeEvent::ReplicaSetAdd(w) => self.replicaset_add(ctx, w),
            KubeEvent::ReplicaSetRetry(w) => self.replicaset_retry(ctx, w),
            KubeEvent::ReplicaSetCreate(k) => self.replicaset_create(ctx, k),
            KubeEvent::RetryCreate(w) => self.retry_create(ctx, w),
            KubeEvent::JobArrival(w) => self.job_arrival(ctx, w),
            KubeEvent::JobCheck(w, epoch) => self.job_check(ctx, w, epoch),
            KubeEvent::DrainRetry(node) => self.drain_pass(ctx, node),
            KubeEvent::TaintEvict(pid) => self.taint_evict(ctx, pid),
            KubeEvent::PodTerminated(pid) => {
                if matches!(self.pods[pid.index()].state, PodState::Terminating(_)) {
                    self.delete_pod(pid);
                    // AssignedPodDelete: the room may help pending pods.
                    self.cluster_event(ctx, Change::AssignedPodDeleted);
                }
            }
        }
        self.flush_job_dirty(ctx);
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
            WorkloadKind::Deployment | WorkloadKind::Job => None,
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
        self.pods.push(Pod {
            id,
            workload: w,
            slot,
            requests: spec.requests,
            priority: spec.priority,
            state: PodState::Pending,
            created_at: now,
            queue_ts: now,
            attempts: 0,
            queue: QueueSlot::None,
            queue_gen: 0,
            unschedulable_since: now,
            rejected_by: scheduler::Plugins::NONE,
            nominated: None,
            pinned,
            started_at: None,
            work_due: None,
        });
        self.workloads[w.index()].live += 1;
        if let Some(n) = pinned {
            self.nodes[n.index()].daemon_pods.push(id);
        }
        self.change_pending(w, 1);
        self.status.pods_created += 1;
        self.note(KubeRecord::PodCreated(id));
        self.queue.push_active(&mut self.pods[id.index()]);
        self.arm_schedule(ctx);
    }

    /// Deletes a pod from the API, releasing what it held on its node.
    pub(super) fn delete_pod(&mut self, pid: PodId) {
        let state = self.pods[pid.index()].state;
        let w = self.pods[pid.index()].workload;
        match state {
            PodState::Deleted | PodState::Succeeded | PodState::Failed => return,
            PodState::Pending => self.change_pending(w, -1),
            PodState::Starting(_) => self.change_pending(w, -1),
            PodState::Running(_) => self.change_running(w, -1),
            PodState::Terminating(_) | PodState::Lost(_) => {}
        }
        self.note(KubeRecord::Deleted {
            pod: pid,
            node: state.node(),
        });
        self.clear_nomination(pid);
        if let Some(node) = state.node() {
            self.release_from_node(pid, node);
        }
        let pod = &mut self.pods[pid.index()];
        SchedulingQueue::forget(pod);
        pod.state = PodState::Deleted;
        // A terminating pod already left its controller's count.
        if !matches!(state, PodState::Terminating(_)) {
            self.workloads[w.index()].live -= 1;
        }
    }

    /// A node joined or turned Ready, or a pod released room: the pods in
    /// unschedulablePods that the event's QueueingHints accept move on
    /// (`MoveAllToActiveOrBackoffQueue`).
    pub(super) fn cluster_event<E: From<KubeEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        change: Change,
    ) {
        if !self.queue.has_unschedulable() {
            return;
        }
        let (nodes, workloads) = (&self.nodes, &self.workloads);
        let hints = self.config.scheduler.queueing_hints;
        let moved =
            self.queue
                .on_cluster_event(&mut self.pods, ctx.now(), &self.config.scheduler, |pod| {
                    let view = |node, state| node_view(nodes, workloads, node, pod, state);
                    let event = match change {
                        Change::NodeAdded(n) => {
                            EventView::NodeAdd(view(n, RuntimeTaints::of(&nodes[n.index()])))
                        }
                        Change::TaintsRemoved { node, before } => EventView::NodeTaintUpdate {
                            old: view(node, before),
                            new: view(node, RuntimeTaints::of(&nodes[node.index()])),
                        },
                        Change::AssignedPodDeleted => EventView::AssignedPodDelete,
                    };
                    scheduler::worth_requeuing(pod.rejected_by, &event, hints)
                });
        self.after_move(ctx, moved);
    }

    pub(super) fn after_move<E: From<KubeEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        moved: scheduler::Moved,
    ) {
        if moved.to_active > 0 {
            self.arm_schedule(ctx);
        }
        if moved.to_backoff > 0 {
            self.arm_backoff(ctx);
            // With pop-from-backoffQ, a pod in backoffQ wakes an idle
            // scheduler (`activeQ.broadcast`).
            if self.config.scheduler.pop_from_backoff {
                self.arm_schedule(ctx);
            }
        }
    }

    pub(super) fn arm_schedule<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>) {
        if !self.armed.schedule_one {
            self.armed.schedule_one = true;
            ctx.schedule_in(Millis::ZERO, KubeEvent::ScheduleOne);
        }
    }

    pub(super) fn arm_backoff<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>) {
        if !self.armed.backoff && self.queue.has_backoff() {
            self.armed.backoff = true;
            let period = self.config.scheduler.backoff_flush_period;
            let at = Millis(ctx.now().0 + 1).next_multiple_of(period);
            ctx.schedule_at(at, KubeEvent::FlushBackoff);
        }
    }

    pub(super) fn arm_leftover<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>) {
        if !self.armed.leftover && self.queue.has_unschedulable() {
            self.armed.leftover = true;
            let period = self.config.scheduler.leftover_flush_period;
            let at = Millis(ctx.now().0 + 1).next_multiple_of(period);
            ctx.schedule_at(at, KubeEvent::FlushUnschedulable);
        }
    }

    /// Takes a deleted node out of its pool's index.
    pub(super) fn unregister(&mut self, node: NodeId) {
        if let Some(pos) = self.nodes[node.index()].pool_slot.take() {
            let pool = self.nodes[node.index()].spec.pool.index();
            self.by_pool[pool].swap_remove(pos);
            if let Some(&moved) = self.by_pool[pool].get(pos) {
                self.nodes[moved.index()].pool_slot = Some(pos);
            }
            self.registered -= 1;
            self.zone_count(node, -1, 0);
        }
    }

    /// Sets a node's Ready condition, keeping the Ready count.
    pub(super) fn set_condition(&mut self, node: NodeId, condition: NodeCondition) {
        let n = &mut self.nodes[node.index()];
        if n.condition == condition {
            return;
        }
        let old = n.condition;
        n.condition = condition;
        self.refresh_node(node);
        if old == NodeCondition::Ready {
            self.status.ready_nodes -= 1;
        }
        if condition == NodeCondition::Ready {
            self.status.ready_nodes += 1;
        }
        if old == NodeCondition::NotReady {
            self.zone_count(node, 0, -1);
        }
        if condition == NodeCondition::NotReady {
            self.zone_count(node, 0, 1);
        }
    }

    /// Updates the progress clocks of Job workloads whose needs changed.
    pub(super) fn flush_job_dirty<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>) {
        while let Some(w) = self.job_dirty.pop() {
            self.job_progress_changed(ctx, w);
        }
    }

    /// Removes a pod's nomination, if any.
    pub(super) fn clear_nomination(&mut self, pid: PodId) {
        if let Some(node) = self.pods[pid.index()].nominated.take() {
            let list = &mut self.nodes[node.index()].nominated;
            if let Some(pos) = list.iter().position(|&p| p == pid) {
                list.swap_remove(pos);
            }
            self.refresh_node(node);
        }
    }

    /// The first node whose row in the scheduler's snapshot disagrees with
    /// it, if any. The snapshot is a cache kept up to date change by change;
    /// the invariant tests call this after every event.
    pub fn snapshot_mismatch(&self) -> Option<NodeId> {
        self.select.snapshot.mismatch(&self.nodes)
    }

    /// Takes a bound pod off `node`: its requests and its pod slot are free
    /// again.
    pub(super) fn release_from_node(&mut self, pid: PodId, node: NodeId) {
        let requests = self.pods[pid.index()].requests;
        let n = &mut self.nodes[node.index()];
        n.requested -= requests;
        n.requested_for_scoring -= non_zero(requests);
        if let Some(pos) = n.pods.iter().position(|&p| p == pid) {
            n.pods.swap_remove(pos);
        }
        self.refresh_node(node);
    }

    /// Copies a node's state into the scheduler's snapshot; called after
    /// every change to what the filters and scores read.
    pub(super) fn refresh_node(&mut self, node: NodeId) {
        self.select.snapshot.refresh(&self.nodes[node.index()]);
    }
}
