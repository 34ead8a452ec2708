//! PriorityClasses, tolerations, taints and node affinity as written
//! (serde), apart from `file.rs` to keep that file readable; validated in
//! `placement.rs` and `kube_checks.rs`.

use serde::{Deserialize, Serialize};
use toml::Spanned;

/// A PriorityClass.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PriorityClassFile {
    /// Name.
    pub name: Spanned<String>,
    /// Priority value (at most 1000000000 for user classes).
    pub value: Spanned<i64>,
    /// `PreemptLowerPriority` (default) or `Never`.
    pub preemption_policy: Option<PreemptionPolicyFile>,
    /// Whether pods without a class get this one.
    #[serde(default)]
    pub global_default: bool,
}

/// `preemptionPolicy` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum PreemptionPolicyFile {
    /// May preempt.
    PreemptLowerPriority,
    /// Never preempts.
    Never,
}

/// A toleration, as in a pod spec.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TolerationFile {
    /// Key; empty with `Exists` tolerates everything.
    #[serde(default)]
    pub key: String,
    /// `Equal` (default) or `Exists`.
    pub operator: Option<TolerationOperatorFile>,
    /// Value for `Equal`.
    #[serde(default)]
    pub value: String,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`; absent: all.
    pub effect: Option<EffectFile>,
    /// For `NoExecute`: how long the pod stays on a tainted node.
    pub toleration_seconds: Option<u64>,
}

/// Toleration operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum TolerationOperatorFile {
    /// Value must be equal.
    Equal,
    /// Any value.
    Exists,
}

/// Taint effects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum EffectFile {
    /// NoSchedule.
    NoSchedule,
    /// PreferNoSchedule.
    PreferNoSchedule,
    /// NoExecute.
    NoExecute,
}

/// A taint on a pool's nodes.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TaintFile {
    /// Key.
    pub key: String,
    /// Value.
    #[serde(default)]
    pub value: String,
    /// Effect.
    pub effect: EffectFile,
}

/// Node affinity.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NodeAffinityFile {
    /// Required terms (ORed); each a list of requirements (ANDed).
    #[serde(default)]
    pub required: Vec<Vec<RequirementFile>>,
    /// Preferred terms with weights 1-100.
    #[serde(default)]
    pub preferred: Vec<PreferredTermFile>,
}

/// A `matchExpressions` entry.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RequirementFile {
    /// Label key.
    pub key: String,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    pub operator: SelectorOperatorFile,
    /// Values for `In` / `NotIn`.
    #[serde(default)]
    pub values: Vec<String>,
}

/// Node selector operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum SelectorOperatorFile {
    /// In.
    In,
    /// NotIn.
    NotIn,
    /// Exists.
    Exists,
    /// DoesNotExist.
    DoesNotExist,
}

/// A preferred term.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PreferredTermFile {
    /// Weight, 1-100.
    pub weight: i64,
    /// Requirements (ANDed).
    #[serde(rename = "match")]
    pub requirements: Vec<RequirementFile>,
}
