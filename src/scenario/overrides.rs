//! Overrides of scenario values by dotted path, applied to the parsed TOML
//! document before validation.
//!
//! Working on the document rather than on [`super::Scenario`] means every
//! key of the file format is sweepable without a list to keep in step with
//! it: `workloads.worker.replicas`, `policies.single-pool.pools.workers.max`,
//! `instances.launch_delay.median`, `faults.0.at`. Elements of an array of
//! tables are addressed by their `name` or by their index. A key that the
//! format does not know is caught by the same serde schema that reads files
//! (`deny_unknown_fields`), whose list of expected fields gives the nearest
//! valid keys.

use toml::{Table, Value};

/// A problem applying an override.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OverrideError {
    /// The key names nothing in the scenario format.
    #[error("unknown key `{key}`{}", nearest_text(.nearest))]
    UnknownKey {
        /// The key as given.
        key: String,
        /// The closest valid keys, best first.
        nearest: Vec<String>,
    },
    /// The key goes through a value that is not a table or an array.
    #[error("key `{key}`: `{at}` is a value, not a table")]
    NotATable {
        /// The key as given.
        key: String,
        /// The prefix that is a plain value.
        at: String,
    },
}

fn nearest_text(nearest: &[String]) -> String {
    if nearest.is_empty() {
        String::new()
    } else {
        format!(
            " (nearest valid: {})",
            nearest
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// The candidates closest to `wanted`, best first (at most three).
pub fn nearest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut scored: Vec<(f64, &str)> = candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(wanted, c), c))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored.dedup_by(|a, b| a.1 == b.1);
    scored
        .into_iter()
        .take(3)
        .map(|(_, c)| c.to_string())
        .collect()
}

/// Sets the value at dotted path `key` in `doc`.
///
/// Tables are walked by key, arrays by element `name` or index. Because keys
/// and names may themselves contain dots (`m5.xlarge`), each step takes the
/// longest existing key or name that the rest of the path starts with. A
/// missing key is created (tables on the way included), so optional keys that
/// the file leaves out can be swept; whether the format knows them is checked
/// when the document is read as a scenario (see [`unknown_field`]).
///
/// A value replacing a string is written as a string (`cpu = 2` becomes
/// `"2"`), and an integer replacing a float becomes a float, so that
/// `--set` values need no quoting.
pub fn set(doc: &mut Table, key: &str, value: Value) -> Result<(), OverrideError> {
    let mut table = doc;
    let mut rest = key;
    let mut walked = String::new();
    loop {
        let step = longest_prefix(rest, table.keys().map(|k| k.as_str()))
            .unwrap_or_else(|| rest.split('.').next().unwrap_or(rest).to_string());
        let after = rest[step.len()..].strip_prefix('.');
        let path_here = join(&walked, &step);
        match after {
            None => {
                let v = coerce(table.get(&step), value);
                table.insert(step, v);
                return Ok(());
            }
            Some(next) => {
                let entry = table
                    .entry(step.clone())
                    .or_insert_with(|| Value::Table(Table::new()));
                let (t, consumed) = descend(entry, next, key, &path_here)?;
                table = t;
                rest = &next[consumed.len()..];
                rest = rest.strip_prefix('.').unwrap_or(rest);
                walked = if consumed.is_empty() {
                    path_here
                } else {
                    join(&path_here, &consumed)
                };
                if rest.is_empty() {
                    return Err(OverrideError::NotATable {
                        key: key.to_string(),
                        at: walked,
                    });
                }
            }
        }
    }
}

/// From a value on the path to the table the rest of the path continues
/// in: a table itself, or an array element picked by name or index (whose
/// segment is returned as consumed).
fn descend<'a>(
    entry: &'a mut Value,
    rest: &str,
    key: &str,
    at: &str,
) -> Result<(&'a mut Table, String), OverrideError> {
    match entry {
        Value::Table(t) => Ok((t, String::new())),
        Value::Array(items) => {
            let names: Vec<String> = items
                .iter()
                .filter_map(|v| v.get("name").and_then(Value::as_str).map(str::to_string))
                .collect();
            let by_name = longest_prefix(rest, names.iter().map(|s| s.as_str()));
            let segment = rest.split('.').next().unwrap_or(rest);
            let index = match &by_name {
                Some(n) => items
                    .iter()
                    .position(|v| v.get("name").and_then(Value::as_str) == Some(n)),
                None => segment.parse::<usize>().ok().filter(|&i| i < items.len()),
            };
            let Some(index) = index else {
                let mut candidates: Vec<String> = names.iter().map(|n| join(at, n)).collect();
                candidates.extend((0..items.len()).map(|i| join(at, &i.to_string())));
                let wanted = join(at, segment);
                return Err(OverrideError::UnknownKey {
                    key: key.to_string(),
                    nearest: nearest(&wanted, candidates.iter().map(|s| s.as_str())),
                });
            };
            let consumed = by_name.unwrap_or_else(|| segment.to_string());
            match &mut items[index] {
                Value::Table(t) => Ok((t, consumed)),
                _ => Err(OverrideError::NotATable {
                    key: key.to_string(),
                    at: join(at, &consumed),
                }),
            }
        }
        _ => Err(OverrideError::NotATable {
            key: key.to_string(),
            at: at.to_string(),
        }),
    }
}

/// The longest candidate that `path` equals or starts with followed by `.`.
fn longest_prefix<'a>(path: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
    candidates
        .filter(|c| {
            !c.is_empty()
                && (path == *c || (path.starts_with(*c) && path[c.len()..].starts_with('.')))
        })
        .max_by_key(|c| c.len())
        .map(str::to_string)
}

fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}.{b}")
    }
}

/// Gives a new value the type of the one it replaces where the file format
/// needs it.
fn coerce(old: Option<&Value>, new: Value) -> Value {
    match (old, new) {
        (Some(Value::String(_)), Value::Integer(i)) => Value::String(i.to_string()),
        (Some(Value::String(_)), Value::Float(f)) => Value::String(f.to_string()),
        (Some(Value::String(_)), Value::Boolean(b)) => Value::String(b.to_string()),
        (Some(Value::Float(_)), Value::Integer(i)) => Value::Float(i as f64),
        (_, v) => v,
    }
}

/// Reads a value as typed on the command line: an integer, a float, a
/// boolean, a quoted string, or else the text itself as a string (`90s`).
pub fn parse_scalar(text: &str) -> Value {
    let t = text.trim();
    if let Ok(i) = t.parse::<i64>() {
        return Value::Integer(i);
    }
    if let Ok(f) = t.parse::<f64>()
        && f.is_finite()
    {
        return Value::Float(f);
    }
    match t {
        "true" => return Value::Boolean(true),
        "false" => return Value::Boolean(false),
        _ => {}
    }
    let unquoted = t
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .or_else(|| t.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')));
    Value::String(unquoted.unwrap_or(t).to_string())
}

/// A value as it appears in a CSV column: strings bare, numbers as TOML
/// writes them.
pub fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// If serde rejected a document for an unknown field, the field and the
/// fields it expected there: `("maxx", ["name", "min", "max", ...])`.
pub fn unknown_field(message: &str) -> Option<(String, Vec<String>)> {
    let rest = message.trim().strip_prefix("unknown field `")?;
    let (field, rest) = rest.split_once('`')?;
    let expected = rest
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    Some((field.to_string(), expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Table {
        r#"
            name = "x"
            [instances]
            replacement_delay = "10s"
            [[workloads]]
            name = "worker"
            replicas = 3
            cpu = "500m"
            [[policies]]
            name = "single-pool"
            pools = [{ name = "workers", instance_type = "m5.xlarge", desired = 20 }]
            [[instance_types]]
            name = "m5.xlarge"
            price_per_hour = 0.192
            [[faults]]
            kind = "terminate_all"
            at = "30m"
        "#
        .parse()
        .unwrap()
    }

    fn get<'a>(d: &'a Table, path: &[&str]) -> &'a Value {
        let mut v = d.get(path[0]).unwrap();
        for p in &path[1..] {
            v = match p.parse::<usize>() {
                Ok(i) => &v.as_array().unwrap()[i],
                Err(_) => v.get(*p).unwrap(),
            };
        }
        v
    }

    #[test]
    fn walks_tables_arrays_by_name_and_index() {
        let mut d = doc();
        set(&mut d, "workloads.worker.replicas", Value::Integer(40)).unwrap();
        set(
            &mut d,
            "policies.single-pool.pools.workers.max",
            Value::Integer(30),
        )
        .unwrap();
        set(&mut d, "faults.0.at", parse_scalar("45m")).unwrap();
        set(&mut d, "instances.launch_delay.median", parse_scalar("20s")).unwrap();
        set(
            &mut d,
            "instance_types.m5.xlarge.price_per_hour",
            parse_scalar("1"),
        )
        .unwrap();
        set(&mut d, "workloads.worker.cpu", parse_scalar("2")).unwrap();
        assert_eq!(
            get(&d, &["workloads", "0", "replicas"]),
            &Value::Integer(40)
        );
        assert_eq!(
            get(&d, &["policies", "0", "pools", "0", "max"]),
            &Value::Integer(30)
        );
        assert_eq!(get(&d, &["faults", "0", "at"]).as_str(), Some("45m"));
        assert_eq!(
            get(&d, &["instances", "launch_delay", "median"]).as_str(),
            Some("20s")
        );
        assert_eq!(
            get(&d, &["instance_types", "0", "price_per_hour"]),
            &Value::Float(1.0)
        );
        assert_eq!(get(&d, &["workloads", "0", "cpu"]).as_str(), Some("2"));
    }

    #[test]
    fn a_missing_element_names_the_nearest() {
        let mut d = doc();
        let e = set(&mut d, "workloads.wroker.replicas", Value::Integer(1)).unwrap_err();
        assert_eq!(
            e,
            OverrideError::UnknownKey {
                key: "workloads.wroker.replicas".into(),
                nearest: vec!["workloads.worker".into(), "workloads.0".into()],
            }
        );
        let e = set(&mut d, "name.x", Value::Integer(1)).unwrap_err();
        assert!(matches!(e, OverrideError::NotATable { .. }), "{e}");
    }

    #[test]
    fn reads_serde_unknown_field_messages() {
        let (f, exp) =
            unknown_field("unknown field `maxx`, expected one of `name`, `min`, `max`").unwrap();
        assert_eq!(f, "maxx");
        assert_eq!(exp, ["name", "min", "max"]);
        assert_eq!(nearest("maxx", exp.iter().map(|s| s.as_str()))[0], "max");
    }
}
