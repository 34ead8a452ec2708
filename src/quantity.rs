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
mod pod;

pub use delay::Delay;
pub use duration::{MAX_DURATION, format_duration, parse_duration};
pub use pod::{Container, pod_requests};

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

/// A pod's requests or a node's allocatable: cpu, memory and the extended
/// resource `nvidia.com/gpu` (a count; 0 for pods and nodes without GPUs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Resources {
    /// CPU.
    pub cpu: MilliCpu,
    /// Memory.
    pub memory: Bytes,
    /// `nvidia.com/gpu`, whole devices (at most [`MAX_GPU`] in a parsed
    /// quantity).
    pub gpu: u32,
}

impl Resources {
    /// cpu and memory, no GPU.
    pub fn new(cpu: MilliCpu, memory: Bytes) -> Self {
        Resources {
            cpu,
            memory,
            gpu: 0,
        }
    }

    /// The same with `gpu` GPUs.
    pub fn with_gpu(self, gpu: u32) -> Self {
        Resources { gpu, ..self }
    }

    /// Whether `self` fits within `room` on every resource.
    pub fn fits_in(&self, room: &Resources) -> bool {
        self.cpu <= room.cpu && self.memory <= room.memory && self.gpu <= room.gpu
    }

    /// The sum, or `None` if a resource would wrap.
    pub fn checked_add(self, rhs: Resources) -> Option<Resources> {
        Some(Resources {
            cpu: MilliCpu(self.cpu.0.checked_add(rhs.cpu.0)?),
            memory: Bytes(self.memory.0.checked_add(rhs.memory.0)?),
            gpu: self.gpu.checked_add(rhs.gpu)?,
        })
    }

    /// The larger of the two, per resource.
    pub fn max_each(self, rhs: Resources) -> Resources {
        Resources {
            cpu: self.cpu.max(rhs.cpu),
            memory: self.memory.max(rhs.memory),
            gpu: self.gpu.max(rhs.gpu),
        }
    }
}

impl Add for Resources {
    type Output = Resources;
    fn add(self, rhs: Resources) -> Resources {
        Resources {
            cpu: self.cpu + rhs.cpu,
            memory: self.memory + rhs.memory,
            gpu: self.gpu + rhs.gpu,
        }
    }
}
impl AddAssign for Resources {
    fn add_assign(&mut self, rhs: Resources) {
        self.cpu += rhs.cpu;
        self.memory += rhs.memory;
        self.gpu += rhs.gpu;
    }
}
impl Sub for Resources {
    type Output = Resources;
    fn sub(self, rhs: Resources) -> Resources {
        Resources {
            cpu: self.cpu - rhs.cpu,
            memory: self.memory - rhs.memory,
            gpu: self.gpu - rhs.gpu,
        }
    }
}
impl SubAssign for Resources {
    fn sub_assign(&mut self, rhs: Resources) {
        self.cpu -= rhs.cpu;
        self.memory -= rhs.memory;
        self.gpu -= rhs.gpu;
    }
}

impl fmt::Display for Resources {
    /// `cpu=2 memory=4Gi`, with ` nvidia.com/gpu=N` when there are GPUs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cpu={} memory={}", self.cpu, self.memory)?;
        if self.gpu > 0 {
            write!(f, " nvidia.com/gpu={}", self.gpu)?;
        }
        Ok(())
    }
}

/// The most GPUs one quantity (a container's request, a pod's effective
/// request, an instance type's devices) may hold. The scheduler's
/// snapshot keeps a node's free GPUs in a byte, exactly, because of it.
pub const MAX_GPU: u32 = 255;

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

    /// Issue 13, item 9: quantities that wrapped or saturated are refused.
    #[test]
    fn quantities_that_would_wrap_are_refused() {
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
