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
    /// Terminating: the OS shuts down; not billed, no longer counted by its
    /// group, but the instance still exists for the EC2 API (and so for the
    /// cloud node lifecycle controller).
    ShuttingDown,
    /// Gone for good: `DescribeInstances` reports it `terminated`.
    Terminated,
}

/// Where an instance of a warm pool stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Warm {
    /// Launching and initializing (billed) before it can wait in the pool.
    Initializing,
    /// Waiting in the pool (not billed while stopped).
    Ready,
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
    /// Index into the scenario's zones.
    pub zone: usize,
    /// Lifecycle state.
    pub state: InstanceState,
    /// When it was requested (billing starts).
    pub launched_at: Millis,
    /// When it reached `running` (it is then InService for the ASG).
    pub running_at: Option<Millis>,
    /// When its kubelet became Ready (the world joined its node).
    pub booted_at: Option<Millis>,
    /// When its termination began: it entered `shutting-down`, billing
    /// stopped and its group stopped counting it.
    pub terminated_at: Option<Millis>,
    /// When it left `shutting-down` and reached `terminated`.
    pub gone_at: Option<Millis>,
    /// Dollars per hour it is billed at (spot pools pay a share of the
    /// on-demand price).
    pub price_per_hour: f64,
    /// A Spot instance (it may be interrupted).
    pub spot: bool,
    /// Protected from scale-in (termination policy, AZ rebalancing and
    /// instance refresh skip it; health replacement and Spot interruptions
    /// do not).
    pub protected: bool,
    /// The launch-template generation it was launched from; an instance
    /// refresh starts a new generation and replaces the older ones.
    pub generation: u32,
    /// It failed its EC2 status checks (impaired) at this time; the ASG's
    /// health check will replace it.
    pub impaired_at: Option<Millis>,
    /// It received a Spot interruption notice at this time.
    pub interrupted_at: Option<Millis>,
    /// Launched by AZ rebalancing: when it is up, the ASG terminates an
    /// instance in the most populated zone.
    pub rebalance: bool,
    /// In the group's warm pool (not in service, no node).
    pub warm: Option<Warm>,
    /// Stopped in a warm pool since then (compute is not billed).
    pub stopped_since: Option<Millis>,
    /// Time spent stopped before `stopped_since`.
    pub stopped_total: Millis,
    /// It still counts towards the group's capacity (false once terminated
    /// or once the group launched its replacement early).
    pub(super) counted: bool,
}

impl Instance {
    /// Pending or running: its termination has not begun.
    pub fn is_live(&self) -> bool {
        matches!(self.state, InstanceState::Pending | InstanceState::Running)
    }

    /// Healthy and ready for at least `warmup`: what an instance refresh
    /// waits for before replacing the next batch.
    pub fn warmed_up(&self, now: Millis, warmup: Millis) -> bool {
        self.is_live()
            && self.impaired_at.is_none()
            && self.booted_at.is_some_and(|b| b + warmup <= now)
    }
}
