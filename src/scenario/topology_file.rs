//! Placement-rule keys as written (serde): a workload's pod `labels`,
//! `topology_spread`, `pod_affinity` and `pod_anti_affinity`; validated
//! in `topology_checks.rs`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use toml::Spanned;

/// One `topologySpreadConstraints` entry.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SpreadFile {
    /// `maxSkew`, at least 1.
    pub max_skew: Spanned<u32>,
    /// `zone` or `hostname` (or their label keys).
    pub topology_key: Spanned<String>,
    /// `DoNotSchedule` (the default) or `ScheduleAnyway`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when_unsatisfiable: Option<Spanned<String>>,
    /// `labelSelector.matchLabels`; default: the workload's own pods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selector: Option<BTreeMap<String, String>>,
    /// The workloads whose pods it counts, by name (instead of `selector`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workloads: Option<Vec<Spanned<String>>>,
    /// `minDomains` (DoNotSchedule only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_domains: Option<Spanned<u32>>,
    /// `Honor` (default) or `Ignore`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_affinity_policy: Option<Spanned<String>>,
    /// `Ignore` (default) or `Honor`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_taints_policy: Option<Spanned<String>>,
}

/// A `podAffinityTerm`, with a weight when preferred.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TermFile {
    /// `zone` or `hostname` (or their label keys).
    pub topology_key: Spanned<String>,
    /// `labelSelector.matchLabels`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selector: Option<BTreeMap<String, String>>,
    /// The workloads whose pods it selects, by name (instead of
    /// `selector`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workloads: Option<Vec<Spanned<String>>>,
    /// Preferred terms only: 1-100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<Spanned<i32>>,
}

/// `podAffinity` or `podAntiAffinity`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PodAffinityFile {
    /// `requiredDuringSchedulingIgnoredDuringExecution`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required: Vec<TermFile>,
    /// `preferredDuringSchedulingIgnoredDuringExecution` (each with a
    /// `weight`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preferred: Vec<TermFile>,
}
