//! The subset of the Kubernetes object model the importer reads: an object
//! (`kind/namespace/name` in its file at a JSON path) and typed access to
//! its fields, each failure naming the field's path (`.spec.replicas`).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::input::escape;
use crate::quantity::{Bytes, MilliCpu, parse_cpu, parse_memory};

use super::ImportError;

/// A field that is not what the API says it is: its path and why.
#[derive(Debug)]
pub struct Bad {
    /// JSON path from the object's root, e.g. `.status.allocatable`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// One field of an object: its value and JSON path.
pub struct At<'a> {
    /// The value.
    pub v: &'a Value,
    /// Its path from the object's root.
    pub path: String,
}

impl<'a> At<'a> {
    /// The object's root.
    pub fn root(v: &'a Value) -> Self {
        At {
            v,
            path: String::new(),
        }
    }

    fn bad(&self, message: impl Into<String>) -> Bad {
        Bad {
            path: if self.path.is_empty() {
                ".".into()
            } else {
                self.path.clone()
            },
            message: message.into(),
        }
    }

    /// A child by key, if present and not null.
    pub fn get(&self, key: &str) -> Option<At<'a>> {
        match self.v.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some(At {
                v,
                path: format!("{}.{key}", self.path),
            }),
        }
    }

    /// A child that must be present.
    pub fn need(&self, key: &str) -> Result<At<'a>, Bad> {
        self.get(key).ok_or_else(|| Bad {
            path: format!("{}.{key}", self.path),
            message: "missing".into(),
        })
    }

    /// Follows a dotted path of keys.
    pub fn dig(&self, keys: &[&str]) -> Option<At<'a>> {
        let mut at = At {
            v: self.v,
            path: self.path.clone(),
        };
        for k in keys {
            at = at.get(k)?;
        }
        Some(at)
    }

    /// The value as a string.
    pub fn as_str(&self) -> Result<&'a str, Bad> {
        self.v.as_str().ok_or_else(|| self.bad("expected a string"))
    }

    /// A string child, if present.
    pub fn str(&self, key: &str) -> Result<Option<&'a str>, Bad> {
        self.get(key).map(|a| a.as_str()).transpose()
    }

    /// A non-negative integer child, if present.
    pub fn u64(&self, key: &str) -> Result<Option<u64>, Bad> {
        self.get(key)
            .map(|a| {
                a.v.as_u64()
                    .ok_or_else(|| a.bad("expected a non-negative integer"))
            })
            .transpose()
    }

    /// An integer child, if present.
    pub fn i64(&self, key: &str) -> Result<Option<i64>, Bad> {
        self.get(key)
            .map(|a| a.v.as_i64().ok_or_else(|| a.bad("expected an integer")))
            .transpose()
    }

    /// A boolean child, if present.
    pub fn bool(&self, key: &str) -> Result<Option<bool>, Bad> {
        self.get(key)
            .map(|a| a.v.as_bool().ok_or_else(|| a.bad("expected true or false")))
            .transpose()
    }

    /// The elements of an array child (empty if absent).
    pub fn list(&self, key: &str) -> Result<Vec<At<'a>>, Bad> {
        let Some(a) = self.get(key) else {
            return Ok(Vec::new());
        };
        let items = a.v.as_array().ok_or_else(|| a.bad("expected a list"))?;
        Ok(items
            .iter()
            .enumerate()
            .map(|(i, v)| At {
                v,
                path: format!("{}[{i}]", a.path),
            })
            .collect())
    }

    /// The strings of an array child (empty if absent).
    pub fn strings(&self, key: &str) -> Result<Vec<String>, Bad> {
        self.list(key)?
            .into_iter()
            .map(|a| a.as_str().map(str::to_string))
            .collect()
    }

    /// A map of strings (labels, nodeSelector); empty if absent.
    pub fn string_map(&self, key: &str) -> Result<BTreeMap<String, String>, Bad> {
        let Some(a) = self.get(key) else {
            return Ok(BTreeMap::new());
        };
        let map = a.v.as_object().ok_or_else(|| a.bad("expected a map"))?;
        let mut out = BTreeMap::new();
        for (k, v) in map {
            let s = v.as_str().ok_or_else(|| Bad {
                path: format!("{}.{k}", a.path),
                message: "expected a string".into(),
            })?;
            out.insert(k.clone(), s.to_string());
        }
        Ok(out)
    }

    /// A map child's keys and fields (empty if absent).
    pub fn entries(&self, key: &str) -> Result<Vec<(String, At<'a>)>, Bad> {
        let Some(a) = self.get(key) else {
            return Ok(Vec::new());
        };
        let map = a.v.as_object().ok_or_else(|| a.bad("expected a map"))?;
        Ok(map
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    At {
                        v,
                        path: format!("{}.{k}", a.path),
                    },
                )
            })
            .collect())
    }

    /// A cpu quantity child (`"500m"`, `"2"`), if present; a number is
    /// read as its text.
    pub fn cpu(&self, key: &str) -> Result<Option<MilliCpu>, Bad> {
        self.get(key)
            .map(|a| parse_cpu(&quantity_text(&a)?).map_err(|m| a.bad(m)))
            .transpose()
    }

    /// A memory quantity child (`"2Gi"`), if present.
    pub fn memory(&self, key: &str) -> Result<Option<Bytes>, Bad> {
        self.get(key)
            .map(|a| parse_memory(&quantity_text(&a)?).map_err(|m| a.bad(m)))
            .transpose()
    }
}

/// A quantity is a string in the API, but YAML manifests often write a
/// bare number (`cpu: 1`).
fn quantity_text(a: &At<'_>) -> Result<String, Bad> {
    match a.v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(a.bad("expected a quantity such as \"500m\" or \"2Gi\"")),
    }
}

/// One Kubernetes object read from an input file.
#[derive(Debug, Clone)]
pub struct Object {
    /// The file it came from, as the user named it.
    pub file: String,
    /// Where in the file: `.items[12]` in a List, `document 3` in YAML.
    pub at: String,
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `metadata.namespace` (empty for cluster-scoped objects).
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.uid` (empty in manifests).
    pub uid: String,
    /// The whole object.
    pub value: Value,
}

impl Object {
    /// `kind/namespace/name`, or `kind/name` when cluster-scoped.
    pub fn id(&self) -> String {
        if self.namespace.is_empty() {
            format!("{}/{}", self.kind, self.name)
        } else {
            format!("{}/{}/{}", self.kind, self.namespace, self.name)
        }
    }

    /// The object's root field.
    pub fn root(&self) -> At<'_> {
        At::root(&self.value)
    }

    /// The error for a bad field of this object.
    pub fn error(&self, bad: Bad) -> ImportError {
        ImportError::Object {
            file: self.file.clone(),
            object: escape(&self.id()).to_string(),
            path: format!("{}{}", self.at, escape(&bad.path)),
            message: bad.message,
        }
    }

    /// The error for this object at `path` with `message`.
    pub fn error_at(&self, path: &str, message: impl Into<String>) -> ImportError {
        self.error(Bad {
            path: path.into(),
            message: message.into(),
        })
    }

    /// `metadata.labels`.
    pub fn labels(&self) -> Result<BTreeMap<String, String>, ImportError> {
        self.root()
            .get("metadata")
            .map(|m| m.string_map("labels"))
            .transpose()
            .map(Option::unwrap_or_default)
            .map_err(|b| self.error(b))
    }

    /// The controlling owner reference (`controller: true`, or the only
    /// one): its kind, name and the path of the reference.
    pub fn owner(&self) -> Result<Option<OwnerRef>, ImportError> {
        let root = self.root();
        let Some(meta) = root.get("metadata") else {
            return Ok(None);
        };
        let refs = meta.list("ownerReferences").map_err(|b| self.error(b))?;
        let pick = refs
            .iter()
            .find(|r| r.v.get("controller").and_then(Value::as_bool) == Some(true))
            .or(if refs.len() == 1 { refs.first() } else { None });
        let Some(r) = pick else { return Ok(None) };
        let kind = r.need("kind").and_then(|k| k.as_str());
        let name = r.need("name").and_then(|k| k.as_str());
        match (kind, name) {
            (Ok(kind), Ok(name)) => Ok(Some(OwnerRef {
                kind: kind.to_string(),
                name: name.to_string(),
                path: r.path.clone(),
            })),
            (Err(b), _) | (_, Err(b)) => Err(self.error(b)),
        }
    }
}

/// An object's controlling owner.
#[derive(Debug, Clone)]
pub struct OwnerRef {
    /// Its kind.
    pub kind: String,
    /// Its name (same namespace).
    pub name: String,
    /// The path of the reference in the owned object.
    pub path: String,
}

/// A label selector (`matchLabels` and `matchExpressions`) evaluated
/// against a set of labels.
#[derive(Debug, Clone, Default)]
pub struct Selector {
    /// `matchLabels`.
    pub labels: BTreeMap<String, String>,
    /// `matchExpressions`: key, operator, values.
    pub expressions: Vec<(String, String, Vec<String>)>,
}

impl Selector {
    /// Reads a `LabelSelector` at `at`.
    pub fn read(at: &At<'_>) -> Result<Selector, Bad> {
        let mut s = Selector {
            labels: at.string_map("matchLabels")?,
            expressions: Vec::new(),
        };
        for e in at.list("matchExpressions")? {
            let key = e.need("key")?.as_str()?.to_string();
            let op = e.need("operator")?;
            let op_s = op.as_str()?;
            if !matches!(op_s, "In" | "NotIn" | "Exists" | "DoesNotExist") {
                return Err(Bad {
                    path: op.path.clone(),
                    message: format!(
                        "unknown operator `{}`: expected In, NotIn, Exists or DoesNotExist",
                        escape(op_s)
                    ),
                });
            }
            s.expressions
                .push((key, op_s.to_string(), e.strings("values")?));
        }
        Ok(s)
    }

    /// Whether `labels` satisfy the selector.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && self.expressions.iter().all(|(k, op, values)| {
                let have = labels.get(k);
                match op.as_str() {
                    "In" => have.is_some_and(|v| values.contains(v)),
                    "NotIn" => !have.is_some_and(|v| values.contains(v)),
                    "Exists" => have.is_some(),
                    _ => have.is_none(),
                }
            })
    }

    /// Whether the selector selects nothing at all (`{}` selects
    /// everything; this is its opposite, never true for a read selector).
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.expressions.is_empty()
    }

    /// The keys the selector reads.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.labels
            .keys()
            .map(String::as_str)
            .chain(self.expressions.iter().map(|(k, _, _)| k.as_str()))
    }
}
