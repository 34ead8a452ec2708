//! The world of one run and its event dispatch.

use crate::cloud::{Cloud, CloudEvent, CloudNotice, InstanceId};
use crate::engine::{Context, Millis, Model, RngStreams, RunLimits, Simulation, Stop};
use crate::karpenter::{Karpenter, KarpenterEvent};
use crate::kube::autoscaler::{Action, Autoscaler, GroupSnapshot};
use crate::kube::{Cluster, ClusterStatus, KubeEvent, NodeId, NodeSpec, PoolId};
use crate::metrics::{Gauges, RunRecorder, RunRow, RunStatus, TimeSeries};
use crate::scenario::Scenario;

use super::trace::Journal;

/// Every event of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// For the cloud.
    Cloud(CloudEvent),
    /// For Kubernetes.
    Kube(KubeEvent),
    /// The scenario's fault with this index strikes.
    Fault(u16),
    /// The cluster autoscaler's periodic scan.
    Autoscale,
    /// For Karpenter.
    Karpenter(KarpenterEvent),
}

impl From<KarpenterEvent> for Event {
    fn from(e: KarpenterEvent) -> Self {
        Event::Karpenter(e)
    }
}

impl From<CloudEvent> for Event {
    fn from(e: CloudEvent) -> Self {
        Event::Cloud(e)
    }
}

impl From<KubeEvent> for Event {
    fn from(e: KubeEvent) -> Self {
        Event::Kube(e)
    }
}

/// The cloud, the cluster, and what connects them.
pub struct World {
    /// The AWS side.
    pub cloud: Cloud,
    /// The Kubernetes side.
    pub cluster: Cluster,
    /// The node of each instance, once it has joined.
    node_of: Vec<Option<NodeId>>,
    cloud_pools: usize,
    /// Reused buffer for the cloud's notices.
    notices: Vec<CloudNotice>,
    /// Zone names, by the index nodes carry.
    zone_names: Vec<String>,
    /// The run's recorder.
    pub recorder: RunRecorder,
    /// The sampled time series, when asked for.
    pub timeseries: Option<TimeSeries>,
    /// The cluster autoscaler, if the policy runs one.
    pub autoscaler: Option<Autoscaler>,
    /// Karpenter, if the policy has NodePools.
    pub karpenter: Option<Karpenter>,
    /// The most instances counted by the groups at once.
    pub max_nodes: u32,
    /// Reused buffers for autoscaler scans.
    snapshots: Vec<GroupSnapshot>,
    actions: Vec<Action>,
    /// The event log of `poolsim trace`, when asked for.
    pub(super) journal: Option<Journal>,
}

impl World {
    /// Builds the world of `scenario` under its policy `policy` for `seed`,
    /// and schedules its start: the fleet up, system pods then user pods
    /// created, and the faults.
    pub fn new(scenario: &Scenario, policy: usize, seed: u64) -> (World, Simulation<Event>) {
        Self::build(scenario, policy, seed, None)
    }

    /// [`World::new`], keeping `journal` (an event log) from the start when
    /// given.
    pub(super) fn build(
        scenario: &Scenario,
        policy: usize,
        seed: u64,
        journal: Option<Journal>,
    ) -> (World, Simulation<Event>) {
        let rng = RngStreams::new(seed);
        let p = &scenario.policies[policy];
        let cloud = Cloud::new(
            scenario.cloud.clone(),
            scenario.instance_types.clone(),
            p.pools.clone(),
            scenario.faults.clone(),
            &rng,
        );
        let cluster = Cluster::new(
            scenario.kube.clone(),
            scenario.workloads_under(p),
            &p.pool_info(),
            &rng,
        );
        let mut world = World {
            cloud,
            cluster,
            node_of: Vec::new(),
            cloud_pools: p.pools.len(),
            notices: Vec::new(),
            zone_names: Vec::new(),
            recorder: RunRecorder::new(),
            timeseries: None,
            autoscaler: p
                .autoscaler
                .clone()
                .map(|c| Autoscaler::new(c, p.pools.len(), &rng)),
            karpenter: p.karpenter.clone().map(Karpenter::new),
            max_nodes: 0,
            snapshots: Vec::new(),
            actions: Vec::new(),
            journal,
        };
        if world.journal.is_some() {
            world.cloud.enable_journal();
            world.cluster.enable_journal();
        }
        let mut sim = Simulation::new();
        sim.with_context(|ctx| {
            for id in world.cloud.start_fleet(ctx.now()) {
                world.join(ctx, id);
            }
            world.cluster.create_initial_pods(ctx);
            for i in 0..scenario.faults.len() {
                if let Some(at) = world.cloud.first_strike(i) {
                    ctx.schedule_at(at, Event::Fault(i as u16));
                }
            }
            if let Some(ca) = &world.autoscaler {
                ctx.schedule_in(ca.config().scan_interval, Event::Autoscale);
            }
            if let Some(k) = &mut world.karpenter {
                k.start(ctx, &mut world.cluster);
            }
        });
        world.count_nodes();
        world
            .recorder
            .observe(Millis::ZERO, gauges(world.cluster.status()));
        world.note_journal(Millis::ZERO, None);
        (world, sim)
    }

    fn join(&mut self, ctx: &mut Context<'_, Event>, id: InstanceId) {
        let inst = self.cloud.instance(id);
        let itype = self.cloud.instance_type_of(id);
        let spec = NodeSpec {
            pool: PoolId(inst.asg.0),
            provider_id: u64::from(id.0),
            allocatable: self.cloud.allocatable_of(id),
            max_pods: itype.max_pods,
            zone: self.zone_index(id),
        };
        let node = self.cluster.node_join(ctx, spec);
        if self.node_of.len() <= id.index() {
            self.node_of.resize(id.index() + 1, None);
        }
        self.node_of[id.index()] = Some(node);
        if let Some(k) = &mut self.karpenter {
            k.node_joined(id, node, ctx.now());
        }
    }

    /// A small integer per zone name, assigned as zones are first seen.
    fn zone_index(&mut self, id: InstanceId) -> u16 {
        let inst = self.cloud.instance(id);
        let name = &self.cloud.asgs()[inst.asg.index()].spec().zones[inst.zone];
        match self.zone_names.iter().position(|z| z == name) {
            Some(i) => i as u16,
            None => {
                self.zone_names.push(name.clone());
                (self.zone_names.len() - 1) as u16
            }
        }
    }

    /// Sets the desired capacity of pool `asg` now (a scaling action);
    /// returns the capacity after clamping to [min, max].
    pub fn set_desired(&mut self, ctx: &mut Context<'_, Event>, asg: u16, desired: u32) -> u32 {
        let d = self
            .cloud
            .set_desired(ctx, crate::cloud::AsgId(asg), desired);
        self.apply_notices(ctx);
        d
    }

    /// One autoscaler scan: snapshots of the groups from the cloud, the
    /// autoscaler's decisions applied through the cloud and the cluster,
    /// and the next scan scheduled.
    fn autoscale(&mut self, ctx: &mut Context<'_, Event>) {
        let Some(mut ca) = self.autoscaler.take() else {
            return;
        };
        let mut snapshots = std::mem::take(&mut self.snapshots);
        snapshots.clear();
        for g in self.cloud.asgs() {
            // Karpenter's NodePools are not node groups.
            if self
                .karpenter
                .as_ref()
                .is_some_and(|k| k.config().nodepool_of(PoolId(g.id().0)).is_some())
            {
                continue;
            }
            let spec = g.spec();
            let registered = g
                .members()
                .filter(|&id| {
                    self.node(id)
                        .is_some_and(|n| self.cluster.nodes()[n.index()].is_registered())
                })
                .count() as u32;
            let (allocatable, max_pods) = self.cloud.template_of(g.id());
            let capacity = self.cloud.capacity_of(g.id());
            snapshots.push(GroupSnapshot {
                pool: PoolId(g.id().0),
                min: spec.min,
                max: spec.max,
                target: g.desired(),
                instances: g.live(),
                registered,
                allocatable,
                capacity,
                max_pods,
                launch_failing: g.launch_failing(),
            });
        }
        let mut actions = std::mem::take(&mut self.actions);
        ca.scan(ctx.now(), &snapshots, &self.cluster, &mut actions);
        for a in actions.drain(..) {
            match a {
                Action::SetTarget { pool, target } => {
                    self.set_desired(ctx, pool.0, target);
                }
                Action::RemoveUnregistered(pool) => {
                    let stale: Vec<InstanceId> = self.cloud.asgs()[pool.index()]
                        .members()
                        .filter(|&id| {
                            !self
                                .node(id)
                                .is_some_and(|n| self.cluster.nodes()[n.index()].is_registered())
                        })
                        .collect();
                    for id in stale {
                        self.cloud.terminate_and_decrement(ctx, id);
                    }
                    self.apply_notices(ctx);
                }
                Action::Drain(node) => self.cluster.drain(ctx, node),
                Action::Uncordon(node) => self.cluster.uncordon(ctx, node),
                Action::Delete(node) => {
                    let id = InstanceId(self.cluster.nodes()[node.index()].spec.provider_id as u32);
                    self.cloud.terminate_and_decrement(ctx, id);
                    self.apply_notices(ctx);
                }
            }
        }
        ctx.schedule_in(ca.config().scan_interval, Event::Autoscale);
        self.autoscaler = Some(ca);
        self.snapshots = snapshots;
        self.actions = actions;
    }

    /// Keeps the peak of instances counted by the groups.
    fn count_nodes(&mut self) {
        let n: u32 = self
            .cloud
            .asgs()
            .iter()
            .map(|g| g.live() + g.fleet_len() as u32)
            .sum();
        self.max_nodes = self.max_nodes.max(n);
    }

    /// Records time-series samples up to `now` from the current state.
    fn sample(&mut self, now: Millis, inclusive: bool) {
        let Some(ts) = self.timeseries.as_mut() else {
            return;
        };
        // Counting costs a pass over the nodes, but only once per grid time
        // crossed, not per event.
        let mut ready = vec![0u32; self.cloud_pools];
        for n in self.cluster.nodes() {
            if n.is_ready()
                && n.deleted_at.is_none()
                && let Some(c) = ready.get_mut(n.spec.pool.index())
            {
                *c += 1;
            }
        }
        ts.catch_up(now, inclusive, &ready, &self.recorder.gauges());
    }

    /// Acts on what the cloud reported: nodes join, nodes stop answering,
    /// their machines cease to exist, interrupted nodes are drained, faults
    /// mark the origin.
    fn apply_notices(&mut self, ctx: &mut Context<'_, Event>) {
        let mut notices = std::mem::take(&mut self.notices);
        // Karpenter may terminate an instance while a notice is handled:
        // its notices follow in the next round.
        loop {
            self.cloud.take_notices(&mut notices);
            if notices.is_empty() {
                break;
            }
            self.apply_round(ctx, &mut notices);
        }
        self.notices = notices;
    }

    fn apply_round(&mut self, ctx: &mut Context<'_, Event>, notices: &mut Vec<CloudNotice>) {
        for n in notices.drain(..) {
            match n {
                CloudNotice::Booted(id) => self.join(ctx, id),
                CloudNotice::Unreachable(id) => {
                    if let Some(node) = self.node(id) {
                        self.cluster.instance_unreachable(ctx, node);
                    }
                }
                CloudNotice::Gone(id) => {
                    if let Some(node) = self.node(id) {
                        self.cluster.instance_gone(ctx, node);
                    }
                }
                CloudNotice::Interruption { instance, drain } => {
                    let karpenter = self.karpenter.as_mut().is_some_and(|k| {
                        k.interrupted(ctx, instance, &mut self.cloud, &mut self.cluster)
                    });
                    if let (true, false, Some(node)) = (drain, karpenter, self.node(instance)) {
                        self.cluster.drain(ctx, node);
                    }
                }
                CloudNotice::Struck => self.recorder.fault(ctx.now()),
            }
        }
    }

    /// The zone name of a node's zone index.
    pub fn zone_name(&self, zone: u16) -> &str {
        self.zone_names
            .get(usize::from(zone))
            .map_or("?", String::as_str)
    }

    /// The node an instance joined as, if it did.
    pub fn node_of(&self, id: InstanceId) -> Option<NodeId> {
        self.node(id)
    }

    fn node(&self, id: InstanceId) -> Option<NodeId> {
        self.node_of.get(id.index()).copied().flatten()
    }
}

impl Model for World {
    type Event = Event;

    fn handle(&mut self, ctx: &mut Context<'_, Event>, event: Event) {
        // Sample before the event changes anything: grid times before now
        // saw the state the previous event left.
        if self
            .timeseries
            .as_ref()
            .is_some_and(|ts| ts.due_before(ctx.now()))
        {
            self.sample(ctx.now(), false);
        }
        let fault = match event {
            Event::Fault(i) => Some(i),
            _ => None,
        };
        match event {
            Event::Cloud(e) => {
                self.cloud.handle(ctx, e);
                self.apply_notices(ctx);
            }
            Event::Kube(e) => {
                // Nothing below looks at a futile attempt but Karpenter
                // (the failures it counts), the journal and the samples.
                let in_place =
                    self.karpenter.is_none() && self.journal.is_none() && self.timeseries.is_none();
                self.cluster.set_attempts_in_place(in_place);
                self.cluster.handle(ctx, e)
            }
            Event::Fault(i) => {
                if let Some(next) = self.cloud.strike(ctx, usize::from(i)) {
                    ctx.schedule_at(next, Event::Fault(i));
                }
                self.apply_notices(ctx);
            }
            Event::Autoscale => self.autoscale(ctx),
            Event::Karpenter(e) => {
                if let Some(k) = &mut self.karpenter {
                    k.handle(ctx, e, &mut self.cloud, &mut self.cluster);
                }
                self.apply_notices(ctx);
            }
        }
        if let Some(k) = &mut self.karpenter {
            k.observe(ctx, &mut self.cluster);
        }
        if !matches!(event, Event::Kube(_)) {
            self.count_nodes();
        }
        self.recorder
            .observe(ctx.now(), gauges(self.cluster.status()));
        if self.journal.is_some() {
            self.note_journal(ctx.now(), fault);
        }
    }

    fn exhausted(&self) -> Option<String> {
        if self.cluster.pod_limit_reached() {
            return Some(format!(
                "the run created {} pods, the most one run may create (pods of every kind, with recreations and Job pods)",
                crate::kube::MAX_PODS_CREATED
            ));
        }
        if self.cloud.instances_launched() >= MAX_INSTANCES_LAUNCHED {
            return Some(format!(
                "the run launched {} instances, the most one run may launch",
                self.cloud.instances_launched()
            ));
        }
        None
    }
}

/// The most instances one run may launch (with every replacement): each
/// is remembered for billing, so this bounds the memory of a run's
/// machines.
pub const MAX_INSTANCES_LAUNCHED: u64 = 2_000_000;

fn gauges(s: ClusterStatus) -> Gauges {
    Gauges {
        ready_nodes: s.ready_nodes,
        pending_system: s.pending_system,
        pending_user: s.pending_user,
        progressing_user: s.progressing_user,
        progressing_user_mcpu: s.progressing_user_mcpu,
        wanted_user_mcpu: s.wanted_user_mcpu,
        stalled: s.stalled,
        unready: s.unready,
        system_services_down: s.system_services_down,
        progress_steps: s.progress_steps,
    }
}

/// Runs one policy of a scenario with one seed to the horizon, within the
/// default [`RunLimits`] (a run that exceeds them gives a failed row).
pub fn run_one(scenario: &Scenario, policy: usize, seed: u64) -> RunRow {
    run_sampled(scenario, policy, seed, None).0
}

/// Runs one policy of a scenario with one seed to the horizon, sampling a
/// time series every `step` when given. Sampling adds no events, so the row
/// is the same as [`run_one`]'s. Within the default [`RunLimits`].
pub fn run_sampled(
    scenario: &Scenario,
    policy: usize,
    seed: u64,
    step: Option<Millis>,
) -> (RunRow, Option<TimeSeries>) {
    match run_limited(scenario, policy, seed, step, &RunLimits::default()) {
        Ok(done) => done,
        Err(stop) => (stopped_row(scenario, policy, seed, &stop), None),
    }
}

/// [`run_sampled`] within `limits`: the run's row and series, or why it
/// stopped short of the horizon (see [`stopped_row`] for the row a sweep
/// writes then).
pub fn run_limited(
    scenario: &Scenario,
    policy: usize,
    seed: u64,
    step: Option<Millis>,
    limits: &RunLimits<'_>,
) -> Result<(RunRow, Option<TimeSeries>), Stop> {
    let (mut world, mut sim) = World::new(scenario, policy, seed);
    world.timeseries = step.map(TimeSeries::new);
    sim.run_limited(&mut world, scenario.horizon, limits)?;
    world.sample(scenario.horizon, true);
    let row = finish(scenario, policy, seed, &world, &sim);
    Ok((row, world.timeseries))
}

/// The `failed` row of a run that stopped short of its horizon, its
/// `error` saying why.
pub fn stopped_row(scenario: &Scenario, policy: usize, seed: u64, stop: &Stop) -> RunRow {
    RunRow::failed(&scenario.policies[policy].name, seed, stop.to_string())
}

/// The row of a run that reached the horizon. Shared by every way of
/// running, so a traced run's row is computed exactly like a sweep's.
pub(super) fn finish(
    scenario: &Scenario,
    policy: usize,
    seed: u64,
    world: &World,
    sim: &Simulation<Event>,
) -> RunRow {
    let horizon = scenario.horizon;
    let stuck = world.recorder.stuck(horizon, scenario.detection_window);
    let stall_cause = if stuck {
        world.cluster.stall_cause().map(|c| {
            use crate::kube::StallCause::{NoEligibleNode, NoRoomInPool};
            // Kubernetes sees no room; the cloud knows whether that is
            // because a pool could not reach its desired size.
            let short = world.cloud.asgs().iter().any(|g| g.live() < g.desired());
            if matches!(c, NoEligibleNode | NoRoomInPool) && short {
                "launches-failing".to_string()
            } else {
                c.as_str().to_string()
            }
        })
    } else {
        None
    };
    let hours: f64 = world.cloud.instance_hours_by_asg(horizon).iter().sum();
    let by_pool = world.cloud.cost_by_asg(horizon);
    let cost: f64 = by_pool.iter().sum();
    let cost_by_pool = world
        .cloud
        .asgs()
        .iter()
        .zip(by_pool)
        .map(|(g, c)| (g.spec().name.clone(), c))
        .collect();
    RunRow {
        policy: scenario.policies[policy].name.clone(),
        seed,
        status: RunStatus::Ok,
        outcome: world
            .recorder
            .clone()
            .finish(horizon, scenario.detection_window),
        preemptions: world.cluster.status().preemptions,
        scale_ups: world.autoscaler.as_ref().map_or(0, |a| a.scale_ups),
        scale_downs: world.autoscaler.as_ref().map_or(0, |a| a.scale_downs),
        nodeclaims_launched: world
            .karpenter
            .as_ref()
            .map_or(0, |k| k.nodeclaims_launched),
        consolidations: world
            .karpenter
            .as_ref()
            .map_or(0, |k| k.disruption_counts().consolidated),
        disrupted_pods: world
            .karpenter
            .as_ref()
            .map_or(0, |k| k.disruption_counts().disrupted_pods),
        max_nodes: world.max_nodes,
        scheduling_attempts: world.cluster.status().scheduling_attempts,
        pods_created: world.cluster.status().pods_created,
        instances_launched: world.cloud.instances_launched(),
        instance_hours: hours,
        cost_usd: cost,
        cost_by_pool,
        events: sim.events_handled(),
        stall_cause,
    }
}

#[cfg(test)]
mod tests {
    use crate::kube::StallCause;
    use crate::metrics::STALL_CAUSES;

    /// Every cause the model can write has its count column in the summary.
    #[test]
    fn every_stall_cause_has_a_summary_column() {
        for c in [
            StallCause::NoRoomInPool,
            StallCause::RoomForbiddenByFilter,
            StallCause::NoEligibleNode,
            StallCause::WebhookBlocksCreation,
            StallCause::ServiceDownNoPendingPods,
        ] {
            assert!(STALL_CAUSES.contains(&c.as_str()), "{}", c.as_str());
        }
        assert!(STALL_CAUSES.contains(&"launches-failing"));
    }
}
