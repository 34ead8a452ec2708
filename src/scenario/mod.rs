//! Scenario files: the TOML format, its defaults, and the validation that
//! turns what a user wrote into a [`Scenario`] the model can trust.
//!
//! Reading happens in two steps: serde reads the file into the plain structs
//! of `file` (syntax, units, unknown keys), then `validate` checks meaning
//! (references, sizes, whether every pod can be placed under every policy)
//! and builds typed values. Every error names the file and the key, and the
//! line where the key, or the table it belongs in, is written (none for a
//! key the file does not write at all).

mod autoscaler_checks;
mod autoscaler_file;
mod cloud_checks;
mod control_plane_checks;
mod disruption_checks;
pub mod file;
mod jobs;
mod karpenter_checks;
mod karpenter_file;
pub mod kube_checks;
mod kubernetes_file;
mod locate;
pub mod overrides;
mod placement;
mod placement_file;
mod policy_checks;
mod requests;
mod requests_file;
mod resolve;
mod stateful_checks;
mod stateful_file;
mod topology_checks;
mod topology_file;
pub mod units;
mod validate;
mod version_checks;
mod workload_checks;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use file::ScenarioFile;
/// The labels a NodePool requirement may name: per-type keys, capacity
/// type, zone.
pub use karpenter_checks::{
    CAPACITY_TYPE as NODEPOOL_CAPACITY_KEY, TYPE_KEYS as NODEPOOL_TYPE_KEYS,
    ZONE as NODEPOOL_ZONE_KEY,
};
pub use resolve::resolved_file;

use crate::cloud::{AsgSpec, CloudConfig, Fault, InstanceType};
use crate::engine::Millis;
use crate::input::{MAX_SCENARIO_BYTES, ReadError, escape, read_text};
use crate::kube::autoscaler::AutoscalerConfig;
use crate::kube::{KubeConfig, PodClass, PoolInfo, Taint, WorkloadKind, WorkloadSpec};

use kube_checks::{ClassRules, PriorityValue};

/// A problem with a scenario file. Its message escapes every
/// non-printable character of what it quotes ([`crate::input::escape`]).
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read (missing, not a regular file, too large,
    /// not UTF-8).
    #[error("{}{}: {source}", escape(file), source.line().map(|l| format!(":{l}")).unwrap_or_default())]
    Read {
        /// Path.
        file: String,
        /// Cause.
        source: ReadError,
    },
    /// The file is not a valid scenario.
    #[error("{}{}: {}: {}", escape(file), line.map(|l| format!(":{l}")).unwrap_or_default(), escape(key), escape(message))]
    Invalid {
        /// Path.
        file: String,
        /// 1-based line, when known.
        line: Option<usize>,
        /// The offending key or object (e.g. `workloads.api.cpu`).
        key: String,
        /// What was expected.
        message: String,
    },
}

/// A validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Short name.
    pub name: String,
    /// What question it answers.
    pub description: String,
    /// The file it came from.
    pub source: String,
    /// Simulated time per run.
    pub horizon: Millis,
    /// Default number of seeds.
    pub seeds: u32,
    /// First seed.
    pub first_seed: u64,
    /// Deadlock detection window.
    pub detection_window: Millis,
    /// Instance types, built in and declared.
    pub instance_types: Vec<InstanceType>,
    /// From an instance's loss to its ASG replacing it.
    pub replacement_delay: Millis,
    /// Zones, reservations, launch failures and other cloud-wide settings.
    pub cloud: CloudConfig,
    /// The Kubernetes version whose defaults apply (`kubernetes.version`).
    pub kube_version: crate::kube::KubeVersion,
    /// Control-plane timings.
    pub kube: KubeConfig,
    /// Workloads, before any policy's placement rules.
    pub workloads: Vec<WorkloadSpec>,
    /// Per workload: the PriorityClass it names itself, which policies'
    /// class rules do not override.
    pub own_priority: Vec<Option<PriorityValue>>,
    /// Policies, in file order.
    pub policies: Vec<Policy>,
    /// Faults, in file order.
    pub faults: Vec<Fault>,
    /// The file as read, for writing the resolved scenario next to results.
    pub file: ScenarioFile,
    /// Where its relative paths are resolved (grid points inherit it).
    pub paths: Paths,
    /// The line of each `[sweep]` key, for errors about the grid.
    pub sweep_lines: Vec<(String, usize)>,
}

/// Where the relative paths of a scenario file (Job `trace` files) are
/// resolved: the scenario's own directory. A path that leaves it (`..`,
/// an absolute path, a link out) is refused unless `allow_outside`
/// (`--allow-paths-outside`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Paths {
    /// The scenario's directory (empty: the current directory).
    pub dir: PathBuf,
    /// Whether paths may leave `dir`.
    pub allow_outside: bool,
}

impl Paths {
    /// The directory of scenario file `file`, paths confined to it.
    pub fn of_file(file: &Path) -> Paths {
        Paths {
            dir: file.parent().map(Path::to_path_buf).unwrap_or_default(),
            allow_outside: false,
        }
    }

    /// Resolves `relative` against the directory; an error (in words) if it
    /// leaves the directory and that is not allowed, or cannot be found.
    pub fn resolve(&self, relative: &str) -> Result<PathBuf, String> {
        let path = self.dir.join(relative);
        if self.allow_outside {
            return Ok(path);
        }
        let dir = if self.dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            &self.dir
        };
        let (Ok(root), Ok(real)) = (dir.canonicalize(), path.canonicalize()) else {
            return Err(format!("cannot find {}", path.display()));
        };
        if Path::new(relative).is_absolute() || !real.starts_with(&root) {
            return Err(format!(
                "{} is outside the scenario's directory {}; paths are relative to it (pass --allow-paths-outside to allow this)",
                path.display(),
                root.display()
            ));
        }
        Ok(path)
    }
}

/// One variant of the scenario: its pools and placement rules.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Name.
    pub name: String,
    /// What it changes.
    pub description: String,
    /// One ASG per pool.
    pub pools: Vec<AsgSpec>,
    /// nodeSelector added to every pod of a class.
    pub placement: BTreeMap<PodClass, BTreeMap<String, String>>,
    /// Per pool (parallel to `pools`): the taints of its nodes.
    pub pool_taints: Vec<Vec<Taint>>,
    /// Per class: priority, tolerations, affinity and exceptions.
    pub rules: BTreeMap<PodClass, ClassRules>,
    /// Overprovisioning placeholders, appended after the workloads.
    pub overprovision: Option<WorkloadSpec>,
    /// The cluster autoscaler, if this policy runs one.
    pub autoscaler: Option<AutoscalerConfig>,
    /// Karpenter, if this policy has NodePools (their pools follow the
    /// ASG pools in `pools`).
    pub karpenter: Option<crate::karpenter::KarpenterConfig>,
}

impl Policy {
    /// What Kubernetes knows of each pool: labels and taints.
    pub fn pool_info(&self) -> Vec<PoolInfo> {
        self.pools
            .iter()
            .zip(&self.pool_taints)
            .map(|(p, t)| PoolInfo {
                labels: p.labels.clone(),
                taints: t.clone(),
            })
            .collect()
    }
}

impl Scenario {
    /// The policies' names, comma-separated, for errors about an unknown
    /// one.
    pub fn policy_names(&self) -> String {
        self.policies
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Reads and validates a scenario file: a regular file of at most
    /// [`MAX_SCENARIO_BYTES`] bytes of UTF-8.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        Scenario::load_with(path, false)
    }

    /// [`Scenario::load`], letting Job trace paths leave the scenario's
    /// directory when `allow_outside`.
    pub fn load_with(path: &Path, allow_outside: bool) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let paths = Paths {
            allow_outside,
            ..Paths::of_file(path)
        };
        let text = read_text(path, MAX_SCENARIO_BYTES).map_err(|source| ScenarioError::Read {
            file: file.clone(),
            source,
        })?;
        Scenario::parse_with(&text, &file, &paths)
    }

    /// Validates scenario text; `file` names it in errors, and relative
    /// paths are resolved in its directory.
    pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
        validate::parse(text, file, &Paths::of_file(Path::new(file)))
    }

    /// Validates scenario text whose relative paths resolve as `paths`
    /// says; `file` names it in errors.
    pub fn parse_with(text: &str, file: &str, paths: &Paths) -> Result<Scenario, ScenarioError> {
        validate::parse(text, file, paths)
    }

    /// The policy with this name.
    pub fn policy(&self, name: &str) -> Option<&Policy> {
        self.policies.iter().find(|p| p.name == name)
    }

    /// The workloads as they run under `policy`: the nodeSelector,
    /// tolerations and node affinity of each Deployment and Job are its own
    /// plus its class's placement rules (unless the rules name it in
    /// `except`), where a label key the workload's own nodeSelector sets
    /// keeps the workload's value (the rule fills in, never overrides, as a
    /// mutating admission policy that adds a nodeSelector only where it is
    /// absent); its priority is its own PriorityClass, else its class's,
    /// else the global default. DaemonSets are left as they are. The
    /// policy's overprovisioning placeholders come last.
    pub fn workloads_under(&self, policy: &Policy) -> Vec<WorkloadSpec> {
        let mut out: Vec<WorkloadSpec> = self
            .workloads
            .iter()
            .zip(&self.own_priority)
            .map(|(w, own)| {
                let mut w = w.clone();
                let rules = policy.rules.get(&w.class);
                // DaemonSets are placed per node by their controller; a
                // policy's class rules are about Deployments.
                if matches!(w.kind, WorkloadKind::DaemonSet { .. })
                    || rules.is_some_and(|r| r.except.contains(&w.name))
                {
                    return w;
                }
                if let Some(sel) = policy.placement.get(&w.class) {
                    for (k, v) in sel {
                        w.node_selector
                            .entry(k.clone())
                            .or_insert_with(|| v.clone());
                    }
                }
                if let Some(r) = rules {
                    if own.is_none()
                        && let Some((p, pp)) = r.priority
                    {
                        w.priority = p;
                        w.preemption_policy = pp;
                    }
                    w.tolerations.extend(r.tolerations.iter().cloned());
                    w.affinity.and(&r.affinity);
                }
                w
            })
            .collect();
        out.extend(policy.overprovision.iter().cloned());
        out
    }
}
