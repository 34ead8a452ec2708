//! The numbers of one run that summaries need, read back from a `runs.csv`
//! row, and the paired differences between two policies over common seeds.
//!
//! Summaries are computed from the rows as written (not from the in-memory
//! runs) so that a sweep, a resumed sweep and merged shards, which all end
//! with the same `runs.csv`, end with the same `summary.csv`, and so that a
//! sweep keeps only these few numbers per run in memory.

use std::collections::HashMap;

/// The figures of one run.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RunFigures {
    /// Seed (pairs runs of two policies).
    pub seed: u64,
    /// The run finished (`status = ok`).
    pub ok: bool,
    /// It deadlocked.
    pub deadlocked: bool,
    /// Seconds to recovery, if it recovered.
    pub system_recovery_s: Option<f64>,
    /// Seconds with a system service down.
    pub system_unavailable_s: f64,
    /// Useful user work after the fault, relative.
    pub user_work_done_frac: Option<f64>,
    /// Pending pod-seconds.
    pub pending_pod_s: f64,
    /// Instance-hours.
    pub instance_hours: f64,
    /// Dollars.
    pub cost_usd: f64,
    /// Preemptions.
    pub preemptions: f64,
    /// Cluster-autoscaler scale-ups.
    pub scale_ups: f64,
    /// Nodes the cluster autoscaler removed.
    pub scale_downs: f64,
    /// Peak instances.
    pub max_nodes: f64,
    /// Scheduling cycles.
    pub scheduling_attempts: f64,
    /// Pods created.
    pub pods_created: f64,
    /// Index into [`STALL_CAUSES`] of a stuck run's cause.
    pub stall_cause: Option<usize>,
}

/// Every `stall_cause` a run can report, in the order of the summary's
/// `stall_<cause>` count columns. The model writes these names
/// (`kube::StallCause`, and the world's cloud-side causes); a test in `sim`
/// checks that each is listed here. A name not listed counts as `other`.
pub const STALL_CAUSES: [&str; 7] = [
    "system-pods-no-room",
    "room-forbidden-by-filter",
    "no-eligible-node",
    "launches-failing",
    "webhook-blocks-creation",
    "service-down-no-pending-pods",
    "other",
];

/// What a stall cause of [`STALL_CAUSES`] means, as the report and the
/// README explain it; `None` for a name that is not one of them.
pub fn stall_meaning(cause: &str) -> Option<&'static str> {
    Some(match cause {
        "system-pods-no-room" => {
            "pending system pods fit no Ready node they may use (the room is taken)"
        }
        "room-forbidden-by-filter" => "a node has room, but a filter (nodeSelector) forbids it",
        "no-eligible-node" => "no Ready node in a pool the system pods may use",
        "launches-failing" => "the pool's instance launches keep failing",
        "webhook-blocks-creation" => "an admission webhook that is down blocks creating the pods",
        "service-down-no-pending-pods" => "a service is down with none of its pods pending",
        "other" => "none of the above",
        _ => return None,
    })
}

/// Where the figures sit in a `runs.csv` header.
#[derive(Debug, Clone)]
pub struct FigureColumns {
    seed: usize,
    status: usize,
    deadlocked: usize,
    recovery: usize,
    unavailable: usize,
    work: usize,
    pending: usize,
    hours: usize,
    cost: usize,
    preemptions: Option<usize>,
    scale_ups: Option<usize>,
    scale_downs: Option<usize>,
    max_nodes: Option<usize>,
    scheduling_attempts: Option<usize>,
    pods_created: Option<usize>,
    stall: Option<usize>,
}

impl FigureColumns {
    /// Finds the columns by name; `Err` names a missing one.
    pub fn new(header: &[&str]) -> Result<Self, String> {
        let find = |name: &str| {
            header
                .iter()
                .position(|h| *h == name)
                .ok_or_else(|| format!("runs.csv has no `{name}` column"))
        };
        Ok(FigureColumns {
            seed: find("seed")?,
            status: find("status")?,
            deadlocked: find("deadlocked")?,
            recovery: find("system_recovery_s")?,
            unavailable: find("system_unavailable_s")?,
            work: find("user_work_done_frac")?,
            pending: find("pending_pod_s")?,
            hours: find("instance_hours")?,
            cost: find("cost_usd")?,
            // Optional, so results written before these columns still read.
            preemptions: find("preemptions").ok(),
            scale_ups: find("scale_ups").ok(),
            scale_downs: find("scale_downs").ok(),
            max_nodes: find("max_nodes").ok(),
            scheduling_attempts: find("scheduling_attempts").ok(),
            pods_created: find("pods_created").ok(),
            stall: find("stall_cause").ok(),
        })
    }

    /// Reads one row; `Err` says which cell is malformed.
    pub fn read(&self, row: &[&str]) -> Result<RunFigures, String> {
        let cell = |i: usize| row.get(i).copied().unwrap_or("");
        let opt = |i: usize| -> Result<Option<f64>, String> {
            let c = cell(i);
            if c.is_empty() {
                Ok(None)
            } else {
                c.parse()
                    .map(Some)
                    .map_err(|_| format!("`{c}` is not a number"))
            }
        };
        let num = |i: usize| opt(i).map(|v| v.unwrap_or(0.0));
        let ok = cell(self.status) == "ok";
        Ok(RunFigures {
            seed: cell(self.seed)
                .parse()
                .map_err(|_| format!("seed `{}` is not a number", cell(self.seed)))?,
            ok,
            deadlocked: cell(self.deadlocked) == "true",
            system_recovery_s: opt(self.recovery)?,
            system_unavailable_s: num(self.unavailable)?,
            user_work_done_frac: opt(self.work)?,
            pending_pod_s: num(self.pending)?,
            instance_hours: num(self.hours)?,
            cost_usd: num(self.cost)?,
            preemptions: match self.preemptions {
                Some(i) => num(i)?,
                None => 0.0,
            },
            scale_ups: match self.scale_ups {
                Some(i) => num(i)?,
                None => 0.0,
            },
            scale_downs: match self.scale_downs {
                Some(i) => num(i)?,
                None => 0.0,
            },
            max_nodes: match self.max_nodes {
                Some(i) => num(i)?,
                None => 0.0,
            },
            scheduling_attempts: match self.scheduling_attempts {
                Some(i) => num(i)?,
                None => 0.0,
            },
            pods_created: match self.pods_created {
                Some(i) => num(i)?,
                None => 0.0,
            },
            stall_cause: self.stall.map(cell).filter(|c| !c.is_empty()).map(|c| {
                STALL_CAUSES
                    .iter()
                    .position(|k| *k == c)
                    .unwrap_or(STALL_CAUSES.len() - 1)
            }),
        })
    }
}

/// A figure of a run, if the run has it.
pub type Figure = fn(&RunFigures) -> Option<f64>;

/// The figures compared between policies, by column stem.
pub const PAIRED: [(&str, Figure); 8] = [
    ("deadlocked", |r| Some(if r.deadlocked { 1.0 } else { 0.0 })),
    ("system_recovery_s", |r| r.system_recovery_s),
    ("system_unavailable_s", |r| Some(r.system_unavailable_s)),
    ("user_work_done_frac", |r| r.user_work_done_frac),
    ("pending_pod_s", |r| Some(r.pending_pod_s)),
    ("instance_hours", |r| Some(r.instance_hours)),
    ("cost_usd", |r| Some(r.cost_usd)),
    ("preemptions", |r| Some(r.preemptions)),
];

/// `get(run) - get(baseline run)` for every seed where both runs finished
/// and both have the figure, in the order of `runs`. Both policies of a
/// seed saw the same random draws (common random numbers), so these
/// differences vary far less than the figures themselves.
pub fn paired_differences(runs: &[RunFigures], baseline: &[RunFigures], get: Figure) -> Vec<f64> {
    let by_seed: HashMap<u64, &RunFigures> = baseline
        .iter()
        .filter(|b| b.ok)
        .map(|b| (b.seed, b))
        .collect();
    runs.iter()
        .filter(|r| r.ok)
        .filter_map(|r| {
            let b = by_seed.get(&r.seed)?;
            Some(get(r)? - get(b)?)
        })
        .collect()
}
