//! A policy's `[[policies.nodepools]]` and `[policies.karpenter]` tables as
//! written (serde); validated in `karpenter_checks.rs`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::file::DelayFile;
use super::placement_file::TaintFile;
use super::units::{CpuText, DurationText, MemoryText};

/// One Karpenter NodePool.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NodePoolFile {
    /// Name, unique among the policy's pools and NodePools.
    pub name: toml::Spanned<String>,
    /// `spec.template.spec.requirements`.
    #[serde(default)]
    pub requirements: Vec<NodePoolRequirementFile>,
    /// `spec.template.metadata.labels`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `spec.template.spec.taints`.
    #[serde(default)]
    pub taints: Vec<TaintFile>,
    /// `spec.limits`.
    pub limits: Option<LimitsFile>,
    /// `spec.weight` (1-100).
    pub weight: Option<u32>,
    /// Overrides `[instances] launch_delay`.
    pub launch_delay: Option<DelayFile>,
    /// Overrides `[instances] boot_delay`.
    pub boot_delay: Option<DelayFile>,
    /// `spec.disruption`.
    pub disruption: Option<DisruptionFile>,
    /// `spec.template.spec.expireAfter`: a duration or `Never` (720h).
    pub expire_after: Option<String>,
    /// Changes of the NodePool during the run (its nodes drift).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub updates: Vec<NodePoolUpdateFile>,
}

/// `spec.disruption`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DisruptionFile {
    /// `WhenEmpty` or `WhenEmptyOrUnderutilized` (the default).
    pub consolidation_policy: Option<String>,
    /// A duration or `Never` (0s).
    pub consolidate_after: Option<String>,
    /// Disruption budgets (one of `nodes = "10%"` when absent).
    pub budgets: Option<Vec<BudgetFile>>,
}

/// One disruption budget.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetFile {
    /// A count (`"3"`) or a percentage of the NodePool's nodes (`"10%"`).
    pub nodes: Option<String>,
    /// A cron schedule (UTC) from which the budget is active.
    pub schedule: Option<String>,
    /// How long it stays active after each hit of the schedule (`h`, `m`).
    pub duration: Option<String>,
    /// The reasons it applies to (`Empty`, `Underutilized`, `Drifted`);
    /// every reason when absent.
    pub reasons: Option<Vec<String>>,
}

/// A change of the NodePool at a time of the run: its requirements are
/// replaced; NodeClaims that no longer satisfy them have drifted.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NodePoolUpdateFile {
    /// When the NodePool is changed.
    pub at: DurationText,
    /// The new `requirements`.
    pub requirements: Vec<NodePoolRequirementFile>,
}

/// A NodePool requirement: a well-known label, an operator and values.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NodePoolRequirementFile {
    /// The label key, e.g. `karpenter.k8s.aws/instance-family`.
    pub key: String,
    /// `In`, `NotIn`, `Exists`, `DoesNotExist`, `Gt` or `Lt`.
    pub operator: RequirementOperatorFile,
    /// Values (one integer for `Gt` and `Lt`).
    #[serde(default)]
    pub values: Vec<String>,
}

/// NodePool requirement operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum RequirementOperatorFile {
    /// In.
    In,
    /// NotIn.
    NotIn,
    /// Exists.
    Exists,
    /// DoesNotExist.
    DoesNotExist,
    /// Gt.
    Gt,
    /// Lt.
    Lt,
}

/// `spec.limits`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsFile {
    /// cpu of all the NodePool's nodes together.
    pub cpu: Option<CpuText>,
    /// memory of all the NodePool's nodes together.
    pub memory: Option<MemoryText>,
}

/// The Karpenter controller's settings; every key optional.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KarpenterFile {
    /// `BATCH_IDLE_DURATION` (1s).
    pub batch_idle_duration: Option<DurationText>,
    /// `BATCH_MAX_DURATION` (10s).
    pub batch_max_duration: Option<DurationText>,
    /// The registration TTL (15m).
    pub registration_ttl: Option<DurationText>,
    /// The AWS provider's unavailable-offerings TTL (3m).
    pub unavailable_offering_ttl: Option<DurationText>,
    /// `INTERRUPTION_QUEUE` set: Spot interruption notices drain the node
    /// (false).
    pub interruption_queue: Option<bool>,
}
