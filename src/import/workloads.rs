//! Workloads from controllers: one per Deployment, StatefulSet, DaemonSet,
//! CronJob and standalone Job (a ReplicaSet folds into its Deployment, a
//! Job into its CronJob), each pod traced to its controller through its
//! owner references; pods with no controller become one-pod workloads.

use std::collections::BTreeMap;

use crate::input::escape;

use super::ImportError;
use super::cron::{epoch_seconds, runs_per_hour};
use super::notes::Notes;
use super::object::{At, Object};
use super::template::{PodTemplate, do_not_disrupt, read_template};

/// The controller behind a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Controller {
    /// A Deployment (or a ReplicaSet with none).
    Deployment,
    /// A StatefulSet.
    StatefulSet,
    /// A DaemonSet.
    DaemonSet,
    /// A CronJob and its Jobs.
    CronJob,
    /// A Job with no CronJob.
    Job,
    /// A pod with no controller.
    BarePod,
}

/// A Job workload's figures.
#[derive(Debug, Clone, Default)]
pub struct JobInfo {
    /// Pods that must succeed per Job.
    pub completions: u32,
    /// Pods at once.
    pub parallelism: u32,
    /// `backoffLimit`.
    pub backoff_limit: Option<u32>,
    /// Median duration of the finished Jobs, seconds.
    pub work_seconds: Option<u64>,
    /// CronJob: mean Jobs per hour of its schedule.
    pub rate_per_hour: Option<f64>,
}

/// One imported workload.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Its controller kind.
    pub controller: Controller,
    /// `kind/namespace/name` of the controller (or the pod).
    pub id: String,
    /// Namespace.
    pub namespace: String,
    /// Kubernetes name.
    pub name: String,
    /// Name in the scenario (unique).
    pub scenario_name: String,
    /// The pod template.
    pub template: PodTemplate,
    /// Replicas (Deployments and StatefulSets).
    pub replicas: u32,
    /// Pods of it found Pending with no node.
    pub pending: u32,
    /// StatefulSet `volumeClaimTemplates` names.
    pub claim_templates: Vec<String>,
    /// StatefulSet `podManagementPolicy` is `Parallel`.
    pub parallel: bool,
    /// Job figures.
    pub job: Option<JobInfo>,
}

/// Workloads and the pods seen, from every object.
pub struct Derived {
    /// Workloads in a stable order (namespace, name, kind).
    pub workloads: Vec<Workload>,
    /// Pods found Pending (no node), in all.
    pub pending_pods: u32,
}

type Key = (String, String, String);

fn key(kind: &str, ns: &str, name: &str) -> Key {
    (kind.to_string(), ns.to_string(), name.to_string())
}

fn bad(o: &Object) -> impl Fn(super::object::Bad) -> ImportError + '_ {
    move |b| o.error(b)
}

/// The workloads of `objects`.
pub fn derive(objects: &[Object], notes: &mut Notes) -> Result<Derived, ImportError> {
    let index: BTreeMap<Key, &Object> = objects
        .iter()
        .map(|o| (key(&o.kind, &o.namespace, &o.name), o))
        .collect();
    let mut workloads: BTreeMap<Key, Workload> = BTreeMap::new();
    for o in objects {
        let w = match o.kind.as_str() {
            "Deployment" | "StatefulSet" | "DaemonSet" | "CronJob" => controller(o, notes)?,
            "ReplicaSet" => match resolve_owner(o, &index)? {
                Some(_) => continue,
                None => {
                    notes.approximate("ReplicaSets with no Deployment: a Deployment", o.id());
                    controller(o, notes)?
                }
            },
            "Job" => match resolve_owner(o, &index)? {
                Some(_) => continue,
                None => match standalone_job(o, notes)? {
                    Some(w) => w,
                    None => continue,
                },
            },
            _ => continue,
        };
        workloads.insert(key(&o.kind, &o.namespace, &o.name), w);
    }
    jobs_of_cronjobs(objects, &index, &mut workloads, notes)?;
    let mut pending_pods = 0;
    for o in objects.iter().filter(|o| o.kind == "Pod") {
        let root = o.root();
        let status = root.get("status");
        let phase = match &status {
            Some(s) => s.str("phase").map_err(bad(o))?.unwrap_or("Pending"),
            None => "Pending",
        };
        if matches!(phase, "Succeeded" | "Failed") {
            notes.skip("finished pods (Succeeded or Failed)", o.id());
            continue;
        }
        let spec = root.need("spec").map_err(bad(o))?;
        let pending = spec.str("nodeName").map_err(bad(o))?.is_none();
        pending_pods += u32::from(pending);
        let owner = owning_controller(o, &index, notes)?;
        let w = match owner {
            Some(k) => workloads.get_mut(&k),
            None => {
                let k = key("Pod", &o.namespace, &o.name);
                notes.approximate(
                    "pods with no controller: a one-replica Deployment (recreated when lost, which a bare pod is not)",
                    o.id(),
                );
                let labels = o.labels()?;
                let mut template = read_template(&spec, labels, &o.id(), notes).map_err(bad(o))?;
                template.do_not_disrupt =
                    do_not_disrupt(root.get("metadata").as_ref()).map_err(bad(o))?;
                workloads.insert(k.clone(), new_workload(o, Controller::BarePod, template, 1));
                workloads.get_mut(&k)
            }
        };
        if let Some(w) = w {
            w.pending += u32::from(pending);
        }
    }
    let mut list: Vec<Workload> = workloads.into_values().collect();
    name_uniquely(&mut list);
    Ok(Derived {
        workloads: list,
        pending_pods,
    })
}

/// The owner `o` names, which must exist among the inputs.
fn resolve_owner<'a>(
    o: &Object,
    index: &BTreeMap<Key, &'a Object>,
) -> Result<Option<&'a Object>, ImportError> {
    let Some(r) = o.owner()? else { return Ok(None) };
    match index.get(&key(&r.kind, &o.namespace, &r.name)) {
        Some(owner) => Ok(Some(owner)),
        None => Err(o.error_at(
            &r.path,
            format!(
                "ownerReference to {}/{}/{}, which is not among the inputs (include it in the dump, e.g. `kubectl get {}` with the rest)",
                escape(&r.kind),
                escape(&o.namespace),
                escape(&r.name),
                escape(&r.kind.to_lowercase()),
            ),
        )),
    }
}

/// The workload key of the controller that owns pod `o`, if any.
fn owning_controller(
    o: &Object,
    index: &BTreeMap<Key, &Object>,
    notes: &mut Notes,
) -> Result<Option<Key>, ImportError> {
    let Some(r) = o.owner()? else { return Ok(None) };
    if !matches!(
        r.kind.as_str(),
        "ReplicaSet" | "StatefulSet" | "DaemonSet" | "Job"
    ) {
        notes.approximate(
            "pods owned by a controller poolsim does not know: a one-replica Deployment",
            format!("{} (owner {}/{})", o.id(), r.kind, r.name),
        );
        return Ok(None);
    }
    let Some(owner) = resolve_owner(o, index)? else {
        return Ok(None);
    };
    match resolve_owner(owner, index)? {
        Some(top) => Ok(Some(key(&top.kind, &top.namespace, &top.name))),
        None => Ok(Some(key(&owner.kind, &owner.namespace, &owner.name))),
    }
}

fn new_workload(
    o: &Object,
    controller: Controller,
    template: PodTemplate,
    replicas: u32,
) -> Workload {
    Workload {
        controller,
        id: o.id(),
        namespace: o.namespace.clone(),
        name: o.name.clone(),
        scenario_name: o.name.clone(),
        template,
        replicas,
        pending: 0,
        claim_templates: Vec::new(),
        parallel: false,
        job: None,
    }
}

/// The pod template at `spec.template` (or, for a CronJob,
/// `spec.jobTemplate.spec.template`).
fn template_of(o: &Object, at: &At<'_>, notes: &mut Notes) -> Result<PodTemplate, ImportError> {
    let t = at.need("template").map_err(bad(o))?;
    let labels = match t.get("metadata") {
        Some(m) => m.string_map("labels").map_err(bad(o))?,
        None => BTreeMap::new(),
    };
    let spec = t.need("spec").map_err(bad(o))?;
    let mut template = read_template(&spec, labels, &o.id(), notes).map_err(bad(o))?;
    template.do_not_disrupt = do_not_disrupt(t.get("metadata").as_ref()).map_err(bad(o))?;
    Ok(template)
}

fn count(o: &Object, at: &At<'_>, k: &str, default: u32) -> Result<u32, ImportError> {
    match at.u64(k).map_err(bad(o))? {
        None => Ok(default),
        Some(n) => {
            u32::try_from(n).map_err(|_| o.error_at(&format!("{}.{k}", at.path), "too large"))
        }
    }
}

/// A Deployment, ReplicaSet, StatefulSet, DaemonSet or CronJob.
fn controller(o: &Object, notes: &mut Notes) -> Result<Workload, ImportError> {
    let root = o.root();
    let spec = root.need("spec").map_err(bad(o))?;
    let kind = match o.kind.as_str() {
        "StatefulSet" => Controller::StatefulSet,
        "DaemonSet" => Controller::DaemonSet,
        "CronJob" => Controller::CronJob,
        _ => Controller::Deployment,
    };
    if kind == Controller::CronJob {
        let job_spec = spec
            .dig(&["jobTemplate", "spec"])
            .ok_or_else(|| o.error_at(&format!("{}.jobTemplate.spec", spec.path), "missing"))?;
        let template = template_of(o, &job_spec, notes)?;
        let mut w = new_workload(o, kind, template, 0);
        let schedule = spec
            .need("schedule")
            .and_then(|s| s.as_str())
            .map_err(bad(o))?;
        let rate = runs_per_hour(schedule);
        if rate.is_none() {
            notes.skip(
                "CronJob schedules poolsim cannot read: one Job at the start",
                format!("{} `{schedule}`", o.id()),
            );
        } else {
            notes.approximate(
                "CronJob schedules: Poisson arrivals at the schedule's mean rate",
                format!("{} `{schedule}`", o.id()),
            );
        }
        if spec.bool("suspend").map_err(bad(o))? == Some(true) {
            notes.approximate("suspended CronJobs: imported as if running", o.id());
        }
        w.job = Some(JobInfo {
            completions: count(o, &job_spec, "completions", 1)?,
            parallelism: count(o, &job_spec, "parallelism", 1)?,
            backoff_limit: job_spec
                .u64("backoffLimit")
                .map_err(bad(o))?
                .map(|n| n as u32),
            work_seconds: None,
            rate_per_hour: rate,
        });
        return Ok(w);
    }
    let template = template_of(o, &spec, notes)?;
    let replicas = if kind == Controller::DaemonSet {
        0
    } else {
        count(o, &spec, "replicas", 1)?
    };
    let mut w = new_workload(o, kind, template, replicas);
    if kind == Controller::StatefulSet {
        w.parallel = spec.str("podManagementPolicy").map_err(bad(o))? == Some("Parallel");
        for t in spec.list("volumeClaimTemplates").map_err(bad(o))? {
            let name = t
                .dig(&["metadata", "name"])
                .ok_or_else(|| o.error_at(&format!("{}.metadata.name", t.path), "missing"))?
                .as_str()
                .map_err(bad(o))?;
            w.claim_templates.push(name.to_string());
        }
    }
    Ok(w)
}

/// A Job with no CronJob: the completions still to go, at the start; a
/// finished one is skipped.
fn standalone_job(o: &Object, notes: &mut Notes) -> Result<Option<Workload>, ImportError> {
    let root = o.root();
    let spec = root.need("spec").map_err(bad(o))?;
    let done = root
        .get("status")
        .map(|s| s.u64("succeeded"))
        .transpose()
        .map_err(bad(o))?
        .flatten()
        .unwrap_or(0);
    let completions = count(o, &spec, "completions", 1)?;
    let left = completions.saturating_sub(u32::try_from(done).unwrap_or(u32::MAX));
    if left == 0 || finished(o)? {
        notes.skip("finished Jobs", o.id());
        return Ok(None);
    }
    if done > 0 {
        notes.approximate(
            "running Jobs: only the completions still to go, all starting at 0s",
            format!("{} ({left} of {completions})", o.id()),
        );
    }
    let template = template_of(o, &spec, notes)?;
    let mut w = new_workload(o, Controller::Job, template, 0);
    w.job = Some(JobInfo {
        completions: left,
        parallelism: count(o, &spec, "parallelism", 1)?.min(left),
        backoff_limit: spec.u64("backoffLimit").map_err(bad(o))?.map(|n| n as u32),
        work_seconds: None,
        rate_per_hour: None,
    });
    Ok(Some(w))
}

/// Whether a Job has a `Complete` or `Failed` condition.
fn finished(o: &Object) -> Result<bool, ImportError> {
    let root = o.root();
    let Some(status) = root.get("status") else {
        return Ok(false);
    };
    for c in status.list("conditions").map_err(bad(o))? {
        let t = c.str("type").map_err(bad(o))?;
        let s = c.str("status").map_err(bad(o))?;
        if matches!(t, Some("Complete" | "Failed")) && s == Some("True") {
            return Ok(true);
        }
    }
    Ok(false)
}

/// How long a finished Job ran, in seconds.
fn duration(o: &Object) -> Result<Option<u64>, ImportError> {
    let root = o.root();
    let Some(status) = root.get("status") else {
        return Ok(None);
    };
    let start = status
        .str("startTime")
        .map_err(bad(o))?
        .and_then(epoch_seconds);
    let end = status
        .str("completionTime")
        .map_err(bad(o))?
        .and_then(epoch_seconds);
    Ok(match (start, end) {
        (Some(s), Some(e)) if e >= s => Some((e - s) as u64),
        _ => None,
    })
}

/// Each CronJob's work: the median duration of its finished Jobs, and of
/// every standalone Job its own pods' history is unknown.
fn jobs_of_cronjobs(
    objects: &[Object],
    index: &BTreeMap<Key, &Object>,
    workloads: &mut BTreeMap<Key, Workload>,
    notes: &mut Notes,
) -> Result<(), ImportError> {
    let mut durations: BTreeMap<Key, Vec<u64>> = BTreeMap::new();
    for o in objects.iter().filter(|o| o.kind == "Job") {
        if let Some(owner) = resolve_owner(o, index)?
            && let Some(d) = duration(o)?
        {
            durations
                .entry(key(&owner.kind, &owner.namespace, &owner.name))
                .or_default()
                .push(d);
        }
    }
    for (k, w) in workloads.iter_mut() {
        let Some(job) = &mut w.job else { continue };
        match durations.get_mut(k) {
            Some(d) if !d.is_empty() => {
                d.sort_unstable();
                job.work_seconds = Some(d[d.len() / 2]);
                notes.approximate(
                    "Job work time: the median duration of the finished Jobs, fixed",
                    format!("{} ({} Jobs)", w.id, d.len()),
                );
            }
            _ => notes.approximate(
                "Job work time unknown (no finished Job in the inputs): 10m",
                &w.id,
            ),
        }
    }
    Ok(())
}

/// Scenario names: the Kubernetes name, or `namespace/name` where two
/// workloads share one.
fn name_uniquely(list: &mut [Workload]) {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for w in list.iter() {
        *counts.entry(w.name.clone()).or_default() += 1;
    }
    for w in list.iter_mut() {
        if counts[&w.name] > 1 {
            w.scenario_name = format!("{}/{}", w.namespace, w.name);
        }
    }
}

/// Drops the `nvidia.com/gpu` requests of every workload when nothing the
/// scenario could launch has GPUs (`gpus_exist` false: no node with GPU
/// capacity, no catalogue GPU type among the nodes' types, no NodePool):
/// written as they are, those pods could never be placed, and `validate`
/// refuses a workload no pool could hold. Each is noted.
pub fn drop_gpus_without_nodes(list: &mut [Workload], gpus_exist: bool, notes: &mut Notes) {
    if gpus_exist {
        return;
    }
    for w in list
        .iter_mut()
        .filter(|w| w.template.requests.total.gpu > 0)
    {
        notes.approximate(
            "`nvidia.com/gpu` requests dropped: no node or NodePool has GPUs, so these pods could never be placed (Pending in the cluster too)",
            &w.id,
        );
        w.template.requests.drop_gpus();
    }
}
