//! A swept key's values as a figure axis: plain numbers, durations (`30s`,
//! `1m30s`) and quantities (`500m` cpu, `2Gi` memory) on a numeric axis in
//! their unit; anything else (names, booleans, mixed values) as categories
//! in grid order.

use crate::quantity::{parse_cpu, parse_duration, parse_memory};

/// How a swept key's values are placed on an axis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AxisKind {
    /// Plain numbers.
    Number,
    /// Durations, shown in `unit` (seconds per unit).
    Duration {
        /// Seconds per axis unit (1, 60 or 3600).
        per_unit: f64,
    },
    /// Cpu quantities, in cores.
    Cpu,
    /// Memory quantities, in `per_unit` bytes (MiB or GiB).
    Memory {
        /// Bytes per axis unit.
        per_unit: f64,
    },
    /// Names, placed at 0, 1, 2... in grid order.
    Category,
}

/// A swept key, its distinct values in grid order, and where each goes.
#[derive(Debug, Clone)]
pub struct ParamAxis {
    /// The dotted key, as in the CSV header.
    pub key: String,
    /// How values are placed.
    pub kind: AxisKind,
    /// Distinct values in order of first appearance.
    pub values: Vec<String>,
}

fn parse_seconds(v: &str) -> Option<f64> {
    if v.trim() == "0" {
        return Some(0.0);
    }
    parse_duration(v).ok().map(|d| d.as_secs_f64())
}

fn cpu_cores(v: &str) -> Option<f64> {
    parse_cpu(v).ok().map(|c| c.0 as f64 / 1000.0)
}

fn memory_bytes(v: &str) -> Option<f64> {
    parse_memory(v).ok().map(|b| b.0 as f64)
}

impl ParamAxis {
    /// The axis for `key` with `values` (repeats allowed; order kept).
    pub fn new(key: &str, values: impl IntoIterator<Item = String>) -> Self {
        let mut distinct: Vec<String> = Vec::new();
        for v in values {
            if !distinct.contains(&v) {
                distinct.push(v);
            }
        }
        let all = |f: fn(&str) -> Option<f64>| -> Option<f64> {
            let xs: Option<Vec<f64>> = distinct.iter().map(|v| f(v)).collect();
            xs.filter(|x| !x.is_empty())
                .map(|x| x.into_iter().fold(0.0, f64::max))
        };
        let last = key.rsplit('.').next().unwrap_or(key);
        let memory = |max: f64| AxisKind::Memory {
            per_unit: if max >= (1u64 << 30) as f64 {
                (1u64 << 30) as f64
            } else {
                (1u64 << 20) as f64
            },
        };
        let kind = if last == "cpu" && all(cpu_cores).is_some() {
            AxisKind::Cpu
        } else if last == "memory"
            && let Some(max) = all(memory_bytes)
        {
            memory(max)
        } else if all(|v| v.parse::<f64>().ok().filter(|x| x.is_finite())).is_some() {
            AxisKind::Number
        } else if let Some(max) = all(parse_seconds) {
            AxisKind::Duration {
                per_unit: if max >= 7200.0 {
                    3600.0
                } else if max >= 600.0 {
                    60.0
                } else {
                    1.0
                },
            }
        } else if all(cpu_cores).is_some() {
            AxisKind::Cpu
        } else if let Some(max) = all(memory_bytes) {
            memory(max)
        } else {
            AxisKind::Category
        };
        ParamAxis {
            key: key.to_string(),
            kind,
            values: distinct,
        }
    }

    /// Where `value` goes on the axis (`None` if it is not one of the values
    /// or does not parse).
    pub fn position(&self, value: &str) -> Option<f64> {
        match self.kind {
            AxisKind::Number => value.parse().ok(),
            AxisKind::Duration { per_unit } => parse_seconds(value).map(|s| s / per_unit),
            AxisKind::Cpu => cpu_cores(value),
            AxisKind::Memory { per_unit } => memory_bytes(value).map(|b| b / per_unit),
            AxisKind::Category => self
                .values
                .iter()
                .position(|v| v == value)
                .map(|i| i as f64),
        }
    }

    /// The axis title: the key and its unit.
    pub fn label(&self) -> String {
        let unit = match self.kind {
            AxisKind::Number | AxisKind::Category => return self.key.clone(),
            AxisKind::Duration { per_unit } if per_unit >= 3600.0 => "h",
            AxisKind::Duration { per_unit } if per_unit >= 60.0 => "min",
            AxisKind::Duration { .. } => "s",
            AxisKind::Cpu => "cores",
            AxisKind::Memory { per_unit } if per_unit >= (1u64 << 30) as f64 => "GiB",
            AxisKind::Memory { .. } => "MiB",
        };
        format!("{} ({unit})", self.key)
    }

    /// Category names, for a category axis; empty otherwise.
    pub fn categories(&self) -> Vec<String> {
        match self.kind {
            AxisKind::Category => self.values.clone(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axis(key: &str, values: &[&str]) -> ParamAxis {
        ParamAxis::new(key, values.iter().map(|v| v.to_string()))
    }

    #[test]
    fn durations_go_on_a_numeric_axis_in_their_unit() {
        let a = axis(
            "instances.launch_delay.median",
            &["30s", "1m", "1m30s", "1m"],
        );
        assert_eq!(a.kind, AxisKind::Duration { per_unit: 1.0 });
        assert_eq!(a.values, ["30s", "1m", "1m30s"]);
        assert_eq!(a.position("1m30s"), Some(90.0));
        assert_eq!(a.label(), "instances.launch_delay.median (s)");
        let long = axis("faults.0.at", &["0", "30m", "2h"]);
        assert_eq!(long.position("30m"), Some(0.5));
        assert_eq!(long.position("0"), Some(0.0));
        assert_eq!(long.label(), "faults.0.at (h)");
    }

    #[test]
    fn quantities_go_on_a_numeric_axis_in_their_unit() {
        let cpu = axis("workloads.api.cpu", &["500m", "1", "2"]);
        assert_eq!(cpu.kind, AxisKind::Cpu);
        assert_eq!(
            ["500m", "1", "2"].map(|v| cpu.position(v)),
            [Some(0.5), Some(1.0), Some(2.0)]
        );
        assert_eq!(cpu.label(), "workloads.api.cpu (cores)");
        let mem = axis("workloads.api.memory", &["512Mi", "1Gi", "2Gi"]);
        assert_eq!(mem.position("512Mi"), Some(0.5));
        assert_eq!(mem.label(), "workloads.api.memory (GiB)");
    }

    #[test]
    fn numbers_stay_numbers_and_names_become_categories_in_grid_order() {
        let n = axis("workloads.worker.replicas", &["0", "50", "400"]);
        assert_eq!(n.kind, AxisKind::Number);
        assert_eq!(n.position("400"), Some(400.0));
        let c = axis(
            "policies.x.expander",
            &["random", "least-waste", "priority"],
        );
        assert_eq!(c.kind, AxisKind::Category);
        assert_eq!(c.position("priority"), Some(2.0));
        assert_eq!(c.categories(), ["random", "least-waste", "priority"]);
        // A number next to a name: categories, not a lost point.
        let mixed = axis("k", &["1", "lots"]);
        assert_eq!(mixed.kind, AxisKind::Category);
    }
}
