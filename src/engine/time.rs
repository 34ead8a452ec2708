//! Simulated time: integer milliseconds, never floats, so that equal times are
//! exactly equal and event order cannot depend on rounding.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// A point in simulated time, or a duration, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Millis(pub u64);

impl Millis {
    /// Time zero, the start of every run.
    pub const ZERO: Millis = Millis(0);
    /// The largest representable time; used as "never".
    pub const MAX: Millis = Millis(u64::MAX);

    /// Whole seconds.
    pub const fn from_secs(s: u64) -> Millis {
        Millis(s * 1000)
    }

    /// Whole minutes.
    pub const fn from_mins(m: u64) -> Millis {
        Millis(m * 60_000)
    }

    /// The value in seconds, for reporting only.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// `self - earlier`, or zero when `earlier` is later.
    pub fn saturating_sub(self, earlier: Millis) -> Millis {
        Millis(self.0.saturating_sub(earlier.0))
    }

    /// `self + d`, saturating at [`Millis::MAX`].
    pub fn saturating_add(self, d: Millis) -> Millis {
        Millis(self.0.saturating_add(d.0))
    }

    /// The first multiple of `period` that is at or after `self`.
    pub fn next_multiple_of(self, period: Millis) -> Millis {
        if period.0 == 0 {
            return self;
        }
        Millis(self.0.div_ceil(period.0) * period.0)
    }
}

impl Add for Millis {
    type Output = Millis;
    fn add(self, rhs: Millis) -> Millis {
        Millis(self.0 + rhs.0)
    }
}

impl AddAssign for Millis {
    fn add_assign(&mut self, rhs: Millis) {
        self.0 += rhs.0;
    }
}

impl Sub for Millis {
    type Output = Millis;
    fn sub(self, rhs: Millis) -> Millis {
        Millis(self.0 - rhs.0)
    }
}

/// `h:mm:ss.mmm`, the format of traces.
impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0 % 1000;
        let s = self.0 / 1000;
        write!(
            f,
            "{}:{:02}:{:02}.{:03}",
            s / 3600,
            (s / 60) % 60,
            s % 60,
            ms
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_hours_minutes_seconds_millis() {
        assert_eq!(Millis(3_723_004).to_string(), "1:02:03.004");
        assert_eq!(Millis::ZERO.to_string(), "0:00:00.000");
    }

    #[test]
    fn next_multiple_rounds_up_only_when_needed() {
        assert_eq!(
            Millis(20_000).next_multiple_of(Millis(20_000)),
            Millis(20_000)
        );
        assert_eq!(
            Millis(20_001).next_multiple_of(Millis(20_000)),
            Millis(40_000)
        );
        assert_eq!(Millis(0).next_multiple_of(Millis(5_000)), Millis(0));
    }
}
