//! Karpenter (kubernetes-sigs/karpenter with the AWS provider): nodes
//! provisioned per batch of unschedulable pods onto NodeClaims of the
//! policy's NodePools, instead of (or beside) ASGs and the cluster
//! autoscaler.
//!
//! Each NodePool is a pool of the policy (its labels and taints are the
//! kube pool's, its costs the pool's cost column), backed by a cloud group
//! that only holds fleet instances (`Cloud::launch_fleet_instance`): no
//! desired count, nothing replaces a lost instance but Karpenter.
//!
//! Files: `mod.rs` (configuration, the controller's state, the batcher
//! that wakes provisioning), `provision.rs` (the scheduling simulation:
//! pods onto existing nodes, in-flight NodeClaims, new NodeClaims of the
//! NodePools by weight), `nodeclaim.rs` (NodeClaims: the offering chosen
//! and launched, the unavailable-offerings cache, registration and its
//! timeout), `disruption/` (consolidation, drift, expiration, Spot
//! interruption, budgets, and the drain and termination they end in).
//! `docs/fidelity.md`, "Karpenter" and "Karpenter disruption", give each
//! default and its source.
//!
//! Karpenter sits above `cloud` and `kube`: it reads the cluster's pods and
//! nodes and launches or terminates instances itself; the world forwards
//! it its events, the cluster's first-failure count, and node joins.

mod disruption;
mod nodeclaim;
mod provision;

use crate::cloud::{Cloud, CloudEvent, InstanceId};
use crate::engine::{Context, Millis};
use crate::kube::{Cluster, KubeEvent, NodeId, PoolId};
use crate::quantity::{Bytes, MilliCpu};

pub use disruption::{
    Budget, BudgetNodes, ConsolidationPolicy, DisruptionCounts, DisruptionSpec, NodePoolUpdate,
    Reason, Schedule,
};
pub use nodeclaim::{ClaimId, NodeClaim};

use disruption::DisruptionState;

/// Which purchase options a NodePool allows (`karpenter.sh/capacity-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapacityTypes {
    /// `on-demand`.
    pub on_demand: bool,
    /// `spot`.
    pub spot: bool,
}

/// A NodePool's `spec.limits`: the capacity (not allocatable) of all its
/// nodes together; `None` is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// `cpu`.
    pub cpu: Option<MilliCpu>,
    /// `memory`.
    pub memory: Option<Bytes>,
}

/// One NodePool (validated).
#[derive(Debug, Clone)]
pub struct NodePoolSpec {
    /// Name (`karpenter.sh/nodepool`).
    pub name: String,
    /// Its pool: the cloud group and kube pool of its nodes.
    pub pool: PoolId,
    /// `spec.weight`: higher is tried first (unset: 0).
    pub weight: u32,
    /// Instance types its requirements allow, by catalogue index.
    pub types: Vec<usize>,
    /// Capacity types its requirements allow.
    pub capacity: CapacityTypes,
    /// Zones its requirements allow, by scenario zone index.
    pub zones: Vec<usize>,
    /// `spec.limits`.
    pub limits: Limits,
    /// `spec.disruption` and `expireAfter`.
    pub disruption: DisruptionSpec,
    /// Changes of its requirements during the run, in time order.
    pub updates: Vec<NodePoolUpdate>,
}

/// The controller's settings and the policy's NodePools.
#[derive(Debug, Clone)]
pub struct KarpenterConfig {
    /// `BATCH_IDLE_DURATION`: a batch ends when no new pod arrived for this
    /// long (1 s).
    pub batch_idle: Millis,
    /// `BATCH_MAX_DURATION`: a batch ends this long after its first pod
    /// whatever arrives (10 s).
    pub batch_max: Millis,
    /// A NodeClaim whose node has not registered this long after launch is
    /// deleted (15 min, hard-coded in Karpenter's liveness controller).
    pub registration_ttl: Millis,
    /// An offering that failed with insufficient capacity is skipped this
    /// long (3 min, the AWS provider's `UnavailableOfferingsTTL`).
    pub unavailable_offering_ttl: Millis,
    /// The pod controller re-triggers provisioning this often while a pod
    /// stays provisionable (10 s).
    pub pod_requeue: Millis,
    /// The interruption queue is configured: a Spot interruption notice
    /// drains the node at once (off unless set, as `INTERRUPTION_QUEUE`).
    pub interruption: bool,
    /// The NodePools, in file order.
    pub nodepools: Vec<NodePoolSpec>,
}

impl KarpenterConfig {
    /// Karpenter's defaults for these NodePools.
    pub fn new(nodepools: Vec<NodePoolSpec>) -> Self {
        KarpenterConfig {
            batch_idle: Millis::from_secs(1),
            batch_max: Millis::from_secs(10),
            registration_ttl: Millis::from_mins(15),
            unavailable_offering_ttl: Millis::from_mins(3),
            pod_requeue: Millis::from_secs(10),
            interruption: false,
            nodepools,
        }
    }

    /// The NodePool whose nodes are in `pool`, if any.
    pub fn nodepool_of(&self, pool: PoolId) -> Option<usize> {
        self.nodepools.iter().position(|n| n.pool == pool)
    }
}

/// Karpenter's own timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KarpenterEvent {
    /// The batch window may have ended (idle or max duration).
    BatchCheck,
    /// Provisionable pods are reconciled again (the pod controller's
    /// requeue): a new trigger.
    Requeue,
    /// The liveness controller checks that this NodeClaim's node
    /// registered within the registration TTL.
    Liveness(ClaimId),
    /// The disruption controller's loop.
    Disrupt,
    /// A consolidation command's validation TTL ended.
    Validate,
    /// The orchestration queue looks at a command.
    Orchestrate(u32),
    /// The termination controller looks at a deleted NodeClaim's node.
    Terminate(ClaimId),
    /// A NodeClaim reaches its `expireAfter`.
    Expire(ClaimId),
    /// NodePool (index) takes its update (index).
    Update(u16, u16),
}

/// An open batch window.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Millis,
    last: Millis,
}

/// Karpenter's state in one run.
pub struct Karpenter {
    config: KarpenterConfig,
    window: Option<Window>,
    check_armed: bool,
    requeue_armed: bool,
    /// The cluster's first-failure count last seen.
    seen_failures: u64,
    claims: Vec<NodeClaim>,
    /// The claim of each fleet instance, by instance index.
    claim_of: Vec<Option<ClaimId>>,
    /// Offerings (type, zone, spot) refused for insufficient capacity, and
    /// until when they are skipped.
    unavailable: Vec<(usize, usize, bool, Millis)>,
    /// NodeClaims launched.
    pub nodeclaims_launched: u64,
    /// Provisioning rounds that launched at least one NodeClaim.
    pub provisioning_rounds: u64,
    /// NodeClaims whose launch failed on every offering.
    pub launch_failures: u64,
    /// NodeClaims deleted because their node did not register in time.
    pub registration_timeouts: u64,
    disruption: DisruptionState,
    counts: DisruptionCounts,
}

impl Karpenter {
    /// A controller with no NodeClaims yet.
    pub fn new(config: KarpenterConfig) -> Self {
        Karpenter {
            config,
            window: None,
            check_armed: false,
            requeue_armed: false,
            seen_failures: 0,
            claims: Vec::new(),
            claim_of: Vec::new(),
            unavailable: Vec::new(),
            nodeclaims_launched: 0,
            provisioning_rounds: 0,
            launch_failures: 0,
            registration_timeouts: 0,
            disruption: DisruptionState::default(),
            counts: DisruptionCounts::default(),
        }
    }

    /// Its settings.
    pub fn config(&self) -> &KarpenterConfig {
        &self.config
    }

    /// Every NodeClaim created, by id.
    pub fn claims(&self) -> &[NodeClaim] {
        &self.claims
    }

    /// The NodeClaim of a fleet instance, if Karpenter launched it.
    pub fn claim_of(&self, id: InstanceId) -> Option<ClaimId> {
        self.claim_of.get(id.index()).copied().flatten()
    }

    /// The NodeClaim of a node, if its instance is one Karpenter launched
    /// (the node's provider id names its instance).
    fn claim_of_node(&self, cluster: &Cluster, node: NodeId) -> Option<ClaimId> {
        let provider_id = cluster.nodes().get(node.index())?.spec.provider_id;
        self.claim_of(InstanceId(u32::try_from(provider_id).ok()?))
    }

    /// Called after each event: pods that just failed their first
    /// scheduling attempt became provisionable and trigger a batch; pod
    /// events date the NodeClaims' last change.
    pub fn observe<E: From<KarpenterEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        cluster: &mut Cluster,
    ) {
        self.read_pod_events(cluster, ctx.now());
        let failures = cluster.status().first_failures;
        if failures != self.seen_failures {
            self.seen_failures = failures;
            self.trigger(ctx);
        }
    }

    /// `Batcher.Trigger`: opens a window, or extends the open one (its idle
    /// timer restarts).
    fn trigger<E: From<KarpenterEvent>>(&mut self, ctx: &mut Context<'_, E>) {
        let now = ctx.now();
        match &mut self.window {
            Some(w) => w.last = now,
            None => {
                self.window = Some(Window {
                    start: now,
                    last: now,
                })
            }
        }
        if !self.check_armed {
            self.check_armed = true;
            let first = self.config.batch_idle.min(self.config.batch_max);
            ctx.schedule_in(first, KarpenterEvent::BatchCheck);
        }
    }

    /// Handles one of its timers.
    pub fn handle<E>(
        &mut self,
        ctx: &mut Context<'_, E>,
        event: KarpenterEvent,
        cloud: &mut Cloud,
        cluster: &mut Cluster,
    ) where
        E: From<KarpenterEvent> + From<CloudEvent> + From<KubeEvent>,
    {
        match event {
            KarpenterEvent::BatchCheck => {
                self.check_armed = false;
                let Some(w) = self.window else { return };
                let end = (w.last + self.config.batch_idle).min(w.start + self.config.batch_max);
                if ctx.now() < end {
                    self.check_armed = true;
                    ctx.schedule_at(end, KarpenterEvent::BatchCheck);
                    return;
                }
                self.window = None;
                let pending = self.provision(ctx, cloud, cluster);
                if pending && !self.requeue_armed {
                    self.requeue_armed = true;
                    ctx.schedule_in(self.config.pod_requeue, KarpenterEvent::Requeue);
                }
            }
            KarpenterEvent::Requeue => {
                self.requeue_armed = false;
                self.trigger(ctx);
            }
            KarpenterEvent::Liveness(c) => self.liveness(ctx, c, cloud),
            e => self.handle_disruption(ctx, e, cloud, cluster),
        }
    }

    /// The node of a fleet instance registered.
    pub fn node_joined(&mut self, id: InstanceId, node: NodeId, now: Millis) {
        if let Some(c) = self.claim_of(id) {
            let claim = &mut self.claims[c.index()];
            claim.node = Some(node);
            claim.registered_at = Some(now);
        }
    }

    /// Until when offering (instance type, zone, Spot or not) is skipped
    /// after an insufficient-capacity failure, if it is at `now`.
    pub fn unavailable_until(
        &self,
        t: usize,
        zone: usize,
        spot: bool,
        now: Millis,
    ) -> Option<Millis> {
        self.unavailable
            .iter()
            .filter(|&&(ut, uz, us, until)| ut == t && uz == zone && us == spot && now < until)
            .map(|&(.., until)| until)
            .max()
    }
}
