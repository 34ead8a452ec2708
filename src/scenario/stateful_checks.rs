//! Validation of StatefulSet workloads: the pod management policy and the
//! volume claim templates (names unique, attach delays valid). Every error
//! names the file, the line and the key.

use std::collections::BTreeSet;

use crate::engine::Millis;
use crate::input::escape;
use crate::kube::{PodManagementPolicy, StatefulSetSpec, VolumeClaim, WorkloadKind};
use crate::quantity::Delay;

use super::ScenarioError;
use super::file::WorkloadFile;
use super::stateful_file::PodManagementPolicyFile;
use super::validate::{Source, delay};

/// The most volume claim templates one StatefulSet may have (a pod draws
/// one attach time per claim at each binding).
pub(super) const MAX_VOLUME_CLAIMS: usize = 16;

/// The attach delay of a claim that gives none (UNCONFIRMED:
/// `docs/fidelity.md`, "Workloads").
pub(super) const DEFAULT_ATTACH_DELAY: Millis = Millis(10_000);

/// The StatefulSet settings of a workload, or `None` if it is not one
/// (then no StatefulSet key may be set).
pub(super) fn statefulset(
    src: &Source<'_>,
    w: &WorkloadFile,
    kind: WorkloadKind,
    key: &str,
) -> Result<Option<StatefulSetSpec>, ScenarioError> {
    let span = Some(w.name.span());
    if kind != WorkloadKind::StatefulSet {
        let stray = if w.pod_management_policy.is_some() {
            Some("pod_management_policy")
        } else if !w.volume_claims.is_empty() {
            Some("volume_claims")
        } else {
            None
        };
        if let Some(k) = stray {
            return Err(src.error(
                span,
                format!("{key}.{k}"),
                "pod_management_policy and volume_claims are for kind = \"statefulset\"",
            ));
        }
        return Ok(None);
    }
    if w.volume_claims.len() > MAX_VOLUME_CLAIMS {
        return Err(src.error(
            span,
            format!("{key}.volume_claims"),
            format!(
                "{} volume claims; at most {MAX_VOLUME_CLAIMS}",
                w.volume_claims.len()
            ),
        ));
    }
    let mut names = BTreeSet::new();
    let mut volume_claims = Vec::new();
    for c in &w.volume_claims {
        let name = c.name.get_ref();
        let ckey = format!("{key}.volume_claims.{}", escape(name));
        if name.is_empty() || !name.chars().all(crate::input::is_printable) {
            return Err(src.error(
                Some(c.name.span()),
                format!("{key}.volume_claims.name"),
                "a name must be non-empty, with no control or other non-printable character",
            ));
        }
        if !names.insert(name.as_str()) {
            return Err(src.error(
                Some(c.name.span()),
                format!("{key}.volume_claims.name"),
                format!("volume claim name `{}` is used twice", escape(name)),
            ));
        }
        let attach_delay = match &c.attach_delay {
            Some(d) => delay(d)
                .map_err(|m| src.error(Some(c.name.span()), format!("{ckey}.attach_delay"), m))?,
            None => Delay::Fixed(DEFAULT_ATTACH_DELAY),
        };
        volume_claims.push(VolumeClaim {
            name: name.clone(),
            attach_delay,
        });
    }
    Ok(Some(StatefulSetSpec {
        policy: match w.pod_management_policy {
            None | Some(PodManagementPolicyFile::OrderedReady) => PodManagementPolicy::OrderedReady,
            Some(PodManagementPolicyFile::Parallel) => PodManagementPolicy::Parallel,
        },
        volume_claims,
    }))
}
