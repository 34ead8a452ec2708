//! Naming a trace's records: ids become `pod/<workload>-<slot>` (a Job's
//! pods `pod/<workload>-<arrival>-<n>`, unique), `node/<id>`,
//! `instance/i-<id>`, `service/<workload>`, and each record a line of event,
//! object and detail.

use crate::cloud::{CloudRecord, InstanceId};
use crate::engine::Millis;
use crate::kube::{KubeRecord, NodeId, PodId, Rejection, WorkloadId};
use crate::quantity::format_duration;
use crate::scenario::Scenario;
use crate::sim::{TraceRecord, Traced};

use super::{Line, ObjectKind};

/// Turns ids into names, from the run's final state (pods, nodes and
/// instances are never reused, so the final tables name every id).
pub(super) struct Names<'a> {
    pub(super) scenario: &'a Scenario,
    pub(super) traced: &'a Traced,
    /// Per pod of a Job: its number among the pods created for its Job (its
    /// workload's arrival), in creation order; 0 for other pods.
    job_pod_number: Vec<u32>,
}

/// A trace line's object kind, event, object and detail.
type Parts = (ObjectKind, &'static str, String, String);

impl<'a> Names<'a> {
    /// Names for the objects of `traced`.
    pub(super) fn new(scenario: &'a Scenario, traced: &'a Traced) -> Self {
        let cluster = &traced.world.cluster;
        let mut next = std::collections::HashMap::new();
        let job_pod_number = cluster
            .pods()
            .iter()
            .map(|p| {
                if cluster.workloads()[p.workload.index()].spec.job.is_none() {
                    return 0;
                }
                // Pod ids grow with creation, so the table's order is
                // creation order.
                let n = next.entry((p.workload, p.slot)).or_insert(0u32);
                *n += 1;
                *n - 1
            })
            .collect();
        Names {
            scenario,
            traced,
            job_pod_number,
        }
    }
}

impl Names<'_> {
    pub(super) fn workload(&self, w: WorkloadId) -> &str {
        &self.traced.world.cluster.workloads()[w.index()].spec.name
    }

    /// `pod/<workload>-<slot>`; for a Job's pod `pod/<workload>-<arrival>-<n>`,
    /// the Job being `<workload>-<arrival>` and `n` the pod's number within
    /// it (Kubernetes gives each a random suffix; a number reads better and
    /// is as unique).
    pub(super) fn pod(&self, p: PodId) -> String {
        let pod = &self.traced.world.cluster.pods()[p.index()];
        let name = self.workload(pod.workload);
        if self.traced.world.cluster.workloads()[pod.workload.index()]
            .spec
            .job
            .is_some()
        {
            let n = self.job_pod_number.get(p.index()).copied().unwrap_or(0);
            format!("pod/{name}-{}-{n}", pod.slot)
        } else {
            format!("pod/{name}-{}", pod.slot)
        }
    }

    pub(super) fn service(&self, w: WorkloadId) -> String {
        format!("service/{}", self.workload(w))
    }

    pub(super) fn pool(&self, pool: usize) -> &str {
        &self.traced.world.cloud.asgs()[pool].spec().name
    }

    pub(super) fn instance_detail(&self, id: InstanceId) -> String {
        let cloud = &self.traced.world.cloud;
        let inst = cloud.instance(id);
        let zone = cloud.zones().get(inst.zone).map_or("?", String::as_str);
        format!(
            "pool={} zone={} type={}",
            self.pool(inst.asg.index()),
            zone,
            cloud.instance_type_of(id).name
        )
    }

    pub(super) fn node_detail(&self, n: NodeId) -> String {
        let node = &self.traced.world.cluster.nodes()[n.index()];
        format!(
            "pool={} zone={} instance/i-{}",
            self.pool(node.spec.pool.index()),
            self.traced.world.zone_name(node.spec.zone),
            node.spec.provider_id
        )
    }

    pub(super) fn line(&self, t: Millis, r: TraceRecord) -> (ObjectKind, Line) {
        use ObjectKind as K;
        let (kind, event, object, detail) = match r {
            TraceRecord::Fault { index, instances } => {
                let f = &self.scenario.faults[usize::from(index)];
                let object = f
                    .target
                    .pool
                    .as_ref()
                    .map_or("all".to_string(), |p| format!("pool/{p}"));
                let what = f.describe(self.traced.world.cloud.zones());
                (
                    K::Faults,
                    "fault",
                    object,
                    format!("{what}: {instances} instances"),
                )
            }
            TraceRecord::Stuck { services_down } => (
                K::Cluster,
                "stuck",
                "cluster".to_string(),
                format!(
                    "{services_down} system service(s) down and no progress for {}",
                    format_duration(self.scenario.detection_window)
                ),
            ),
            TraceRecord::Unschedulable {
                pod,
                rejection,
                rejected_by,
            } => (
                K::Pods,
                "unschedulable",
                self.pod(pod),
                match rejected_by.names().join(", ") {
                    by if by.is_empty() => rejection_text(&rejection),
                    by => format!("{} [{by}]", rejection_text(&rejection)),
                },
            ),
            TraceRecord::Cloud(c) => self.cloud_parts(c),
            TraceRecord::Kube(k) => self.kube_parts(k),
        };
        (
            kind,
            Line {
                t,
                event,
                object,
                detail,
            },
        )
    }

    /// An instance's line: launched, running, booted, interrupted,
    /// terminated (and why), gone, a group's launch failure.
    fn cloud_parts(&self, c: CloudRecord) -> Parts {
        use ObjectKind as K;
        let node = |n: NodeId| format!("node/{}", n.0);
        let instance = |i: InstanceId| format!("instance/i-{}", i.0);
        match c {
            CloudRecord::Launched(i) => (
                K::Instances,
                "launched",
                instance(i),
                self.instance_detail(i),
            ),
            CloudRecord::Running(i) => (K::Instances, "running", instance(i), String::new()),
            CloudRecord::Booted(i) => (K::Instances, "booted", instance(i), String::new()),
            CloudRecord::Interrupted(i) => (
                K::Instances,
                "interrupted",
                instance(i),
                match self.traced.node_of(i) {
                    Some(n) => format!("spot interruption notice, {}", node(n)),
                    None => "spot interruption notice".to_string(),
                },
            ),
            CloudRecord::Terminated(i, why) => (
                K::Instances,
                "terminated",
                instance(i),
                match self.traced.node_of(i) {
                    Some(n) => format!("{}, was {}", why.as_str(), node(n)),
                    None => why.as_str().to_string(),
                },
            ),
            CloudRecord::Gone(i) => (
                K::Instances,
                "gone",
                instance(i),
                "left shutting-down: EC2 reports it terminated".to_string(),
            ),
            CloudRecord::LaunchFailed(g) => (
                K::Instances,
                "launch-failed",
                format!("pool/{}", self.pool(g.index())),
                "no zone or type could launch".to_string(),
            ),
        }
    }

    /// A node's or a service's line; a pod's goes to `pod_parts`.
    fn kube_parts(&self, k: KubeRecord) -> Parts {
        use ObjectKind as K;
        let node = |n: NodeId| format!("node/{}", n.0);
        match k {
            KubeRecord::NodeJoined(n) => (K::Nodes, "node-joined", node(n), self.node_detail(n)),
            KubeRecord::NodeReady(n) => (K::Nodes, "node-ready", node(n), self.node_detail(n)),
            KubeRecord::NodeLost(n) => (
                K::Nodes,
                "node-lost",
                node(n),
                "machine gone, heartbeats stopped".to_string(),
            ),
            KubeRecord::NodeNotReady(n) => (
                K::Nodes,
                "node-notready",
                node(n),
                "unreachable".to_string(),
            ),
            KubeRecord::NodeDeleted(n) => (K::Nodes, "node-deleted", node(n), String::new()),
            KubeRecord::ServiceDown(w) => (
                K::Services,
                "service-down",
                self.service(w),
                self.min_text(w, "below"),
            ),
            KubeRecord::ServiceUp(w) => (
                K::Services,
                "service-up",
                self.service(w),
                self.min_text(w, "back at"),
            ),
            k => self.pod_parts(k),
        }
    }

    /// A pod's line: created, bound, started, deleted, preempted, evicted.
    fn pod_parts(&self, k: KubeRecord) -> Parts {
        use ObjectKind as K;
        let cluster = &self.traced.world.cluster;
        let node = |n: NodeId| format!("node/{}", n.0);
        match k {
            KubeRecord::PodCreated(p) => {
                let pod = &cluster.pods()[p.index()];
                let wl = &cluster.workloads()[pod.workload.index()];
                (
                    K::Pods,
                    "created",
                    self.pod(p),
                    format!("class={} {}", wl.spec.class.as_str(), pod.requests),
                )
            }
            KubeRecord::Bound {
                pod,
                node: n,
                score,
            } => (
                K::Pods,
                "bound",
                self.pod(pod),
                match score {
                    Some(s) => format!("-> {} (score {s})", node(n)),
                    None => format!("-> {}", node(n)),
                },
            ),
            KubeRecord::Unschedulable(p) => (K::Pods, "unschedulable", self.pod(p), String::new()),
            KubeRecord::Started(p) => {
                let on = cluster.pods()[p.index()].state().node();
                (
                    K::Pods,
                    "started",
                    self.pod(p),
                    on.map_or(String::new(), |n| format!("on {}", node(n))),
                )
            }
            KubeRecord::Ready(p) => (K::Pods, "ready", self.pod(p), String::new()),
            KubeRecord::Deleted { pod, node: n } => (
                K::Pods,
                "deleted",
                self.pod(pod),
                n.map_or(String::new(), |n| format!("was on {}", node(n))),
            ),
            KubeRecord::Preempted { victim, by } => (
                K::Pods,
                "preempted",
                self.pod(victim),
                format!("by {}", self.pod(by)),
            ),
            KubeRecord::Evicted(p) => (
                K::Pods,
                "evicted",
                self.pod(p),
                "node unreachable, toleration ran out".to_string(),
            ),
            KubeRecord::DrainEvicted(p) => (K::Pods, "drain-evicted", self.pod(p), String::new()),
            KubeRecord::CreationRejected(w) => (
                K::Pods,
                "create-rejected",
                format!("workload/{}", self.workload(w)),
                "an admission webhook is down".to_string(),
            ),
            _ => unreachable!("kube_parts handles node and service records"),
        }
    }

    pub(super) fn min_text(&self, w: WorkloadId, how: &str) -> String {
        let wl = &self.traced.world.cluster.workloads()[w.index()];
        format!(
            "{} {how} min_available={}",
            wl.spec.class.as_str(),
            wl.spec.min_available.unwrap_or(0)
        )
    }
}

/// kube-scheduler's "0/N nodes are available" message, from the counts.
pub(super) fn rejection_text(r: &Rejection) -> String {
    if r.nodes == 0 {
        return "0/0 nodes: none registered".to_string();
    }
    let mut parts = Vec::new();
    for (n, why) in [
        (r.insufficient_cpu, "insufficient cpu"),
        (r.insufficient_memory, "insufficient memory"),
        (r.insufficient_gpu, "insufficient nvidia.com/gpu"),
        (r.too_many_pods, "too many pods"),
        (r.volume_conflict, "volume node affinity conflict"),
        (
            r.spread_skew,
            "didn't match pod topology spread constraints",
        ),
        (
            r.pod_affinity,
            "didn't match pod affinity or anti-affinity rules",
        ),
        (r.not_ready, "not ready"),
        (r.cordoned, "cordoned"),
        (r.pool_mismatch, "in pools it may not use"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {why}"));
        }
    }
    if parts.is_empty() {
        // Every node passed the filters now: the attempt lost to a pod
        // nominated there, or room freed later in the same instant.
        parts.push("room reserved for nominated pods".to_string());
    }
    format!("0/{} nodes: {}", r.nodes, parts.join(", "))
}
