//! Carrying disruption out (kubernetes-sigs/karpenter): a command taints
//! its nodes, launches its replacements and marks the nodes for deletion
//! (`queue.go`, `StartCommand`); the queue waits for the replacements to
//! be initialized, then deletes the NodeClaims, or gives up and untaints
//! (`waitOrTerminate`); a deleted NodeClaim's node is drained through the
//! Eviction API and its instance terminated once no pod is left
//! (`pkg/controllers/node/termination/`). Expiration
//! (`pkg/controllers/nodeclaim/expiration/`) and Spot interruption
//! (the AWS provider's `pkg/controllers/interruption/`) delete NodeClaims
//! directly; the provisioner launches capacity for the pods of every node
//! marked for deletion before they are evicted. A NodePool update marks
//! the NodeClaims it no longer admits drifted.

use crate::cloud::{Cloud, CloudEvent, InstanceId};
use crate::engine::{Context, Millis};
use crate::kube::{Cluster, KubeEvent, PodId, PodState, WorkloadKind};

use super::super::{ClaimId, Karpenter, KarpenterEvent};
use super::{COMMAND_TIMEOUT, Command, QUEUE_RETRY, Queued, Reason, TERMINATION_RETRY};

impl Karpenter {
    /// `StartCommand`: taints the candidates, launches the replacements
    /// (a launch that fails undoes the taint and fails the command), marks
    /// the candidates for deletion and queues the command. Returns whether
    /// it started.
    pub(super) fn start_command<E>(
        &mut self,
        ctx: &mut Context<'_, E>,
        cmd: Command,
        cloud: &mut Cloud,
        cluster: &mut Cluster,
    ) -> bool
    where
        E: From<KarpenterEvent> + From<CloudEvent> + From<KubeEvent>,
    {
        for &c in &cmd.candidates {
            if let Some(node) = self.claims[c.index()].node {
                cluster.cordon(node);
            }
        }
        let mut replacements = Vec::new();
        for (np, types) in &cmd.replacements {
            match self.launch(ctx, *np, types, cloud) {
                Some(r) => replacements.push(r),
                None => {
                    self.untaint(ctx, &cmd.candidates, cluster);
                    self.counts.failed_commands += 1;
                    return false;
                }
            }
        }
        for &c in &cmd.candidates {
            self.claims[c.index()].marked = true;
        }
        // The provisioner sees the pods of nodes marked for deletion.
        self.trigger(ctx);
        let q = self.disruption.queue.len() as u32;
        self.disruption.queue.push(Some(Queued {
            reason: cmd.reason,
            candidates: cmd.candidates,
            replacements,
            created: ctx.now(),
        }));
        ctx.schedule_in(Millis::ZERO, KarpenterEvent::Orchestrate(q));
        true
    }

    /// Removes the disruption taint and mark from NodeClaims whose command
    /// did not go ahead.
    fn untaint<E: From<KubeEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        claims: &[ClaimId],
        cluster: &mut Cluster,
    ) {
        for &c in claims {
            let claim = &mut self.claims[c.index()];
            claim.marked = false;
            if let Some(node) = claim.node
                && cluster.nodes()[node.index()].is_registered()
            {
                cluster.uncordon(ctx, node);
            }
        }
    }

    /// The queue's look at command `q`: once every replacement is
    /// initialized its NodeClaims are deleted; a replacement gone, or the
    /// timeout passed, fails it.
    pub(super) fn orchestrate<E>(
        &mut self,
        ctx: &mut Context<'_, E>,
        q: u32,
        cloud: &mut Cloud,
        cluster: &mut Cluster,
    ) where
        E: From<KarpenterEvent> + From<CloudEvent> + From<KubeEvent>,
    {
        let Some(cmd) = self.disruption.queue[q as usize].clone() else {
            return;
        };
        let ready = cmd.replacements.iter().all(|r| {
            let claim = &self.claims[r.index()];
            claim
                .node
                .is_some_and(|n| cluster.nodes()[n.index()].ready_at.is_some())
        });
        if ready {
            self.disruption.queue[q as usize] = None;
            let n = cmd.candidates.len() as u64;
            match cmd.reason {
                Reason::Empty | Reason::Underutilized => {
                    self.counts.consolidated += n;
                    if !cmd.replacements.is_empty() {
                        self.counts.replaced += n;
                    }
                }
                Reason::Drifted => self.counts.drifted += n,
            }
            let why = match cmd.reason {
                Reason::Empty => "nodeclaim deleted: empty",
                Reason::Underutilized if cmd.replacements.is_empty() => {
                    "nodeclaim deleted: underutilized"
                }
                Reason::Underutilized => "nodeclaim deleted: underutilized, replaced",
                Reason::Drifted => "nodeclaim deleted: drifted",
            };
            for &c in &cmd.candidates {
                self.delete_claim(ctx, c, why, cloud, cluster);
            }
            return;
        }
        let gone = cmd
            .replacements
            .iter()
            .any(|r| !self.exists(&self.claims[r.index()], cloud));
        if gone || ctx.now().saturating_sub(cmd.created) > COMMAND_TIMEOUT {
            self.disruption.queue[q as usize] = None;
            self.untaint(ctx, &cmd.candidates, cluster);
            self.counts.failed_commands += 1;
            return;
        }
        ctx.schedule_in(QUEUE_RETRY, KarpenterEvent::Orchestrate(q));
    }

    /// Deletes a NodeClaim: its node is tainted and drained (DaemonSet
    /// pods stay), and its instance terminated once drained.
    pub(super) fn delete_claim<E>(
        &mut self,
        ctx: &mut Context<'_, E>,
        c: ClaimId,
        why: &'static str,
        cloud: &mut Cloud,
        cluster: &mut Cluster,
    ) where
        E: From<KarpenterEvent> + From<CloudEvent> + From<KubeEvent>,
    {
        let claim = &mut self.claims[c.index()];
        if claim.deleting || claim.deleted {
            return;
        }
        claim.deleting = true;
        claim.marked = true;
        claim.deleted_for = why;
        if let Some(node) = claim.node
            && cluster.nodes()[node.index()].is_registered()
        {
            self.counts.disrupted_pods += node_pods(cluster, node).count() as u64;
            cluster.drain(ctx, node);
        }
        self.termination(ctx, c, cloud, cluster);
    }

    /// The termination controller's look at a deleted NodeClaim: its
    /// instance is terminated when no pod but DaemonSet pods is bound to
    /// its node (terminating pods included), else it looks again in 1 s.
    pub(super) fn termination<E>(
        &mut self,
        ctx: &mut Context<'_, E>,
        c: ClaimId,
        cloud: &mut Cloud,
        cluster: &Cluster,
    ) where
        E: From<KarpenterEvent> + From<CloudEvent>,
    {
        let claim = &self.claims[c.index()];
        if claim.deleted {
            return;
        }
        let live = cloud.instance(claim.instance).is_live();
        let drained = claim.node.is_none_or(|n| {
            !cluster.nodes()[n.index()].is_registered()
                || cluster.nodes()[n.index()].pods.iter().all(|&p| {
                    let pod = &cluster.pods()[p.index()];
                    daemon(cluster, p)
                        || !matches!(
                            pod.state(),
                            PodState::Starting(_) | PodState::Running(_) | PodState::Terminating(_)
                        )
                })
        });
        if drained || !live {
            let (id, why) = (claim.instance, claim.deleted_for);
            self.claims[c.index()].deleted = true;
            if live {
                cloud.terminate_fleet_instance(ctx, id, why);
            }
            return;
        }
        ctx.schedule_in(TERMINATION_RETRY, KarpenterEvent::Terminate(c));
    }

    /// Expiration: a NodeClaim `expireAfter` old is deleted, whatever the
    /// budgets; the provisioner launches capacity for its pods.
    pub(super) fn expire<E>(
        &mut self,
        ctx: &mut Context<'_, E>,
        c: ClaimId,
        cloud: &mut Cloud,
        cluster: &mut Cluster,
    ) where
        E: From<KarpenterEvent> + From<CloudEvent> + From<KubeEvent>,
    {
        let claim = &self.claims[c.index()];
        if claim.deleting || !self.exists(claim, cloud) {
            return;
        }
        self.counts.expired += 1;
        self.delete_claim(ctx, c, "nodeclaim deleted: expired", cloud, cluster);
        self.trigger(ctx);
    }

    /// A Spot interruption notice for a fleet instance: with the
    /// interruption queue, its NodeClaim is deleted at once (drained ahead
    /// of the reclaim, capacity launched for its pods). Returns whether
    /// Karpenter handled it.
    pub fn interrupted<E>(
        &mut self,
        ctx: &mut Context<'_, E>,
        id: InstanceId,
        cloud: &mut Cloud,
        cluster: &mut Cluster,
    ) -> bool
    where
        E: From<KarpenterEvent> + From<CloudEvent> + From<KubeEvent>,
    {
        if !self.config.interruption {
            return false;
        }
        let Some(c) = self.claim_of(id) else {
            return false;
        };
        let claim = &self.claims[c.index()];
        if !claim.deleting && !claim.deleted {
            self.counts.interrupted += 1;
            self.delete_claim(
                ctx,
                c,
                "nodeclaim deleted: spot interruption",
                cloud,
                cluster,
            );
            self.trigger(ctx);
        }
        true
    }

    /// NodePool `np`'s update `u`: its requirements change; NodeClaims of
    /// a type or capacity type they no longer allow have drifted.
    pub(super) fn update(&mut self, np: u16, u: u16, cloud: &Cloud) {
        let (np, u) = (usize::from(np), usize::from(u));
        let update = self.config.nodepools[np].updates[u].clone();
        let spec = &mut self.config.nodepools[np];
        spec.types = update.types;
        spec.capacity = update.capacity;
        for i in 0..self.claims.len() {
            let claim = &self.claims[i];
            if claim.nodepool != np || !self.exists(claim, cloud) {
                continue;
            }
            let spec = &self.config.nodepools[np];
            let capacity = if claim.spot {
                spec.capacity.spot
            } else {
                spec.capacity.on_demand
            };
            if !capacity || !spec.types.contains(&claim.instance_type) {
                self.claims[i].drifted = true;
            }
        }
    }

    /// The pods of nodes marked for deletion, which the provisioner
    /// schedules as if pending (`deletingNodePods`).
    pub(in crate::karpenter) fn deleting_pods(&self, cluster: &Cluster) -> Vec<PodId> {
        let mut out = Vec::new();
        for c in &self.claims {
            if !c.marked || c.deleted {
                continue;
            }
            if let Some(node) = c.node
                && cluster.nodes()[node.index()].is_registered()
            {
                out.extend(node_pods(cluster, node));
            }
        }
        out
    }
}

fn daemon(cluster: &Cluster, p: PodId) -> bool {
    let w = cluster.pods()[p.index()].workload;
    matches!(
        cluster.workloads()[w.index()].spec.kind,
        WorkloadKind::DaemonSet { .. }
    )
}

/// Pods bound to `node` that would move: starting or running, not
/// DaemonSet pods.
fn node_pods(cluster: &Cluster, node: crate::kube::NodeId) -> impl Iterator<Item = PodId> + '_ {
    cluster.nodes()[node.index()]
        .pods
        .iter()
        .copied()
        .filter(move |&p| {
            !daemon(cluster, p)
                && matches!(
                    cluster.pods()[p.index()].state(),
                    PodState::Starting(_) | PodState::Running(_)
                )
        })
}
