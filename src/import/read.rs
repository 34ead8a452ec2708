//! Reading the inputs: kubectl `List` JSON, single objects, and YAML
//! manifests (one file, multi-document files, or a directory walked in
//! name order), into [`Object`]s; every object's `apiVersion`/`kind` is
//! checked against the kinds the importer knows.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::input::{escape, read_text};

use super::ImportError;
use super::notes::Notes;
use super::object::Object;

/// The largest input file the importer reads (a kubectl dump of a large
/// cluster is tens of megabytes).
pub const MAX_INPUT_BYTES: u64 = 256 << 20;

/// What the importer does with a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    /// Read.
    Read,
    /// Known, irrelevant to the model: skipped with a note.
    Skip,
}

/// Every `apiVersion` (group/version) and kind the importer knows.
const KINDS: &[(&str, &str, Use)] = &[
    ("v1", "Node", Use::Read),
    ("v1", "Pod", Use::Read),
    ("v1", "Service", Use::Read),
    ("v1", "PersistentVolumeClaim", Use::Read),
    ("v1", "PersistentVolume", Use::Read),
    ("apps/v1", "Deployment", Use::Read),
    ("apps/v1", "StatefulSet", Use::Read),
    ("apps/v1", "DaemonSet", Use::Read),
    ("apps/v1", "ReplicaSet", Use::Read),
    ("batch/v1", "Job", Use::Read),
    ("batch/v1", "CronJob", Use::Read),
    ("policy/v1", "PodDisruptionBudget", Use::Read),
    ("scheduling.k8s.io/v1", "PriorityClass", Use::Read),
    ("autoscaling/v1", "HorizontalPodAutoscaler", Use::Read),
    ("autoscaling/v2", "HorizontalPodAutoscaler", Use::Read),
    ("storage.k8s.io/v1", "StorageClass", Use::Read),
    (
        "admissionregistration.k8s.io/v1",
        "ValidatingWebhookConfiguration",
        Use::Read,
    ),
    (
        "admissionregistration.k8s.io/v1",
        "MutatingWebhookConfiguration",
        Use::Read,
    ),
    ("karpenter.sh/v1", "NodePool", Use::Read),
    ("karpenter.k8s.aws/v1", "EC2NodeClass", Use::Read),
    ("karpenter.sh/v1", "NodeClaim", Use::Skip),
    ("v1", "Namespace", Use::Skip),
    ("v1", "ConfigMap", Use::Skip),
    ("v1", "Secret", Use::Skip),
    ("v1", "ServiceAccount", Use::Skip),
    ("v1", "Endpoints", Use::Skip),
    ("v1", "Event", Use::Skip),
    ("v1", "LimitRange", Use::Skip),
    ("v1", "ResourceQuota", Use::Skip),
    ("apps/v1", "ControllerRevision", Use::Skip),
    ("discovery.k8s.io/v1", "EndpointSlice", Use::Skip),
    ("coordination.k8s.io/v1", "Lease", Use::Skip),
    ("rbac.authorization.k8s.io/v1", "Role", Use::Skip),
    ("rbac.authorization.k8s.io/v1", "ClusterRole", Use::Skip),
    ("rbac.authorization.k8s.io/v1", "RoleBinding", Use::Skip),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        Use::Skip,
    ),
    ("networking.k8s.io/v1", "Ingress", Use::Skip),
    ("networking.k8s.io/v1", "IngressClass", Use::Skip),
    ("networking.k8s.io/v1", "NetworkPolicy", Use::Skip),
    (
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        Use::Skip,
    ),
    ("apiregistration.k8s.io/v1", "APIService", Use::Skip),
    ("storage.k8s.io/v1", "CSIDriver", Use::Skip),
    ("storage.k8s.io/v1", "CSINode", Use::Skip),
    ("storage.k8s.io/v1", "VolumeAttachment", Use::Skip),
    (
        "admissionregistration.k8s.io/v1",
        "ValidatingAdmissionPolicy",
        Use::Skip,
    ),
    (
        "admissionregistration.k8s.io/v1",
        "ValidatingAdmissionPolicyBinding",
        Use::Skip,
    ),
];

/// The objects of every input, in input order, and what was skipped.
pub fn read_inputs(inputs: &[PathBuf], notes: &mut Notes) -> Result<Vec<Object>, ImportError> {
    let mut files = Vec::new();
    for input in inputs {
        collect_files(input, &mut files, notes)?;
    }
    let mut objects = Vec::new();
    for file in &files {
        read_file(file, &mut objects, notes)?;
    }
    Ok(objects)
}

/// The file itself, or a directory's `.json`, `.yaml` and `.yml` files
/// (recursively, in name order).
fn collect_files(
    path: &Path,
    out: &mut Vec<PathBuf>,
    notes: &mut Notes,
) -> Result<(), ImportError> {
    let display = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| ImportError::Read {
        file: display.clone(),
        message: format!("cannot read: {e}"),
    })?;
    if !meta.is_dir() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .and_then(|d| d.map(|e| e.map(|e| e.path())).collect())
        .map_err(|e| ImportError::Read {
            file: display,
            message: format!("cannot list: {e}"),
        })?;
    entries.sort();
    for e in entries {
        let name = e.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') {
            continue;
        }
        if e.is_dir() {
            collect_files(&e, out, notes)?;
        } else if [".json", ".yaml", ".yml"].iter().any(|x| name.ends_with(x)) {
            out.push(e);
        } else {
            notes.skip("files that are not .json, .yaml or .yml", e.display());
        }
    }
    Ok(())
}

/// The objects of one file: JSON if it starts with `{` or `[`, else YAML
/// (any number of documents).
fn read_file(path: &Path, out: &mut Vec<Object>, notes: &mut Notes) -> Result<(), ImportError> {
    let file = path.display().to_string();
    let text = read_text(path, MAX_INPUT_BYTES).map_err(|e| ImportError::Read {
        file: file.clone(),
        message: e.to_string(),
    })?;
    let trimmed = text.trim_start();
    let docs: Vec<(String, Value)> = if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let v = parse_json(&file, &text)?;
        vec![(String::new(), v)]
    } else {
        let docs: Vec<Value> =
            serde_saphyr::from_multiple(&text).map_err(|e| ImportError::Parse {
                file: file.clone(),
                message: format!("invalid YAML: {}", escape(&e.to_string())),
            })?;
        let many = docs.len() > 1;
        docs.into_iter()
            .enumerate()
            .map(|(i, v)| {
                let at = if many {
                    format!("document {} ", i + 1)
                } else {
                    String::new()
                };
                (at, v)
            })
            .collect()
    };
    for (at, v) in docs {
        push_objects(&file, &at, v, out, notes)?;
    }
    Ok(())
}

/// JSON text as a value, or where it is invalid.
pub fn parse_json(file: &str, text: &str) -> Result<Value, ImportError> {
    serde_json::from_str(text).map_err(|e| {
        let what = if e.is_eof() {
            "truncated JSON"
        } else {
            "invalid JSON"
        };
        ImportError::Parse {
            file: file.to_string(),
            message: format!(
                "{what} at line {} column {}: {}",
                e.line(),
                e.column(),
                escape(&e.to_string())
            ),
        }
    })
}

/// A `List` (kubectl's `v1 List` or a typed `PodList`) adds its items, any
/// other object itself.
fn push_objects(
    file: &str,
    at: &str,
    v: Value,
    out: &mut Vec<Object>,
    notes: &mut Notes,
) -> Result<(), ImportError> {
    let kind = v
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let is_list = kind == "List" || (kind.ends_with("List") && v.get("items").is_some());
    if is_list {
        let items = match v {
            Value::Object(mut map) => map.remove("items"),
            _ => None,
        };
        let Some(Value::Array(items)) = items else {
            return Err(ImportError::Object {
                file: file.into(),
                object: escape(&kind).to_string(),
                path: format!("{at}.items"),
                message: "a List needs an `items` list".into(),
            });
        };
        for (i, item) in items.into_iter().enumerate() {
            push_one(file, format!("{at}.items[{i}]"), item, out, notes)?;
        }
        return Ok(());
    }
    push_one(file, at.trim_end().to_string(), v, out, notes)
}

/// One object: `apiVersion`, `kind` and `metadata.name` checked, the kind
/// looked up.
fn push_one(
    file: &str,
    at: String,
    v: Value,
    out: &mut Vec<Object>,
    notes: &mut Notes,
) -> Result<(), ImportError> {
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let meta_text = |k: &str| {
        v.get("metadata")
            .and_then(|m| m.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let name = meta_text("name").unwrap_or_default();
    let namespace = meta_text("namespace").filter(|n| !n.is_empty());
    let kind = text("kind").unwrap_or_default();
    let fail = |path: &str, message: String| ImportError::Object {
        file: file.into(),
        object: escape(&format!(
            "{}/{}{}",
            if kind.is_empty() { "?" } else { &kind },
            match &namespace {
                Some(ns) => format!("{ns}/"),
                None => String::new(),
            },
            if name.is_empty() { "?" } else { &name }
        ))
        .to_string(),
        path: format!("{at}{path}"),
        message,
    };
    if !v.is_object() {
        return Err(fail(".", "expected a Kubernetes object (a map)".into()));
    }
    let api_version = text("apiVersion").ok_or_else(|| fail(".apiVersion", "missing".into()))?;
    if kind.is_empty() {
        return Err(fail(".kind", "missing".into()));
    }
    if name.is_empty() {
        return Err(fail(".metadata.name", "missing".into()));
    }
    let use_ = look_up(&api_version, &kind).map_err(|(path, m)| fail(path, m))?;
    let object = Object {
        file: file.to_string(),
        at,
        api_version,
        kind,
        namespace: namespace.clone().unwrap_or_default(),
        name,
        uid: meta_text("uid").unwrap_or_default(),
        value: v,
    };
    if use_ == Use::Skip {
        notes.skip(
            &format!("{} objects: not part of the model", object.kind),
            object.id(),
        );
        return Ok(());
    }
    out.push(object);
    Ok(())
}

/// What the model does with objects of `kind` in `api_version`; else the
/// field to blame (`.kind` for a kind it does not read, `.apiVersion` for
/// a version it does not know of a kind it reads) and why.
fn look_up(api_version: &str, kind: &str) -> Result<Use, (&'static str, String)> {
    if let Some(&(_, _, use_)) = KINDS
        .iter()
        .find(|(a, k, _)| *a == api_version && *k == kind)
    {
        return Ok(use_);
    }
    let versions: Vec<&str> = KINDS
        .iter()
        .filter(|(_, k, _)| *k == kind)
        .map(|(a, _, _)| *a)
        .collect();
    Err(if versions.is_empty() {
        (
            ".kind",
            format!(
                "unknown kind `{}` ({}): poolsim import reads Nodes, Pods, workload controllers, PDBs, PriorityClasses, HPAs, volumes, Services, webhook configurations and Karpenter NodePools; remove the object from the input",
                escape(kind),
                escape(api_version)
            ),
        )
    } else {
        (
            ".apiVersion",
            format!(
                "unknown apiVersion `{}` for {}: expected {}",
                escape(api_version),
                escape(kind),
                versions.join(" or ")
            ),
        )
    })
}
