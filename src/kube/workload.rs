//! Workloads (Deployments) and the services they provide to each other.
//!
//! A workload with `min_available` is a service. A workload that `needs`
//! services makes progress only while each has at least its minimum of
//! Running pods; otherwise its pods stall, still holding their requests.
//! That is what turns "system pods Pending" into a deadlock.

use std::collections::BTreeMap;

use crate::quantity::Resources;

use super::PodClass;

/// Index of a workload within a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WorkloadId(pub u16);

impl WorkloadId {
    /// Position in the run's workload table.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A Deployment as configured (validated), under one policy's placement.
#[derive(Debug, Clone)]
pub struct WorkloadSpec {
    /// Name, e.g. `coredns`.
    pub name: String,
    /// System or user.
    pub class: PodClass,
    /// Replicas the Deployment keeps.
    pub replicas: u32,
    /// Requests of each pod.
    pub requests: Resources,
    /// Labels a node must carry for its pods (nodeSelector).
    pub node_selector: BTreeMap<String, String>,
    /// Running pods needed for the service to be available; `None` if this
    /// workload is not a service.
    pub min_available: Option<u32>,
    /// Services (by workload index) its pods need to make progress.
    pub needs: Vec<WorkloadId>,
}

/// Run-time counters of a workload.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Configuration.
    pub spec: WorkloadSpec,
    /// Pods that exist (not deleted).
    pub live: u32,
    /// Pods Running on live nodes.
    pub running: u32,
    /// Pods Pending (unbound or starting).
    pub pending: u32,
    /// Needed services currently below their minimum.
    pub unmet_needs: u32,
    /// Workloads that need this one.
    pub dependents: Vec<WorkloadId>,
    /// Per pool: whether this workload's nodeSelector matches the pool's
    /// labels. Node labels come from their pool, so this is the whole
    /// NodeAffinity filter, computed once.
    pub fits_pool: Vec<bool>,
}

impl Workload {
    /// Whether this workload is a service that is below its minimum.
    pub fn is_unavailable(&self) -> bool {
        self.spec.min_available.is_some_and(|m| self.running < m)
    }

    /// Whether its pods make progress (every needed service available).
    pub fn progressing(&self) -> bool {
        self.unmet_needs == 0
    }
}
