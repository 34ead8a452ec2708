//! Typed quantities shared by every layer above the engine: cpu, memory,
//! durations and delay distributions, with the text forms scenario files and
//! reports use.
//!
//! Kubernetes accounts cpu in millicores and memory in bytes, with integer
//! arithmetic; so do we, so that fit checks and scores match the real
//! scheduler's truncation exactly. Durations are the engine's [`Millis`]
//! written Kubernetes-style (`"90s"`, `"1h30m"`), and a [`Delay`] is a
//! distribution of them (launch, boot, pod start, a Job's work).
//!
//! This module sits directly above `engine` in the module order
//! (`ARCHITECTURE.md`, "Dependencies between modules"): `cloud`, `kube`,
//! `scenario` and the rest use it, and it uses nothing of theirs, so the
//! cloud and the cluster can share a type without importing each other.
//!
//! [`Millis`]: crate::engine::Millis

mod delay;
mod duration;

pub use delay::Delay;
pub use duration::{format_duration, parse_duration};

use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};

/// CPU in thousandths of a core (`"500m"` is 500, `"2"` is 2000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct MilliCpu(pub u64);

/// Memory in bytes (`"2Gi"` is 2 147 483 648).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Bytes(pub u64);

impl Bytes {
    /// One mebibyte.
    pub const MI: u64 = 1 << 20;
    /// One gibibyte.
    pub const GI: u64 = 1 << 30;
}

macro_rules! quantity_ops {
    ($t:ident) => {
        impl Add for $t {
            type Output = $t;
            fn add(self, rhs: $t) -> $t {
                $t(self.0 + rhs.0)
            }
        }
        impl AddAssign for $t {
            fn add_assign(&mut self, rhs: $t) {
                self.0 += rhs.0;
            }
        }
        impl Sub for $t {
            type Output = $t;
            fn sub(self, rhs: $t) -> $t {
                $t(self.0 - rhs.0)
            }
        }
        impl SubAssign for $t {
            fn sub_assign(&mut self, rhs: $t) {
                self.0 -= rhs.0;
            }
        }
    };
}
quantity_ops!(MilliCpu);
quantity_ops!(Bytes);

impl fmt::Display for MilliCpu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_multiple_of(1000) {
            write!(f, "{}", self.0 / 1000)
        } else {
            write!(f, "{}m", self.0)
        }
    }
}

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let units = [
            ("Ti", 1u64 << 40),
            ("Gi", 1 << 30),
            ("Mi", 1 << 20),
            ("Ki", 1 << 10),
        ];
        for (suffix, size) in units {
            if self.0 >= size && self.0.is_multiple_of(size) {
                return write!(f, "{}{}", self.0 / size, suffix);
            }
        }
        write!(f, "{}", self.0)
    }
}

/// A pair of cpu and memory, as in a pod's requests or a node's allocatable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Resources {
    /// CPU.
    pub cpu: MilliCpu,
    /// Memory.
    pub memory: Bytes,
}

impl Resources {
    /// Both quantities.
    pub fn new(cpu: MilliCpu, memory: Bytes) -> Self {
        Resources { cpu, memory }
    }

    /// Whether `self` fits within `room` on both resources.
    pub fn fits_in(&self, room: &Resources) -> bool {
        self.cpu <= room.cpu && self.memory <= room.memory
    }
}

impl Add for Resources {
    type Output = Resources;
    fn add(self, rhs: Resources) -> Resources {
        Resources::new(self.cpu + rhs.cpu, self.memory + rhs.memory)
    }
}
impl AddAssign for Resources {
    fn add_assign(&mut self, rhs: Resources) {
        self.cpu += rhs.cpu;
        self.memory += rhs.memory;
    }
}
impl Sub for Resources {
    type Output = Resources;
    fn sub(self, rhs: Resources) -> Resources {
        Resources::new(self.cpu - rhs.cpu, self.memory - rhs.memory)
    }
}
impl SubAssign for Resources {
    fn sub_assign(&mut self, rhs: Resources) {
        self.cpu -= rhs.cpu;
        self.memory -= rhs.memory;
    }
}

impl fmt::Display for Resources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cpu={} memory={}", self.cpu, self.memory)
    }
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

#[cfg(test)]
mod text_tests {
    use super::*;

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
