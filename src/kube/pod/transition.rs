//! Pod transitions: the one place a pod enters the table and the one place
//! its state changes. Each transition moves, together, the pod's state, its
//! workload's pending, Running (and Ready) and live counts, the cluster's
//! count of unready pods (and through them the
//! cluster's counters and service availability, `counters.rs`), its room on
//! a node, its nomination and queue entry, the progress count and the
//! journal record that goes with it.
//!
//! What a state counts toward is fixed by the state alone ([`Tally::of`]),
//! so the counters always equal a recount of the pods' states.

use crate::kube::scheduler::topology::{Place, presence};
use crate::kube::scheduler::{SchedulingQueue, score::non_zero};
use crate::kube::{Cluster, KubeRecord, NodeId, Pod, PodId, PodState, WorkloadId};

/// What one pod in a state counts toward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tally {
    /// Its workload's `pending`: unbound, or bound and starting.
    pending: i32,
    /// Its workload's `running`: Running and Ready on a live node.
    running: i32,
    /// The cluster's `unready`: Running, not yet Ready.
    unready: i32,
    /// Its workload's `live`: the pods its controller counts. A terminating
    /// pod was already replaced, and a finished Job pod is done.
    live: i32,
}

impl Tally {
    fn of(state: PodState) -> Tally {
        let (pending, running, unready, live) = match state {
            PodState::Pending | PodState::Starting(_) => (1, 0, 0, 1),
            PodState::Unready(_) => (0, 0, 1, 1),
            PodState::Running(_) => (0, 1, 0, 1),
            PodState::Lost(_) => (0, 0, 0, 1),
            PodState::Terminating(_)
            | PodState::Succeeded
            | PodState::Failed
            | PodState::Deleted => (0, 0, 0, 0),
        };
        Tally {
            pending,
            running,
            unready,
            live,
        }
    }
}

impl Cluster {
    /// A controller's new pod enters the table, Pending. Its id must be the
    /// table's next index.
    pub(in crate::kube) fn add_pod(&mut self, pod: Pod) {
        debug_assert_eq!(pod.id.index(), self.pods.len());
        debug_assert_eq!(pod.state, PodState::Pending);
        let (id, w) = (pod.id, pod.workload);
        self.pods.push(pod);
        self.workloads[w.index()].live += 1;
        self.stateful_pod_created(w, self.pods[id.index()].slot, id);
        self.change_pending(w, 1);
        self.status.pods_created += 1;
        self.note(KubeRecord::PodCreated(id));
    }

    /// Moves pod `pid` to state `to`, the only way a pod's state changes:
    ///
    /// - its workload's counts follow [`Tally`] (pending before Running, so
    ///   a service's availability changes once);
    /// - binding (`Starting`) or deletion clears its nomination;
    /// - it takes room on the node it is bound to and releases the node it
    ///   leaves (a terminating or lost pod still holds its room);
    /// - a deleted pod leaves the scheduling queue;
    /// - binding, starting, turning Ready and finishing are progress steps;
    /// - the journal records a binding (with the scheduler's last score), a
    ///   start, turning Ready (after a start without it) and a deletion.
    ///
    /// A pod that is deleted or finished stays so: moving it is a no-op, as
    /// is moving a pod to the state it is in.
    pub(in crate::kube) fn set_pod_state(&mut self, pid: PodId, to: PodState) {
        let from = self.pods[pid.index()].state;
        if from == to
            || matches!(
                from,
                PodState::Deleted | PodState::Succeeded | PodState::Failed
            )
        {
            return;
        }
        if matches!(to, PodState::Starting(_) | PodState::Deleted) {
            self.clear_nomination(pid);
        }
        let w = self.pods[pid.index()].workload;
        self.count_pod_move(w, from, to);
        if to == PodState::Deleted {
            self.note(KubeRecord::Deleted {
                pod: pid,
                node: from.node(),
            });
        }
        if from.node() != to.node() {
            if let Some(node) = from.node() {
                self.release_from_node(pid, node);
            }
            if let Some(node) = to.node() {
                self.occupy(pid, node);
            }
        }
        self.count_in_topology(w, from, to);
        self.watch_pod_move(w, from, to);
        let pod = &mut self.pods[pid.index()];
        pod.state = to;
        if to == PodState::Deleted {
            SchedulingQueue::forget(pod);
        }
        // A StatefulSet's sync waits for deletions (a free ordinal) and
        // Ready pods (its next ordinal under OrderedReady).
        if to == PodState::Deleted {
            self.stateful_pod_deleted(pid);
        } else if matches!(to, PodState::Running(_)) {
            self.stateful_changed(w);
        }
        self.note_pod_move(pid, from, to);
    }

    /// Moves a pod of `w` from `from` to `to` in the pending, Running,
    /// unready and live counts (and what they feed: service availability,
    /// progress).
    fn count_pod_move(&mut self, w: WorkloadId, from: PodState, to: PodState) {
        let (a, b) = (Tally::of(from), Tally::of(to));
        if a.pending != b.pending {
            self.change_pending(w, b.pending - a.pending);
        }
        if a.running != b.running {
            self.change_running(w, b.running - a.running);
        }
        self.status.unready = self
            .status
            .unready
            .wrapping_add_signed(b.unready - a.unready);
        let wl = &mut self.workloads[w.index()];
        wl.live = wl.live.wrapping_add_signed(b.live - a.live);
    }

    /// Tells a pod-events watcher the node of a pod of `w` (not a
    /// DaemonSet's) bound, terminating or ended there.
    fn watch_pod_move(&mut self, w: WorkloadId, from: PodState, to: PodState) {
        if !self.watchers.pod_events_watched() {
            return;
        }
        let event_node = match to {
            PodState::Starting(n) | PodState::Terminating(n) => Some(n),
            PodState::Succeeded | PodState::Failed | PodState::Deleted => from.node(),
            _ => None,
        };
        let daemon = matches!(
            self.workloads[w.index()].spec.kind,
            super::super::WorkloadKind::DaemonSet { .. }
        );
        if let (Some(n), false) = (event_node, daemon) {
            self.watchers.pod_event(n);
        }
    }

    /// Counts a forward step of a pod that moved from `from` to `to` and
    /// records it in the journal.
    fn note_pod_move(&mut self, pid: PodId, from: PodState, to: PodState) {
        match to {
            PodState::Starting(node) => {
                self.status.progress_steps += 1;
                self.note(KubeRecord::Bound {
                    pod: pid,
                    node,
                    score: self.select.last_score,
                });
            }
            // Containers started: Ready at once without a readiness delay.
            PodState::Unready(_) => {
                self.status.progress_steps += 1;
                self.note(KubeRecord::Started(pid));
            }
            PodState::Running(_) => {
                self.status.progress_steps += 1;
                self.note(if matches!(from, PodState::Unready(_)) {
                    KubeRecord::Ready(pid)
                } else {
                    KubeRecord::Started(pid)
                });
            }
            PodState::Succeeded | PodState::Failed => self.status.progress_steps += 1,
            PodState::Pending
            | PodState::Terminating(_)
            | PodState::Lost(_)
            | PodState::Deleted => {}
        }
    }

    /// Deletes a pod from the API, releasing what it held on its node.
    pub(in crate::kube) fn delete_pod(&mut self, pid: PodId) {
        self.set_pod_state(pid, PodState::Deleted);
    }

    /// Puts a pod being bound on `node`: its requests and a pod slot.
    fn occupy(&mut self, pid: PodId, node: NodeId) {
        let requests = self.pods[pid.index()].requests;
        let n = &mut self.nodes[node.index()];
        n.requested += requests;
        n.requested_for_scoring += non_zero(requests);
        n.pods.push(pid);
        self.refresh_node(node);
    }

    /// Moves a pod of `w` in the spread and inter-pod affinity counts; a
    /// changed count is a new snapshot generation (the filters read it).
    fn count_in_topology(&mut self, w: WorkloadId, from: PodState, to: PodState) {
        let (a, b) = (presence(from), presence(to));
        if a == b {
            return;
        }
        let nodes = self.nodes.all();
        let place = |n: NodeId| {
            let node = &nodes[n.index()];
            Place {
                node: n.index(),
                pool: node.spec.pool.index(),
                zone: usize::from(node.spec.zone),
                registered: node.pool_slot.is_some(),
            }
        };
        let (topology, snapshot) = self.select.topology_mut();
        if topology.pod_moved(w, a, b, place) {
            snapshot.touch();
            // The fit index's spread leaves count pods per node.
            for (n, _) in [a, b].into_iter().flatten() {
                self.select.counts_changed(n);
            }
        }
    }

    /// Takes a bound pod off `node`: its requests and its pod slot are free
    /// again.
    fn release_from_node(&mut self, pid: PodId, node: NodeId) {
        let requests = self.pods[pid.index()].requests;
        let n = &mut self.nodes[node.index()];
        n.requested -= requests;
        n.requested_for_scoring -= non_zero(requests);
        if let Some(pos) = n.pods.iter().position(|&p| p == pid) {
            n.pods.swap_remove(pos);
        }
        self.refresh_node(node);
    }
}
