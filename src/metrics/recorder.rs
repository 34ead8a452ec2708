//! The per-run recorder: integrates piecewise-constant counters between
//! events and remembers the instants that define recovery and deadlock.

use crate::engine::Millis;

/// The counters the recorder watches, sampled after every event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gauges {
    /// Ready nodes.
    pub ready_nodes: u32,
    /// Pending system pods.
    pub pending_system: u32,
    /// Pending user pods.
    pub pending_user: u32,
    /// Running user pods making progress.
    pub progressing_user: u32,
    /// Their cpu requests in millicores: the rate of useful user work.
    pub progressing_user_mcpu: u64,
    /// Running pods stalled on a missing service.
    pub stalled: u32,
    /// System services below their minimum.
    pub system_services_down: u32,
    /// A counter that moves whenever anything moves forward.
    pub progress_steps: u64,
}

/// What one run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
    /// A system service was down at the horizon and nothing moved forward
    /// during the detection window before it.
    pub deadlocked: bool,
    /// From the first fault until every system service was back at its
    /// minimum; `None` if that never happened.
    pub system_recovery: Option<Millis>,
    /// Time after the first fault with at least one system service down.
    pub system_unavailable: Millis,
    /// Useful user work after the first fault (cpu-seconds requested by
    /// running, unstalled user pods) relative to what the pre-fault rate
    /// would have done by the horizon.
    pub user_work_done_frac: Option<f64>,
    /// Integral of pending pods over the run, in pod-seconds.
    pub pending_pod_s: f64,
}

/// Integrates gauges over one run.
#[derive(Debug, Clone)]
pub struct RunRecorder {
    last_t: Millis,
    last: Gauges,
    fault_at: Option<Millis>,
    progressing_at_fault: u64,
    pending_pod_ms: u128,
    unavailable_ms: u64,
    user_progress_ms: u128,
    recovered_at: Option<Millis>,
    last_progress_at: Millis,
}

impl Default for RunRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl RunRecorder {
    /// A recorder at time zero.
    pub fn new() -> Self {
        RunRecorder {
            last_t: Millis::ZERO,
            last: Gauges::default(),
            fault_at: None,
            progressing_at_fault: 0,
            pending_pod_ms: 0,
            unavailable_ms: 0,
            user_progress_ms: 0,
            recovered_at: None,
            last_progress_at: Millis::ZERO,
        }
    }

    fn advance(&mut self, now: Millis) {
        let dt = now.saturating_sub(self.last_t).0;
        if dt == 0 {
            return;
        }
        let g = &self.last;
        self.pending_pod_ms += u128::from(g.pending_system + g.pending_user) * u128::from(dt);
        if self.fault_at.is_some() {
            if g.system_services_down > 0 {
                self.unavailable_ms += dt;
            }
            self.user_progress_ms += u128::from(g.progressing_user_mcpu) * u128::from(dt);
        }
        self.last_t = now;
    }

    /// The first fault strikes now (later faults do not move the origin).
    pub fn fault(&mut self, now: Millis) {
        self.advance(now);
        if self.fault_at.is_none() {
            self.fault_at = Some(now);
            self.progressing_at_fault = self.last.progressing_user_mcpu;
        }
    }

    /// The counters after an event at `now`.
    pub fn observe(&mut self, now: Millis, g: Gauges) {
        self.advance(now);
        if g.progress_steps != self.last.progress_steps {
            self.last_progress_at = now;
        }
        if self.fault_at.is_some() && self.recovered_at.is_none() && g.system_services_down == 0 {
            self.recovered_at = Some(now);
        }
        self.last = g;
    }

    /// The counters as last observed.
    pub fn gauges(&self) -> Gauges {
        self.last
    }

    /// Whether the run is stuck at `now` by the deadlock definition.
    pub fn stuck(&self, now: Millis, window: Millis) -> bool {
        self.last.system_services_down > 0 && now.saturating_sub(self.last_progress_at) >= window
    }

    /// Closes the run at the horizon.
    pub fn finish(mut self, horizon: Millis, window: Millis) -> RunOutcome {
        self.advance(horizon);
        let deadlocked = self.stuck(horizon, window);
        let user_work_done_frac = self.fault_at.and_then(|f| {
            let ideal = self.progressing_at_fault as f64 * horizon.saturating_sub(f).0 as f64;
            (ideal > 0.0).then(|| self.user_progress_ms as f64 / ideal)
        });
        RunOutcome {
            deadlocked,
            system_recovery: match (self.fault_at, self.recovered_at) {
                (Some(f), Some(r)) => Some(r.saturating_sub(f)),
                _ => None,
            },
            system_unavailable: Millis(self.unavailable_ms),
            user_work_done_frac,
            pending_pod_s: self.pending_pod_ms as f64 / 1000.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(down: u32, pending: u32, progressing: u32, steps: u64) -> Gauges {
        Gauges {
            pending_user: pending,
            progressing_user: progressing,
            progressing_user_mcpu: u64::from(progressing) * 1000,
            system_services_down: down,
            progress_steps: steps,
            ..Gauges::default()
        }
    }

    /// 10 one-core user pods progress until the fault at 100 s; services are down from
    /// 100 s to 160 s; 5 pods progress from 160 s to the horizon at 200 s.
    /// Work done: 5 x 40 / (10 x 100) = 0.2. Pending: 3 pods x 200 s = 600.
    #[test]
    fn integrates_recovery_unavailability_and_work() {
        let mut r = RunRecorder::new();
        r.observe(Millis::ZERO, g(0, 3, 10, 1));
        r.fault(Millis::from_secs(100));
        r.observe(Millis::from_secs(100), g(2, 3, 0, 1));
        r.observe(Millis::from_secs(160), g(0, 3, 5, 2));
        let o = r.finish(Millis::from_secs(200), Millis::from_secs(30));
        assert_eq!(o.system_recovery, Some(Millis::from_secs(60)));
        assert_eq!(o.system_unavailable, Millis::from_secs(60));
        assert_eq!(o.user_work_done_frac, Some(0.2));
        assert_eq!(o.pending_pod_s, 600.0);
        assert!(!o.deadlocked);
    }

    #[test]
    fn deadlock_needs_a_down_service_and_a_quiet_window() {
        let mut r = RunRecorder::new();
        r.fault(Millis::ZERO);
        r.observe(Millis::ZERO, g(1, 0, 0, 1));
        r.observe(Millis::from_secs(50), g(1, 0, 0, 2));
        let quiet_enough = r
            .clone()
            .finish(Millis::from_secs(110), Millis::from_secs(60));
        assert!(quiet_enough.deadlocked);
        assert_eq!(quiet_enough.system_recovery, None);
        let too_recent = r.finish(Millis::from_secs(100), Millis::from_secs(60));
        assert!(!too_recent.deadlocked);
    }
}
