//! The figures of `poolsim plot DIR`, drawn from the CSV files a sweep wrote.
//!
//! Plots read the CSVs by column name, so they work on any output directory
//! (a sweep, a merge of shards) without the scenario.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::axis::ParamAxis;
use super::figure::{Figure, note_identical};
use super::svg::{Band, Chart, PALETTE, PointLabel, Series, Style};
use super::timeline::{RunChoice, chosen_run, timeseries};

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
    /// A figure would have nothing to draw.
    #[error("{figure}: nothing to draw: {why}")]
    Empty {
        /// The figure's file name.
        figure: String,
        /// Why.
        why: String,
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

/// Policies in order of first appearance.
pub fn policies_in(table: &Table) -> Vec<String> {
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

/// The scenario's name, from the resolved scenario saved with the results.
pub fn scenario_name(dir: &Path) -> String {
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

/// The swept keys of a results table as axes, in column order.
pub fn grid_axes(table: &Table, keys: &[String]) -> Vec<ParamAxis> {
    keys.iter()
        .map(|k| {
            let c = table.col(k);
            ParamAxis::new(k, table.rows.iter().map(|r| table.text(r, c).to_string()))
        })
        .collect()
}

/// The grid values of a row, one per key.
fn point_of(table: &Table, row: &[String], keys: &[String]) -> Vec<String> {
    keys.iter()
        .map(|k| table.text(row, table.col(k)).to_string())
        .collect()
}

/// Distinct values of `f` over the rows, in order of first appearance.
fn distinct<T: PartialEq>(rows: impl Iterator<Item = T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for r in rows {
        if !out.contains(&r) {
            out.push(r);
        }
    }
    out
}

/// `k=v, k=v` for a grid point.
pub fn point_label(keys: &[String], values: &[String]) -> String {
    keys.iter()
        .zip(values)
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Deadlock rate against swept parameter `x` (an index into `axes`), a line
/// per policy with its Wilson 95 % band, in one panel per combination of the
/// other swept values (small multiples: a line never joins two grid points
/// that differ in another key); or, with no sweep, a point per policy with
/// its interval.
pub fn deadlock_rate(
    summary: &Table,
    axes: &[ParamAxis],
    x: Option<usize>,
    scenario: &str,
) -> Figure {
    let cols = RateColumns::of(summary);
    let policies = policies_in(summary);
    match x {
        None => rate_by_policy(summary, &cols, &policies, scenario),
        Some(xi) => rate_along_axis(summary, &cols, &policies, (axes, xi), scenario),
    }
}

/// The y axis of the deadlock rate figures.
const RATE_LABEL: &str = "deadlock rate (share of runs)";

/// Where `summary.csv` keeps a row's policy, deadlock rate and its Wilson
/// interval.
struct RateColumns {
    policy: Option<usize>,
    rate: Option<usize>,
    lo: Option<usize>,
    hi: Option<usize>,
}

impl RateColumns {
    fn of(summary: &Table) -> RateColumns {
        RateColumns {
            policy: summary.col("policy"),
            rate: summary.col("deadlock_rate"),
            lo: summary.col("deadlock_rate_lo"),
            hi: summary.col("deadlock_rate_hi"),
        }
    }
}

/// Without a swept axis: one point with its interval per policy.
fn rate_by_policy(
    summary: &Table,
    cols: &RateColumns,
    policies: &[String],
    scenario: &str,
) -> Figure {
    let mut chart = Chart {
        x_label: "policy".into(),
        y_label: RATE_LABEL.to_string(),
        y_range: Some((0.0, 1.0)),
        x_categories: policies.to_vec(),
        ..Chart::default()
    };
    for (i, p) in policies.iter().enumerate() {
        let mut s = Series::new(p.clone(), Style::Points, i);
        if let Some(r) = summary
            .rows
            .iter()
            .find(|r| summary.text(r, cols.policy) == p)
        {
            let x = i as f64;
            if let Some(y) = summary.num(r, cols.rate) {
                s.points.push((x, y));
            }
            if let (Some(l), Some(h)) = (summary.num(r, cols.lo), summary.num(r, cols.hi)) {
                s.error_bars.push((x, l, h));
            }
        }
        chart.series.push(s);
    }
    Figure::single(format!("{scenario}: deadlock rate by policy"), chart)
}

/// Along the swept axis `axes[xi]`: one panel per combination of the other
/// axes' values, a line and its interval band per policy.
fn rate_along_axis(
    summary: &Table,
    cols: &RateColumns,
    policies: &[String],
    (axes, xi): (&[ParamAxis], usize),
    scenario: &str,
) -> Figure {
    let axis = &axes[xi];
    let others: Vec<String> = axes
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != xi)
        .map(|(_, a)| a.key.clone())
        .collect();
    let panels = distinct(summary.rows.iter().map(|r| point_of(summary, r, &others)));
    let mut figure = Figure {
        title: format!("{scenario}: deadlock rate vs {}", axis.key),
        ..Figure::default()
    };
    if panels.len() > 1 {
        figure.notes.push(format!(
            "One panel per value of {}; each line joins one policy's grid points within a panel. Shaded: Wilson 95% interval.",
            others.join(", ")
        ));
    } else {
        figure.notes.push("Shaded: Wilson 95% interval.".into());
    }
    for values in &panels {
        let mut chart = rate_panel(summary, cols, policies, axis, (&others, values));
        if panels.len() > 1 {
            note_identical(&mut chart);
        }
        figure.panels.push(chart);
    }
    figure
}

/// The panel of the grid points whose other axes `others` have `values`:
/// each policy's rate along `axis` with its interval band.
fn rate_panel(
    summary: &Table,
    cols: &RateColumns,
    policies: &[String],
    axis: &ParamAxis,
    (others, values): (&[String], &[String]),
) -> Chart {
    let xc = summary.col(&axis.key);
    let mut chart = Chart {
        title: point_label(others, values),
        x_label: axis.label(),
        y_label: RATE_LABEL.to_string(),
        y_range: Some((0.0, 1.0)),
        x_categories: axis.categories(),
        ..Chart::default()
    };
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
            .filter(|r| summary.text(r, cols.policy) == p && point_of(summary, r, others) == values)
            .filter_map(|r| {
                Some((
                    axis.position(summary.text(r, xc))?,
                    summary.num(r, cols.rate)?,
                    summary.num(r, cols.lo)?,
                    summary.num(r, cols.hi)?,
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
    chart
}

/// Empirical CDF of `system_recovery_s`, one panel per grid point and a
/// curve per policy over its finished runs there: a curve tops out at the
/// share that recovered, and the panel's note gives the share that never
/// did.
pub fn recovery_cdf(runs: &Table, keys: &[String], scenario: &str) -> Figure {
    let (pc, rc, sc) = (
        runs.col("policy"),
        runs.col("system_recovery_s"),
        runs.col("status"),
    );
    let points = distinct(runs.rows.iter().map(|r| point_of(runs, r, keys)));
    let policies = policies_in(runs);
    let mut figure = Figure {
        title: format!("{scenario}: time for system services to recover"),
        ..Figure::default()
    };
    if points.len() > 1 {
        figure.notes.push(format!(
            "One panel per grid point of {}; one curve per policy.",
            keys.join(", ")
        ));
    }
    for values in &points {
        let mut chart = Chart {
            title: point_label(keys, values),
            x_label: "system recovery after the fault (s)".into(),
            y_label: "share of runs recovered".into(),
            y_range: Some((0.0, 1.0)),
            x_from_zero: true,
            ..Chart::default()
        };
        let mut never = Vec::new();
        for (i, p) in policies.iter().enumerate() {
            let rows: Vec<&Vec<String>> = runs
                .rows
                .iter()
                .filter(|r| runs.text(r, pc) == p && runs.text(r, sc) != "failed")
                .filter(|r| point_of(runs, r, keys) == *values)
                .collect();
            let n = rows.len().max(1) as f64;
            let mut times: Vec<f64> = rows.iter().filter_map(|r| runs.num(r, rc)).collect();
            times.sort_by(f64::total_cmp);
            never.push(format!(
                "{p} {:.0}%",
                (1.0 - times.len() as f64 / n) * 100.0
            ));
            let mut s = Series::new(p.clone(), Style::Step, i);
            s.points.push((0.0, 0.0));
            for (k, t) in times.iter().enumerate() {
                s.points.push((*t, (k + 1) as f64 / n));
            }
            chart.series.push(s);
        }
        chart
            .notes
            .push(format!("never recovered: {}", never.join(", ")));
        if points.len() > 1 {
            note_identical(&mut chart);
        }
        figure.panels.push(chart);
    }
    figure
}

/// Mean cost against mean unavailability, a point per policy and grid
/// point, each labelled with its grid values: the trade-off a user weighs.
pub fn cost_vs_unavailability(summary: &Table, keys: &[String], scenario: &str) -> Figure {
    let (pc, xc, yc) = (
        summary.col("policy"),
        summary.col("system_unavailable_s_mean"),
        summary.col("cost_usd_mean"),
    );
    let mut chart = Chart {
        x_label: "mean time system services were down after the fault (s)".into(),
        y_label: "mean cost per run (USD)".into(),
        x_from_zero: true,
        ..Chart::default()
    };
    // Points that coincide share one label listing every grid point there.
    let mut labels: Vec<(f64, f64, Vec<String>)> = Vec::new();
    for (i, p) in policies_in(summary).iter().enumerate() {
        let mut s = Series::new(p.clone(), Style::Points, i);
        for r in summary.rows.iter().filter(|r| summary.text(r, pc) == p) {
            if let (Some(x), Some(y)) = (summary.num(r, xc), summary.num(r, yc)) {
                s.points.push((x, y));
                let text = point_of(summary, r, keys).join("/");
                match labels.iter_mut().find(|l| l.0 == x && l.1 == y) {
                    Some(l) if !l.2.contains(&text) => l.2.push(text),
                    Some(_) => {}
                    None => labels.push((x, y, vec![text])),
                }
            }
        }
        chart.series.push(s);
    }
    let mut figure = Figure::single(
        format!("{scenario}: cost versus system unavailability"),
        chart,
    );
    if !keys.is_empty() {
        figure.panels[0].labels = labels
            .into_iter()
            .map(|(x, y, t)| PointLabel {
                x,
                y,
                text: t.join("; "),
            })
            .collect();
        figure.notes.push(format!(
            "Each point is labelled with its grid values: {} (separated by /).",
            keys.join(" / ")
        ));
    }
    figure
}

/// Writes every figure the files in `dir` allow; returns their paths.
pub fn plot_dir(dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
    plot_dir_with(dir, &RunChoice::default())
}

/// Every figure of a results directory by file name, without writing them.
/// A figure with nothing to draw is an error.
pub fn figures(dir: &Path, choice: &RunChoice) -> Result<BTreeMap<String, Figure>, PlotError> {
    let scenario = scenario_name(dir);
    let summary = Table::read(&dir.join("summary.csv"))?;
    let runs = Table::read(&dir.join("runs.csv"))?;
    let mut figures: BTreeMap<String, Figure> = BTreeMap::new();
    let keys = grid_columns(&summary);
    let axes = grid_axes(&summary, &keys);
    if keys.is_empty() {
        figures.insert(
            "deadlock-rate.svg".into(),
            deadlock_rate(&summary, &axes, None, &scenario),
        );
    }
    for (i, k) in keys.iter().enumerate() {
        figures.insert(
            format!("deadlock-rate-vs-{k}.svg"),
            deadlock_rate(&summary, &axes, Some(i), &scenario),
        );
    }
    figures.insert(
        "recovery-cdf.svg".into(),
        recovery_cdf(&runs, &keys, &scenario),
    );
    figures.insert(
        "cost-vs-unavailability.svg".into(),
        cost_vs_unavailability(&summary, &keys, &scenario),
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
        figures.insert(name, timeseries(dir, &ts, run, &runs, &keys, &scenario));
    }
    for (name, figure) in &figures {
        if !figure.has_data() {
            return Err(PlotError::Empty {
                figure: dir.join(name).display().to_string(),
                why: "no row of the results has a value to plot".into(),
            });
        }
    }
    Ok(figures)
}

/// [`plot_dir`], drawing `choice` over time. A choice of policy or seed
/// needs `timeseries.csv` (it would otherwise choose nothing). Writes
/// nothing if any figure would be empty.
pub fn plot_dir_with(dir: &Path, choice: &RunChoice) -> Result<Vec<PathBuf>, PlotError> {
    let series = dir.join("timeseries.csv");
    if (choice.policy.is_some() || choice.seed.is_some()) && !series.exists() {
        return Err(PlotError::Read {
            path: series.display().to_string(),
            message: "not found: --policy and --seed choose the run drawn over time, \
                      which needs this file (poolsim run --timeseries 10s)"
                .into(),
        });
    }
    let mut written = Vec::new();
    for (name, figure) in figures(dir, choice)? {
        let path = dir.join(name);
        std::fs::write(&path, figure.render()).map_err(|source| PlotError::Write {
            path: path.display().to_string(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}
