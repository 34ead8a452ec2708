//! NodeClaims: the launch of one (capacity type, then the cheapest
//! available offering, falling back through the others; an offering
//! refused for insufficient capacity is skipped for the unavailable
//! offerings TTL), registration when its node joins, and the liveness
//! check that deletes a NodeClaim whose node did not register in time
//! (`docs/fidelity.md`, "Karpenter").

use crate::cloud::{AsgId, Cloud, CloudEvent, InstanceId, InstanceState};
use crate::engine::{Context, Millis};
use crate::kube::NodeId;

use super::{Karpenter, KarpenterEvent};

/// Index of a NodeClaim within a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClaimId(pub u32);

impl ClaimId {
    /// Position in the run's NodeClaim table.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// One launched NodeClaim.
#[derive(Debug, Clone)]
pub struct NodeClaim {
    /// Index of its NodePool in the configuration.
    pub nodepool: usize,
    /// Its instance.
    pub instance: InstanceId,
    /// The instance type launched (catalogue index).
    pub instance_type: usize,
    /// The scenario zone.
    pub zone: usize,
    /// Spot rather than on-demand.
    pub spot: bool,
    /// When it was launched.
    pub launched_at: Millis,
    /// Its node, once registered.
    pub node: Option<NodeId>,
    /// When its node registered.
    pub registered_at: Option<Millis>,
    /// Karpenter deleted it (its instance is terminated or terminating).
    pub deleted: bool,
    /// `status.lastPodEventTime`: a pod bound, terminating or terminal on
    /// its node, written at most every 10 s.
    pub last_pod_event: Option<Millis>,
    /// It no longer matches its NodePool.
    pub drifted: bool,
    /// Tainted `karpenter.sh/disrupted:NoSchedule` by a disruption command
    /// (or marked for deletion): not a candidate, counted as disrupting.
    pub marked: bool,
    /// Deleted by Karpenter: its node is draining before its instance is
    /// terminated.
    pub deleting: bool,
    /// Why it was deleted, as the trace says it.
    pub deleted_for: &'static str,
}

impl Karpenter {
    /// Whether offering (type, zone, capacity type) is usable at `now`.
    pub(super) fn offering_available(
        &self,
        t: usize,
        zone: usize,
        spot: bool,
        now: Millis,
    ) -> bool {
        !self
            .unavailable
            .iter()
            .any(|&(ut, uz, us, until)| ut == t && uz == zone && us == spot && now < until)
    }

    /// Launches one NodeClaim of NodePool `np` on the cheapest available
    /// offering of `types` (each of which fits its pods): Spot when the
    /// NodePool allows it and a Spot offering is available, else
    /// on-demand; the offerings in order of price, each type's zones with
    /// the fewest of the NodePool's live NodeClaims first. Returns whether
    /// it launched.
    pub(super) fn launch<E>(
        &mut self,
        ctx: &mut Context<'_, E>,
        np: usize,
        types: &[usize],
        cloud: &mut Cloud,
    ) -> Option<ClaimId>
    where
        E: From<KarpenterEvent> + From<CloudEvent>,
    {
        let now = ctx.now();
        let spec = &self.config.nodepools[np];
        let spot = spec.capacity.spot
            && types.iter().any(|&t| {
                spec.zones
                    .iter()
                    .any(|&z| self.offering_available(t, z, true, now))
            });
        if !spot && !spec.capacity.on_demand {
            self.launch_failures += 1;
            return None;
        }
        let mut by_price: Vec<usize> = types.to_vec();
        let catalogue = cloud.instance_types();
        by_price.sort_by(|&a, &b| {
            catalogue[a]
                .price_per_hour
                .total_cmp(&catalogue[b].price_per_hour)
                .then(a.cmp(&b))
        });
        let mut zones = spec.zones.clone();
        let live_in = |z: usize| {
            self.claims
                .iter()
                .filter(|c| c.nodepool == np && !c.deleted && c.zone == z)
                .filter(|c| cloud.instance(c.instance).is_live())
                .count()
        };
        zones.sort_by_key(|&z| (live_in(z), z));
        let group = AsgId(spec.pool.0);
        for t in by_price {
            for &z in &zones {
                if !self.offering_available(t, z, spot, now) {
                    continue;
                }
                match cloud.launch_fleet_instance(ctx, group, t, z, spot) {
                    Ok(id) => return Some(self.record_claim(ctx, np, id, t, z, spot)),
                    Err(_) => {
                        let until = now + self.config.unavailable_offering_ttl;
                        self.unavailable.retain(|&(.., u)| u > now);
                        self.unavailable.push((t, z, spot, until));
                    }
                }
            }
        }
        self.launch_failures += 1;
        None
    }

    fn record_claim<E: From<KarpenterEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        np: usize,
        id: InstanceId,
        instance_type: usize,
        zone: usize,
        spot: bool,
    ) -> ClaimId {
        let c = ClaimId(self.claims.len() as u32);
        self.claims.push(NodeClaim {
            nodepool: np,
            instance: id,
            instance_type,
            zone,
            spot,
            launched_at: ctx.now(),
            node: None,
            registered_at: None,
            deleted: false,
            last_pod_event: None,
            drifted: false,
            marked: false,
            deleting: false,
            deleted_for: "nodeclaim deleted",
        });
        if self.claim_of.len() <= id.index() {
            self.claim_of.resize(id.index() + 1, None);
        }
        self.claim_of[id.index()] = Some(c);
        self.nodeclaims_launched += 1;
        ctx.schedule_in(self.config.registration_ttl, KarpenterEvent::Liveness(c));
        if let Some(expire) = self.config.nodepools[np].disruption.expire_after {
            ctx.schedule_in(expire, KarpenterEvent::Expire(c));
        }
        c
    }

    /// The liveness check: a NodeClaim whose node has not registered by
    /// the registration TTL is deleted and its instance terminated.
    pub(super) fn liveness<E: From<CloudEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        c: ClaimId,
        cloud: &mut Cloud,
    ) {
        let claim = &mut self.claims[c.index()];
        if claim.node.is_some() || claim.deleted {
            return;
        }
        claim.deleted = true;
        let id = claim.instance;
        if cloud.instance(id).is_live() {
            self.registration_timeouts += 1;
            cloud.terminate_fleet_instance(ctx, id, "nodeclaim deleted: not registered in time");
        }
    }

    /// Whether Karpenter still has this NodeClaim (it counts against its
    /// NodePool's limits). It deletes a NodeClaim whose instance went away
    /// when EC2 reports the instance terminated (the cloud node lifecycle
    /// controller then deletes the Node and Karpenter's termination
    /// finalizer the NodeClaim), or as soon as it starts shutting down when
    /// the interruption queue brings it the state-change event.
    pub(super) fn exists(&self, c: &NodeClaim, cloud: &Cloud) -> bool {
        let inst = cloud.instance(c.instance);
        !c.deleted
            && if self.config.interruption {
                inst.is_live()
            } else {
                inst.state != InstanceState::Terminated
            }
    }

    /// Whether a NodeClaim is still launching: it exists and its node has
    /// not registered.
    pub(super) fn in_flight(&self, c: &NodeClaim, cloud: &Cloud) -> bool {
        c.node.is_none() && self.exists(c, cloud)
    }
}
