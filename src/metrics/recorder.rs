//! The per-run recorder: integrates piecewise-constant counters between
//! events and remembers the instants that define recovery and deadlock.
//!
//! Recovery is per outage episode: an outage starts when some system
//! service falls below its minimum of Running pods at or after the first
//! fault (or is already below it when the first fault strikes) and ends
//! when every system service is back at its minimum. A run recovered if it
//! ends outside an outage; its recovery time is its longest outage (0 if
//! the faults never took a service down). A run that ends below a minimum
//! never recovered, so a deadlocked run never counts as recovered.

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
    /// The cpu requests in millicores of the user pods the controllers
    /// want (Deployment replicas, active Job pods): the user demand.
    pub wanted_user_mcpu: u64,
    /// Running pods stalled on a missing service.
    pub stalled: u32,
    /// Running pods not yet Ready (a workload's `readiness_delay`).
    pub unready: u32,
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
    /// The longest outage episode after the first fault (zero if none);
    /// `None` if the run ended during an outage (never recovered) or had
    /// no fault.
    pub system_recovery: Option<Millis>,
    /// Outage episodes that started at or after the first fault.
    pub system_outages: u32,
    /// Time after the first fault with at least one system service down.
    pub system_unavailable: Millis,
    /// Useful user work after the first fault (cpu-seconds requested by
    /// running, unstalled user pods) relative to what the cluster would
    /// have done by the horizon serving the user demand after the fault in
    /// the proportion it served it at the fault: 1 is no loss.
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
    wanted_at_fault: u64,
    pending_pod_ms: u128,
    /// Integral of the user demand after the first fault.
    wanted_user_ms: u128,
    unavailable_ms: u64,
    user_progress_ms: u128,
    /// Start of the outage in progress, if one is (after the first fault).
    outage_since: Option<Millis>,
    /// Outage episodes so far.
    outages: u32,
    /// The longest finished outage.
    longest_outage: Millis,
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
            wanted_at_fault: 0,
            pending_pod_ms: 0,
            wanted_user_ms: 0,
            unavailable_ms: 0,
            user_progress_ms: 0,
            outage_since: None,
            outages: 0,
            longest_outage: Millis::ZERO,
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
            self.wanted_user_ms += u128::from(g.wanted_user_mcpu) * u128::from(dt);
        }
        self.last_t = now;
    }

    /// The first fault strikes now (later faults do not move the origin).
    pub fn fault(&mut self, now: Millis) {
        self.advance(now);
        if self.fault_at.is_none() {
            self.fault_at = Some(now);
            self.progressing_at_fault = self.last.progressing_user_mcpu;
            self.wanted_at_fault = self.last.wanted_user_mcpu;
            // A service still below its minimum when the first fault
            // strikes (the cluster was starting) is an outage from now.
            if self.last.system_services_down > 0 {
                self.start_outage(now);
            }
        }
    }

    fn start_outage(&mut self, now: Millis) {
        self.outage_since = Some(now);
        self.outages += 1;
    }

    /// The counters after an event at `now`.
    pub fn observe(&mut self, now: Millis, g: Gauges) {
        self.advance(now);
        if g.progress_steps != self.last.progress_steps {
            self.last_progress_at = now;
        }
        if self.fault_at.is_some() {
            match (self.outage_since, g.system_services_down) {
                (None, down) if down > 0 => self.start_outage(now),
                (Some(since), 0) => {
                    self.longest_outage = self.longest_outage.max(now.saturating_sub(since));
                    self.outage_since = None;
                }
                _ => {}
            }
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
        // Work done over what the pre-fault service ratio (progressing over
        // wanted) would have done of the demand after the fault. The
        // demand's integral over its value at the fault is the time the
        // pre-fault rate would have run: exactly the time since the fault
        // while the demand is constant (every figure then as before), more
        // while Jobs that arrived later are active, less once Jobs running
        // at the fault would have finished.
        let user_work_done_frac = self.fault_at.and_then(|_| {
            (self.wanted_at_fault > 0).then_some(())?;
            let time = self.wanted_user_ms as f64 / self.wanted_at_fault as f64;
            let ideal = self.progressing_at_fault as f64 * time;
            (ideal > 0.0).then(|| self.user_progress_ms as f64 / ideal)
        });
        RunOutcome {
            deadlocked,
            system_recovery: match (self.fault_at, self.outage_since) {
                (Some(_), None) => Some(self.longest_outage),
                _ => None,
            },
            system_outages: self.outages,
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
            wanted_user_mcpu: 10_000,
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
        assert_eq!(o.system_outages, 1);
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

    /// The fault at 100 s takes nothing down; an outage starts at 300 s
    /// (say, AZ rebalancing moves the ingress pods) and lasts to the
    /// horizon at 400 s: never recovered, one outage, 100 s unavailable,
    /// and deadlocked (no progress since 300 s, window 60 s).
    #[test]
    fn a_late_outage_that_lasts_to_the_horizon_is_not_recovered() {
        let mut r = RunRecorder::new();
        r.observe(Millis::ZERO, g(0, 0, 10, 1));
        r.fault(Millis::from_secs(100));
        r.observe(Millis::from_secs(100), g(0, 0, 10, 2));
        r.observe(Millis::from_secs(300), g(1, 0, 0, 3));
        let o = r.finish(Millis::from_secs(400), Millis::from_secs(60));
        assert!(o.deadlocked);
        assert_eq!(o.system_recovery, None);
        assert_eq!(o.system_outages, 1);
        assert_eq!(o.system_unavailable, Millis::from_secs(100));
    }

    /// Outages 100-130 s (at the first fault) and 250-300 s (after a second
    /// fault at 240 s, which does not move the origin): recovered, the
    /// longest outage 50 s, two outages, 80 s unavailable. A fault that
    /// takes nothing down recovers in 0 s with no outage.
    #[test]
    fn recovery_is_the_longest_outage_episode() {
        let mut r = RunRecorder::new();
        r.observe(Millis::ZERO, g(0, 0, 10, 1));
        r.fault(Millis::from_secs(100));
        r.observe(Millis::from_secs(100), g(2, 0, 0, 2));
        r.observe(Millis::from_secs(130), g(0, 0, 10, 3));
        r.fault(Millis::from_secs(240));
        r.observe(Millis::from_secs(250), g(1, 0, 0, 4));
        r.observe(Millis::from_secs(300), g(0, 0, 10, 5));
        let o = r.finish(Millis::from_secs(400), Millis::from_secs(60));
        assert!(!o.deadlocked);
        assert_eq!(o.system_recovery, Some(Millis::from_secs(50)));
        assert_eq!(o.system_outages, 2);
        assert_eq!(o.system_unavailable, Millis::from_secs(80));

        let mut quiet = RunRecorder::new();
        quiet.observe(Millis::ZERO, g(0, 0, 10, 1));
        quiet.fault(Millis::from_secs(100));
        quiet.observe(Millis::from_secs(100), g(0, 0, 10, 2));
        let o = quiet.finish(Millis::from_secs(400), Millis::from_secs(60));
        assert_eq!(o.system_recovery, Some(Millis::ZERO));
        assert_eq!(o.system_outages, 0);
    }

    /// A service still starting (down since 0 s) when the fault strikes at
    /// 10 s is an outage from 10 s; it ends at 40 s: recovery 30 s.
    #[test]
    fn an_outage_in_progress_at_the_first_fault_counts_from_the_fault() {
        let mut r = RunRecorder::new();
        r.observe(Millis::ZERO, g(1, 0, 10, 1));
        r.fault(Millis::from_secs(10));
        r.observe(Millis::from_secs(10), g(1, 0, 10, 2));
        r.observe(Millis::from_secs(40), g(0, 0, 10, 3));
        let o = r.finish(Millis::from_secs(100), Millis::from_secs(60));
        assert_eq!(o.system_recovery, Some(Millis::from_secs(30)));
        assert_eq!(o.system_outages, 1);
    }

    /// 10 cores wanted and progressing at the fault (100 s) until the
    /// horizon (200 s); a Job arrives at 150 s wanting 5 more cores, which
    /// progress from 150 s to 180 s, when it finishes. Work done 10 x 100 +
    /// 5 x 30 = 1150 core-s; the demand's integral 1150 core-s over 10
    /// cores at the fault is 115 s at the pre-fault rate of 10 cores: 1150,
    /// so no loss (1.0), where work over the pre-fault rate alone would be
    /// 1.15. Had the Job's pods stayed Pending to the horizon, the demand
    /// would be 10 x 50 + 15 x 50 = 1250 core-s, the work 1000: 0.8.
    #[test]
    fn a_job_arriving_after_the_fault_is_demand_not_a_gain() {
        let at = |progressing: u64, wanted: u64| Gauges {
            progressing_user_mcpu: progressing * 1000,
            wanted_user_mcpu: wanted * 1000,
            ..Gauges::default()
        };
        let mut served = RunRecorder::new();
        served.observe(Millis::ZERO, at(10, 10));
        served.fault(Millis::from_secs(100));
        served.observe(Millis::from_secs(100), at(10, 10));
        let mut pending = served.clone();
        served.observe(Millis::from_secs(150), at(15, 15));
        served.observe(Millis::from_secs(180), at(10, 10));
        let o = served.finish(Millis::from_secs(200), Millis::from_secs(60));
        assert_eq!(o.user_work_done_frac, Some(1.0));
        pending.observe(Millis::from_secs(150), at(10, 15));
        let o = pending.finish(Millis::from_secs(200), Millis::from_secs(60));
        assert_eq!(o.user_work_done_frac, Some(0.8));
    }
}
