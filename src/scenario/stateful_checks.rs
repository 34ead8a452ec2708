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
    if kind != WorkloadKind::StatefulSet {
        return no_statefulset_keys(src, w, key).map(|()| None);
    }
    if let Some(s) = &w.service_name
        && !is_dns_label(s.get_ref())
    {
        // The controller writes it into each pod's `subdomain`, a DNS-1123
        // label (kubernetes/kubernetes#130233 validates it on the
        // StatefulSet itself; the field is optional).
        return Err(src.error(
            Some(s.span()),
            format!("{key}.service_name"),
            format!(
                "`{}` is not a DNS label: at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit",
                escape(s.get_ref())
            ),
        ));
    }
    Ok(Some(StatefulSetSpec {
        policy: match w.pod_management_policy {
            None | Some(PodManagementPolicyFile::OrderedReady) => PodManagementPolicy::OrderedReady,
            Some(PodManagementPolicyFile::Parallel) => PodManagementPolicy::Parallel,
        },
        volume_claims: volume_claims(src, w, key)?,
    }))
}

/// A workload of another kind sets no StatefulSet key.
fn no_statefulset_keys(src: &Source<'_>, w: &WorkloadFile, key: &str) -> Result<(), ScenarioError> {
    let stray = if w.pod_management_policy.is_some() {
        Some("pod_management_policy")
    } else if w.service_name.is_some() {
        Some("service_name")
    } else if !w.volume_claims.is_empty() {
        Some("volume_claims")
    } else {
        None
    };
    match stray {
        Some(k) => Err(src.error(
            Some(w.name.span()),
            format!("{key}.{k}"),
            "pod_management_policy, service_name and volume_claims are for kind = \"statefulset\"",
        )),
        None => Ok(()),
    }
}

/// A StatefulSet's volume claim templates: at most [`MAX_VOLUME_CLAIMS`],
/// names printable and unique, attach delays valid (or the default).
fn volume_claims(
    src: &Source<'_>,
    w: &WorkloadFile,
    key: &str,
) -> Result<Vec<VolumeClaim>, ScenarioError> {
    if w.volume_claims.len() > MAX_VOLUME_CLAIMS {
        return Err(src.error(
            Some(w.name.span()),
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
    Ok(volume_claims)
}

/// A DNS-1123 label: 1 to 63 characters of `[a-z0-9-]`, starting and
/// ending with a letter or digit.
fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}
