//! The search space: the candidate designs, each a policy of the scenario
//! with some of its values changed, validated exactly like a file.
//!
//! By default the space is the pool sizes (`desired`) of every policy,
//! either splitting each policy's total over its pools
//! ([`PoolSpace::FixedTotal`]) or varying every pool from 1 up to that
//! total ([`PoolSpace::Free`]). `--search KEY=RANGE` axes, in the sweep's
//! syntax, replace that default; the candidates of a policy are then the
//! product of the axes that apply to it (a key under `policies.<name>.`
//! applies to that policy only).
//!
//! Pool sizes are *monotone* settings: the advisor assumes that one more
//! node in a pool, everything else equal, never lowers the cost and never
//! makes a requirement worse (more deadlocks, slower recovery). Fixed-total
//! splits move nodes between pools, so they are not monotone; only sizes
//! varied independently (`--pools free`, or a `--search` of a pool's
//! `desired`) are. `check_monotonicity` in the search tests the
//! assumption on the runs made.

use toml::Value;

use crate::scenario::Scenario;
use crate::scenario::overrides::display;
use crate::sweep::grid::{Axis, Grid, base_document, parse_set};

use super::AdviseError;

/// More candidates than this is a space to narrow, not to search.
pub const MAX_CANDIDATES: usize = 5_000;

/// How the default space varies pool sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PoolSpace {
    /// Every split of the policy's total over its pools, each at least 1
    /// (and at most its `max` when the file sets one).
    #[default]
    FixedTotal,
    /// Every pool from 1 up to the policy's total (or its `max`),
    /// independently.
    Free,
}

/// One changed value of a candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    /// Dotted key, as in `--set`.
    pub key: String,
    /// The value.
    pub value: Value,
    /// A pool's size varied on its own: more is assumed never cheaper and
    /// never worse for the requirements.
    pub monotone: bool,
}

/// A design to evaluate.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Its number, in the order of the space (policies in file order, then
    /// the first axis slowest).
    pub index: usize,
    /// The policy it runs (index into `scenario.policies`).
    pub policy: usize,
    /// That policy's name.
    pub policy_name: String,
    /// The values that differ from the file (pool sizes in the default
    /// space; the `--search` values otherwise).
    pub settings: Vec<Setting>,
    /// The validated scenario with the settings applied.
    pub scenario: Scenario,
}

impl Candidate {
    /// `policy key=value ...`, keys shortened to their last segments for
    /// pool sizes (`system=3`).
    pub fn label(&self) -> String {
        let mut s = self.policy_name.clone();
        for set in &self.settings {
            // A pool's `min` that moves with its size says nothing more.
            if let Some(pool) = set.key.strip_suffix(".min")
                && self
                    .settings
                    .iter()
                    .any(|d| d.key == format!("{pool}.desired") && d.value == set.value)
            {
                continue;
            }
            s.push(' ');
            s.push_str(&short_key(&set.key, &self.policy_name));
            s.push('=');
            s.push_str(&display(&set.value));
        }
        s
    }

    /// Whether `self` differs from `other` only by having no more nodes in
    /// any monotone setting (and fewer in one): if `self` passes, `other`
    /// is assumed to pass at no lower cost; if `other` fails, `self` is
    /// assumed to fail.
    pub fn precedes(&self, other: &Candidate) -> bool {
        if self.policy != other.policy || self.settings.len() != other.settings.len() {
            return false;
        }
        let mut smaller = false;
        for (a, b) in self.settings.iter().zip(&other.settings) {
            if a.key != b.key {
                return false;
            }
            if a.monotone && b.monotone {
                match (a.value.as_integer(), b.value.as_integer()) {
                    (Some(x), Some(y)) if x < y => smaller = true,
                    (Some(x), Some(y)) if x == y => {}
                    _ => return false,
                }
            } else if a.value != b.value {
                return false;
            }
        }
        smaller
    }
}

/// `policies.split-pool.pools.system.desired` -> `system`; other keys of
/// the policy lose the `policies.<name>.` prefix; anything else is kept.
pub fn short_key(key: &str, policy: &str) -> String {
    let rest = key
        .strip_prefix("policies.")
        .and_then(|k| k.strip_prefix(policy))
        .and_then(|k| k.strip_prefix('.'));
    match rest {
        Some(r) => match r
            .strip_prefix("pools.")
            .and_then(|p| p.strip_suffix(".desired"))
        {
            Some(pool) => pool.to_string(),
            None => r.to_string(),
        },
        None => key.to_string(),
    }
}

/// What defines the space.
#[derive(Debug, Clone, Default)]
pub struct SpaceOptions {
    /// How the default space varies pool sizes.
    pub pools: PoolSpace,
    /// `--search KEY=RANGE` axes; when any is given they replace the
    /// default space.
    pub search: Vec<String>,
    /// Only these policies (default: all).
    pub policies: Vec<String>,
}

/// The policy a key names (`policies.<name>.` or `policies.<index>.`), if
/// it names one of `names`.
fn policy_of_key(key: &str, names: &[String]) -> Option<usize> {
    let rest = key.strip_prefix("policies.")?;
    if let Some((first, _)) = rest.split_once('.')
        && let Ok(i) = first.parse::<usize>()
    {
        return (i < names.len()).then_some(i);
    }
    // Longest name first: names may contain dots.
    let mut best: Option<usize> = None;
    for (i, n) in names.iter().enumerate() {
        if rest.starts_with(n.as_str())
            && rest[n.len()..].starts_with('.')
            && best.is_none_or(|b| names[b].len() < n.len())
        {
            best = Some(i);
        }
    }
    best
}

/// Every split of `total` into `bounds.len()` parts, part `i` within
/// `1..=bounds[i]`, first part slowest.
fn compositions(total: u32, bounds: &[u32]) -> Vec<Vec<u32>> {
    fn go(total: u32, bounds: &[u32], prefix: &mut Vec<u32>, out: &mut Vec<Vec<u32>>) {
        if out.len() > MAX_CANDIDATES {
            return;
        }
        match bounds {
            [] => {}
            [last] => {
                if total >= 1 && total <= *last {
                    prefix.push(total);
                    out.push(prefix.clone());
                    prefix.pop();
                }
            }
            [first, rest @ ..] => {
                let most = total.saturating_sub(rest.len() as u32).min(*first);
                for v in 1..=most {
                    prefix.push(v);
                    go(total - v, rest, prefix, out);
                    prefix.pop();
                }
            }
        }
    }
    let mut out = Vec::new();
    go(total, bounds, &mut Vec::new(), &mut out);
    out
}

/// The axes of one policy's default space: for each pool, the sizes and
/// whether `min` moves with `desired` (when the file sets a `min`, the
/// candidate's size is its floor too, so that `desired >= min` holds).
fn default_settings(base: &Scenario, policy: usize, space: PoolSpace) -> Vec<Vec<Setting>> {
    let pf = &base.file.policies[policy];
    let name = pf.name.get_ref();
    let total: u32 = pf.pools.iter().map(|p| *p.desired.get_ref()).sum();
    let bounds: Vec<u32> = pf
        .pools
        .iter()
        .map(|p| p.max.as_ref().map_or(total, |m| (*m.get_ref()).min(total)))
        .collect();
    let sizes: Vec<Vec<u32>> = match space {
        PoolSpace::FixedTotal => compositions(total, &bounds),
        PoolSpace::Free => {
            let mut out: Vec<Vec<u32>> = vec![Vec::new()];
            for &b in &bounds {
                out = out
                    .into_iter()
                    .flat_map(|p| {
                        (1..=b).map(move |v| {
                            let mut q = p.clone();
                            q.push(v);
                            q
                        })
                    })
                    .take(MAX_CANDIDATES + 1)
                    .collect();
            }
            out
        }
    };
    let monotone = space == PoolSpace::Free;
    sizes
        .into_iter()
        .map(|s| {
            let mut settings = Vec::new();
            for (pool, &size) in pf.pools.iter().zip(&s) {
                let key = format!("policies.{name}.pools.{}", pool.name.get_ref());
                settings.push(Setting {
                    key: format!("{key}.desired"),
                    value: Value::Integer(i64::from(size)),
                    monotone,
                });
                if pool.min.is_some() {
                    settings.push(Setting {
                        key: format!("{key}.min"),
                        value: Value::Integer(i64::from(size)),
                        monotone,
                    });
                }
            }
            settings
        })
        .collect()
}

/// Whether an axis key is a pool's size.
fn is_pool_size(key: &str) -> bool {
    key.starts_with("policies.") && key.contains(".pools.") && key.ends_with(".desired")
}

/// The candidates of the space, each validated.
pub fn candidates(base: &Scenario, opts: &SpaceOptions) -> Result<Vec<Candidate>, AdviseError> {
    let names: Vec<String> = base.policies.iter().map(|p| p.name.clone()).collect();
    for p in &opts.policies {
        if !names.contains(p) {
            return Err(AdviseError::UnknownPolicy {
                name: p.clone(),
                known: names.join(", "),
            });
        }
    }
    let axes: Vec<Axis> = opts
        .search
        .iter()
        .map(|s| parse_set(s).map_err(AdviseError::Sweep))
        .collect::<Result<_, _>>()?;
    let mut settings_per_policy: Vec<(usize, Vec<Vec<Setting>>)> = Vec::new();
    for (pi, name) in names.iter().enumerate() {
        if !opts.policies.is_empty() && !opts.policies.contains(name) {
            continue;
        }
        let sets = if axes.is_empty() {
            default_settings(base, pi, opts.pools)
        } else {
            let mine: Vec<&Axis> = axes
                .iter()
                .filter(|a| policy_of_key(&a.key, &names).is_none_or(|p| p == pi))
                .collect();
            let mut out: Vec<Vec<Setting>> = vec![Vec::new()];
            for a in mine {
                out = out
                    .into_iter()
                    .flat_map(|p| {
                        a.values.iter().map(move |v| {
                            let mut q = p.clone();
                            q.push(Setting {
                                key: a.key.clone(),
                                value: v.clone(),
                                monotone: is_pool_size(&a.key),
                            });
                            q
                        })
                    })
                    .take(MAX_CANDIDATES + 1)
                    .collect();
            }
            out
        };
        settings_per_policy.push((pi, sets));
    }
    let count: usize = settings_per_policy.iter().map(|(_, s)| s.len()).sum();
    if count == 0 {
        return Err(AdviseError::EmptySpace(
            "no candidate: no policy has a split of its pools with at least one node each within their max".into(),
        ));
    }
    if count > MAX_CANDIDATES {
        return Err(AdviseError::EmptySpace(format!(
            "more than {MAX_CANDIDATES} candidates: narrow the space with --search or --policy"
        )));
    }
    let mut doc = base_document(base).map_err(AdviseError::Sweep)?;
    doc.remove("sweep");
    let mut out = Vec::with_capacity(count);
    for (policy, sets) in settings_per_policy {
        for settings in sets {
            let scenario = validated(base, &doc, &settings)?;
            out.push(Candidate {
                index: out.len(),
                policy,
                policy_name: names[policy].clone(),
                settings,
                scenario,
            });
        }
    }
    Ok(out)
}

/// The base scenario with `settings` applied to `doc` (the base as a
/// document, without `[sweep]`), validated like a file by the sweep's grid,
/// so that an unknown key names the nearest valid ones.
fn validated(
    base: &Scenario,
    doc: &toml::Table,
    settings: &[Setting],
) -> Result<Scenario, AdviseError> {
    if settings.is_empty() {
        return Ok(base.clone());
    }
    let grid = Grid {
        axes: settings
            .iter()
            .map(|s| Axis {
                key: s.key.clone(),
                values: vec![s.value.clone()],
            })
            .collect(),
    };
    grid.scenario(doc, base, 0).map_err(AdviseError::Sweep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_of_a_total() {
        assert_eq!(
            compositions(4, &[4, 4]),
            [vec![1, 3], vec![2, 2], vec![3, 1]]
        );
        assert_eq!(compositions(4, &[1, 4]), [vec![1, 3]]);
        assert_eq!(compositions(3, &[3, 3, 3]), [vec![1, 1, 1]]);
        assert!(compositions(2, &[2, 2, 2]).is_empty());
        assert_eq!(compositions(5, &[5]), [vec![5]]);
    }

    #[test]
    fn keys_and_policies() {
        let names = vec!["a".to_string(), "a.b".to_string()];
        assert_eq!(
            policy_of_key("policies.a.b.pools.x.desired", &names),
            Some(1)
        );
        assert_eq!(policy_of_key("policies.a.pools.x.desired", &names), Some(0));
        assert_eq!(policy_of_key("policies.1.pools.x.desired", &names), Some(1));
        assert_eq!(policy_of_key("workloads.w.replicas", &names), None);
        assert_eq!(
            short_key("policies.split-pool.pools.system.desired", "split-pool"),
            "system"
        );
        assert_eq!(
            short_key("workloads.w.replicas", "p"),
            "workloads.w.replicas"
        );
        assert!(is_pool_size("policies.p.pools.system.desired"));
        assert!(!is_pool_size("policies.p.pools.system.max"));
    }
}
