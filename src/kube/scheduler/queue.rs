//! The scheduling queue: activeQ, backoffQ and unschedulablePods, with
//! kube-scheduler's rules (`pkg/scheduler/backend/queue`; by version in
//! `docs/fidelity.md`).
//!
//! Version-dependent parts, each a flag of [`SchedulerConfig`]: which
//! events move a pod out of unschedulablePods (`queueing_hints`, decided
//! by the caller through [`super::hints`]), and, with
//! `pop_from_backoff` (1.33+, KEP-5142), backoff expiries truncated to
//! 1 s ordering windows, ordered by priority within a window, and the head
//! of backoffQ popped when activeQ is empty.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::engine::Millis;
use crate::kube::{Pod, PodId, QueueSlot};

use super::SchedulerConfig;
use super::hints::Plugins;

/// The start of the ordering window `t` is in.
fn window(t: Millis) -> Millis {
    Millis(t.0 - t.0 % ORDERING_WINDOW.0)
}

/// activeQ order: higher priority first, then older queue timestamp, then
/// insertion order.
type ActiveKey = (Reverse<i32>, Millis, u64, PodId, u32);
/// backoffQ order: earliest expiry first; with `pop_from_backoff`, within
/// one window higher priority, then older queue timestamp, first (without
/// it the priority and timestamp are left 0, so insertion order decides).
type BackoffKey = (Millis, Reverse<i32>, Millis, u64, PodId, u32);

/// `backoffQOrderingWindowDuration`: 1 s.
const ORDERING_WINDOW: Millis = Millis(1_000);

/// The three queues of pending pods.
///
/// Entries are removed lazily: each carries the pod's `queue_gen` at push
/// time, and an entry whose generation no longer matches is skipped.
#[derive(Debug, Default)]
pub struct SchedulingQueue {
    active: BinaryHeap<Reverse<ActiveKey>>,
    backoff: BinaryHeap<Reverse<BackoffKey>>,
    /// `podErrorBackoffQ`: pods no plugin rejected (there was no node),
    /// by expiry only; never popped before its backoff is over.
    error_backoff: BinaryHeap<Reverse<BackoffKey>>,
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

    fn push_backoff(&mut self, pod: &mut Pod, config: &SchedulerConfig) {
        let expiry = Self::backoff_expiry(pod, config);
        pod.queue_gen = pod.queue_gen.wrapping_add(1);
        pod.queue = QueueSlot::Backoff;
        self.seq += 1;
        let error = pod.rejected_by.is_empty();
        let (priority, ts) = if config.pop_from_backoff && !error {
            (pod.priority, pod.queue_ts)
        } else {
            (0, Millis::ZERO)
        };
        let key = Reverse((
            expiry,
            Reverse(priority),
            ts,
            self.seq,
            pod.id,
            pod.queue_gen,
        ));
        if error {
            self.error_backoff.push(key);
        } else {
            self.backoff.push(key);
        }
    }

    /// Takes the next pod to try: the head of activeQ; with
    /// `pop_from_backoff`, if activeQ is empty, the head of backoffQ
    /// whether or not its backoff is over (`activeQueue.unlockedPop`).
    pub fn pop(&mut self, pods: &mut [Pod], config: &SchedulerConfig) -> Option<PodId> {
        while let Some(Reverse((_, _, _, id, generation))) = self.active.pop() {
            if Self::take(&mut pods[id.index()], QueueSlot::Active, generation) {
                return Some(id);
            }
        }
        if config.pop_from_backoff {
            while let Some(Reverse((_, _, _, _, id, generation))) = self.backoff.pop() {
                if Self::take(&mut pods[id.index()], QueueSlot::Backoff, generation) {
                    return Some(id);
                }
            }
        }
        None
    }

    /// The pod [`SchedulingQueue::pop`] would take, if the head entry it
    /// would look at first is live; `None` when no pod would be taken or
    /// a stale entry hides the answer (the queues are left unchanged:
    /// [`SchedulingQueue::has_poppable`] counts stale entries too).
    pub fn peek(&self, pods: &[Pod], config: &SchedulerConfig) -> Option<PodId> {
        let (id, generation, slot) = match self.active.peek() {
            Some(&Reverse((_, _, _, id, generation))) => (id, generation, QueueSlot::Active),
            None if config.pop_from_backoff => {
                let &Reverse((_, _, _, _, id, generation)) = self.backoff.peek()?;
                (id, generation, QueueSlot::Backoff)
            }
            None => return None,
        };
        let p = &pods[id.index()];
        (p.queue == slot && p.queue_gen == generation).then_some(id)
    }

    /// Takes `pod` out of `slot` if the entry (of `generation`) is live.
    fn take(pod: &mut Pod, slot: QueueSlot, generation: u32) -> bool {
        let live = pod.queue == slot && pod.queue_gen == generation;
        if live {
            pod.queue = QueueSlot::None;
            pod.queue_gen = pod.queue_gen.wrapping_add(1);
        }
        live
    }

    /// Records a failed attempt by the plugins `rejected`: the timestamp
    /// is refreshed and the pod waits in unschedulablePods for a cluster
    /// event; a pod no plugin rejected (there was no node) goes to
    /// backoffQ instead (`AddUnschedulableIfNotPresent`).
    pub fn push_unschedulable(
        &mut self,
        pod: &mut Pod,
        now: Millis,
        rejected: Plugins,
        config: &SchedulerConfig,
    ) -> Moved {
        pod.attempts += 1;
        pod.queue_ts = now;
        pod.unschedulable_since = now;
        pod.rejected_by = rejected;
        if rejected.is_empty() {
            self.push_backoff(pod, config);
            return Moved {
                to_active: 0,
                to_backoff: 1,
            };
        }
        pod.queue_gen = pod.queue_gen.wrapping_add(1);
        pod.queue = QueueSlot::Unschedulable;
        self.unschedulable.push((pod.id, pod.queue_gen));
        Moved::default()
    }

    /// Takes a pod out of whatever queue it is in (it was deleted or bound).
    pub fn forget(pod: &mut Pod) {
        pod.queue = QueueSlot::None;
        pod.queue_gen = pod.queue_gen.wrapping_add(1);
    }

    /// `min(initial * 2^(attempts-1), max)` after the queue timestamp;
    /// with `pop_from_backoff`, truncated to its 1 s ordering window.
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
        let expiry = pod.queue_ts.saturating_add(backoff);
        if config.pop_from_backoff {
            window(expiry)
        } else {
            expiry
        }
    }

    /// Whether a pod whose backoff ends at `expiry` is still backing off
    /// at `now` (`isPodBackingoff`): until the expiry, or, with ordering
    /// windows, while the expiry is not before the current window.
    fn backing_off(pod: &Pod, expiry: Millis, now: Millis, config: &SchedulerConfig) -> bool {
        if pod.attempts == 0 {
            return false;
        }
        if config.pop_from_backoff {
            expiry >= window(now)
        } else {
            expiry > now
        }
    }

    /// A cluster event: every pod in unschedulablePods for which `worth`
    /// says yes (its QueueingHints, [`super::hints::worth_requeuing`])
    /// moves to backoffQ, or to activeQ if its backoff is over; the others
    /// stay.
    pub fn on_cluster_event(
        &mut self,
        pods: &mut [Pod],
        now: Millis,
        config: &SchedulerConfig,
        mut worth: impl FnMut(&Pod) -> bool,
    ) -> Moved {
        let mut moving = Vec::new();
        self.unschedulable.retain(|&(id, generation)| {
            let p = &pods[id.index()];
            if p.queue != QueueSlot::Unschedulable || p.queue_gen != generation {
                return false;
            }
            let go = worth(p);
            if go {
                moving.push((id, generation));
            }
            !go
        });
        self.move_unschedulable(pods, now, config, moving)
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
            if Self::backing_off(pod, expiry, now, config) {
                self.push_backoff(pod, config);
                moved.to_backoff += 1;
            } else {
                self.push_active(pod);
                moved.to_active += 1;
            }
        }
        moved
    }

    /// Moves pods whose backoff has expired to activeQ, those of backoffQ
    /// then those of the error backoffQ (`popAllBackoffCompleted`);
    /// returns how many.
    pub fn flush_backoff(
        &mut self,
        pods: &mut [Pod],
        now: Millis,
        config: &SchedulerConfig,
    ) -> usize {
        let mut n = 0;
        for error in [false, true] {
            loop {
                let heap = if error {
                    &mut self.error_backoff
                } else {
                    &mut self.backoff
                };
                let Some(&Reverse((expiry, _, _, _, id, generation))) = heap.peek() else {
                    break;
                };
                if Self::backing_off(&pods[id.index()], expiry, now, config) {
                    break;
                }
                heap.pop();
                let pod = &mut pods[id.index()];
                if pod.queue == QueueSlot::Backoff && pod.queue_gen == generation {
                    self.push_active(pod);
                    n += 1;
                }
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
        for Reverse((_, _, _, _, id, generation)) in
            self.backoff.iter().chain(self.error_backoff.iter())
        {
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

    /// Whether [`SchedulingQueue::pop`] may find a pod.
    pub fn has_poppable(&self, config: &SchedulerConfig) -> bool {
        self.has_active() || (config.pop_from_backoff && !self.backoff.is_empty())
    }

    /// Whether backoffQ or the error backoffQ may hold a live entry.
    pub fn has_backoff(&self) -> bool {
        !self.backoff.is_empty() || !self.error_backoff.is_empty()
    }

    /// Whether unschedulablePods may hold a live entry.
    pub fn has_unschedulable(&self) -> bool {
        !self.unschedulable.is_empty()
    }
}
