//! `poolsim report DIR`: one self-contained `report.html` from a results
//! directory: the scenario and how its policies differ, the summary table
//! with intervals and paired differences, the figures (inline SVG), the
//! stall causes, a per-grid-point view of a sweep, and one run (chosen, or
//! the worst) with its timeline and the explanation `poolsim trace`
//! prints. Inline CSS, no script, no network.
//!
//! Every number drawn from `summary.csv` is an element with `data-row` (its
//! row in `summary.csv`, from 0), `data-col` (the column) and `data-value`
//! (the cell as written), so a reader (or the browser check in `.ci/`) can
//! compare the page with the file.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use super::figure::Figure;
use super::page_parts::{policy_differences, run_section, stall_causes};
use super::plots::{PlotError, Table, figures, grid_columns, policies_in, scenario_name};
use super::svg::escape;
use super::timeline::RunChoice;

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A results file is missing or unreadable, or a figure is empty.
    #[error(transparent)]
    Plot(#[from] PlotError),
    /// No run matches `--policy`/`--seed`.
    #[error("{dir}/runs.csv: no run matches the requested --policy / --seed")]
    NoSuchRun {
        /// The results directory.
        dir: String,
    },
    /// The page could not be written.
    #[error("{path}: {source}")]
    Write {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
}

const CSS: &str = "body{font-family:Helvetica,Arial,sans-serif;margin:0 auto;max-width:1100px;padding:0 16px 40px;color:#222;line-height:1.4}
h1{font-size:1.6em;margin:.8em 0 .2em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}th,td{border:1px solid #ddd;padding:3px 7px;text-align:right;vertical-align:top}
th{background:#f4f4f4}td.name,th.name{text-align:left}tr.point td{background:#fafafa;text-align:left;font-weight:bold}
.ci{color:#666;font-size:.85em;white-space:nowrap}.muted{color:#666}
figure{margin:1em 0}figure svg{max-width:100%;height:auto;border:1px solid #eee}figcaption{color:#555;font-size:.9em}
pre{background:#f7f7f7;border:1px solid #ddd;padding:8px;overflow:auto;max-height:480px;font-size:.8em}
nav a{margin-right:1em}";

/// Formats a number for reading: three significant decimals below 10, one
/// below 100, none above.
pub fn fmt_num(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 || (v == v.trunc() && a < 1e15) {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// A `summary.csv` cell as a checkable element: `tag` with `data-row`,
/// `data-col`, `data-value` and the rounded value (or `-` when empty).
pub fn cell(summary: &Table, row: usize, col: &str, tag: &str, class: &str) -> String {
    let raw = summary
        .rows
        .get(row)
        .map(|r| summary.text(r, summary.col(col)))
        .unwrap_or("");
    let shown = raw.parse::<f64>().map(fmt_num).unwrap_or_else(|_| {
        if raw.is_empty() {
            "-".into()
        } else {
            escape(raw)
        }
    });
    let class = if class.is_empty() {
        String::new()
    } else {
        format!(r#" class="{class}""#)
    };
    format!(
        r#"<{tag}{class} data-row="{row}" data-col="{}" data-value="{}">{shown}</{tag}>"#,
        escape(col),
        escape(raw)
    )
}

/// A mean and its interval: `mean [lo, hi]`, each a checkable element.
fn with_interval(summary: &Table, row: usize, mean: &str, lo: &str, hi: &str) -> String {
    format!(
        r#"<td>{}<br><span class="ci">[{}, {}]</span></td>"#,
        cell(summary, row, mean, "span", ""),
        cell(summary, row, lo, "span", ""),
        cell(summary, row, hi, "span", "")
    )
}

/// The summary table: per grid point and policy, the headline figures with
/// their 95% intervals, and the paired differences with the baseline.
fn summary_table(summary: &Table, keys: &[String]) -> String {
    let base = summary
        .rows
        .first()
        .map(|r| summary.text(r, summary.col("baseline")).to_string())
        .unwrap_or_default();
    let mut o = summary_head(&base);
    let mut point: Option<Vec<String>> = None;
    for (i, r) in summary.rows.iter().enumerate() {
        let values: Vec<String> = keys
            .iter()
            .map(|k| summary.text(r, summary.col(k)).to_string())
            .collect();
        if !keys.is_empty() && point.as_ref() != Some(&values) {
            let _ = writeln!(
                o,
                r#"<tr class="point"><td colspan="11">{}</td></tr>"#,
                escape(&super::plots::point_label(keys, &values))
            );
            point = Some(values);
        }
        summary_row(&mut o, summary, i, &base);
    }
    o.push_str("</tbody></table>\n");
    o
}

/// What the summary table shows, and its header, with the paired
/// differences against the `base` policy.
fn summary_head(base: &str) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "<p>Means with Student-t 95% intervals, the deadlock rate with its Wilson 95% interval. \
         <em>vs {}</em>: the mean paired difference (same seed) with its 95% interval; \
         negative is fewer deadlocks, less downtime, lower cost.</p>",
        escape(base)
    );
    o.push_str(
        "<table class=\"summary\"><thead><tr><th class=\"name\">policy</th><th>runs</th><th>failed</th>\
         <th>deadlock rate</th><th>recovery p50 / p95 (s)</th><th>unavailable (s)</th>\
         <th>user work done</th><th>cost (USD)</th>",
    );
    let _ = write!(
        o,
        "<th>deadlocked vs {b}</th><th>unavailable vs {b} (s)</th><th>cost vs {b} (USD)</th></tr></thead><tbody>",
        b = escape(base)
    );
    o
}

/// Row `i` of `summary.csv` as a table row: each cell carries its row,
/// column and value; the baseline policy `base` has no differences.
fn summary_row(o: &mut String, summary: &Table, i: usize, base: &str) {
    let r = &summary.rows[i];
    let pc = summary.col("policy");
    let _ = write!(
        o,
        r#"<tr data-row="{i}"><td class="name">{}</td>{}{}"#,
        escape(summary.text(r, pc)),
        cell(summary, i, "runs", "td", ""),
        cell(summary, i, "failed", "td", "")
    );
    o.push_str(&with_interval(
        summary,
        i,
        "deadlock_rate",
        "deadlock_rate_lo",
        "deadlock_rate_hi",
    ));
    let _ = write!(
        o,
        "<td>{} / {}</td>",
        cell(summary, i, "system_recovery_s_p50", "span", ""),
        cell(summary, i, "system_recovery_s_p95", "span", "")
    );
    for m in ["system_unavailable_s", "user_work_done_frac", "cost_usd"] {
        o.push_str(&with_interval(
            summary,
            i,
            &format!("{m}_mean"),
            &format!("{m}_mean_lo"),
            &format!("{m}_mean_hi"),
        ));
    }
    for d in ["deadlocked", "system_unavailable_s", "cost_usd"] {
        if summary.text(r, pc) == base {
            o.push_str(r#"<td class="muted">baseline</td>"#);
        } else {
            o.push_str(&with_interval(
                summary,
                i,
                &format!("{d}_diff_mean"),
                &format!("{d}_diff_lo"),
                &format!("{d}_diff_hi"),
            ));
        }
    }
    o.push_str("</tr>\n");
}

/// A sweep at a glance: a row per grid point, a column per policy with its
/// deadlock rate and mean cost.
fn grid_view(summary: &Table, keys: &[String]) -> String {
    let policies = policies_in(summary);
    let pc = summary.col("policy");
    let mut o = String::from(
        "<p>Each cell: deadlock rate (Wilson 95% interval) and mean cost per run in USD.</p>\
         <table class=\"grid\"><thead><tr>",
    );
    for k in keys {
        let _ = write!(o, r#"<th class="name">{}</th>"#, escape(k));
    }
    for p in &policies {
        let _ = write!(o, "<th>{}</th>", escape(p));
    }
    o.push_str("</tr></thead><tbody>\n");
    let mut seen: Vec<Vec<String>> = Vec::new();
    for r in &summary.rows {
        let values: Vec<String> = keys
            .iter()
            .map(|k| summary.text(r, summary.col(k)).to_string())
            .collect();
        if seen.contains(&values) {
            continue;
        }
        o.push_str("<tr>");
        for v in &values {
            let _ = write!(o, r#"<td class="name">{}</td>"#, escape(v));
        }
        for p in &policies {
            let row = summary.rows.iter().position(|s| {
                summary.text(s, pc) == p
                    && keys
                        .iter()
                        .zip(&values)
                        .all(|(k, v)| summary.text(s, summary.col(k)) == v)
            });
            match row {
                Some(i) => {
                    let _ = write!(
                        o,
                        r#"<td>{} <span class="ci">[{}, {}]</span><br>${}</td>"#,
                        cell(summary, i, "deadlock_rate", "span", ""),
                        cell(summary, i, "deadlock_rate_lo", "span", ""),
                        cell(summary, i, "deadlock_rate_hi", "span", ""),
                        cell(summary, i, "cost_usd_mean", "span", "")
                    );
                }
                None => o.push_str(r#"<td class="muted">-</td>"#),
            }
        }
        o.push_str("</tr>\n");
        seen.push(values);
    }
    o.push_str("</tbody></table>\n");
    o
}

fn resolved(dir: &Path) -> Option<toml::Table> {
    ["scenario.resolved.toml", "scenario.toml"]
        .iter()
        .find_map(|f| std::fs::read_to_string(dir.join(f)).ok())
        .and_then(|t| t.parse().ok())
}

/// The page for the results in `dir`, with `choice` (or the worst run) as
/// the run shown in detail.
pub fn report_html(dir: &Path, choice: &RunChoice) -> Result<String, ReportError> {
    let summary = Table::read(&dir.join("summary.csv"))?;
    let runs = Table::read(&dir.join("runs.csv"))?;
    let keys = grid_columns(&summary);
    let doc = resolved(dir);
    let run = super::page_parts::pick_run(&runs, choice, &keys).ok_or_else(|| {
        ReportError::NoSuchRun {
            dir: dir.display().to_string(),
        }
    })?;
    let figs = figures(dir, &shown_run(&runs, run, &keys))?;
    let mut o = page_head(dir, doc.as_ref(), &summary, runs.rows.len(), &keys);
    o.push_str("<h2 id=\"policies\">Policies and what differs</h2>\n");
    o.push_str(&policy_differences(doc.as_ref()));
    o.push_str("<h2 id=\"summary\">Summary</h2>\n");
    o.push_str(&summary_table(&summary, &keys));
    if !keys.is_empty() {
        o.push_str("<h2 id=\"grid\">Grid points</h2>\n");
        o.push_str(&grid_view(&summary, &keys));
    }
    o.push_str("<h2 id=\"figures\">Figures</h2>\n");
    let timeline = figs.keys().find(|k| k.starts_with("timeseries-")).cloned();
    for (file, fig) in &figs {
        if Some(file) != timeline.as_ref() {
            push_figure(&mut o, file, fig);
        }
    }
    o.push_str("<h2 id=\"stalls\">Stall causes</h2>\n");
    o.push_str(&stall_causes(&summary, &keys));
    o.push_str("<h2 id=\"run\">One run</h2>\n");
    o.push_str(&run_section(dir, &runs, run, &keys, choice));
    if let Some(file) = timeline
        && let Some(fig) = figs.get(&file)
    {
        push_figure(&mut o, &file, fig);
    }
    o.push_str(&super::page_parts::trace_section(dir, &runs, run, &keys));
    o.push_str("</body></html>\n");
    Ok(o)
}

/// The run at row `run` of `runs.csv` as a choice: its policy, seed and
/// grid values (the figures draw its timeline).
fn shown_run(runs: &Table, run: usize, keys: &[String]) -> RunChoice {
    let row = &runs.rows[run];
    RunChoice {
        policy: Some(runs.text(row, runs.col("policy")).to_string()),
        seed: runs.text(row, runs.col("seed")).parse().ok(),
        grid: keys
            .iter()
            .map(|k| (k.clone(), runs.text(row, runs.col(k)).to_string()))
            .collect(),
    }
}

/// The page's head, title, description, provenance line and navigation.
fn page_head(
    dir: &Path,
    doc: Option<&toml::Table>,
    summary: &Table,
    runs: usize,
    keys: &[String],
) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>poolsim report: {n}</title><style>{CSS}</style></head><body>\n\
         <h1>poolsim report: {n}</h1>\n",
        n = escape(&scenario_name(dir))
    );
    if let Some(d) = doc
        .and_then(|d| d.get("description"))
        .and_then(|d| d.as_str())
    {
        let _ = writeln!(o, "<p class=\"description\">{}</p>", escape(d));
    }
    let _ = writeln!(
        o,
        "<p class=\"muted\">From <code>{}</code>: {} runs, {} policies{}. Written by poolsim {}.</p>",
        escape(&dir.display().to_string()),
        runs,
        policies_in(summary).len(),
        if keys.is_empty() {
            String::new()
        } else {
            format!(", swept over {}", escape(&keys.join(", ")))
        },
        env!("CARGO_PKG_VERSION")
    );
    o.push_str("<nav><a href=\"#policies\">Policies</a><a href=\"#summary\">Summary</a>");
    if !keys.is_empty() {
        o.push_str("<a href=\"#grid\">Grid points</a>");
    }
    o.push_str("<a href=\"#figures\">Figures</a><a href=\"#stalls\">Stall causes</a><a href=\"#run\">One run</a></nav>\n");
    o
}

/// Appends figure `fig`, drawn inline, captioned with its file name.
fn push_figure(o: &mut String, file: &str, fig: &Figure) {
    let _ = writeln!(
        o,
        "<figure data-file=\"{f}\">{}<figcaption>{f}</figcaption></figure>",
        fig.render(),
        f = escape(file)
    );
}

/// Writes `report.html` into `dir`; returns its path.
pub fn write_report(dir: &Path, choice: &RunChoice) -> Result<PathBuf, ReportError> {
    let html = report_html(dir, choice)?;
    let path = dir.join("report.html");
    let tmp = dir.join("report.html.tmp");
    std::fs::write(&tmp, html)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|source| ReportError::Write {
            path: path.display().to_string(),
            source,
        })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_rounded_for_reading() {
        assert_eq!(fmt_num(0.285), "0.285");
        assert_eq!(fmt_num(126.918811), "127");
        assert_eq!(fmt_num(-15.33), "-15.3");
        assert_eq!(fmt_num(57.0), "57");
    }

    #[test]
    fn a_cell_keeps_the_csv_value_beside_the_rounded_one() {
        let t = Table {
            header: vec!["policy".into(), "deadlock_rate".into(), "x".into()],
            rows: vec![vec!["a".into(), "0.285000".into(), String::new()]],
        };
        assert_eq!(
            cell(&t, 0, "deadlock_rate", "td", ""),
            r#"<td data-row="0" data-col="deadlock_rate" data-value="0.285000">0.285</td>"#
        );
        assert_eq!(
            cell(&t, 0, "x", "span", ""),
            r#"<span data-row="0" data-col="x" data-value="">-</span>"#
        );
    }
}
