//! Human-first quantities in scenario files: durations like `"90s"`, cpu like
//! `"500m"`, memory like `"2Gi"`, as Kubernetes writes them.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::engine::Millis;
use crate::quantity::{Bytes, MilliCpu};

/// The longest duration a file may write (about 100 years): far beyond
/// any horizon, and small enough that sums of times never overflow.
pub const MAX_DURATION: Millis = Millis(100 * 365 * 86_400_000);

/// The most cpu one quantity may hold: a million cores.
pub const MAX_CPU: MilliCpu = MilliCpu(1_000_000_000);

/// The most memory one quantity may hold: 1 PiB.
pub const MAX_MEMORY: Bytes = Bytes(1 << 50);

/// A non-negative decimal number `int[.frac]` times `scale`, rounded to an
/// integer, with checked arithmetic; `None` if it is not such a number or
/// does not fit in a `u64`.
fn scaled(number: &str, scale: u64) -> Option<u64> {
    let (int, frac) = match number.split_once('.') {
        Some((i, f)) => (i, f),
        None => (number, ""),
    };
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole = if int.is_empty() {
        0
    } else {
        int.parse::<u64>().ok()?.checked_mul(scale)?
    };
    // The fraction is below 1, so its share is below `scale`: f64 is exact
    // enough for the rounding.
    let part = if frac.is_empty() {
        0
    } else {
        let f: f64 = format!("0.{frac}").parse().ok()?;
        (f * scale as f64).round() as u64
    };
    whole.checked_add(part)
}

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

/// Parses cpu as Kubernetes does: `"500m"`, `"2"`, `"1.5"`; at most
/// [`MAX_CPU`].
pub fn parse_cpu(text: &str) -> Result<MilliCpu, String> {
    let s = text.trim();
    let err = || format!("invalid cpu quantity `{text}`: expected e.g. \"500m\", \"2\" or \"1.5\"");
    let (number, scale) = match s.strip_suffix('m') {
        Some(m) => (m, 1),
        None => (s, 1000),
    };
    let dots = number.bytes().filter(|&b| b == b'.').count();
    if number.is_empty()
        || !number.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        || dots > usize::from(scale == 1000)
    {
        return Err(err());
    }
    match scaled(number, scale) {
        Some(m) if m <= MAX_CPU.0 => Ok(MilliCpu(m)),
        _ => Err(format!(
            "cpu quantity `{text}` is more than the most poolsim accepts ({} cores)",
            MAX_CPU.0 / 1000
        )),
    }
}

/// Parses memory as Kubernetes does: `"512Mi"`, `"2Gi"`, `"1G"`, `"1000"`;
/// at most [`MAX_MEMORY`].
pub fn parse_memory(text: &str) -> Result<Bytes, String> {
    let s = text.trim();
    let err = || {
        format!(
            "invalid memory quantity `{text}`: expected e.g. \"512Mi\", \"2Gi\" or a number of bytes"
        )
    };
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    let scale: u64 = match suffix {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        _ => return Err(err()),
    };
    if number.is_empty() || number.bytes().filter(|&b| b == b'.').count() > 1 {
        return Err(err());
    }
    match scaled(number, scale) {
        Some(b) if b <= MAX_MEMORY.0 => Ok(Bytes(b)),
        _ => Err(format!(
            "memory quantity `{text}` is more than the most poolsim accepts (1Pi = {} bytes)",
            MAX_MEMORY.0
        )),
    }
}

/// Formats memory with the largest exact binary suffix.
pub fn format_memory(b: Bytes) -> String {
    b.to_string()
}

macro_rules! text_quantity {
    ($name:ident, $inner:ty, $parse:ident, $format:expr, $what:literal) => {
        #[doc = concat!("A ", $what, " as written in a scenario file.")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name(pub $inner);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str(concat!("a ", $what, " string"))
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$name, E> {
                        $parse(v).map($name).map_err(E::custom)
                    }
                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<$name, E> {
                        $parse(&v.to_string()).map($name).map_err(E::custom)
                    }
                    fn visit_f64<E: de::Error>(self, v: f64) -> Result<$name, E> {
                        $parse(&v.to_string()).map($name).map_err(E::custom)
                    }
                }
                d.deserialize_any(V)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&($format)(self.0))
            }
        }
    };
}

text_quantity!(
    DurationText,
    Millis,
    parse_duration,
    format_duration,
    "duration"
);
text_quantity!(
    CpuText,
    MilliCpu,
    parse_cpu,
    |c: MilliCpu| c.to_string(),
    "cpu quantity"
);
text_quantity!(
    MemoryText,
    Bytes,
    parse_memory,
    format_memory,
    "memory quantity"
);

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

    #[test]
    fn cpu_and_memory() {
        assert_eq!(parse_cpu("500m"), Ok(MilliCpu(500)));
        assert_eq!(parse_cpu("2"), Ok(MilliCpu(2000)));
        assert_eq!(parse_cpu("1.5"), Ok(MilliCpu(1500)));
        assert!(parse_cpu("2 cores").is_err());
        assert_eq!(parse_memory("2Gi"), Ok(Bytes(2 << 30)));
        assert_eq!(parse_memory("512Mi"), Ok(Bytes(512 << 20)));
        assert_eq!(parse_memory("1G"), Ok(Bytes(1_000_000_000)));
        assert!(parse_memory("2GB").is_err());
    }

    /// Issue 13, item 9: values that wrapped or saturated are refused.
    #[test]
    fn values_that_would_wrap_are_refused() {
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
        // Was shown as 18446744073709551615.
        assert!(
            parse_memory("18446744073709551616Mi")
                .unwrap_err()
                .contains("more than the most")
        );
        assert!(parse_memory("2048Ti").is_err());
        assert_eq!(parse_memory("1024Ti"), Ok(MAX_MEMORY));
        assert!(parse_cpu("1000001").is_err());
        assert_eq!(parse_cpu("1000000"), Ok(MAX_CPU));
        assert!(parse_cpu("99999999999999999999999m").is_err());
        assert!(parse_cpu("1.5m").is_err());
        assert!(parse_cpu("m").is_err());
    }
}
