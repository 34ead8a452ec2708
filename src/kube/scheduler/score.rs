//! Score plugins, with kube-scheduler's integer formulas (`FIDELITY.md` §5).

use crate::kube::{Node, Pod};
use crate::quantity::{Bytes, MilliCpu, Resources};

use super::ScoringStrategy;

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

pub(super) fn total(pod: &Pod, node: &Node, strategy: ScoringStrategy) -> NodeScore {
    let alloc = node.spec.allocatable;
    let fit_requested = node.requested_for_scoring + non_zero(pod.requests);
    let fit = match strategy {
        ScoringStrategy::LeastAllocated => least_allocated(alloc, fit_requested),
        ScoringStrategy::MostAllocated => most_allocated(alloc, fit_requested),
    };
    let balanced = if pod.requests == Resources::default() {
        // BalancedAllocation skips BestEffort pods.
        0
    } else {
        balanced_allocation(alloc, node.requested + pod.requests)
    };
    fit + balanced
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

    /// f_cpu = 0.75, f_mem = 0.125: std = 0.3125, (1 - 0.3125) * 100 = 68.75 -> 68.
    #[test]
    fn balanced_allocation_hand_worked() {
        assert_eq!(balanced_allocation(r(4000, 8192), r(3000, 1024)), 68);
        assert_eq!(balanced_allocation(r(4000, 8192), r(2000, 4096)), 100);
    }
}
