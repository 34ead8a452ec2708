//! Typed resource quantities shared by the cloud and Kubernetes layers.
//!
//! Kubernetes accounts cpu in millicores and memory in bytes, with integer
//! arithmetic; so do we, so that fit checks and scores match the real
//! scheduler's truncation exactly.

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
