//! Score plugins, with kube-scheduler's integer formulas (`docs/fidelity.md`,
//! "Scheduler"): NodeResourcesFit (`plugins/noderesources/least_allocated.go`,
//! `most_allocated.go`, `requested_to_capacity_ratio.go`), BalancedAllocation
//! (`balanced_allocation.go`), and the normalised TaintToleration and
//! NodeAffinity scores (`plugins/tainttoleration`, `plugins/nodeaffinity`).
//! Weights are the defaults of `apis/config/v1/default_plugins.go`.

use crate::kube::{Node, Pod};
use crate::quantity::{Bytes, MilliCpu, Resources};

use super::ScoringStrategy;

/// `MaxNodeScore`.
pub const MAX_NODE_SCORE: i64 = 100;
/// Default weight of NodeResourcesFit.
pub const WEIGHT_FIT: i64 = 1;
/// Default weight of NodeResourcesBalancedAllocation.
pub const WEIGHT_BALANCED: i64 = 1;
/// Default weight of TaintToleration.
pub const WEIGHT_TAINT: i64 = 3;
/// Default weight of NodeAffinity.
pub const WEIGHT_AFFINITY: i64 = 2;

/// A point of a RequestedToCapacityRatio shape: utilization 0-100, score
/// 0-10.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShapePoint {
    /// Utilization in percent.
    pub utilization: i64,
    /// Score, 0-10.
    pub score: i64,
}

/// A node's total score; higher is better.
pub type NodeScore = i64;

/// Requests the scheduler assumes for scoring when a pod requests nothing
/// (`DefaultMilliCPURequest`, `DefaultMemoryRequest` in pkg/scheduler/util).
pub const NON_ZERO_CPU: MilliCpu = MilliCpu(100);
/// See [`NON_ZERO_CPU`]; 200 MB.
pub const NON_ZERO_MEMORY: Bytes = Bytes(200 * 1024 * 1024);

/// A pod's requests with the non-zero defaults substituted, for scoring.
pub fn non_zero(r: Resources) -> Resources {
    Resources::new(
        if r.cpu.0 == 0 { NON_ZERO_CPU } else { r.cpu },
        if r.memory.0 == 0 {
            NON_ZERO_MEMORY
        } else {
            r.memory
        },
    )
}

/// NodeResourcesFit times its weight plus BalancedAllocation times its
/// weight: the resource part of a node's score.
pub(super) fn resources_score(
    pod: &Pod,
    node: &Node,
    strategy: ScoringStrategy,
    shape: &[ShapePoint],
) -> NodeScore {
    resources_score_of(pod.requests, node, strategy, shape)
}

/// [`resources_score`] of a pod requesting `requests`.
pub(super) fn resources_score_of(
    requests: Resources,
    node: &Node,
    strategy: ScoringStrategy,
    shape: &[ShapePoint],
) -> NodeScore {
    let alloc = node.spec.allocatable;
    let fit_requested = node.requested_for_scoring + non_zero(requests);
    let fit = match strategy {
        ScoringStrategy::LeastAllocated => least_allocated(alloc, fit_requested),
        ScoringStrategy::MostAllocated => most_allocated(alloc, fit_requested),
        ScoringStrategy::RequestedToCapacityRatio => {
            requested_to_capacity_ratio(alloc, fit_requested, shape)
        }
    };
    let balanced = if requests == Resources::default() {
        // BalancedAllocation skips BestEffort pods.
        0
    } else {
        balanced_allocation(alloc, node.requested + requests)
    };
    WEIGHT_FIT * fit + WEIGHT_BALANCED * balanced
}

/// TaintToleration's NormalizeScore (reverse): `100 - raw * 100 / max_raw`,
/// or 100 for every node when no node has an untolerated PreferNoSchedule
/// taint.
pub fn taint_normalized(raw: i64, max_raw: i64) -> NodeScore {
    if max_raw == 0 {
        MAX_NODE_SCORE
    } else {
        MAX_NODE_SCORE - raw * MAX_NODE_SCORE / max_raw
    }
}

/// NodeAffinity's NormalizeScore: `raw * 100 / max_raw`, 0 when no node
/// matches a preferred term.
pub fn affinity_normalized(raw: i64, max_raw: i64) -> NodeScore {
    if max_raw == 0 {
        0
    } else {
        raw * MAX_NODE_SCORE / max_raw
    }
}

/// The broken-linear function of a shape, scaled to 0-100
/// (`helper.BuildBrokenLinearFunction`, shape scores times 10).
fn broken_linear(shape: &[ShapePoint], p: i64) -> i64 {
    for i in 0..shape.len() {
        let (u, s) = (shape[i].utilization, shape[i].score * 10);
        if p <= u {
            if i == 0 {
                return s;
            }
            let (u0, s0) = (shape[i - 1].utilization, shape[i - 1].score * 10);
            return s0 + (s - s0) * (p - u0) / (u - u0);
        }
    }
    shape.last().map_or(0, |l| l.score * 10)
}

/// RequestedToCapacityRatio: per resource `f(req * 100 / alloc)` (100 when
/// over), averaged with weights 1 over resources scoring above 0, rounded.
pub fn requested_to_capacity_ratio(
    alloc: Resources,
    req: Resources,
    shape: &[ShapePoint],
) -> NodeScore {
    let mut sum = 0;
    let mut weights = 0;
    for (a, r) in [(alloc.cpu.0, req.cpu.0), (alloc.memory.0, req.memory.0)] {
        if a == 0 {
            continue;
        }
        let util = if r > a { 100 } else { (r * 100 / a) as i64 };
        let s = broken_linear(shape, util);
        if s > 0 {
            sum += s;
            weights += 1;
        }
    }
    if weights == 0 {
        0
    } else {
        (sum as f64 / weights as f64).round() as NodeScore
    }
}

fn per_resource(alloc: Resources, req: Resources, f: impl Fn(u64, u64) -> i64) -> NodeScore {
    let mut sum = 0;
    let mut weights = 0;
    for (a, r) in [(alloc.cpu.0, req.cpu.0), (alloc.memory.0, req.memory.0)] {
        if a == 0 {
            continue;
        }
        sum += f(a, r);
        weights += 1;
    }
    if weights == 0 { 0 } else { sum / weights }
}

/// LeastAllocated: `(alloc - req) * 100 / alloc` per resource (0 when over),
/// averaged with weights 1.
pub fn least_allocated(alloc: Resources, req: Resources) -> NodeScore {
    per_resource(alloc, req, |a, r| {
        if r > a { 0 } else { ((a - r) * 100 / a) as i64 }
    })
}

/// MostAllocated: `min(req, alloc) * 100 / alloc` per resource, averaged.
pub fn most_allocated(alloc: Resources, req: Resources) -> NodeScore {
    per_resource(alloc, req, |a, r| (r.min(a) * 100 / a) as i64)
}

/// BalancedAllocation for cpu and memory: `(1 - |f_cpu - f_mem| / 2) * 100`,
/// truncated, where `f = min(1, req / alloc)`.
pub fn balanced_allocation(alloc: Resources, req: Resources) -> NodeScore {
    let frac = |r: u64, a: u64| {
        if a == 0 {
            0.0
        } else {
            (r as f64 / a as f64).min(1.0)
        }
    };
    let f_cpu = frac(req.cpu.0, alloc.cpu.0);
    let f_mem = frac(req.memory.0, alloc.memory.0);
    let std = (f_cpu - f_mem).abs() / 2.0;
    ((1.0 - std) * 100.0) as NodeScore
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(cpu: u64, mem_mi: u64) -> Resources {
        Resources::new(MilliCpu(cpu), Bytes(mem_mi * Bytes::MI))
    }

    /// Node 4000m / 8192Mi, requested 1000m / 2048Mi after adding the pod:
    /// cpu (4000-1000)*100/4000 = 75, memory (8192-2048)*100/8192 = 75;
    /// mean 75.
    #[test]
    fn least_allocated_hand_worked() {
        assert_eq!(least_allocated(r(4000, 8192), r(1000, 2048)), 75);
        // cpu 3000 -> 25, memory 1024 -> 87 (7168*100/8192 = 87.5, truncated);
        // (25 + 87) / 2 = 56.
        assert_eq!(least_allocated(r(4000, 8192), r(3000, 1024)), 56);
        // Over-committed resources score 0.
        assert_eq!(least_allocated(r(4000, 8192), r(5000, 8192)), 0);
    }

    /// cpu 3000/4000 = 75, memory 1024/8192 = 12 (12.5 truncated); 87/2 = 43.
    #[test]
    fn most_allocated_hand_worked() {
        assert_eq!(most_allocated(r(4000, 8192), r(3000, 1024)), 43);
    }

    /// Shape (0,0), (100,10), i.e. 0 -> 0 and 100 -> 100: cpu 3000/4000 =
    /// 75 -> 75; memory 1024*100/8192 = 12 -> 12; (75 + 12) / 2 = 43.5,
    /// rounded to 44. With shape (0,10), (100,0): cpu 25, memory 88;
    /// (25 + 88) / 2 = 56.5 -> 57.
    #[test]
    fn requested_to_capacity_ratio_hand_worked() {
        let pack = [
            ShapePoint {
                utilization: 0,
                score: 0,
            },
            ShapePoint {
                utilization: 100,
                score: 10,
            },
        ];
        assert_eq!(
            requested_to_capacity_ratio(r(4000, 8192), r(3000, 1024), &pack),
            44
        );
        let spread = [
            ShapePoint {
                utilization: 0,
                score: 10,
            },
            ShapePoint {
                utilization: 100,
                score: 0,
            },
        ];
        assert_eq!(
            requested_to_capacity_ratio(r(4000, 8192), r(3000, 1024), &spread),
            57
        );
        // Normalisations: 1 untolerated taint of at most 2 -> 100 - 50 = 50;
        // preferred weight 30 of at most 80 -> 3000 / 80 = 37 (37.5).
        assert_eq!(taint_normalized(1, 2), 50);
        assert_eq!(taint_normalized(0, 0), 100);
        assert_eq!(affinity_normalized(30, 80), 37);
    }

    /// f_cpu = 0.75, f_mem = 0.125: std = 0.3125, (1 - 0.3125) * 100 = 68.75 -> 68.
    #[test]
    fn balanced_allocation_hand_worked() {
        assert_eq!(balanced_allocation(r(4000, 8192), r(3000, 1024)), 68);
        assert_eq!(balanced_allocation(r(4000, 8192), r(2000, 4096)), 100);
    }
}
