//! What workloads are to each other and to the cluster: pod classes,
//! PriorityClasses, HPAs, PodDisruptionBudgets, volumes, admission
//! webhooks (a webhook on the workload behind its Service) and service
//! dependencies (cluster DNS, `--needs`).

use std::collections::{BTreeMap, BTreeSet};

use crate::scenario::file::{
    ClassFile, FailurePolicyFile, PdbFile, PreemptionPolicyFile, PriorityClassFile,
};

use super::ImportError;
use super::notes::Notes;
use super::object::{Object, Selector};
use super::workloads::{Controller, Workload};

/// The built-in PriorityClasses.
pub const SYSTEM_CLASSES: [&str; 2] = ["system-cluster-critical", "system-node-critical"];

/// DaemonSets that are the node's network plugin (CNI): the node is
/// NotReady until their pod runs.
const NETWORK_PLUGINS: &[&str] = &[
    "aws-node",
    "calico-node",
    "cilium",
    "kube-flannel-ds",
    "weave-net",
    "kube-router",
];

/// How pods are classed `system` rather than `user`.
#[derive(Debug, Clone)]
pub struct ClassRule {
    /// Namespaces whose workloads are system (default `kube-system`).
    pub namespaces: Vec<String>,
    /// Pod labels that make a workload system.
    pub labels: Vec<(String, String)>,
}

/// Per-workload facts beside the workload itself.
#[derive(Debug, Clone, Default)]
pub struct Extra {
    /// Pod class.
    pub system: bool,
    /// HPA bounds, when one targets it.
    pub hpa: Option<(u32, u32)>,
    /// Its PodDisruptionBudget.
    pub pdb: Option<PdbFile>,
    /// It is a service: available while this many pods run.
    pub min_available: Option<u32>,
    /// Services it needs, by workload index.
    pub needs: BTreeSet<usize>,
    /// It serves a webhook with this policy over these workloads.
    pub webhook: Option<(FailurePolicyFile, BTreeSet<usize>)>,
    /// A DaemonSet that is the node's CNI.
    pub network_plugin: bool,
}

/// The class of each workload.
pub fn classes(workloads: &[Workload], rule: &ClassRule, extra: &mut [Extra]) {
    for (w, e) in workloads.iter().zip(extra.iter_mut()) {
        e.system = rule.namespaces.contains(&w.namespace)
            || w.template
                .priority_class
                .as_deref()
                .is_some_and(|c| SYSTEM_CLASSES.contains(&c))
            || rule
                .labels
                .iter()
                .any(|(k, v)| w.template.labels.get(k) == Some(v));
        e.network_plugin = w.controller == Controller::DaemonSet
            && w.namespace == "kube-system"
            && NETWORK_PLUGINS.contains(&w.name.as_str());
    }
}

/// The scenario's PriorityClasses (the built-in ones are the model's own);
/// a workload naming a class the inputs lack loses it, with a note.
pub fn priority_classes(
    objects: &[Object],
    workloads: &mut [Workload],
    notes: &mut Notes,
) -> Result<Vec<PriorityClassFile>, ImportError> {
    let mut out = Vec::new();
    for o in objects.iter().filter(|o| o.kind == "PriorityClass") {
        if SYSTEM_CLASSES.contains(&o.name.as_str()) {
            continue;
        }
        let root = o.root();
        let value = root
            .need("value")
            .map_err(|b| o.error(b))?
            .v
            .as_i64()
            .ok_or_else(|| o.error_at(".value", "expected an integer"))?;
        let policy = match root.str("preemptionPolicy").map_err(|b| o.error(b))? {
            Some("Never") => Some(PreemptionPolicyFile::Never),
            _ => None,
        };
        out.push(PriorityClassFile {
            name: toml::Spanned::new(0..0, o.name.clone()),
            value: toml::Spanned::new(0..0, value),
            preemption_policy: policy,
            global_default: root.bool("globalDefault").map_err(|b| o.error(b))? == Some(true),
        });
    }
    out.sort_by(|a, b| a.name.get_ref().cmp(b.name.get_ref()));
    for w in workloads.iter_mut() {
        if let Some(c) = &w.template.priority_class
            && !SYSTEM_CLASSES.contains(&c.as_str())
            && !out.iter().any(|p| p.name.get_ref() == c)
        {
            notes.skip(
                "priorityClassName of a PriorityClass not in the inputs",
                format!("{} ({c})", w.id),
            );
            w.template.priority_class = None;
        }
    }
    Ok(out)
}

/// The workload a `scaleTargetRef`/selector names: index by controller
/// kind, namespace and name.
fn find(workloads: &[Workload], kind: &str, ns: &str, name: &str) -> Option<usize> {
    let want = match kind {
        "Deployment" | "ReplicaSet" => Controller::Deployment,
        "StatefulSet" => Controller::StatefulSet,
        _ => return None,
    };
    workloads
        .iter()
        .position(|w| w.controller == want && w.namespace == ns && w.name == name)
}

/// HPAs: the target's replicas frozen at the current size.
pub fn hpas(
    objects: &[Object],
    workloads: &mut [Workload],
    extra: &mut [Extra],
    notes: &mut Notes,
) -> Result<(), ImportError> {
    for o in objects
        .iter()
        .filter(|o| o.kind == "HorizontalPodAutoscaler")
    {
        let root = o.root();
        let spec = root.need("spec").map_err(|b| o.error(b))?;
        let target = spec.need("scaleTargetRef").map_err(|b| o.error(b))?;
        let kind = target
            .need("kind")
            .and_then(|k| k.as_str())
            .map_err(|b| o.error(b))?;
        let name = target
            .need("name")
            .and_then(|k| k.as_str())
            .map_err(|b| o.error(b))?;
        let Some(i) = find(workloads, kind, &o.namespace, name) else {
            notes.skip("HPAs whose target is not among the workloads", o.id());
            continue;
        };
        let lo = spec
            .u64("minReplicas")
            .map_err(|b| o.error(b))?
            .unwrap_or(1);
        let hi = spec
            .u64("maxReplicas")
            .map_err(|b| o.error(b))?
            .unwrap_or(lo);
        let current = match root.get("status") {
            Some(s) => s.u64("currentReplicas").map_err(|b| o.error(b))?,
            None => None,
        };
        let w = &mut workloads[i];
        if let Some(c) = current {
            w.replicas = u32::try_from(c).unwrap_or(u32::MAX);
        }
        let (lo, hi) = (lo as u32, hi as u32);
        extra[i].hpa = Some((lo, hi));
        notes.approximate(
            "HPAs frozen at their current size (min-max noted)",
            format!("{} ({} replicas, HPA {lo}-{hi})", w.id, w.replicas),
        );
    }
    Ok(())
}

/// A PDB count: an integer, or a percentage of `replicas` rounded up (as
/// the disruption controller rounds both keys).
fn pdb_count(
    o: &Object,
    v: &serde_json::Value,
    path: &str,
    replicas: u32,
    notes: &mut Notes,
) -> Result<u32, ImportError> {
    if let Some(n) = v.as_u64() {
        return Ok(u32::try_from(n).unwrap_or(u32::MAX));
    }
    let pct = v
        .as_str()
        .and_then(|s| s.strip_suffix('%'))
        .and_then(|p| p.parse::<u64>().ok())
        .filter(|&p| p <= 100)
        .ok_or_else(|| o.error_at(path, "expected an integer or a percentage such as \"25%\""))?;
    let n = (pct * u64::from(replicas)).div_ceil(100);
    notes.approximate(
        "PDB percentages: a count of the current replicas, rounded up",
        format!("{} ({pct}% of {replicas} = {n})", o.id()),
    );
    Ok(n as u32)
}

/// PodDisruptionBudgets onto the workloads whose pod labels they select.
pub fn pdbs(
    objects: &[Object],
    workloads: &[Workload],
    extra: &mut [Extra],
    notes: &mut Notes,
) -> Result<(), ImportError> {
    for o in objects.iter().filter(|o| o.kind == "PodDisruptionBudget") {
        let root = o.root();
        let spec = root.need("spec").map_err(|b| o.error(b))?;
        let selector = match spec.get("selector") {
            Some(s) => Selector::read(&s).map_err(|b| o.error(b))?,
            None => Selector::default(),
        };
        let targets: Vec<usize> = workloads
            .iter()
            .enumerate()
            .filter(|(_, w)| {
                w.namespace == o.namespace
                    && w.controller != Controller::DaemonSet
                    && !selector.is_empty()
                    && selector.matches(&w.template.labels)
            })
            .map(|(i, _)| i)
            .collect();
        if targets.is_empty() {
            notes.skip("PDBs that select no imported workload", o.id());
            continue;
        }
        if targets.len() > 1 {
            notes.approximate("PDBs over several workloads: one per workload", o.id());
        }
        for i in targets {
            let replicas = workloads[i].replicas;
            let mut pdb = PdbFile {
                min_available: None,
                max_unavailable: None,
            };
            if let Some(m) = spec.get("minAvailable") {
                pdb.min_available = Some(pdb_count(o, m.v, &m.path, replicas, notes)?);
            } else if let Some(m) = spec.get("maxUnavailable") {
                pdb.max_unavailable = Some(pdb_count(o, m.v, &m.path, replicas, notes)?);
            } else {
                notes.skip("PDBs with neither minAvailable nor maxUnavailable", o.id());
                continue;
            }
            extra[i].pdb = Some(pdb);
        }
    }
    Ok(())
}

/// Pods a service needs running: from its PDB (`minAvailable`, or
/// replicas less `maxUnavailable`), else 1; never above its replicas.
fn service_minimum(w: &Workload, e: &Extra) -> u32 {
    let from_pdb = match &e.pdb {
        Some(PdbFile {
            min_available: Some(m),
            ..
        }) => *m,
        Some(PdbFile {
            max_unavailable: Some(m),
            ..
        }) => w.replicas.saturating_sub(*m),
        _ => 1,
    };
    from_pdb.clamp(1, w.replicas.max(1))
}

/// Makes workload `i` a service.
pub fn make_service(workloads: &[Workload], extra: &mut [Extra], i: usize) {
    if extra[i].min_available.is_none() {
        extra[i].min_available = Some(service_minimum(&workloads[i], &extra[i]));
    }
}

/// Whether a service can be one: a Deployment or StatefulSet with pods.
pub fn can_serve(w: &Workload) -> bool {
    matches!(
        w.controller,
        Controller::Deployment | Controller::StatefulSet
    ) && w.replicas > 0
}

/// The workload behind Service `namespace/name`: the first Deployment or
/// StatefulSet whose pod labels the Service's selector matches.
pub fn behind_service(
    objects: &[Object],
    workloads: &[Workload],
    ns: &str,
    name: &str,
) -> Result<Option<usize>, ImportError> {
    let Some(svc) = objects
        .iter()
        .find(|o| o.kind == "Service" && o.namespace == ns && o.name == name)
    else {
        return Ok(None);
    };
    let root = svc.root();
    let selector = match root.get("spec") {
        Some(s) => s.string_map("selector").map_err(|b| svc.error(b))?,
        None => BTreeMap::new(),
    };
    if selector.is_empty() {
        return Ok(None);
    }
    Ok(workloads.iter().position(|w| {
        w.namespace == ns
            && can_serve(w)
            && selector
                .iter()
                .all(|(k, v)| w.template.labels.get(k) == Some(v))
    }))
}

/// Pods whose DNS goes to the cluster DNS need it: CoreDNS (the workload
/// behind `kube-system/kube-dns`, else the `coredns` Deployment).
pub fn cluster_dns(
    objects: &[Object],
    workloads: &[Workload],
    extra: &mut [Extra],
    notes: &mut Notes,
) -> Result<(), ImportError> {
    let dns = match behind_service(objects, workloads, "kube-system", "kube-dns")? {
        Some(i) => Some(i),
        None => workloads
            .iter()
            .position(|w| w.namespace == "kube-system" && w.name == "coredns" && can_serve(w)),
    };
    let Some(dns) = dns else {
        if workloads.iter().any(|w| w.template.cluster_dns) {
            notes.skip(
                "dependency on the cluster DNS: no CoreDNS workload among the inputs",
                "Service/kube-system/kube-dns",
            );
        }
        return Ok(());
    };
    let mut any = false;
    for (i, w) in workloads.iter().enumerate() {
        if i != dns && w.template.cluster_dns && w.controller != Controller::DaemonSet {
            extra[i].needs.insert(dns);
            any = true;
        }
    }
    if any {
        make_service(workloads, extra, dns);
    }
    Ok(())
}

/// Pod class in the file's words.
pub fn class_file(e: &Extra) -> ClassFile {
    if e.system {
        ClassFile::System
    } else {
        ClassFile::User
    }
}

/// Volumes: a StatefulSet's claim templates become its `volume_claims`
/// (bound afresh to each ordinal's first node's zone, where the existing
/// PersistentVolumes' zones are noted); claims of other pods are not
/// modelled.
pub fn volumes(
    objects: &[Object],
    workloads: &[Workload],
    notes: &mut Notes,
) -> Result<(), ImportError> {
    for w in workloads {
        if w.controller != Controller::StatefulSet && !w.template.claims.is_empty() {
            notes.skip(
                "PersistentVolumeClaims of pods that are not a StatefulSet's: not modelled",
                &w.id,
            );
        }
        if w.claim_templates.is_empty() {
            continue;
        }
        let mut zones = BTreeSet::new();
        for t in &w.claim_templates {
            let prefix = format!("{t}-{}-", w.name);
            for pvc in objects.iter().filter(|o| {
                o.kind == "PersistentVolumeClaim"
                    && o.namespace == w.namespace
                    && o.name.starts_with(&prefix)
            }) {
                let root = pvc.root();
                let Some(volume) = root.dig(&["spec", "volumeName"]) else {
                    continue;
                };
                let volume = volume.as_str().map_err(|b| pvc.error(b))?;
                if let Some(z) = pv_zone(objects, volume)? {
                    zones.insert(z);
                }
            }
        }
        let zones: Vec<String> = zones.into_iter().collect();
        notes.approximate(
            "StatefulSet volumes bind afresh to the zone of each ordinal's first node (today's volume zones in brackets)",
            format!("{} [{}]", w.id, zones.join(", ")),
        );
    }
    Ok(())
}

/// The zone a PersistentVolume's node affinity pins it to, if any.
fn pv_zone(objects: &[Object], name: &str) -> Result<Option<String>, ImportError> {
    let Some(pv) = objects
        .iter()
        .find(|o| o.kind == "PersistentVolume" && o.name == name)
    else {
        return Ok(None);
    };
    let root = pv.root();
    let Some(req) = root.dig(&["spec", "nodeAffinity", "required"]) else {
        return Ok(None);
    };
    for term in req.list("nodeSelectorTerms").map_err(|b| pv.error(b))? {
        for e in term.list("matchExpressions").map_err(|b| pv.error(b))? {
            let key = e.str("key").map_err(|b| pv.error(b))?;
            if matches!(
                key,
                Some("topology.kubernetes.io/zone" | "topology.ebs.csi.aws.com/zone")
            ) && let Some(z) = e.strings("values").map_err(|b| pv.error(b))?.first()
            {
                return Ok(Some(z.clone()));
            }
        }
    }
    Ok(None)
}

/// `--needs FILE`: a TOML table of workload name to the services it
/// needs (`api = ["checkout", "cache-redis"]`), by scenario names; each
/// service named becomes one.
pub fn needs_file(
    path: &std::path::Path,
    workloads: &[Workload],
    extra: &mut [Extra],
) -> Result<(), ImportError> {
    let file = path.display().to_string();
    let text = crate::input::read_text(path, crate::input::MAX_SCENARIO_BYTES).map_err(|e| {
        ImportError::Read {
            file: file.clone(),
            message: e.to_string(),
        }
    })?;
    let map: BTreeMap<String, Vec<String>> =
        toml::from_str(&text).map_err(|e| ImportError::Parse {
            file: file.clone(),
            message: format!(
                "expected lines `WORKLOAD = [\"SERVICE\", ...]`: {}",
                crate::input::escape(&e.to_string())
            ),
        })?;
    let find = |name: &str, key: &str| {
        workloads
            .iter()
            .position(|w| w.scenario_name == name)
            .ok_or_else(|| ImportError::Object {
                file: file.clone(),
                object: "needs".into(),
                path: key.to_string(),
                message: format!(
                    "no imported workload named `{}`",
                    crate::input::escape(name)
                ),
            })
    };
    for (user, services) in &map {
        let u = find(user, user)?;
        for s in services {
            let i = find(s, &format!("{user}[{s}]"))?;
            if !can_serve(&workloads[i]) || i == u {
                return Err(ImportError::Object {
                    file: file.clone(),
                    object: "needs".into(),
                    path: format!("{user}[{s}]"),
                    message: "a service is another Deployment or StatefulSet with replicas".into(),
                });
            }
            extra[u].needs.insert(i);
            make_service(workloads, extra, i);
        }
    }
    Ok(())
}
