//! The AWS side: instance types, EC2 instances and their lifecycle, Auto
//! Scaling Groups that keep a desired count, and the faults that take
//! instances away.
//!
//! The cloud knows nothing of Kubernetes. It tells the world when an
//! instance has booted (a node may join) and the world tells Kubernetes when
//! an instance is gone (a node leaves); that is the whole interface.

mod asg;
mod delay;
mod fault;
mod instance;
mod instance_type;

pub use asg::{AsgId, AsgSpec, AutoScalingGroup};
pub use delay::Delay;
pub use fault::Fault;
pub use instance::{Instance, InstanceId, InstanceState};
pub use instance_type::{InstanceType, builtin_instance_types};

use rand_chacha::ChaCha8Rng;

use crate::engine::{Context, Millis, RngStreams, Stream};

/// Events the cloud schedules for itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloudEvent {
    /// The instance left `pending` and is `running`.
    InstanceRunning(InstanceId),
    /// The instance's OS and kubelet are up: its node can join.
    InstanceBooted(InstanceId),
    /// The ASG compares its live instances with its desired count.
    Reconcile(AsgId),
}

/// What the world must act on after a cloud event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloudNotice {
    /// A node for this instance can join the cluster.
    Booted(InstanceId),
}

/// Every ASG and instance of one run.
pub struct Cloud {
    types: Vec<InstanceType>,
    asgs: Vec<AutoScalingGroup>,
    instances: Vec<Instance>,
    /// Delay between an instance's loss and the ASG noticing it.
    replacement_delay: Millis,
    launch_rng: ChaCha8Rng,
    launched: u64,
}

impl Cloud {
    /// A cloud with these instance types and groups, no instances yet.
    pub fn new(
        types: Vec<InstanceType>,
        groups: Vec<AsgSpec>,
        replacement_delay: Millis,
        rng: &RngStreams,
    ) -> Self {
        Cloud {
            types,
            asgs: groups
                .into_iter()
                .enumerate()
                .map(|(i, spec)| AutoScalingGroup::new(AsgId(i as u16), spec))
                .collect(),
            instances: Vec::new(),
            replacement_delay,
            launch_rng: rng.stream(Stream::LaunchDelays),
            launched: 0,
        }
    }

    /// The groups, in the order they were given.
    pub fn asgs(&self) -> &[AutoScalingGroup] {
        &self.asgs
    }

    /// One instance.
    pub fn instance(&self, id: InstanceId) -> &Instance {
        &self.instances[id.index()]
    }

    /// The type of an instance.
    pub fn instance_type_of(&self, id: InstanceId) -> &InstanceType {
        &self.types[self.instance(id).instance_type]
    }

    /// Instances launched by ASGs during the run (the initial fleet excluded).
    pub fn instances_launched(&self) -> u64 {
        self.launched
    }

    /// Creates every group's desired instances as already running and booted,
    /// the steady state a run starts from. Returns them in creation order.
    pub fn start_fleet(&mut self, now: Millis) -> Vec<InstanceId> {
        let mut booted = Vec::new();
        for g in 0..self.asgs.len() {
            for _ in 0..self.asgs[g].desired() {
                let id = self.create_instance(AsgId(g as u16), now);
                self.instances[id.index()].state = InstanceState::Running;
                booted.push(id);
            }
        }
        booted
    }

    /// Handles a cloud event and says what the world must do about it.
    pub fn handle<E: From<CloudEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        event: CloudEvent,
    ) -> Option<CloudNotice> {
        match event {
            CloudEvent::InstanceRunning(id) => {
                let inst = &mut self.instances[id.index()];
                if inst.state != InstanceState::Pending {
                    return None;
                }
                inst.state = InstanceState::Running;
                let boot = self.asgs[inst.asg.index()]
                    .spec()
                    .boot_delay
                    .sample(&mut self.launch_rng);
                ctx.schedule_in(boot, CloudEvent::InstanceBooted(id));
                None
            }
            CloudEvent::InstanceBooted(id) => (self.instances[id.index()].state
                == InstanceState::Running)
                .then_some(CloudNotice::Booted(id)),
            CloudEvent::Reconcile(asg) => {
                self.reconcile(ctx, asg);
                None
            }
        }
    }

    /// Terminates one instance; its ASG will notice and replace it.
    pub fn terminate<E: From<CloudEvent>>(&mut self, ctx: &mut Context<'_, E>, id: InstanceId) {
        let now = ctx.now();
        let inst = &mut self.instances[id.index()];
        if inst.state == InstanceState::Terminated {
            return;
        }
        inst.state = InstanceState::Terminated;
        inst.terminated_at = Some(now);
        let asg = inst.asg;
        let zone = inst.zone;
        self.asgs[asg.index()].instance_gone(zone);
        if !self.asgs[asg.index()].reconcile_pending {
            self.asgs[asg.index()].reconcile_pending = true;
            ctx.schedule_in(self.replacement_delay, CloudEvent::Reconcile(asg));
        }
    }

    /// Every instance that is not terminated, in id order.
    pub fn live_instances(&self) -> Vec<InstanceId> {
        self.instances
            .iter()
            .filter(|i| i.state != InstanceState::Terminated)
            .map(|i| i.id)
            .collect()
    }

    /// Launches what each group lacks of its desired count.
    fn reconcile<E: From<CloudEvent>>(&mut self, ctx: &mut Context<'_, E>, asg: AsgId) {
        self.asgs[asg.index()].reconcile_pending = false;
        let missing = self.asgs[asg.index()].missing();
        for _ in 0..missing {
            let id = self.create_instance(asg, ctx.now());
            self.launched += 1;
            let delay = self.asgs[asg.index()]
                .spec()
                .launch_delay
                .sample(&mut self.launch_rng);
            ctx.schedule_in(delay, CloudEvent::InstanceRunning(id));
        }
    }

    fn create_instance(&mut self, asg: AsgId, now: Millis) -> InstanceId {
        let id = InstanceId(self.instances.len() as u32);
        let group = &mut self.asgs[asg.index()];
        let zone = group.place_instance();
        self.instances.push(Instance {
            id,
            asg,
            instance_type: group.spec().instance_type,
            zone,
            state: InstanceState::Pending,
            launched_at: now,
            terminated_at: None,
        });
        id
    }

    /// Instance-hours billed per group up to `end` (launch to termination).
    pub fn instance_hours_by_asg(&self, end: Millis) -> Vec<f64> {
        let mut hours = vec![0.0; self.asgs.len()];
        for inst in &self.instances {
            let stop = inst.terminated_at.unwrap_or(end).min(end);
            hours[inst.asg.index()] += stop.saturating_sub(inst.launched_at).as_secs_f64() / 3600.0;
        }
        hours
    }

    /// Dollars billed per group up to `end`.
    pub fn cost_by_asg(&self, end: Millis) -> Vec<f64> {
        let mut cost = vec![0.0; self.asgs.len()];
        for inst in &self.instances {
            let stop = inst.terminated_at.unwrap_or(end).min(end);
            let hours = stop.saturating_sub(inst.launched_at).as_secs_f64() / 3600.0;
            cost[inst.asg.index()] += hours * self.types[inst.instance_type].price_per_hour;
        }
        cost
    }
}
