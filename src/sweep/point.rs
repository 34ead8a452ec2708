//! One run of a sweep picked out again, for `poolsim trace`: the grid point
//! (from the scenario's `[sweep]` and `--set`, exactly as `poolsim run`
//! builds the grid, chosen by index when there are several) and, given a
//! results directory, the check that its `runs.csv` holds that run, so a
//! trace never silently runs other values than the row it should explain.

use std::path::Path;

use crate::scenario::Scenario;

use super::SweepError;
use super::grid::{Grid, axes_from_table, combine, parse_set};

/// A grid point's validated scenario and what identifies it in `runs.csv`.
#[derive(Debug, Clone)]
pub struct GridPoint {
    /// The scenario with the point's values set.
    pub scenario: Scenario,
    /// Its index in run order (row-major, the first axis slowest).
    pub index: usize,
    /// Each swept key and the point's value, as in `runs.csv`'s cells.
    pub values: Vec<(String, String)>,
}

/// The grid point `point` of `base`'s `[sweep]` with the `--set` axes `set`
/// (as `poolsim run` combines them). Without `point` the grid must have one
/// point: nothing swept, or every swept key pinned to one value by `set`.
pub fn grid_point(
    base: &Scenario,
    set: &[String],
    point: Option<usize>,
) -> Result<GridPoint, SweepError> {
    let file_axes = match &base.file.sweep {
        Some(t) => axes_from_table(t).map_err(|e| super::plan::at_sweep_line(base, e))?,
        None => Vec::new(),
    };
    let cli_axes = set
        .iter()
        .map(|s| parse_set(s))
        .collect::<Result<Vec<_>, _>>()?;
    let grid = Grid {
        axes: combine(file_axes, cli_axes),
    };
    let n = grid.points();
    let index = match point {
        Some(i) if i < n => i,
        Some(i) => {
            return Err(SweepError::BadOption(format!(
                "--point {i}: the grid has {n} point(s), numbered 0 to {}",
                n - 1
            )));
        }
        None if n == 1 => 0,
        None => {
            return Err(SweepError::BadOption(format!(
                "the grid has {n} points ({}); choose one with --point I (0 to {}, in runs.csv order) or pin each swept key with --set KEY=VALUE",
                grid.keys().join(", "),
                n - 1
            )));
        }
    };
    let values: Vec<(String, String)> = grid.keys().into_iter().zip(grid.labels(index)).collect();
    // Pin every axis to the chosen value, so only that point is validated.
    let one = Grid {
        axes: grid
            .axes
            .iter()
            .zip(grid.coords(index))
            .map(|(a, c)| super::grid::Axis {
                key: a.key.clone(),
                values: vec![a.values[c].clone()],
            })
            .collect(),
    };
    let scenario = if one.axes.is_empty() {
        base.clone()
    } else {
        let mut doc = super::grid::base_document(base)?;
        doc.remove("sweep");
        one.scenario(&doc, base, 0)?
    };
    Ok(GridPoint {
        scenario,
        index,
        values,
    })
}

/// Checks that `dir/runs.csv` holds a run of `policy` with `seed` at the
/// grid point `at`: same swept keys, same values.
pub fn check_results_hold(
    dir: &Path,
    at: &GridPoint,
    policy: &str,
    seed: u64,
) -> Result<(), SweepError> {
    let path = dir.join("runs.csv");
    let shown = path.display().to_string();
    let bad = |m: String| SweepError::BadOption(format!("{shown}: {m}"));
    let mut rdr = csv::Reader::from_path(&path).map_err(|e| bad(e.to_string()))?;
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| bad(e.to_string()))?
        .iter()
        .map(str::to_string)
        .collect();
    // Swept values sit between `seed` and `status`.
    let status = header
        .iter()
        .position(|h| h == "status")
        .filter(|&s| s >= 2 && header[0] == "policy" && header[1] == "seed")
        .ok_or_else(|| bad("not a runs.csv (no policy, seed, ..., status columns)".into()))?;
    let swept = &header[2..status];
    let keys: Vec<&str> = at.values.iter().map(|(k, _)| k.as_str()).collect();
    if swept.iter().map(String::as_str).ne(keys.iter().copied()) {
        return Err(bad(format!(
            "its runs sweep [{}] but this trace's grid sweeps [{}]; give trace the run's [sweep] and --set",
            swept.join(", "),
            keys.join(", ")
        )));
    }
    let seed_text = seed.to_string();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| bad(e.to_string()))?;
        let holds = rec.get(0) == Some(policy)
            && rec.get(1) == Some(seed_text.as_str())
            && at
                .values
                .iter()
                .enumerate()
                .all(|(i, (_, v))| rec.get(2 + i) == Some(v.as_str()));
        if holds {
            return Ok(());
        }
    }
    let point = if at.values.is_empty() {
        String::new()
    } else {
        let v: Vec<String> = at.values.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!(" at {}", v.join(" "))
    };
    Err(bad(format!(
        "holds no run of policy `{policy}` with seed {seed}{point}"
    )))
}
