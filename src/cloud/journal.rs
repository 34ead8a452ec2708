//! An optional journal of what the cloud did, for `poolsim trace`.
//!
//! Like the cluster's, it is kept only when asked for
//! ([`Cloud::enable_journal`]), holds typed records with ids, and reads no
//! random stream, so a traced run has the same history as an untraced one.

use super::{AsgId, Cloud, InstanceId};

/// Why an instance was terminated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerminationReason {
    /// A fault of the scenario terminated it (at its strike, or spread
    /// over the fault's `over`), or a zone outage took it.
    Fault,
    /// Its Spot interruption notice ran out.
    Spot,
    /// Its group's health check found it impaired.
    Health,
    /// AZ rebalancing: its zone held too many once the new instance was up.
    AzRebalance,
    /// Scale-in: a lower desired capacity, or the cluster autoscaler
    /// removing its node.
    ScaleIn,
    /// An instance refresh replaced it.
    Refresh,
    /// Karpenter deleted its NodeClaim; the text says so and why
    /// (registration timeout, emptiness, consolidation, drift,
    /// expiration, interruption).
    NodeClaimDeleted(&'static str),
}

impl TerminationReason {
    /// How the trace says it.
    pub fn as_str(self) -> &'static str {
        match self {
            TerminationReason::Fault => "fault",
            TerminationReason::Spot => "spot interruption",
            TerminationReason::Health => "health check",
            TerminationReason::AzRebalance => "az rebalance",
            TerminationReason::ScaleIn => "scale-in",
            TerminationReason::Refresh => "instance refresh",
            TerminationReason::NodeClaimDeleted(why) => why,
        }
    }
}

/// One thing that happened to an instance or a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloudRecord {
    /// An ASG launched an instance (`pending`).
    Launched(InstanceId),
    /// The instance is `running`.
    Running(InstanceId),
    /// Its OS and kubelet are up: its node can join.
    Booted(InstanceId),
    /// A fault's Spot interruption notice reached it: it is terminated
    /// when the notice runs out.
    Interrupted(InstanceId),
    /// The instance's termination began (it is `shutting-down`), for this
    /// reason.
    Terminated(InstanceId, TerminationReason),
    /// It left `shutting-down`: it is `terminated` and no longer exists
    /// for the cloud node lifecycle controller.
    Gone(InstanceId),
    /// A launch failed in every zone and type the group allows.
    LaunchFailed(AsgId),
}

impl Cloud {
    /// Starts keeping a journal (see [`Cloud::take_journal`]).
    pub fn enable_journal(&mut self) {
        self.journal.get_or_insert_with(Vec::new);
    }

    /// Moves the records kept since the last call into `into` (which
    /// should be empty); nothing when no journal is kept.
    pub fn take_journal(&mut self, into: &mut Vec<CloudRecord>) {
        if let Some(j) = self.journal.as_mut() {
            std::mem::swap(j, into);
        }
    }

    /// Records `r` if a journal is kept.
    #[inline]
    pub(super) fn note(&mut self, r: CloudRecord) {
        if let Some(j) = self.journal.as_mut() {
            j.push(r);
        }
    }
}
