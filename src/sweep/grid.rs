//! The parameter grid: axes from the scenario's `[sweep]` table and from
//! `--set KEY=V1,V2,...`, their values (lists and ranges), and one validated
//! scenario per grid point.
//!
//! Grid points are numbered row-major: the first axis varies slowest. Axes
//! from the file come first, in key order, then `--set` axes in command-line
//! order; a `--set` of a key the file already sweeps replaces its values.

use toml::{Table, Value};

use crate::quantity::{format_duration, parse_duration};
use crate::scenario::overrides::{self, OverrideError};
use crate::scenario::{Scenario, ScenarioError};

use super::SweepError;

/// Keys that identify the sweep itself rather than the model.
const NOT_SWEEPABLE: [&str; 4] = ["name", "seeds", "first_seed", "sweep"];

/// More values than this on one axis is a typo in a range, not a sweep.
const MAX_AXIS_VALUES: usize = 100_000;

/// One swept key and its values, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// Dotted path of the scenario value (also the CSV column name).
    pub key: String,
    /// Values, each a TOML value as it would appear in the file.
    pub values: Vec<Value>,
}

/// Parses `KEY=V1,V2,...`, where each item is a value or a range
/// `FROM..TO[:STEP]` (inclusive; integers, decimals or durations).
pub fn parse_set(arg: &str) -> Result<Axis, SweepError> {
    let bad = |message: String| SweepError::BadSet {
        arg: arg.to_string(),
        message,
    };
    let (key, values) = arg.split_once('=').ok_or_else(|| {
        bad("expected KEY=V1,V2,... (e.g. workloads.worker.replicas=100,200)".into())
    })?;
    let key = key.trim();
    if key.is_empty() {
        return Err(bad("the key is empty".into()));
    }
    let mut out = Vec::new();
    for item in values.split(',') {
        if item.trim().is_empty() {
            return Err(bad("an empty value".into()));
        }
        out.extend(expand(item).map_err(bad)?);
    }
    axis(key, out).map_err(bad)
}

/// The axes of a `[sweep]` table: each key's value is a list, a range string
/// (`"10..40:5"`), or a single value.
pub fn axes_from_table(table: &Table) -> Result<Vec<Axis>, SweepError> {
    // Unquoted dotted keys (`workloads.worker.replicas = [...]`) and
    // sub-tables read as nested tables: flatten them back into paths.
    fn flatten(prefix: &str, t: &Table, out: &mut Vec<(String, Value)>) {
        for (k, v) in t {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                Value::Table(sub) => flatten(&key, sub, out),
                other => out.push((key, other.clone())),
            }
        }
    }
    let mut entries = Vec::new();
    flatten("", table, &mut entries);
    entries
        .iter()
        .map(|(key, v)| {
            let bad = |message: String| SweepError::BadSet {
                arg: format!("[sweep] {key}"),
                message,
            };
            let items: Vec<&Value> = match v {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            let mut values = Vec::new();
            for item in items {
                match item {
                    Value::String(s) if s.contains("..") => values.extend(expand(s).map_err(bad)?),
                    other => values.push(other.clone()),
                }
            }
            axis(key, values).map_err(bad)
        })
        .collect()
}

fn axis(key: &str, values: Vec<Value>) -> Result<Axis, String> {
    let head = key.split('.').next().unwrap_or(key);
    if NOT_SWEEPABLE.contains(&head) {
        return Err(format!(
            "`{head}` cannot be swept (seeds come from --seeds; name names the results)"
        ));
    }
    if values.is_empty() {
        return Err("no values".into());
    }
    if values.len() > MAX_AXIS_VALUES {
        return Err(format!("more than {MAX_AXIS_VALUES} values"));
    }
    // Two equal values would make two grid points with the same columns,
    // which no reader of the CSV could tell apart.
    let mut seen = std::collections::HashSet::new();
    for v in &values {
        if !seen.insert(overrides::display(v)) {
            return Err(format!(
                "the value `{}` appears twice",
                overrides::display(v)
            ));
        }
    }
    Ok(Axis {
        key: key.to_string(),
        values,
    })
}

/// Expands one item: a range into its values, anything else into itself.
fn expand(item: &str) -> Result<Vec<Value>, String> {
    let item = item.trim();
    let Some((from, rest)) = item.split_once("..") else {
        return Ok(vec![overrides::parse_scalar(item)]);
    };
    let (to, step) = match rest.split_once(':') {
        Some((to, step)) => (to.trim(), Some(step.trim())),
        None => (rest.trim(), None),
    };
    let from = from.trim();
    let too_many = || format!("range `{item}` has more than {MAX_AXIS_VALUES} values");
    let backwards = || format!("range `{item}`: the end is before the start");
    // Integers.
    if let (Ok(a), Ok(b), Ok(s)) = (
        from.parse::<i64>(),
        to.parse::<i64>(),
        step.map_or(Ok(1), str::parse::<i64>),
    ) {
        if s <= 0 {
            return Err(format!("range `{item}`: the step must be positive"));
        }
        if b < a {
            return Err(backwards());
        }
        if (b - a) / s >= MAX_AXIS_VALUES as i64 {
            return Err(too_many());
        }
        return Ok((a..=b).step_by(s as usize).map(Value::Integer).collect());
    }
    // Decimals.
    if let (Ok(a), Ok(b)) = (from.parse::<f64>(), to.parse::<f64>()) {
        let s: f64 = match step {
            Some(s) => s
                .parse()
                .map_err(|_| format!("range `{item}`: step `{s}` is not a number"))?,
            None => 1.0,
        };
        if !(s > 0.0 && a.is_finite() && b.is_finite()) {
            return Err(format!("range `{item}`: the step must be positive"));
        }
        if b < a {
            return Err(backwards());
        }
        // A small tolerance so that 0.1..0.3:0.1 includes 0.3.
        let n = ((b - a) / s + 1e-9).floor();
        if n >= MAX_AXIS_VALUES as f64 {
            return Err(too_many());
        }
        return Ok((0..=n as u64)
            .map(|i| Value::Float(((a + i as f64 * s) * 1e9).round() / 1e9))
            .collect());
    }
    // Durations.
    let dur = |t: &str| parse_duration(t).map_err(|e| format!("range `{item}`: {e}"));
    let (a, b) = (dur(from)?, dur(to)?);
    let s = dur(step.ok_or_else(|| format!("range `{item}`: a duration range needs a step"))?)?;
    if s.0 == 0 {
        return Err(format!("range `{item}`: the step must be positive"));
    }
    if b < a {
        return Err(backwards());
    }
    if (b.0 - a.0) / s.0 >= MAX_AXIS_VALUES as u64 {
        return Err(too_many());
    }
    Ok((a.0..=b.0)
        .step_by(s.0 as usize)
        .map(|ms| Value::String(format_duration(crate::engine::Millis(ms))))
        .collect())
}

/// File axes then command-line axes; a command-line key replaces the file's.
pub fn combine(mut file: Vec<Axis>, cli: Vec<Axis>) -> Vec<Axis> {
    for a in cli {
        match file.iter_mut().find(|f| f.key == a.key) {
            Some(f) => *f = a,
            None => file.push(a),
        }
    }
    file
}

/// The cartesian product of the axes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Grid {
    /// The axes, first varying slowest.
    pub axes: Vec<Axis>,
}

impl Grid {
    /// Number of grid points (1 when nothing is swept).
    pub fn points(&self) -> usize {
        self.axes
            .iter()
            .fold(1usize, |n, a| n.saturating_mul(a.values.len()))
    }

    /// The value index on each axis of grid point `point`.
    pub fn coords(&self, mut point: usize) -> Vec<usize> {
        let mut c = vec![0; self.axes.len()];
        for (i, a) in self.axes.iter().enumerate().rev() {
            c[i] = point % a.values.len();
            point /= a.values.len();
        }
        c
    }

    /// The values of grid point `point` as CSV cells, in axis order.
    pub fn labels(&self, point: usize) -> Vec<String> {
        self.coords(point)
            .iter()
            .zip(&self.axes)
            .map(|(&i, a)| overrides::display(&a.values[i]))
            .collect()
    }

    /// The column names of the swept values.
    pub fn keys(&self) -> Vec<String> {
        self.axes.iter().map(|a| a.key.clone()).collect()
    }

    /// Validates the scenario of grid point `point`: `doc` (the base
    /// scenario as a document, without `[sweep]`) with the point's values
    /// set; `source` names the base file in errors.
    pub fn scenario(
        &self,
        doc: &Table,
        base: &Scenario,
        point: usize,
    ) -> Result<Scenario, SweepError> {
        let source = &base.source;
        let mut d = doc.clone();
        let coords = self.coords(point);
        let set: Vec<(&str, &Value)> = self
            .axes
            .iter()
            .zip(&coords)
            .map(|(a, &i)| (a.key.as_str(), &a.values[i]))
            .collect();
        for (key, v) in &set {
            overrides::set(&mut d, key, (*v).clone())
                .map_err(|e| super::plan::at_sweep_line(base, SweepError::Override(e)))?;
        }
        let text = toml::to_string(&d).map_err(|e| SweepError::BadOption(e.to_string()))?;
        let label = format!(
            "{source} with {}",
            set.iter()
                .map(|(k, v)| format!("{k}={}", overrides::display(v)))
                .collect::<Vec<_>>()
                .join(" ")
        );
        Scenario::parse_with(&text, &label, &base.paths)
            .map_err(|e| super::plan::at_sweep_line(base, point_error(e, &set)))
    }
}

/// The scenario as a TOML document, constant defaults filled in, so that
/// a default can be swept (`instances.launch_delay.median` when the file
/// does not set a launch delay).
pub(crate) fn base_document(base: &Scenario) -> Result<Table, SweepError> {
    match toml::Value::try_from(crate::scenario::resolved_file(base)) {
        Ok(Value::Table(t)) => Ok(t),
        Ok(_) => Err(SweepError::BadOption("scenario is not a table".into())),
        Err(e) => Err(SweepError::BadOption(e.to_string())),
    }
}

/// An error in a grid point's scenario. Its line numbers would point into a
/// generated document, so they are dropped; an unknown field becomes an
/// unknown key naming the nearest valid keys.
fn point_error(e: ScenarioError, set: &[(&str, &Value)]) -> SweepError {
    let ScenarioError::Invalid {
        file, key, message, ..
    } = e
    else {
        return SweepError::Scenario(e);
    };
    if let Some((field, expected)) = overrides::unknown_field(&message)
        && let Some((k, _)) = set.iter().find(|(k, _)| k.split('.').any(|s| s == field))
    {
        let candidates: Vec<String> = expected
            .iter()
            .map(|x| {
                k.split('.')
                    .map(|s| if s == field { x.as_str() } else { s })
                    .collect::<Vec<_>>()
                    .join(".")
            })
            .collect();
        return SweepError::Override(OverrideError::UnknownKey {
            key: k.to_string(),
            nearest: overrides::nearest(k, candidates.iter().map(|s| s.as_str())),
        });
    }
    SweepError::Scenario(ScenarioError::Invalid {
        file,
        line: None,
        key,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_lists() {
        let a = parse_set("workloads.worker.replicas=10..40:10,55").unwrap();
        assert_eq!(a.key, "workloads.worker.replicas");
        let ints: Vec<i64> = a.values.iter().map(|v| v.as_integer().unwrap()).collect();
        assert_eq!(ints, [10, 20, 30, 40, 55]);
        let d = parse_set("faults.0.at=10m..30m:10m").unwrap();
        let s: Vec<&str> = d.values.iter().map(|v| v.as_str().unwrap()).collect();
        assert_eq!(s, ["10m", "20m", "30m"]);
        let f = parse_set("x.y=0.1..0.3:0.1").unwrap();
        assert_eq!(f.values.len(), 3);
        assert!(parse_set("seeds=1,2").is_err());
        assert!(parse_set("nokey").is_err());
        assert!(parse_set("a=5..1").is_err());
        assert!(parse_set("a=1..3,2").is_err());
    }

    #[test]
    fn sweep_table_keys_quoted_or_dotted() {
        let t: Table = r#"
            workloads.worker.replicas = [1, 2]
            "faults.0.at" = "5m..15m:5m"
            [instances.launch_delay]
            median = ["20s", "40s"]
        "#
        .parse()
        .unwrap();
        let axes = axes_from_table(&t).unwrap();
        let keys: Vec<&str> = axes.iter().map(|a| a.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "workloads.worker.replicas",
                "faults.0.at",
                "instances.launch_delay.median"
            ]
        );
        assert_eq!(axes[1].values.len(), 3);
    }

    #[test]
    fn grid_is_row_major() {
        let g = Grid {
            axes: vec![parse_set("a=1,2").unwrap(), parse_set("b=x,y,z").unwrap()],
        };
        assert_eq!(g.points(), 6);
        assert_eq!(g.labels(0), ["1", "x"]);
        assert_eq!(g.labels(2), ["1", "z"]);
        assert_eq!(g.labels(3), ["2", "x"]);
    }
}
