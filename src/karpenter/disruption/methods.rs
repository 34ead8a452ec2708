//! The disruption methods, in the controller's order (kubernetes-sigs/
//! karpenter `pkg/controllers/disruption/`): emptiness (`emptiness.go`),
//! drift (`drift.go`), multi-node consolidation
//! (`multinodeconsolidation.go`), single-node consolidation
//! (`singlenodeconsolidation.go`); the consolidation decision they share
//! (`consolidation.go`, `computeConsolidation`) and the validation of a
//! command after its TTL (`validation.go`).

use crate::cloud::Cloud;
use crate::engine::Millis;
use crate::kube::{Cluster, NodeId, PodId};

use super::super::provision::{Placement, provisionable, sort_pods};
use super::super::{ClaimId, Karpenter};
use super::candidates::Candidate;
use super::{Command, ConsolidationPolicy, Reason};

/// One disruption method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Method {
    Emptiness,
    Drift,
    MultiNode,
    SingleNode,
}

/// The methods in the order the controller tries them.
pub(super) const METHODS: [Method; 4] = [
    Method::Emptiness,
    Method::Drift,
    Method::MultiNode,
    Method::SingleNode,
];

/// Multi-node consolidation considers at most this many candidates.
const MAX_MULTI: usize = 100;

impl Karpenter {
    /// Method `m`'s command now, if any, and whether it must wait out the
    /// validation TTL before it starts.
    pub(super) fn compute(
        &self,
        m: usize,
        now: Millis,
        cloud: &Cloud,
        cluster: &Cluster,
    ) -> Option<(Command, bool)> {
        match METHODS[m] {
            Method::Emptiness => self.emptiness(now, cloud, cluster).map(|c| (c, true)),
            Method::Drift => self.drift(now, cloud, cluster).map(|c| (c, false)),
            Method::MultiNode => self.multi_node(now, cloud, cluster).map(|c| (c, true)),
            Method::SingleNode => self.single_node(now, cloud, cluster).map(|c| (c, true)),
        }
    }

    /// The candidates method `m` considers, by disruption cost (then
    /// NodeClaim order).
    fn method_candidates(
        &self,
        m: Method,
        now: Millis,
        cloud: &Cloud,
        cluster: &Cluster,
    ) -> Vec<Candidate> {
        let mut out: Vec<Candidate> = self
            .candidates(cluster, cloud, now)
            .into_iter()
            .filter(|c| {
                let claim = &self.claims[c.claim.index()];
                let d = &self.config.nodepools[c.nodepool].disruption;
                match m {
                    Method::Emptiness => {
                        c.pods.is_empty() && self.consolidatable(claim, cluster, now)
                    }
                    Method::Drift => claim.drifted,
                    Method::MultiNode | Method::SingleNode => {
                        d.policy == ConsolidationPolicy::WhenEmptyOrUnderutilized
                            && self.consolidatable(claim, cluster, now)
                    }
                }
            })
            .collect();
        out.sort_by(|a, b| a.cost.total_cmp(&b.cost).then(a.claim.cmp(&b.claim)));
        out
    }

    /// Every empty consolidatable node its budget allows, deleted in one
    /// command.
    fn emptiness(&self, now: Millis, cloud: &Cloud, cluster: &Cluster) -> Option<Command> {
        let mut allowed = self.allowed(cluster, cloud, Reason::Empty, now);
        let chosen: Vec<ClaimId> = self
            .method_candidates(Method::Emptiness, now, cloud, cluster)
            .into_iter()
            .filter(|c| take(&mut allowed, c.nodepool))
            .map(|c| c.claim)
            .collect();
        (!chosen.is_empty()).then_some(Command {
            reason: Reason::Empty,
            candidates: chosen,
            replacements: Vec::new(),
        })
    }

    /// Drifted nodes: every empty one the budget allows at once, else the
    /// first whose pods all fit elsewhere or on replacements (any number,
    /// any price).
    fn drift(&self, now: Millis, cloud: &Cloud, cluster: &Cluster) -> Option<Command> {
        let mut allowed = self.allowed(cluster, cloud, Reason::Drifted, now);
        let cands = self.method_candidates(Method::Drift, now, cloud, cluster);
        let empty: Vec<ClaimId> = cands
            .iter()
            .filter(|c| c.pods.is_empty() && take(&mut allowed, c.nodepool))
            .map(|c| c.claim)
            .collect();
        if !empty.is_empty() {
            return Some(Command {
                reason: Reason::Drifted,
                candidates: empty,
                replacements: Vec::new(),
            });
        }
        for c in &cands {
            if allowed[c.nodepool] == 0 {
                continue;
            }
            let p = self.simulate_without(&[c], now, cloud, cluster);
            if c.pods.iter().any(|pod| p.unsettled.contains(pod)) {
                continue;
            }
            return Some(Command {
                reason: Reason::Drifted,
                candidates: vec![c.claim],
                replacements: p
                    .drafts
                    .into_iter()
                    .map(|d| (d.nodepool, d.types))
                    .collect(),
            });
        }
        None
    }

    /// The largest prefix (of at least two, at most 100) of the
    /// non-empty consolidatable nodes within budget that one cheaper node
    /// or none can replace, found by binary search.
    fn multi_node(&self, now: Millis, cloud: &Cloud, cluster: &Cluster) -> Option<Command> {
        let mut allowed = self.allowed(cluster, cloud, Reason::Underutilized, now);
        let cands: Vec<Candidate> = self
            .method_candidates(Method::MultiNode, now, cloud, cluster)
            .into_iter()
            .filter(|c| {
                allowed[c.nodepool] > 0 && !c.pods.is_empty() && take(&mut allowed, c.nodepool)
            })
            .collect();
        if cands.len() < 2 {
            return None;
        }
        let (mut lo, mut hi) = (1, (cands.len() - 1).min(MAX_MULTI));
        let mut last = None;
        while lo <= hi {
            let mid = (lo + hi) / 2;
            let prefix: Vec<&Candidate> = cands[..=mid].iter().collect();
            let found = self
                .consolidation(&prefix, now, cloud, cluster)
                .and_then(|mut cmd| self.not_same_type(&mut cmd, now, cloud).then_some(cmd));
            match found {
                Some(cmd) => {
                    last = Some(cmd);
                    lo = mid + 1;
                }
                None => hi = mid - 1,
            }
        }
        last
    }

    /// Nodes one at a time (NodePools interleaved, each by disruption
    /// cost): the first that can be deleted or replaced by a cheaper node.
    fn single_node(&self, now: Millis, cloud: &Cloud, cluster: &Cluster) -> Option<Command> {
        let allowed = self.allowed(cluster, cloud, Reason::Underutilized, now);
        let cands = self.method_candidates(Method::SingleNode, now, cloud, cluster);
        let mut per_pool: Vec<Vec<&Candidate>> = vec![Vec::new(); self.config.nodepools.len()];
        for c in &cands {
            per_pool[c.nodepool].push(c);
        }
        let rounds = per_pool.iter().map(Vec::len).max().unwrap_or(0);
        for i in 0..rounds {
            for pool in &per_pool {
                let Some(&c) = pool.get(i) else { continue };
                if allowed[c.nodepool] == 0 || c.pods.is_empty() {
                    continue;
                }
                if let Some(cmd) = self.consolidation(&[c], now, cloud, cluster) {
                    return Some(cmd);
                }
            }
        }
        None
    }

    /// `computeConsolidation`: the candidates' pods (with the pending pods
    /// and those of deleting nodes) must all land on initialized nodes
    /// that stay, or on one new NodeClaim whose types are cheaper than the
    /// candidates together (Spot to Spot is off, as its feature gate).
    fn consolidation(
        &self,
        cands: &[&Candidate],
        now: Millis,
        cloud: &Cloud,
        cluster: &Cluster,
    ) -> Option<Command> {
        let p = self.simulate_without(cands, now, cloud, cluster);
        if cands
            .iter()
            .any(|c| c.pods.iter().any(|pod| p.unsettled.contains(pod)))
        {
            return None;
        }
        let candidates: Vec<ClaimId> = cands.iter().map(|c| c.claim).collect();
        let draft = match p.drafts.as_slice() {
            [] => {
                return Some(Command {
                    reason: Reason::Underutilized,
                    candidates,
                    replacements: Vec::new(),
                });
            }
            [d] => d,
            _ => return None,
        };
        let price: f64 = cands
            .iter()
            .map(|c| {
                cloud
                    .instance(self.claims[c.claim.index()].instance)
                    .price_per_hour
            })
            .sum();
        let all_spot = cands.iter().all(|c| self.claims[c.claim.index()].spot);
        let spot = self.launches_spot(draft.nodepool, &draft.types, now);
        if all_spot && spot {
            return None;
        }
        let types: Vec<usize> = draft
            .types
            .iter()
            .copied()
            .filter(|&t| self.offering_price(t, spot, cloud) < price)
            .collect();
        (!types.is_empty()).then_some(Command {
            reason: Reason::Underutilized,
            candidates,
            replacements: vec![(draft.nodepool, types)],
        })
    }

    /// `filterOutSameInstanceType`: a replacement of a type being removed
    /// must be cheaper than the cheapest such node, else deleting alone
    /// would do. Returns whether a replacement type is left (or none was
    /// needed).
    fn not_same_type(&self, cmd: &mut Command, now: Millis, cloud: &Cloud) -> bool {
        let Some((np, types)) = cmd.replacements.first_mut() else {
            return true;
        };
        let spot = self.launches_spot(*np, types, now);
        let max = cmd
            .candidates
            .iter()
            .filter(|c| types.contains(&self.claims[c.index()].instance_type))
            .map(|c| {
                cloud
                    .instance(self.claims[c.index()].instance)
                    .price_per_hour
            })
            .fold(f64::MAX, f64::min);
        types.retain(|&t| self.offering_price(t, spot, cloud) < max);
        !types.is_empty()
    }

    /// The scheduling simulation of consolidation (`SimulateScheduling`):
    /// pending pods, the candidates' pods and the pods of deleting nodes,
    /// onto the cluster without the candidates.
    fn simulate_without(
        &self,
        cands: &[&Candidate],
        now: Millis,
        cloud: &Cloud,
        cluster: &Cluster,
    ) -> Placement {
        let mut pods: Vec<PodId> = provisionable(cluster);
        for c in cands {
            pods.extend(c.pods.iter().copied());
        }
        pods.extend(self.deleting_pods(cluster));
        sort_pods(cluster, &mut pods);
        let exclude: Vec<NodeId> = cands.iter().map(|c| c.node).collect();
        self.simulate(cluster, cloud, now, &pods, &exclude)
    }

    /// Whether a NodeClaim of these types in NodePool `np` would launch as
    /// Spot now.
    pub(super) fn launches_spot(&self, np: usize, types: &[usize], now: Millis) -> bool {
        let spec = &self.config.nodepools[np];
        spec.capacity.spot
            && types.iter().any(|&t| {
                spec.zones
                    .iter()
                    .any(|&z| self.offering_available(t, z, true, now))
            })
    }

    /// The hourly price of an offering of type `t`.
    fn offering_price(&self, t: usize, spot: bool, cloud: &Cloud) -> f64 {
        let on_demand = cloud.instance_types()[t].price_per_hour;
        if spot {
            on_demand * cloud.spot_price_ratio()
        } else {
            on_demand
        }
    }

    /// Validation after the TTL (`validation.go`): the candidates are
    /// still candidates of the method within budget (emptiness keeps those
    /// that are), and consolidation's simulation still gives the command.
    pub(super) fn validate(
        &self,
        m: usize,
        cmd: Command,
        now: Millis,
        cloud: &Cloud,
        cluster: &Cluster,
    ) -> Option<Command> {
        let method = METHODS[m];
        let current = self.method_candidates(method, now, cloud, cluster);
        let mut allowed = self.allowed(cluster, cloud, cmd.reason, now);
        let valid: Vec<&Candidate> = cmd
            .candidates
            .iter()
            .filter_map(|c| current.iter().find(|k| k.claim == *c))
            .filter(|c| take(&mut allowed, c.nodepool))
            .collect();
        if method == Method::Emptiness {
            return (!valid.is_empty()).then(|| Command {
                candidates: valid.iter().map(|c| c.claim).collect(),
                ..cmd
            });
        }
        if valid.len() != cmd.candidates.len() {
            return None;
        }
        let p = self.simulate_without(&valid, now, cloud, cluster);
        if valid
            .iter()
            .any(|c| c.pods.iter().any(|pod| p.unsettled.contains(pod)))
        {
            return None;
        }
        let same = match (p.drafts.as_slice(), cmd.replacements.as_slice()) {
            ([], []) => true,
            ([d], [(_, types)]) => types.iter().all(|t| d.types.contains(t)),
            _ => false,
        };
        same.then_some(cmd)
    }
}

/// Takes one disruption from NodePool `np`'s budget if it has one left.
fn take(allowed: &mut [u32], np: usize) -> bool {
    if allowed[np] == 0 {
        return false;
    }
    allowed[np] -= 1;
    true
}
