//! Checking rows read back from disk against the plan: `--resume` reuses a
//! row of `runs.csv.partial`, and `merge` joins a shard's `runs.csv`, only
//! if the row is the run the plan puts at that place (policy, seed, grid
//! labels) and every field has the type and range poolsim writes.
//!
//! A row that fails is not an error for `--resume` (the run is done again)
//! but is one for `merge` (a shard's finished result must be whole).

use std::path::Path;

use crate::metrics::STALL_CAUSES;

use super::SweepError;
use super::plan::{Plan, RunKey};
use crate::scenario::Scenario;

/// The kind of value a `runs.csv` column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Policy,
    Seed,
    Status,
    Bool,
    /// Seconds within the horizon, written with 3 decimals.
    Seconds,
    /// A non-negative decimal.
    Decimal,
    /// A non-negative integer.
    Count,
    CostByPool,
    StallCause,
    Error,
}

/// The kind of each column of [`RunRow::HEADER`], by name, and whether a
/// finished (`ok`) run always has it.
fn kind(column: &str) -> Option<(Kind, bool)> {
    Some(match column {
        "policy" => (Kind::Policy, true),
        "seed" => (Kind::Seed, true),
        "status" => (Kind::Status, true),
        "deadlocked" => (Kind::Bool, true),
        "system_recovery_s" => (Kind::Seconds, false),
        "system_unavailable_s" => (Kind::Seconds, true),
        "user_work_done_frac" => (Kind::Decimal, false),
        "pending_pod_s" | "instance_hours" | "cost_usd" => (Kind::Decimal, true),
        "system_outages"
        | "preemptions"
        | "instances_launched"
        | "scale_ups"
        | "scale_downs"
        | "nodeclaims_launched"
        | "consolidations"
        | "disrupted_pods"
        | "max_nodes"
        | "scheduling_attempts"
        | "pods_created"
        | "events" => (Kind::Count, true),
        "cost_by_pool" => (Kind::CostByPool, true),
        "stall_cause" => (Kind::StallCause, false),
        "error" => (Kind::Error, false),
        _ => return None,
    })
}

/// Larger than any figure a run can produce (dollars, pod-seconds): a
/// value beyond it was not written by poolsim.
const MAX_DECIMAL: f64 = 1e15;

/// A non-negative decimal as poolsim writes it: digits, optionally a point
/// and digits (no sign, exponent, `inf` or `NaN`), below [`MAX_DECIMAL`].
fn decimal(cell: &str) -> Result<f64, String> {
    let (int, frac) = cell.split_once('.').unwrap_or((cell, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || !digits(frac) {
        return Err(format!("`{cell}` is not a non-negative decimal"));
    }
    match cell.parse::<f64>() {
        Ok(v) if v < MAX_DECIMAL => Ok(v),
        _ => Err(format!("`{cell}` is out of range")),
    }
}

/// Checks one cell of the row of run `k`, whose grid point's scenario is
/// `scenario`.
fn cell_ok(scenario: &Scenario, k: RunKey, kind: Kind, cell: &str) -> Result<(), String> {
    let policy = &scenario.policies[k.policy];
    match kind {
        Kind::Policy if cell != policy.name => {
            Err(format!("policy `{cell}`, expected `{}`", policy.name))
        }
        Kind::Seed if cell != k.seed.to_string() => {
            Err(format!("seed `{cell}`, expected {}", k.seed))
        }
        Kind::Policy | Kind::Seed => Ok(()),
        Kind::Status if cell != "ok" && cell != "failed" => Err(format!("status `{cell}`")),
        Kind::Bool if cell != "true" && cell != "false" => {
            Err(format!("`{cell}` is not true or false"))
        }
        Kind::Status | Kind::Bool => Ok(()),
        Kind::Seconds => {
            let horizon = scenario.horizon.as_secs_f64();
            match decimal(cell)? {
                v if v <= horizon => Ok(()),
                v => Err(format!("{v} s is beyond the horizon ({horizon} s)")),
            }
        }
        Kind::Decimal => decimal(cell).map(|_| ()),
        Kind::Count => cell
            .parse::<u64>()
            .ok()
            .filter(|_| cell.bytes().all(|b| b.is_ascii_digit()))
            .map(|_| ())
            .ok_or_else(|| format!("`{cell}` is not a count")),
        Kind::CostByPool => {
            let mut rest = cell;
            for (j, pool) in policy.pools.iter().enumerate() {
                let bad = || format!("cost_by_pool `{cell}` does not list pool `{}`", pool.name);
                rest = rest
                    .strip_prefix(&pool.name)
                    .and_then(|r| r.strip_prefix('='))
                    .ok_or_else(bad)?;
                let end = rest.find(';').unwrap_or(rest.len());
                decimal(&rest[..end])?;
                rest = &rest[end..];
                if j + 1 < policy.pools.len() {
                    rest = rest.strip_prefix(';').ok_or_else(bad)?;
                }
            }
            match rest {
                "" => Ok(()),
                _ => Err(format!(
                    "cost_by_pool `{cell}` lists more than the policy's pools"
                )),
            }
        }
        Kind::StallCause if !STALL_CAUSES.contains(&cell) => {
            Err(format!("stall_cause `{cell}` is not one poolsim writes"))
        }
        Kind::StallCause | Kind::Error => Ok(()),
    }
}

/// Checks rows against a plan, keeping the scenario of the last grid point
/// (rows come in run order, so a point's scenario is built once).
pub(crate) struct RowChecker<'a> {
    plan: &'a Plan,
    header: Vec<String>,
    point: Option<(usize, Scenario)>,
}

impl<'a> RowChecker<'a> {
    /// A checker of rows of `plan`.
    pub fn new(plan: &'a Plan) -> Self {
        RowChecker {
            plan,
            header: super::runs_header(plan),
            point: None,
        }
    }

    /// The scenario of grid point `point`.
    fn scenario(&mut self, point: usize) -> Result<&Scenario, String> {
        if self.plan.grid.axes.is_empty() {
            return Ok(&self.plan.base);
        }
        if self.point.as_ref().is_none_or(|(p, _)| *p != point) {
            let s = self.plan.scenario(point).map_err(|e| e.to_string())?;
            self.point = Some((point, s.into_owned()));
        }
        Ok(&self.point.as_ref().ok_or("no scenario")?.1)
    }

    /// Checks that `cells` (one `runs.csv` record) is run `i` of the plan,
    /// with every field of the type and range poolsim writes; `Err` says
    /// what is wrong.
    pub fn check<'c>(
        &mut self,
        i: usize,
        cells: impl ExactSizeIterator<Item = &'c [u8]>,
    ) -> Result<(), String> {
        let plan = self.plan;
        if i >= plan.len() {
            return Err(format!("the plan has only {} runs", plan.len()));
        }
        if cells.len() != self.header.len() {
            return Err(format!(
                "{} fields, expected {}",
                cells.len(),
                self.header.len()
            ));
        }
        let k = plan.run(i);
        let labels = plan.grid.labels(k.point);
        let header = std::mem::take(&mut self.header);
        let checked = self
            .scenario(k.point)
            .and_then(|scenario| check_cells(scenario, k, &header, &labels, cells));
        self.header = header;
        checked
    }
}

/// Checks the cells of run `k`'s row, named by `header`.
fn check_cells<'c>(
    scenario: &Scenario,
    k: RunKey,
    header: &[String],
    labels: &[String],
    cells: impl Iterator<Item = &'c [u8]>,
) -> Result<(), String> {
    let axes = labels.len();
    let mut ok = None;
    for (j, (name, raw)) in header.iter().zip(cells).enumerate() {
        let cell = std::str::from_utf8(raw).map_err(|_| format!("`{name}` is not UTF-8"))?;
        if j >= 2 && j < 2 + axes {
            if cell != labels[j - 2] {
                return Err(format!("`{name}` = `{cell}`, expected `{}`", labels[j - 2]));
            }
            continue;
        }
        // Unknown columns are caught by a unit test: every column has a kind.
        let Some((kind, required)) = kind(name) else {
            continue;
        };
        if kind == Kind::Status {
            ok = Some(cell == "ok");
        }
        if kind == Kind::Error {
            match (ok, cell.is_empty()) {
                (Some(true), false) => return Err("an `ok` run with an error".into()),
                (Some(false), true) => return Err("a `failed` run without an error".into()),
                _ => {}
            }
            continue;
        }
        if cell.is_empty() {
            if required && ok == Some(true) {
                return Err(format!("`{name}` is empty"));
            }
            continue;
        }
        cell_ok(scenario, k, kind, cell).map_err(|m| format!("`{name}`: {m}"))?;
    }
    Ok(())
}

/// The error for a result file that is not what poolsim wrote.
fn corrupt(path: &Path) -> impl Fn(String) -> SweepError + '_ {
    move |message| SweepError::Corrupt {
        path: path.display().to_string(),
        message,
    }
}

/// Opens a result CSV (rows of any length) and checks that its columns are
/// `header`.
fn open_with_header(
    path: &Path,
    header: &[String],
) -> Result<csv::Reader<std::io::BufReader<std::fs::File>>, SweepError> {
    let bad = corrupt(path);
    let file = std::fs::File::open(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(std::io::BufReader::new(file));
    let found = rdr.byte_headers().map_err(|e| bad(e.to_string()))?;
    if found.iter().ne(header.iter().map(|h| h.as_bytes())) {
        return Err(bad("its columns are not those of this sweep".into()));
    }
    Ok(rdr)
}

/// Checks that `path` is a `runs.csv` holding exactly the runs `range` of
/// the plan, in order, each row whole (see [`RowChecker::check`]).
pub(crate) fn check_runs_file(
    plan: &Plan,
    range: std::ops::Range<usize>,
    path: &Path,
) -> Result<(), SweepError> {
    let bad = corrupt(path);
    let mut rdr = open_with_header(path, &super::runs_header(plan))?;
    let mut rec = csv::ByteRecord::new();
    let mut run = range.start;
    let mut checker = RowChecker::new(plan);
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(bad(e.to_string())),
        }
        if run >= range.end {
            return Err(bad(format!(
                "more than the {} rows of runs {}..{}",
                range.len(),
                range.start,
                range.end
            )));
        }
        checker
            .check(run, rec.iter())
            .map_err(|m| bad(format!("row {} (run {run}): {m}", run - range.start + 2)))?;
        run += 1;
    }
    if run < range.end {
        return Err(bad(format!(
            "{} rows, expected {} (runs {}..{})",
            run - range.start,
            range.len(),
            range.start,
            range.end
        )));
    }
    Ok(())
}

/// Whether a time-series record belongs to run `i`.
fn same_run(plan: &Plan, i: usize, rec: &csv::ByteRecord) -> bool {
    let k = plan.run(i);
    let name = plan.policy_name(k.policy);
    rec.get(0) == Some(name.as_bytes())
        && rec.get(1) == Some(k.seed.to_string().as_bytes())
        && plan
            .grid
            .labels(k.point)
            .iter()
            .enumerate()
            .all(|(j, l)| rec.get(2 + j) == Some(l.as_bytes()))
}

/// Checks that `path` is a `timeseries.csv` whose rows belong to the runs
/// `range` of the plan, in run order, each with the columns of the header.
pub(crate) fn check_series_file(
    plan: &Plan,
    range: std::ops::Range<usize>,
    path: &Path,
) -> Result<(), SweepError> {
    let bad = corrupt(path);
    let header = super::series_header(plan);
    let mut rdr = open_with_header(path, &header)?;
    let mut rec = csv::ByteRecord::new();
    let mut run = range.start;
    let mut row = 1;
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => return Ok(()),
            Ok(true) => row += 1,
            Err(e) => return Err(bad(e.to_string())),
        }
        if rec.len() != header.len() {
            return Err(bad(format!(
                "row {row}: {} fields, expected {}",
                rec.len(),
                header.len()
            )));
        }
        while run < range.end && !same_run(plan, run, &rec) {
            run += 1;
        }
        if run == range.end {
            return Err(bad(format!(
                "row {row} is not a sample of runs {}..{} in run order",
                range.start, range.end
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::RunRow;

    /// Whoever adds a column to `runs.csv` says here what it may hold.
    #[test]
    fn every_column_has_a_kind() {
        for c in RunRow::HEADER {
            assert!(kind(c).is_some(), "no kind for `{c}`");
        }
    }

    const TINY: &str = r#"
name = "tiny"
horizon = "30m"
[[workloads]]
name = "dns"
class = "system"
replicas = 2
min_available = 1
cpu = "100m"
memory = "128Mi"
[[policies]]
name = "one"
pools = [{ name = "all", instance_type = "m5.large", desired = 2 }]
[[policies]]
name = "two"
pools = [{ name = "a", instance_type = "m5.large", desired = 1 }, { name = "b", instance_type = "m5.large", desired = 1 }]
[[faults]]
kind = "terminate_all"
at = "10m"
"#;

    /// Run 1 (policy `two`, seed 1) as poolsim writes it passes; each
    /// field changed to something poolsim never writes fails, even with
    /// no checksum to catch it.
    #[test]
    fn a_row_is_checked_field_by_field() {
        let scenario = crate::Scenario::parse(TINY, "tiny.toml").unwrap();
        let plan = Plan::new(&scenario, &super::super::SweepOptions::default()).unwrap();
        let pools = plan.pool_names();
        let mut cache = super::super::execute::PointCache::default();
        let line = super::super::execute::render(&plan, 1, &pools, None, &mut cache)
            .unwrap()
            .run;
        let header = super::super::runs_header(&plan);
        let cells: Vec<String> = String::from_utf8(line)
            .unwrap()
            .trim_end()
            .split(',')
            .map(str::to_string)
            .collect();
        let check = |cells: &[String], run: usize| {
            RowChecker::new(&plan).check(run, cells.iter().map(|c| c.as_bytes()))
        };
        assert_eq!(check(&cells, 1), Ok(()));
        assert!(check(&cells, 0).is_err(), "run 0 is policy `one`");
        assert!(check(&cells, 3).is_err(), "run 3 is seed 2");
        assert!(check(&cells[1..], 1).is_err(), "a field short");
        let col = |name: &str| header.iter().position(|h| h == name).unwrap();
        for (name, value) in [
            ("status", "maybe"),
            ("deadlocked", "maybe"),
            ("system_recovery_s", "NaN"),
            ("system_unavailable_s", "-1e308"),
            ("system_unavailable_s", "1800.001"),
            ("cost_usd", "inf"),
            ("cost_usd", ""),
            ("events", "1.5"),
            ("cost_by_pool", "a=0.1"),
            ("cost_by_pool", "a=0.1;b=0.1;c=0.1"),
            ("cost_by_pool", "b=0.1;a=0.1"),
            ("stall_cause", "cosmic-rays"),
            ("error", "an error on an ok run"),
        ] {
            let mut bad = cells.clone();
            bad[col(name)] = value.to_string();
            assert!(check(&bad, 1).is_err(), "{name} = {value}");
        }
        let mut failed = cells.clone();
        failed[col("status")] = "failed".into();
        assert!(check(&failed, 1).is_err(), "a failed run without an error");
        failed[col("error")] = "it panicked".into();
        assert_eq!(check(&failed, 1), Ok(()));
    }

    #[test]
    fn decimals_as_poolsim_writes_them() {
        assert_eq!(decimal("12.500"), Ok(12.5));
        assert_eq!(decimal("0"), Ok(0.0));
        for bad in [
            "NaN", "-1", "-1e308", "1e308", "inf", "+1", " 1", "1.", ".5", "",
        ] {
            assert!(decimal(bad).is_err(), "{bad}");
        }
        assert!(decimal(&format!("1{}", "0".repeat(20))).is_err());
    }
}
