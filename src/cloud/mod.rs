//! The AWS side: instance types, EC2 instances and their lifecycle, Auto
//! Scaling Groups that keep a desired count, launch failures, and the faults
//! that take instances away.
//!
//! The cloud knows nothing of Kubernetes. After each call it leaves
//! [`CloudNotice`]s for the world: an instance booted (a node may join), an
//! instance was lost (its node's heartbeats stop), a Spot instance got its
//! interruption notice (the world may drain its node). That is the whole
//! interface.
//!
//! Files: `instance_type.rs` (catalogue, allocatable), `instance.rs` (one
//! instance), `delay.rs` (distributions), `asg.rs` (a group's state and the
//! termination policy), `launch.rs` (where a launch lands, or why it fails),
//! `reconcile.rs` (replacement, health checks, AZ rebalancing),
//! `refresh.rs` (instance refresh), `warm.rs` (warm pools), `fault.rs` (the
//! fault library), `fleet.rs` (one instance of a given type, zone and
//! purchase option outside any ASG's count, as Karpenter launches them).

mod asg;
mod fault;
mod fleet;
mod instance;
mod instance_type;
mod journal;
mod launch;
mod reconcile;
mod refresh;
mod warm;

pub use asg::{AsgId, AsgSpec, AutoScalingGroup, WarmPoolSpec};
pub use fault::{Fault, FaultKind, Target, Victims};
pub use fleet::LaunchRefused;
pub use instance::{Instance, InstanceId, InstanceState, Warm};
pub use instance_type::{InstanceType, Reservation, builtin_instance_types};
pub use journal::{CloudRecord, TerminationReason};
pub use launch::{IceWindow, LaunchFailures};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::engine::{Context, Millis, RngStreams, Stream};

/// Cloud-wide settings of a scenario (validated).
#[derive(Debug, Clone)]
pub struct CloudConfig {
    /// Availability zones, by name; instances refer to them by index.
    pub zones: Vec<String>,
    /// From an instance's termination by something other than its ASG to
    /// the ASG noticing and launching a replacement.
    pub replacement_delay: Millis,
    /// What the kubelet reserves on each node.
    pub reservation: Reservation,
    /// Launch failures and capacity shortages.
    pub launch_failures: LaunchFailures,
    /// From an instance failing its EC2 status checks to the ASG marking it
    /// unhealthy. AWS says "a few minutes" (user guide,
    /// ec2-auto-scaling-health-checks); UNCONFIRMED, default 3 min.
    pub impaired_detection: Millis,
    /// How long a terminated instance stays `shutting-down` before it is
    /// `terminated`. AWS documents no typical figure, only that "longer
    /// than a few minutes" is unusual (user guide,
    /// TroubleshootingInstancesShuttingDown); UNCONFIRMED, default 60 s.
    pub shutting_down: Millis,
    /// Spot price as a share of the on-demand price (UNCONFIRMED: Spot
    /// prices move; default 0.35).
    pub spot_price_ratio: f64,
}

impl CloudConfig {
    /// Defaults for these zones.
    pub fn new(zones: Vec<String>) -> Self {
        let n = zones.len();
        CloudConfig {
            zones,
            replacement_delay: Millis::from_secs(10),
            reservation: Reservation::default(),
            launch_failures: LaunchFailures::new(n),
            impaired_detection: Millis::from_mins(3),
            shutting_down: Millis::from_secs(60),
            spot_price_ratio: 0.35,
        }
    }
}

/// Events the cloud schedules for itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloudEvent {
    /// The instance left `pending` and is `running`.
    InstanceRunning(InstanceId),
    /// The instance's OS and kubelet are up: its node can join.
    InstanceBooted(InstanceId),
    /// The ASG compares its live instances with its desired count.
    Reconcile(AsgId),
    /// A fault terminates the instance now (a spread-out termination, or the
    /// end of a Spot interruption notice).
    Terminate(InstanceId),
    /// The instance fails its status checks (an MTBF failure).
    Impair(InstanceId),
    /// The ASG's health check finds the impaired instance unhealthy.
    HealthCheck(InstanceId),
    /// The instance leaves `shutting-down`: it is `terminated`.
    ShutDown(InstanceId),
    /// A zone outage ends (scenario zone index).
    ZoneBack(u16),
    /// An instance refresh checks whether it may replace the next batch.
    RefreshStep(AsgId),
}

/// What the world must act on after a cloud call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloudNotice {
    /// A node for this instance can join the cluster.
    Booted(InstanceId),
    /// The instance stopped answering: it failed its status checks
    /// (impaired) or began shutting down. Its node's heartbeats stop, but
    /// the instance still exists. Comes once per instance.
    Unreachable(InstanceId),
    /// The instance is `terminated`: the cloud provider's
    /// `InstanceExistsByProviderID` now answers false for it.
    Gone(InstanceId),
    /// A Spot interruption notice: the instance dies after the notice.
    Interruption {
        /// The instance.
        instance: InstanceId,
        /// Cordon and drain its node now, as the AWS node termination
        /// handler does.
        drain: bool,
    },
    /// A fault took effect (for the recorder's fault origin).
    Struck,
}

/// Random generators of one fault.
struct FaultRngs {
    /// Strike times (and MTBF lifetimes).
    times: ChaCha8Rng,
    /// Victim choice.
    victims: ChaCha8Rng,
}

/// Every ASG and instance of one run.
pub struct Cloud {
    config: CloudConfig,
    types: Vec<InstanceType>,
    asgs: Vec<AutoScalingGroup>,
    instances: Vec<Instance>,
    launch_rng: ChaCha8Rng,
    launch_failure_rng: ChaCha8Rng,
    faults: Vec<Fault>,
    /// For each fault, the group it targets under this policy: `None` for
    /// every group, `Some(None)` when the named pool does not exist here.
    fault_asg: Vec<Option<Option<AsgId>>>,
    fault_rngs: Vec<FaultRngs>,
    /// Indices of `instance_failures` faults already active.
    active_mtbf: Vec<usize>,
    /// Until when each zone is out (launches fail there).
    zone_down_until: Vec<Millis>,
    notices: Vec<CloudNotice>,
    launched: u64,
    launch_failures: u64,
    scratch_zones: Vec<usize>,
    /// What happened, for `poolsim trace`; `None` unless asked for.
    journal: Option<Vec<CloudRecord>>,
}

impl Cloud {
    /// A cloud with these instance types, groups and faults, no instances
    /// yet.
    ///
    /// Random streams: launch and boot delays come from
    /// [`Stream::LaunchDelays`] as before; launch-failure draws and each
    /// fault's strike times and victims come from generators seeded, in file
    /// order, from [`Stream::Faults`], so they do not depend on the policy's
    /// pool layout (common random numbers).
    pub fn new(
        config: CloudConfig,
        types: Vec<InstanceType>,
        groups: Vec<AsgSpec>,
        faults: Vec<Fault>,
        rng: &RngStreams,
    ) -> Self {
        let mut root = rng.stream(Stream::Faults);
        let launch_failure_rng = ChaCha8Rng::from_rng(&mut root);
        let fault_rngs = faults
            .iter()
            .map(|_| FaultRngs {
                times: ChaCha8Rng::from_rng(&mut root),
                victims: ChaCha8Rng::from_rng(&mut root),
            })
            .collect();
        let asgs: Vec<AutoScalingGroup> = groups
            .into_iter()
            .enumerate()
            .map(|(i, spec)| {
                let zone_ids = spec
                    .zones
                    .iter()
                    .filter_map(|z| config.zones.iter().position(|c| c == z))
                    .collect();
                AutoScalingGroup::new(AsgId(i as u16), spec, zone_ids)
            })
            .collect();
        let fault_asg = faults
            .iter()
            .map(|f| {
                f.target.pool.as_ref().map(|name| {
                    asgs.iter()
                        .position(|g| &g.spec.name == name)
                        .map(|i| AsgId(i as u16))
                })
            })
            .collect();
        let zones = config.zones.len();
        Cloud {
            config,
            types,
            asgs,
            instances: Vec::new(),
            launch_rng: rng.stream(Stream::LaunchDelays),
            launch_failure_rng,
            faults,
            fault_asg,
            fault_rngs,
            active_mtbf: Vec::new(),
            zone_down_until: vec![Millis::ZERO; zones],
            notices: Vec::new(),
            launched: 0,
            launch_failures: 0,
            scratch_zones: Vec::new(),
            journal: None,
        }
    }

    /// The groups, in the order they were given.
    pub fn asgs(&self) -> &[AutoScalingGroup] {
        &self.asgs
    }

    /// Every instance ever launched, by id.
    pub fn instances(&self) -> &[Instance] {
        &self.instances
    }

    /// One instance.
    pub fn instance(&self, id: InstanceId) -> &Instance {
        &self.instances[id.index()]
    }

    /// The type of an instance.
    pub fn instance_type_of(&self, id: InstanceId) -> &InstanceType {
        &self.types[self.instance(id).instance_type]
    }

    /// The capacity a node on this instance offers pods.
    pub fn allocatable_of(&self, id: InstanceId) -> crate::quantity::Resources {
        self.instance_type_of(id)
            .allocatable_with(&self.config.reservation)
    }

    /// The run's instance types, by catalogue index.
    pub fn instance_types(&self) -> &[InstanceType] {
        &self.types
    }

    /// The capacity a node of type `t` offers pods (the scenario's
    /// reservation applied).
    pub fn type_allocatable(&self, t: usize) -> crate::quantity::Resources {
        self.types[t].allocatable_with(&self.config.reservation)
    }

    /// The scenario's zones.
    pub fn zones(&self) -> &[String] {
        &self.config.zones
    }

    /// Instances launched by ASGs during the run (the initial fleet excluded).
    pub fn instances_launched(&self) -> u64 {
        self.launched
    }

    /// Launch attempts that failed in every zone and type the group allows.
    pub fn launch_failures(&self) -> u64 {
        self.launch_failures
    }

    /// The Spot price as a fraction of the on-demand price.
    pub fn spot_price_ratio(&self) -> f64 {
        self.config.spot_price_ratio
    }

    /// Moves the pending notices into `into` (which should be empty), so
    /// the world can act on them without allocating.
    pub fn take_notices(&mut self, into: &mut Vec<CloudNotice>) {
        std::mem::swap(&mut self.notices, into);
    }

    /// Creates every group's desired instances as already running and booted,
    /// the steady state a run starts from. Returns them in creation order.
    pub fn start_fleet(&mut self, now: Millis) -> Vec<InstanceId> {
        let mut booted = Vec::new();
        for g in 0..self.asgs.len() {
            for _ in 0..self.asgs[g].desired() {
                let mut order = std::mem::take(&mut self.scratch_zones);
                self.asgs[g].zones_for_launch(&mut order);
                let zone = self.asgs[g].zone_ids.get(order[0]).copied().unwrap_or(0);
                self.scratch_zones = order;
                let t = self.asgs[g].spec.instance_type;
                let spot = self.asgs[g].spec.spot;
                let id = self.create_instance(AsgId(g as u16), zone, t, now, false, spot);
                let inst = &mut self.instances[id.index()];
                inst.state = InstanceState::Running;
                inst.running_at = Some(now);
                inst.booted_at = Some(now);
                booted.push(id);
            }
            self.start_warm_pool(AsgId(g as u16), now);
        }
        booted
    }

    /// Handles a cloud event; what the world must do is left in the notices.
    pub fn handle<E: From<CloudEvent>>(&mut self, ctx: &mut Context<'_, E>, event: CloudEvent) {
        match event {
            CloudEvent::InstanceRunning(id) => {
                let inst = &mut self.instances[id.index()];
                if inst.state != InstanceState::Pending {
                    return;
                }
                inst.state = InstanceState::Running;
                inst.running_at = Some(ctx.now());
                self.note(CloudRecord::Running(id));
                let inst = &self.instances[id.index()];
                let in_service = inst.warm.is_none();
                let boot = self.asgs[inst.asg.index()]
                    .spec
                    .boot_delay
                    .sample(&mut self.launch_rng);
                ctx.schedule_in(boot, CloudEvent::InstanceBooted(id));
                if in_service {
                    self.arm_mtbf(ctx, id);
                }
            }
            CloudEvent::InstanceBooted(id) => self.booted(ctx, id),
            CloudEvent::Reconcile(asg) => self.reconcile(ctx, asg),
            CloudEvent::Terminate(id) => {
                // A spread-out fault's victim, or the end of a Spot notice.
                let why = if self.instances[id.index()].interrupted_at.is_some() {
                    TerminationReason::Spot
                } else {
                    TerminationReason::Fault
                };
                self.terminate_instance(ctx, id, self.config.replacement_delay, why)
            }
            CloudEvent::Impair(id) => self.impair(ctx, id),
            CloudEvent::HealthCheck(id) => {
                // No ASG health check watches a fleet instance (Karpenter's
                // node repair is off by default): it stays impaired.
                let inst = &self.instances[id.index()];
                if self.asgs[inst.asg.index()].fleet.contains(id) {
                    return;
                }
                // The ASG terminates what it found unhealthy and launches the
                // replacement itself, at once ("terminate first, then
                // launch": user guide, ec2-auto-scaling-health-checks).
                self.terminate_instance(ctx, id, Millis::ZERO, TerminationReason::Health)
            }
            CloudEvent::ShutDown(id) => self.shut_down(id, ctx.now()),
            CloudEvent::ZoneBack(z) => self.zone_back(ctx, usize::from(z)),
            CloudEvent::RefreshStep(asg) => self.refresh_step(ctx, asg),
        }
    }

    /// Terminates one instance from outside its ASG; the ASG notices after
    /// the replacement delay and replaces it.
    pub fn terminate<E: From<CloudEvent>>(&mut self, ctx: &mut Context<'_, E>, id: InstanceId) {
        self.terminate_instance(
            ctx,
            id,
            self.config.replacement_delay,
            TerminationReason::Fault,
        );
    }

    /// Terminates an instance for reason `why`: it is `shutting-down` (not
    /// billed, not counted) until `shutting_down` has passed; its group
    /// reconciles
    /// `reconcile_in` later.
    fn terminate_instance<E: From<CloudEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        id: InstanceId,
        reconcile_in: Millis,
        why: TerminationReason,
    ) {
        let now = ctx.now();
        let inst = &mut self.instances[id.index()];
        if !inst.is_live() {
            return;
        }
        inst.state = InstanceState::ShuttingDown;
        inst.terminated_at = Some(now);
        // An impaired instance stopped answering already.
        let unreachable_before = inst.impaired_at.is_some();
        let (asg, zone, counted) = (inst.asg, inst.zone, inst.counted);
        if counted {
            inst.counted = false;
            self.asgs[asg.index()].uncount(id, zone);
        }
        self.asgs[asg.index()].leaving.remove(id);
        self.asgs[asg.index()].fleet.remove(id);
        let inst = &mut self.instances[id.index()];
        if inst.warm.take().is_some() {
            let warm = &mut self.asgs[asg.index()].warm;
            if let Some(pos) = warm.iter().position(|&w| w == id) {
                warm.remove(pos);
            }
        }
        let inst = &mut self.instances[id.index()];
        if inst.rebalance && inst.booted_at.is_none() {
            inst.rebalance = false;
            let g = &mut self.asgs[asg.index()];
            g.rebalancing = g.rebalancing.saturating_sub(1);
        }
        if !unreachable_before {
            self.notices.push(CloudNotice::Unreachable(id));
        }
        self.note(CloudRecord::Terminated(id, why));
        ctx.schedule_in(self.config.shutting_down, CloudEvent::ShutDown(id));
        self.request_reconcile(ctx, asg, reconcile_in);
    }

    /// The instance leaves `shutting-down`: it no longer exists.
    fn shut_down(&mut self, id: InstanceId, now: Millis) {
        let inst = &mut self.instances[id.index()];
        if inst.state != InstanceState::ShuttingDown {
            return;
        }
        inst.state = InstanceState::Terminated;
        inst.gone_at = Some(now);
        self.notices.push(CloudNotice::Gone(id));
        self.note(CloudRecord::Gone(id));
    }

    /// Schedules a reconcile of `asg` unless one is already pending.
    fn request_reconcile<E: From<CloudEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        asg: AsgId,
        delay: Millis,
    ) {
        let g = &mut self.asgs[asg.index()];
        if !g.reconcile_pending {
            g.reconcile_pending = true;
            ctx.schedule_in(delay, CloudEvent::Reconcile(asg));
        }
    }

    /// Every instance that is not terminated, in id order.
    pub fn live_instances(&self) -> Vec<InstanceId> {
        self.instances
            .iter()
            .filter(|i| i.is_live())
            .map(|i| i.id)
            .collect()
    }

    fn create_instance(
        &mut self,
        asg: AsgId,
        zone: usize,
        instance_type: usize,
        now: Millis,
        warm: bool,
        spot: bool,
    ) -> InstanceId {
        let id = InstanceId(self.instances.len() as u32);
        let group = &mut self.asgs[asg.index()];
        if warm {
            group.warm.push(id);
        } else {
            group.count(id, zone);
        }
        let on_demand = self.types[instance_type].price_per_hour;
        self.instances.push(Instance {
            id,
            asg,
            instance_type,
            zone,
            state: InstanceState::Pending,
            launched_at: now,
            running_at: None,
            booted_at: None,
            terminated_at: None,
            gone_at: None,
            price_per_hour: if spot {
                on_demand * self.config.spot_price_ratio
            } else {
                on_demand
            },
            spot,
            protected: group.spec.protect_from_scale_in,
            generation: group.generation,
            impaired_at: None,
            interrupted_at: None,
            rebalance: false,
            warm: warm.then_some(Warm::Initializing),
            stopped_since: None,
            stopped_total: Millis::ZERO,
            counted: !warm,
        });
        id
    }

    /// Instance-hours billed per group up to `end` (launch to termination).
    pub fn instance_hours_by_asg(&self, end: Millis) -> Vec<f64> {
        let mut hours = vec![0.0; self.asgs.len()];
        for inst in &self.instances {
            hours[inst.asg.index()] += billed_hours(inst, end);
        }
        hours
    }

    /// Dollars billed per group up to `end`: per-second billing from launch
    /// request to termination at the instance's hourly price.
    pub fn cost_by_asg(&self, end: Millis) -> Vec<f64> {
        let mut cost = vec![0.0; self.asgs.len()];
        for inst in &self.instances {
            cost[inst.asg.index()] += billed_hours(inst, end) * inst.price_per_hour;
        }
        cost
    }
}

/// Per-second billing from launch to termination, less time spent stopped
/// in a warm pool (EBS storage is not counted).
fn billed_hours(inst: &Instance, end: Millis) -> f64 {
    let stop = inst.terminated_at.unwrap_or(end).min(end);
    let stopped = inst.stopped_total
        + inst
            .stopped_since
            .map_or(Millis::ZERO, |s| stop.saturating_sub(s));
    stop.saturating_sub(inst.launched_at)
        .saturating_sub(stopped)
        .as_secs_f64()
        / 3600.0
}
