//! Running planned runs on a rayon pool and handing their rendered rows to
//! one writer in plan order.
//!
//! Workers take the next run number from a shared counter, so runs start in
//! plan order, and finished rows wait in a reorder buffer until every
//! earlier run is written. The buffer is bounded: a worker does not start
//! run `i` until run `i - WINDOW` is written, so however long one run
//! takes, at most `WINDOW` (a few per thread) finished runs wait for it,
//! and memory stays flat in the number of runs.

use std::collections::BTreeMap;
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, mpsc};
use std::time::Duration;

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

/// The environment variable of the test hook `SEED:MS` that makes every
/// run of one seed take at least `MS` more milliseconds of wall time (one
/// slow run among fast ones, to measure the reorder buffer).
pub const TEST_SLOW_SEED: &str = "POOLSIM_TEST_SLOW_SEED";

/// Runs started ahead of the oldest run not yet written, per thread.
const WINDOW_PER_THREAD: usize = 4;

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
    sink: impl FnMut(Rendered) -> Result<(), SweepError>,
) -> Result<usize, SweepError> {
    let panic_seed: Option<u64> = std::env::var(TEST_PANIC_SEED)
        .ok()
        .and_then(|s| s.parse().ok());
    let slow = std::env::var(TEST_SLOW_MS)
        .ok()
        .and_then(|s| s.parse().ok())
        .map(Duration::from_millis);
    let slow_seed: Option<(u64, Duration)> = std::env::var(TEST_SLOW_SEED).ok().and_then(|s| {
        let (seed, ms) = s.split_once(':')?;
        Some((seed.parse().ok()?, Duration::from_millis(ms.parse().ok()?)))
    });
    let pools = plan.pool_names();
    // A run cut short by Ctrl-C is not written (`None`): --resume runs it
    // again. Each worker keeps the last grid point's scenario: its runs
    // mostly follow each other within one point.
    let work = |i: usize, point: &mut PointCache| {
        let r = render(plan, i, &pools, panic_seed, point)?;
        if let Some(d) = slow {
            std::thread::sleep(d);
        }
        if let Some((seed, d)) = slow_seed
            && plan.run(i).seed == seed
        {
            std::thread::sleep(d);
        }
        Some(r)
    };
    execute_with(todo, threads, work, sink).map(|(written, _)| written)
}

/// The oldest run not yet written, which workers wait on.
struct Written {
    next: Mutex<usize>,
    moved: Condvar,
}

/// [`execute`] over any `work`, which gets each worker's own state `S`
/// and returns `None` to stop that worker; also returns the most finished
/// runs that waited at once in the reorder buffer and the channel.
pub(crate) fn execute_with<T: Send, S: Default>(
    todo: Range<usize>,
    threads: Option<usize>,
    work: impl Fn(usize, &mut S) -> Option<T> + Sync,
    mut sink: impl FnMut(T) -> Result<(), SweepError>,
) -> Result<(usize, usize), SweepError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
        .map_err(|e| SweepError::BadOption(format!("cannot start threads: {e}")))?;
    let window = WINDOW_PER_THREAD * pool.current_num_threads().max(1);
    let next = AtomicUsize::new(todo.start);
    let abort = AtomicBool::new(false);
    let written = Written {
        next: Mutex::new(todo.start),
        moved: Condvar::new(),
    };
    // Finished runs not yet written (in the channel or the buffer), and
    // the most there ever were.
    let held = AtomicUsize::new(0);
    let peak = AtomicUsize::new(0);
    let mut done = todo.start;
    let mut result = Ok(());
    pool.in_place_scope(|s| {
        let (tx, rx) = mpsc::sync_channel::<(usize, T)>(window);
        for _ in 0..pool.current_num_threads() {
            let tx = tx.clone();
            let (next, abort, written, work) = (&next, &abort, &written, &work);
            let (held, peak) = (&held, &peak);
            let end = todo.end;
            s.spawn(move |_| {
                let stopped = || stop_requested() || abort.load(Ordering::Relaxed);
                let mut state = S::default();
                loop {
                    if stopped() {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= end || !wait_for_room(written, i, window, &stopped) {
                        break;
                    }
                    let Some(r) = work(i, &mut state) else {
                        break;
                    };
                    peak.fetch_max(held.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                    if tx.send((i, r)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut waiting: BTreeMap<usize, T> = BTreeMap::new();
        for (i, r) in rx {
            if result.is_err() {
                continue;
            }
            waiting.insert(i, r);
            while let Some(r) = waiting.remove(&done) {
                held.fetch_sub(1, Ordering::SeqCst);
                if let Err(e) = sink(r) {
                    result = Err(e);
                    abort.store(true, Ordering::Relaxed);
                    break;
                }
                done += 1;
            }
            if let Ok(mut w) = written.next.lock() {
                *w = done;
            }
            written.moved.notify_all();
        }
    });
    result.map(|()| (done, peak.into_inner()))
}

/// Waits until run `i` is within `window` of the oldest run not written;
/// `false` if the sweep stops meanwhile.
fn wait_for_room(written: &Written, i: usize, window: usize, stopped: &impl Fn() -> bool) -> bool {
    let Ok(mut w) = written.next.lock() else {
        return false;
    };
    while i >= *w + window {
        if stopped() {
            return false;
        }
        // A timeout, so that a stop (Ctrl-C, a failed write) is seen even
        // if nothing more is written.
        match written.moved.wait_timeout(w, Duration::from_millis(100)) {
            Ok((guard, _)) => w = guard,
            Err(_) => return false,
        }
    }
    true
}

/// Runs run `i` of the plan within the plan's limits, catching a panic as
/// a failed row; a run past its limits is a failed row saying which. `None`
/// when Ctrl-C cancelled it.
pub(crate) fn render(
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
pub(crate) struct PointCache {
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
        rec.push(s.unready.to_string());
        out.extend(csv_line(&rec));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run 0 takes a long time (it waits until the others have gone as far
    /// as they can, or 2 s); every other run is instant. Unbounded, all 399
    /// later results would pile up behind run 0; bounded, at most the
    /// window (4 per thread) do, and the output is still in order.
    #[test]
    fn a_slow_run_holds_back_at_most_the_window() {
        let threads = 3;
        let window = WINDOW_PER_THREAD * threads;
        let started = AtomicUsize::new(0);
        let work = |i: usize, _: &mut ()| {
            started.fetch_add(1, Ordering::SeqCst);
            if i == 0 {
                let t = std::time::Instant::now();
                while started.load(Ordering::SeqCst) < window
                    && t.elapsed() < Duration::from_secs(2)
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
                // Give the others the time to overrun a missing bound.
                std::thread::sleep(Duration::from_millis(200));
            }
            Some(i)
        };
        let mut out = Vec::new();
        let (done, peak) = execute_with(0..400, Some(threads), work, |i| {
            out.push(i);
            Ok(())
        })
        .unwrap();
        assert_eq!(done, 400);
        assert_eq!(out, (0..400).collect::<Vec<_>>());
        assert!(peak <= window, "{peak} results waited at once");
        assert!(peak >= window - threads, "{peak}: the window was not used");
    }
}
