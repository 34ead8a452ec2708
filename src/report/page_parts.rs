//! Sections of `report.html` that read more than the summary: how the
//! policies differ (from the resolved scenario), the stall causes, and one
//! run in detail with the explanation `poolsim trace` prints.

use std::fmt::Write;
use std::path::Path;

use super::page::cell;
use super::plots::{Table, point_label};
use super::svg::escape;
use super::timeline::RunChoice;
use super::trace::{ObjectKind, TraceFormat, TraceOptions, trace};

/// A TOML value flattened to dotted keys; arrays of tables with a `name`
/// are keyed by it (`pools.system.desired`), as `--set` addresses them.
fn flatten(prefix: &str, v: &toml::Value, out: &mut Vec<(String, String)>) {
    let join = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        toml::Value::Table(t) if !t.is_empty() => {
            for (k, x) in t {
                flatten(&join(k), x, out);
            }
        }
        toml::Value::Array(a) if !a.is_empty() && a.iter().all(|x| x.get("name").is_some()) => {
            for x in a {
                let n = x.get("name").and_then(|n| n.as_str()).unwrap_or("?");
                flatten(&join(n), x, out);
            }
        }
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

/// A policy's settings, flattened to (dotted key, value) pairs.
type Settings = Vec<(String, String)>;

/// Each policy's description and pools, then a table of the settings whose
/// values differ between policies (a dash where a policy has no such key).
pub fn policy_differences(doc: Option<&toml::Table>) -> String {
    let Some(policies) = doc
        .and_then(|d| d.get("policies"))
        .and_then(|p| p.as_array())
    else {
        return "<p class=\"muted\">No scenario.resolved.toml in the directory: policies unknown.</p>\n".into();
    };
    let mut o = String::from("<ul class=\"policies\">\n");
    let flat: Vec<(String, Settings)> = policies.iter().map(|p| policy_item(&mut o, p)).collect();
    o.push_str("</ul>\n");
    if flat.len() >= 2 {
        differences(&mut o, &flat);
    }
    o
}

/// Writes a policy's list item (name, description, pools) and returns its
/// name and settings, less the names and descriptions.
fn policy_item(o: &mut String, p: &toml::Value) -> (String, Settings) {
    let name = p.get("name").and_then(|n| n.as_str()).unwrap_or("?");
    let desc = p.get("description").and_then(|n| n.as_str()).unwrap_or("");
    let pools: Vec<String> = p
        .get("pools")
        .and_then(|x| x.as_array())
        .into_iter()
        .flatten()
        .map(|pool| {
            let g = |k: &str| pool.get(k).map(|v| v.to_string()).unwrap_or_default();
            format!(
                "{} ({} x {})",
                pool.get("name").and_then(|n| n.as_str()).unwrap_or("?"),
                g("desired"),
                g("instance_type").trim_matches('"')
            )
        })
        .collect();
    let _ = writeln!(
        o,
        "<li><b>{}</b>: {} <span class=\"muted\">pools: {}</span></li>",
        escape(name),
        escape(desc),
        escape(&pools.join(", "))
    );
    let mut kv = Vec::new();
    flatten("", p, &mut kv);
    // A named table's `name` is already its key.
    kv.retain(|(k, _)| k != "name" && k != "description" && !k.ends_with(".name"));
    (name.to_string(), kv)
}

/// Writes the table of the settings whose values differ between the
/// policies `flat` (at least two), or says that none do.
fn differences(o: &mut String, flat: &[(String, Settings)]) {
    let mut keys: Vec<String> = Vec::new();
    for (_, kv) in flat {
        for (k, _) in kv {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    // An empty list or table says no more than an absent key.
    let value = |kv: &Settings, k: &str| {
        kv.iter()
            .find(|(x, _)| x == k)
            .map(|(_, v)| v.clone())
            .filter(|v| v != "[]" && v != "{}")
    };
    let differing: Vec<&String> = keys
        .iter()
        .filter(|k| {
            let first = value(&flat[0].1, k);
            flat.iter().any(|(_, kv)| value(kv, k) != first)
        })
        .collect();
    if differing.is_empty() {
        o.push_str("<p>The policies' settings are identical.</p>\n");
        return;
    }
    o.push_str("<table class=\"differences\"><thead><tr><th class=\"name\">setting</th>");
    for (n, _) in flat {
        let _ = write!(o, "<th class=\"name\">{}</th>", escape(n));
    }
    o.push_str("</tr></thead><tbody>\n");
    for k in differing {
        let _ = write!(o, "<tr><td class=\"name\"><code>{}</code></td>", escape(k));
        for (_, kv) in flat {
            let v = value(kv, k).unwrap_or_else(|| "-".into());
            let _ = write!(o, "<td class=\"name\"><code>{}</code></td>", escape(&v));
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</tbody></table>\n");
}

/// Deadlocked runs by stall cause, per grid point and policy; only causes
/// that occur.
pub fn stall_causes(summary: &Table, keys: &[String]) -> String {
    let cols: Vec<&String> = summary
        .header
        .iter()
        .filter(|h| h.starts_with("stall_"))
        .filter(|h| {
            summary
                .rows
                .iter()
                .any(|r| summary.num(r, summary.col(h)).is_some_and(|v| v > 0.0))
        })
        .collect();
    if cols.is_empty() {
        return "<p>No run deadlocked: no stall causes.</p>\n".into();
    }
    let mut o = String::from(
        "<p>The cause diagnosed when each deadlocked run was detected stuck \
         (column <code>stall_cause</code> of runs.csv):</p><ul>",
    );
    for c in &cols {
        let cause = &c["stall_".len()..];
        let meaning = crate::metrics::stall_meaning(cause).unwrap_or("");
        let _ = write!(
            o,
            "<li><code>{}</code>: {}</li>",
            escape(cause),
            escape(meaning)
        );
    }
    o.push_str("</ul><table class=\"stalls\"><thead><tr>");
    for k in keys {
        let _ = write!(o, "<th class=\"name\">{}</th>", escape(k));
    }
    o.push_str("<th class=\"name\">policy</th><th>deadlocks</th>");
    for c in &cols {
        let _ = write!(o, "<th>{}</th>", escape(&c["stall_".len()..]));
    }
    o.push_str("</tr></thead><tbody>\n");
    for (i, r) in summary.rows.iter().enumerate() {
        o.push_str("<tr>");
        for k in keys {
            let _ = write!(
                o,
                "<td class=\"name\">{}</td>",
                escape(summary.text(r, summary.col(k)))
            );
        }
        let _ = write!(
            o,
            "<td class=\"name\">{}</td>{}",
            escape(summary.text(r, summary.col("policy"))),
            cell(summary, i, "deadlocks", "td", "")
        );
        for c in &cols {
            o.push_str(&cell(summary, i, c, "td", ""));
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</tbody></table>\n");
    o
}

/// The run shown in detail: the one `choice` names, else the worst: the
/// deadlocked run down longest, else the run down longest, else the first.
pub fn pick_run(runs: &Table, choice: &RunChoice, keys: &[String]) -> Option<usize> {
    if choice.policy.is_some() || choice.seed.is_some() {
        return runs
            .rows
            .iter()
            .position(|r| choice.matches(runs, r, |k| keys.iter().any(|s| s == k)));
    }
    let down = |i: usize| {
        runs.num(&runs.rows[i], runs.col("system_unavailable_s"))
            .unwrap_or(f64::NEG_INFINITY)
    };
    let deadlocked = |i: usize| runs.text(&runs.rows[i], runs.col("deadlocked")) == "true";
    let mut best: Option<usize> = None;
    for i in 0..runs.rows.len() {
        best = match best {
            None => Some(i),
            Some(b) if (deadlocked(i), down(i)) > (deadlocked(b), down(b)) => Some(i),
            keep => keep,
        };
    }
    best
}

/// The chosen run's `runs.csv` row as a table.
pub fn run_section(
    _dir: &Path,
    runs: &Table,
    run: usize,
    keys: &[String],
    choice: &RunChoice,
) -> String {
    let r = &runs.rows[run];
    let why = if choice.policy.is_some() || choice.seed.is_some() {
        "the run asked for"
    } else {
        "the worst run: deadlocked if any run did, and down longest"
    };
    let values: Vec<String> = keys
        .iter()
        .map(|k| runs.text(r, runs.col(k)).to_string())
        .collect();
    let mut o = format!(
        "<p>Policy <b>{}</b>, seed <b>{}</b>{} ({why}; choose another with \
         <code>poolsim report DIR --policy P --seed S</code>).</p>\n<table class=\"run\"><tbody>",
        escape(runs.text(r, runs.col("policy"))),
        escape(runs.text(r, runs.col("seed"))),
        if keys.is_empty() {
            String::new()
        } else {
            format!(" at {}", escape(&point_label(keys, &values)))
        }
    );
    for (h, v) in runs.header.iter().zip(r) {
        let _ = write!(
            o,
            "<tr><th class=\"name\">{}</th><td class=\"name\">{}</td></tr>",
            escape(h),
            escape(v)
        );
    }
    o.push_str("</tbody></table>\n");
    o
}

/// The run's faults, service changes and stuck instant, then the
/// explanation of the state at the horizon, as `poolsim trace --only
/// faults,services,cluster` prints them for the resolved scenario.
pub fn trace_section(dir: &Path, runs: &Table, run: usize, keys: &[String]) -> String {
    let r = &runs.rows[run];
    let policy = runs.text(r, runs.col("policy"));
    let seed = runs.text(r, runs.col("seed"));
    let set: Vec<String> = keys
        .iter()
        .map(|k| format!("{k}={}", runs.text(r, runs.col(k))))
        .collect();
    let command = format!(
        "poolsim trace {}/scenario.resolved.toml --policy {policy} --seed {seed}{} --only faults,services,cluster",
        dir.display(),
        set.iter()
            .map(|s| format!(" --set {s}"))
            .collect::<String>()
    );
    let text = (|| -> Result<String, String> {
        let base = crate::Scenario::load(&dir.join("scenario.resolved.toml"))
            .map_err(|e| e.to_string())?;
        let point = crate::sweep::grid_point(&base, &set, None).map_err(|e| e.to_string())?;
        let seed: u64 = seed.parse().map_err(|_| format!("seed `{seed}`"))?;
        let opts = TraceOptions {
            only: vec![
                ObjectKind::Faults,
                ObjectKind::Services,
                ObjectKind::Cluster,
            ],
            from: None,
            to: None,
            format: TraceFormat::Text,
        };
        let mut buf = Vec::new();
        trace(&point.scenario, policy, seed, &opts, &mut buf).map_err(|e| e.to_string())?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    })();
    match text {
        Ok(t) => format!(
            "<h3>Timeline and explanation</h3>\n<p>From <code>{}</code>:</p>\n<pre class=\"trace\">{}</pre>\n",
            escape(&command),
            escape(&t)
        ),
        Err(e) => format!(
            "<p class=\"muted\">No trace: {} (run <code>{}</code> by hand).</p>\n",
            escape(&e),
            escape(&command)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_settings_that_differ_are_listed() {
        let doc: toml::Table = r#"
[[policies]]
name = "a"
pools = [{ name = "w", instance_type = "m5.xlarge", desired = 20 }]
[[policies]]
name = "b"
pools = [{ name = "w", instance_type = "m5.xlarge", desired = 16 }]
"#
        .parse()
        .unwrap();
        let html = policy_differences(Some(&doc));
        assert!(html.contains("<code>pools.w.desired</code></td><td class=\"name\"><code>20</code></td><td class=\"name\"><code>16</code>"), "{html}");
        assert!(!html.contains("<code>pools.w.instance_type</code>"));
    }

    #[test]
    fn the_worst_run_is_the_deadlocked_one_down_longest() {
        let t = Table {
            header: ["policy", "seed", "deadlocked", "system_unavailable_s"]
                .map(String::from)
                .to_vec(),
            rows: vec![
                ["a", "1", "false", "9000"].map(String::from).to_vec(),
                ["a", "2", "true", "100"].map(String::from).to_vec(),
                ["b", "2", "true", "200"].map(String::from).to_vec(),
                ["b", "3", "true", "150"].map(String::from).to_vec(),
            ],
        };
        assert_eq!(pick_run(&t, &RunChoice::default(), &[]), Some(2));
        let asked = RunChoice {
            policy: Some("a".into()),
            seed: Some(2),
            grid: Vec::new(),
        };
        assert_eq!(pick_run(&t, &asked, &[]), Some(1));
    }
}
