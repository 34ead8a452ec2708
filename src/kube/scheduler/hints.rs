//! Which cluster events send a rejected pod back to be retried: the events
//! each filter plugin registers (`EventsToRegister`) and its
//! `QueueingHintFn`, for the plugins poolsim models, as kube-scheduler
//! 1.31-1.35 have them (`pkg/scheduler/framework/plugins/*`; sources in
//! `docs/fidelity.md`).
//!
//! With the `SchedulerQueueingHints` gate on (1.32+), a pod in
//! unschedulablePods moves when one of the plugins that rejected it
//! registered the event and its hint function says `Queue`. With the gate
//! off (1.31), every registered event moves it (the default hint is always
//! `Queue`), but a node event first runs `preCheckForNode`: the pod must
//! fit the node now (NodeResourcesFit, NodeAffinity) and tolerate its
//! `NoSchedule` taints. A pod that no plugin rejected (there was no node at
//! all) moves on any event.

/// A set of the filter plugins poolsim models: the plugins that rejected a
/// pod in its last attempt (`QueuedPodInfo.UnschedulablePlugins`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Plugins(u8);

impl Plugins {
    /// No plugin.
    pub const NONE: Plugins = Plugins(0);
    /// NodeUnschedulable (a cordoned node).
    pub const NODE_UNSCHEDULABLE: Plugins = Plugins(1);
    /// TaintToleration (an untolerated NoSchedule or NoExecute taint).
    pub const TAINT_TOLERATION: Plugins = Plugins(1 << 1);
    /// NodeAffinity (nodeSelector and required node affinity).
    pub const NODE_AFFINITY: Plugins = Plugins(1 << 2);
    /// NodeResourcesFit (cpu, memory, pod slots).
    pub const NODE_RESOURCES_FIT: Plugins = Plugins(1 << 3);
    /// VolumeBinding (a bound volume's node affinity names another zone).
    pub const VOLUME_BINDING: Plugins = Plugins(1 << 4);
    /// PodTopologySpread (a DoNotSchedule constraint's skew).
    pub const POD_TOPOLOGY_SPREAD: Plugins = Plugins(1 << 5);
    /// InterPodAffinity (required affinity or anti-affinity, the pod's or
    /// an existing pod's).
    pub const INTER_POD_AFFINITY: Plugins = Plugins(1 << 6);

    /// Whether every plugin of `other` is in the set.
    pub fn contains(self, other: Plugins) -> bool {
        self.0 & other.0 == other.0 && other.0 != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The set with `other` added.
    #[must_use]
    pub fn with(self, other: Plugins) -> Plugins {
        Plugins(self.0 | other.0)
    }

    /// The set with `other` taken out.
    #[must_use]
    pub fn without(self, other: Plugins) -> Plugins {
        Plugins(self.0 & !other.0)
    }

    /// The plugins' names, in the default profile's filter order.
    pub fn names(self) -> Vec<&'static str> {
        [
            (Self::NODE_UNSCHEDULABLE, "NodeUnschedulable"),
            (Self::TAINT_TOLERATION, "TaintToleration"),
            (Self::NODE_AFFINITY, "NodeAffinity"),
            (Self::NODE_RESOURCES_FIT, "NodeResourcesFit"),
            (Self::VOLUME_BINDING, "VolumeBinding"),
            (Self::POD_TOPOLOGY_SPREAD, "PodTopologySpread"),
            (Self::INTER_POD_AFFINITY, "InterPodAffinity"),
        ]
        .into_iter()
        .filter(|(p, _)| self.contains(*p))
        .map(|(_, n)| n)
        .collect()
    }
}

/// A node as one pod's filters see it, before or after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeView {
    /// The pod's nodeSelector and required node affinity match the node's
    /// labels.
    pub labels_match: bool,
    /// The node has a `NoSchedule` taint the pod does not tolerate
    /// (configured, or the run-time not-ready, unreachable or unschedulable
    /// taints).
    pub untolerated_no_schedule: bool,
    /// The node has a `NoExecute` taint the pod does not tolerate.
    pub untolerated_no_execute: bool,
    /// `spec.unschedulable` (cordoned).
    pub unschedulable: bool,
    /// The pod's requests fit the node's allocatable with nothing else on
    /// it (NodeResourcesFit's `isFit`).
    pub fits_allocatable: bool,
    /// The pod's requests fit the node's free room now (the resource part
    /// of `AdmissionCheck`).
    pub fits_now: bool,
    /// The pod has a spread constraint with `nodeTaintsPolicy: Honor`
    /// (then a taint change matters to PodTopologySpread).
    pub spread_honors_taints: bool,
    /// The pod has required pod affinity or anti-affinity terms, whose
    /// topology keys every node carries.
    pub pod_affinity_terms: bool,
}

/// How a scheduled pod that was added or deleted relates to a pending
/// pod's rules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PodMatch {
    /// It matches the selector of one of the pending pod's spread
    /// constraints.
    pub spread: bool,
    /// It matches every required pod affinity term of the pending pod.
    pub affinity: bool,
    /// It matches every required anti-affinity term of the pending pod.
    pub anti: bool,
}

impl NodeView {
    fn untolerated(&self) -> bool {
        self.untolerated_no_schedule || self.untolerated_no_execute
    }

    /// `preCheckForNode` (gate off only).
    fn pre_check(&self) -> bool {
        self.fits_now && self.labels_match && !self.untolerated_no_schedule
    }
}

/// A cluster event as one pending pod's hint functions see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventView {
    /// `Node/Add`.
    NodeAdd(NodeView),
    /// `Node/UpdateNodeTaint`: a taint removed or `spec.unschedulable`
    /// cleared (the node turned Ready, or was uncordoned).
    NodeTaintUpdate {
        /// Before.
        old: NodeView,
        /// After.
        new: NodeView,
    },
    /// `Node/UpdateNodeLabel`. No scenario changes labels at run time; it
    /// is here because it is where the versions differ most.
    NodeLabelUpdate {
        /// Before.
        old: NodeView,
        /// After.
        new: NodeView,
    },
    /// `Pod/Delete` of a pod bound to a node (`AssignedPodDelete`).
    AssignedPodDelete(PodMatch),
    /// `Pod/Add` of a pod bound to a node (`AssignedPodAdd`); only sent
    /// for pods that some pod's spread constraint or required affinity
    /// selects.
    AssignedPodAdd(PodMatch),
}

/// Whether the event should move a pod rejected by `rejected` out of
/// unschedulablePods (`isPodWorthRequeuing`), with or without
/// QueueingHints.
pub fn worth_requeuing(rejected: Plugins, event: &EventView, queueing_hints: bool) -> bool {
    if rejected.is_empty() {
        // "Worth requeuing because no failed plugins".
        return true;
    }
    let rejected_by = |p| rejected.contains(p);
    if !queueing_hints {
        return registered_without_hints(rejected, event)
            && match event {
                EventView::NodeAdd(n)
                | EventView::NodeTaintUpdate { new: n, .. }
                | EventView::NodeLabelUpdate { new: n, .. } => n.pre_check(),
                EventView::AssignedPodDelete(_) | EventView::AssignedPodAdd(_) => true,
            };
    }
    match *event {
        EventView::AssignedPodDelete(m) => {
            // NodeResourcesFit.isSchedulableAfterPodEvent: any deletion of
            // a scheduled pod may make room. PodTopologySpread: the pod
            // matches a constraint's selector; InterPodAffinity: it
            // matches every anti-affinity term.
            rejected_by(Plugins::NODE_RESOURCES_FIT)
                || (rejected_by(Plugins::POD_TOPOLOGY_SPREAD) && m.spread)
                || (rejected_by(Plugins::INTER_POD_AFFINITY) && m.anti)
        }
        EventView::AssignedPodAdd(m) => {
            (rejected_by(Plugins::POD_TOPOLOGY_SPREAD) && m.spread)
                || (rejected_by(Plugins::INTER_POD_AFFINITY) && m.affinity)
        }
        EventView::NodeAdd(n) => {
            // VolumeBinding registers Node/Add without a hint function: any
            // new node may satisfy a volume's node affinity. Every node
            // carries the zone and hostname keys, so PodTopologySpread
            // queues on any new node, InterPodAffinity when the pod has
            // terms.
            rejected_by(Plugins::VOLUME_BINDING)
                || rejected_by(Plugins::POD_TOPOLOGY_SPREAD)
                || (rejected_by(Plugins::INTER_POD_AFFINITY) && n.pod_affinity_terms)
                || (rejected_by(Plugins::NODE_RESOURCES_FIT) && n.fits_allocatable)
                || (rejected_by(Plugins::NODE_AFFINITY) && n.labels_match)
                || (rejected_by(Plugins::TAINT_TOLERATION) && !n.untolerated())
                || (rejected_by(Plugins::NODE_UNSCHEDULABLE) && !n.unschedulable)
        }
        EventView::NodeTaintUpdate { old, new } => {
            // NodeResourcesFit and NodeAffinity register Add and
            // UpdateNodeAllocatable / UpdateNodeLabel only.
            (rejected_by(Plugins::TAINT_TOLERATION) && old.untolerated() && !new.untolerated())
                || (rejected_by(Plugins::NODE_UNSCHEDULABLE)
                    && old.unschedulable
                    && !new.unschedulable)
                || (rejected_by(Plugins::POD_TOPOLOGY_SPREAD) && new.spread_honors_taints)
                || (rejected_by(Plugins::INTER_POD_AFFINITY) && new.pod_affinity_terms)
        }
        EventView::NodeLabelUpdate { old, new } => {
            rejected_by(Plugins::VOLUME_BINDING)
                || rejected_by(Plugins::POD_TOPOLOGY_SPREAD)
                || (rejected_by(Plugins::INTER_POD_AFFINITY) && new.pod_affinity_terms)
                || (rejected_by(Plugins::NODE_AFFINITY) && new.labels_match && !old.labels_match)
        }
    }
}

/// With the gate off every plugin registers `Node/Add`, `UpdateNodeTaint`
/// and `UpdateNodeLabel` ("we may miss Node/Add event due to preCheck",
/// kubernetes/kubernetes#109437); only NodeResourcesFit registers
/// `Pod/Delete`. VolumeBinding registers the three node events and no pod
/// event.
fn registered_without_hints(rejected: Plugins, event: &EventView) -> bool {
    match event {
        EventView::AssignedPodDelete(_) => {
            rejected.contains(Plugins::NODE_RESOURCES_FIT)
                || rejected.contains(Plugins::POD_TOPOLOGY_SPREAD)
                || rejected.contains(Plugins::INTER_POD_AFFINITY)
        }
        // Registered by PodTopologySpread and InterPodAffinity only.
        EventView::AssignedPodAdd(_) => {
            rejected.contains(Plugins::POD_TOPOLOGY_SPREAD)
                || rejected.contains(Plugins::INTER_POD_AFFINITY)
        }
        EventView::NodeAdd(_)
        | EventView::NodeTaintUpdate { .. }
        | EventView::NodeLabelUpdate { .. } => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: NodeView = NodeView {
        labels_match: true,
        untolerated_no_schedule: false,
        untolerated_no_execute: false,
        unschedulable: false,
        fits_allocatable: true,
        fits_now: false,
        spread_honors_taints: false,
        pod_affinity_terms: false,
    };

    #[test]
    fn affinity_rejection_ignores_pod_deletion() {
        for qh in [false, true] {
            assert!(!worth_requeuing(
                Plugins::NODE_AFFINITY,
                &EventView::AssignedPodDelete(PodMatch::default()),
                qh
            ));
            assert!(worth_requeuing(
                Plugins::NODE_RESOURCES_FIT,
                &EventView::AssignedPodDelete(PodMatch::default()),
                qh
            ));
        }
    }

    #[test]
    fn resources_rejection_and_label_change() {
        let label = EventView::NodeLabelUpdate {
            old: FULL,
            new: FULL,
        };
        // 1.32+: NodeResourcesFit does not register UpdateNodeLabel.
        assert!(!worth_requeuing(Plugins::NODE_RESOURCES_FIT, &label, true));
        // 1.31: it does, but preCheck finds the node still full.
        assert!(!worth_requeuing(Plugins::NODE_RESOURCES_FIT, &label, false));
        let roomy = NodeView {
            fits_now: true,
            ..FULL
        };
        let label = EventView::NodeLabelUpdate {
            old: roomy,
            new: roomy,
        };
        assert!(!worth_requeuing(Plugins::NODE_RESOURCES_FIT, &label, true));
        assert!(worth_requeuing(Plugins::NODE_RESOURCES_FIT, &label, false));
    }

    /// VolumeBinding registers Node/Add and UpdateNodeLabel with no hint
    /// function (always `Queue`), UpdateNodeTaint only with the gate off
    /// (then behind `preCheckForNode`), and no pod event.
    #[test]
    fn volume_binding_requeues_on_any_new_node() {
        let vb = Plugins::VOLUME_BINDING;
        let full = EventView::NodeAdd(FULL);
        let roomy = NodeView {
            fits_now: true,
            ..FULL
        };
        assert!(worth_requeuing(vb, &full, true));
        // 1.31: preCheck finds no room on the new node.
        assert!(!worth_requeuing(vb, &full, false));
        assert!(worth_requeuing(vb, &EventView::NodeAdd(roomy), false));
        let ready = EventView::NodeTaintUpdate {
            old: NodeView {
                untolerated_no_schedule: true,
                ..roomy
            },
            new: roomy,
        };
        assert!(!worth_requeuing(vb, &ready, true));
        assert!(worth_requeuing(vb, &ready, false));
        for qh in [false, true] {
            assert!(!worth_requeuing(
                vb,
                &EventView::AssignedPodDelete(PodMatch::default()),
                qh
            ));
        }
        assert_eq!(
            vb.with(Plugins::NODE_RESOURCES_FIT).names(),
            ["NodeResourcesFit", "VolumeBinding"]
        );
        assert_eq!(
            vb.with(Plugins::NODE_RESOURCES_FIT)
                .without(Plugins::NODE_RESOURCES_FIT),
            vb
        );
    }

    #[test]
    fn names_in_filter_order() {
        let p = Plugins::NODE_RESOURCES_FIT.with(Plugins::TAINT_TOLERATION);
        assert_eq!(p.names(), ["TaintToleration", "NodeResourcesFit"]);
        assert!(Plugins::NONE.is_empty());
    }
}
