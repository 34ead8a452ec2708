//! One EC2 instance and its lifecycle state.

use crate::engine::Millis;

use super::AsgId;

/// Index of an instance within a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstanceId(pub u32);

impl InstanceId {
    /// Position in the run's instance table.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// The EC2 states poolsim distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceState {
    /// Requested, not yet running; already billed.
    Pending,
    /// Running (the OS may still be booting).
    Running,
    /// Gone for good.
    Terminated,
}

/// An EC2 instance launched by an ASG.
#[derive(Debug, Clone)]
pub struct Instance {
    /// Its id.
    pub id: InstanceId,
    /// The group that launched it.
    pub asg: AsgId,
    /// Index into the run's instance types.
    pub instance_type: usize,
    /// Index into the group's zones.
    pub zone: usize,
    /// Lifecycle state.
    pub state: InstanceState,
    /// When it was requested (billing starts).
    pub launched_at: Millis,
    /// When it was terminated (billing stops).
    pub terminated_at: Option<Millis>,
}
