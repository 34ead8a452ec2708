//! A run's time series, sampled on a fixed grid of times (`--timeseries`).
//!
//! Sampling adds no events, so it cannot change the history: the world
//! calls [`TimeSeries::catch_up`] before it handles an event at `t` and the
//! series records, for every grid time before `t` not yet sampled, the
//! counters as they stood after the previous event (they are constant in
//! between).

use crate::engine::Millis;

use super::Gauges;

/// The counters at one grid time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// Grid time.
    pub t: Millis,
    /// Ready nodes in each pool of the policy, in pool order.
    pub ready_by_pool: Vec<u32>,
    /// Pending system pods.
    pub pending_system: u32,
    /// Pending user pods.
    pub pending_user: u32,
    /// Running pods stalled on a missing service.
    pub stalled: u32,
    /// Running pods not yet Ready.
    pub unready: u32,
}

/// Samples of one run.
#[derive(Debug, Clone)]
pub struct TimeSeries {
    step: Millis,
    next: Millis,
    /// Samples so far, in time order.
    pub samples: Vec<Sample>,
}

impl TimeSeries {
    /// An empty series sampled every `step` (which must be positive) from 0.
    pub fn new(step: Millis) -> Self {
        TimeSeries {
            step: Millis(step.0.max(1)),
            next: Millis::ZERO,
            samples: Vec::new(),
        }
    }

    /// Whether a grid time before `now` is still unsampled (so the caller
    /// need only count ready nodes then).
    pub fn due_before(&self, now: Millis) -> bool {
        self.next < now
    }

    /// Records every unsampled grid time before `now` (or up to and
    /// including `now` when `inclusive`, at the horizon) with these values.
    pub fn catch_up(&mut self, now: Millis, inclusive: bool, ready_by_pool: &[u32], g: &Gauges) {
        while self.next < now || (inclusive && self.next == now) {
            self.samples.push(Sample {
                t: self.next,
                ready_by_pool: ready_by_pool.to_vec(),
                pending_system: g.pending_system,
                pending_user: g.pending_user,
                stalled: g.stalled,
                unready: g.unready,
            });
            self.next = Millis(self.next.0 + self.step.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_hold_the_last_values_on_a_fixed_grid() {
        let mut ts = TimeSeries::new(Millis::from_secs(10));
        let g = |p| Gauges {
            pending_user: p,
            ..Gauges::default()
        };
        // Values 1 from 0 s, 2 from 25 s; horizon 40 s.
        ts.catch_up(Millis::ZERO, false, &[1], &g(0));
        ts.catch_up(Millis::from_secs(25), false, &[1], &g(1));
        ts.catch_up(Millis::from_secs(40), true, &[2], &g(2));
        let got: Vec<(u64, u32)> = ts
            .samples
            .iter()
            .map(|s| (s.t.0 / 1000, s.pending_user))
            .collect();
        assert_eq!(got, [(0, 1), (10, 1), (20, 1), (30, 2), (40, 2)]);
    }
}
