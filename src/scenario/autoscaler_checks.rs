//! A policy's `[policies.autoscaler]` table: defaults (cluster-autoscaler 1.32,
//! `docs/fidelity.md`, "Cluster autoscaler") and checks. Errors name the file,
//! the policy's line and the key.

use crate::engine::Millis;
use crate::kube::autoscaler::{AutoscalerConfig, Expander};

use super::ScenarioError;
use super::file::{AutoscalerFile, ExpanderFile, PolicyFile};
use super::validate::Source;

/// Validates one policy's autoscaler table.
pub(super) fn autoscaler(
    src: &Source<'_>,
    a: &AutoscalerFile,
    key: &str,
    policy: &PolicyFile,
    default_expander: Expander,
) -> Result<AutoscalerConfig, ScenarioError> {
    let span = Some(policy.name.span());
    let err = |k: &str, m: String| src.error(span.clone(), format!("{key}.{k}"), m);
    let priorities = priorities(a, policy, &err)?;
    let c = config(a, default_expander, priorities);
    check(a, &c, &err)?;
    Ok(c)
}

/// The expander priority of each pool of the policy (0 unless given); a
/// pool the policy does not have is an error.
fn priorities(
    a: &AutoscalerFile,
    policy: &PolicyFile,
    err: &dyn Fn(&str, String) -> ScenarioError,
) -> Result<Vec<i32>, ScenarioError> {
    let mut priorities = vec![0; policy.pools.len()];
    for (name, &prio) in &a.priorities {
        let Some(i) = policy.pools.iter().position(|p| p.name.get_ref() == name) else {
            let pools: Vec<&str> = policy
                .pools
                .iter()
                .map(|p| p.name.get_ref().as_str())
                .collect();
            return Err(err(
                &format!("priorities.{name}"),
                format!(
                    "no pool `{name}` in this policy (pools: {})",
                    pools.join(", ")
                ),
            ));
        };
        priorities[i] = prio;
    }
    Ok(priorities)
}

/// The table's values over cluster-autoscaler's defaults.
fn config(
    a: &AutoscalerFile,
    default_expander: Expander,
    priorities: Vec<i32>,
) -> AutoscalerConfig {
    let d = AutoscalerConfig::default();
    let dur = |v: &Option<super::units::DurationText>, default: Millis| {
        v.as_ref().map_or(default, |t| t.0)
    };
    AutoscalerConfig {
        scan_interval: dur(&a.scan_interval, d.scan_interval),
        expander: match a.expander {
            None => default_expander,
            Some(ExpanderFile::Random) => Expander::Random,
            Some(ExpanderFile::LeastWaste) => Expander::LeastWaste,
            Some(ExpanderFile::MostPods) => Expander::MostPods,
            Some(ExpanderFile::Priority) => Expander::Priority,
        },
        priorities,
        max_node_provision_time: dur(&a.max_node_provision_time, d.max_node_provision_time),
        initial_backoff: dur(&a.initial_backoff, d.initial_backoff),
        max_backoff: dur(&a.max_backoff, d.max_backoff),
        backoff_reset: dur(&a.backoff_reset, d.backoff_reset),
        max_nodes_total: a.max_nodes_total.unwrap_or(d.max_nodes_total),
        max_nodes_per_scale_up: a.max_nodes_per_scale_up.unwrap_or(d.max_nodes_per_scale_up),
        expendable_pods_priority_cutoff: a
            .expendable_pods_priority_cutoff
            .unwrap_or(d.expendable_pods_priority_cutoff),
        max_total_unready_percentage: a
            .max_total_unready_percentage
            .unwrap_or(d.max_total_unready_percentage),
        ok_total_unready_count: a.ok_total_unready_count.unwrap_or(d.ok_total_unready_count),
        max_node_startup_time: dur(&a.max_node_startup_time, d.max_node_startup_time),
        scale_down_enabled: a.scale_down_enabled.unwrap_or(d.scale_down_enabled),
        scale_down_unneeded_time: dur(&a.scale_down_unneeded_time, d.scale_down_unneeded_time),
        scale_down_unready_time: dur(&a.scale_down_unready_time, d.scale_down_unready_time),
        scale_down_utilization_threshold: a
            .scale_down_utilization_threshold
            .unwrap_or(d.scale_down_utilization_threshold),
        scale_down_delay_after_add: dur(
            &a.scale_down_delay_after_add,
            d.scale_down_delay_after_add,
        ),
        scale_down_delay_after_delete: dur(
            &a.scale_down_delay_after_delete,
            d.scale_down_delay_after_delete,
        ),
        scale_down_delay_after_failure: dur(
            &a.scale_down_delay_after_failure,
            d.scale_down_delay_after_failure,
        ),
        skip_nodes_with_system_pods: a
            .skip_nodes_with_system_pods
            .unwrap_or(d.skip_nodes_with_system_pods),
        max_empty_bulk_delete: a.max_empty_bulk_delete.unwrap_or(d.max_empty_bulk_delete),
        max_drain_parallelism: a.max_drain_parallelism.unwrap_or(d.max_drain_parallelism),
        max_drain_time: dur(&a.max_drain_time, d.max_drain_time),
    }
}

/// The ranges and combinations cluster-autoscaler would refuse.
fn check(
    a: &AutoscalerFile,
    c: &AutoscalerConfig,
    err: &dyn Fn(&str, String) -> ScenarioError,
) -> Result<(), ScenarioError> {
    if c.scan_interval == Millis::ZERO {
        return Err(err("scan_interval", "must be more than 0s".into()));
    }
    if c.initial_backoff > c.max_backoff {
        return Err(err(
            "initial_backoff",
            format!(
                "{} is longer than max_backoff ({})",
                c.initial_backoff, c.max_backoff
            ),
        ));
    }
    if !(0.0..=1.0).contains(&c.scale_down_utilization_threshold) {
        return Err(err(
            "scale_down_utilization_threshold",
            format!(
                "{} is not between 0 and 1",
                c.scale_down_utilization_threshold
            ),
        ));
    }
    if !(0.0..=100.0).contains(&c.max_total_unready_percentage) {
        return Err(err(
            "max_total_unready_percentage",
            format!(
                "{} is not between 0 and 100",
                c.max_total_unready_percentage
            ),
        ));
    }
    if c.max_nodes_per_scale_up == 0 {
        return Err(err("max_nodes_per_scale_up", "must be at least 1".into()));
    }
    if c.expander == Expander::Priority && a.priorities.is_empty() {
        return Err(err(
            "priorities",
            "the priority expander needs `priorities = { pool = N, ... }`".into(),
        ));
    }
    Ok(())
}
