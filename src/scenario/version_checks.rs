//! `kubernetes.version` and `[kubernetes.feature_gates]`: the version's
//! defaults ([`KubeVersion`]) and the gates an operator sets against them,
//! refused where that version's kube-scheduler would refuse them.

use crate::kube::{FeatureGate, KubeVersion};

use super::ScenarioError;
use super::file::KubernetesFile;
use super::validate::Source;

/// The version and the scheduler's gates as they apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct VersionSettings {
    /// The version.
    pub version: KubeVersion,
    /// `SchedulerQueueingHints`.
    pub queueing_hints: bool,
    /// `SchedulerPopFromBackoffQ`.
    pub pop_from_backoff: bool,
}

/// Reads and checks the version and the gates.
pub(super) fn version_settings(
    src: &Source<'_>,
    k: &KubernetesFile,
) -> Result<VersionSettings, ScenarioError> {
    let version = match &k.version {
        None => KubeVersion::NEWEST,
        Some(v) => KubeVersion::parse(v.get_ref()).ok_or_else(|| {
            src.error(
                Some(v.span()),
                "kubernetes.version",
                format!(
                    "`{}` is not a version poolsim models: expected \"{}\" to \"{}\" (a string)",
                    v.get_ref(),
                    KubeVersion::OLDEST,
                    KubeVersion::NEWEST
                ),
            )
        })?,
    };
    let gates = &k.feature_gates;
    let gate = |g: FeatureGate, set: &Option<toml::Spanned<bool>>| match set {
        None => Ok(g.default_in(version)),
        Some(b) => g.set_in(version, *b.get_ref()).map_err(|e| {
            src.error(
                Some(b.span()),
                format!("kubernetes.feature_gates.{}", g.name()),
                e.to_string(),
            )
        }),
    };
    Ok(VersionSettings {
        version,
        queueing_hints: gate(
            FeatureGate::SchedulerQueueingHints,
            &gates.scheduler_queueing_hints,
        )?,
        pop_from_backoff: gate(
            FeatureGate::SchedulerPopFromBackoffQ,
            &gates.scheduler_pop_from_backoff_q,
        )?,
    })
}
