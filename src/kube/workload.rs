//! Workloads (Deployments) and the services they provide to each other.
//!
//! A workload with `min_available` is a service. A workload that `needs`
//! services makes progress only while each has at least its minimum of
//! Running and Ready pods (a Kubernetes Service's endpoints are its Ready
//! pods); otherwise its pods stall, still holding their requests.
//! That is what turns "system pods Pending" into a deadlock.

use std::collections::BTreeMap;

use crate::engine::Millis;
use crate::quantity::{Delay, Resources};

use super::PodClass;
use super::PoolInfo;
use super::affinity::NodeAffinity;
use super::job::{JobSpec, JobState};
use super::statefulset::{StatefulSetSpec, StatefulState};
use super::taint::{DynamicTolerations, Toleration};
use super::taint::{TaintEffect, UNREACHABLE, tolerated};
use super::topology::{PodAffinity, SpreadConstraint};

/// Index of a workload within a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WorkloadId(pub u16);

impl WorkloadId {
    /// Position in the run's workload table.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Whether a pod may preempt lower-priority pods (`preemptionPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreemptionPolicy {
    /// The default: may preempt.
    PreemptLowerPriority,
    /// Never preempts (it can still be preempted).
    Never,
}

/// What kind of controller owns the pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadKind {
    /// A Deployment (ReplicaSet): keeps `replicas` pods.
    Deployment,
    /// A DaemonSet: one pod per node it may run on. A network plugin
    /// DaemonSet (a CNI such as aws-node) gates its node's Ready condition.
    DaemonSet {
        /// Whether the node stays NotReady until this pod runs on it.
        network_plugin: bool,
    },
    /// Jobs: pods that run their work to completion (`WorkloadSpec::job`).
    Job,
    /// A StatefulSet: `replicas` pods with stable ordinals and their own
    /// volumes (`WorkloadSpec::statefulset`).
    StatefulSet,
}

/// A workload as configured (validated), under one policy's placement.
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
    /// Running and Ready pods needed for the service to be available;
    /// `None` if this workload is not a service.
    pub min_available: Option<u32>,
    /// Services (by workload index) its pods need to make progress.
    pub needs: Vec<WorkloadId>,
    /// Deployment or DaemonSet.
    pub kind: WorkloadKind,
    /// Pod priority, from its PriorityClass (0 without one).
    pub priority: i32,
    /// Whether its pods may preempt.
    pub preemption_policy: PreemptionPolicy,
    /// Tolerations of its pods.
    pub tolerations: Vec<Toleration>,
    /// Node affinity (required and preferred terms) besides the
    /// nodeSelector.
    pub affinity: NodeAffinity,
    /// How long a deleted (e.g. preempted) pod keeps its node's room before
    /// it is gone: `terminationGracePeriodSeconds`, default 30 s.
    pub termination_grace: Millis,
    /// An overprovisioning placeholder (pause pod): holds room, does no
    /// work, and is left out of the pending and progress counters.
    pub placeholder: bool,
    /// Services whose admission webhook (`failurePolicy: Fail`) must answer
    /// before its pods can be created.
    pub webhooks: Vec<WorkloadId>,
    /// For a Job workload: completions, parallelism, work and arrivals.
    pub job: Option<JobSpec>,
    /// Its PodDisruptionBudget, if any.
    pub pdb: Option<Pdb>,
    /// For a StatefulSet: its pod management policy and volume claims.
    pub statefulset: Option<StatefulSetSpec>,
    /// Its pods carry `karpenter.sh/do-not-disrupt: "true"`: Karpenter
    /// does not disrupt their nodes voluntarily.
    pub do_not_disrupt: bool,
    /// How long a started pod takes to turn Ready (a readiness probe's
    /// initial delay and first success); `None`: Ready as it starts.
    pub readiness_delay: Option<Delay>,
    /// Its pods' `topologySpreadConstraints`.
    pub topology_spread: Vec<SpreadConstraint>,
    /// Its pods' pod affinity and anti-affinity.
    pub pod_affinity: PodAffinity,
}

/// A PodDisruptionBudget over one workload's pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pdb {
    /// `minAvailable`: Running and Ready pods to keep.
    MinAvailable(u32),
    /// `maxUnavailable`: pods below the desired count that are tolerated.
    MaxUnavailable(u32),
}

/// Run-time counters of a workload.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Configuration.
    pub spec: WorkloadSpec,
    /// Pods that exist (not deleted).
    pub live: u32,
    /// Pods Running and Ready on live nodes (what serves: a pod of a
    /// workload with a `readiness_delay` counts once it is Ready).
    pub running: u32,
    /// Pods Pending (unbound or starting).
    pub pending: u32,
    /// Needed services currently below their minimum.
    pub unmet_needs: u32,
    /// Workloads that need this one.
    pub dependents: Vec<WorkloadId>,
    /// Per pool: whether this workload's nodeSelector and required node
    /// affinity match the pool's labels and its pods tolerate the pool's
    /// NoSchedule and NoExecute taints. Node labels and configured taints
    /// come from their pool, so this is the static part of the NodeAffinity
    /// and TaintToleration filters, computed once.
    pub fits_pool: Vec<bool>,
    /// Per pool: the parts of `fits_pool` apart, for knowing which plugin
    /// rejects a node and for the QueueingHints.
    pub pool_verdict: Vec<PoolVerdict>,
    /// Per pool: the raw NodeAffinity score (sum of matching preferred
    /// weights).
    pub pool_affinity: Vec<i64>,
    /// Per pool: the raw TaintToleration score (untolerated
    /// PreferNoSchedule taints).
    pub pool_prefer_taints: Vec<i64>,
    /// Which run-time node taints its pods tolerate.
    pub dynamic: DynamicTolerations,
    /// How long its pods stay on a node tainted `unreachable:NoExecute`
    /// before eviction; `None` is forever (DaemonSets).
    pub evict_after: Option<Millis>,
    /// Replica slots whose creation a webhook rejected, waiting for the
    /// controller's retry.
    pub blocked_slots: Vec<u32>,
    /// Consecutive failed syncs, for the retry backoff.
    pub create_failures: u32,
    /// A Deployment's replica slots without a pod, waiting for its
    /// ReplicaSet's sync.
    pub free_slots: Vec<u32>,
    /// For a Job workload: its Jobs and progress clock.
    pub job_state: Option<JobState>,
    /// For a StatefulSet: who holds each ordinal, and its volumes' zones.
    pub stateful: Option<StatefulState>,
}

impl Workload {
    /// Whether this workload is a service that is below its minimum.
    pub fn is_unavailable(&self) -> bool {
        self.spec.min_available.is_some_and(|m| self.running < m)
    }

    /// `status.disruptionsAllowed` of its PodDisruptionBudget: Running
    /// (healthy) pods beyond what the budget keeps; `None` without one.
    pub fn disruptions_allowed(&self) -> Option<i64> {
        let healthy = i64::from(self.running);
        match self.spec.pdb? {
            Pdb::MinAvailable(m) => Some(healthy - i64::from(m)),
            Pdb::MaxUnavailable(u) => {
                Some(healthy - (i64::from(self.spec.replicas) - i64::from(u)).max(0))
            }
        }
    }

    /// Whether its pods make progress (every needed service available).
    pub fn progressing(&self) -> bool {
        self.unmet_needs == 0
    }
}

/// How a workload's pods fare on a pool's nodes before any run-time state:
/// the static parts of NodeAffinity and TaintToleration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolVerdict {
    /// The nodeSelector and required node affinity match the pool's labels.
    pub labels_match: bool,
    /// The pool has a `NoSchedule` taint its pods do not tolerate.
    pub untolerated_no_schedule: bool,
    /// The pool has a `NoExecute` taint its pods do not tolerate.
    pub untolerated_no_execute: bool,
}

/// A workload's run-time record, with its per-pool filter and score
/// precomputations.
pub(super) fn new_workload(
    spec: WorkloadSpec,
    pools: &[PoolInfo],
    default_toleration: Millis,
) -> Workload {
    let mut fits_pool = Vec::with_capacity(pools.len());
    let mut pool_affinity = Vec::with_capacity(pools.len());
    let mut pool_prefer_taints = Vec::with_capacity(pools.len());
    let mut pool_verdict = Vec::with_capacity(pools.len());
    for pool in pools {
        let untolerated = |effect: TaintEffect| {
            pool.taints.iter().any(|t| {
                t.effect == effect && !tolerated(&spec.tolerations, &t.key, &t.value, t.effect)
            })
        };
        let verdict = PoolVerdict {
            labels_match: spec.affinity.allows(&spec.node_selector, &pool.labels),
            untolerated_no_schedule: untolerated(TaintEffect::NoSchedule),
            untolerated_no_execute: untolerated(TaintEffect::NoExecute),
        };
        pool_verdict.push(verdict);
        fits_pool.push(
            verdict.labels_match
                && !verdict.untolerated_no_schedule
                && !verdict.untolerated_no_execute,
        );
        pool_affinity.push(spec.affinity.preferred_weight(&pool.labels));
        pool_prefer_taints.push(
            pool.taints
                .iter()
                .filter(|t| {
                    t.effect == TaintEffect::PreferNoSchedule
                        && !tolerated(&spec.tolerations, &t.key, &t.value, t.effect)
                })
                .count() as i64,
        );
    }
    let dynamic = DynamicTolerations::of(&spec.tolerations);
    // DefaultTolerationSeconds adds `unreachable:NoExecute` for 300 s to
    // pods that lack one (plugin/pkg/admission/defaulttolerationseconds).
    let evict_after = match spec
        .tolerations
        .iter()
        .find(|t| t.tolerates(UNREACHABLE, "", TaintEffect::NoExecute))
    {
        Some(t) => t.toleration_seconds,
        None => Some(default_toleration),
    };
    Workload {
        live: 0,
        running: 0,
        pending: 0,
        unmet_needs: 0,
        dependents: Vec::new(),
        fits_pool,
        pool_verdict,
        pool_affinity,
        pool_prefer_taints,
        dynamic,
        evict_after,
        blocked_slots: Vec::new(),
        create_failures: 0,
        free_slots: Vec::new(),
        job_state: None,
        stateful: spec
            .statefulset
            .is_some()
            .then(|| StatefulState::new(spec.replicas)),
        spec,
    }
}
