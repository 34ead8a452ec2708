//! `poolsim import`: a scenario from what people can produce of their
//! cluster, offline: kubectl `List` JSON, YAML manifests, AWS ASG and node
//! group JSON, Karpenter NodePools. `read.rs` reads inputs into
//! [`object::Object`]s; `nodes.rs`, `aws.rs`, `pools.rs` and
//! `karpenter.rs` derive instance types and pools; `template.rs`,
//! `workloads.rs`, `cron.rs`, `services.rs` and `webhooks.rs` derive
//! workloads, classes and dependencies; `policies.rs` the policies;
//! `assemble.rs` and `write.rs` the file. Everything skipped or
//! approximated goes to [`notes::Notes`], the report.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub mod assemble;
pub mod aws;
pub mod cron;
pub mod karpenter;
pub mod nodes;
pub mod notes;
pub mod object;
pub mod policies;
pub mod pools;
pub mod read;
pub mod services;
pub mod template;
pub mod topology;
pub mod webhooks;
pub mod workloads;
pub mod write;

pub use notes::Notes;
pub use services::ClassRule;

/// Why an import failed. Every variant but `Write` is bad input (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A file could not be read.
    #[error("{file}: {message}")]
    Read {
        /// The file.
        file: String,
        /// Why.
        message: String,
    },
    /// A file is not valid JSON or YAML.
    #[error("{file}: {message}")]
    Parse {
        /// The file.
        file: String,
        /// Where and why.
        message: String,
    },
    /// An object is not what poolsim can import.
    #[error("{file}: {object} at {path}: {message}")]
    Object {
        /// The file.
        file: String,
        /// `kind/namespace/name`.
        object: String,
        /// JSON path in the file.
        path: String,
        /// Why.
        message: String,
    },
    /// A command-line value is wrong.
    #[error("{0}")]
    Option(String),
    /// `--strict` and something was skipped or approximated.
    #[error(
        "--strict: {} kinds of thing would be skipped or approximated:\n{}",
        .0.len(),
        .0.join("\n")
    )]
    Strict(Vec<String>),
    /// The scenario built does not validate.
    #[error("the imported scenario does not validate (nothing written): {0}")]
    Invalid(String),
    /// A bug: the scenario could not be written as TOML.
    #[error("internal error writing the scenario: {0}")]
    Internal(String),
    /// The output could not be written.
    #[error("{file}: cannot write: {message}")]
    Write {
        /// The file.
        file: String,
        /// Why.
        message: String,
    },
}

/// What to import and how.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// kubectl JSON and YAML files or directories.
    pub inputs: Vec<PathBuf>,
    /// `describe-auto-scaling-groups` JSON files.
    pub asgs: Vec<PathBuf>,
    /// `describe-nodegroup` JSON files.
    pub nodegroups: Vec<PathBuf>,
    /// `--needs FILE`: service dependencies the API cannot show.
    pub needs: Option<PathBuf>,
    /// How pods are classed system.
    pub class_rule: ClassRule,
    /// Refuse any approximation.
    pub strict: bool,
    /// The scenario's name.
    pub name: String,
}

/// An imported scenario.
#[derive(Debug)]
pub struct Imported {
    /// The file's text.
    pub text: String,
    /// The report.
    pub notes: Notes,
}

/// Imports the inputs into a validated scenario text.
pub fn import(opts: &ImportOptions) -> Result<Imported, ImportError> {
    if opts.inputs.is_empty() {
        return Err(ImportError::Option(
            "no input: give kubectl JSON or YAML files or directories".into(),
        ));
    }
    let mut notes = Notes::default();
    let objects = read::read_inputs(&opts.inputs, &mut notes)?;
    let (nodes, asgs) = machines(opts, &objects)?;
    let nodepools = karpenter::nodepools(&objects, &mut notes)?;
    let managed: BTreeSet<nodes::GroupKey> = nodepools
        .iter()
        .map(|p| nodes::GroupKey::NodePool(p.name.get_ref().clone()))
        .collect();
    let instance_types = nodes::instance_types(&nodes, &mut notes);
    let pools: Vec<_> = pools::pools(&nodes, &asgs, &managed, &mut notes)
        .into_iter()
        .map(|p| p.file)
        .collect();
    if pools.is_empty() && nodepools.is_empty() {
        return Err(ImportError::Option(
            "no Node among the inputs and no Karpenter NodePool: poolsim needs the nodes (`kubectl get nodes -o json`)".into(),
        ));
    }
    let derived = workloads::derive(&objects, &mut notes)?;
    let mut workloads = derived.workloads;
    let gpus_exist = nodes::any_gpus(&nodes) || !nodepools.is_empty();
    workloads::drop_gpus_without_nodes(&mut workloads, gpus_exist, &mut notes);
    let (priority_classes, extra) = services(opts, &objects, &mut workloads, &mut notes)?;
    let zones: BTreeSet<String> = pools
        .iter()
        .flat_map(|p| p.zones.iter().flat_map(|z| z.get_ref().clone()))
        .collect();
    let policies = policies::policies(
        &pools,
        &nodepools,
        &workloads,
        &extra,
        &instance_types,
        &mut notes,
    );
    let rules = topology::resolve(&workloads, &mut notes);
    let version = nodes::kube_version(&nodes, &mut notes);
    let file = assemble::scenario(
        assemble::Parts {
            name: opts.name.clone(),
            zones: zones.into_iter().collect(),
            version,
            instance_types,
            priority_classes,
            policies,
        },
        &workloads,
        &extra,
        &rules,
    );
    if opts.strict && !notes.is_empty() {
        return Err(ImportError::Strict(notes.lines()));
    }
    let header = header(opts, &nodes, &workloads, derived.pending_pods);
    let text = write::render(
        &file,
        &assemble::origins(&workloads, &extra),
        &header,
        &notes,
    )?;
    crate::Scenario::parse(&text, &format!("{}.toml", opts.name))
        .map_err(|e| ImportError::Invalid(e.to_string()))?;
    Ok(Imported { text, notes })
}

/// The nodes among the objects, matched to the ASGs and EKS node groups
/// of `--asg` and `--nodegroup`.
fn machines(
    opts: &ImportOptions,
    objects: &[object::Object],
) -> Result<(Vec<nodes::NodeInfo>, Vec<aws::AsgInfo>), ImportError> {
    let mut asgs = Vec::new();
    for f in &opts.asgs {
        asgs.extend(aws::read_asgs(f)?);
    }
    for f in &opts.nodegroups {
        aws::read_nodegroup(f, &mut asgs)?;
    }
    let mut nodes = Vec::new();
    for o in objects.iter().filter(|o| o.kind == "Node") {
        nodes.push(nodes::read_node(o)?);
    }
    aws::match_nodes(&mut nodes, &asgs)?;
    Ok((nodes, asgs))
}

/// What the workloads are to each other and to the cluster: their
/// PriorityClasses (returned), HPAs, classes, PodDisruptionBudgets,
/// volumes, webhooks, the cluster DNS and `--needs` dependencies (each
/// workload's `Extra`, returned).
fn services(
    opts: &ImportOptions,
    objects: &[object::Object],
    workloads: &mut [workloads::Workload],
    notes: &mut Notes,
) -> Result<
    (
        Vec<crate::scenario::file::PriorityClassFile>,
        Vec<services::Extra>,
    ),
    ImportError,
> {
    let mut extra = vec![services::Extra::default(); workloads.len()];
    let priority_classes = services::priority_classes(objects, workloads, notes)?;
    services::hpas(objects, workloads, &mut extra, notes)?;
    services::classes(workloads, &opts.class_rule, &mut extra);
    services::pdbs(objects, workloads, &mut extra, notes)?;
    services::volumes(objects, workloads, notes)?;
    webhooks::webhooks(objects, workloads, &mut extra, notes)?;
    services::cluster_dns(objects, workloads, &mut extra, notes)?;
    match &opts.needs {
        Some(path) => services::needs_file(path, workloads, &mut extra)?,
        None => notes.approximate(
            "dependencies between services other than cluster DNS and webhooks cannot be seen in the API: none written (give them with --needs FILE)",
            "every workload",
        ),
    }
    Ok((priority_classes, extra))
}

/// The opening comment: what was imported and how to run it.
fn header(
    opts: &ImportOptions,
    nodes: &[nodes::NodeInfo],
    workloads: &[workloads::Workload],
    pending: u32,
) -> Vec<String> {
    let inputs: Vec<String> = opts
        .inputs
        .iter()
        .chain(&opts.asgs)
        .chain(&opts.nodegroups)
        .chain(&opts.needs)
        .map(|p| file_name(p))
        .collect();
    vec![
        format!("Imported by `poolsim import` from {}.", inputs.join(", ")),
        format!(
            "{} nodes, {} workloads, {pending} Pending pods (the backlog, in their workloads' replicas).",
            nodes.len(),
            workloads.len()
        ),
        "Fault: every instance terminated at 30m (the story's question: does the cluster come back?).".into(),
        "Run: poolsim validate FILE && poolsim run FILE --seeds 50".into(),
    ]
}

/// A path as given, with `/` separators, for stable comments.
fn file_name(p: &Path) -> String {
    p.to_string_lossy().replace('\\', "/")
}

/// Writes an imported scenario to `path` (a temporary file renamed into
/// place).
pub fn write_scenario(path: &Path, imported: &Imported) -> Result<(), ImportError> {
    write::write_atomically(path, &imported.text)
}
