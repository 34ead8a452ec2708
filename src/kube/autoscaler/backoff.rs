//! Node-group backoff after a failed scale-up (cluster-autoscaler
//! `utils/backoff/exponential_backoff.go`; `docs/fidelity.md`, "Cluster
//! autoscaler"): the first failure backs the group off for the initial
//! duration; a failure after the backoff expired doubles it, up to the maximum;
//! a failure while it is still backed off does not; the entry is dropped once
//! the reset timeout has passed since the last failure.

use crate::engine::Millis;

use super::AutoscalerConfig;

/// One group's backoff entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Backoff {
    /// Current duration.
    pub duration: Millis,
    /// Backed off until then (exclusive).
    pub until: Millis,
    /// The last failure.
    pub last_failure: Millis,
}

impl Backoff {
    /// Still backed off at `now`.
    pub fn active(&self, now: Millis) -> bool {
        now < self.until
    }

    /// The reset timeout has passed since the last failure.
    pub fn expired_for_good(&self, now: Millis, reset: Millis) -> bool {
        now >= self.last_failure + reset
    }
}

/// Records a failure at `now`.
pub(super) fn fail(entry: &mut Option<Backoff>, now: Millis, config: &AutoscalerConfig) {
    let duration = match *entry {
        Some(b) if b.expired_for_good(now, config.backoff_reset) => config.initial_backoff,
        Some(b) if b.active(now) => b.duration,
        Some(b) => Millis((b.duration.0 * 2).min(config.max_backoff.0)),
        None => config.initial_backoff,
    };
    *entry = Some(Backoff {
        duration,
        until: now + duration,
        last_failure: now,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 5 min, then 10, 20, 30 (capped); a failure while backed off keeps
    /// the duration; 3 h after the last failure it starts over.
    #[test]
    fn doubles_to_the_cap_and_resets() {
        let c = AutoscalerConfig::default();
        let mut b = None;
        let m = Millis::from_mins;
        fail(&mut b, m(0), &c);
        assert_eq!(b.unwrap().duration, m(5));
        fail(&mut b, m(2), &c);
        assert_eq!(b.unwrap().duration, m(5));
        assert_eq!(b.unwrap().until, m(7));
        fail(&mut b, m(7), &c);
        assert_eq!(b.unwrap().duration, m(10));
        fail(&mut b, m(20), &c);
        assert_eq!(b.unwrap().duration, m(20));
        fail(&mut b, m(40), &c);
        assert_eq!(b.unwrap().duration, m(30));
        fail(&mut b, m(40 + 180), &c);
        assert_eq!(b.unwrap().duration, m(5));
    }
}
