//! Taints on nodes and tolerations on pods, with the matching rule of
//! `k8s.io/api/core/v1/toleration.go` (`ToleratesTaint`) and the well-known
//! taint keys of `k8s.io/api/core/v1/well_known_taints.go`.

use crate::engine::Millis;

/// `node.kubernetes.io/not-ready`: the node's Ready condition is False
/// (e.g. its network plugin is not running yet).
pub const NOT_READY: &str = "node.kubernetes.io/not-ready";
/// `node.kubernetes.io/unreachable`: Ready is Unknown (no heartbeat).
pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// `node.kubernetes.io/unschedulable`: the node is cordoned.
pub const UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

/// What a taint does to pods that do not tolerate it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TaintEffect {
    /// New pods are not scheduled here.
    NoSchedule,
    /// The scheduler avoids the node (TaintToleration score).
    PreferNoSchedule,
    /// New pods are not scheduled and running pods are evicted.
    NoExecute,
}

/// A taint on a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taint {
    /// Key, e.g. `dedicated`.
    pub key: String,
    /// Value (may be empty).
    pub value: String,
    /// Effect.
    pub effect: TaintEffect,
}

/// How a toleration compares values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TolerationOperator {
    /// Matches any value (and, with an empty key, any taint).
    Exists,
    /// Matches an equal value.
    Equal,
}

/// A toleration on a pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toleration {
    /// Key; empty with `Exists` tolerates every taint.
    pub key: String,
    /// `Exists` or `Equal`.
    pub operator: TolerationOperator,
    /// Value compared under `Equal`.
    pub value: String,
    /// Effect it tolerates; `None` tolerates every effect.
    pub effect: Option<TaintEffect>,
    /// For `NoExecute`: how long the pod stays after the taint appears;
    /// `None` is forever.
    pub toleration_seconds: Option<Millis>,
}

impl Toleration {
    /// A toleration of `key` with effect `effect`, any value.
    pub fn exists(key: &str, effect: TaintEffect) -> Self {
        Toleration {
            key: key.to_string(),
            operator: TolerationOperator::Exists,
            value: String::new(),
            effect: Some(effect),
            toleration_seconds: None,
        }
    }

    /// Whether this toleration tolerates `taint` (`ToleratesTaint`).
    pub fn tolerates(&self, key: &str, value: &str, effect: TaintEffect) -> bool {
        if self.effect.is_some_and(|e| e != effect) {
            return false;
        }
        if !self.key.is_empty() && self.key != key {
            return false;
        }
        match self.operator {
            TolerationOperator::Exists => true,
            TolerationOperator::Equal => self.value == value,
        }
    }
}

/// Whether any of `tolerations` tolerates the taint.
pub fn tolerated(tolerations: &[Toleration], key: &str, value: &str, effect: TaintEffect) -> bool {
    tolerations.iter().any(|t| t.tolerates(key, value, effect))
}

/// The taints the node lifecycle controller and the kubelet put on nodes at
/// run time, and whether a pod tolerates each with effect NoSchedule
/// (`pkg/controller/nodelifecycle/node_lifecycle_controller.go`,
/// TaintNodesByCondition). Precomputed per workload because these taints
/// come and go per node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DynamicTolerations {
    /// Tolerates `not-ready:NoSchedule`.
    pub not_ready: bool,
    /// Tolerates `unreachable:NoSchedule`.
    pub unreachable: bool,
    /// Tolerates `unschedulable:NoSchedule` (cordon).
    pub unschedulable: bool,
}

impl DynamicTolerations {
    /// From a pod's tolerations.
    pub fn of(tolerations: &[Toleration]) -> Self {
        DynamicTolerations {
            not_ready: tolerated(tolerations, NOT_READY, "", TaintEffect::NoSchedule),
            unreachable: tolerated(tolerations, UNREACHABLE, "", TaintEffect::NoSchedule),
            unschedulable: tolerated(tolerations, UNSCHEDULABLE, "", TaintEffect::NoSchedule),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_rules() {
        let any = Toleration {
            key: String::new(),
            operator: TolerationOperator::Exists,
            value: String::new(),
            effect: None,
            toleration_seconds: None,
        };
        assert!(any.tolerates("dedicated", "system", TaintEffect::NoExecute));
        let eq = Toleration {
            key: "dedicated".into(),
            operator: TolerationOperator::Equal,
            value: "system".into(),
            effect: Some(TaintEffect::NoSchedule),
            toleration_seconds: None,
        };
        assert!(eq.tolerates("dedicated", "system", TaintEffect::NoSchedule));
        assert!(!eq.tolerates("dedicated", "user", TaintEffect::NoSchedule));
        assert!(!eq.tolerates("dedicated", "system", TaintEffect::NoExecute));
        assert!(!eq.tolerates("other", "system", TaintEffect::NoSchedule));
        let d = DynamicTolerations::of(&[Toleration::exists(NOT_READY, TaintEffect::NoSchedule)]);
        assert!(d.not_ready && !d.unreachable && !d.unschedulable);
    }
}
