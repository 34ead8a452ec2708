//! A workload's containers as written (serde): `containers`,
//! `init_containers` and `overhead`; validated into one effective request
//! in `requests.rs`.

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::units::{CpuText, MemoryText};

/// One container of a pod: `{ name, cpu, memory, gpu }`, and for an init
/// container `restart_policy = "Always"` (a sidecar).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerFile {
    /// Name, unique among the pod's containers and init containers.
    pub name: Spanned<String>,
    /// cpu request (default 0).
    pub cpu: Option<CpuText>,
    /// memory request (default 0).
    pub memory: Option<MemoryText>,
    /// `nvidia.com/gpu` request (default 0).
    pub gpu: Option<Spanned<u32>>,
    /// Init containers only: `Always` makes it a sidecar, which keeps
    /// running beside the app containers (Kubernetes 1.29+).
    pub restart_policy: Option<Spanned<RestartPolicyFile>>,
}

/// A container's `restartPolicy`: only `Always` is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum RestartPolicyFile {
    /// A sidecar init container.
    Always,
}

/// The RuntimeClass `overhead` a pod carries, added to its requests.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OverheadFile {
    /// cpu (default 0).
    pub cpu: Option<CpuText>,
    /// memory (default 0).
    pub memory: Option<MemoryText>,
}
