//! The event log of one run, for `poolsim trace`.
//!
//! When a run is traced, the world asks the cloud and the cluster to keep
//! their journals and drains them after every event into [`TraceEntry`]s
//! stamped with the event's time; it adds what only it knows (which fault
//! struck, when the run was detected stuck) and, for each rejected
//! scheduling attempt, the filters' verdict at that instant. Nothing here
//! draws a random number or schedules an event, so a traced run has the
//! same history, and the same `runs.csv` row, as an untraced one.

use crate::cloud::{CloudRecord, InstanceId};
use crate::engine::{Millis, RunLimits};
use crate::kube::scheduler::Plugins;
use crate::kube::{KubeRecord, PodId, Rejection, StallReport};
use crate::metrics::RunRow;
use crate::scenario::Scenario;

use super::world::{World, finish};

/// One line of a trace, before naming.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceRecord {
    /// Something the cluster did (rejections come as `Unschedulable`).
    Kube(KubeRecord),
    /// Something the cloud did.
    Cloud(CloudRecord),
    /// A scheduling attempt found no node, with the filters' verdict then.
    Unschedulable {
        /// The pod.
        pod: PodId,
        /// Why each node was rejected.
        rejection: Rejection,
        /// The filter plugins recorded as rejecting it, which decide the
        /// events that may requeue it.
        rejected_by: Plugins,
    },
    /// The scenario's fault `index` struck `instances`.
    Fault {
        /// Index in the scenario's faults.
        index: u16,
        /// Instances it struck at once: terminated, or given a Spot
        /// interruption notice (ASG members and Karpenter's fleet
        /// instances alike).
        instances: u32,
    },
    /// The run meets the deadlock definition: a system service down and no
    /// progress for the detection window.
    Stuck {
        /// System services down.
        services_down: u32,
    },
}

/// A record and when it happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceEntry {
    /// Simulated time.
    pub t: Millis,
    /// What happened.
    pub record: TraceRecord,
}

/// The log a traced world keeps, with its reused drain buffers.
#[derive(Debug, Default)]
pub(crate) struct Journal {
    entries: Vec<TraceEntry>,
    kube: Vec<KubeRecord>,
    cloud: Vec<CloudRecord>,
    window: Millis,
    /// Since when some system service has been down, continuously.
    down_since: Option<Millis>,
    /// Whether the current stuck spell was already noted.
    stuck_noted: bool,
}

impl World {
    /// Moves what the cloud and the cluster recorded during the event at
    /// `now` (fault `fault`, if it was one) into the journal.
    pub(super) fn note_journal(&mut self, now: Millis, fault: Option<u16>) {
        let Some(mut j) = self.journal.take() else {
            return;
        };
        self.cloud.take_journal(&mut j.cloud);
        self.cluster.take_journal(&mut j.kube);
        if let Some(index) = fault {
            let instances = struck(&j.cloud);
            j.entries.push(TraceEntry {
                t: now,
                record: TraceRecord::Fault { index, instances },
            });
        }
        // Cloud first: within one event, instances change before the
        // cluster reacts to them.
        for r in j.cloud.drain(..) {
            j.entries.push(TraceEntry {
                t: now,
                record: TraceRecord::Cloud(r),
            });
        }
        for r in j.kube.drain(..) {
            let record = match r {
                KubeRecord::Unschedulable(pod) => TraceRecord::Unschedulable {
                    pod,
                    rejection: self.cluster.rejection(pod),
                    rejected_by: self.cluster.pods()[pod.index()].rejected_by,
                },
                r => TraceRecord::Kube(r),
            };
            j.entries.push(TraceEntry { t: now, record });
        }
        // The recorder's test alone would fire the instant a fault takes a
        // service down in a cluster that had long made no progress (a
        // steady backlog); a stall also needs the service down for the
        // whole window.
        let down = self.cluster.status().system_services_down;
        if down == 0 {
            j.down_since = None;
            j.stuck_noted = false;
        } else if j.down_since.is_none() {
            j.down_since = Some(now);
        }
        let long_down = j
            .down_since
            .is_some_and(|d| now.saturating_sub(d) >= j.window);
        if !j.stuck_noted && long_down && self.recorder.stuck(now, j.window) {
            j.stuck_noted = true;
            j.entries.push(TraceEntry {
                t: now,
                record: TraceRecord::Stuck {
                    services_down: self.cluster.status().system_services_down,
                },
            });
        }
        self.journal = Some(j);
    }
}

/// A traced run: its row, its log, and its final state for naming and
/// explaining.
pub struct Traced {
    /// The `runs.csv` row, identical to an untraced run's.
    pub row: RunRow,
    /// Every record, in event order.
    pub entries: Vec<TraceEntry>,
    /// The cluster explained at the horizon.
    pub report: StallReport,
    /// The world at the horizon (names of pools, zones, workloads).
    pub world: World,
}

impl Traced {
    /// The node an instance became, if it joined.
    pub fn node_of(&self, id: InstanceId) -> Option<crate::kube::NodeId> {
        self.world.node_of(id)
    }
}

/// Runs policy `policy` of `scenario` with `seed` to the horizon, keeping
/// the event log.
pub fn run_traced(scenario: &Scenario, policy: usize, seed: u64) -> Traced {
    let journal = Journal {
        window: scenario.detection_window,
        ..Journal::default()
    };
    let (mut world, mut sim) = World::build(scenario, policy, seed, Some(journal));
    // A run that exceeds the default limits is traced up to where it
    // stopped, and its row says why.
    let row = match sim.run_limited(&mut world, scenario.horizon, &RunLimits::default()) {
        Ok(_) => finish(scenario, policy, seed, &world, &sim),
        Err(stop) => super::world::stopped_row(scenario, policy, seed, &stop),
    };
    // The deadlock is judged at the horizon; a run that turned stuck with
    // no event after the window is noted here.
    world.note_journal(scenario.horizon, None);
    let entries = world.journal.take().map(|j| j.entries).unwrap_or_default();
    let report = world.cluster.stall_report();
    Traced {
        row,
        entries,
        report,
        world,
    }
}

/// How many instances the records of one event terminated or interrupted
/// (each once, should Karpenter delete an interrupted NodeClaim's
/// instance in the same event).
fn struck(records: &[CloudRecord]) -> u32 {
    let mut ids: Vec<InstanceId> = records
        .iter()
        .filter_map(|r| match r {
            CloudRecord::Terminated(id, _) | CloudRecord::Interrupted(id) => Some(*id),
            _ => None,
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids.len() as u32
}
