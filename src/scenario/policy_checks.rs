//! Validation of the `[[policies]]` of a scenario: each policy's pools,
//! built straight into the cloud's `AsgSpec` (sizes, instance types, zones,
//! delays, ASG settings, warm pool) with their taints, and its placement
//! rules, overprovisioning and autoscaler. Every error names the file and
//! the key, and the line where it is written (none when the file writes no
//! policy at all).

use std::collections::{BTreeMap, BTreeSet};

use crate::cloud::{AsgSpec, InstanceType, WarmPoolSpec};
use crate::engine::Millis;
use crate::kube::{PodClass, Taint};
use crate::quantity::Delay;

use super::file::{CapacityFile, PolicyFile, PoolFile, ScenarioFile, WarmStateFile};
use super::kube_checks::{self, ClassRules, PriorityClasses};
use super::validate::{Source, delay};
use super::{Policy, ScenarioError};

/// AWS's console default `HealthCheckGracePeriod` (user guide,
/// health-check-grace-period).
const DEFAULT_GRACE: Millis = Millis(300_000);

/// What every policy's pools are checked against and default to.
pub(super) struct PoolContext<'a> {
    /// The instance types, built-in and the file's.
    pub types: &'a [InstanceType],
    /// The scenario's zones.
    pub zones: &'a [String],
    /// The PriorityClasses placement rules may name.
    pub classes: &'a PriorityClasses,
    /// `[instances] launch_delay`, or its default.
    pub launch_delay: Delay,
    /// `[instances] boot_delay`, or its default.
    pub boot_delay: Delay,
    /// The autoscaler expander of the scenario's Kubernetes version.
    pub default_expander: crate::kube::autoscaler::Expander,
}

impl PoolContext<'_> {
    /// The launch and boot delays of `[instances]`, with their defaults
    /// (`docs/fidelity.md`, "EC2 instances").
    pub(super) fn delays(
        src: &Source<'_>,
        raw: &ScenarioFile,
    ) -> Result<(Delay, Delay), ScenarioError> {
        let launch = match &raw.instances.launch_delay {
            Some(d) => delay(d).map_err(|m| src.error(None, "instances.launch_delay", m))?,
            // UNCONFIRMED: EC2 pending -> running is typically under a minute.
            None => Delay::LogNormal {
                median: Millis::from_secs(40),
                p95: Millis::from_secs(90),
            },
        };
        let boot = match &raw.instances.boot_delay {
            Some(d) => delay(d).map_err(|m| src.error(None, "instances.boot_delay", m))?,
            // UNCONFIRMED: OS boot, kubelet registration and CNI until Ready.
            None => Delay::LogNormal {
                median: Millis::from_secs(60),
                p95: Millis::from_secs(120),
            },
        };
        Ok((launch, boot))
    }
}

/// The file's policies, in file order.
pub(super) fn policies(
    src: &Source<'_>,
    raw: &ScenarioFile,
    cx: &PoolContext<'_>,
) -> Result<Vec<Policy>, ScenarioError> {
    if raw.policies.is_empty() {
        return Err(src.error(None, "policies", "at least one policy is needed"));
    }
    let mut names = BTreeSet::new();
    let mut policies = Vec::new();
    for p in &raw.policies {
        if !names.insert(p.name.get_ref().clone()) {
            let key = format!("policies.{}", p.name.get_ref());
            return Err(src.error(Some(p.name.span()), key, "duplicate policy name"));
        }
        policies.push(policy(src, raw, p, cx)?);
    }
    Ok(policies)
}

/// One policy: its ASG pools and NodePools (with their taints), its
/// per-class placement rules, overprovisioning and autoscaler.
fn policy(
    src: &Source<'_>,
    raw: &ScenarioFile,
    p: &PolicyFile,
    cx: &PoolContext<'_>,
) -> Result<Policy, ScenarioError> {
    let pkey = format!("policies.{}", p.name.get_ref());
    if p.pools.is_empty() && p.nodepools.is_empty() {
        return Err(src.error(
            Some(p.name.span()),
            format!("{pkey}.pools"),
            "a policy needs at least one pool or NodePool",
        ));
    }
    let mut pool_names = BTreeSet::new();
    let (mut pools, mut pool_taints) = asg_pools(src, raw, p, cx, &mut pool_names)?;
    let karpenter = super::karpenter_checks::nodepools(src, p, cx, pools.len(), &mut pool_names)?;
    pools.extend(karpenter.pools);
    pool_taints.extend(karpenter.taints);
    let (placement, rules) = class_placement(src, raw, p, cx)?;
    let overprovision = match &p.overprovision {
        Some(o) => Some(kube_checks::overprovision(
            src,
            o,
            &format!("{pkey}.overprovision"),
        )?),
        None => None,
    };
    let autoscaler = match &p.autoscaler {
        Some(a) => Some(super::autoscaler_checks::autoscaler(
            src,
            a,
            &format!("{pkey}.autoscaler"),
            p,
            cx.default_expander,
        )?),
        None => None,
    };
    Ok(Policy {
        autoscaler,
        karpenter: karpenter.config,
        name: p.name.get_ref().clone(),
        description: p.description.clone(),
        pools,
        placement,
        pool_taints,
        rules,
        overprovision,
    })
}

/// A policy's ASG pools and each one's configured taints, their names
/// added to `pool_names` (a name used twice is refused).
fn asg_pools(
    src: &Source<'_>,
    raw: &ScenarioFile,
    p: &PolicyFile,
    cx: &PoolContext<'_>,
    pool_names: &mut BTreeSet<String>,
) -> Result<(Vec<AsgSpec>, Vec<Vec<Taint>>), ScenarioError> {
    let mut pools = Vec::new();
    let mut pool_taints = Vec::new();
    for file in &p.pools {
        let key = format!(
            "policies.{}.pools.{}",
            p.name.get_ref(),
            file.name.get_ref()
        );
        if !pool_names.insert(file.name.get_ref().clone()) {
            return Err(src.error(
                Some(file.name.span()),
                key,
                "duplicate pool name in this policy",
            ));
        }
        pools.push(pool(src, raw, file, &key, cx)?);
        pool_taints.push(super::placement::taints(
            src,
            &file.taints,
            &key,
            Some(file.name.span()),
        )?);
    }
    Ok((pools, pool_taints))
}

/// Per pod class, a policy's node selector and its placement rules.
type ClassPlacement = (
    BTreeMap<PodClass, BTreeMap<String, String>>,
    BTreeMap<PodClass, ClassRules>,
);

/// Per pod class, the policy's node selector and its placement rules.
fn class_placement(
    src: &Source<'_>,
    raw: &ScenarioFile,
    p: &PolicyFile,
    cx: &PoolContext<'_>,
) -> Result<ClassPlacement, ScenarioError> {
    let mut placement = BTreeMap::new();
    let mut rules = BTreeMap::new();
    for (class, c) in [
        (PodClass::System, &p.placement.system),
        (PodClass::User, &p.placement.user),
    ] {
        if let Some(c) = c {
            placement.insert(class, c.node_selector.clone());
            let key = format!("policies.{}.placement.{}", p.name.get_ref(), class.as_str());
            let span = Some(p.name.span());
            rules.insert(
                class,
                kube_checks::class_rules(src, cx.classes, raw, c, &key, span)?,
            );
        }
    }
    Ok((placement, rules))
}

/// One pool (ASG) of a policy; `key` is `policies.<policy>.pools.<pool>`.
fn pool(
    src: &Source<'_>,
    raw: &ScenarioFile,
    pool: &PoolFile,
    key: &str,
    cx: &PoolContext<'_>,
) -> Result<AsgSpec, ScenarioError> {
    let instance_type = super::cloud_checks::type_index(
        src,
        cx.types,
        pool.instance_type.get_ref(),
        Some(pool.instance_type.span()),
        &format!("{key}.instance_type"),
    )?;
    let (min, desired, max) = sizes(src, pool, key)?;
    let zones = zones(src, pool, key, cx.zones)?;
    let pool_delay = |d: &Option<super::file::DelayFile>, what: &str, default: &Delay| match d {
        Some(d) => {
            delay(d).map_err(|m| src.error(Some(pool.name.span()), format!("{key}.{what}"), m))
        }
        None => Ok(default.clone()),
    };
    let launch_delay = pool_delay(&pool.launch_delay, "launch_delay", &cx.launch_delay)?;
    let boot_delay = pool_delay(&pool.boot_delay, "boot_delay", &cx.boot_delay)?;
    let mut fallback_types = Vec::new();
    if let Some(f) = &pool.fallback_types {
        for name in f.get_ref() {
            fallback_types.push(super::cloud_checks::type_index(
                src,
                cx.types,
                name,
                Some(f.span()),
                &format!("{key}.fallback_types"),
            )?);
        }
    }
    let spot = pool.capacity == Some(CapacityFile::Spot);
    if pool.capacity_rebalance == Some(true) && !spot {
        return Err(src.error(
            Some(pool.name.span()),
            format!("{key}.capacity_rebalance"),
            "Capacity Rebalancing applies to Spot pools only: set capacity = \"spot\"",
        ));
    }
    Ok(AsgSpec {
        name: pool.name.get_ref().clone(),
        instance_type,
        fallback_types,
        health_check_grace_period: pool
            .health_check_grace_period
            .or(raw.instances.health_check_grace_period)
            .map_or(DEFAULT_GRACE, |d| d.0),
        protect_from_scale_in: pool.protect_from_scale_in.unwrap_or(false),
        capacity_rebalance: pool.capacity_rebalance.unwrap_or(false),
        az_rebalance: pool.az_rebalance.unwrap_or(true),
        spot,
        warm_pool: warm_pool(src, pool, key, desired, max)?,
        min,
        desired,
        max,
        zones,
        labels: pool.labels.clone(),
        launch_delay,
        boot_delay,
    })
}

/// `(min, desired, max)`: `min` and `max` default to `desired`. An error
/// names the key the user wrote: `desired` when `min` was left to default
/// to it.
fn sizes(src: &Source<'_>, pool: &PoolFile, key: &str) -> Result<(u32, u32, u32), ScenarioError> {
    let desired = *pool.desired.get_ref();
    let min = pool.min.as_ref().map_or(desired, |m| *m.get_ref());
    let max = pool.max.as_ref().map_or(desired.max(min), |m| *m.get_ref());
    if min > max {
        let max_span = pool.max.as_ref().map(|m| m.span());
        return Err(match &pool.min {
            Some(m) => src.error(
                Some(m.span()),
                format!("{key}.min"),
                format!("min ({min}) exceeds max ({max})"),
            ),
            None => src.error(
                max_span.or(Some(pool.desired.span())),
                format!("{key}.desired"),
                format!("desired ({desired}) exceeds max ({max})"),
            ),
        });
    }
    if desired < min || desired > max {
        return Err(src.error(
            Some(pool.desired.span()),
            format!("{key}.desired"),
            format!("desired ({desired}) must lie within [min, max] = [{min}, {max}]"),
        ));
    }
    Ok((min, desired, max))
}

/// The pool's zones, every zone of the scenario by default.
fn zones(
    src: &Source<'_>,
    pool: &PoolFile,
    key: &str,
    all: &[String],
) -> Result<Vec<String>, ScenarioError> {
    let Some(z) = &pool.zones else {
        return Ok(all.to_vec());
    };
    for zone in z.get_ref() {
        if !all.contains(zone) {
            return Err(src.error(
                Some(z.span()),
                format!("{key}.zones"),
                format!("unknown zone `{zone}` (zones: {})", all.join(", ")),
            ));
        }
    }
    if z.get_ref().is_empty() {
        return Err(src.error(
            Some(z.span()),
            format!("{key}.zones"),
            "at least one zone is needed",
        ));
    }
    Ok(z.get_ref().clone())
}

/// The pool's warm pool, if it has one: `max(min_size, prepared - desired)`
/// instances, prepared capacity defaulting to the pool's max.
fn warm_pool(
    src: &Source<'_>,
    pool: &PoolFile,
    key: &str,
    desired: u32,
    max: u32,
) -> Result<Option<WarmPoolSpec>, ScenarioError> {
    let Some(w) = &pool.warm_pool else {
        return Ok(None);
    };
    let prepared = w.max_prepared_capacity.unwrap_or(max);
    if prepared < desired {
        return Err(src.error(
            Some(pool.name.span()),
            format!("{key}.warm_pool.max_prepared_capacity"),
            format!("{prepared} is below desired ({desired})"),
        ));
    }
    let delay = match &w.delay {
        Some(d) => delay(d)
            .map_err(|m| src.error(Some(pool.name.span()), format!("{key}.warm_pool.delay"), m))?,
        // UNCONFIRMED: start of a stopped, initialized instance and
        // kubelet registration.
        None => Delay::LogNormal {
            median: Millis::from_secs(30),
            p95: Millis::from_secs(60),
        },
    };
    Ok(Some(WarmPoolSpec {
        size: (prepared - desired).max(w.min_size.unwrap_or(0)),
        stopped: w.state != Some(WarmStateFile::Running),
        delay,
    }))
}
