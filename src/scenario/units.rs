//! Human-first quantities in scenario files: durations like `"90s"`, cpu like
//! `"500m"`, memory like `"2Gi"`, as Kubernetes writes them.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::engine::Millis;
use crate::quantity::{Bytes, MilliCpu};

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

/// Parses cpu as Kubernetes does: `"500m"`, `"2"`, `"1.5"`.
pub fn parse_cpu(text: &str) -> Result<MilliCpu, String> {
    let s = text.trim();
    let err = || format!("invalid cpu quantity `{text}`: expected e.g. \"500m\", \"2\" or \"1.5\"");
    if let Some(m) = s.strip_suffix('m') {
        return m.parse::<u64>().map(MilliCpu).map_err(|_| err());
    }
    let cores: f64 = s.parse().map_err(|_| err())?;
    if !(cores.is_finite() && cores >= 0.0) {
        return Err(err());
    }
    Ok(MilliCpu((cores * 1000.0).round() as u64))
}

/// Parses memory as Kubernetes does: `"512Mi"`, `"2Gi"`, `"1G"`, `"1000"`.
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
    let value: f64 = number.parse().map_err(|_| err())?;
    if !(value.is_finite() && value >= 0.0) {
        return Err(err());
    }
    Ok(Bytes((value * scale as f64).round() as u64))
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
}
