//! The control plane's timings and settings ([`KubeConfig`]).

use crate::engine::Millis;
use crate::quantity::Delay;

use super::scheduler::SchedulerConfig;

/// Timings of the control plane; defaults are Kubernetes' of the newest
/// version modelled (`docs/fidelity.md`, "Node lifecycle", "Controllers"
/// and "Scheduler queue").
#[derive(Debug, Clone, PartialEq)]
pub struct KubeConfig {
    /// `node-monitor-period` (5 s).
    pub node_monitor_period: Millis,
    /// `node-monitor-grace-period`: 40 s up to 1.31, 50 s from 1.32
    /// ([`super::KubeVersion::node_monitor_grace_period`]).
    pub node_monitor_grace_period: Millis,
    /// How often a kubelet renews its node's Lease: 10 s,
    /// `nodeLeaseDurationSeconds` 40 s times the renew fraction 0.25. A
    /// machine stops at a uniformly random point of its renewal cycle; 0
    /// means the Lease was renewed at the instant it stopped.
    pub node_lease_renew_interval: Millis,
    /// PodGC loop period (20 s).
    pub pod_gc_period: Millis,
    /// How long PodGC waits after a node is gone before deleting its pods
    /// (40 s orphan quarantine).
    pub pod_gc_quarantine: Millis,
    /// From a pod's deletion to its controller creating a replacement
    /// (UNCONFIRMED; default 1 s).
    pub controller_delay: Millis,
    /// Spacing of successive pod creations by controllers once their burst
    /// is spent: 50 ms, i.e. kube-controller-manager's default
    /// `--kube-api-qps` of 20 (managed control planes often raise it).
    pub pod_create_interval: Millis,
    /// Creations allowed at once before the rate applies:
    /// `--kube-api-burst`, 30. Each controller has its own API client, so
    /// its own bucket.
    pub pod_create_burst: u32,
    /// `--concurrent-replicaset-syncs` (5): ReplicaSets synced at once.
    pub concurrent_replicaset_syncs: u32,
    /// `burstReplicas` (500): most pods one ReplicaSet sync creates.
    pub replicaset_burst: u32,
    /// From binding to containers running (image pull, start).
    pub pod_startup: Delay,
    /// How long an instance still counts as existing for the cloud node
    /// lifecycle controller after EC2 reports it `terminated` (default 0 s:
    /// cloud-provider-aws answers from `DescribeInstances`, which reports
    /// the state at once; the Node goes at the first pass after that).
    pub terminated_instance_visible_for: Millis,
    /// `--node-eviction-rate`: NoExecute taints per second per zone (0.1).
    pub node_eviction_rate: f64,
    /// `--secondary-node-eviction-rate` (0.01), for partially disrupted
    /// zones larger than `large_cluster_size_threshold`.
    pub secondary_node_eviction_rate: f64,
    /// `--large-cluster-size-threshold` (50).
    pub large_cluster_size_threshold: u32,
    /// `--unhealthy-zone-threshold` (0.55).
    pub unhealthy_zone_threshold: f64,
    /// `--default-unreachable-toleration-seconds` (300 s).
    pub default_toleration_seconds: Millis,
    /// First retry of a failed controller sync (work queue rate limiter:
    /// 5 ms).
    pub controller_retry_initial: Millis,
    /// Longest retry of a failed controller sync (1000 s).
    pub controller_retry_max: Millis,
    /// Scheduler settings.
    pub scheduler: SchedulerConfig,
}

impl Default for KubeConfig {
    fn default() -> Self {
        KubeConfig {
            node_monitor_period: Millis::from_secs(5),
            node_monitor_grace_period: super::KubeVersion::NEWEST.node_monitor_grace_period(),
            node_lease_renew_interval: Millis::from_secs(10),
            pod_gc_period: Millis::from_secs(20),
            pod_gc_quarantine: Millis::from_secs(40),
            controller_delay: Millis::from_secs(1),
            pod_create_interval: Millis(50),
            pod_create_burst: 30,
            concurrent_replicaset_syncs: 5,
            replicaset_burst: 500,
            pod_startup: Delay::Fixed(Millis::from_secs(5)),
            terminated_instance_visible_for: Millis::ZERO,
            node_eviction_rate: 0.1,
            secondary_node_eviction_rate: 0.01,
            large_cluster_size_threshold: 50,
            unhealthy_zone_threshold: 0.55,
            default_toleration_seconds: Millis::from_secs(300),
            controller_retry_initial: Millis(5),
            controller_retry_max: Millis::from_secs(1000),
            scheduler: SchedulerConfig::default(),
        }
    }
}
