//! A pod spec (a controller's template or a bare pod's spec) as the model
//! sees it: effective requests, placement (with the rules between pods of
//! `topology.rs`), priority class, DNS policy, volumes; what the model cannot carry is recorded in the report.

use std::collections::BTreeMap;

use toml::Spanned;

use crate::quantity::{Bytes, Container, MAX_GPU, MilliCpu, Resources, pod_requests};
use crate::scenario::file::{
    ContainerFile, EffectFile, NodeAffinityFile, OverheadFile, PreferredTermFile, RequirementFile,
    RestartPolicyFile, SelectorOperatorFile, TolerationFile, TolerationOperatorFile,
};
use crate::scenario::units::{CpuText, MemoryText};

use super::notes::Notes;
use super::object::{At, Bad};
use super::topology::PodRules;

/// What the importer takes from a pod spec.
#[derive(Debug, Clone, Default)]
pub struct PodTemplate {
    /// The pod's labels.
    pub labels: BTreeMap<String, String>,
    /// Effective cpu request.
    pub cpu: MilliCpu,
    /// Effective memory request.
    pub memory: Bytes,
    /// The containers, init containers and overhead the effective
    /// requests come from, with the effective `nvidia.com/gpu`.
    pub requests: Requests,
    /// `nodeSelector`.
    pub node_selector: BTreeMap<String, String>,
    /// `tolerations`.
    pub tolerations: Vec<TolerationFile>,
    /// `affinity.nodeAffinity`.
    pub node_affinity: Option<NodeAffinityFile>,
    /// `priorityClassName`.
    pub priority_class: Option<String>,
    /// Whether its DNS lookups go to the cluster DNS (`dnsPolicy`
    /// `ClusterFirst`, the default, without `hostNetwork`, or
    /// `ClusterFirstWithHostNet`).
    pub cluster_dns: bool,
    /// `terminationGracePeriodSeconds`.
    pub termination_grace_seconds: Option<u64>,
    /// Names of the PersistentVolumeClaims its volumes use.
    pub claims: Vec<String>,
    /// Seconds from start to Ready its probes ask at least: per container,
    /// the startup probe's `initialDelaySeconds` then the readiness
    /// probe's; the longest. `None` without a readiness probe.
    pub readiness_seconds: Option<u64>,
    /// The pod's `karpenter.sh/do-not-disrupt` annotation is `"true"`.
    pub do_not_disrupt: bool,
    /// `topologySpreadConstraints` and pod (anti-)affinity, as read.
    pub rules: PodRules,
}

/// A pod's containers as the scenario writes them, and their total.
#[derive(Debug, Clone, Default)]
pub struct Requests {
    /// `spec.containers`.
    pub containers: Vec<ContainerFile>,
    /// `spec.initContainers` (sidecars with `restart_policy`).
    pub init_containers: Vec<ContainerFile>,
    /// `spec.overhead`.
    pub overhead: Option<OverheadFile>,
    /// The effective requests.
    pub total: Resources,
}

impl Requests {
    /// Whether one container with nothing around it says it all: then the
    /// scenario writes the workload's `cpu`, `memory` and `gpu`.
    pub fn is_single(&self) -> bool {
        self.containers.len() == 1 && self.init_containers.is_empty() && self.overhead.is_none()
    }

    /// Forgets every GPU request (see `drop_gpus`).
    pub fn drop_gpus(&mut self) {
        self.total.gpu = 0;
        for c in self.containers.iter_mut().chain(&mut self.init_containers) {
            c.gpu = None;
        }
    }
}

/// Whether the metadata at `meta` carries `karpenter.sh/do-not-disrupt:
/// "true"`.
pub fn do_not_disrupt(meta: Option<&At<'_>>) -> Result<bool, Bad> {
    Ok(match meta {
        Some(m) => {
            m.string_map("annotations")?
                .get("karpenter.sh/do-not-disrupt")
                .map(String::as_str)
                == Some("true")
        }
        None => false,
    })
}

/// Reads the pod spec at `spec` with the labels `labels`; `who` names the
/// object in notes.
pub fn read_template(
    spec: &At<'_>,
    labels: BTreeMap<String, String>,
    who: &str,
    notes: &mut Notes,
) -> Result<PodTemplate, Bad> {
    let requests = effective_requests(spec, who, notes)?;
    let (cpu, memory) = (requests.total.cpu, requests.total.memory);
    let host_network = spec.bool("hostNetwork")?.unwrap_or(false);
    let dns = spec.str("dnsPolicy")?.unwrap_or("ClusterFirst");
    let cluster_dns = match dns {
        "ClusterFirst" => !host_network,
        "ClusterFirstWithHostNet" => true,
        "Default" | "None" => false,
        other => {
            return Err(Bad {
                path: format!("{}.dnsPolicy", spec.path),
                message: format!(
                    "unknown dnsPolicy `{}`: expected ClusterFirst, ClusterFirstWithHostNet, Default or None",
                    crate::input::escape(other)
                ),
            });
        }
    };
    let mut t = PodTemplate {
        labels,
        cpu,
        memory,
        requests,
        node_selector: spec.string_map("nodeSelector")?,
        tolerations: tolerations(spec)?,
        node_affinity: None,
        priority_class: spec.str("priorityClassName")?.map(str::to_string),
        cluster_dns,
        termination_grace_seconds: spec.u64("terminationGracePeriodSeconds")?,
        claims: Vec::new(),
        readiness_seconds: readiness(spec)?,
        do_not_disrupt: false,
        rules: PodRules::default(),
    };
    if t.readiness_seconds.is_some_and(|r| r > 0) {
        notes.approximate(
            "readiness probes: a fixed delay to Ready of the startup and readiness probes' initialDelaySeconds",
            who,
        );
    }
    for v in spec.list("volumes")? {
        if let Some(c) = v.get("persistentVolumeClaim") {
            t.claims.push(c.need("claimName")?.as_str()?.to_string());
        }
    }
    if let Some(na) = spec.dig(&["affinity", "nodeAffinity"]) {
        t.node_affinity = Some(node_affinity(&na, who, notes)?);
    }
    t.rules = super::topology::read(spec, who, notes)?;
    Ok(t)
}

/// The longest probe delay to Ready among the containers that have a
/// readiness probe.
fn readiness(spec: &At<'_>) -> Result<Option<u64>, Bad> {
    let mut out: Option<u64> = None;
    for c in spec.list("containers")? {
        let Some(probe) = c.get("readinessProbe") else {
            continue;
        };
        let startup = match c.get("startupProbe") {
            Some(p) => p.u64("initialDelaySeconds")?.unwrap_or(0),
            None => 0,
        };
        let ready = probe.u64("initialDelaySeconds")?.unwrap_or(0);
        let total = startup.saturating_add(ready);
        out = Some(out.map_or(total, |o| o.max(total)));
    }
    Ok(out)
}

/// A container's requests; a resource limited but not requested is
/// requested at its limit, as the API server defaults it (for an extended
/// resource such as `nvidia.com/gpu` requests must equal limits, and
/// limits alone are the usual way to write it).
fn container_requests(c: &At<'_>, who: &str, notes: &mut Notes) -> Result<Resources, Bad> {
    let Some(res) = c.get("resources") else {
        return Ok(Resources::default());
    };
    let req = res.get("requests");
    let lim = res.get("limits");
    let pick = |name: &str| -> Option<&At<'_>> {
        match (&req, &lim) {
            (Some(r), _) if r.get(name).is_some() => req.as_ref(),
            (_, Some(l)) if l.get(name).is_some() => lim.as_ref(),
            _ => None,
        }
    };
    let cpu = match pick("cpu") {
        Some(a) => a.cpu("cpu")?.unwrap_or_default(),
        None => MilliCpu(0),
    };
    let memory = match pick("memory") {
        Some(a) => a.memory("memory")?.unwrap_or_default(),
        None => Bytes(0),
    };
    let gpu = match pick(GPU) {
        Some(a) => gpus(&a.need(GPU)?)?,
        None => 0,
    };
    for side in [&req, &lim].into_iter().flatten() {
        if let Some(map) = side.v.as_object() {
            for name in map.keys().filter(|n| !is_plain_resource(n)) {
                notes.skip(
                    &format!("extended resource `{name}` requests: not modelled"),
                    who,
                );
            }
        }
    }
    Ok(Resources::new(cpu, memory).with_gpu(gpu))
}

/// The extended resource the model counts.
const GPU: &str = "nvidia.com/gpu";

/// A whole number of GPUs, at most [`MAX_GPU`].
pub(super) fn gpus(a: &At<'_>) -> Result<u32, Bad> {
    let n = match &a.v {
        serde_json::Value::String(s) => s.trim().parse::<u32>().ok(),
        v => v.as_u64().and_then(|n| u32::try_from(n).ok()),
    };
    n.filter(|&n| n <= MAX_GPU).ok_or_else(|| Bad {
        path: a.path.clone(),
        message: format!("expected a whole number of GPUs from 0 to {MAX_GPU}"),
    })
}

/// cpu, memory, `nvidia.com/gpu` and the node-local resources the model
/// does not count.
fn is_plain_resource(name: &str) -> bool {
    matches!(name, "cpu" | "memory" | "ephemeral-storage" | GPU) || name.starts_with("hugepages-")
}

/// A container as the scenario writes it.
fn container_file(c: &At<'_>, r: Resources, sidecar: bool) -> Result<ContainerFile, Bad> {
    Ok(ContainerFile {
        name: Spanned::new(0..0, c.need("name")?.as_str()?.to_string()),
        cpu: (r.cpu.0 > 0).then_some(CpuText(r.cpu)),
        memory: (r.memory.0 > 0).then_some(MemoryText(r.memory)),
        gpu: (r.gpu > 0).then(|| Spanned::new(0..0, r.gpu)),
        restart_policy: sidecar.then(|| Spanned::new(0..0, RestartPolicyFile::Always)),
    })
}

/// The pod's containers, init containers and overhead, and its effective
/// requests from them (`quantity::pod_requests`: per resource, the larger
/// of the app containers plus sidecars, init containers with
/// `restartPolicy: Always`, and each regular init container plus the
/// sidecars before it; then `overhead`).
fn effective_requests(spec: &At<'_>, who: &str, notes: &mut Notes) -> Result<Requests, Bad> {
    let mut out = Requests::default();
    let mut init = Vec::new();
    for c in spec.list("initContainers")? {
        let r = container_requests(&c, who, notes)?;
        let sidecar = c.str("restartPolicy")? == Some("Always");
        out.init_containers.push(container_file(&c, r, sidecar)?);
        init.push(Container {
            requests: r,
            sidecar,
        });
    }
    let containers = spec.list("containers")?;
    if containers.is_empty() {
        return Err(Bad {
            path: format!("{}.containers", spec.path),
            message: "a pod needs at least one container".into(),
        });
    }
    let mut app = Vec::new();
    for c in &containers {
        let r = container_requests(c, who, notes)?;
        out.containers.push(container_file(c, r, false)?);
        app.push(r);
    }
    let mut overhead = Resources::default();
    if let Some(o) = spec.get("overhead") {
        overhead = Resources::new(
            o.cpu("cpu")?.unwrap_or_default(),
            o.memory("memory")?.unwrap_or_default(),
        );
        out.overhead = Some(OverheadFile {
            cpu: Some(CpuText(overhead.cpu)),
            memory: Some(MemoryText(overhead.memory)),
        });
    }
    out.total = pod_requests(&app, &init, overhead).ok_or_else(|| Bad {
        path: spec.path.clone(),
        message: "the pod's requests add up to more than poolsim can count".into(),
    })?;
    if out.total.gpu > MAX_GPU {
        return Err(Bad {
            path: spec.path.clone(),
            message: format!("the pod asks for more than {MAX_GPU} GPUs in all"),
        });
    }
    Ok(out)
}

fn effect(a: &At<'_>) -> Result<Option<EffectFile>, Bad> {
    match a.str("effect")? {
        None | Some("") => Ok(None),
        Some("NoSchedule") => Ok(Some(EffectFile::NoSchedule)),
        Some("PreferNoSchedule") => Ok(Some(EffectFile::PreferNoSchedule)),
        Some("NoExecute") => Ok(Some(EffectFile::NoExecute)),
        Some(other) => Err(Bad {
            path: format!("{}.effect", a.path),
            message: format!(
                "unknown effect `{}`: expected NoSchedule, PreferNoSchedule or NoExecute",
                crate::input::escape(other)
            ),
        }),
    }
}

/// A taint's effect, which must be given.
pub fn taint_effect(a: &At<'_>) -> Result<EffectFile, Bad> {
    effect(a)?.ok_or_else(|| Bad {
        path: format!("{}.effect", a.path),
        message: "missing".into(),
    })
}

fn tolerations(spec: &At<'_>) -> Result<Vec<TolerationFile>, Bad> {
    let mut out = Vec::new();
    for t in spec.list("tolerations")? {
        let operator = match t.str("operator")? {
            None | Some("Equal") => None,
            Some("Exists") => Some(TolerationOperatorFile::Exists),
            Some(other) => {
                return Err(Bad {
                    path: format!("{}.operator", t.path),
                    message: format!(
                        "unknown operator `{}`: expected Equal or Exists",
                        crate::input::escape(other)
                    ),
                });
            }
        };
        let seconds = t
            .i64("tolerationSeconds")?
            .map(|s| u64::try_from(s).unwrap_or(0));
        let key = t.str("key")?.unwrap_or("");
        let effect = effect(&t)?;
        // The DefaultTolerationSeconds admission plugin's pair, which the
        // model gives every pod that lacks it.
        if matches!(
            key,
            "node.kubernetes.io/not-ready" | "node.kubernetes.io/unreachable"
        ) && operator == Some(TolerationOperatorFile::Exists)
            && effect == Some(EffectFile::NoExecute)
            && seconds == Some(300)
        {
            continue;
        }
        out.push(TolerationFile {
            key: key.to_string(),
            operator,
            value: t.str("value")?.unwrap_or("").to_string(),
            effect,
            toleration_seconds: seconds,
        });
    }
    Ok(out)
}

/// The `matchExpressions` of a node selector term; `Gt`/`Lt` and
/// `matchFields` are left out with a note.
fn term(t: &At<'_>, who: &str, notes: &mut Notes) -> Result<Vec<RequirementFile>, Bad> {
    if !t.list("matchFields")?.is_empty() {
        notes.skip("node affinity matchFields: not modelled", who);
    }
    let mut out = Vec::new();
    for e in t.list("matchExpressions")? {
        let op = e.need("operator")?;
        let operator = match op.as_str()? {
            "In" => SelectorOperatorFile::In,
            "NotIn" => SelectorOperatorFile::NotIn,
            "Exists" => SelectorOperatorFile::Exists,
            "DoesNotExist" => SelectorOperatorFile::DoesNotExist,
            "Gt" | "Lt" => {
                notes.skip("node affinity Gt/Lt requirements: not modelled", who);
                continue;
            }
            other => {
                return Err(Bad {
                    path: op.path.clone(),
                    message: format!(
                        "unknown operator `{}`: expected In, NotIn, Exists, DoesNotExist, Gt or Lt",
                        crate::input::escape(other)
                    ),
                });
            }
        };
        out.push(RequirementFile {
            key: e.need("key")?.as_str()?.to_string(),
            operator,
            values: e.strings("values")?,
        });
    }
    Ok(out)
}

fn node_affinity(na: &At<'_>, who: &str, notes: &mut Notes) -> Result<NodeAffinityFile, Bad> {
    let mut out = NodeAffinityFile::default();
    if let Some(req) = na.get("requiredDuringSchedulingIgnoredDuringExecution") {
        for t in req.list("nodeSelectorTerms")? {
            out.required.push(term(&t, who, notes)?);
        }
    }
    for p in na.list("preferredDuringSchedulingIgnoredDuringExecution")? {
        let weight = p.need("weight")?;
        let w = weight.v.as_i64().ok_or_else(|| Bad {
            path: weight.path.clone(),
            message: "expected an integer".into(),
        })?;
        out.preferred.push(PreferredTermFile {
            weight: w,
            requirements: term(&p.need("preference")?, who, notes)?,
        });
    }
    Ok(out)
}
