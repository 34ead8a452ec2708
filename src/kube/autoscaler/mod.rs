//! The cluster autoscaler (kubernetes/autoscaler `cluster-autoscaler`), as its
//! FAQ documents it, with its defaults (`docs/fidelity.md`, "Cluster
//! autoscaler").
//!
//! Every `scan_interval` the world builds a [`GroupSnapshot`] per node group
//! (ASG) from the cloud and calls [`Autoscaler::scan`], which reads the
//! cluster (pending pods, nodes) and returns [`Action`]s: set a group's
//! target size, drain a node, delete a node (terminate its instance and
//! decrement the desired capacity). The world applies them through the
//! cloud and the cluster; this module touches neither.
//!
//! One scan, in the order of `StaticAutoscaler.RunOnce`:
//! 1. scale-up requests that have not produced their nodes within
//!    `max_node_provision_time`, or whose group reports a failed launch,
//!    back the group off and return its target to what exists
//!    (`backoff.rs`);
//! 2. above max(`ok_total_unready_count`, `max_total_unready_percentage`)
//!    unready nodes the autoscaler halts ("CA halts all operations", FAQ).
//!    A registered node that is not Ready is `NotStarted` while younger than
//!    `max_node_startup_time` (it counts as upcoming capacity, not as
//!    unready) and `Unready` after ([`Readiness`], `clusterstate.go`);
//! 3. scale-up for unschedulable pods (`scale_up.rs`, `expander.rs`); a
//!    scan that scales up does not scale down;
//! 4. scale-down of unneeded nodes (`scale_down.rs`).

mod backoff;
mod expander;
mod scale_down;
mod scale_up;

use rand_chacha::ChaCha8Rng;

use crate::engine::{Millis, RngStreams, Stream};
use crate::quantity::Resources;

use super::{Cluster, Node, NodeId, PoolId};
use backoff::Backoff;

/// How the autoscaler chooses among node groups that could help (the
/// `--expander` flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expander {
    /// Uniformly at random (the default through 1.32).
    Random,
    /// The least idle cpu and memory after the scale-up (the default from
    /// 1.33).
    LeastWaste,
    /// The most pods scheduled.
    MostPods,
    /// The highest configured priority (the `cluster-autoscaler-priority-
    /// expander` ConfigMap), random among equals.
    Priority,
}

impl Expander {
    /// The name as the `--expander` flag spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Expander::Random => "random",
            Expander::LeastWaste => "least-waste",
            Expander::MostPods => "most-pods",
            Expander::Priority => "priority",
        }
    }
}

/// The autoscaler's flags; defaults are cluster-autoscaler 1.32's (FAQ,
/// "What are the parameters to CA?").
#[derive(Debug, Clone, PartialEq)]
pub struct AutoscalerConfig {
    /// `--scan-interval` (10 s).
    pub scan_interval: Millis,
    /// `--expander` (random).
    pub expander: Expander,
    /// Per node group (the policy's pool order): its priority for the
    /// `priority` expander (0 when not configured).
    pub priorities: Vec<i32>,
    /// `--max-node-provision-time` (15 min): a scale-up whose nodes have not
    /// registered by then failed.
    pub max_node_provision_time: Millis,
    /// `--initial-node-group-backoff-duration` (5 min).
    pub initial_backoff: Millis,
    /// `--max-node-group-backoff-duration` (30 min).
    pub max_backoff: Millis,
    /// `--node-group-backoff-reset-timeout` (3 h).
    pub backoff_reset: Millis,
    /// `--max-nodes-total` (0: no limit).
    pub max_nodes_total: u32,
    /// `--max-nodes-per-scaleup` (1000): the scale-up burst.
    pub max_nodes_per_scale_up: u32,
    /// `--expendable-pods-priority-cutoff` (-10): pods below it never
    /// trigger a scale-up and do not block a scale-down.
    pub expendable_pods_priority_cutoff: i32,
    /// `--max-total-unready-percentage` (45).
    pub max_total_unready_percentage: f64,
    /// `--ok-total-unready-count` (3).
    pub ok_total_unready_count: u32,
    /// `--max-node-startup-time` (15 min): a registered node NotReady for
    /// longer than this since it joined counts as unready.
    pub max_node_startup_time: Millis,
    /// `--scale-down-enabled` (true).
    pub scale_down_enabled: bool,
    /// `--scale-down-unneeded-time` (10 min).
    pub scale_down_unneeded_time: Millis,
    /// `--scale-down-unready-time` (20 min): how long an unready node must
    /// be unneeded before it goes.
    pub scale_down_unready_time: Millis,
    /// `--scale-down-utilization-threshold` (0.5): max of the cpu and memory
    /// requests over allocatable.
    pub scale_down_utilization_threshold: f64,
    /// `--scale-down-delay-after-add` (10 min).
    pub scale_down_delay_after_add: Millis,
    /// `--scale-down-delay-after-delete` (0 s).
    pub scale_down_delay_after_delete: Millis,
    /// `--scale-down-delay-after-failure` (3 min).
    pub scale_down_delay_after_failure: Millis,
    /// `--skip-nodes-with-system-pods` (true): a node running a kube-system
    /// pod without a PodDisruptionBudget is not removed. poolsim's system
    /// class stands for kube-system.
    pub skip_nodes_with_system_pods: bool,
    /// `--max-empty-bulk-delete` (10): empty nodes deleted per scan.
    pub max_empty_bulk_delete: u32,
    /// `--max-drain-parallelism` (1): non-empty nodes drained at once.
    pub max_drain_parallelism: u32,
    /// `--max-graceful-termination-sec` (600 s) plus `--max-pod-eviction-time`
    /// (2 min): a drain not finished by then failed.
    pub max_drain_time: Millis,
}

impl Default for AutoscalerConfig {
    fn default() -> Self {
        AutoscalerConfig {
            scan_interval: Millis::from_secs(10),
            expander: Expander::Random,
            priorities: Vec::new(),
            max_node_provision_time: Millis::from_mins(15),
            initial_backoff: Millis::from_mins(5),
            max_backoff: Millis::from_mins(30),
            backoff_reset: Millis::from_mins(180),
            max_nodes_total: 0,
            max_nodes_per_scale_up: 1000,
            expendable_pods_priority_cutoff: -10,
            max_total_unready_percentage: 45.0,
            ok_total_unready_count: 3,
            max_node_startup_time: Millis::from_mins(15),
            scale_down_enabled: true,
            scale_down_unneeded_time: Millis::from_mins(10),
            scale_down_unready_time: Millis::from_mins(20),
            scale_down_utilization_threshold: 0.5,
            scale_down_delay_after_add: Millis::from_mins(10),
            scale_down_delay_after_delete: Millis::ZERO,
            scale_down_delay_after_failure: Millis::from_mins(3),
            skip_nodes_with_system_pods: true,
            max_empty_bulk_delete: 10,
            max_drain_parallelism: 1,
            max_drain_time: Millis::from_secs(600 + 120),
        }
    }
}

/// What the autoscaler knows of one node group, built by the world from the
/// cloud before each scan (the cloud provider's `NodeGroup` interface).
#[derive(Debug, Clone, Copy)]
pub struct GroupSnapshot {
    /// The pool (ASG) it is.
    pub pool: PoolId,
    /// Minimum size.
    pub min: u32,
    /// Maximum size.
    pub max: u32,
    /// Target (desired) size.
    pub target: u32,
    /// Instances that exist (launched, not terminated).
    pub instances: u32,
    /// Of those, instances whose node has registered.
    pub registered: u32,
    /// Allocatable of a node of the group's first instance type.
    pub allocatable: Resources,
    /// Capacity (vCPUs, memory) of that instance type: the AWS provider's
    /// template until a node of the group has been seen Ready.
    pub capacity: Resources,
    /// Pod slots of such a node.
    pub max_pods: u32,
    /// The group's last launch failed everywhere (a `Failed` scaling
    /// activity, e.g. insufficient capacity): backed off at once.
    pub launch_failing: bool,
}

/// What the world must do after a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Set the group's desired capacity.
    SetTarget {
        /// The group.
        pool: PoolId,
        /// Its new desired capacity.
        target: u32,
    },
    /// Terminate the group's instances whose node never registered, each
    /// decrementing the desired capacity (`removeOldUnregisteredNodes`
    /// after `max_node_provision_time`).
    RemoveUnregistered(PoolId),
    /// Cordon the node and evict its pods (the CA's drain).
    Drain(NodeId),
    /// Give up a failed drain: make the node schedulable again.
    Uncordon(NodeId),
    /// Terminate the node's instance and decrement its group's desired
    /// capacity.
    Delete(NodeId),
}

/// A scale-up waiting for its nodes.
#[derive(Debug, Clone, Copy)]
struct Request {
    /// When the target was raised.
    at: Millis,
    /// The target it was raised to.
    target: u32,
    /// Nodes added by the scale-ups this request gathers (`Increase`).
    increase: u32,
}

/// Per node group.
#[derive(Debug, Clone, Default)]
struct GroupState {
    request: Option<Request>,
    backoff: Option<Backoff>,
    /// A node of the group has been seen Ready, so its template is a real
    /// node (the CA caches it); until then it is built from the instance
    /// type (`aws_manager.go`, `buildNodeFromTemplate`).
    seen_ready: bool,
}

/// How the autoscaler counts a registered node (`clusterstate.go`,
/// `updateReadinessStats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Readiness {
    /// Ready.
    Ready,
    /// Not Ready and registered less than `max_node_startup_time` ago:
    /// still starting. It is upcoming capacity (a template node stands in
    /// for it), neither unready nor a scale-down candidate.
    NotStarted,
    /// Not Ready and older.
    Unready,
}

/// One node group's registered nodes by [`Readiness`].
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct GroupReadiness {
    /// Ready nodes.
    pub ready: u32,
    /// NotStarted nodes.
    pub not_started: u32,
    /// Unready nodes.
    pub unready: u32,
}

/// The autoscaler of one run.
pub struct Autoscaler {
    config: AutoscalerConfig,
    rng: ChaCha8Rng,
    groups: Vec<GroupState>,
    /// Per node index: since when the node has been unneeded.
    unneeded_since: Vec<Option<Millis>>,
    /// Nodes being drained for removal, and since when.
    draining: Vec<(NodeId, Millis)>,
    last_scale_up: Option<Millis>,
    last_delete: Option<Millis>,
    last_failure: Option<Millis>,
    /// Scale-ups (target raises), for `runs.csv`.
    pub scale_ups: u64,
    /// Nodes removed by scale-down, for `runs.csv`.
    pub scale_downs: u64,
    /// Scans skipped because too many nodes were unready.
    pub halted_scans: u64,
    /// Scratch: pending pods of a scan.
    pending: Vec<super::PodId>,
    /// Scratch: the scan's group snapshots, corrected.
    snapshots: Vec<GroupSnapshot>,
    /// The scan's registered nodes by group and readiness.
    tally: Vec<GroupReadiness>,
}

impl Autoscaler {
    /// An autoscaler over `groups` node groups, drawing from its own
    /// random stream.
    pub fn new(config: AutoscalerConfig, groups: usize, rng: &RngStreams) -> Self {
        Autoscaler {
            config,
            rng: rng.stream(Stream::Autoscaler),
            groups: vec![GroupState::default(); groups],
            unneeded_since: Vec::new(),
            draining: Vec::new(),
            // The autoscaler starts as if it had just scaled up, deleted
            // and failed, so scale-down first waits out its delays
            // (`NewStaticAutoscaler`: lastScaleUpTime, lastScaleDownDeleteTime
            // and lastScaleDownFailTime start at the start time).
            last_scale_up: Some(Millis::ZERO),
            last_delete: Some(Millis::ZERO),
            last_failure: Some(Millis::ZERO),
            scale_ups: 0,
            scale_downs: 0,
            halted_scans: 0,
            pending: Vec::new(),
            snapshots: Vec::new(),
            tally: Vec::new(),
        }
    }

    /// Its flags.
    pub fn config(&self) -> &AutoscalerConfig {
        &self.config
    }

    /// Whether the group is backed off at `now`.
    pub fn backed_off(&self, pool: PoolId, now: Millis) -> bool {
        self.groups[pool.index()]
            .backoff
            .is_some_and(|b| b.active(now))
    }

    /// One scan (`RunOnce`): leaves in `out` what the world must do.
    pub fn scan(
        &mut self,
        now: Millis,
        groups: &[GroupSnapshot],
        cluster: &Cluster,
        out: &mut Vec<Action>,
    ) {
        // Targets as they will be once this scan's own corrections apply.
        let mut groups_now = std::mem::take(&mut self.snapshots);
        groups_now.clear();
        groups_now.extend_from_slice(groups);
        self.count_readiness(now, groups, cluster);
        self.check_requests(now, &mut groups_now, out);
        let groups = &groups_now[..];
        if self.too_many_unready() {
            self.halted_scans += 1;
        } else if !self.scale_up(now, groups, cluster, out) && self.config.scale_down_enabled {
            self.scale_down(now, groups, cluster, out);
        }
        self.snapshots = groups_now;
    }

    /// Scale-ups that failed: the group's launches fail (immediate), or
    /// its nodes did not register within `max_node_provision_time`. The
    /// group is backed off, so another group can be tried (FAQ: "What
    /// happens if a node group fails to scale up?"); a failed launch's
    /// target returns to the instances that exist (AWS: the placeholder
    /// instances go), and instances that never registered are removed.
    fn check_requests(&mut self, now: Millis, groups: &mut [GroupSnapshot], out: &mut Vec<Action>) {
        for g in groups.iter_mut() {
            let state = &mut self.groups[g.pool.index()];
            if let Some(b) = state.backoff
                && b.expired_for_good(now, self.config.backoff_reset)
            {
                state.backoff = None;
            }
            let failing = g.launch_failing && g.target > g.instances;
            if failing && !state.backoff.is_some_and(|b| b.active(now)) {
                // A Failed scaling activity backs the group off at once,
                // whether or not the CA asked for the capacity.
                backoff::fail(&mut state.backoff, now, &self.config);
            }
            let Some(req) = state.request else {
                continue;
            };
            // `areThereUpcomingNodesInNodeGroup`: NotStarted nodes are not
            // provisioned yet.
            let provisioned = g
                .registered
                .saturating_sub(self.tally[g.pool.index()].not_started);
            if provisioned >= req.target.min(g.target) {
                state.request = None;
            } else if failing {
                state.request = None;
                let target = g.instances.max(g.min);
                if target < g.target {
                    out.push(Action::SetTarget {
                        pool: g.pool,
                        target,
                    });
                    g.target = target;
                }
            } else if now.saturating_sub(req.at) >= self.config.max_node_provision_time {
                backoff::fail(&mut state.backoff, now, &self.config);
                state.request = None;
                out.push(Action::RemoveUnregistered(g.pool));
                let gone = g.instances - g.registered.min(g.instances);
                g.target = g.target.saturating_sub(gone).max(g.min);
                g.instances -= gone;
            }
        }
    }

    /// How a registered node counts (`updateReadinessStats`): Ready, else
    /// NotStarted while it joined less than `max_node_startup_time` ago, else
    /// Unready. A node whose machine was lost young is NotStarted too.
    pub(super) fn readiness(&self, node: &Node, now: Millis) -> Readiness {
        if node.is_ready() {
            Readiness::Ready
        } else if now < node.joined_at + self.config.max_node_startup_time {
            Readiness::NotStarted
        } else {
            Readiness::Unready
        }
    }

    /// Tallies the registered nodes of each group by readiness, and notes
    /// the groups that have a Ready node (their template is a real node
    /// from now on).
    fn count_readiness(&mut self, now: Millis, groups: &[GroupSnapshot], cluster: &Cluster) {
        let mut tally = std::mem::take(&mut self.tally);
        tally.clear();
        tally.resize(cluster.pool_nodes().len(), GroupReadiness::default());
        for (pool, nodes) in cluster.pool_nodes().iter().enumerate() {
            for &n in nodes {
                let t = &mut tally[pool];
                match self.readiness(&cluster.nodes()[n.index()], now) {
                    Readiness::Ready => t.ready += 1,
                    Readiness::NotStarted => t.not_started += 1,
                    Readiness::Unready => t.unready += 1,
                }
            }
        }
        for g in groups {
            if tally[g.pool.index()].ready > 0 {
                self.groups[g.pool.index()].seen_ready = true;
            }
        }
        self.tally = tally;
    }

    /// Above max(ok count, percentage of registered nodes) Unready nodes
    /// the cluster is unhealthy and the CA does nothing
    /// (`IsClusterHealthy`); NotStarted nodes do not count.
    fn too_many_unready(&self) -> bool {
        let (mut total, mut unready) = (0u32, 0u32);
        for r in &self.tally {
            total += r.ready + r.not_started + r.unready;
            unready += r.unready;
        }
        let pct = f64::from(total) * self.config.max_total_unready_percentage / 100.0;
        unready > self.config.ok_total_unready_count && f64::from(unready) > pct
    }

    /// `IsNodeGroupHealthy`: a group with fewer Ready nodes than its target
    /// less its scale-up in flight is unhealthy when the shortfall is above
    /// both `ok_total_unready_count` and `max_total_unready_percentage` of
    /// its registered nodes; an unhealthy group is not scaled up. A group
    /// whose target is 0 is healthy.
    pub(super) fn group_healthy(&self, g: &GroupSnapshot) -> bool {
        if g.target == 0 {
            return true;
        }
        let r = self.tally[g.pool.index()];
        let increase = self.groups[g.pool.index()]
            .request
            .map_or(0, |q| q.increase);
        let min_nodes = g.target.saturating_sub(increase);
        let unjustified = min_nodes.saturating_sub(r.ready);
        let registered = r.ready + r.unready + r.not_started;
        let pct = f64::from(registered) * self.config.max_total_unready_percentage / 100.0;
        !(unjustified > self.config.ok_total_unready_count && f64::from(unjustified) > pct)
    }

    /// The group's template node: a real node's allocatable and pod slots
    /// once one was seen Ready, else the AWS provider's template from the
    /// instance type: its capacity as allocatable and 110 pods.
    pub(super) fn template_room(&self, g: &GroupSnapshot) -> (Resources, u32) {
        if self.groups[g.pool.index()].seen_ready {
            (g.allocatable, g.max_pods)
        } else {
            (g.capacity, AWS_TEMPLATE_PODS)
        }
    }
}

/// Pods on a template node built from an instance type (`aws_manager.go`:
/// "TODO: get a real value").
pub(super) const AWS_TEMPLATE_PODS: u32 = 110;
