//! Running planned runs on a rayon pool and handing their rendered rows to
//! one writer in plan order.
//!
//! Workers take the next run number from a shared counter, so runs start in
//! plan order and finished rows wait in the reorder buffer only while an
//! earlier run is still going: memory stays flat in the number of runs.

use std::collections::BTreeMap;
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use crate::engine::{RunLimits, Stop};
use crate::metrics::{RunRow, TimeSeries};
use crate::sim::{run_limited, stopped_row};

use std::borrow::Cow;

use crate::scenario::Scenario;

use super::plan::{Plan, RunKey};
use super::progress::{stop_flag, stop_requested};
use super::{SweepError, csv_line};

/// The environment variable of the test hook that makes every run of one
/// seed panic (to test that a failed run becomes a row and the sweep goes on).
pub const TEST_PANIC_SEED: &str = "POOLSIM_TEST_PANIC_SEED";

/// The environment variable of the test hook that makes every run take at
/// least this many more milliseconds of wall time, so that a test can kill
/// a sweep midway whatever the speed of the machine.
pub const TEST_SLOW_MS: &str = "POOLSIM_TEST_SLOW_MS";

/// One run's output, as CSV bytes.
pub(crate) struct Rendered {
    /// Its `runs.csv` line.
    pub run: Vec<u8>,
    /// Its `timeseries.csv` lines (empty without `--timeseries`).
    pub series: Vec<u8>,
}

/// Runs `todo` with `threads` workers (all cores when `None`) and gives
/// each run's output to `sink` in plan order. Returns the end of the
/// contiguous prefix written: `todo.end` unless Ctrl-C stopped the sweep or
/// `sink` failed.
pub(crate) fn execute(
    plan: &Plan,
    todo: Range<usize>,
    threads: Option<usize>,
    mut sink: impl FnMut(Rendered) -> Result<(), SweepError>,
) -> Result<usize, SweepError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
        .map_err(|e| SweepError::BadOption(format!("cannot start threads: {e}")))?;
    let panic_seed: Option<u64> = std::env::var(TEST_PANIC_SEED)
        .ok()
        .and_then(|s| s.parse().ok());
    let slow = std::env::var(TEST_SLOW_MS)
        .ok()
        .and_then(|s| s.parse().ok())
        .map(std::time::Duration::from_millis);
    let pools = plan.pool_names();
    let next = AtomicUsize::new(todo.start);
    let abort = AtomicBool::new(false);
    let mut written = todo.start;
    let mut result = Ok(());
    pool.in_place_scope(|s| {
        let (tx, rx) = mpsc::channel::<(usize, Rendered)>();
        for _ in 0..pool.current_num_threads() {
            let tx = tx.clone();
            let (next, abort, pools) = (&next, &abort, &pools);
            let end = todo.end;
            s.spawn(move |_| {
                // The last grid point's scenario: a worker's runs mostly
                // follow each other within one point.
                let mut point = PointCache::default();
                loop {
                    if stop_requested() || abort.load(Ordering::Relaxed) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= end {
                        break;
                    }
                    // A run cut short by Ctrl-C is not written: --resume
                    // runs it again.
                    let Some(r) = render(plan, i, pools, panic_seed, &mut point) else {
                        break;
                    };
                    if let Some(d) = slow {
                        std::thread::sleep(d);
                    }
                    if tx.send((i, r)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut waiting: BTreeMap<usize, Rendered> = BTreeMap::new();
        for (i, r) in rx {
            if result.is_err() {
                continue;
            }
            waiting.insert(i, r);
            while let Some(r) = waiting.remove(&written) {
                if let Err(e) = sink(r) {
                    result = Err(e);
                    abort.store(true, Ordering::Relaxed);
                    break;
                }
                written += 1;
            }
        }
    });
    result.map(|()| written)
}

/// Runs run `i` of the plan within the plan's limits, catching a panic as
/// a failed row; a run past its limits is a failed row saying which. `None`
/// when Ctrl-C cancelled it.
fn render(
    plan: &Plan,
    i: usize,
    pools: &[String],
    panic_seed: Option<u64>,
    cache: &mut PointCache,
) -> Option<Rendered> {
    let k = plan.run(i);
    let scenario = match cache.get(plan, k.point) {
        Ok(s) => s,
        // Plan::new validated every point, so this is not expected.
        Err(e) => {
            let row = RunRow::failed(plan.policy_name(k.policy), k.seed, e.to_string());
            return Some(finish_render(plan, k, &plan.base, row, None, pools));
        }
    };
    let limits = RunLimits {
        max_events: plan.max_events,
        cancel: Some(stop_flag()),
        ..RunLimits::default()
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        if panic_seed == Some(k.seed) {
            panic!("forced panic for seed {} ({TEST_PANIC_SEED})", k.seed);
        }
        match run_limited(scenario, k.policy, k.seed, plan.timeseries, &limits) {
            Ok(done) => Some(done),
            Err(Stop::Cancelled { .. }) => None,
            Err(stop) => Some((stopped_row(scenario, k.policy, k.seed, &stop), None)),
        }
    }));
    let (row, series) = outcome.transpose()?.unwrap_or_else(|panic| {
        let msg = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "run panicked".into());
        (
            RunRow::failed(plan.policy_name(k.policy), k.seed, msg),
            None,
        )
    });
    Some(finish_render(plan, k, scenario, row, series, pools))
}

/// The scenario of the grid point last used by one worker.
#[derive(Default)]
struct PointCache {
    point: Option<(usize, Scenario)>,
}

impl PointCache {
    /// The scenario of grid point `point`, built only when it changes.
    fn get<'a>(&'a mut self, plan: &'a Plan, point: usize) -> Result<&'a Scenario, SweepError> {
        let hit = matches!(&self.point, Some((p, _)) if *p == point);
        if !hit {
            match plan.scenario(point)? {
                Cow::Borrowed(s) => return Ok(s),
                Cow::Owned(s) => self.point = Some((point, s)),
            }
        }
        Ok(&self.point.as_ref().expect("filled above").1)
    }
}

/// A run's row (and series) as CSV bytes, the grid point's values after
/// policy and seed.
fn finish_render(
    plan: &Plan,
    k: RunKey,
    scenario: &Scenario,
    row: RunRow,
    series: Option<TimeSeries>,
    pools: &[String],
) -> Rendered {
    let labels = plan.grid.labels(k.point);
    let policy = &scenario.policies[k.policy];
    let mut record = row.record();
    let tail = record.split_off(2);
    record.extend(labels.iter().cloned());
    record.extend(tail);
    let columns: Vec<usize> = policy
        .pools
        .iter()
        .map(|p| pools.iter().position(|n| n == &p.name).unwrap_or(0))
        .collect();
    Rendered {
        run: csv_line(&record),
        series: series.map_or_else(Vec::new, |ts| {
            render_series(&ts, &policy.name, k.seed, &labels, &columns, pools.len())
        }),
    }
}

fn render_series(
    ts: &TimeSeries,
    policy: &str,
    seed: u64,
    labels: &[String],
    columns: &[usize],
    pools: usize,
) -> Vec<u8> {
    let mut out = Vec::new();
    for s in &ts.samples {
        let mut by_column = vec![String::new(); pools];
        for (i, &c) in columns.iter().enumerate() {
            by_column[c] = s.ready_by_pool.get(i).copied().unwrap_or(0).to_string();
        }
        let mut rec = vec![policy.to_string(), seed.to_string()];
        rec.extend(labels.iter().cloned());
        rec.push(format!("{:.3}", s.t.as_secs_f64()));
        rec.push(s.ready_by_pool.iter().sum::<u32>().to_string());
        rec.extend(by_column);
        rec.push(s.pending_system.to_string());
        rec.push(s.pending_user.to_string());
        rec.push(s.stalled.to_string());
        out.extend(csv_line(&rec));
    }
    out
}
