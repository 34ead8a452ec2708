//! The Kubernetes side: nodes, pods, Deployments, the scheduler, the
//! controllers that react to lost nodes, and service dependencies.
//!
//! Kubernetes learns about machines only through [`Cluster::node_join`],
//! [`Cluster::instance_lost`] and [`Cluster::drain`] (a Spot interruption
//! notice handled like the AWS node termination handler); it never sees an
//! instance or an ASG.

mod cluster;
mod controllers;
mod diagnosis;
mod drain;
mod node;
mod pod;
pub mod scheduler;
mod workload;

pub use cluster::{Cluster, ClusterStatus, KubeConfig, KubeEvent};
pub use diagnosis::StallCause;
pub use node::{Node, NodeCondition, NodeId, NodeSpec, PoolId};
pub use pod::{Pod, PodClass, PodId, PodPhase, PodState, QueueSlot};
pub use workload::{Workload, WorkloadId, WorkloadSpec};
