//! One run over time (`timeseries-<policy>-seed<S>.svg`): ready nodes per
//! pool, pending system pods and user-side pods in three stacked panels on
//! one time axis (so the few pending system pods are not flattened by a
//! scale of hundreds), with every fault and its end marked.

use std::path::Path;

use super::figure::Figure;
use super::plots::{Table, point_label};
use super::svg::{Chart, Marker, Series, Style};
use crate::quantity::parse_duration;

/// The run `poolsim plot` draws over time.
#[derive(Debug, Clone, Default)]
pub struct RunChoice {
    /// Policy name.
    pub policy: Option<String>,
    /// Seed.
    pub seed: Option<u64>,
    /// Grid values (swept key, value) the run must have; empty for any.
    pub grid: Vec<(String, String)>,
}

impl RunChoice {
    /// Whether `row` of `runs.csv` is this run: its policy and seed where
    /// given, and its value of each grid key that `swept` keeps.
    pub fn matches(&self, runs: &Table, row: &[String], swept: impl Fn(&str) -> bool) -> bool {
        self.policy
            .as_deref()
            .is_none_or(|p| runs.text(row, runs.col("policy")) == p)
            && self
                .seed
                .is_none_or(|s| runs.text(row, runs.col("seed")) == s.to_string())
            && self
                .grid
                .iter()
                .filter(|(k, _)| swept(k))
                .all(|(k, v)| runs.text(row, runs.col(k)) == v)
    }
}

/// Which run to draw over time: the given one, else the first deadlocked
/// run, else the first run. Returns the runs.csv row.
pub fn chosen_run<'a>(runs: &'a Table, choice: &RunChoice) -> Option<&'a Vec<String>> {
    if choice.policy.is_some() || choice.seed.is_some() {
        return runs.rows.iter().find(|r| choice.matches(runs, r, |_| true));
    }
    let dc = runs.col("deadlocked");
    runs.rows
        .iter()
        .find(|r| runs.text(r, dc) == "true")
        .or_else(|| runs.rows.first())
}

/// A fault's instants worth marking: its strike (or the start of its random
/// process) and its end where it has one.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultMark {
    /// Seconds from the start of the run.
    pub t_s: f64,
    /// What happens then.
    pub label: String,
}

fn field<'a>(f: &'a toml::Value, key: &str, over: &'a [(String, String)]) -> Option<&'a str> {
    over.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .or_else(|| f.get(key)?.as_str())
}

fn seconds(v: Option<&str>) -> Option<f64> {
    v.and_then(|t| parse_duration(t).ok())
        .map(|d| d.as_secs_f64())
}

/// The marks of the faults in the scenario saved with the results, with the
/// run's swept `faults.<index>.<key>` values applied. Random processes
/// (`every`) are marked where they start and stop, not at each strike.
pub fn fault_marks(dir: &Path, grid: &[(String, String)]) -> Vec<FaultMark> {
    let mut out = Vec::new();
    let Some(doc) = ["scenario.resolved.toml", "scenario.toml"]
        .iter()
        .find_map(|f| std::fs::read_to_string(dir.join(f)).ok())
        .and_then(|t| t.parse::<toml::Table>().ok())
    else {
        return out;
    };
    let faults = doc.get("faults").and_then(|f| f.as_array());
    for (i, f) in faults.into_iter().flatten().enumerate() {
        let prefix = format!("faults.{i}.");
        let over: Vec<(String, String)> = grid
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(&prefix)?.to_string(), v.clone())))
            .collect();
        let kind = field(f, "kind", &over).unwrap_or("fault").to_string();
        let at = seconds(field(f, "at", &over)).unwrap_or(0.0);
        let scope = match (field(f, "zone", &over), field(f, "pool", &over)) {
            (Some(z), _) => format!(" {z}"),
            (None, Some(p)) => format!(" {p}"),
            _ => String::new(),
        };
        let random = f.get("every").is_some();
        let start = if random {
            format!("{kind}{scope} starts")
        } else {
            format!("{kind}{scope}")
        };
        out.push(FaultMark {
            t_s: at,
            label: start,
        });
        let end = if kind == "zone_outage" {
            let back = match scope.trim() {
                "" => "zone back".to_string(),
                zone => format!("{zone} back"),
            };
            seconds(field(f, "duration", &over)).map(|d| (at + d, back))
        } else if random {
            seconds(field(f, "until", &over)).map(|u| (u, format!("{kind}{scope} stops")))
        } else {
            seconds(field(f, "over", &over))
                .filter(|o| *o > 0.0)
                .map(|o| (at + o, format!("{kind}{scope} ends")))
        };
        if let Some((t_s, label)) = end {
            out.push(FaultMark { t_s, label });
        }
    }
    out
}

/// A series of the timeline: its `timeseries.csv` column, its legend, and
/// whether it is dashed.
type Column = (String, String, bool);

/// One run over time in three panels: ready nodes per pool; pending system
/// pods; pending user pods and stalled pods. Every panel carries the fault
/// marks on the same time axis.
pub fn timeseries(
    dir: &Path,
    ts: &Table,
    run: &[String],
    runs: &Table,
    keys: &[String],
    scenario: &str,
) -> Figure {
    let policy = runs.text(run, runs.col("policy")).to_string();
    let seed = runs.text(run, runs.col("seed")).to_string();
    let grid: Vec<(String, String)> = keys
        .iter()
        .map(|k| (k.clone(), runs.text(run, runs.col(k)).to_string()))
        .collect();
    let key: Vec<(Option<usize>, String)> = [("policy", &policy), ("seed", &seed)]
        .iter()
        .map(|(c, v)| (ts.col(c), v.to_string()))
        .chain(grid.iter().map(|(k, v)| (ts.col(k), v.clone())))
        .collect();
    let rows: Vec<&Vec<String>> = ts
        .rows
        .iter()
        .filter(|r| key.iter().all(|(c, v)| ts.text(r, *c) == v))
        .collect();
    let values: Vec<String> = grid.iter().map(|(_, v)| v.clone()).collect();
    let label = point_label(keys, &values);
    let marks = fault_marks(dir, &grid);
    let mut figure = Figure {
        title: format!(
            "{scenario}: {policy}, seed {seed}{}",
            if label.is_empty() {
                String::new()
            } else {
                format!(" ({label})")
            }
        ),
        columns: 1,
        panel_height: 210.0,
        ..Figure::default()
    };
    if marks.is_empty() {
        figure.notes.push("No fault in the scenario.".into());
    } else {
        figure.notes.push(
            "Dashed red lines: each fault and its end (random processes: start and stop).".into(),
        );
    }
    let mut colour = 0;
    for (title, unit, columns) in panels(ts, &rows) {
        let mut chart = Chart {
            title: title.into(),
            x_label: "time (min)".into(),
            y_label: unit.into(),
            x_from_zero: true,
            markers: marks
                .iter()
                .map(|m| Marker {
                    label: m.label.clone(),
                    x: m.t_s / 60.0,
                })
                .collect(),
            ..Chart::default()
        };
        let tc = ts.col("t_s");
        for (col, name, dashed) in columns {
            let c = ts.col(&col);
            let mut s = Series::new(name, Style::Step, colour);
            colour += 1;
            s.dashed = dashed;
            s.points = rows
                .iter()
                .filter_map(|r| Some((ts.num(r, tc)? / 60.0, ts.num(r, c)?)))
                .collect();
            chart.series.push(s);
        }
        figure.panels.push(chart);
    }
    share_time_axis(&mut figure);
    figure
}

/// The three panels (title, unit, series): ready nodes of every pool the
/// run's rows have, pending system pods, pending and stalled user pods.
fn panels(ts: &Table, rows: &[&Vec<String>]) -> [(&'static str, &'static str, Vec<Column>); 3] {
    let pools: Vec<Column> = ts
        .header
        .iter()
        .filter(|h| h.starts_with("ready_nodes."))
        .filter(|h| rows.iter().any(|r| !ts.text(r, ts.col(h)).is_empty()))
        .map(|h| {
            let pool = &h["ready_nodes.".len()..];
            (h.clone(), format!("ready nodes: {pool}"), false)
        })
        .collect();
    [
        ("ready nodes per pool", "nodes", pools),
        (
            "pending system pods (the key signal)",
            "pods",
            vec![("pending_system".into(), "pending system pods".into(), false)],
        ),
        (
            "user pods",
            "pods",
            vec![
                ("pending_user".into(), "pending user pods".into(), false),
                ("stalled".into(), "stalled pods".into(), true),
            ],
        ),
    ]
}

/// One time axis for all panels: the union of their extents, from zero.
fn share_time_axis(figure: &mut Figure) {
    let extent = figure.panels.iter().filter_map(Chart::x_extent).fold(
        None,
        |acc: Option<(f64, f64)>, (lo, hi)| {
            Some(acc.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))))
        },
    );
    if let Some((lo, hi)) = extent {
        let lo = lo.min(0.0);
        for p in &mut figure.panels {
            p.x_range = Some((lo, hi + (hi - lo) * 0.02));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fault_and_its_end_is_marked_with_swept_values_applied() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("scenario.resolved.toml"),
            r#"
name = "x"
[[faults]]
kind = "zone_outage"
at = "30m"
zone = "us-east-1a"
duration = "1h"
[[faults]]
kind = "spot_interruption"
at = "10m"
until = "50m"
every = { dist = "exponential", mean = "5m" }
[[faults]]
kind = "terminate_all"
at = "1h"
"#,
        )
        .unwrap();
        let marks = fault_marks(dir.path(), &[("faults.2.at".into(), "90m".into())]);
        let got: Vec<(f64, &str)> = marks.iter().map(|m| (m.t_s, m.label.as_str())).collect();
        assert_eq!(
            got,
            [
                (1800.0, "zone_outage us-east-1a"),
                (5400.0, "us-east-1a back"),
                (600.0, "spot_interruption starts"),
                (3000.0, "spot_interruption stops"),
                (5400.0, "terminate_all"),
            ]
        );
    }
}
