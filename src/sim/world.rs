//! The world of one run and its event dispatch.

use crate::cloud::{Cloud, CloudEvent, CloudNotice, Fault, InstanceId};
use crate::engine::{Context, Millis, Model, RngStreams, Simulation};
use crate::kube::{Cluster, ClusterStatus, KubeEvent, NodeId, NodeSpec, PoolId};
use crate::metrics::{Gauges, RunRecorder, RunRow, RunStatus};
use crate::scenario::Scenario;

/// Every event of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// For the cloud.
    Cloud(CloudEvent),
    /// For Kubernetes.
    Kube(KubeEvent),
    /// The scenario's fault with this index strikes.
    Fault(u16),
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
    faults: Vec<Fault>,
    /// Zone names, by the index nodes carry.
    zone_names: Vec<String>,
    /// The run's recorder.
    pub recorder: RunRecorder,
}

impl World {
    /// Builds the world of `scenario` under its policy `policy` for `seed`,
    /// and schedules its start: the fleet up, system pods then user pods
    /// created, and the faults.
    pub fn new(scenario: &Scenario, policy: usize, seed: u64) -> (World, Simulation<Event>) {
        let rng = RngStreams::new(seed);
        let p = &scenario.policies[policy];
        let cloud = Cloud::new(
            scenario.instance_types.clone(),
            p.pools.clone(),
            scenario.replacement_delay,
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
            zone_names: Vec::new(),
            faults: scenario.faults.clone(),
            recorder: RunRecorder::new(),
        };
        let mut sim = Simulation::new();
        sim.with_context(|ctx| {
            for id in world.cloud.start_fleet(ctx.now()) {
                world.join(ctx, id);
            }
            world.cluster.create_initial_pods(ctx);
            for (i, f) in world.faults.iter().enumerate() {
                ctx.schedule_at(f.at(), Event::Fault(i as u16));
            }
        });
        world
            .recorder
            .observe(Millis::ZERO, gauges(world.cluster.status()));
        (world, sim)
    }

    fn join(&mut self, ctx: &mut Context<'_, Event>, id: InstanceId) {
        let inst = self.cloud.instance(id);
        let itype = self.cloud.instance_type_of(id);
        let spec = NodeSpec {
            pool: PoolId(inst.asg.0),
            provider_id: u64::from(id.0),
            allocatable: itype.allocatable(),
            max_pods: itype.max_pods,
            zone: self.zone_index(id),
        };
        let node = self.cluster.node_join(ctx, spec);
        if self.node_of.len() <= id.index() {
            self.node_of.resize(id.index() + 1, None);
        }
        self.node_of[id.index()] = Some(node);
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

    fn strike(&mut self, ctx: &mut Context<'_, Event>, fault: usize) {
        self.recorder.fault(ctx.now());
        match self.faults[fault] {
            Fault::TerminateAll { .. } => {
                for id in self.cloud.live_instances() {
                    self.terminate(ctx, id);
                }
            }
        }
    }

    fn terminate(&mut self, ctx: &mut Context<'_, Event>, id: InstanceId) {
        self.cloud.terminate(ctx, id);
        if let Some(Some(node)) = self.node_of.get(id.index()) {
            self.cluster.instance_lost(ctx, *node);
        }
    }
}

impl Model for World {
    type Event = Event;

    fn handle(&mut self, ctx: &mut Context<'_, Event>, event: Event) {
        match event {
            Event::Cloud(e) => {
                if let Some(CloudNotice::Booted(id)) = self.cloud.handle(ctx, e) {
                    self.join(ctx, id);
                }
            }
            Event::Kube(e) => self.cluster.handle(ctx, e),
            Event::Fault(i) => self.strike(ctx, usize::from(i)),
        }
        self.recorder
            .observe(ctx.now(), gauges(self.cluster.status()));
    }
}

fn gauges(s: ClusterStatus) -> Gauges {
    Gauges {
        ready_nodes: s.ready_nodes,
        pending_system: s.pending_system,
        pending_user: s.pending_user,
        progressing_user: s.progressing_user,
        progressing_user_mcpu: s.progressing_user_mcpu,
        stalled: s.stalled,
        system_services_down: s.system_services_down,
        progress_steps: s.progress_steps,
    }
}

/// Runs one policy of a scenario with one seed to the horizon.
pub fn run_one(scenario: &Scenario, policy: usize, seed: u64) -> RunRow {
    let (mut world, mut sim) = World::new(scenario, policy, seed);
    sim.run_until(&mut world, scenario.horizon);
    let horizon = scenario.horizon;
    let stuck = world.recorder.stuck(horizon, scenario.detection_window);
    let stall_cause = if stuck {
        world.cluster.stall_cause().map(|c| c.as_str().to_string())
    } else {
        None
    };
    let hours: f64 = world.cloud.instance_hours_by_asg(horizon).iter().sum();
    let cost: f64 = world.cloud.cost_by_asg(horizon).iter().sum();
    RunRow {
        policy: scenario.policies[policy].name.clone(),
        seed,
        status: RunStatus::Ok,
        outcome: world
            .recorder
            .clone()
            .finish(horizon, scenario.detection_window),
        preemptions: world.cluster.status().preemptions,
        instances_launched: world.cloud.instances_launched(),
        instance_hours: hours,
        cost_usd: cost,
        events: sim.events_handled(),
        stall_cause,
    }
}
