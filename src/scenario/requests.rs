//! A workload's effective pod requests from what the file writes: either
//! `cpu`/`memory`/`gpu` (one implicit container) or `containers`, plus
//! `init_containers` and `overhead`, through
//! [`crate::quantity::pod_requests`] (`docs/fidelity.md`, "Effective
//! requests"). Every error names the file, the line and the key.

use std::collections::BTreeSet;

use crate::quantity::{Bytes, Container, MAX_GPU, MilliCpu, Resources, pod_requests};

use crate::cloud::AsgSpec;
use crate::kube::WorkloadSpec;

use super::file::{ContainerFile, WorkloadFile};
use super::validate::Source;
use super::{Scenario, ScenarioError};

/// The effective requests of one pod of `w`, whose key is `key`
/// (`workloads.NAME`).
pub(super) fn effective(
    src: &Source<'_>,
    w: &WorkloadFile,
    key: &str,
) -> Result<Resources, ScenarioError> {
    let at = Some(w.name.span());
    let app = if w.containers.is_empty() {
        let missing = |k: &str| {
            src.error(
                at.clone(),
                format!("{key}.{k}"),
                format!("missing field `{k}`: give `cpu` and `memory`, or `containers`"),
            )
        };
        let cpu = w.cpu.ok_or_else(|| missing("cpu"))?;
        let memory = w.memory.ok_or_else(|| missing("memory"))?;
        let gpu = gpu_of(src, w.gpu.as_ref(), &format!("{key}.gpu"))?;
        vec![Resources::new(cpu.0, memory.0).with_gpu(gpu)]
    } else {
        let given = [
            ("cpu", w.cpu.is_some()),
            ("memory", w.memory.is_some()),
            ("gpu", w.gpu.is_some()),
        ];
        if let Some((k, _)) = given.iter().find(|(_, g)| *g) {
            return Err(src.error(
                at,
                format!("{key}.{k}"),
                format!(
                    "`{k}` on the workload describes its one container; with `containers`, give it on each container"
                ),
            ));
        }
        let mut app = Vec::new();
        for c in &w.containers {
            if let Some(p) = &c.restart_policy {
                return Err(src.error(
                    Some(p.span()),
                    format!("{key}.containers.{}.restart_policy", c.name.get_ref()),
                    "only init containers take `restart_policy` (`Always` makes a sidecar)",
                ));
            }
            app.push(container(src, c, &format!("{key}.containers"))?.requests);
        }
        app
    };
    unique_names(src, w, key)?;
    let mut init = Vec::new();
    for c in &w.init_containers {
        init.push(container(src, c, &format!("{key}.init_containers"))?);
    }
    let overhead = match &w.overhead {
        Some(o) => Resources::new(
            o.cpu.map_or(MilliCpu(0), |c| c.0),
            o.memory.map_or(Bytes(0), |m| m.0),
        ),
        None => Resources::default(),
    };
    let total = pod_requests(&app, &init, overhead);
    match total {
        Some(r) if r.gpu <= MAX_GPU => Ok(r),
        Some(r) => Err(src.error(
            at,
            format!("{key}.gpu"),
            format!(
                "the pod asks for {} GPUs in all, more than the most poolsim accepts ({MAX_GPU})",
                r.gpu
            ),
        )),
        None => Err(src.error(
            at,
            key,
            "the pod's requests add up to more than poolsim can count",
        )),
    }
}

/// One container's requests; `list` is its key's prefix
/// (`workloads.NAME.containers`).
fn container(src: &Source<'_>, c: &ContainerFile, list: &str) -> Result<Container, ScenarioError> {
    let key = format!("{list}.{}", c.name.get_ref());
    if c.name.get_ref().is_empty() {
        return Err(src.error(
            Some(c.name.span()),
            format!("{list}.name"),
            "a container needs a name",
        ));
    }
    let gpu = gpu_of(src, c.gpu.as_ref(), &format!("{key}.gpu"))?;
    Ok(Container {
        requests: Resources::new(
            c.cpu.map_or(MilliCpu(0), |x| x.0),
            c.memory.map_or(Bytes(0), |x| x.0),
        )
        .with_gpu(gpu),
        sidecar: c.restart_policy.is_some(),
    })
}

/// A `gpu` count within [`MAX_GPU`].
fn gpu_of(
    src: &Source<'_>,
    gpu: Option<&toml::Spanned<u32>>,
    key: &str,
) -> Result<u32, ScenarioError> {
    match gpu {
        None => Ok(0),
        Some(g) if *g.get_ref() <= MAX_GPU => Ok(*g.get_ref()),
        Some(g) => Err(src.error(
            Some(g.span()),
            key,
            format!(
                "{} GPUs is more than the most poolsim accepts ({MAX_GPU})",
                g.get_ref()
            ),
        )),
    }
}

/// Container names are unique across `containers` and `init_containers`,
/// as the API server requires.
fn unique_names(src: &Source<'_>, w: &WorkloadFile, key: &str) -> Result<(), ScenarioError> {
    let mut seen = BTreeSet::new();
    let all = w
        .containers
        .iter()
        .map(|c| ("containers", c))
        .chain(w.init_containers.iter().map(|c| ("init_containers", c)));
    for (list, c) in all {
        if !seen.insert(c.name.get_ref().as_str()) {
            return Err(src.error(
                Some(c.name.span()),
                format!("{key}.{list}.{}", c.name.get_ref()),
                "duplicate container name (names are unique across containers and init_containers)",
            ));
        }
    }
    Ok(())
}

/// Why a pod of `w` fits no instance type of the pools it may use under
/// `policy`: its GPUs, when no type has that many, else its size against
/// each pool's first type.
pub(super) fn too_large(
    s: &Scenario,
    policy: &str,
    w: &WorkloadSpec,
    matching: &[&AsgSpec],
) -> String {
    let types = || {
        matching
            .iter()
            .flat_map(|p| std::iter::once(&p.instance_type).chain(&p.fallback_types))
            .map(|&t| &s.instance_types[t])
    };
    if w.requests.gpu > 0 && types().all(|t| t.gpu < w.requests.gpu) {
        let mut names: Vec<&str> = types().map(|t| t.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        return format!(
            "under policy `{policy}`, a pod asks for {} nvidia.com/gpu and no instance type of the pools it may use has that many ({}): it would stay Pending",
            w.requests.gpu,
            names.join(", ")
        );
    }
    let largest: Vec<String> = matching
        .iter()
        .map(|p| {
            let t = &s.instance_types[p.instance_type];
            let a = t.allocatable_with(&s.cloud.reservation);
            format!("{} ({}: {})", p.name, t.name, a)
        })
        .collect();
    format!(
        "under policy `{policy}`, a pod ({}) is larger than the allocatable capacity of every pool it may use: {}",
        w.requests,
        largest.join("; ")
    )
}
