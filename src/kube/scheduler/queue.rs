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

use crate::engine::Millis;
use crate::kube::{Pod, PodId, QueueSlot};

use super::SchedulerConfig;
use super::hints::Plugins;
use super::ordered::{Entry, Ordered};

/// The start of the ordering window `t` is in.
fn window(t: Millis) -> Millis {
    Millis(t.0 - t.0 % ORDERING_WINDOW.0)
}

/// `backoffQOrderingWindowDuration`: 1 s.
const ORDERING_WINDOW: Millis = Millis(1_000);

/// The three queues of pending pods.
///
/// Entries are removed lazily: each carries the pod's `queue_gen` at push
/// time, and an entry whose generation no longer matches is skipped.
#[derive(Debug, Default)]
pub struct SchedulingQueue {
    /// activeQ order: higher priority first, then older queue timestamp,
    /// then insertion order.
    active: Ordered,
    /// backoffQ order: earliest expiry first; with `pop_from_backoff`,
    /// within one window higher priority, then older queue timestamp,
    /// first (without it the priority and timestamp are left 0, so
    /// insertion order decides).
    backoff: Ordered,
    /// `podErrorBackoffQ`: pods no plugin rejected (there was no node),
    /// by expiry only; never popped before its backoff is over.
    error_backoff: Ordered,
    unschedulable: Vec<(PodId, u32)>,
    seq: u64,
    /// The pods a cluster event or flush moves, kept for its allocation.
    moving: Vec<(PodId, u32)>,
}

/// Where a cluster event sent pods.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Moved {
    /// Pods now in activeQ.
    pub to_active: usize,
    /// Pods now in backoffQ.
    pub to_backoff: usize,
}

/// A run of failed attempts, one every `step` from `first`
/// ([`SchedulingQueue::fail_run`]).
#[derive(Debug, Clone, Copy)]
pub struct FailRun {
    /// The time of the first attempt.
    pub first: Millis,
    /// The time between attempts (the decision time).
    pub step: Millis,
    /// At most this many attempts.
    pub max: usize,
    /// The plugins that reject each pod.
    pub rejected: Plugins,
}

impl SchedulingQueue {
    /// Puts a pod in activeQ.
    pub fn push_active(&mut self, pod: &mut Pod) {
        let e = self.active_entry(pod);
        self.active.push(e);
    }

    /// `pod` marked as in activeQ, and its entry there.
    fn active_entry(&mut self, pod: &mut Pod) -> Entry {
        pod.queue_gen = pod.queue_gen.wrapping_add(1);
        pod.queue = QueueSlot::Active;
        self.seq += 1;
        Entry::new(
            Millis::ZERO,
            pod.priority,
            pod.queue_ts,
            self.seq,
            pod.id,
            pod.queue_gen,
        )
    }

    /// Puts `pod`, whose backoff ends at `expiry`, in backoffQ (or the
    /// error backoffQ); appended out of order when `bulk` (the caller
    /// settles the queues after its batch).
    fn push_backoff(
        &mut self,
        pod: &mut Pod,
        expiry: Millis,
        config: &SchedulerConfig,
        bulk: bool,
    ) {
        pod.queue_gen = pod.queue_gen.wrapping_add(1);
        pod.queue = QueueSlot::Backoff;
        self.seq += 1;
        let error = pod.rejected_by.is_empty();
        let (priority, ts) = if config.pop_from_backoff && !error {
            (pod.priority, pod.queue_ts)
        } else {
            (0, Millis::ZERO)
        };
        let e = Entry::new(expiry, priority, ts, self.seq, pod.id, pod.queue_gen);
        let queue = if error {
            &mut self.error_backoff
        } else {
            &mut self.backoff
        };
        if bulk {
            queue.append(e);
        } else {
            queue.push(e);
        }
    }

    /// Sorts in the entries appended by a batch of moves.
    fn settle(&mut self) {
        self.active.settle();
        self.backoff.settle();
        self.error_backoff.settle();
    }

    /// Takes the next pod to try: the head of activeQ; with
    /// `pop_from_backoff`, if activeQ is empty, the head of backoffQ
    /// whether or not its backoff is over (`activeQueue.unlockedPop`).
    pub fn pop(&mut self, pods: &mut [Pod], config: &SchedulerConfig) -> Option<PodId> {
        while let Some(e) = self.active.pop() {
            if Self::take(&mut pods[e.id.index()], QueueSlot::Active, e.generation) {
                return Some(e.id);
            }
        }
        if config.pop_from_backoff {
            while let Some(e) = self.backoff.pop() {
                if Self::take(&mut pods[e.id.index()], QueueSlot::Backoff, e.generation) {
                    return Some(e.id);
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
        let (e, slot) = match self.active.peek() {
            Some(e) => (e, QueueSlot::Active),
            None if config.pop_from_backoff => (self.backoff.peek()?, QueueSlot::Backoff),
            None => return None,
        };
        let p = &pods[e.id.index()];
        (p.queue == slot && p.queue_gen == e.generation).then_some(e.id)
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
            let expiry = Self::backoff_expiry(pod, config);
            self.push_backoff(pod, expiry, config, false);
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

    /// A run of failed attempts as one step: while the pod
    /// [`SchedulingQueue::pop`] would take next is live in the list it
    /// would take it from and `same` accepts it, up to `run.max` pods,
    /// the `i`-th of them (from 0) is taken and fails at
    /// `run.first + i * run.step`, recorded as
    /// [`SchedulingQueue::push_unschedulable`] records a failure by
    /// `run.rejected` (not empty): its attempts, queue timestamp and
    /// rejecting plugins set, appended to unschedulablePods. Stops, without
    /// taking it, at a stale entry, a pod `same` refuses, or the end of the
    /// list (the next `pop` would look elsewhere). Returns how many failed.
    pub fn fail_run(
        &mut self,
        pods: &mut [Pod],
        config: &SchedulerConfig,
        run: &FailRun,
        mut same: impl FnMut(&Pod) -> bool,
    ) -> usize {
        debug_assert!(!run.rejected.is_empty());
        let (list, slot) = if !self.active.is_empty() {
            (&mut self.active, QueueSlot::Active)
        } else if config.pop_from_backoff {
            (&mut self.backoff, QueueSlot::Backoff)
        } else {
            return 0;
        };
        let mut at = run.first;
        let mut n = 0;
        for e in list.pending().iter().take(run.max) {
            let pod = &mut pods[e.id.index()];
            if pod.queue != slot || pod.queue_gen != e.generation || !same(pod) {
                break;
            }
            pod.attempts += 1;
            pod.queue_ts = at;
            pod.unschedulable_since = at;
            pod.rejected_by = run.rejected;
            // Taken (one generation), then queued again (another).
            pod.queue_gen = pod.queue_gen.wrapping_add(2);
            pod.queue = QueueSlot::Unschedulable;
            self.unschedulable.push((pod.id, pod.queue_gen));
            at = at.saturating_add(run.step);
            n += 1;
        }
        list.advance(n);
        n
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
        let mut moving = std::mem::take(&mut self.moving);
        moving.clear();
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
        let mut old = std::mem::take(&mut self.moving);
        old.clear();
        self.unschedulable.retain(|&(id, generation)| {
            let leave = now.saturating_sub(pods[id.index()].unschedulable_since)
                >= config.max_in_unschedulable;
            if leave {
                old.push((id, generation));
            }
            !leave
        });
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
        for &(id, generation) in &waiting {
            let pod = &mut pods[id.index()];
            if pod.queue != QueueSlot::Unschedulable || pod.queue_gen != generation {
                continue;
            }
            let expiry = Self::backoff_expiry(pod, config);
            if Self::backing_off(pod, expiry, now, config) {
                self.push_backoff(pod, expiry, config, true);
                moved.to_backoff += 1;
            } else {
                let e = self.active_entry(pod);
                self.active.append(e);
                moved.to_active += 1;
            }
        }
        self.settle();
        self.moving = waiting;
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
                let Some(&e) = heap.peek() else {
                    break;
                };
                if Self::backing_off(&pods[e.id.index()], e.major(), now, config) {
                    break;
                }
                heap.pop();
                let pod = &mut pods[e.id.index()];
                if pod.queue == QueueSlot::Backoff && pod.queue_gen == e.generation {
                    let a = self.active_entry(pod);
                    self.active.append(a);
                    n += 1;
                }
            }
        }
        self.settle();
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
        for e in self.backoff.iter().chain(self.error_backoff.iter()) {
            let p = &pods[e.id.index()];
            if p.queue == QueueSlot::Backoff && p.queue_gen == e.generation && p.attempts > 0 {
                out.push(e.id);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::WorkloadId;
    use crate::quantity::Resources;

    /// Five pods, each with `attempts` failures behind it, that failed
    /// again at 1 s, 2 s, ..., 5 s and wait in unschedulablePods.
    fn queue_of_five(config: &SchedulerConfig, attempts: u32) -> (SchedulingQueue, Vec<Pod>) {
        let mut q = SchedulingQueue::default();
        let mut pods: Vec<Pod> = (0..5)
            .map(|i| {
                let w = WorkloadId(0);
                let mut p = Pod::new(PodId(i), w, i, Resources::default(), 0, None, Millis(0));
                p.attempts = attempts;
                p
            })
            .collect();
        for p in &mut pods {
            q.push_active(p);
        }
        for t in 1..=5 {
            let id = q.pop(&mut pods, config).unwrap();
            let p = &mut pods[id.index()];
            q.push_unschedulable(p, Millis::from_secs(t), Plugins::NODE_RESOURCES_FIT, config);
        }
        (q, pods)
    }

    /// A run of failures is the pops and failures one by one: the same
    /// pods, fields, unschedulablePods and order afterwards.
    #[test]
    fn a_run_of_failures_is_failures_one_by_one() {
        let config = SchedulerConfig::default();
        // (max, time of the cluster event, attempts before, pods moved to
        // activeQ, run length).
        // At 20 s every backoff is over: all five go to activeQ. At 5.5 s,
        // after one failure each (1 s backoff, expiries 2 s .. 6 s), those
        // whose expiry is in the current window or later (pods 3 and 4)
        // back off: the run ends with activeQ. After five failures (10 s
        // backoff) all five back off: the run goes through backoffQ.
        let cases = [
            (10, Millis(20_000), 0, 5, 3),
            (2, Millis(20_000), 0, 5, 2),
            (10, Millis(5_500), 0, 3, 3),
            (10, Millis(5_500), 4, 0, 3),
        ];
        for (max, from, attempts, to_active, want) in cases {
            let (mut run_q, mut run_pods) = queue_of_five(&config, attempts);
            let (mut one_q, mut one_pods) = queue_of_five(&config, attempts);
            let moved = run_q.on_cluster_event(&mut run_pods, from, &config, |_| true);
            one_q.on_cluster_event(&mut one_pods, from, &config, |_| true);
            assert_eq!(
                (moved.to_active, moved.to_backoff),
                (to_active, 5 - to_active)
            );
            let rejected = Plugins::NODE_RESOURCES_FIT;
            let run = FailRun {
                first: from + Millis(5),
                step: Millis(5),
                max,
                rejected,
            };
            // Pod 3 is of another shape: the run stops before it.
            let n = run_q.fail_run(&mut run_pods, &config, &run, |p| p.id != PodId(3));
            assert_eq!(n, want, "{max} {from} {attempts}");
            for i in 0..want {
                let id = one_q.pop(&mut one_pods, &config).unwrap();
                let at = from + Millis(5 * (i as u64 + 1));
                one_q.push_unschedulable(&mut one_pods[id.index()], at, rejected, &config);
            }
            for (a, b) in run_pods.iter().zip(&one_pods) {
                assert_eq!(
                    (
                        a.attempts,
                        a.queue_ts,
                        a.unschedulable_since,
                        a.queue,
                        a.queue_gen
                    ),
                    (
                        b.attempts,
                        b.queue_ts,
                        b.unschedulable_since,
                        b.queue,
                        b.queue_gen
                    ),
                );
                assert_eq!(a.rejected_by, b.rejected_by);
            }
            assert_eq!(run_q.unschedulable, one_q.unschedulable);
            assert_eq!(run_pods[0].queue_ts, from + Millis(5));
            assert_eq!(run_pods[want - 1].queue_ts, from + Millis(5 * want as u64));
            let order = |q: &mut SchedulingQueue, pods: &mut Vec<Pod>| {
                let moved = q.on_cluster_event(pods, from + Millis(60_000), &config, |_| true);
                let mut out = vec![moved.to_active];
                while let Some(id) = q.pop(pods, &config) {
                    out.push(id.0 as usize);
                }
                out
            };
            assert_eq!(
                order(&mut run_q, &mut run_pods),
                order(&mut one_q, &mut one_pods)
            );
        }
    }
}
