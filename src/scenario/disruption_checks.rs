//! A NodePool's `disruption` table, `expire_after` and `updates`,
//! validated as Karpenter's CRD validates them (kubernetes-sigs/karpenter
//! `pkg/apis/v1/nodepool.go`): a policy name, durations or `Never`,
//! budgets of a count or a percentage with a cron schedule and a duration
//! together, known reasons; an update's requirements evaluated like the
//! NodePool's. Errors name the file, the NodePool's line and the key.

use crate::engine::Millis;
use crate::karpenter::{
    Budget, BudgetNodes, ConsolidationPolicy, DisruptionSpec, NodePoolUpdate, Reason, Schedule,
};
use crate::quantity::parse_duration;

use super::ScenarioError;
use super::karpenter_checks::requirements;
use super::karpenter_file::{BudgetFile, NodePoolFile};
use super::policy_checks::PoolContext;

type Err<'a> = &'a dyn Fn(&str, String) -> ScenarioError;

/// The NodePool's disruption settings, defaults filled in.
pub(super) fn disruption(np: &NodePoolFile, err: Err<'_>) -> Result<DisruptionSpec, ScenarioError> {
    let mut out = DisruptionSpec::default();
    if let Some(e) = &np.expire_after {
        out.expire_after = never_or(e).map_err(|m| err("expire_after", m))?;
    }
    let Some(d) = &np.disruption else {
        return Ok(out);
    };
    if let Some(p) = &d.consolidation_policy {
        out.policy = match p.as_str() {
            "WhenEmpty" => ConsolidationPolicy::WhenEmpty,
            "WhenEmptyOrUnderutilized" => ConsolidationPolicy::WhenEmptyOrUnderutilized,
            other => {
                return Err(err(
                    "disruption.consolidation_policy",
                    format!("`{other}` is not `WhenEmpty` or `WhenEmptyOrUnderutilized`"),
                ));
            }
        };
    }
    if let Some(a) = &d.consolidate_after {
        out.consolidate_after = never_or(a).map_err(|m| err("disruption.consolidate_after", m))?;
    }
    if let Some(budgets) = &d.budgets {
        out.budgets = budgets
            .iter()
            .enumerate()
            .map(|(i, b)| budget(b).map_err(|m| err(&format!("disruption.budgets.{i}"), m)))
            .collect::<Result<_, _>>()?;
    }
    Ok(out)
}

/// A duration or `Never` (`None`).
fn never_or(text: &str) -> Result<Option<Millis>, String> {
    if text == "Never" {
        return Ok(None);
    }
    parse_duration(text)
        .map(Some)
        .map_err(|e| format!("{e}; expected a duration such as \"10m\" or \"Never\""))
}

fn budget(b: &BudgetFile) -> Result<Budget, String> {
    let nodes = match &b.nodes {
        None => BudgetNodes::Percent(10),
        Some(n) => BudgetNodes::parse(n).ok_or_else(|| {
            format!("nodes `{n}` is not a count (\"3\") or a percentage from 0% to 100% (\"10%\")")
        })?,
    };
    let window = match (&b.schedule, &b.duration) {
        (None, None) => None,
        (Some(_), None) => return Err("a schedule needs a duration".to_string()),
        (None, Some(_)) => return Err("a duration needs a schedule".to_string()),
        (Some(s), Some(d)) => {
            let schedule = Schedule::parse(s).map_err(|e| format!("schedule: {e}"))?;
            let duration = parse_duration(d).map_err(|e| format!("duration: {e}"))?;
            if duration.0 % 60_000 != 0 {
                return Err(format!(
                    "duration `{d}` is not whole minutes (Karpenter takes hours and minutes)"
                ));
            }
            Some((schedule, duration))
        }
    };
    let reasons = match &b.reasons {
        None => None,
        Some(rs) => Some(
            rs.iter()
                .map(|r| {
                    Reason::parse(r).ok_or_else(|| {
                        format!("reason `{r}` is not `Empty`, `Underutilized` or `Drifted`")
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    Ok(Budget {
        nodes,
        window,
        reasons,
    })
}

/// The NodePool's updates, in time order; each may change the instance
/// types and capacity types, not the zones.
pub(super) fn updates(
    np: &NodePoolFile,
    cx: &PoolContext<'_>,
    zones: &[usize],
    err: Err<'_>,
) -> Result<Vec<NodePoolUpdate>, ScenarioError> {
    let mut out: Vec<NodePoolUpdate> = Vec::new();
    for (i, u) in np.updates.iter().enumerate() {
        let key = format!("updates.{i}.requirements");
        let allowed = requirements(&u.requirements, cx, &|m| err(&key, m))?;
        if allowed.zones != zones {
            return Err(err(
                &key,
                "an update may change instance types and capacity types, not zones".to_string(),
            ));
        }
        if out.last().is_some_and(|l| l.at > u.at.0) {
            return Err(err(
                &format!("updates.{i}.at"),
                "updates must be in time order".to_string(),
            ));
        }
        out.push(NodePoolUpdate {
            at: u.at.0,
            types: allowed.types,
            capacity: allowed.capacity,
        });
    }
    Ok(out)
}
