//! Rows of `runs.csv` and `summary.csv`.

use crate::engine::Millis;

use super::RunOutcome;
use super::figures::{PAIRED, RunFigures};
use super::stats::{mean_ci, quantile, wilson};

/// Whether a run finished.
#[derive(Debug, Clone, PartialEq)]
pub enum RunStatus {
    /// It ran to the horizon.
    Ok,
    /// It panicked; the message says where.
    Failed(String),
}

/// One run: one row of `runs.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    /// Policy name.
    pub policy: String,
    /// Seed.
    pub seed: u64,
    /// Finished or failed.
    pub status: RunStatus,
    /// What it measured (default values for a failed run).
    pub outcome: RunOutcome,
    /// Pods deleted by scheduler preemption.
    pub preemptions: u64,
    /// Instances launched by ASGs during the run.
    pub instances_launched: u64,
    /// Instance-hours billed.
    pub instance_hours: f64,
    /// Dollars billed.
    pub cost_usd: f64,
    /// Dollars billed per pool (ASG), in the policy's pool order.
    pub cost_by_pool: Vec<(String, f64)>,
    /// Scale-ups by the cluster autoscaler (0 without one).
    pub scale_ups: u64,
    /// Nodes the cluster autoscaler removed.
    pub scale_downs: u64,
    /// NodeClaims Karpenter launched (0 without NodePools).
    pub nodeclaims_launched: u64,
    /// Nodes Karpenter's consolidation deleted (emptiness, single- and
    /// multi-node consolidation, replaced or not).
    pub consolidations: u64,
    /// Pods on nodes Karpenter disrupted (consolidation, drift,
    /// expiration, Spot interruption) when their drain began.
    pub disrupted_pods: u64,
    /// The most instances the groups counted at once.
    pub max_nodes: u32,
    /// Scheduling cycles (pods popped and tried).
    pub scheduling_attempts: u64,
    /// Pods created (replacements included).
    pub pods_created: u64,
    /// Events handled.
    pub events: u64,
    /// Why a deadlocked run is stuck.
    pub stall_cause: Option<String>,
}

impl RunRow {
    /// Column names of `runs.csv`.
    pub const HEADER: [&'static str; 25] = [
        "policy",
        "seed",
        "status",
        "deadlocked",
        "system_recovery_s",
        "system_unavailable_s",
        "system_outages",
        "user_work_done_frac",
        "pending_pod_s",
        "preemptions",
        "instances_launched",
        "instance_hours",
        "cost_usd",
        "cost_by_pool",
        "scale_ups",
        "scale_downs",
        "nodeclaims_launched",
        "consolidations",
        "disrupted_pods",
        "max_nodes",
        "scheduling_attempts",
        "pods_created",
        "events",
        "stall_cause",
        "error",
    ];

    /// A row for a run that panicked.
    pub fn failed(policy: &str, seed: u64, message: String) -> RunRow {
        RunRow {
            policy: policy.to_string(),
            seed,
            status: RunStatus::Failed(message),
            outcome: RunOutcome {
                deadlocked: false,
                system_recovery: None,
                system_outages: 0,
                system_unavailable: Millis::ZERO,
                user_work_done_frac: None,
                pending_pod_s: 0.0,
            },
            preemptions: 0,
            instances_launched: 0,
            instance_hours: 0.0,
            cost_usd: 0.0,
            cost_by_pool: Vec::new(),
            scale_ups: 0,
            scale_downs: 0,
            nodeclaims_launched: 0,
            consolidations: 0,
            disrupted_pods: 0,
            max_nodes: 0,
            scheduling_attempts: 0,
            pods_created: 0,
            events: 0,
            stall_cause: None,
        }
    }

    /// The row's fields in [`RunRow::HEADER`] order.
    pub fn record(&self) -> Vec<String> {
        let ok = self.status == RunStatus::Ok;
        let o = &self.outcome;
        let num = |present: bool, s: String| if present { s } else { String::new() };
        vec![
            self.policy.clone(),
            self.seed.to_string(),
            match &self.status {
                RunStatus::Ok => "ok".into(),
                RunStatus::Failed(_) => "failed".into(),
            },
            num(ok, o.deadlocked.to_string()),
            o.system_recovery.map_or(String::new(), secs),
            num(ok, secs(o.system_unavailable)),
            num(ok, o.system_outages.to_string()),
            o.user_work_done_frac
                .map_or(String::new(), |f| format!("{f:.6}")),
            num(ok, format!("{:.3}", o.pending_pod_s)),
            num(ok, self.preemptions.to_string()),
            num(ok, self.instances_launched.to_string()),
            num(ok, format!("{:.6}", self.instance_hours)),
            num(ok, format!("{:.6}", self.cost_usd)),
            // `pool=dollars;pool=dollars`: one column whatever the policy's
            // pools, so every row has the same header.
            self.cost_by_pool
                .iter()
                .map(|(p, c)| format!("{p}={c:.6}"))
                .collect::<Vec<_>>()
                .join(";"),
            num(ok, self.scale_ups.to_string()),
            num(ok, self.scale_downs.to_string()),
            num(ok, self.nodeclaims_launched.to_string()),
            num(ok, self.consolidations.to_string()),
            num(ok, self.disrupted_pods.to_string()),
            num(ok, self.max_nodes.to_string()),
            num(ok, self.scheduling_attempts.to_string()),
            num(ok, self.pods_created.to_string()),
            num(ok, self.events.to_string()),
            self.stall_cause.clone().unwrap_or_default(),
            match &self.status {
                RunStatus::Failed(m) => m.clone(),
                RunStatus::Ok => String::new(),
            },
        ]
    }
}

fn secs(d: Millis) -> String {
    format!("{:.3}", d.as_secs_f64())
}

fn fmt(v: f64) -> String {
    if v.is_nan() {
        String::new()
    } else {
        format!("{v:.6}")
    }
}

/// One group of runs (a grid point and a policy): one row of `summary.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// The grid point's swept values, as (column, value) in axis order.
    pub params: Vec<(String, String)>,
    /// Policy name.
    pub policy: String,
    /// Runs in the group.
    pub runs: u64,
    /// Runs that panicked.
    pub failed: u64,
    /// Deadlocked runs.
    pub deadlocks: u64,
    /// Runs whose system services recovered.
    pub recovered: u64,
    /// The statistics, as (column, value) in output order.
    pub columns: Vec<(String, f64)>,
    /// The policy the paired differences are taken against.
    pub baseline: String,
    /// Paired differences (this policy minus the baseline, same seeds), as
    /// (column, value); empty values for the baseline itself.
    pub paired: Vec<(String, f64)>,
}

impl SummaryRow {
    /// The fixed leading columns, after the swept values.
    pub const LEAD: [&'static str; 5] = ["policy", "runs", "failed", "deadlocks", "recovered"];

    /// Column names: swept values, lead, statistics, baseline, differences.
    pub fn header(&self) -> Vec<String> {
        self.params
            .iter()
            .map(|(k, _)| k.clone())
            .chain(Self::LEAD.iter().map(|s| s.to_string()))
            .chain(self.columns.iter().map(|(c, _)| c.clone()))
            .chain(std::iter::once("baseline".to_string()))
            .chain(self.paired.iter().map(|(c, _)| c.clone()))
            .collect()
    }

    /// Values in [`SummaryRow::header`] order.
    pub fn record(&self) -> Vec<String> {
        self.params
            .iter()
            .map(|(_, v)| v.clone())
            .chain([
                self.policy.clone(),
                self.runs.to_string(),
                self.failed.to_string(),
                self.deadlocks.to_string(),
                self.recovered.to_string(),
            ])
            .chain(self.columns.iter().map(|(c, v)| {
                // Counts print as integers.
                if c.starts_with("stall_") && v.is_finite() {
                    format!("{}", *v as u64)
                } else {
                    fmt(*v)
                }
            }))
            .chain(std::iter::once(self.baseline.clone()))
            .chain(self.paired.iter().map(|(_, v)| fmt(*v)))
            .collect()
    }

    /// The value of a statistic or paired-difference column.
    pub fn get(&self, column: &str) -> Option<f64> {
        self.columns
            .iter()
            .chain(&self.paired)
            .find(|(c, _)| c == column)
            .map(|(_, v)| *v)
    }
}

/// Summarises the runs of one policy at one grid point, and its paired
/// differences against `baseline` (the baseline policy's runs at the same
/// grid point; `None` for the baseline itself).
pub fn summarise(
    params: Vec<(String, String)>,
    policy: &str,
    rows: &[RunFigures],
    baseline: (&str, Option<&[RunFigures]>),
) -> SummaryRow {
    let ok: Vec<&RunFigures> = rows.iter().filter(|r| r.ok).collect();
    let n = ok.len() as u64;
    let deadlocks = ok.iter().filter(|r| r.deadlocked).count() as u64;
    // A deadlocked run ends in an outage, so it has no recovery time; the
    // filter keeps that true for rows written by older versions too.
    let recovery: Vec<f64> = ok
        .iter()
        .filter(|r| !r.deadlocked)
        .filter_map(|r| r.system_recovery_s)
        .collect();
    let mut columns = deadlock_columns(deadlocks, n);
    metric_columns(&mut columns, &ok, recovery.clone());
    stall_columns(&mut columns, &ok);
    SummaryRow {
        params,
        policy: policy.to_string(),
        runs: rows.len() as u64,
        failed: rows.len() as u64 - n,
        deadlocks,
        recovered: recovery.len() as u64,
        columns,
        baseline: baseline.0.to_string(),
        paired: paired_columns(rows, baseline.1),
    }
}

/// The deadlock rate of `deadlocks` in `n` finished runs and its Wilson
/// interval (NaN without runs).
fn deadlock_columns(deadlocks: u64, n: u64) -> Vec<(String, f64)> {
    let (lo, hi) = wilson(deadlocks, n);
    let rate = if n == 0 {
        f64::NAN
    } else {
        deadlocks as f64 / n as f64
    };
    vec![
        ("deadlock_rate".to_string(), rate),
        ("deadlock_rate_lo".to_string(), lo),
        ("deadlock_rate_hi".to_string(), hi),
    ]
}

/// Appends each run metric's mean with its interval, median and 95th
/// percentile over the finished runs `ok` (`recovery`: the recovery
/// times of those that recovered).
fn metric_columns(columns: &mut Vec<(String, f64)>, ok: &[&RunFigures], recovery: Vec<f64>) {
    let mut push_stats = |name: &str, mut values: Vec<f64>| {
        let (mean, mlo, mhi) = mean_ci(&values);
        values.sort_by(f64::total_cmp);
        columns.push((format!("{name}_mean"), mean));
        columns.push((format!("{name}_mean_lo"), mlo));
        columns.push((format!("{name}_mean_hi"), mhi));
        columns.push((format!("{name}_p50"), quantile(&values, 0.5)));
        columns.push((format!("{name}_p95"), quantile(&values, 0.95)));
    };
    push_stats("system_recovery_s", recovery);
    push_stats(
        "system_unavailable_s",
        ok.iter().map(|r| r.system_unavailable_s).collect(),
    );
    push_stats(
        "user_work_done_frac",
        ok.iter().filter_map(|r| r.user_work_done_frac).collect(),
    );
    push_stats(
        "pending_pod_s",
        ok.iter().map(|r| r.pending_pod_s).collect(),
    );
    push_stats(
        "instance_hours",
        ok.iter().map(|r| r.instance_hours).collect(),
    );
    push_stats("cost_usd", ok.iter().map(|r| r.cost_usd).collect());
    push_stats("preemptions", ok.iter().map(|r| r.preemptions).collect());
    push_stats("scale_ups", ok.iter().map(|r| r.scale_ups).collect());
    push_stats("scale_downs", ok.iter().map(|r| r.scale_downs).collect());
    push_stats("max_nodes", ok.iter().map(|r| r.max_nodes).collect());
    push_stats(
        "scheduling_attempts",
        ok.iter().map(|r| r.scheduling_attempts).collect(),
    );
    push_stats(
        "attempts_per_pod",
        ok.iter()
            .filter(|r| r.pods_created > 0.0)
            .map(|r| r.scheduling_attempts / r.pods_created)
            .collect(),
    );
}

/// Appends how many finished runs stalled for each cause.
fn stall_columns(columns: &mut Vec<(String, f64)>, ok: &[&RunFigures]) {
    for (i, cause) in super::figures::STALL_CAUSES.iter().enumerate() {
        let count = ok.iter().filter(|r| r.stall_cause == Some(i)).count();
        columns.push((format!("stall_{cause}"), count as f64));
    }
}

/// The paired differences against the baseline policy's runs `base`
/// (mean and interval per `PAIRED` metric; NaN for the baseline itself).
fn paired_columns(rows: &[RunFigures], base: Option<&[RunFigures]>) -> Vec<(String, f64)> {
    let mut paired = Vec::new();
    for (name, get) in PAIRED {
        let (mean, mlo, mhi) = match base {
            Some(base) => mean_ci(&super::figures::paired_differences(rows, base, get)),
            None => (f64::NAN, f64::NAN, f64::NAN),
        };
        paired.push((format!("{name}_diff_mean"), mean));
        paired.push((format!("{name}_diff_lo"), mlo));
        paired.push((format!("{name}_diff_hi"), mhi));
    }
    paired
}
