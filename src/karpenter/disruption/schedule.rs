//! A disruption budget's `schedule`: the standard five-field cron syntax
//! Karpenter parses with `robfig/cron` (`ParseStandard`, in UTC), and
//! whether a budget is active (`Budget.IsActive` in kubernetes-sigs/karpenter
//! `pkg/apis/v1/nodepool.go`: the next hit after `now - duration` is not
//! after `now`).
//!
//! Run time 0 is Monday 1 January 2024, 00:00 UTC (`docs/fidelity.md`,
//! "Karpenter").

use crate::engine::Millis;

const MINUTE_MS: i64 = 60_000;
/// Days from 1970-01-01 to 2024-01-01, the run's day 0.
const EPOCH_DAY: i64 = 19_723;
/// `robfig/cron` gives up looking for the next hit after five years (and
/// returns the zero time, which `IsActive` then reads as active).
const SEARCH_DAYS: i64 = 5 * 366;

/// A parsed cron schedule: one bit per allowed value of each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    minute: u64,
    hour: u64,
    dom: u64,
    month: u64,
    dow: u64,
    /// Day of month or day of week was `*` or `?` (then both must match,
    /// else either).
    day_star: bool,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

impl Schedule {
    /// Parses five fields (minute hour day-of-month month day-of-week) or
    /// one of `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`,
    /// `@midnight`, `@hourly`.
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let text = text.trim();
        let expanded = match text {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            t if t.starts_with('@') => return Err(format!("unknown descriptor `{t}`")),
            t => t,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "`{text}` has {} fields; a schedule has five (minute hour day-of-month month day-of-week)",
                fields.len()
            ));
        }
        let (dom, dom_star) = field(fields[2], 1, 31, &[])?;
        let (dow, dow_star) = field(fields[4], 0, 6, &DAYS)?;
        Ok(Schedule {
            minute: field(fields[0], 0, 59, &[])?.0,
            hour: field(fields[1], 0, 23, &[])?.0,
            dom,
            month: field(fields[3], 1, 12, &MONTHS)?.0,
            dow,
            day_star: dom_star || dow_star,
        })
    }

    /// The first minute boundary strictly after `t` (ms from run time 0,
    /// negative before it) that the schedule hits, if one comes within
    /// five years.
    pub fn next_after(&self, t: i64) -> Option<i64> {
        let first = t.div_euclid(MINUTE_MS) + 1;
        let first_day = first.div_euclid(1440);
        for day in first_day..first_day + SEARCH_DAYS {
            if !self.day_matches(day) {
                continue;
            }
            let from = if day == first_day {
                first.rem_euclid(1440)
            } else {
                0
            };
            for m in from..1440 {
                if bit(self.hour, m / 60) && bit(self.minute, m % 60) {
                    return Some((day * 1440 + m) * MINUTE_MS);
                }
            }
        }
        None
    }

    /// Whether a budget with this schedule and `duration` is active at
    /// `now`.
    pub fn active(&self, duration: Millis, now: Millis) -> bool {
        let now = now.0 as i64;
        let check = now - duration.0 as i64;
        self.next_after(check).is_none_or(|hit| hit <= now)
    }

    fn day_matches(&self, day: i64) -> bool {
        let (month, dom) = civil(EPOCH_DAY + day);
        // 1970-01-01 was a Thursday (4).
        let dow = (EPOCH_DAY + day + 4).rem_euclid(7);
        if !bit(self.month, month) {
            return false;
        }
        let (d, w) = (bit(self.dom, dom), bit(self.dow, dow));
        if self.day_star { d && w } else { d || w }
    }
}

fn bit(set: u64, v: i64) -> bool {
    (0..64).contains(&v) && set & (1 << v) != 0
}

/// Month (1-12) and day of month of a day counted from 1970-01-01
/// (Hinnant's civil-from-days).
fn civil(z: i64) -> (i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (m, d)
}

/// One field: comma-separated `*`, `?`, values, ranges `a-b`, each with
/// an optional step `/n`; names where `names` gives them. Returns the set
/// and whether it started with `*` or `?`.
fn field(text: &str, lo: i64, hi: i64, names: &[&str]) -> Result<(u64, bool), String> {
    let mut set = 0u64;
    let mut star = false;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<i64>()
                    .ok()
                    .filter(|&s| s > 0)
                    .ok_or_else(|| format!("bad step in `{part}`"))?,
            ),
            None => (part, 1),
        };
        let (start, end) = if range == "*" || range == "?" {
            star = true;
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a, lo, hi, names)?, value(b, lo, hi, names)?)
        } else {
            let v = value(range, lo, hi, names)?;
            (v, if part.contains('/') { hi } else { v })
        };
        if start > end {
            return Err(format!("range `{range}` runs backwards"));
        }
        let mut v = start;
        while v <= end {
            set |= 1 << v;
            v += step;
        }
    }
    Ok((set, star))
}

fn value(text: &str, lo: i64, hi: i64, names: &[&str]) -> Result<i64, String> {
    let lower = text.to_ascii_lowercase();
    if let Some(i) = names.iter().position(|n| *n == lower) {
        // Months are named from 1, days of the week from 0.
        return Ok(i as i64 + lo);
    }
    match text.parse::<i64>() {
        Ok(v) if (lo..=hi).contains(&v) => Ok(v),
        _ => Err(format!("`{text}` is not a value from {lo} to {hi}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 24 * HOUR;

    /// Day 0 is Monday 1 January 2024: "0 9 * * mon-fri" first hits at
    /// 09:00 that day, then Tuesday; Saturday 6 January is skipped.
    #[test]
    fn weekday_mornings_from_monday_1_january_2024() {
        let s = Schedule::parse("0 9 * * mon-fri").unwrap();
        assert_eq!(s.next_after(0), Some(9 * HOUR));
        assert_eq!(s.next_after(9 * HOUR), Some(DAY + 9 * HOUR));
        assert_eq!(s.next_after(4 * DAY + 10 * HOUR), Some(7 * DAY + 9 * HOUR));
        // Active for 8 hours from each hit: at 17:00 the next hit after
        // 09:00 (strictly after) is Tuesday's.
        let eight = Millis(8 * HOUR as u64);
        assert!(!s.active(eight, Millis((9 * HOUR - 1) as u64)));
        assert!(s.active(eight, Millis((9 * HOUR) as u64)));
        assert!(s.active(eight, Millis((17 * HOUR - 1) as u64)));
        assert!(!s.active(eight, Millis((17 * HOUR) as u64)));
    }

    /// Either day field matches when neither is `*`; 1 March 2024 follows
    /// 29 February (a leap year).
    #[test]
    fn day_fields_and_the_calendar() {
        let s = Schedule::parse("30 0 1 3 *").unwrap();
        assert_eq!(s.next_after(0), Some(60 * DAY + 30 * 60_000));
        let either = Schedule::parse("0 0 15 * sun").unwrap();
        // Sunday 7 January comes before the 15th.
        assert_eq!(either.next_after(0), Some(6 * DAY));
        assert_eq!(
            Schedule::parse("@hourly").unwrap().next_after(1),
            Some(HOUR)
        );
        assert!(Schedule::parse("0 9 * *").is_err());
        assert!(Schedule::parse("61 * * * *").is_err());
        assert!(Schedule::parse("@often").is_err());
    }
}
