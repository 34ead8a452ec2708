//! Validation of the cloud side of a scenario: reservations, launch
//! failures and the fault library (a pool's ASG settings are checked with
//! its policy, in `policy_checks.rs`). Every error names the file, the line
//! and the key.

use std::ops::Range;

use crate::cloud::{
    CloudConfig, Fault, FaultKind, IceWindow, InstanceType, LaunchFailures, Reservation, Target,
    Victims,
};
use crate::engine::Millis;

use super::file::{FaultFile, FaultKindFile, InstancesFile, ScenarioFile};
use super::validate::{Source, delay};
use super::{Policy, ScenarioError};

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

pub(super) fn type_index(
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
    launch_failures(src, i, (zones, types), &mut c.launch_failures)?;
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

/// `[instances]`' launch failures: the retry backoff, failure
/// probabilities per zone and insufficient-capacity windows.
fn launch_failures(
    src: &Source<'_>,
    i: &InstancesFile,
    (zones, types): (&[String], &[InstanceType]),
    lf: &mut LaunchFailures,
) -> Result<(), ScenarioError> {
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
    Ok(())
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

/// Where a fault's errors point: its `kind` key's line, `faults[i].<key>`.
struct At<'a, 'src> {
    src: &'a Source<'src>,
    span: Option<Range<usize>>,
    i: usize,
}

impl At<'_, '_> {
    fn key(&self, k: &str) -> String {
        format!("faults[{}].{k}", self.i)
    }

    fn err(&self, k: &str, m: String) -> ScenarioError {
        self.src.error(self.span.clone(), self.key(k), m)
    }
}

fn fault(
    src: &Source<'_>,
    raw: &ScenarioFile,
    zones: &[String],
    policies: &[Policy],
    i: usize,
    f: &FaultFile,
) -> Result<Fault, ScenarioError> {
    let at_ = At {
        src,
        span: Some(f.kind.span()),
        i,
    };
    only_keys_of_kind(&at_, f)?;
    let (at, every) = timing(&at_, raw, f)?;
    let target = target(&at_, zones, policies, f)?;
    let kind = fault_kind(&at_, f, &target, every.is_some())?;
    Ok(Fault {
        kind,
        target,
        at,
        every,
        until: f.until.map(|u| u.0),
    })
}

/// Keys that apply to each kind; any other key set is an error rather than
/// silently ignored.
fn only_keys_of_kind(at: &At<'_, '_>, f: &FaultFile) -> Result<(), ScenarioError> {
    let kind = *f.kind.get_ref();
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
            return Err(at.err(name, format!("does not apply to kind `{}`", kind.as_str())));
        }
    }
    Ok(())
}

/// When a fault first strikes, and its interval if it is a random process.
fn timing(
    at_: &At<'_, '_>,
    raw: &ScenarioFile,
    f: &FaultFile,
) -> Result<(Millis, Option<crate::quantity::Delay>), ScenarioError> {
    let every = match &f.every {
        Some(d) => {
            let d = delay(d).map_err(|m| at_.err("every", m))?;
            if d.mean() <= 0.0 {
                return Err(at_.err("every", "the interval must be longer than 0s".into()));
            }
            Some(d)
        }
        None => None,
    };
    let at = match (f.at, &every, *f.kind.get_ref()) {
        (Some(a), _, _) => a.0,
        // A process, or failures by MTBF, starts at 0 unless told.
        (None, Some(_), _) | (None, None, FaultKindFile::InstanceFailures) => Millis::ZERO,
        (None, None, _) => {
            return Err(at_.err(
                "at",
                "give `at` (when it strikes) or `every` (a random process)".into(),
            ));
        }
    };
    if at > raw.horizon.0 {
        return Err(at_.err(
            "at",
            "the fault is after the horizon and would never strike".into(),
        ));
    }
    Ok((at, every))
}

/// The pool and zone a fault strikes, each known to the scenario.
fn target(
    at: &At<'_, '_>,
    zones: &[String],
    policies: &[Policy],
    f: &FaultFile,
) -> Result<Target, ScenarioError> {
    let zone = match &f.zone {
        Some(z) => Some(zone_index(
            at.src,
            zones,
            z.get_ref(),
            Some(z.span()),
            &at.key("zone"),
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
                return Err(at.src.error(
                    Some(p.span()),
                    at.key("pool"),
                    format!("no policy has a pool named `{name}`"),
                ));
            }
            Some(name.clone())
        }
        None => None,
    };
    Ok(Target { pool, zone })
}

/// The fault's kind with the settings that kind needs.
fn fault_kind(
    at: &At<'_, '_>,
    f: &FaultFile,
    target: &Target,
    process: bool,
) -> Result<FaultKind, ScenarioError> {
    let victims = || -> Result<Victims, ScenarioError> {
        match (f.fraction, f.count) {
            (Some(_), Some(_)) => {
                Err(at.err("count", "give `fraction` or `count`, not both".into()))
            }
            (Some(x), None) => Ok(Victims::Fraction(probability(
                at.src,
                x,
                at.span.clone(),
                &at.key("fraction"),
            )?)),
            (None, Some(n)) => Ok(Victims::Count(n)),
            (None, None) => Ok(Victims::Fraction(1.0)),
        }
    };
    Ok(match *f.kind.get_ref() {
        FaultKindFile::TerminateAll => FaultKind::TerminateAll,
        FaultKindFile::TerminateFraction => {
            if f.fraction.is_none() && f.count.is_none() {
                return Err(at.err("fraction", "give `fraction` (0..1) or `count`".into()));
            }
            FaultKind::TerminateFraction {
                victims: victims()?,
                over: f.over.map_or(Millis::ZERO, |d| d.0),
            }
        }
        FaultKindFile::ZoneOutage => {
            if target.zone.is_none() {
                return Err(at.err("zone", "a zone outage needs `zone`".into()));
            }
            let Some(d) = f.duration else {
                return Err(at.err("duration", "a zone outage needs `duration`".into()));
            };
            FaultKind::ZoneOutage { duration: d.0 }
        }
        FaultKindFile::InstanceFailures => {
            let Some(m) = f.mtbf.filter(|m| m.0 > Millis::ZERO) else {
                return Err(at.err("mtbf", "needs `mtbf` longer than 0s".into()));
            };
            if process {
                return Err(at.err(
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
                return Err(at.err(
                    "min_healthy_percentage",
                    format!("{pct} must lie within [0, 100]"),
                ));
            }
            FaultKind::InstanceRefresh {
                min_healthy_percentage: pct,
                warmup: f.warmup.map(|d| d.0),
            }
        }
    })
}
