//! Validation of placement keys: tolerations, pool taints and node
//! affinity, and whether a workload may use a pool at all.

use crate::engine::Millis;
use crate::kube::affinity::{NodeAffinity, Requirement, SelectorOperator};
use crate::kube::taint::TolerationOperator;
use crate::kube::{Taint, TaintEffect, Toleration, WorkloadSpec};

use super::ScenarioError;
use super::file::{
    EffectFile, NodeAffinityFile, RequirementFile, SelectorOperatorFile, TaintFile, TolerationFile,
    TolerationOperatorFile,
};
use super::validate::Source;

fn effect(e: EffectFile) -> TaintEffect {
    match e {
        EffectFile::NoSchedule => TaintEffect::NoSchedule,
        EffectFile::PreferNoSchedule => TaintEffect::PreferNoSchedule,
        EffectFile::NoExecute => TaintEffect::NoExecute,
    }
}

/// Tolerations as written; `key` names them in errors.
pub(super) fn tolerations(
    src: &Source<'_>,
    list: &[TolerationFile],
    key: &str,
    span: Option<std::ops::Range<usize>>,
) -> Result<Vec<Toleration>, ScenarioError> {
    list.iter()
        .map(|t| {
            let operator = match t.operator {
                None | Some(TolerationOperatorFile::Equal) => TolerationOperator::Equal,
                Some(TolerationOperatorFile::Exists) => TolerationOperator::Exists,
            };
            if operator == TolerationOperator::Exists && !t.value.is_empty() {
                return Err(src.error(
                    span.clone(),
                    format!("{key}.tolerations"),
                    "a toleration with operator Exists takes no value",
                ));
            }
            if operator == TolerationOperator::Equal && t.key.is_empty() {
                return Err(src.error(
                    span.clone(),
                    format!("{key}.tolerations"),
                    "an empty key needs operator Exists",
                ));
            }
            Ok(Toleration {
                key: t.key.clone(),
                operator,
                value: t.value.clone(),
                effect: t.effect.map(effect),
                toleration_seconds: t.toleration_seconds.map(Millis::from_secs),
            })
        })
        .collect()
}

/// A pool's taints.
pub(super) fn taints(
    src: &Source<'_>,
    list: &[TaintFile],
    key: &str,
    span: Option<std::ops::Range<usize>>,
) -> Result<Vec<Taint>, ScenarioError> {
    list.iter()
        .map(|t| {
            if t.key.is_empty() {
                return Err(src.error(
                    span.clone(),
                    format!("{key}.taints"),
                    "a taint needs a key",
                ));
            }
            Ok(Taint {
                key: t.key.clone(),
                value: t.value.clone(),
                effect: effect(t.effect),
            })
        })
        .collect()
}

fn requirement(r: &RequirementFile) -> Result<Requirement, String> {
    let operator = match r.operator {
        SelectorOperatorFile::In => SelectorOperator::In,
        SelectorOperatorFile::NotIn => SelectorOperator::NotIn,
        SelectorOperatorFile::Exists => SelectorOperator::Exists,
        SelectorOperatorFile::DoesNotExist => SelectorOperator::DoesNotExist,
    };
    let needs_values = matches!(operator, SelectorOperator::In | SelectorOperator::NotIn);
    if needs_values == r.values.is_empty() {
        return Err(format!(
            "`{}`: In and NotIn need values, Exists and DoesNotExist take none",
            r.key
        ));
    }
    Ok(Requirement {
        key: r.key.clone(),
        operator,
        values: r.values.clone(),
    })
}

/// Node affinity as written.
pub(super) fn affinity(
    src: &Source<'_>,
    a: Option<&NodeAffinityFile>,
    key: &str,
    span: Option<std::ops::Range<usize>>,
) -> Result<NodeAffinity, ScenarioError> {
    let Some(a) = a else {
        return Ok(NodeAffinity::default());
    };
    let err = |m: String| src.error(span.clone(), format!("{key}.node_affinity"), m);
    let mut out = NodeAffinity::default();
    for term in &a.required {
        if term.is_empty() {
            return Err(err("an empty required term matches no node".into()));
        }
        out.required.push(
            term.iter()
                .map(requirement)
                .collect::<Result<_, _>>()
                .map_err(err)?,
        );
    }
    for p in &a.preferred {
        if !(1..=100).contains(&p.weight) {
            return Err(err(format!(
                "preferred weight {} is not within 1-100",
                p.weight
            )));
        }
        let term = p
            .requirements
            .iter()
            .map(requirement)
            .collect::<Result<_, _>>()
            .map_err(err)?;
        out.preferred.push((p.weight, term));
    }
    Ok(out)
}

/// Whether pods of `w` may use nodes of a pool: nodeSelector, required
/// affinity, and the pool's NoSchedule/NoExecute taints tolerated.
pub(super) fn pool_allows(w: &WorkloadSpec, pool: &crate::kube::PoolInfo) -> bool {
    w.affinity.allows(&w.node_selector, &pool.labels)
        && pool.taints.iter().all(|t| {
            t.effect == TaintEffect::PreferNoSchedule
                || crate::kube::taint::tolerated(&w.tolerations, &t.key, &t.value, t.effect)
        })
}
