//! The Kubernetes side: nodes, pods, Deployments, the scheduler, the
//! controllers that react to lost nodes, and service dependencies.
//!
//! Kubernetes learns about machines only through [`Cluster::node_join`],
//! [`Cluster::instance_unreachable`] (heartbeats stop),
//! [`Cluster::instance_gone`] (the instance no longer exists) and
//! [`Cluster::drain`] (a Spot interruption
//! notice handled like the AWS node termination handler); it never sees an
//! instance or an ASG. The cluster autoscaler ([`autoscaler`]) reads node
//! groups from a snapshot the world builds and answers with actions the
//! world applies.

pub mod affinity;
pub mod autoscaler;
mod cluster;
mod config;
mod controllers;
mod daemonset;
mod diagnosis;
mod drain;
mod events;
mod explain;
pub mod job;
mod journal;
mod node;
mod node_lifecycle;
mod node_table;
mod pod;
mod replicaset;
pub mod scheduler;
mod scheduling;
mod statefulset;
mod streams;
pub mod taint;
pub mod topology;
pub mod version;
mod volume;
mod webhook;
mod workload;

pub use affinity::NodeAffinity;
pub use cluster::{Cluster, ClusterStatus, MAX_PODS_CREATED};
pub use config::KubeConfig;
pub use diagnosis::StallCause;
pub use events::KubeEvent;
pub use explain::{HeldNode, Holder, PendingPod, Rejection, StallReport};
pub use journal::KubeRecord;
pub use node::{Node, NodeCondition, NodeId, NodeSpec, PoolId, PoolInfo};
pub use pod::{Pod, PodClass, PodId, PodPhase, PodState, QueueSlot};
pub use statefulset::{Ordinal, PodManagementPolicy, StatefulSetSpec, StatefulState};
pub use taint::{Taint, TaintEffect, Toleration};
pub use topology::{
    PodAffinity, PodAffinityTerm, SpreadConstraint, TopologyKey, WeightedPodAffinityTerm,
};
pub use version::{FeatureGate, KubeVersion};
pub use volume::VolumeClaim;
pub use workload::{
    Pdb, PoolVerdict, PreemptionPolicy, Workload, WorkloadId, WorkloadKind, WorkloadSpec,
};
