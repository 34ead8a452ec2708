//! Karpenter `NodePool` manifests (karpenter.sh/v1) as the scenario's
//! `[[policies.nodepools]]`: requirements on the labels the model knows,
//! template labels and taints, limits and weight. An `EC2NodeClass` only
//! names AMIs, subnets and roles, none of which the model has: noted.

use crate::scenario::file::{
    BudgetFile, DisruptionFile, LimitsFile, NodePoolFile, NodePoolRequirementFile,
    RequirementOperatorFile, TaintFile,
};
use crate::scenario::units::{CpuText, MemoryText};
use crate::scenario::{NODEPOOL_CAPACITY_KEY, NODEPOOL_TYPE_KEYS, NODEPOOL_ZONE_KEY};

use super::ImportError;
use super::notes::Notes;
use super::object::{At, Object};
use super::template::taint_effect;

/// The NodePools among the objects, by name.
pub fn nodepools(objects: &[Object], notes: &mut Notes) -> Result<Vec<NodePoolFile>, ImportError> {
    let mut out = Vec::new();
    for o in objects {
        match o.kind.as_str() {
            "NodePool" => out.push(nodepool(o, notes)?),
            "EC2NodeClass" => notes.skip(
                "EC2NodeClasses: AMIs, subnets and roles are not modelled",
                o.id(),
            ),
            _ => {}
        }
    }
    if !out.is_empty() {
        notes.approximate(
            "Karpenter NodePools start empty: Karpenter provisions for the pending pods from the start, not today's nodes",
            "every NodePool",
        );
    }
    out.sort_by(|a, b| a.name.get_ref().cmp(b.name.get_ref()));
    Ok(out)
}

/// One NodePool: its template's requirements, labels and taints, its
/// disruption settings, expiry, limits and weight.
fn nodepool(o: &Object, notes: &mut Notes) -> Result<NodePoolFile, ImportError> {
    let e = |b| o.error(b);
    let root = o.root();
    let spec = root.need("spec").map_err(e)?;
    let template = spec.need("template").map_err(e)?;
    let tspec = template.need("spec").map_err(e)?;
    let labels = match template.get("metadata") {
        Some(m) => m.string_map("labels").map_err(e)?,
        None => Default::default(),
    };
    let requirements = requirements(o, &tspec, notes)?;
    let mut taints = Vec::new();
    for t in tspec.list("taints").map_err(e)? {
        taints.push(TaintFile {
            key: t
                .need("key")
                .and_then(|k| k.as_str())
                .map_err(e)?
                .to_string(),
            value: t.str("value").map_err(e)?.unwrap_or("").to_string(),
            effect: taint_effect(&t).map_err(e)?,
        });
    }
    if !tspec.list("startupTaints").map_err(e)?.is_empty() {
        notes.skip("NodePool startupTaints: not modelled", o.id());
    }
    let disruption = match spec.get("disruption") {
        Some(d) => Some(disruption(o, &d)?),
        None => None,
    };
    let expire_after = tspec.str("expireAfter").map_err(e)?.map(str::to_string);
    let limits = match spec.get("limits") {
        Some(l) => Some(LimitsFile {
            cpu: l.cpu("cpu").map_err(e)?.map(CpuText),
            memory: l.memory("memory").map_err(e)?.map(MemoryText),
        }),
        None => None,
    };
    let weight = spec
        .u64("weight")
        .map_err(e)?
        .map(|w| u32::try_from(w).unwrap_or(u32::MAX));
    Ok(NodePoolFile {
        name: toml::Spanned::new(0..0, o.name.clone()),
        requirements,
        labels,
        taints,
        limits,
        weight,
        launch_delay: None,
        boot_delay: None,
        disruption,
        expire_after,
        updates: Vec::new(),
    })
}

/// The template's requirements on the labels the model knows (the others
/// skipped with a note; `minValues` noted as not modelled).
fn requirements(
    o: &Object,
    tspec: &At<'_>,
    notes: &mut Notes,
) -> Result<Vec<NodePoolRequirementFile>, ImportError> {
    let e = |b| o.error(b);
    let mut requirements = Vec::new();
    for r in tspec.list("requirements").map_err(e)? {
        let key = r.need("key").and_then(|k| k.as_str()).map_err(e)?;
        let op_at = r.need("operator").map_err(e)?;
        let operator = match op_at.as_str().map_err(e)? {
            "In" => RequirementOperatorFile::In,
            "NotIn" => RequirementOperatorFile::NotIn,
            "Exists" => RequirementOperatorFile::Exists,
            "DoesNotExist" => RequirementOperatorFile::DoesNotExist,
            "Gt" => RequirementOperatorFile::Gt,
            "Lt" => RequirementOperatorFile::Lt,
            other => {
                return Err(o.error_at(
                    &op_at.path,
                    format!(
                        "unknown operator `{}`: expected In, NotIn, Exists, DoesNotExist, Gt or Lt",
                        crate::input::escape(other)
                    ),
                ));
            }
        };
        if r.get("minValues").is_some() {
            notes.approximate("NodePool requirement minValues: not modelled", o.id());
        }
        let known = NODEPOOL_TYPE_KEYS.contains(&key)
            || key == NODEPOOL_CAPACITY_KEY
            || key == NODEPOOL_ZONE_KEY;
        if !known {
            notes.skip(
                "NodePool requirements on labels the model does not know",
                format!("{} {key}", o.id()),
            );
            continue;
        }
        requirements.push(NodePoolRequirementFile {
            key: key.to_string(),
            operator,
            values: r.strings("values").map_err(e)?,
        });
    }
    Ok(requirements)
}

/// `spec.disruption`: consolidation policy and delay, and the budgets.
fn disruption(o: &Object, d: &At<'_>) -> Result<DisruptionFile, ImportError> {
    let e = |b| o.error(b);
    let mut budgets = Vec::new();
    for b in d.list("budgets").map_err(e)? {
        let reasons = b.strings("reasons").map_err(e)?;
        budgets.push(BudgetFile {
            nodes: b.str("nodes").map_err(e)?.map(str::to_string),
            schedule: b.str("schedule").map_err(e)?.map(str::to_string),
            duration: b.str("duration").map_err(e)?.map(str::to_string),
            reasons: (!reasons.is_empty()).then_some(reasons),
        });
    }
    Ok(DisruptionFile {
        consolidation_policy: d.str("consolidationPolicy").map_err(e)?.map(str::to_string),
        consolidate_after: d.str("consolidateAfter").map_err(e)?.map(str::to_string),
        budgets: (!budgets.is_empty()).then_some(budgets),
    })
}
