//! Kubernetes minor versions and the defaults of theirs that poolsim
//! models: the scheduler's feature gates, the node-monitor grace period and
//! the cluster autoscaler's default expander (sources in
//! `docs/fidelity.md`, "Scheduler queue").

use std::fmt;

use crate::engine::Millis;

use super::autoscaler::Expander;

/// A Kubernetes minor release, 1.31 to 1.35.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KubeVersion {
    minor: u8,
}

/// The feature gates poolsim models and what each version says of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureGate {
    /// `SchedulerQueueingHints`: beta off from 1.28, on from 1.32, GA and
    /// locked on from 1.34.
    SchedulerQueueingHints,
    /// `SchedulerPopFromBackoffQ` (KEP-5142): beta on from 1.33.
    SchedulerPopFromBackoffQ,
}

/// Why a feature gate cannot be set as asked under a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateError {
    /// The gate does not exist yet in that version.
    Unknown {
        /// The version asked for.
        version: KubeVersion,
        /// The first version with the gate.
        since: KubeVersion,
    },
    /// The gate is GA and locked to its default.
    Locked {
        /// The version asked for.
        version: KubeVersion,
        /// The only value it accepts.
        value: bool,
    },
}

impl fmt::Display for GateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GateError::Unknown { version, since } => write!(
                f,
                "Kubernetes {version} has no such feature gate (it exists from {since})"
            ),
            GateError::Locked { version, value } => write!(
                f,
                "the gate is GA in Kubernetes {version} and locked to {value}"
            ),
        }
    }
}

impl FeatureGate {
    /// Its name, as `--feature-gates` and the scenario file write it.
    pub fn name(self) -> &'static str {
        match self {
            FeatureGate::SchedulerQueueingHints => "SchedulerQueueingHints",
            FeatureGate::SchedulerPopFromBackoffQ => "SchedulerPopFromBackoffQ",
        }
    }

    /// The first version that has the gate (among those modelled).
    fn since(self) -> KubeVersion {
        match self {
            // Introduced in 1.28, before the oldest version modelled.
            FeatureGate::SchedulerQueueingHints => KubeVersion::OLDEST,
            FeatureGate::SchedulerPopFromBackoffQ => KubeVersion { minor: 33 },
        }
    }

    /// Its default under `v` (`pkg/features/kube_features.go`).
    pub fn default_in(self, v: KubeVersion) -> bool {
        match self {
            FeatureGate::SchedulerQueueingHints => v.minor >= 32,
            FeatureGate::SchedulerPopFromBackoffQ => v.minor >= 33,
        }
    }

    /// The value under `v` when an operator sets it to `wanted`, or why
    /// that is refused (`kube-scheduler --feature-gates` refuses an
    /// unknown gate and a locked one set against its default).
    pub fn set_in(self, v: KubeVersion, wanted: bool) -> Result<bool, GateError> {
        if v < self.since() {
            return Err(GateError::Unknown {
                version: v,
                since: self.since(),
            });
        }
        let locked = self == FeatureGate::SchedulerQueueingHints && v.minor >= 34;
        if locked && !wanted {
            return Err(GateError::Locked {
                version: v,
                value: true,
            });
        }
        Ok(wanted)
    }
}

impl KubeVersion {
    /// The oldest version modelled.
    pub const OLDEST: KubeVersion = KubeVersion { minor: 31 };
    /// The newest version modelled, the default.
    pub const NEWEST: KubeVersion = KubeVersion { minor: 35 };

    /// Parses `"1.31"` .. `"1.35"`; `None` for anything else.
    pub fn parse(text: &str) -> Option<KubeVersion> {
        let minor: u8 = text.trim().strip_prefix("1.")?.parse().ok()?;
        let v = KubeVersion { minor };
        (Self::OLDEST..=Self::NEWEST).contains(&v).then_some(v)
    }

    /// Its minor number.
    pub fn minor(self) -> u8 {
        self.minor
    }

    /// kube-controller-manager's `--node-monitor-grace-period` default:
    /// 40 s up to 1.31, 50 s from 1.32 (kubernetes/kubernetes#126287).
    pub fn node_monitor_grace_period(self) -> Millis {
        if self.minor >= 32 {
            Millis::from_secs(50)
        } else {
            Millis::from_secs(40)
        }
    }

    /// The cluster autoscaler release of the same minor: its default
    /// `--expander` is `random` up to 1.32 and `least-waste` from 1.33
    /// (kubernetes/autoscaler#7631).
    pub fn default_expander(self) -> Expander {
        if self.minor >= 33 {
            Expander::LeastWaste
        } else {
            Expander::Random
        }
    }
}

impl Default for KubeVersion {
    fn default() -> Self {
        KubeVersion::NEWEST
    }
}

impl fmt::Display for KubeVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "1.{}", self.minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_gates() {
        assert_eq!(KubeVersion::parse("1.31").map(|v| v.minor()), Some(31));
        assert_eq!(KubeVersion::parse("1.30"), None);
        assert_eq!(KubeVersion::parse("1.36"), None);
        assert_eq!(KubeVersion::parse("2.31"), None);
        let v = |m| KubeVersion { minor: m };
        let qh = FeatureGate::SchedulerQueueingHints;
        let pop = FeatureGate::SchedulerPopFromBackoffQ;
        assert!(!qh.default_in(v(31)) && qh.default_in(v(32)));
        assert!(!pop.default_in(v(32)) && pop.default_in(v(33)));
        assert_eq!(qh.set_in(v(31), true), Ok(true));
        assert!(qh.set_in(v(34), false).is_err());
        assert!(pop.set_in(v(32), true).is_err());
        assert_eq!(pop.set_in(v(35), false), Ok(false));
        assert_eq!(v(31).node_monitor_grace_period(), Millis::from_secs(40));
        assert_eq!(v(32).node_monitor_grace_period(), Millis::from_secs(50));
    }
}
