//! Zonal persistent volumes (EBS through the EBS CSI driver, a StorageClass
//! with `volumeBindingMode: WaitForFirstConsumer`): a StatefulSet ordinal's
//! claims are provisioned in the zone of the node its first pod is bound to
//! (the scheduler's VolumeBinding PreBind picks the node, the provisioner
//! creates the volume there). From then on the PersistentVolume's node
//! affinity names that zone, and the VolumeBinding filter
//! (`pkg/scheduler/framework/plugins/volumebinding`, `FindPodVolumes`:
//! "node(s) had volume node affinity conflict",
//! `UnschedulableAndUnresolvable`) keeps the ordinal's pods, this one and
//! every replacement, on nodes of that zone. A pod waits for its volumes to
//! be attached to its node before its containers start: each claim's
//! `attach_delay` is drawn at every binding (from its own stream, so no
//! other draw moves) and the pod starts after the slowest claim plus its
//! start-up delay. See `docs/fidelity.md`, "Workloads".

use rand_chacha::ChaCha8Rng;

use crate::engine::Millis;
use crate::quantity::Delay;

use super::scheduler::topology::Plan;
use super::scheduler::{self, Plugins};
use super::{Cluster, Node, NodeId, PodId, Workload};

/// One `volumeClaimTemplates` entry: a zonal volume per ordinal.
#[derive(Debug, Clone, PartialEq)]
pub struct VolumeClaim {
    /// The template's name (`data`): the claim of ordinal `i` of `web` is
    /// `data-web-i`.
    pub name: String,
    /// From the pod's binding to the volume attached to its node
    /// (provisioning included on the first binding).
    pub attach_delay: Delay,
}

impl Workload {
    /// The zone the volumes of ordinal `slot` are bound to, if this is a
    /// StatefulSet whose ordinal's first pod was bound.
    pub fn volume_zone(&self, slot: u32) -> Option<u16> {
        self.stateful
            .as_ref()
            .and_then(|s| s.volume_zone.get(slot as usize).copied().flatten())
    }

    /// VolumeBinding's filter for a pod of ordinal `slot` on `node`: its
    /// volumes, once bound, are in the node's zone.
    pub fn volumes_allow(&self, slot: u32, node: &Node) -> bool {
        self.volume_zone(slot).is_none_or(|z| z == node.spec.zone)
    }
}

/// Draws the attach time of every claim of a pod: they attach in
/// parallel, so the pod waits for the slowest.
pub(crate) fn attach_time(claims: &[VolumeClaim], rng: &mut ChaCha8Rng) -> Millis {
    claims
        .iter()
        .map(|c| c.attach_delay.sample(rng))
        .max()
        .unwrap_or(Millis::ZERO)
}

impl Cluster {
    /// PreBind for pod `pid` on `node`: binds its ordinal's volumes to the
    /// node's zone if they are not bound yet, and returns how long attaching
    /// them takes (zero for a pod without claims; no draw then).
    pub(super) fn bind_volumes(&mut self, pid: PodId, node: NodeId) -> Millis {
        let pod = &self.pods[pid.index()];
        let (w, slot) = (pod.workload.index(), pod.slot as usize);
        let zone = self.nodes[node.index()].spec.zone;
        let wl = &mut self.workloads[w];
        let (Some(spec), Some(st)) = (&wl.spec.statefulset, wl.stateful.as_mut()) else {
            return Millis::ZERO;
        };
        if spec.volume_claims.is_empty() {
            return Millis::ZERO;
        }
        if let Some(z) = st.volume_zone.get_mut(slot) {
            z.get_or_insert(zone);
        }
        attach_time(
            &spec.volume_claims,
            self.controllers.statefulsets.attach_rng(),
        )
    }

    /// The plugins that rejected `pid`, a pod whose volumes are bound to a
    /// zone or whose spread or inter-pod affinity rules filter nodes, given
    /// `base`, the plugins [`scheduler::Snapshot`]'s per-pool counts name:
    /// those counts cannot tell a node out of the zone, or one the rules
    /// reject, from a full one, so each node that passes the run-time taint
    /// filters of a pool the pod may use is looked at. The default
    /// profile's order decides which plugin a node counts for:
    /// NodeResourcesFit, VolumeBinding, PodTopologySpread, then
    /// InterPodAffinity.
    pub(super) fn volume_rejectors(&self, pid: PodId, base: Plugins) -> Plugins {
        let pod = &self.pods[pid.index()];
        let wl = &self.workloads[pod.workload.index()];
        let topology = self.select.topology();
        let rules = topology.rules(pod.workload);
        let plan = rules
            .filters()
            .then(|| Plan::new(rules, wl, topology.counts()));
        let mut out = base.without(Plugins::NODE_RESOURCES_FIT);
        for (p, list) in self.nodes.by_pool().iter().enumerate() {
            if !wl.fits_pool[p] {
                continue;
            }
            for &id in list {
                let node = &self.nodes[id.index()];
                if !scheduler::passes_static(wl, node) {
                    continue;
                }
                let taken = scheduler::nominated_load(pod, node, &self.pods);
                let rejected = if !scheduler::fits_resources(pod, node, taken) {
                    Plugins::NODE_RESOURCES_FIT
                } else if !wl.volumes_allow(pod.slot, node) {
                    Plugins::VOLUME_BINDING
                } else {
                    plan.as_ref()
                        .and_then(|p| p.rejects(topology.counts(), node))
                        // Feasible now (the pod fitted no node only for the
                        // resources its nominated node holds).
                        .unwrap_or(Plugins::NODE_RESOURCES_FIT)
                };
                out = out.with(rejected);
            }
        }
        out
    }
}
