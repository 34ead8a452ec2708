//! The scenario file as written: plain serde structs, every table closed to
//! unknown keys. Nothing here is checked beyond its syntax; `validate` turns
//! it into a [`super::Scenario`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use toml::Spanned;

pub use super::autoscaler_file::{AutoscalerFile, ExpanderFile};
pub use super::karpenter_file::{
    BudgetFile, DisruptionFile, KarpenterFile, LimitsFile, NodePoolFile, NodePoolRequirementFile,
    RequirementOperatorFile,
};
pub use super::kubernetes_file::{
    FeatureGatesFile, KubernetesFile, SchedulerFile, ScoringFile, ShapePointFile,
};
pub use super::placement_file::{
    EffectFile, NodeAffinityFile, PreemptionPolicyFile, PreferredTermFile, PriorityClassFile,
    RequirementFile, SelectorOperatorFile, TaintFile, TolerationFile, TolerationOperatorFile,
};
pub use super::requests_file::{ContainerFile, OverheadFile, RestartPolicyFile};
pub use super::stateful_file::{PodManagementPolicyFile, VolumeClaimFile};
pub use super::topology_file::{PodAffinityFile, SpreadFile, TermFile};
use super::units::{CpuText, DurationText, MemoryText};

/// The whole file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Short name; results go to `results/<name>/`.
    pub name: String,
    /// What question the scenario answers.
    #[serde(default)]
    pub description: String,
    /// Simulated time of each run.
    pub horizon: DurationText,
    /// Seeds to run when the command line does not say (default 100).
    pub seeds: Option<u32>,
    /// The first seed; runs use `first_seed .. first_seed + seeds` (default 1).
    pub first_seed: Option<u64>,
    /// Parameter grid, dotted key -> values; read by the sweep, not the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<toml::Table>,
    /// A run is deadlocked if nothing moved for this long at the horizon
    /// while a system service is down (default 10m).
    pub detection_window: Option<DurationText>,
    /// Availability zones (default three in us-east-1).
    pub zones: Option<Vec<String>>,
    /// Extra instance types, or overrides of built-in ones by name.
    #[serde(default)]
    pub instance_types: Vec<InstanceTypeFile>,
    /// Instance lifecycle defaults.
    #[serde(default)]
    pub instances: InstancesFile,
    /// Control-plane timings.
    #[serde(default)]
    pub kubernetes: KubernetesFile,
    /// PriorityClasses besides the built-in `system-cluster-critical` and
    /// `system-node-critical`.
    #[serde(default)]
    pub priority_classes: Vec<PriorityClassFile>,
    /// Deployments and DaemonSets.
    pub workloads: Vec<WorkloadFile>,
    /// Named variants of pools and placement.
    pub policies: Vec<PolicyFile>,
    /// Faults to inject.
    #[serde(default)]
    pub faults: Vec<FaultFile>,
}

/// An instance type.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceTypeFile {
    /// API name.
    pub name: String,
    /// vCPUs, e.g. `"4"`.
    pub cpu: CpuText,
    /// Memory, e.g. `"16Gi"`.
    pub memory: MemoryText,
    /// Maximum pods per node.
    pub max_pods: u32,
    /// NVIDIA GPUs (`nvidia.com/gpu` allocatable; default 0).
    pub gpu: Option<u32>,
    /// Dollars per hour.
    pub price_per_hour: f64,
}

/// Instance lifecycle defaults, overridable per pool.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InstancesFile {
    /// From launch request to `running`.
    pub launch_delay: Option<DelayFile>,
    /// From `running` to the kubelet Ready.
    pub boot_delay: Option<DelayFile>,
    /// From an instance's termination to its ASG launching a replacement.
    pub replacement_delay: Option<DurationText>,
    /// cpu the kubelet reserves per node (default: the EKS AMI formula).
    pub reserved_cpu: Option<CpuText>,
    /// memory the kubelet reserves per node, eviction threshold included
    /// (default: the EKS AMI formula).
    pub reserved_memory: Option<MemoryText>,
    /// Default `HealthCheckGracePeriod` of every pool (300s).
    pub health_check_grace_period: Option<DurationText>,
    /// From a failed status check to the ASG marking the instance unhealthy
    /// (3m, UNCONFIRMED).
    pub impaired_detection: Option<DurationText>,
    /// How long a terminated instance stays `shutting-down` (60s,
    /// UNCONFIRMED).
    pub shutting_down: Option<DurationText>,
    /// First retry after a launch failed everywhere (10s, UNCONFIRMED).
    pub launch_retry_backoff: Option<DurationText>,
    /// Longest retry interval (5m, UNCONFIRMED).
    pub launch_retry_max_backoff: Option<DurationText>,
    /// Probability that a launch in a zone fails, by zone name.
    pub launch_failure_probability: Option<Spanned<BTreeMap<String, f64>>>,
    /// Insufficient-capacity windows.
    #[serde(default)]
    pub insufficient_capacity: Vec<IceFile>,
    /// Spot price as a share of on-demand (0.35, UNCONFIRMED).
    pub spot_price_ratio: Option<Spanned<f64>>,
}

/// An insufficient-capacity window: `zone` cannot launch `instance_type`
/// from `from` until `until`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IceFile {
    /// Zone name.
    pub zone: Spanned<String>,
    /// Instance type name.
    pub instance_type: Spanned<String>,
    /// Start.
    pub from: DurationText,
    /// End.
    pub until: DurationText,
}

/// A delay distribution.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "dist", rename_all = "lowercase", deny_unknown_fields)]
pub enum DelayFile {
    /// `{ dist = "fixed", value = "30s" }`
    Fixed {
        /// The delay.
        value: DurationText,
    },
    /// `{ dist = "uniform", min = "30s", max = "90s" }`
    Uniform {
        /// Lower bound.
        min: DurationText,
        /// Upper bound.
        max: DurationText,
    },
    /// `{ dist = "exponential", mean = "60s" }`
    Exponential {
        /// Mean.
        mean: DurationText,
    },
    /// `{ dist = "lognormal", median = "60s", p95 = "120s" }`
    Lognormal {
        /// Median.
        median: DurationText,
        /// 95th percentile.
        p95: DurationText,
    },
    /// `{ dist = "empirical", samples = ["41s", "38s", "55s"] }`
    Empirical {
        /// Observed delays, each drawn with equal probability.
        samples: Vec<DurationText>,
    },
}

/// Pod classes by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClassFile {
    /// System.
    System,
    /// User.
    User,
}

/// A Deployment.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadFile {
    /// Name, unique.
    pub name: Spanned<String>,
    /// `system` or `user`.
    pub class: ClassFile,
    /// `deployment` (default), `daemonset`, `job` or `statefulset`.
    pub kind: Option<KindFile>,
    /// For a DaemonSet: it is the node's network plugin (CNI); the node is
    /// NotReady until its pod runs.
    #[serde(default)]
    pub network_plugin: bool,
    /// Replicas (Deployments only; required for them).
    pub replicas: Option<u32>,
    /// cpu request per pod: its one container's (required unless
    /// `containers` is given, refused with it).
    pub cpu: Option<CpuText>,
    /// memory request per pod, as `cpu`.
    pub memory: Option<MemoryText>,
    /// `nvidia.com/gpu` request per pod, as `cpu` (default 0).
    pub gpu: Option<Spanned<u32>>,
    /// The pod's app containers, instead of `cpu`/`memory`/`gpu`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<ContainerFile>,
    /// The pod's init containers, in order (`restart_policy = "Always"`:
    /// a sidecar).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub init_containers: Vec<ContainerFile>,
    /// RuntimeClass pod overhead, added to the requests.
    pub overhead: Option<OverheadFile>,
    /// Makes this workload a service: it is available while at least this
    /// many pods run.
    pub min_available: Option<u32>,
    /// Services its pods need to make progress.
    #[serde(default)]
    pub needs: Vec<Spanned<String>>,
    /// nodeSelector of its pods, under every policy.
    #[serde(default)]
    pub node_selector: BTreeMap<String, String>,
    /// PriorityClass of its pods (wins over the policy's class rule).
    pub priority_class: Option<Spanned<String>>,
    /// Tolerations of its pods.
    #[serde(default)]
    pub tolerations: Vec<TolerationFile>,
    /// Node affinity of its pods.
    pub node_affinity: Option<NodeAffinityFile>,
    /// `terminationGracePeriodSeconds` (default 30s).
    pub termination_grace: Option<DurationText>,
    /// This service serves an admission webhook for these pods.
    pub webhook: Option<WebhookFile>,
    /// Job: pods that must succeed per Job (default 1).
    pub completions: Option<u32>,
    /// Job: pods at once (default 1).
    pub parallelism: Option<u32>,
    /// Job: running time each pod needs.
    pub work: Option<DelayFile>,
    /// Job: probability a pod fails at the end of its work (default 0).
    pub failure_probability: Option<f64>,
    /// Job: `backoffLimit` (default 6).
    pub backoff_limit: Option<u32>,
    /// Job: when Jobs arrive (default: one at 0s).
    pub arrivals: Option<ArrivalsFile>,
    /// A PodDisruptionBudget over its pods.
    pub pdb: Option<PdbFile>,
    /// Its pods carry `karpenter.sh/do-not-disrupt: "true"` (false).
    pub do_not_disrupt: Option<bool>,
    /// StatefulSet: `OrderedReady` (default) or `Parallel`.
    pub pod_management_policy: Option<PodManagementPolicyFile>,
    /// StatefulSet: `serviceName`, its governing (headless) Service;
    /// optional, as in Kubernetes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_name: Option<Spanned<String>>,
    /// StatefulSet: a zonal volume per ordinal, per entry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_claims: Vec<VolumeClaimFile>,
    /// How long a started pod takes to turn Ready (default: at once).
    pub readiness_delay: Option<DelayFile>,
    /// Labels of its pods, for selectors (default `app = <name>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// `topologySpreadConstraints` of its pods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topology_spread: Vec<SpreadFile>,
    /// `podAffinity` of its pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_affinity: Option<PodAffinityFile>,
    /// `podAntiAffinity` of its pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_anti_affinity: Option<PodAffinityFile>,
}

/// A PodDisruptionBudget: exactly one key.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PdbFile {
    /// `minAvailable`.
    pub min_available: Option<u32>,
    /// `maxUnavailable`.
    pub max_unavailable: Option<u32>,
}

/// Arrival process of a Job workload: exactly one key.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ArrivalsFile {
    /// Fixed arrival times.
    pub at: Option<Vec<DurationText>>,
    /// Poisson arrivals, Jobs per hour.
    pub rate_per_hour: Option<f64>,
    /// A CSV of arrival times in seconds, one per line (a header line is
    /// skipped), relative to the scenario file.
    pub trace: Option<String>,
}

/// An admission webhook served by a service workload.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookFile {
    /// `Fail` (default): creations are rejected while the service is
    /// down; `Ignore`: they go through.
    pub failure_policy: Option<FailurePolicyFile>,
    /// Workloads whose pod creations it intercepts.
    #[serde(default)]
    pub workloads: Vec<Spanned<String>>,
    /// Classes whose Deployments' pod creations it intercepts.
    #[serde(default)]
    pub classes: Vec<ClassFile>,
}

/// Webhook `failurePolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum FailurePolicyFile {
    /// Reject when the webhook cannot be reached.
    Fail,
    /// Admit when the webhook cannot be reached.
    Ignore,
}

/// Workload kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KindFile {
    /// Deployment.
    Deployment,
    /// DaemonSet.
    Daemonset,
    /// Job.
    Job,
    /// StatefulSet.
    Statefulset,
}

/// A policy: the pools and the placement rules of one variant.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    /// Name, unique (e.g. `single-pool`).
    pub name: Spanned<String>,
    /// What it changes.
    #[serde(default)]
    pub description: String,
    /// One ASG per pool.
    #[serde(default)]
    pub pools: Vec<PoolFile>,
    /// Karpenter NodePools, each a pool of its own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodepools: Vec<super::karpenter_file::NodePoolFile>,
    /// Karpenter's controller settings (with NodePools only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub karpenter: Option<super::karpenter_file::KarpenterFile>,
    /// Placement rules per pod class.
    #[serde(default)]
    pub placement: PlacementFile,
    /// Overprovisioning placeholder pods.
    pub overprovision: Option<OverprovisionFile>,
    /// The cluster autoscaler over this policy's pools (off when absent).
    pub autoscaler: Option<AutoscalerFile>,
}

/// Low-priority placeholder (pause) pods that hold headroom.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OverprovisionFile {
    /// Placeholder pods.
    pub replicas: u32,
    /// cpu request of each.
    pub cpu: CpuText,
    /// memory request of each.
    pub memory: MemoryText,
    /// Their priority (default -1).
    pub priority: Option<i32>,
    /// Their nodeSelector.
    #[serde(default)]
    pub node_selector: BTreeMap<String, String>,
    /// Their tolerations.
    #[serde(default)]
    pub tolerations: Vec<TolerationFile>,
}

/// Placement rules per class.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PlacementFile {
    /// For system pods.
    pub system: Option<ClassPlacementFile>,
    /// For user pods.
    pub user: Option<ClassPlacementFile>,
}

/// Placement rules of one class.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClassPlacementFile {
    /// Added to the nodeSelector of every pod of the class.
    #[serde(default)]
    pub node_selector: BTreeMap<String, String>,
    /// PriorityClass of the class's pods that name none themselves.
    pub priority_class: Option<Spanned<String>>,
    /// Added to the tolerations of every pod of the class.
    #[serde(default)]
    pub tolerations: Vec<TolerationFile>,
    /// ANDed with the node affinity of every pod of the class.
    pub node_affinity: Option<NodeAffinityFile>,
    /// Workloads of the class these rules skip (e.g. a chart that ships
    /// without a priorityClassName).
    #[serde(default)]
    pub except: Vec<Spanned<String>>,
}

/// A node pool, backed by one ASG.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PoolFile {
    /// Name, unique within the policy.
    pub name: Spanned<String>,
    /// Instance type, built in or declared.
    pub instance_type: Spanned<String>,
    /// Desired capacity.
    pub desired: Spanned<u32>,
    /// Minimum size (default: desired).
    pub min: Option<Spanned<u32>>,
    /// Maximum size (default: desired).
    pub max: Option<Spanned<u32>>,
    /// Zones (default: all of the scenario's).
    pub zones: Option<Spanned<Vec<String>>>,
    /// Labels of its nodes.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Taints of its nodes.
    #[serde(default)]
    pub taints: Vec<TaintFile>,
    /// Overrides `[instances] launch_delay`.
    pub launch_delay: Option<DelayFile>,
    /// Overrides `[instances] boot_delay`.
    pub boot_delay: Option<DelayFile>,
    /// Mixed instances: further types in priority order, tried when
    /// `instance_type` cannot launch.
    pub fallback_types: Option<Spanned<Vec<String>>>,
    /// `on-demand` (default) or `spot`.
    pub capacity: Option<CapacityFile>,
    /// Overrides `[instances] health_check_grace_period`.
    pub health_check_grace_period: Option<DurationText>,
    /// New instances protected from scale-in (default false).
    pub protect_from_scale_in: Option<bool>,
    /// Capacity Rebalancing for Spot (default false).
    pub capacity_rebalance: Option<bool>,
    /// The AZRebalance process (default true).
    pub az_rebalance: Option<bool>,
    /// A warm pool.
    pub warm_pool: Option<WarmPoolFile>,
}

/// A warm pool; every key optional.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WarmPoolFile {
    /// `MinSize` (0).
    pub min_size: Option<u32>,
    /// `MaxGroupPreparedCapacity` (default: the pool's max).
    pub max_prepared_capacity: Option<u32>,
    /// `stopped` (default) or `running`.
    pub state: Option<WarmStateFile>,
    /// From leaving the pool to kubelet Ready.
    pub delay: Option<DelayFile>,
}

/// Warm-pool instance states by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WarmStateFile {
    /// Stopped: compute not billed.
    Stopped,
    /// Running: billed.
    Running,
}

/// Purchase option of a pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CapacityFile {
    /// On-Demand.
    OnDemand,
    /// Spot.
    Spot,
}

/// A fault: one table whose `kind` says which keys apply.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultFile {
    /// What it does.
    pub kind: Spanned<FaultKindFile>,
    /// First strike; with `every`, the start of the process.
    pub at: Option<DurationText>,
    /// Interval between strikes of a random process.
    pub every: Option<DelayFile>,
    /// No strike at or after this time.
    pub until: Option<DurationText>,
    /// Only this pool.
    pub pool: Option<Spanned<String>>,
    /// Only this zone.
    pub zone: Option<Spanned<String>>,
    /// Share of the candidates hit per strike.
    pub fraction: Option<f64>,
    /// Number of candidates hit per strike.
    pub count: Option<u32>,
    /// `terminate_fraction`: spread the terminations over this window.
    pub over: Option<DurationText>,
    /// `zone_outage`: how long.
    pub duration: Option<DurationText>,
    /// `instance_failures`: mean time between failures of one instance.
    pub mtbf: Option<DurationText>,
    /// `spot_interruption`: notice before termination (2m).
    pub notice: Option<DurationText>,
    /// `spot_interruption`: cordon and drain on notice (default false).
    pub drain: Option<bool>,
    /// `instance_refresh`: MinHealthyPercentage (90).
    pub min_healthy_percentage: Option<u32>,
    /// `instance_refresh`: instance warmup (default: the grace period).
    pub warmup: Option<DurationText>,
}

/// Fault kinds by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKindFile {
    /// Every targeted instance terminates.
    TerminateAll,
    /// A share of the targeted instances terminates.
    TerminateFraction,
    /// A zone fails for a while.
    ZoneOutage,
    /// Independent failures by MTBF.
    InstanceFailures,
    /// Spot interruptions with notice.
    SpotInterruption,
    /// Rolling replacement.
    InstanceRefresh,
}

impl FaultKindFile {
    /// The name as written.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKindFile::TerminateAll => "terminate_all",
            FaultKindFile::TerminateFraction => "terminate_fraction",
            FaultKindFile::ZoneOutage => "zone_outage",
            FaultKindFile::InstanceFailures => "instance_failures",
            FaultKindFile::SpotInterruption => "spot_interruption",
            FaultKindFile::InstanceRefresh => "instance_refresh",
        }
    }
}
