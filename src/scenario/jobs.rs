//! Validation of Job workloads: completions, parallelism, work, failures and
//! arrival processes (fixed times, Poisson rate, or a trace CSV read here,
//! relative to the scenario file).

use std::ops::Range;

use crate::engine::Millis;
use crate::input::{MAX_TRACE_BYTES, read_text};
use crate::kube::WorkloadKind;
use crate::kube::job::{Arrivals, JobSpec};

use super::ScenarioError;
use super::file::{ArrivalsFile, WorkloadFile};
use super::validate::{Source, delay};

/// The highest Poisson arrival rate: a mean interval of 100 ms, so that
/// keeping it in whole milliseconds changes the rate by at most 0.5 %.
pub(super) const MAX_RATE_PER_HOUR: f64 = 36_000.0;

/// The Job settings of a workload, or `None` if it is not a Job (then no Job
/// key may be set).
pub(super) fn job(
    src: &Source<'_>,
    w: &WorkloadFile,
    kind: WorkloadKind,
    key: &str,
) -> Result<Option<JobSpec>, ScenarioError> {
    let span = Some(w.name.span());
    let any_job_key = w.completions.is_some()
        || w.parallelism.is_some()
        || w.work.is_some()
        || w.failure_probability.is_some()
        || w.backoff_limit.is_some()
        || w.arrivals.is_some();
    if kind != WorkloadKind::Job {
        if any_job_key {
            return Err(src.error(
                span,
                key.to_string(),
                "completions, parallelism, work, failure_probability, backoff_limit and arrivals are for kind = \"job\"",
            ));
        }
        return Ok(None);
    }
    let Some(work) = &w.work else {
        return Err(src.error(
            span,
            format!("{key}.work"),
            "a Job needs `work` (running time per pod)",
        ));
    };
    let work = delay(work).map_err(|m| src.error(span.clone(), format!("{key}.work"), m))?;
    let completions = w.completions.unwrap_or(1);
    let parallelism = w.parallelism.unwrap_or(1);
    if completions == 0 || parallelism == 0 {
        return Err(src.error(
            span,
            key.to_string(),
            "completions and parallelism must be at least 1",
        ));
    }
    let failure_probability = w.failure_probability.unwrap_or(0.0);
    if !(0.0..=1.0).contains(&failure_probability) {
        return Err(src.error(
            span,
            format!("{key}.failure_probability"),
            "must lie within [0, 1]",
        ));
    }
    let arrivals = match &w.arrivals {
        None => Arrivals::At(vec![Millis::ZERO]),
        Some(a) => arrivals(src, span, a, key)?,
    };
    Ok(Some(JobSpec {
        completions,
        parallelism,
        work,
        failure_probability,
        backoff_limit: w.backoff_limit.unwrap_or(6),
        arrivals,
    }))
}

/// A Job's arrival process: exactly one of fixed times (`at`), a Poisson
/// rate (`rate_per_hour`, up to [`MAX_RATE_PER_HOUR`]) or a trace CSV.
fn arrivals(
    src: &Source<'_>,
    span: Option<Range<usize>>,
    a: &ArrivalsFile,
    key: &str,
) -> Result<Arrivals, ScenarioError> {
    let set = usize::from(a.at.is_some())
        + usize::from(a.rate_per_hour.is_some())
        + usize::from(a.trace.is_some());
    if set != 1 {
        return Err(src.error(
            span,
            format!("{key}.arrivals"),
            "give exactly one of `at`, `rate_per_hour`, `trace`",
        ));
    }
    if let Some(at) = &a.at {
        let mut t: Vec<Millis> = at.iter().map(|d| d.0).collect();
        t.sort_unstable();
        Ok(Arrivals::At(t))
    } else if let Some(rate) = a.rate_per_hour {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(src.error(
                span,
                format!("{key}.arrivals.rate_per_hour"),
                "must be a positive number",
            ));
        }
        if rate > MAX_RATE_PER_HOUR {
            return Err(src.error(
                span,
                format!("{key}.arrivals.rate_per_hour"),
                format!(
                    "{rate} is above the most poolsim supports, {MAX_RATE_PER_HOUR} Jobs per hour (the mean interval is kept in whole milliseconds)"
                ),
            ));
        }
        Ok(Arrivals::Poisson {
            mean_interval: Millis((3_600_000.0 / rate).round().max(1.0) as u64),
        })
    } else {
        let trace = a.trace.as_deref().unwrap_or_default();
        Ok(Arrivals::At(read_trace(src, trace, key)?))
    }
}

/// Reads a trace of arrival times (seconds, one per line; a non-numeric
/// first line is a header).
fn read_trace(src: &Source<'_>, trace: &str, key: &str) -> Result<Vec<Millis>, ScenarioError> {
    let path = src
        .paths
        .resolve(trace)
        .map_err(|m| src.error(None, format!("{key}.arrivals.trace"), m))?;
    let text = read_text(&path, MAX_TRACE_BYTES).map_err(|e| ScenarioError::Invalid {
        file: path.display().to_string(),
        line: e.line(),
        key: format!("{key}.arrivals.trace"),
        message: e.to_string(),
    })?;
    let mut times = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let field = line.split(',').next().unwrap_or("").trim();
        if field.is_empty() {
            continue;
        }
        match field.parse::<f64>() {
            Ok(s) if s.is_finite() && s >= 0.0 => times.push(Millis((s * 1000.0).round() as u64)),
            Ok(_) | Err(_) if i == 0 => {}
            _ => {
                // Quote only the field, and only its start: the file may
                // not be a trace at all.
                let shown: String = field.chars().take(24).collect();
                let more = if shown.len() < field.len() { "..." } else { "" };
                return Err(ScenarioError::Invalid {
                    file: path.display().to_string(),
                    line: Some(i + 1),
                    key: format!("{key}.arrivals.trace"),
                    message: format!(
                        "`{shown}{more}` is not a time in seconds (the first column is the arrival time)"
                    ),
                });
            }
        }
    }
    times.sort_unstable();
    Ok(times)
}
