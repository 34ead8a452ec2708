//! Validation of the `[kubernetes]` table's control-plane keys into
//! `KubeConfig`: controller and kubelet timings, the scheduler
//! (`[kubernetes.scheduler]`: backoff, scoring, its RequestedToCapacityRatio
//! shape), the node lifecycle controller's eviction rates and the
//! controllers' retry backoff and API pacing. The version's defaults come
//! from `version_checks.rs`.

use crate::engine::Millis;
use crate::kube::KubeConfig;
use crate::kube::scheduler::{SchedulerConfig, ScoringStrategy};

use super::ScenarioError;
use super::file::{KubernetesFile, ScenarioFile, ScoringFile};
use super::units::DurationText;
use super::validate::{Source, delay};
use super::version_checks::VersionSettings;

/// The control plane of `raw`'s `[kubernetes]` table, the defaults of
/// `versions` where it says nothing.
pub(super) fn kube_config(
    src: &Source<'_>,
    raw: &ScenarioFile,
    versions: VersionSettings,
) -> Result<KubeConfig, ScenarioError> {
    let k = &raw.kubernetes;
    let d = KubeConfig::default();
    let pod_startup = match &k.pod_startup {
        Some(p) => delay(p).map_err(|m| src.error(None, "kubernetes.pod_startup", m))?,
        None => d.pod_startup.clone(),
    };
    let mut config = KubeConfig {
        node_monitor_period: pick(&k.node_monitor_period, d.node_monitor_period),
        node_monitor_grace_period: pick(
            &k.node_monitor_grace_period,
            versions.version.node_monitor_grace_period(),
        ),
        node_lease_renew_interval: pick(&k.node_lease_renew_interval, d.node_lease_renew_interval),
        pod_gc_period: pick(&k.pod_gc_period, d.pod_gc_period),
        pod_gc_quarantine: pick(&k.pod_gc_quarantine, d.pod_gc_quarantine),
        controller_delay: pick(&k.controller_delay, d.controller_delay),
        pod_create_interval: pick(&k.pod_create_interval, d.pod_create_interval),
        pod_startup,
        scheduler: scheduler(src, k, &versions)?,
        ..d
    };
    node_lifecycle(src, k, &mut config)?;
    controllers(src, k, &mut config)?;
    periods(src, &config)?;
    Ok(config)
}

/// The value written, else `default`.
fn pick(v: &Option<DurationText>, default: Millis) -> Millis {
    v.map_or(default, |x| x.0)
}

/// `[kubernetes.scheduler]`: backoff, decision time, scoring strategy and
/// shape, the share of nodes scored; the version's queueing gates.
fn scheduler(
    src: &Source<'_>,
    k: &KubernetesFile,
    versions: &VersionSettings,
) -> Result<SchedulerConfig, ScenarioError> {
    let s = &k.scheduler;
    let sd = SchedulerConfig::default();
    Ok(SchedulerConfig {
        initial_backoff: pick(&s.initial_backoff, sd.initial_backoff),
        max_backoff: pick(&s.max_backoff, sd.max_backoff),
        max_in_unschedulable: pick(&s.max_in_unschedulable, sd.max_in_unschedulable),
        decision_time: pick(&s.decision_time, sd.decision_time),
        scoring: match s.scoring {
            None | Some(ScoringFile::LeastAllocated) => ScoringStrategy::LeastAllocated,
            Some(ScoringFile::MostAllocated) => ScoringStrategy::MostAllocated,
            Some(ScoringFile::RequestedToCapacityRatio) => {
                ScoringStrategy::RequestedToCapacityRatio
            }
        },
        ratio_shape: shape(src, s.ratio_shape.as_deref())?.unwrap_or(sd.ratio_shape.clone()),
        percentage_of_nodes_to_score: s
            .percentage_of_nodes_to_score
            .unwrap_or(sd.percentage_of_nodes_to_score),
        queueing_hints: versions.queueing_hints,
        pop_from_backoff: versions.pop_from_backoff,
        default_spreading: s.default_spreading.unwrap_or(sd.default_spreading),
        ..sd
    })
}

/// Periods that must not be zero, and the scheduler's backoff as
/// `KubeSchedulerConfiguration` validates it.
fn periods(src: &Source<'_>, config: &KubeConfig) -> Result<(), ScenarioError> {
    for (key, v) in [
        ("kubernetes.node_monitor_period", config.node_monitor_period),
        ("kubernetes.pod_gc_period", config.pod_gc_period),
        (
            "kubernetes.scheduler.initial_backoff",
            config.scheduler.initial_backoff,
        ),
    ] {
        if v == Millis::ZERO {
            return Err(src.error(None, key, "must be longer than 0s"));
        }
    }
    // KubeSchedulerConfiguration: podInitialBackoffSeconds is a whole
    // number of seconds > 0, and podMaxBackoffSeconds must be >= it.
    let (initial, max) = (
        config.scheduler.initial_backoff,
        config.scheduler.max_backoff,
    );
    if initial < Millis::from_secs(1) {
        return Err(src.error(
            None,
            "kubernetes.scheduler.initial_backoff",
            "must be at least 1s (kube-scheduler's podInitialBackoffSeconds is a whole number of seconds > 0)",
        ));
    }
    if max < initial {
        return Err(src.error(
            None,
            "kubernetes.scheduler.max_backoff",
            format!(
                "must be at least initial_backoff ({}), as kube-scheduler requires of podMaxBackoffSeconds",
                crate::quantity::format_duration(initial)
            ),
        ));
    }
    Ok(())
}

/// The node lifecycle controller's keys: eviction rates, the unhealthy
/// zone threshold, the large cluster size, how long a terminated
/// instance stays visible, the default toleration seconds.
fn node_lifecycle(
    src: &Source<'_>,
    k: &KubernetesFile,
    c: &mut KubeConfig,
) -> Result<(), ScenarioError> {
    let rate = |v: Option<f64>, key: &str, default: f64| match v {
        None => Ok(default),
        Some(r) if r.is_finite() && r >= 0.0 => Ok(r),
        Some(_) => Err(src.error(
            None,
            format!("kubernetes.{key}"),
            "must be a non-negative number",
        )),
    };
    c.node_eviction_rate = rate(
        k.node_eviction_rate,
        "node_eviction_rate",
        c.node_eviction_rate,
    )?;
    c.secondary_node_eviction_rate = rate(
        k.secondary_node_eviction_rate,
        "secondary_node_eviction_rate",
        c.secondary_node_eviction_rate,
    )?;
    c.unhealthy_zone_threshold = rate(
        k.unhealthy_zone_threshold,
        "unhealthy_zone_threshold",
        c.unhealthy_zone_threshold,
    )?;
    if c.unhealthy_zone_threshold > 1.0 {
        return Err(src.error(
            None,
            "kubernetes.unhealthy_zone_threshold",
            "must lie within [0, 1]",
        ));
    }
    if let Some(t) = k.large_cluster_size_threshold {
        c.large_cluster_size_threshold = t;
    }
    if let Some(d) = k.terminated_instance_visible_for {
        c.terminated_instance_visible_for = d.0;
    }
    if let Some(d) = k.default_toleration_seconds {
        c.default_toleration_seconds = d.0;
    }
    Ok(())
}

/// The controllers' keys: their retry backoff (client-go's exponential
/// rate limiter), the pod creation burst, the ReplicaSet controller's
/// workers and burst.
fn controllers(
    src: &Source<'_>,
    k: &KubernetesFile,
    c: &mut KubeConfig,
) -> Result<(), ScenarioError> {
    if let Some(d) = k.controller_retry_initial {
        if d.0 == Millis::ZERO {
            return Err(src.error(
                None,
                "kubernetes.controller_retry_initial",
                "must be longer than 0s",
            ));
        }
        c.controller_retry_initial = d.0;
    }
    if let Some(d) = k.controller_retry_max {
        c.controller_retry_max = d.0;
    }
    // client-go's exponential rate limiter waits min(initial x 2^n, max):
    // a max below the initial delay (or 0s) retries without waiting.
    if c.controller_retry_max < c.controller_retry_initial {
        return Err(src.error(
            None,
            "kubernetes.controller_retry_max",
            format!(
                "must be at least controller_retry_initial ({}); a retry backoff of {} would retry without waiting",
                crate::quantity::format_duration(c.controller_retry_initial),
                crate::quantity::format_duration(c.controller_retry_max)
            ),
        ));
    }
    if let Some(b) = k.pod_create_burst {
        c.pod_create_burst = b;
    }
    for (value, key, into) in [
        (
            k.concurrent_replicaset_syncs,
            "kubernetes.concurrent_replicaset_syncs",
            &mut c.concurrent_replicaset_syncs,
        ),
        (
            k.replicaset_burst,
            "kubernetes.replicaset_burst",
            &mut c.replicaset_burst,
        ),
    ] {
        match value {
            Some(0) => return Err(src.error(None, key, "must be at least 1")),
            Some(n) => *into = n,
            None => {}
        }
    }
    Ok(())
}

/// A RequestedToCapacityRatio shape: utilizations strictly increasing
/// within 0-100, scores within 0-10 (`ValidateRequestedToCapacityRatioArgs`).
fn shape(
    src: &Source<'_>,
    points: Option<&[super::file::ShapePointFile]>,
) -> Result<Option<Vec<crate::kube::scheduler::ShapePoint>>, ScenarioError> {
    let Some(points) = points else {
        return Ok(None);
    };
    let key = "kubernetes.scheduler.ratio_shape";
    if points.is_empty() {
        return Err(src.error(None, key, "a shape needs at least one point"));
    }
    let mut last: Option<u32> = None;
    for p in points {
        if p.utilization > 100 || p.score > 10 {
            return Err(src.error(None, key, "utilization must be 0-100 and score 0-10"));
        }
        if last.is_some_and(|l| p.utilization <= l) {
            return Err(src.error(None, key, "utilizations must increase strictly"));
        }
        last = Some(p.utilization);
    }
    Ok(Some(
        points
            .iter()
            .map(|p| crate::kube::scheduler::ShapePoint {
                utilization: i64::from(p.utilization),
                score: i64::from(p.score),
            })
            .collect(),
    ))
}
