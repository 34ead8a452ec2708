//! Validation of the cloud side of a scenario: reservations, launch
//! failures, the ASG settings of each pool, and the fault library. Every
//! error names the file, the line and the key.

use std::ops::Range;

use crate::cloud::{
    CloudConfig, Fault, FaultKind, IceWindow, InstanceType, Reservation, Target, Victims,
    WarmPoolSpec,
};
use crate::engine::Millis;
use crate::quantity::Delay;

use super::file::{CapacityFile, FaultFile, FaultKindFile, PoolFile, ScenarioFile, WarmStateFile};
use super::validate::{Source, delay};
use super::{Policy, ScenarioError};

/// AWS's console default `HealthCheckGracePeriod` (user guide,
/// health-check-grace-period).
const DEFAULT_GRACE: Millis = Millis(300_000);

fn zone_index(
    src: &Source<'_>,
    zones: &[String],
    zone: &str,
    span: Option<Range<usize>>,
    key: &str,
) -> Result<usize, ScenarioError> {
    zones.iter().position(|z| z == zone).ok_or_else(|| {
        src.error(
            span,
            key.to_string(),
            format!("unknown zone `{zone}` (zones: {})", zones.join(", ")),
        )
    })
}

fn type_index(
    src: &Source<'_>,
    types: &[InstanceType],
    name: &str,
    span: Option<Range<usize>>,
    key: &str,
) -> Result<usize, ScenarioError> {
    types.iter().position(|t| t.name == name).ok_or_else(|| {
        let known: Vec<&str> = types.iter().map(|t| t.name.as_str()).collect();
        src.error(
            span,
            key.to_string(),
            format!(
                "unknown instance type `{name}` (known: {})",
                known.join(", ")
            ),
        )
    })
}

fn probability(
    src: &Source<'_>,
    p: f64,
    span: Option<Range<usize>>,
    key: &str,
) -> Result<f64, ScenarioError> {
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(src.error(
            span,
            key.to_string(),
            format!("{p} is not a probability: it must lie within [0, 1]"),
        ))
    }
}

/// The cloud-wide settings of `[instances]`.
pub(super) fn cloud_config(
    src: &Source<'_>,
    raw: &ScenarioFile,
    zones: &[String],
    types: &[InstanceType],
    replacement_delay: Millis,
) -> Result<CloudConfig, ScenarioError> {
    let i = &raw.instances;
    let mut c = CloudConfig::new(zones.to_vec());
    c.replacement_delay = replacement_delay;
    c.reservation = Reservation {
        cpu: i.reserved_cpu.map(|x| x.0),
        memory: i.reserved_memory.map(|x| x.0),
    };
    if let Some(d) = i.impaired_detection {
        c.impaired_detection = d.0;
    }
    if let Some(d) = i.shutting_down {
        c.shutting_down = d.0;
    }
    let lf = &mut c.launch_failures;
    if let Some(d) = i.launch_retry_backoff {
        lf.retry_backoff = d.0;
    }
    if let Some(d) = i.launch_retry_max_backoff {
        lf.max_retry_backoff = d.0;
    }
    if lf.retry_backoff == Millis::ZERO || lf.max_retry_backoff < lf.retry_backoff {
        return Err(src.error(
            None,
            "instances.launch_retry_backoff",
            "must be longer than 0s and at most launch_retry_max_backoff",
        ));
    }
    if let Some(probs) = &i.launch_failure_probability {
        let key = "instances.launch_failure_probability";
        for (zone, &p) in probs.get_ref() {
            let z = zone_index(src, zones, zone, Some(probs.span()), key)?;
            lf.probability[z] = probability(src, p, Some(probs.span()), &format!("{key}.{zone}"))?;
        }
    }
    for w in &i.insufficient_capacity {
        let key = "instances.insufficient_capacity";
        let zone = zone_index(
            src,
            zones,
            w.zone.get_ref(),
            Some(w.zone.span()),
            &format!("{key}.zone"),
        )?;
        let instance_type = type_index(
            src,
            types,
            w.instance_type.get_ref(),
            Some(w.instance_type.span()),
            &format!("{key}.instance_type"),
        )?;
        if w.until.0 < w.from.0 {
            return Err(src.error(
                Some(w.zone.span()),
                format!("{key}.until"),
                "the window ends before it starts",
            ));
        }
        lf.ice.push(IceWindow {
            zone,
            instance_type,
            from: w.from.0,
            until: w.until.0,
        });
    }
    if let Some(r) = &i.spot_price_ratio {
        c.spot_price_ratio = probability(
            src,
            *r.get_ref(),
            Some(r.span()),
            "instances.spot_price_ratio",
        )?;
    }
    Ok(c)
}

/// A pool's ASG settings beyond size, type and zones.
pub(super) struct PoolExtras {
    pub fallback_types: Vec<usize>,
    pub health_check_grace_period: Millis,
    pub protect_from_scale_in: bool,
    pub capacity_rebalance: bool,
    pub az_rebalance: bool,
    pub spot: bool,
    pub warm_pool: Option<WarmPoolSpec>,
}

pub(super) fn pool_extras(
    src: &Source<'_>,
    raw: &ScenarioFile,
    pool: &PoolFile,
    key: &str,
    types: &[InstanceType],
) -> Result<PoolExtras, ScenarioError> {
    let mut fallback_types = Vec::new();
    if let Some(f) = &pool.fallback_types {
        for name in f.get_ref() {
            fallback_types.push(type_index(
                src,
                types,
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
    let warm_pool = match &pool.warm_pool {
        Some(w) => {
            let max = pool.max.as_ref().map(|m| *m.get_ref());
            let desired = *pool.desired.get_ref();
            let prepared = w
                .max_prepared_capacity
                .or(max)
                .unwrap_or(desired.max(pool.min.as_ref().map_or(0, |m| *m.get_ref())));
            if prepared < desired {
                return Err(src.error(
                    Some(pool.name.span()),
                    format!("{key}.warm_pool.max_prepared_capacity"),
                    format!("{prepared} is below desired ({desired})"),
                ));
            }
            let delay = match &w.delay {
                Some(d) => delay(d).map_err(|m| {
                    src.error(Some(pool.name.span()), format!("{key}.warm_pool.delay"), m)
                })?,
                // UNCONFIRMED: start of a stopped, initialized instance and
                // kubelet registration.
                None => Delay::LogNormal {
                    median: Millis::from_secs(30),
                    p95: Millis::from_secs(60),
                },
            };
            Some(WarmPoolSpec {
                size: (prepared - desired).max(w.min_size.unwrap_or(0)),
                stopped: w.state != Some(WarmStateFile::Running),
                delay,
            })
        }
        None => None,
    };
    Ok(PoolExtras {
        warm_pool,
        fallback_types,
        health_check_grace_period: pool
            .health_check_grace_period
            .or(raw.instances.health_check_grace_period)
            .map_or(DEFAULT_GRACE, |d| d.0),
        protect_from_scale_in: pool.protect_from_scale_in.unwrap_or(false),
        capacity_rebalance: pool.capacity_rebalance.unwrap_or(false),
        az_rebalance: pool.az_rebalance.unwrap_or(true),
        spot,
    })
}

/// The `[[faults]]` of the file.
pub(super) fn faults(
    src: &Source<'_>,
    raw: &ScenarioFile,
    zones: &[String],
    policies: &[Policy],
) -> Result<Vec<Fault>, ScenarioError> {
    let mut out = Vec::new();
    for (i, f) in raw.faults.iter().enumerate() {
        out.push(fault(src, raw, zones, policies, i, f)?);
    }
    Ok(out)
}

fn fault(
    src: &Source<'_>,
    raw: &ScenarioFile,
    zones: &[String],
    policies: &[Policy],
    i: usize,
    f: &FaultFile,
) -> Result<Fault, ScenarioError> {
    let kind = *f.kind.get_ref();
    let span = Some(f.kind.span());
    let key = |k: &str| format!("faults[{i}].{k}");
    let err = |k: &str, m: String| src.error(span.clone(), key(k), m);

    // Keys that apply to each kind; any other key set is an error rather
    // than silently ignored.
    let allowed: &[&str] = match kind {
        FaultKindFile::TerminateAll => &[],
        FaultKindFile::TerminateFraction => &["fraction", "count", "over"],
        FaultKindFile::ZoneOutage => &["duration"],
        FaultKindFile::InstanceFailures => &["mtbf"],
        FaultKindFile::SpotInterruption => &["fraction", "count", "notice", "drain"],
        FaultKindFile::InstanceRefresh => &["min_healthy_percentage", "warmup"],
    };
    let set = [
        ("fraction", f.fraction.is_some()),
        ("count", f.count.is_some()),
        ("over", f.over.is_some()),
        ("duration", f.duration.is_some()),
        ("mtbf", f.mtbf.is_some()),
        ("notice", f.notice.is_some()),
        ("drain", f.drain.is_some()),
        ("min_healthy_percentage", f.min_healthy_percentage.is_some()),
        ("warmup", f.warmup.is_some()),
    ];
    for (name, present) in set {
        if present && !allowed.contains(&name) {
            return Err(err(
                name,
                format!("does not apply to kind `{}`", kind.as_str()),
            ));
        }
    }

    let every = match &f.every {
        Some(d) => {
            let d = delay(d).map_err(|m| err("every", m))?;
            if d.mean() <= 0.0 {
                return Err(err("every", "the interval must be longer than 0s".into()));
            }
            Some(d)
        }
        None => None,
    };
    let at = match (f.at, &every, kind) {
        (Some(a), _, _) => a.0,
        // A process, or failures by MTBF, starts at 0 unless told.
        (None, Some(_), _) | (None, None, FaultKindFile::InstanceFailures) => Millis::ZERO,
        (None, None, _) => {
            return Err(err(
                "at",
                "give `at` (when it strikes) or `every` (a random process)".into(),
            ));
        }
    };
    if at > raw.horizon.0 {
        return Err(err(
            "at",
            "the fault is after the horizon and would never strike".into(),
        ));
    }
    let until = f.until.map(|u| u.0);

    let zone = match &f.zone {
        Some(z) => Some(zone_index(
            src,
            zones,
            z.get_ref(),
            Some(z.span()),
            &key("zone"),
        )?),
        None => None,
    };
    let pool = match &f.pool {
        Some(p) => {
            let name = p.get_ref();
            if !policies
                .iter()
                .any(|pol| pol.pools.iter().any(|x| &x.name == name))
            {
                return Err(src.error(
                    Some(p.span()),
                    key("pool"),
                    format!("no policy has a pool named `{name}`"),
                ));
            }
            Some(name.clone())
        }
        None => None,
    };

    let victims = || -> Result<Victims, ScenarioError> {
        match (f.fraction, f.count) {
            (Some(_), Some(_)) => Err(err("count", "give `fraction` or `count`, not both".into())),
            (Some(x), None) => Ok(Victims::Fraction(probability(
                src,
                x,
                span.clone(),
                &key("fraction"),
            )?)),
            (None, Some(n)) => Ok(Victims::Count(n)),
            (None, None) => Ok(Victims::Fraction(1.0)),
        }
    };
    let kind = match kind {
        FaultKindFile::TerminateAll => FaultKind::TerminateAll,
        FaultKindFile::TerminateFraction => {
            if f.fraction.is_none() && f.count.is_none() {
                return Err(err("fraction", "give `fraction` (0..1) or `count`".into()));
            }
            FaultKind::TerminateFraction {
                victims: victims()?,
                over: f.over.map_or(Millis::ZERO, |d| d.0),
            }
        }
        FaultKindFile::ZoneOutage => {
            if zone.is_none() {
                return Err(err("zone", "a zone outage needs `zone`".into()));
            }
            let Some(d) = f.duration else {
                return Err(err("duration", "a zone outage needs `duration`".into()));
            };
            FaultKind::ZoneOutage { duration: d.0 }
        }
        FaultKindFile::InstanceFailures => {
            let Some(m) = f.mtbf.filter(|m| m.0 > Millis::ZERO) else {
                return Err(err("mtbf", "needs `mtbf` longer than 0s".into()));
            };
            if every.is_some() {
                return Err(err(
                    "every",
                    "instance_failures is already a random process: give `mtbf`".into(),
                ));
            }
            FaultKind::InstanceFailures { mtbf: m.0 }
        }
        FaultKindFile::SpotInterruption => FaultKind::SpotInterruption {
            victims: victims()?,
            // The two-minute warning (user guide,
            // ec2-auto-scaling-capacity-rebalancing).
            notice: f.notice.map_or(Millis::from_mins(2), |d| d.0),
            drain: f.drain.unwrap_or(false),
        },
        FaultKindFile::InstanceRefresh => {
            let pct = f.min_healthy_percentage.unwrap_or(90);
            if pct > 100 {
                return Err(err(
                    "min_healthy_percentage",
                    format!("{pct} must lie within [0, 100]"),
                ));
            }
            FaultKind::InstanceRefresh {
                min_healthy_percentage: pct,
                warmup: f.warmup.map(|d| d.0),
            }
        }
    };
    Ok(Fault {
        kind,
        target: Target { pool, zone },
        at,
        every,
        until,
    })
}
