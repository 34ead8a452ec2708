//! Durations as people write them, Kubernetes-style: `"250ms"`, `"90s"`,
//! `"15m"`, `"1h30m"`, `"1d"`, parsed to and printed from [`Millis`].

use crate::engine::Millis;

/// Parses `"250ms"`, `"90s"`, `"15m"`, `"2h"`, `"1d"` or a sum like `"1h30m"`.
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
        let number: f64 = rest[..digits]
            .parse()
            .map_err(|_| format!("invalid number in duration `{text}`"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ms" => 1.0,
            "s" => 1_000.0,
            "m" => 60_000.0,
            "h" => 3_600_000.0,
            "d" => 86_400_000.0,
            other => {
                return Err(format!(
                    "unknown unit `{other}` in duration `{text}`: expected ms, s, m, h or d"
                ));
            }
        };
        rest = &rest[unit_len..];
        total += (number * scale).round() as u64;
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
}
