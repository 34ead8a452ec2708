//! Karpenter's disruption: the disruption controller (a singleton loop
//! every 10 s trying emptiness, drift, multi-node and single-node
//! consolidation in that order, one command at a time), its orchestration
//! queue (taint, launch replacements, wait for them, delete), and the
//! NodeClaim deletions outside it (expiration, Spot interruption), all
//! ending in the termination controller's drain through the Eviction API
//! and the instance's termination.
//!
//! Files: `budget.rs` (budgets), `schedule.rs` (their cron schedules),
//! `candidates.rs` (which nodes may be disrupted, the budget mapping, pod
//! events and the consolidatable condition), `methods.rs` (each method's
//! command and its validation), `orchestrate.rs` (commands carried out,
//! termination, expiration, interruption and NodePool updates).
//! `docs/fidelity.md`, "Karpenter disruption", gives each behaviour and
//! its source in kubernetes-sigs/karpenter.

mod budget;
mod candidates;
mod methods;
mod orchestrate;
mod schedule;

use crate::cloud::{Cloud, CloudEvent};
use crate::engine::{Context, Millis};
use crate::kube::{Cluster, KubeEvent, NodeId};

pub use budget::{Budget, BudgetNodes, Reason};
pub use schedule::Schedule;

use super::{CapacityTypes, ClaimId, Karpenter, KarpenterEvent};

/// The disruption controller's polling period when no method acted
/// (`pollingPeriod`, `pkg/controllers/disruption/controller.go`).
pub const POLL: Millis = Millis(10_000);
/// Between computing a consolidation command and validating it
/// (`consolidationTTL`, `consolidation.go`).
pub const CONSOLIDATION_TTL: Millis = Millis(15_000);
/// The orchestration queue re-checks a command's replacements this often
/// (`queueBaseDelay`, `queue.go`).
const QUEUE_RETRY: Millis = Millis(1_000);
/// A command whose replacements are not initialized by then fails
/// (`minRetryDuration`, `queue.go`).
const COMMAND_TIMEOUT: Millis = Millis(600_000);
/// The termination controller re-checks a draining node this often.
const TERMINATION_RETRY: Millis = Millis(1_000);
/// `lastPodEventTime` is written at most this often (`dedupeTimeout`,
/// `pkg/controllers/nodeclaim/podevents/controller.go`).
const POD_EVENT_DEDUPE: Millis = Millis(10_000);

/// `spec.disruption.consolidationPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsolidationPolicy {
    /// Only empty nodes are consolidated.
    WhenEmpty,
    /// Empty nodes are deleted and underutilized ones deleted or replaced.
    WhenEmptyOrUnderutilized,
}

/// A NodePool's `spec.disruption` (and the template's `expireAfter`).
#[derive(Debug, Clone)]
pub struct DisruptionSpec {
    /// `consolidationPolicy` (WhenEmptyOrUnderutilized).
    pub policy: ConsolidationPolicy,
    /// `consolidateAfter` (0s); `None` is `Never`: no consolidation.
    pub consolidate_after: Option<Millis>,
    /// `budgets` (one of 10%).
    pub budgets: Vec<Budget>,
    /// `expireAfter` (720h); `None` is `Never`.
    pub expire_after: Option<Millis>,
}

impl Default for DisruptionSpec {
    fn default() -> Self {
        DisruptionSpec {
            policy: ConsolidationPolicy::WhenEmptyOrUnderutilized,
            consolidate_after: Some(Millis::ZERO),
            budgets: vec![Budget::ten_percent()],
            expire_after: Some(Millis::from_mins(720 * 60)),
        }
    }
}

/// A change of a NodePool's requirements at a time of the run.
#[derive(Debug, Clone)]
pub struct NodePoolUpdate {
    /// When.
    pub at: Millis,
    /// Instance types the new requirements allow.
    pub types: Vec<usize>,
    /// Capacity types they allow.
    pub capacity: CapacityTypes,
}

/// A disruption command: nodes to delete and replacements to launch first.
#[derive(Debug, Clone, PartialEq)]
struct Command {
    reason: Reason,
    candidates: Vec<ClaimId>,
    /// (NodePool, instance types) of each replacement.
    replacements: Vec<(usize, Vec<usize>)>,
}

/// A command in the orchestration queue.
#[derive(Debug, Clone)]
struct Queued {
    reason: Reason,
    candidates: Vec<ClaimId>,
    replacements: Vec<ClaimId>,
    created: Millis,
}

/// The disruption side of Karpenter's state.
#[derive(Debug, Default)]
pub(super) struct DisruptionState {
    /// A consolidation command waiting out its validation TTL, and the
    /// index of its method.
    pending: Option<(usize, Command)>,
    /// Commands in the orchestration queue (`None` once done).
    queue: Vec<Option<Queued>>,
    /// Pod-event buffer.
    events: Vec<NodeId>,
}

/// What Karpenter's disruption did in a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DisruptionCounts {
    /// Nodes deleted by consolidation (emptiness, single- and multi-node).
    pub consolidated: u64,
    /// Of those, nodes replaced by a cheaper one.
    pub replaced: u64,
    /// Drifted nodes deleted.
    pub drifted: u64,
    /// Expired nodes deleted.
    pub expired: u64,
    /// Nodes deleted on a Spot interruption notice.
    pub interrupted: u64,
    /// Pods on those nodes when their drain began (DaemonSet pods left
    /// out).
    pub disrupted_pods: u64,
    /// Commands that failed (a replacement not launched or initialized in
    /// time).
    pub failed_commands: u64,
}

impl Karpenter {
    /// Arms the disruption loop at run start, and the NodePools' updates.
    pub fn start<E: From<KarpenterEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        cluster: &mut Cluster,
    ) {
        cluster.watch_pod_events();
        ctx.schedule_in(Millis::ZERO, KarpenterEvent::Disrupt);
        for (np, spec) in self.config.nodepools.iter().enumerate() {
            for (u, update) in spec.updates.iter().enumerate() {
                ctx.schedule_at(update.at, KarpenterEvent::Update(np as u16, u as u16));
            }
        }
    }

    /// What disruption did so far.
    pub fn disruption_counts(&self) -> DisruptionCounts {
        self.counts
    }

    /// One pass of the disruption controller from method `first`: the
    /// first method with a command acts; a consolidation waits its
    /// validation TTL first.
    fn reconcile<E>(
        &mut self,
        ctx: &mut Context<'_, E>,
        cloud: &mut Cloud,
        cluster: &mut Cluster,
        first: usize,
    ) where
        E: From<KarpenterEvent> + From<CloudEvent> + From<KubeEvent>,
    {
        for method in first..methods::METHODS.len() {
            match self.compute(method, ctx.now(), cloud, cluster) {
                None => continue,
                Some((cmd, true)) => {
                    self.disruption.pending = Some((method, cmd));
                    ctx.schedule_in(CONSOLIDATION_TTL, KarpenterEvent::Validate);
                    return;
                }
                Some((cmd, false)) => {
                    self.act(ctx, cmd, cloud, cluster);
                    return;
                }
            }
        }
        ctx.schedule_in(POLL, KarpenterEvent::Disrupt);
    }

    /// Starts a command; the loop runs again at once if it started, after
    /// the polling period if it failed to.
    fn act<E>(
        &mut self,
        ctx: &mut Context<'_, E>,
        cmd: Command,
        cloud: &mut Cloud,
        cluster: &mut Cluster,
    ) where
        E: From<KarpenterEvent> + From<CloudEvent> + From<KubeEvent>,
    {
        let next = if self.start_command(ctx, cmd, cloud, cluster) {
            Millis::ZERO
        } else {
            POLL
        };
        ctx.schedule_in(next, KarpenterEvent::Disrupt);
    }

    /// Handles a disruption timer.
    pub(super) fn handle_disruption<E>(
        &mut self,
        ctx: &mut Context<'_, E>,
        event: KarpenterEvent,
        cloud: &mut Cloud,
        cluster: &mut Cluster,
    ) where
        E: From<KarpenterEvent> + From<CloudEvent> + From<KubeEvent>,
    {
        match event {
            KarpenterEvent::Disrupt => self.reconcile(ctx, cloud, cluster, 0),
            KarpenterEvent::Validate => {
                let Some((method, cmd)) = self.disruption.pending.take() else {
                    return;
                };
                match self.validate(method, cmd, ctx.now(), cloud, cluster) {
                    Some(cmd) => self.act(ctx, cmd, cloud, cluster),
                    None => self.reconcile(ctx, cloud, cluster, method + 1),
                }
            }
            KarpenterEvent::Orchestrate(q) => self.orchestrate(ctx, q, cloud, cluster),
            KarpenterEvent::Terminate(c) => self.termination(ctx, c, cloud, cluster),
            KarpenterEvent::Expire(c) => self.expire(ctx, c, cloud, cluster),
            KarpenterEvent::Update(np, u) => self.update(np, u, cloud),
            _ => {}
        }
    }
}
