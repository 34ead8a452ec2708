//! The `[policies.autoscaler]` table as written (serde), apart from
//! `file.rs` to keep that file readable; validated in
//! `autoscaler_checks.rs`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::units::DurationText;

/// The cluster autoscaler's flags; every key optional, defaults are
/// cluster-autoscaler 1.32's (see `scenario/autoscaler_checks.rs`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AutoscalerFile {
    /// `--scan-interval` (10s).
    pub scan_interval: Option<DurationText>,
    /// `--expander`: random (default), least-waste, most-pods, priority.
    pub expander: Option<ExpanderFile>,
    /// Priority expander: pool name -> priority (higher wins; default 0).
    #[serde(default)]
    pub priorities: BTreeMap<String, i32>,
    /// `--max-node-provision-time` (15m).
    pub max_node_provision_time: Option<DurationText>,
    /// `--initial-node-group-backoff-duration` (5m).
    pub initial_backoff: Option<DurationText>,
    /// `--max-node-group-backoff-duration` (30m).
    pub max_backoff: Option<DurationText>,
    /// `--node-group-backoff-reset-timeout` (3h).
    pub backoff_reset: Option<DurationText>,
    /// `--max-nodes-total` (0: no limit).
    pub max_nodes_total: Option<u32>,
    /// `--max-nodes-per-scaleup` (1000).
    pub max_nodes_per_scale_up: Option<u32>,
    /// `--expendable-pods-priority-cutoff` (-10).
    pub expendable_pods_priority_cutoff: Option<i32>,
    /// `--max-total-unready-percentage` (45).
    pub max_total_unready_percentage: Option<f64>,
    /// `--ok-total-unready-count` (3).
    pub ok_total_unready_count: Option<u32>,
    /// `--max-node-startup-time` (15m).
    pub max_node_startup_time: Option<DurationText>,
    /// `--scale-down-enabled` (true).
    pub scale_down_enabled: Option<bool>,
    /// `--scale-down-unneeded-time` (10m).
    pub scale_down_unneeded_time: Option<DurationText>,
    /// `--scale-down-unready-time` (20m).
    pub scale_down_unready_time: Option<DurationText>,
    /// `--scale-down-utilization-threshold` (0.5).
    pub scale_down_utilization_threshold: Option<f64>,
    /// `--scale-down-delay-after-add` (10m).
    pub scale_down_delay_after_add: Option<DurationText>,
    /// `--scale-down-delay-after-delete` (0s).
    pub scale_down_delay_after_delete: Option<DurationText>,
    /// `--scale-down-delay-after-failure` (3m).
    pub scale_down_delay_after_failure: Option<DurationText>,
    /// `--skip-nodes-with-system-pods` (true).
    pub skip_nodes_with_system_pods: Option<bool>,
    /// `--max-empty-bulk-delete` (10).
    pub max_empty_bulk_delete: Option<u32>,
    /// `--max-drain-parallelism` (1).
    pub max_drain_parallelism: Option<u32>,
    /// `--max-graceful-termination-sec` plus `--max-pod-eviction-time`
    /// (600s + 2m = 12m): a drain not done by then failed.
    pub max_drain_time: Option<DurationText>,
}

/// Expanders by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExpanderFile {
    /// random.
    Random,
    /// least-waste.
    LeastWaste,
    /// most-pods.
    MostPods,
    /// priority.
    Priority,
}
