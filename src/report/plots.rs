//! The figures of `poolsim plot DIR`, drawn from the CSV files a sweep wrote.
//!
//! Plots read the CSVs by column name, so they work on any output directory
//! (a sweep, a merge of shards) without the scenario.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::svg::{Band, Chart, Marker, PALETTE, Series, Style};

/// A problem reading results or writing figures.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// A CSV file is missing or unreadable.
    #[error("{path}: {message}")]
    Read {
        /// File.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A figure could not be written.
    #[error("{path}: {source}")]
    Write {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
}

/// A CSV file held as strings, with lookup by column name.
#[derive(Debug, Clone)]
pub struct Table {
    /// Column names.
    pub header: Vec<String>,
    /// Rows of fields.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// Reads a CSV file with a header row.
    pub fn read(path: &Path) -> Result<Table, PlotError> {
        let err = |message: String| PlotError::Read {
            path: path.display().to_string(),
            message,
        };
        let mut reader = csv::Reader::from_path(path).map_err(|e| err(e.to_string()))?;
        let header = reader
            .headers()
            .map_err(|e| err(e.to_string()))?
            .iter()
            .map(str::to_string)
            .collect();
        let mut rows = Vec::new();
        for r in reader.records() {
            rows.push(
                r.map_err(|e| err(e.to_string()))?
                    .iter()
                    .map(str::to_string)
                    .collect(),
            );
        }
        Ok(Table { header, rows })
    }

    /// The index of a column.
    pub fn col(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// A field as a number (`None` when empty or not a number).
    pub fn num(&self, row: &[String], col: Option<usize>) -> Option<f64> {
        col.and_then(|c| row.get(c)).and_then(|v| v.parse().ok())
    }

    /// A field as text.
    pub fn text<'a>(&self, row: &'a [String], col: Option<usize>) -> &'a str {
        col.and_then(|c| row.get(c)).map_or("", String::as_str)
    }
}

/// Columns of `summary.csv` that come before `runs` and are not the
/// policy: the swept parameters.
pub fn grid_columns(summary: &Table) -> Vec<String> {
    let end = summary.col("runs").unwrap_or(0);
    summary.header[..end]
        .iter()
        .filter(|h| *h != "policy")
        .cloned()
        .collect()
}

fn policies_in(table: &Table) -> Vec<String> {
    let c = table.col("policy");
    let mut out: Vec<String> = Vec::new();
    for r in &table.rows {
        let p = table.text(r, c).to_string();
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

fn scenario_name(dir: &Path) -> String {
    // The resolved scenario names itself; fall back to the directory name.
    for f in ["scenario.resolved.toml", "scenario.toml"] {
        if let Ok(text) = std::fs::read_to_string(dir.join(f))
            && let Ok(v) = text.parse::<toml::Table>()
            && let Some(n) = v.get("name").and_then(|n| n.as_str())
        {
            return n.to_string();
        }
    }
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "results".into())
}

/// Deadlock rate against one swept parameter, a line per policy with its
/// Wilson 95 % band; or, with no swept parameter, a point per policy with
/// its interval.
pub fn deadlock_rate(summary: &Table, param: Option<&str>, scenario: &str) -> Chart {
    let (rate, lo, hi) = (
        summary.col("deadlock_rate"),
        summary.col("deadlock_rate_lo"),
        summary.col("deadlock_rate_hi"),
    );
    let policies = policies_in(summary);
    let pc = summary.col("policy");
    let mut chart = Chart {
        y_label: "deadlock rate (share of runs)".into(),
        y_range: Some((0.0, 1.0)),
        ..Chart::default()
    };
    match param {
        Some(param) => {
            chart.title = format!("{scenario}: deadlock rate vs {param}");
            chart.x_label = param.to_string();
            let xc = summary.col(param);
            for (i, p) in policies.iter().enumerate() {
                let mut s = Series::new(p.clone(), Style::Line, i);
                let mut band = Band {
                    name: format!("{p} 95% interval"),
                    points: Vec::new(),
                    color: PALETTE[i % PALETTE.len()].into(),
                };
                let mut pts: Vec<(f64, f64, f64, f64)> = summary
                    .rows
                    .iter()
                    .filter(|r| summary.text(r, pc) == p)
                    .filter_map(|r| {
                        Some((
                            summary.num(r, xc)?,
                            summary.num(r, rate)?,
                            summary.num(r, lo)?,
                            summary.num(r, hi)?,
                        ))
                    })
                    .collect();
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                for (x, y, l, h) in pts {
                    s.points.push((x, y));
                    band.points.push((x, l, h));
                }
                chart.series.push(s);
                chart.bands.push(band);
            }
        }
        None => {
            chart.title = format!("{scenario}: deadlock rate by policy");
            chart.x_label = "policy".into();
            chart.x_categories = policies.clone();
            for (i, p) in policies.iter().enumerate() {
                let mut s = Series::new(p.clone(), Style::Points, i);
                if let Some(r) = summary.rows.iter().find(|r| summary.text(r, pc) == p) {
                    let x = i as f64;
                    if let Some(y) = summary.num(r, rate) {
                        s.points.push((x, y));
                    }
                    if let (Some(l), Some(h)) = (summary.num(r, lo), summary.num(r, hi)) {
                        s.error_bars.push((x, l, h));
                    }
                }
                chart.series.push(s);
            }
        }
    }
    chart
}

/// Empirical CDF of `system_recovery_s` per policy over all its finished
/// runs: the curve tops out at the share that recovered, and the legend
/// gives the share that never did.
pub fn recovery_cdf(runs: &Table, scenario: &str) -> Chart {
    let (pc, rc, sc) = (
        runs.col("policy"),
        runs.col("system_recovery_s"),
        runs.col("status"),
    );
    let mut chart = Chart {
        title: format!("{scenario}: time for system services to recover"),
        x_label: "system recovery after the fault (s)".into(),
        y_label: "share of runs recovered".into(),
        y_range: Some((0.0, 1.0)),
        x_from_zero: true,
        ..Chart::default()
    };
    for (i, p) in policies_in(runs).iter().enumerate() {
        let rows: Vec<&Vec<String>> = runs
            .rows
            .iter()
            .filter(|r| runs.text(r, pc) == p && runs.text(r, sc) != "failed")
            .collect();
        let n = rows.len().max(1) as f64;
        let mut times: Vec<f64> = rows.iter().filter_map(|r| runs.num(r, rc)).collect();
        times.sort_by(f64::total_cmp);
        let never = 1.0 - times.len() as f64 / n;
        let mut s = Series::new(
            format!("{p} (never: {:.0}%)", never * 100.0),
            Style::Step,
            i,
        );
        if let Some(&first) = times.first() {
            s.points.push((first, 0.0));
        }
        for (k, t) in times.iter().enumerate() {
            s.points.push((*t, (k + 1) as f64 / n));
        }
        chart.series.push(s);
    }
    chart
}

/// Mean cost against mean unavailability, a point per policy and grid
/// point: the trade-off a user weighs.
pub fn cost_vs_unavailability(summary: &Table, scenario: &str) -> Chart {
    let (pc, xc, yc) = (
        summary.col("policy"),
        summary.col("system_unavailable_s_mean"),
        summary.col("cost_usd_mean"),
    );
    let mut chart = Chart {
        title: format!("{scenario}: cost versus system unavailability"),
        x_label: "mean time system services were down after the fault (s)".into(),
        y_label: "mean cost per run (USD)".into(),
        x_from_zero: true,
        ..Chart::default()
    };
    for (i, p) in policies_in(summary).iter().enumerate() {
        let mut s = Series::new(p.clone(), Style::Points, i);
        for r in summary.rows.iter().filter(|r| summary.text(r, pc) == p) {
            if let (Some(x), Some(y)) = (summary.num(r, xc), summary.num(r, yc)) {
                s.points.push((x, y));
            }
        }
        chart.series.push(s);
    }
    chart
}

/// The times of the faults declared in the scenario saved next to results
/// (`at` keys of `[[faults]]`), in seconds.
fn fault_times(dir: &Path) -> Vec<f64> {
    for f in ["scenario.resolved.toml", "scenario.toml"] {
        if let Ok(text) = std::fs::read_to_string(dir.join(f))
            && let Ok(v) = text.parse::<toml::Table>()
        {
            return v
                .get("faults")
                .and_then(|f| f.as_array())
                .map(|faults| {
                    faults
                        .iter()
                        .filter_map(|f| f.get("at")?.as_str())
                        .filter_map(|at| crate::quantity::parse_duration(at).ok())
                        .map(|t| t.as_secs_f64())
                        .collect()
                })
                .unwrap_or_default();
        }
    }
    Vec::new()
}

/// Which run to draw over time: the given one, else the first deadlocked
/// run, else the first run. Returns the runs.csv row.
fn chosen_run<'a>(runs: &'a Table, choice: &RunChoice) -> Option<&'a Vec<String>> {
    let (pc, sc, dc) = (runs.col("policy"), runs.col("seed"), runs.col("deadlocked"));
    let matches = |r: &&Vec<String>| {
        choice
            .policy
            .as_deref()
            .is_none_or(|p| runs.text(r, pc) == p)
            && choice
                .seed
                .is_none_or(|s| runs.text(r, sc) == s.to_string())
    };
    if choice.policy.is_some() || choice.seed.is_some() {
        return runs.rows.iter().find(matches);
    }
    runs.rows
        .iter()
        .find(|r| runs.text(r, dc) == "true")
        .or_else(|| runs.rows.first())
}

/// The run `poolsim plot` draws over time.
#[derive(Debug, Clone, Default)]
pub struct RunChoice {
    /// Policy name.
    pub policy: Option<String>,
    /// Seed.
    pub seed: Option<u64>,
}

/// One run over time: ready nodes per pool, pending system and user pods,
/// stalled pods, with the faults marked.
pub fn timeseries(
    ts: &Table,
    run: &[String],
    runs: &Table,
    grid: &[String],
    faults: &[f64],
    scenario: &str,
) -> Chart {
    let policy = runs.text(run, runs.col("policy")).to_string();
    let seed = runs.text(run, runs.col("seed")).to_string();
    let key: Vec<(Option<usize>, String)> = ["policy", "seed"]
        .iter()
        .map(|c| c.to_string())
        .chain(grid.iter().cloned())
        .map(|c| (ts.col(&c), runs.text(run, runs.col(&c)).to_string()))
        .collect();
    let rows: Vec<&Vec<String>> = ts
        .rows
        .iter()
        .filter(|r| key.iter().all(|(c, v)| ts.text(r, *c) == v))
        .collect();
    let grid_label: Vec<String> = grid
        .iter()
        .map(|g| format!("{g}={}", runs.text(run, runs.col(g))))
        .collect();
    let mut chart = Chart {
        title: format!(
            "{scenario}: {policy}, seed {seed}{}",
            if grid_label.is_empty() {
                String::new()
            } else {
                format!(" ({})", grid_label.join(", "))
            }
        ),
        x_label: "time (min)".into(),
        y_label: "nodes / pods".into(),
        x_from_zero: true,
        ..Chart::default()
    };
    let tc = ts.col("t_s");
    let mut columns: Vec<(String, String, bool)> = ts
        .header
        .iter()
        .filter(|h| h.starts_with("ready_nodes."))
        .filter(|h| rows.iter().any(|r| !ts.text(r, ts.col(h)).is_empty()))
        .map(|h| {
            (
                h.clone(),
                format!("ready nodes: {}", &h["ready_nodes.".len()..]),
                false,
            )
        })
        .collect();
    for (c, label) in [
        ("pending_system", "pending system pods"),
        ("pending_user", "pending user pods"),
        ("stalled", "stalled pods"),
    ] {
        columns.push((c.to_string(), label.to_string(), c == "stalled"));
    }
    for (i, (col, label, dashed)) in columns.into_iter().enumerate() {
        let c = ts.col(&col);
        let mut s = Series::new(label, Style::Step, i);
        s.dashed = dashed;
        s.points = rows
            .iter()
            .filter_map(|r| Some((ts.num(r, tc)? / 60.0, ts.num(r, c)?)))
            .collect();
        chart.series.push(s);
    }
    for &f in faults {
        chart.markers.push(Marker {
            label: "fault".into(),
            x: f / 60.0,
        });
    }
    chart
}

/// Writes every figure the files in `dir` allow; returns their paths.
pub fn plot_dir(dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
    plot_dir_with(dir, &RunChoice::default())
}

/// [`plot_dir`], drawing `choice` over time when `timeseries.csv` exists.
pub fn plot_dir_with(dir: &Path, choice: &RunChoice) -> Result<Vec<PathBuf>, PlotError> {
    let scenario = scenario_name(dir);
    let summary = Table::read(&dir.join("summary.csv"))?;
    let runs = Table::read(&dir.join("runs.csv"))?;
    let mut figures: BTreeMap<String, Chart> = BTreeMap::new();
    let params = grid_columns(&summary);
    if params.is_empty() {
        figures.insert(
            "deadlock-rate.svg".into(),
            deadlock_rate(&summary, None, &scenario),
        );
    }
    for p in &params {
        figures.insert(
            format!("deadlock-rate-vs-{p}.svg"),
            deadlock_rate(&summary, Some(p), &scenario),
        );
    }
    figures.insert("recovery-cdf.svg".into(), recovery_cdf(&runs, &scenario));
    figures.insert(
        "cost-vs-unavailability.svg".into(),
        cost_vs_unavailability(&summary, &scenario),
    );
    let ts_path = dir.join("timeseries.csv");
    if ts_path.exists() {
        let ts = Table::read(&ts_path)?;
        let run = chosen_run(&runs, choice).ok_or_else(|| PlotError::Read {
            path: dir.join("runs.csv").display().to_string(),
            message: "no run matches the requested --policy / --seed".into(),
        })?;
        let name = format!(
            "timeseries-{}-seed{}.svg",
            runs.text(run, runs.col("policy")),
            runs.text(run, runs.col("seed"))
        );
        figures.insert(
            name,
            timeseries(&ts, run, &runs, &params, &fault_times(dir), &scenario),
        );
    }
    let mut written = Vec::new();
    for (name, chart) in figures {
        let path = dir.join(name);
        std::fs::write(&path, chart.render()).map_err(|source| PlotError::Write {
            path: path.display().to_string(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}
