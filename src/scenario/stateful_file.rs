//! StatefulSet keys as written (serde): `pod_management_policy` and
//! `volume_claims`; validated in `stateful_checks.rs`.

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::file::DelayFile;

/// `podManagementPolicy` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum PodManagementPolicyFile {
    /// One ordinal at a time, in order (the default).
    OrderedReady,
    /// Every ordinal at once.
    Parallel,
}

/// One `volumeClaimTemplates` entry: a zonal (EBS) volume per ordinal,
/// bound with `WaitForFirstConsumer`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeClaimFile {
    /// The template's name, unique within the workload.
    pub name: Spanned<String>,
    /// From binding to the volume attached (default fixed 10 s).
    pub attach_delay: Option<DelayFile>,
}
