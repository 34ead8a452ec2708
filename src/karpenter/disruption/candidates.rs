//! Which nodes may be disrupted (`NewCandidate`, `GetCandidates` in
//! kubernetes-sigs/karpenter `pkg/controllers/disruption/`), the budget
//! mapping per NodePool (`BuildDisruptionBudgetMapping`), the pod events
//! that date a NodeClaim's last change (`podevents`), and its
//! consolidatable condition (`pkg/controllers/nodeclaim/disruption/
//! consolidation.go`).

use crate::cloud::Cloud;
use crate::engine::Millis;
use crate::kube::{Cluster, NodeId, PodId, PodState, WorkloadKind};

use super::super::{ClaimId, Karpenter, NodeClaim};
use super::{POD_EVENT_DEDUPE, Reason, budget};

/// A node Karpenter may disrupt, with what its price comparison and
/// ordering need.
#[derive(Debug, Clone)]
pub(super) struct Candidate {
    /// Its NodeClaim.
    pub claim: ClaimId,
    /// Its node.
    pub node: NodeId,
    /// Its NodePool.
    pub nodepool: usize,
    /// Pods that would move (bound, not terminating, not DaemonSet pods).
    pub pods: Vec<PodId>,
    /// `DisruptionCost`: the pods' eviction costs times the lifetime left.
    pub cost: f64,
}

impl Karpenter {
    /// Reads the cluster's pod events into the NodeClaims' last pod event,
    /// each written at most every 10 s.
    pub(in crate::karpenter) fn read_pod_events(&mut self, cluster: &mut Cluster, now: Millis) {
        let mut events = std::mem::take(&mut self.disruption.events);
        cluster.take_pod_events(&mut events);
        for node in events.drain(..) {
            let Some(c) = self.claim_of_node(cluster, node) else {
                continue;
            };
            let claim = &mut self.claims[c.index()];
            if claim
                .last_pod_event
                .is_none_or(|t| now.saturating_sub(t) >= POD_EVENT_DEDUPE)
            {
                claim.last_pod_event = Some(now);
            }
        }
        self.disruption.events = events;
    }

    /// Whether the NodeClaim is consolidatable at `now`: initialized, and
    /// `consolidateAfter` has passed since its last pod event (or since it
    /// was initialized).
    pub(super) fn consolidatable(&self, c: &NodeClaim, cluster: &Cluster, now: Millis) -> bool {
        let Some(after) = self.config.nodepools[c.nodepool]
            .disruption
            .consolidate_after
        else {
            return false;
        };
        let Some(ready) = c.node.and_then(|n| cluster.nodes()[n.index()].ready_at) else {
            return false;
        };
        let since = c.last_pod_event.unwrap_or(ready);
        now.saturating_sub(since) >= after
    }

    /// Every node that may be disrupted now: its NodeClaim is not being
    /// disrupted, its node is registered and initialized, and no pod on it
    /// has `karpenter.sh/do-not-disrupt` or a PodDisruptionBudget that
    /// allows no disruption.
    pub(super) fn candidates(
        &self,
        cluster: &Cluster,
        cloud: &Cloud,
        now: Millis,
    ) -> Vec<Candidate> {
        let mut out = Vec::new();
        for (i, c) in self.claims.iter().enumerate() {
            if c.marked || c.deleting || !self.exists(c, cloud) {
                continue;
            }
            let Some(node) = c.node else { continue };
            let n = &cluster.nodes()[node.index()];
            if !n.is_registered() || n.ready_at.is_none() {
                continue;
            }
            let Some(pods) = movable_pods(cluster, node) else {
                continue;
            };
            let cost = pods
                .iter()
                .map(|p| {
                    let w = cluster.pods()[p.index()].workload;
                    let priority = cluster.workloads()[w.index()].spec.priority;
                    (1.0 + f64::from(priority) / f64::from(1u32 << 25)).clamp(-10.0, 10.0)
                })
                .sum::<f64>()
                * self.lifetime_remaining(c, now);
            out.push(Candidate {
                claim: ClaimId(i as u32),
                node,
                nodepool: c.nodepool,
                pods,
                cost,
            });
        }
        out
    }

    /// The fraction of the NodeClaim's `expireAfter` left (1 without one).
    fn lifetime_remaining(&self, c: &NodeClaim, now: Millis) -> f64 {
        match self.config.nodepools[c.nodepool].disruption.expire_after {
            Some(total) if total > Millis::ZERO => {
                let age = now.saturating_sub(c.launched_at).as_secs_f64();
                let total = total.as_secs_f64();
                ((total - age) / total).clamp(0.0, 1.0)
            }
            _ => 1.0,
        }
    }

    /// Disruptions each NodePool's budgets allow now for `reason`: over
    /// its initialized nodes whose instance is not terminating, less those
    /// NotReady or being disrupted.
    pub(super) fn allowed(
        &self,
        cluster: &Cluster,
        cloud: &Cloud,
        reason: Reason,
        now: Millis,
    ) -> Vec<u32> {
        let n = self.config.nodepools.len();
        let mut nodes = vec![0u32; n];
        let mut disrupting = vec![0u32; n];
        for c in &self.claims {
            let Some(node) = c.node else { continue };
            let node = &cluster.nodes()[node.index()];
            if !node.is_registered() || node.ready_at.is_none() || c.deleted {
                continue;
            }
            if !cloud.instance(c.instance).is_live() {
                continue;
            }
            nodes[c.nodepool] += 1;
            if !node.is_ready() || c.marked || c.deleting {
                disrupting[c.nodepool] += 1;
            }
        }
        (0..n)
            .map(|np| {
                let budgets = &self.config.nodepools[np].disruption.budgets;
                budget::allowed(budgets, reason, nodes[np], disrupting[np], now)
            })
            .collect()
    }
}

/// The pods that would move off `node` (bound and not terminating, not
/// DaemonSet pods), or `None` if a pod blocks its disruption:
/// `karpenter.sh/do-not-disrupt`, or a Running pod whose
/// PodDisruptionBudget allows no disruption now.
pub(super) fn movable_pods(cluster: &Cluster, node: NodeId) -> Option<Vec<PodId>> {
    let mut out = Vec::new();
    for &pid in &cluster.nodes()[node.index()].pods {
        let pod = &cluster.pods()[pid.index()];
        let wl = &cluster.workloads()[pod.workload.index()];
        let active = matches!(pod.state(), PodState::Running(_) | PodState::Starting(_));
        if !active {
            continue;
        }
        if wl.spec.do_not_disrupt {
            return None;
        }
        if matches!(wl.spec.kind, WorkloadKind::DaemonSet { .. }) {
            continue;
        }
        let running = matches!(pod.state(), PodState::Running(_));
        if running && wl.disruptions_allowed().is_some_and(|a| a <= 0) {
            return None;
        }
        out.push(pid);
    }
    Some(out)
}
