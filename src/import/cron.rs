//! What a CronJob and its Jobs say about arrivals and work: the mean rate
//! of a cron schedule, and the duration of finished Jobs from their
//! RFC 3339 timestamps.

/// Runs per day of one cron field list (`*`, `*/n`, `a,b`, `a-b`,
/// `a-b/n`) over `lo..=hi`; `None` if it cannot be read.
fn field_count(field: &str, lo: u32, hi: u32) -> Option<u32> {
    let mut hits = std::collections::BTreeSet::new();
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().ok().filter(|&s| s > 0)?),
            None => (part, 1),
        };
        let (a, b) = if range == "*" || range == "?" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            (a.parse().ok()?, b.parse().ok()?)
        } else {
            let a: u32 = range.parse().ok()?;
            (a, if part.contains('/') { hi } else { a })
        };
        if a < lo || b > hi || a > b {
            return None;
        }
        let mut x = a;
        while x <= b {
            hits.insert(x);
            x += step;
        }
    }
    u32::try_from(hits.len()).ok()
}

/// The mean number of runs per hour of a cron schedule (five fields or a
/// `@hourly`-style macro), counting day-of-month and day-of-week as
/// shares of a 30-day month and a week; `None` if it cannot be read.
pub fn runs_per_hour(schedule: &str) -> Option<f64> {
    let s = schedule.trim();
    let s = s
        .strip_prefix("CRON_TZ=")
        .or_else(|| s.strip_prefix("TZ="))
        .and_then(|rest| rest.split_once(' ').map(|(_, r)| r.trim()))
        .unwrap_or(s);
    let per_day = match s {
        "@yearly" | "@annually" => return Some(1.0 / (365.0 * 24.0)),
        "@monthly" => return Some(1.0 / (30.0 * 24.0)),
        "@weekly" => return Some(1.0 / (7.0 * 24.0)),
        "@daily" | "@midnight" => return Some(1.0 / 24.0),
        "@hourly" => return Some(1.0),
        _ => {
            let f: Vec<&str> = s.split_whitespace().collect();
            if f.len() != 5 {
                return None;
            }
            let minutes = f64::from(field_count(f[0], 0, 59)?);
            let hours = f64::from(field_count(f[1], 0, 23)?);
            let dom = f64::from(field_count(f[2], 1, 31)?) / 31.0;
            let months = f64::from(field_count(f[3], 1, 12)?) / 12.0;
            let dow = if f[4] == "*" {
                1.0
            } else {
                f64::from(field_count(&f[4].replace('7', "0"), 0, 6)?) / 7.0
            };
            minutes * hours * dom.min(dow) * months
        }
    };
    Some(per_day / 24.0)
}

/// Seconds since 1970 of an RFC 3339 UTC time (`2025-05-01T02:00:03Z`,
/// fractions ignored); `None` if it is not one.
pub fn epoch_seconds(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || !t.ends_with('Z') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        // Once a day at 02:00: 1/24 per hour.
        assert_eq!(runs_per_hour("0 2 * * *"), Some(1.0 / 24.0));
        // Every 15 minutes: 4 per hour.
        assert_eq!(runs_per_hour("*/15 * * * *"), Some(4.0));
        // At 0 and 30 past, hours 9-17 (9 hours): 18 a day.
        assert_eq!(runs_per_hour("0,30 9-17 * * *"), Some(18.0 / 24.0));
        // Mondays to Fridays at 06:00: 5/7 a day.
        assert_eq!(runs_per_hour("0 6 * * 1-5"), Some(5.0 / 7.0 / 24.0));
        assert_eq!(runs_per_hour("@hourly"), Some(1.0));
        assert_eq!(runs_per_hour("61 * * * *"), None);
        assert_eq!(runs_per_hour("every day"), None);
    }

    #[test]
    fn timestamps() {
        assert_eq!(epoch_seconds("1970-01-01T00:00:00Z"), Some(0));
        // 2025-05-01 is day 20209 since 1970.
        assert_eq!(
            epoch_seconds("2025-05-01T02:00:03Z"),
            Some(20_209 * 86_400 + 7203)
        );
        assert_eq!(epoch_seconds("2025-05-01 02:00:03"), None);
    }
}
