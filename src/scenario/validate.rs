//! From a parsed file to a [`Scenario`]: defaults, references, sizes, and the
//! checks that catch impossible scenarios before anything runs.

use std::ops::Range;

use crate::cloud::{AsgSpec, InstanceType, builtin_instance_types};
use crate::engine::Millis;
use crate::kube::WorkloadKind;
use crate::kube::job::Arrivals;
use crate::quantity::{Delay, MAX_GPU};

use super::file::{DelayFile, ScenarioFile};
use super::kube_checks;
use super::policy_checks::PoolContext;
use super::{Scenario, ScenarioError};

/// Default zones when a file names none.
pub(super) const DEFAULT_ZONES: [&str; 3] = ["us-east-1a", "us-east-1b", "us-east-1c"];

/// Builds errors that point into the file.
pub(super) struct Source<'a> {
    text: &'a str,
    pub(super) file: &'a str,
    /// Where relative paths in the file are resolved.
    pub(super) paths: &'a super::Paths,
}

impl Source<'_> {
    fn line_of(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())]
            .bytes()
            .filter(|&b| b == b'\n')
            .count()
            + 1
    }

    /// An error about `key`, on the line of the key's value when it can
    /// be found (see [`super::locate`]), else on the line of `span`.
    pub(super) fn error(
        &self,
        span: Option<Range<usize>>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> ScenarioError {
        let key = key.into();
        let line = super::locate::line_of_key(self.text, span.map(|s| s.start), &key);
        ScenarioError::Invalid {
            file: self.file.to_string(),
            line,
            key,
            message: message.into(),
        }
    }

    /// An error exactly at `span` (serde's own spans are exact).
    fn error_at(&self, span: Option<Range<usize>>, key: String, message: String) -> ScenarioError {
        ScenarioError::Invalid {
            file: self.file.to_string(),
            line: span.map(|s| self.line_of(s.start)),
            key,
            message,
        }
    }

    /// The dotted key at a byte offset: the enclosing table header plus the
    /// key on that line (the nearest `key =` to the left, or the key that
    /// starts at the offset).
    fn key_at(&self, offset: usize) -> String {
        let offset = offset.min(self.text.len());
        let line_start = self.text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.text[offset..]
            .find('\n')
            .map_or(self.text.len(), |i| offset + i);
        let is_key_char = |c: char| c.is_alphanumeric() || c == '_' || c == '-' || c == '.';
        let before = &self.text[line_start..offset];
        let key = match before.rfind('=') {
            Some(eq) => {
                let head = before[..eq].trim_end();
                let start = head
                    .char_indices()
                    .rfind(|&(_, c)| !is_key_char(c))
                    .map_or(0, |(i, c)| i + c.len_utf8());
                head[start..].to_string()
            }
            None => {
                let after = &self.text[offset..line_end];
                let end = after.find(|c: char| !is_key_char(c)).unwrap_or(after.len());
                after[..end].to_string()
            }
        };
        let header = self.text[..line_end]
            .lines()
            .rev()
            .find(|l| l.trim_start().starts_with('['))
            .map(|l| l.trim().trim_matches(|c| c == '[' || c == ']').to_string());
        join_key(header, key)
    }
}

fn join_key(header: Option<String>, key: String) -> String {
    match header.filter(|h| !h.is_empty()) {
        Some(h) if !key.is_empty() && h != key => format!("{h}.{key}"),
        Some(h) => h,
        None if !key.is_empty() => key,
        None => "(top level)".into(),
    }
}

/// The field a serde "missing field `x`" message names.
fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next()
}

pub(super) fn parse(
    text: &str,
    file: &str,
    paths: &super::Paths,
) -> Result<Scenario, ScenarioError> {
    let src = Source { text, file, paths };
    let raw: ScenarioFile = toml::from_str(text).map_err(|e| {
        let span = e.span();
        // The path the document's spans give names array elements
        // (`workloads.api.cpu`); the text around the offset is the fallback
        // for a file that is not valid TOML.
        let mut key = span.clone().map_or_else(
            || "(file)".into(),
            |s| super::locate::key_path_at(text, s.start).unwrap_or_else(|| src.key_at(s.start)),
        );
        if let Some(field) = missing_field(e.message()) {
            key = format!("{key}.{field}");
        }
        src.error_at(span, key, e.message().trim().to_string())
    })?;
    build(&src, raw)
}

pub(super) fn delay(d: &DelayFile) -> Result<Delay, String> {
    Ok(match d {
        DelayFile::Fixed { value } => Delay::Fixed(value.0),
        DelayFile::Uniform { min, max } => {
            if min.0 > max.0 {
                return Err(format!("uniform min {} exceeds max {}", min.0, max.0));
            }
            Delay::Uniform {
                min: min.0,
                max: max.0,
            }
        }
        DelayFile::Exponential { mean } => Delay::Exponential { mean: mean.0 },
        DelayFile::Lognormal { median, p95 } => {
            if p95.0 < median.0 {
                return Err("lognormal p95 must be at least the median".into());
            }
            Delay::LogNormal {
                median: median.0,
                p95: p95.0,
            }
        }
        DelayFile::Empirical { samples } => {
            if samples.is_empty() {
                return Err("empirical needs at least one sample".into());
            }
            Delay::Empirical(samples.iter().map(|d| d.0).collect())
        }
    })
}

/// Names end up in file paths (the scenario's name is the default results
/// directory), CSV cells and terminal lines: the scenario's name must be a
/// plain directory name, and no name may hold a control or other
/// non-printable character.
fn check_names(src: &Source<'_>, raw: &ScenarioFile) -> Result<(), ScenarioError> {
    let printable = |s: &str| s.chars().all(crate::input::is_printable);
    let n = &raw.name;
    if n.is_empty() || n == "." || n == ".." || n.contains(['/', '\\']) || !printable(n) {
        return Err(src.error(
            None,
            "name",
            "must be a plain name (it names the results directory): not empty, no `/` or `\\`, not `.` or `..`, no control characters",
        ));
    }
    let mut named: Vec<(String, &str, Option<Range<usize>>)> = Vec::new();
    for w in &raw.workloads {
        named.push((
            "workloads.name".into(),
            w.name.get_ref(),
            Some(w.name.span()),
        ));
    }
    for p in &raw.policies {
        named.push((
            "policies.name".into(),
            p.name.get_ref(),
            Some(p.name.span()),
        ));
        for pool in &p.pools {
            named.push((
                format!("policies.{}.pools.name", p.name.get_ref()),
                pool.name.get_ref(),
                Some(pool.name.span()),
            ));
        }
    }
    for t in &raw.instance_types {
        named.push(("instance_types.name".into(), &t.name, None));
    }
    for (key, name, span) in named {
        if name.is_empty() || !printable(name) {
            return Err(src.error(
                span,
                key,
                "a name must be non-empty, with no control or other non-printable character",
            ));
        }
    }
    Ok(())
}

/// A validated scenario from a parsed file, section by section.
fn build(src: &Source<'_>, raw: ScenarioFile) -> Result<Scenario, ScenarioError> {
    check_names(src, &raw)?;
    let seeds = run_length(src, &raw)?;
    let instance_types = instance_types(src, &raw)?;
    let zones = zones(src, &raw)?;
    let (launch_delay, boot_delay) = PoolContext::delays(src, &raw)?;
    let replacement_delay = raw
        .instances
        .replacement_delay
        .map_or(Millis::from_secs(10), |d| d.0);
    let cloud =
        super::cloud_checks::cloud_config(src, &raw, &zones, &instance_types, replacement_delay)?;
    let versions = super::version_checks::version_settings(src, &raw.kubernetes)?;
    let kube = super::control_plane_checks::kube_config(src, &raw, versions)?;
    let names = super::workload_checks::names(src, &raw)?;
    let classes = kube_checks::priority_classes(src, &raw)?;
    let (mut workloads, own_priority) =
        super::workload_checks::workloads(src, &raw, &names, &classes)?;
    kube_checks::webhooks(src, &raw, &mut workloads)?;
    let cx = PoolContext {
        types: &instance_types,
        zones: &zones,
        classes: &classes,
        launch_delay,
        boot_delay,
        default_expander: versions.version.default_expander(),
    };
    let policies = super::policy_checks::policies(src, &raw, &cx)?;
    let faults = super::cloud_checks::faults(src, &raw, &zones, &policies)?;

    let scenario = Scenario {
        name: raw.name.clone(),
        description: raw.description.clone(),
        source: src.file.to_string(),
        horizon: raw.horizon.0,
        seeds,
        first_seed: raw.first_seed.unwrap_or(1),
        detection_window: raw.detection_window.map_or(Millis::from_mins(10), |d| d.0),
        instance_types,
        replacement_delay,
        cloud,
        kube_version: versions.version,
        kube,
        workloads,
        own_priority,
        policies,
        faults,
        file: raw,
        paths: src.paths.clone(),
        sweep_lines: super::locate::sweep_lines(src.text),
    };
    check_size(src, &scenario)?;
    check_placeable(src, &scenario)?;
    Ok(scenario)
}

/// `horizon` and `seeds`; the seeds per policy.
fn run_length(src: &Source<'_>, raw: &ScenarioFile) -> Result<u32, ScenarioError> {
    if raw.horizon.0 == Millis::ZERO {
        return Err(src.error(None, "horizon", "must be longer than 0s"));
    }
    if raw.horizon.0 > MAX_HORIZON {
        return Err(src.error(
            None,
            "horizon",
            format!(
                "{} is longer than the longest horizon poolsim runs, 365 days",
                crate::quantity::format_duration(raw.horizon.0)
            ),
        ));
    }
    let seeds = raw.seeds.unwrap_or(100);
    if seeds == 0 {
        return Err(src.error(None, "seeds", "must be at least 1"));
    }

    Ok(seeds)
}

/// The built-in instance types, then the file's, which override by name.
fn instance_types(
    src: &Source<'_>,
    raw: &ScenarioFile,
) -> Result<Vec<InstanceType>, ScenarioError> {
    let mut instance_types = builtin_instance_types();
    for t in &raw.instance_types {
        if !(t.price_per_hour.is_finite() && (0.0..=MAX_PRICE_PER_HOUR).contains(&t.price_per_hour))
        {
            return Err(src.error(
                None,
                format!("instance_types.{}.price_per_hour", t.name),
                format!("must be a number of dollars within [0, {MAX_PRICE_PER_HOUR}]"),
            ));
        }
        if t.max_pods == 0 || t.cpu.0.0 == 0 || t.memory.0.0 == 0 {
            return Err(src.error(
                None,
                format!("instance_types.{}", t.name),
                "cpu, memory and max_pods must be positive",
            ));
        }
        let gpu = t.gpu.unwrap_or(0);
        if gpu > MAX_GPU {
            return Err(src.error(
                None,
                format!("instance_types.{}.gpu", t.name),
                format!("{gpu} GPUs is more than the most poolsim accepts ({MAX_GPU})"),
            ));
        }
        let it = InstanceType {
            name: t.name.clone(),
            cpu: t.cpu.0,
            memory: t.memory.0,
            max_pods: t.max_pods,
            gpu,
            price_per_hour: t.price_per_hour,
        };
        match instance_types.iter_mut().find(|x| x.name == t.name) {
            Some(existing) => *existing = it,
            None => instance_types.push(it),
        }
    }

    Ok(instance_types)
}

/// The file's zones, or the default three.
fn zones(src: &Source<'_>, raw: &ScenarioFile) -> Result<Vec<String>, ScenarioError> {
    let zones: Vec<String> = raw
        .zones
        .clone()
        .unwrap_or_else(|| DEFAULT_ZONES.iter().map(|z| z.to_string()).collect());
    if zones.is_empty() {
        return Err(src.error(None, "zones", "at least one zone is needed"));
    }
    Ok(zones)
}

/// The longest horizon: a year.
const MAX_HORIZON: Millis = Millis(365 * 86_400_000);

/// The highest price of an instance type, in dollars per hour: far above
/// any EC2 price, and low enough that every cost stays finite.
const MAX_PRICE_PER_HOUR: f64 = 1_000_000.0;

/// Upper bounds that keep a typo (`replicas = 4000000000`) from exhausting
/// memory instead of producing an error.
const MAX_PODS: u64 = 5_000_000;
const MAX_NODES: u64 = 200_000;
/// Job pods one workload may be expected to create over the horizon (the
/// run itself stops at [`crate::kube::MAX_PODS_CREATED`] pods of all kinds).
const MAX_JOB_PODS: u64 = 5_000_000;

fn check_size(src: &Source<'_>, s: &Scenario) -> Result<(), ScenarioError> {
    let pods: u64 = s.workloads.iter().map(|w| u64::from(w.replicas)).sum();
    if pods > MAX_PODS {
        return Err(src.error(
            None,
            "workloads.replicas",
            format!("{pods} pods in all; poolsim supports at most {MAX_PODS}"),
        ));
    }
    for p in &s.policies {
        let nodes: u64 = p.pools.iter().map(|g| u64::from(g.max)).sum();
        if nodes > MAX_NODES {
            return Err(src.error(
                None,
                format!("policies.{}.pools", p.name),
                format!("{nodes} nodes at max size; poolsim supports at most {MAX_NODES}"),
            ));
        }
    }
    for (i, w) in s.workloads.iter().enumerate() {
        let Some(job) = &w.job else { continue };
        let span = s.file.workloads.get(i).map(|f| f.name.span());
        let key = format!("workloads.{}", w.name);
        for (what, n) in [
            ("parallelism", job.parallelism),
            ("completions", job.completions),
        ] {
            if u64::from(n) > MAX_PODS {
                return Err(src.error(
                    span.clone(),
                    format!("{key}.{what}"),
                    format!("{n} is more than the {MAX_PODS} pods poolsim supports"),
                ));
            }
        }
        // Expected Jobs over the horizon, each creating `completions` pods
        // at least: refuse a rate no run could hold.
        let arrivals = match &job.arrivals {
            Arrivals::At(t) => t.len() as f64,
            Arrivals::Poisson { mean_interval } => {
                s.horizon.0 as f64 / mean_interval.0.max(1) as f64
            }
        };
        let pods = arrivals * f64::from(job.completions);
        if pods > MAX_JOB_PODS as f64 {
            return Err(src.error(
                span,
                format!("{key}.arrivals"),
                format!(
                    "about {pods:.0} Job pods over the horizon ({arrivals:.0} Jobs x {} completions); a run may create at most {MAX_JOB_PODS}",
                    job.completions
                ),
            ));
        }
    }
    if s.workloads.len() > usize::from(u16::MAX) {
        return Err(src.error(None, "workloads", "too many workloads (at most 65535)"));
    }
    Ok(())
}

/// Every pod must be placeable under every policy: some pool's labels must
/// satisfy its nodeSelector, and that pool's instance type must have room
/// for it on an empty node.
fn check_placeable(src: &Source<'_>, s: &Scenario) -> Result<(), ScenarioError> {
    for policy in &s.policies {
        let info = policy.pool_info();
        for (i, w) in s.workloads_under(policy).iter().enumerate() {
            // The overprovisioning placeholders come after the file's
            // workloads.
            let (span, key) = match s.file.workloads.get(i) {
                Some(f) => (Some(f.name.span()), format!("workloads.{}", w.name)),
                None => (None, format!("policies.{}.overprovision", policy.name)),
            };
            let daemonset = matches!(w.kind, WorkloadKind::DaemonSet { .. });
            let job = w.kind == WorkloadKind::Job;
            let matching: Vec<&AsgSpec> = policy
                .pools
                .iter()
                .zip(&info)
                .filter(|(_, pi)| super::placement::pool_allows(w, pi))
                .map(|(p, _)| p)
                .collect();
            if matching.is_empty() && !daemonset {
                let sel: Vec<String> = w
                    .node_selector
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                return Err(src.error(
                    span,
                    format!("{key}.node_selector"),
                    format!(
                        "under policy `{}`, no pool's labels satisfy nodeSelector {{{}}} and node affinity with its taints tolerated",
                        policy.name,
                        sel.join(", ")
                    ),
                ));
            }
            // Any type the pool may launch (a NodePool's, a mixed group's
            // fallbacks): the first is the largest by cpu and memory, which
            // may lack the GPUs another has.
            let fits = matching.iter().any(|p| {
                std::iter::once(&p.instance_type)
                    .chain(&p.fallback_types)
                    .any(|&t| {
                        w.requests
                            .fits_in(&s.instance_types[t].allocatable_with(&s.cloud.reservation))
                    })
            });
            if !fits && !matching.is_empty() && (w.replicas > 0 || daemonset || job) {
                let why = super::requests::too_large(s, &policy.name, w, &matching);
                return Err(src.error(span, key, why));
            }
        }
    }
    Ok(())
}
