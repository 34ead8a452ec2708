//! Observing runs and summarising them: the per-run recorder that integrates
//! the cluster's counters over time, the CSV rows, and the statistics
//! (Wilson and Student intervals, percentiles) of the summary.
//!
//! Metrics read plain counters ([`Gauges`]); they know nothing of how the
//! model produced them.

mod figures;
mod recorder;
pub mod stats;
mod summary;
mod timeseries;

pub use figures::{FigureColumns, RunFigures, STALL_CAUSES, paired_differences, stall_meaning};
pub use recorder::{Gauges, RunOutcome, RunRecorder};
pub use summary::{RunRow, RunStatus, SummaryRow, summarise};
pub use timeseries::{Sample, TimeSeries};
