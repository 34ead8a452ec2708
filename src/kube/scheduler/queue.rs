//! The scheduling queue: activeQ, backoffQ and unschedulablePods, with
//! kube-scheduler's rules (`docs/fidelity.md`, "Scheduler queue").

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::engine::Millis;
use crate::kube::{Pod, PodId, QueueSlot};

use super::SchedulerConfig;

/// activeQ order: higher priority first, then older queue timestamp, then
/// insertion order.
type ActiveKey = (Reverse<i32>, Millis, u64, PodId, u32);
/// backoffQ order: earliest expiry first.
type BackoffKey = (Millis, u64, PodId, u32);

/// The three queues of pending pods.
///
/// Entries are removed lazily: each carries the pod's `queue_gen` at push
/// time, and an entry whose generation no longer matches is skipped.
#[derive(Debug, Default)]
pub struct SchedulingQueue {
    active: BinaryHeap<Reverse<ActiveKey>>,
    backoff: BinaryHeap<Reverse<BackoffKey>>,
    unschedulable: Vec<(PodId, u32)>,
    seq: u64,
}

/// Where a cluster event sent pods.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Moved {
    /// Pods now in activeQ.
    pub to_active: usize,
    /// Pods now in backoffQ.
    pub to_backoff: usize,
}

impl SchedulingQueue {
    /// Puts a pod in activeQ.
    pub fn push_active(&mut self, pod: &mut Pod) {
        pod.queue_gen = pod.queue_gen.wrapping_add(1);
        pod.queue = QueueSlot::Active;
        self.seq += 1;
        self.active.push(Reverse((
            Reverse(pod.priority),
            pod.queue_ts,
            self.seq,
            pod.id,
            pod.queue_gen,
        )));
    }

    fn push_backoff(&mut self, pod: &mut Pod, expiry: Millis) {
        pod.queue_gen = pod.queue_gen.wrapping_add(1);
        pod.queue = QueueSlot::Backoff;
        self.seq += 1;
        self.backoff
            .push(Reverse((expiry, self.seq, pod.id, pod.queue_gen)));
    }

    /// Takes the next pod to try from activeQ.
    pub fn pop_active(&mut self, pods: &mut [Pod]) -> Option<PodId> {
        while let Some(Reverse((_, _, _, id, generation))) = self.active.pop() {
            let pod = &mut pods[id.index()];
            if pod.queue == QueueSlot::Active && pod.queue_gen == generation {
                pod.queue = QueueSlot::None;
                pod.queue_gen = pod.queue_gen.wrapping_add(1);
                return Some(id);
            }
        }
        None
    }

    /// Records a failed attempt: the timestamp is refreshed and the pod waits
    /// in unschedulablePods for a cluster event.
    pub fn push_unschedulable(&mut self, pod: &mut Pod, now: Millis) {
        pod.attempts += 1;
        pod.queue_ts = now;
        pod.unschedulable_since = now;
        pod.queue_gen = pod.queue_gen.wrapping_add(1);
        pod.queue = QueueSlot::Unschedulable;
        self.unschedulable.push((pod.id, pod.queue_gen));
    }

    /// Takes a pod out of whatever queue it is in (it was deleted or bound).
    pub fn forget(pod: &mut Pod) {
        pod.queue = QueueSlot::None;
        pod.queue_gen = pod.queue_gen.wrapping_add(1);
    }

    /// `min(initial * 2^(attempts-1), max)` after the queue timestamp.
    pub fn backoff_expiry(pod: &Pod, config: &SchedulerConfig) -> Millis {
        if pod.attempts == 0 {
            return pod.queue_ts;
        }
        let doublings = (pod.attempts - 1).min(30);
        let backoff = Millis(
            config
                .initial_backoff
                .0
                .saturating_mul(1 << doublings)
                .min(config.max_backoff.0),
        );
        pod.queue_ts.saturating_add(backoff)
    }

    /// A cluster event that may make pods schedulable (a node became Ready,
    /// an assigned pod was deleted): every unschedulable pod moves to
    /// backoffQ, or to activeQ if its backoff has expired.
    pub fn on_cluster_event(
        &mut self,
        pods: &mut [Pod],
        now: Millis,
        config: &SchedulerConfig,
    ) -> Moved {
        let waiting = std::mem::take(&mut self.unschedulable);

        self.move_unschedulable(pods, now, config, waiting)
    }

    /// The leftover flush: pods that have waited longer than
    /// `max_in_unschedulable` move as on a cluster event.
    pub fn flush_leftover(
        &mut self,
        pods: &mut [Pod],
        now: Millis,
        config: &SchedulerConfig,
    ) -> Moved {
        let (old, young): (Vec<_>, Vec<_>) = std::mem::take(&mut self.unschedulable)
            .into_iter()
            .partition(|&(id, _)| {
                now.saturating_sub(pods[id.index()].unschedulable_since)
                    >= config.max_in_unschedulable
            });
        self.unschedulable = young;
        self.move_unschedulable(pods, now, config, old)
    }

    fn move_unschedulable(
        &mut self,
        pods: &mut [Pod],
        now: Millis,
        config: &SchedulerConfig,
        waiting: Vec<(PodId, u32)>,
    ) -> Moved {
        let mut moved = Moved::default();
        for (id, generation) in waiting {
            let pod = &mut pods[id.index()];
            if pod.queue != QueueSlot::Unschedulable || pod.queue_gen != generation {
                continue;
            }
            let expiry = Self::backoff_expiry(pod, config);
            if expiry <= now {
                self.push_active(pod);
                moved.to_active += 1;
            } else {
                self.push_backoff(pod, expiry);
                moved.to_backoff += 1;
            }
        }
        moved
    }

    /// Moves pods whose backoff has expired to activeQ; returns how many.
    pub fn flush_backoff(&mut self, pods: &mut [Pod], now: Millis) -> usize {
        let mut n = 0;
        while let Some(&Reverse((expiry, _, id, generation))) = self.backoff.peek() {
            if expiry > now {
                break;
            }
            self.backoff.pop();
            let pod = &mut pods[id.index()];
            if pod.queue == QueueSlot::Backoff && pod.queue_gen == generation {
                self.push_active(pod);
                n += 1;
            }
        }
        n
    }

    /// Pods that failed a scheduling attempt and wait in unschedulablePods
    /// or backoffQ (stale entries skipped), appended to `out`: what the
    /// cluster autoscaler lists as unschedulable (`PodScheduled=False`,
    /// reason `Unschedulable`). Called once per autoscaler scan, not per
    /// event.
    pub fn waiting(&self, pods: &[Pod], out: &mut Vec<PodId>) {
        for &(id, generation) in &self.unschedulable {
            let p = &pods[id.index()];
            if p.queue == QueueSlot::Unschedulable && p.queue_gen == generation {
                out.push(id);
            }
        }
        for Reverse((_, _, id, generation)) in self.backoff.iter() {
            let p = &pods[id.index()];
            if p.queue == QueueSlot::Backoff && p.queue_gen == *generation && p.attempts > 0 {
                out.push(*id);
            }
        }
    }

    /// Whether activeQ may hold a live entry.
    pub fn has_active(&self) -> bool {
        !self.active.is_empty()
    }

    /// Whether backoffQ may hold a live entry.
    pub fn has_backoff(&self) -> bool {
        !self.backoff.is_empty()
    }

    /// Whether unschedulablePods may hold a live entry.
    pub fn has_unschedulable(&self) -> bool {
        !self.unschedulable.is_empty()
    }
}
