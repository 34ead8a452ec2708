//! `summary.csv` from `runs.csv`: the rows as written are the one source of
//! the statistics, so a sweep, a resumed sweep and merged shards summarise
//! identically. Only a few numbers per run are kept in memory.

use std::path::Path;

use crate::metrics::{FigureColumns, RunFigures, SummaryRow, summarise};

use super::SweepError;

/// The runs of one grid point, grouped by policy in order of appearance.
struct Point {
    labels: Vec<String>,
    policies: Vec<(String, Vec<RunFigures>)>,
}

/// Reads `runs.csv` and summarises each (grid point, policy), with paired
/// differences against `baseline`.
pub fn summarise_file(path: &Path, baseline: &str) -> Result<Vec<SummaryRow>, SweepError> {
    let bad = |m: String| SweepError::Corrupt {
        path: path.display().to_string(),
        message: m,
    };
    let mut rdr = csv::Reader::from_path(path).map_err(|e| bad(e.to_string()))?;
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| bad(e.to_string()))?
        .iter()
        .map(str::to_string)
        .collect();
    let names: Vec<&str> = header.iter().map(|s| s.as_str()).collect();
    let columns = FigureColumns::new(&names).map_err(bad)?;
    // Swept values sit between `seed` and `status`.
    let status = names.iter().position(|h| *h == "status").unwrap_or(2);
    let params: Vec<String> = header[2.min(status)..status].to_vec();
    let mut points: Vec<Point> = Vec::new();
    for (line, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| bad(e.to_string()))?;
        let cells: Vec<&str> = rec.iter().collect();
        let figures = columns
            .read(&cells)
            .map_err(|m| bad(format!("row {}: {m}", line + 2)))?;
        let labels: Vec<String> = cells[2.min(status)..status.min(cells.len())]
            .iter()
            .map(|s| s.to_string())
            .collect();
        if points.last().is_none_or(|p| p.labels != labels) {
            points.push(Point {
                labels,
                policies: Vec::new(),
            });
        }
        let Some(point) = points.last_mut() else {
            continue;
        };
        let policy = cells.first().copied().unwrap_or("");
        match point.policies.iter_mut().find(|(p, _)| p == policy) {
            Some((_, v)) => v.push(figures),
            None => point.policies.push((policy.to_string(), vec![figures])),
        }
    }
    let mut out = Vec::new();
    for p in &points {
        let base = p
            .policies
            .iter()
            .find(|(name, _)| name == baseline)
            .map(|(_, v)| v.as_slice());
        for (name, runs) in &p.policies {
            let params = params
                .iter()
                .cloned()
                .zip(p.labels.iter().cloned())
                .collect();
            let against = if name == baseline { None } else { base };
            out.push(summarise(params, name, runs, (baseline, against)));
        }
    }
    Ok(out)
}
