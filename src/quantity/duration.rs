//! Durations as people write them, Kubernetes-style: `"250ms"`, `"90s"`,
//! `"15m"`, `"1h30m"`, `"1d"`, parsed to and printed from [`Millis`].

use crate::engine::Millis;

use super::scaled;

/// The longest duration a file may write (about 100 years): far beyond
/// any horizon, and small enough that sums of times never overflow.
pub const MAX_DURATION: Millis = Millis(100 * 365 * 86_400_000);

/// Parses `"250ms"`, `"90s"`, `"15m"`, `"2h"`, `"1d"` or a sum like
/// `"1h30m"`, exactly and at most [`MAX_DURATION`].
pub fn parse_duration(text: &str) -> Result<Millis, String> {
    let s = text.trim();
    if s.starts_with('-') {
        return Err(format!(
            "negative duration `{text}`: durations must be >= 0"
        ));
    }
    if s.is_empty() {
        return Err("empty duration: expected e.g. \"90s\"".into());
    }
    let too_long = || {
        format!(
            "duration `{text}` is longer than the longest poolsim accepts ({}d)",
            MAX_DURATION.0 / 86_400_000
        )
    };
    let mut total: u64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| {
                format!("duration `{text}` lacks a unit: expected e.g. \"90s\" (ms, s, m, h, d)")
            })?;
        if digits == 0 {
            return Err(format!(
                "invalid duration `{text}`: expected e.g. \"90s\", \"15m\", \"1h30m\""
            ));
        }
        let number = &rest[..digits];
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale: u64 = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            other => {
                return Err(format!(
                    "unknown unit `{other}` in duration `{text}`: expected ms, s, m, h or d"
                ));
            }
        };
        rest = &rest[unit_len..];
        if number.bytes().filter(|&b| b == b'.').count() > 1 {
            return Err(format!("invalid number in duration `{text}`"));
        }
        let ms = scaled(number, scale).ok_or_else(too_long)?;
        total = total.checked_add(ms).ok_or_else(too_long)?;
    }
    if total > MAX_DURATION.0 {
        return Err(too_long());
    }
    Ok(Millis(total))
}

/// Formats a duration the way files write it (`"90s"`, `"1h30m"`, `"250ms"`).
pub fn format_duration(d: Millis) -> String {
    if d.0 == 0 {
        return "0s".into();
    }
    if !d.0.is_multiple_of(1000) {
        return format!("{}ms", d.0);
    }
    let mut s = d.0 / 1000;
    let mut out = String::new();
    for (unit, size) in [("h", 3600), ("m", 60), ("s", 1)] {
        if s >= size {
            out.push_str(&format!("{}{}", s / size, unit));
            s %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Millis(90_000)));
        assert_eq!(parse_duration("15m"), Ok(Millis(900_000)));
        assert_eq!(parse_duration("1h30m"), Ok(Millis(5_400_000)));
        assert_eq!(parse_duration("250ms"), Ok(Millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Millis(1_500)));
        assert!(parse_duration("-5s").unwrap_err().contains("negative"));
        assert!(parse_duration("90").unwrap_err().contains("unit"));
        assert!(parse_duration("90 sec").is_err());
        for d in [0, 250, 90_000, 5_400_000, 3_723_000] {
            assert_eq!(parse_duration(&format_duration(Millis(d))), Ok(Millis(d)));
        }
    }

    /// Issue 13, item 9: durations that wrapped or saturated are refused.
    #[test]
    fn durations_that_would_wrap_are_refused() {
        // Was accepted as 7199999 ms.
        assert!(
            parse_duration("18446744073709551615ms2h")
                .unwrap_err()
                .contains("longer than the longest")
        );
        // Was 2^64-1 ms.
        assert!(parse_duration("99999999999999999999d").is_err());
        assert_eq!(parse_duration("36500d"), Ok(MAX_DURATION));
        assert!(parse_duration("36501d").is_err());
        assert!(parse_duration("1.2.3s").is_err());
        assert_eq!(parse_duration(".5s"), Ok(Millis(500)));
    }
}
