//! The `[kubernetes]` table as written: the control plane's timings, its
//! feature gates and `[kubernetes.scheduler]`. Part of `file.rs`'s format,
//! checked by `version_checks.rs` and `control_plane_checks.rs`.

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::file::DelayFile;
use super::units::DurationText;

/// Control-plane timings; every key optional.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesFile {
    /// The Kubernetes minor version, `"1.31"` .. `"1.35"`: its defaults.
    pub version: Option<Spanned<String>>,
    /// Feature gates set against the version's defaults.
    #[serde(default, skip_serializing_if = "FeatureGatesFile::is_empty")]
    pub feature_gates: FeatureGatesFile,
    /// `node-monitor-period`.
    pub node_monitor_period: Option<DurationText>,
    /// `node-monitor-grace-period`.
    pub node_monitor_grace_period: Option<DurationText>,
    /// How often a kubelet renews its node's Lease.
    pub node_lease_renew_interval: Option<DurationText>,
    /// PodGC period.
    pub pod_gc_period: Option<DurationText>,
    /// PodGC orphan quarantine.
    pub pod_gc_quarantine: Option<DurationText>,
    /// Controller reaction time.
    pub controller_delay: Option<DurationText>,
    /// Spacing of pod creations.
    pub pod_create_interval: Option<DurationText>,
    /// Pod creations at once before the spacing applies.
    pub pod_create_burst: Option<u32>,
    /// `--concurrent-replicaset-syncs`.
    pub concurrent_replicaset_syncs: Option<u32>,
    /// `burstReplicas`: most pods one ReplicaSet sync creates.
    pub replicaset_burst: Option<u32>,
    /// Pod start-up delay.
    pub pod_startup: Option<DelayFile>,
    /// How long a terminated instance still counts as existing for the
    /// cloud node lifecycle controller.
    pub terminated_instance_visible_for: Option<DurationText>,
    /// `--node-eviction-rate`, nodes per second per zone.
    pub node_eviction_rate: Option<f64>,
    /// `--secondary-node-eviction-rate`.
    pub secondary_node_eviction_rate: Option<f64>,
    /// `--large-cluster-size-threshold`.
    pub large_cluster_size_threshold: Option<u32>,
    /// `--unhealthy-zone-threshold`.
    pub unhealthy_zone_threshold: Option<f64>,
    /// `--default-unreachable-toleration-seconds`.
    pub default_toleration_seconds: Option<DurationText>,
    /// First retry of a failed controller sync.
    pub controller_retry_initial: Option<DurationText>,
    /// Longest retry of a failed controller sync.
    pub controller_retry_max: Option<DurationText>,
    /// Scheduler settings.
    #[serde(default)]
    pub scheduler: SchedulerFile,
}

/// `[kubernetes.feature_gates]`, as `--feature-gates` names them.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureGatesFile {
    /// `SchedulerQueueingHints`.
    #[serde(rename = "SchedulerQueueingHints")]
    pub scheduler_queueing_hints: Option<Spanned<bool>>,
    /// `SchedulerPopFromBackoffQ`.
    #[serde(rename = "SchedulerPopFromBackoffQ")]
    pub scheduler_pop_from_backoff_q: Option<Spanned<bool>>,
}

impl FeatureGatesFile {
    /// Whether no gate is set.
    pub fn is_empty(&self) -> bool {
        self.scheduler_queueing_hints.is_none() && self.scheduler_pop_from_backoff_q.is_none()
    }
}

/// Scheduler settings; every key optional.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerFile {
    /// `podInitialBackoffSeconds`.
    pub initial_backoff: Option<DurationText>,
    /// `podMaxBackoffSeconds`.
    pub max_backoff: Option<DurationText>,
    /// `podMaxInUnschedulablePodsDuration`.
    pub max_in_unschedulable: Option<DurationText>,
    /// Time per scheduling cycle.
    pub decision_time: Option<DurationText>,
    /// `least-allocated` (default), `most-allocated` or
    /// `requested-to-capacity-ratio`.
    pub scoring: Option<ScoringFile>,
    /// Shape of `requested-to-capacity-ratio`.
    pub ratio_shape: Option<Vec<ShapePointFile>>,
    /// `percentageOfNodesToScore` (0: adaptive).
    pub percentage_of_nodes_to_score: Option<u32>,
    /// The system default spread constraints (`defaultingType: System`,
    /// true) or none (`List` with no constraints, false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_spreading: Option<bool>,
}

/// A point of the RequestedToCapacityRatio shape.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ShapePointFile {
    /// Utilization, 0-100.
    pub utilization: u32,
    /// Score, 0-10.
    pub score: u32,
}

/// NodeResourcesFit strategies by name.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScoringFile {
    /// LeastAllocated.
    LeastAllocated,
    /// MostAllocated.
    MostAllocated,
    /// RequestedToCapacityRatio.
    RequestedToCapacityRatio,
}
