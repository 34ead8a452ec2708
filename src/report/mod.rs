//! What people look at: the console table of a sweep's summary, the
//! description `validate` prints (with every workload's effective placement
//! per policy, `placement.rs`), SVG figures drawn from result CSVs, and
//! one run's trace (`trace.rs`), and `report.html` (`page.rs`).

pub mod axis;
mod describe;
pub mod figure;
pub mod page;
mod page_parts;
mod placement;
pub mod plots;
pub mod svg;
pub mod timeline;
pub mod trace;

pub use describe::{describe, describe_grid};
pub use page::{ReportError, write_report};
pub use plots::{PlotError, plot_dir, plot_dir_with};
pub use timeline::RunChoice;
pub use trace::{ObjectKind, TraceError, TraceFormat, TraceOptions, trace};

use crate::metrics::SummaryRow;

/// A fixed-width table of the headline figures per policy.
pub fn summary_table(rows: &[SummaryRow]) -> String {
    let mut out = format!(
        "{:<24} {:>6} {:>8} {:>22} {:>20} {:>12}\n",
        "policy", "runs", "deadlock", "(95% interval)", "recovery p50/p95 s", "cost $ mean"
    );
    let mut point: Option<&[(String, String)]> = None;
    for r in rows {
        if !r.params.is_empty() && point != Some(r.params.as_slice()) {
            let values: Vec<String> = r.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push_str(&format!("{}\n", values.join(" ")));
            point = Some(r.params.as_slice());
        }
        let g = |c: &str| r.get(c).unwrap_or(f64::NAN);
        let num = |v: f64| {
            if v.is_nan() {
                "-".to_string()
            } else {
                format!("{v:.0}")
            }
        };
        out.push_str(&format!(
            "{:<24} {:>6} {:>8.3} {:>22} {:>20} {:>12.2}\n",
            r.policy,
            r.runs,
            g("deadlock_rate"),
            format!(
                "[{:.3}, {:.3}]",
                g("deadlock_rate_lo"),
                g("deadlock_rate_hi")
            ),
            format!(
                "{} / {}",
                num(g("system_recovery_s_p50")),
                num(g("system_recovery_s_p95"))
            ),
            g("cost_usd_mean"),
        ));
    }
    out
}
