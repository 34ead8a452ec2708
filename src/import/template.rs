//! A pod spec (a controller's template or a bare pod's spec) as the model
//! sees it: effective requests, placement (with the rules between pods of
//! `topology.rs`), priority class, DNS policy, volumes; what the model cannot carry is recorded in the report.

use std::collections::BTreeMap;

use crate::quantity::{Bytes, MilliCpu};
use crate::scenario::file::{
    EffectFile, NodeAffinityFile, PreferredTermFile, RequirementFile, SelectorOperatorFile,
    TolerationFile, TolerationOperatorFile,
};

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
    let (cpu, memory) = effective_requests(spec, who, notes)?;
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
/// requested at its limit, as the API server defaults it.
fn container_requests(c: &At<'_>, who: &str, notes: &mut Notes) -> Result<(MilliCpu, Bytes), Bad> {
    let Some(res) = c.get("resources") else {
        return Ok((MilliCpu(0), Bytes(0)));
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
    if let Some(map) = req.as_ref().and_then(|r| r.v.as_object()) {
        for name in map.keys().filter(|n| !is_plain_resource(n)) {
            notes.skip(
                &format!("extended resource `{name}` requests: not modelled"),
                who,
            );
        }
    }
    Ok((cpu, memory))
}

/// cpu, memory and the node-local resources the model does not count.
fn is_plain_resource(name: &str) -> bool {
    matches!(name, "cpu" | "memory" | "ephemeral-storage") || name.starts_with("hugepages-")
}

fn add(a: (MilliCpu, Bytes), b: (MilliCpu, Bytes), path: &str) -> Result<(MilliCpu, Bytes), Bad> {
    let overflow = || Bad {
        path: path.to_string(),
        message: "the pod's requests add up to more than poolsim can count".into(),
    };
    Ok((
        MilliCpu(a.0.0.checked_add(b.0.0).ok_or_else(overflow)?),
        Bytes(a.1.0.checked_add(b.1.0).ok_or_else(overflow)?),
    ))
}

fn max(a: (MilliCpu, Bytes), b: (MilliCpu, Bytes)) -> (MilliCpu, Bytes) {
    (a.0.max(b.0), a.1.max(b.1))
}

/// The pod's effective requests, per resource, as the scheduler counts
/// them: the larger of the app containers' sum (plus sidecars, init
/// containers with `restartPolicy: Always`) and each regular init
/// container (plus the sidecars started before it), then `overhead`.
fn effective_requests(
    spec: &At<'_>,
    who: &str,
    notes: &mut Notes,
) -> Result<(MilliCpu, Bytes), Bad> {
    let zero = (MilliCpu(0), Bytes(0));
    let mut sidecars = zero;
    let mut init = zero;
    for c in spec.list("initContainers")? {
        let r = container_requests(&c, who, notes)?;
        if c.str("restartPolicy")? == Some("Always") {
            sidecars = add(sidecars, r, &c.path)?;
        } else {
            init = max(init, add(r, sidecars, &c.path)?);
        }
    }
    let mut app = sidecars;
    let containers = spec.list("containers")?;
    if containers.is_empty() {
        return Err(Bad {
            path: format!("{}.containers", spec.path),
            message: "a pod needs at least one container".into(),
        });
    }
    for c in &containers {
        app = add(app, container_requests(c, who, notes)?, &c.path)?;
    }
    let mut total = max(app, init);
    if let Some(o) = spec.get("overhead") {
        let extra = (
            o.cpu("cpu")?.unwrap_or_default(),
            o.memory("memory")?.unwrap_or_default(),
        );
        total = add(total, extra, &o.path)?;
    }
    Ok(total)
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
