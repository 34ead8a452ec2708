//! The ReplicaSet controller's pod creation
//! (`pkg/controller/replicaset/replica_set.go`, kubernetes release-1.32)
//! and the API client rate limiter every controller's client has.
//!
//! A pod of a ReplicaSet (a Deployment's) that goes away frees its replica
//! slot and, once the controller's informer has seen it
//! (`controller_delay`), adds the ReplicaSet's key to the controller's work
//! queue (client-go `workqueue`: first in, first out; a key is queued at
//! most once, and a key added while a worker syncs it is queued again when
//! that sync ends). `--concurrent-replicaset-syncs` workers take keys from
//! the queue. A sync creates the missing pods, at most `burstReplicas` of
//! them, in slow-start batches of 1, 2, 4, ... (`slowStartBatch`): each
//! batch's calls go out together and the next batch starts when all of them
//! have returned. Every call first waits for a token of the controller's
//! API client (`--kube-api-qps` / `--kube-api-burst`); tokens go to callers
//! in the order they asked, whichever worker they belong to. A call
//! rejected by an admission webhook ends the sync after its batch; the key
//! is then re-added after the work queue's per-item backoff (5 ms doubling
//! to 1000 s), and a successful sync resets that backoff. As in client-go's
//! delaying queue (`AddAfter`), a key already waiting keeps the sooner of
//! its two times: a sync that fails again while its retry waits (a key
//! re-queued by `Done`) does not add a second retry.
//!
//! Simplifications: API calls take no time beyond their wait for a token,
//! and status updates (which spend tokens too) are not modelled.

use std::collections::VecDeque;

use crate::engine::{Context, Millis};

use super::events::KubeEvent;
use super::{Cluster, KubeRecord, WorkloadId};

/// A client-go token bucket (`flowcontrol.NewTokenBucketRateLimiter` over
/// `golang.org/x/time/rate`): `burst` calls at once, then one every
/// `interval`, callers served in the order they asked. Kept as the
/// theoretical arrival time of the generic cell rate algorithm, which is
/// the same bucket in integer milliseconds.
#[derive(Debug, Clone)]
pub(crate) struct RateLimiter {
    interval: Millis,
    burst: u32,
    /// When the bucket would be empty if no more calls came (the next
    /// call's earliest time, plus the burst's tolerance).
    tat: Millis,
}

impl RateLimiter {
    /// A full bucket.
    pub fn new(interval: Millis, burst: u32) -> Self {
        RateLimiter {
            interval,
            burst: burst.max(1),
            tat: Millis::ZERO,
        }
    }

    /// Reserves one call asked for at `now`; returns when it may go.
    pub fn reserve(&mut self, now: Millis) -> Millis {
        let tolerance = Millis(self.interval.0.saturating_mul(u64::from(self.burst - 1)));
        let at = now.max(self.tat.saturating_sub(tolerance));
        self.tat = self.tat.max(at) + self.interval;
        at
    }
}

/// One worker's sync in progress.
#[derive(Debug, Clone, Copy)]
struct Sync {
    workload: WorkloadId,
    /// Creations of this sync not yet sent.
    remaining: u32,
    /// Size of the current slow-start batch.
    batch: u32,
    /// Calls of the current batch not yet returned.
    in_flight: u32,
    /// A call of this sync was rejected: no further batch.
    failed: bool,
}

/// The ReplicaSet controller: its work queue, its workers and its API
/// client.
#[derive(Debug, Clone)]
pub(crate) struct ReplicaSetController {
    /// Keys waiting for a worker, in the order they were added.
    queue: VecDeque<WorkloadId>,
    /// Per workload: added and not yet taken by a worker (client-go's
    /// `dirty` set).
    dirty: Vec<bool>,
    /// Per workload: a worker is syncing it.
    processing: Vec<bool>,
    /// Per workload: when its rate-limited re-add is due (the delaying
    /// queue's `waitingForQueue`).
    waiting: Vec<Option<Millis>>,
    /// One slot per worker.
    workers: Vec<Option<Sync>>,
    /// `burstReplicas`: most creations in one sync.
    burst_replicas: u32,
    /// The controller's API client.
    client: RateLimiter,
}

impl ReplicaSetController {
    /// An idle controller for `workloads` keys.
    pub fn new(workloads: usize, workers: u32, burst_replicas: u32, client: RateLimiter) -> Self {
        ReplicaSetController {
            queue: VecDeque::new(),
            dirty: vec![false; workloads],
            processing: vec![false; workloads],
            waiting: vec![None; workloads],
            // More workers than ReplicaSets never sync more at once (a key
            // is synced by one worker at a time), so the extra ones are
            // not kept: a huge `--concurrent-replicaset-syncs` costs no
            // memory and worker indices fit the event's u16.
            workers: vec![None; (workers.max(1) as usize).min(workloads.max(1))],
            burst_replicas: burst_replicas.max(1),
            client,
        }
    }

    /// `workqueue.Add`.
    fn add(&mut self, w: WorkloadId) {
        if self.dirty[w.index()] {
            return;
        }
        self.dirty[w.index()] = true;
        if !self.processing[w.index()] {
            self.queue.push_back(w);
        }
    }

    /// `workqueue.Get`: the next key, if any.
    fn get(&mut self) -> Option<WorkloadId> {
        let w = self.queue.pop_front()?;
        self.processing[w.index()] = true;
        self.dirty[w.index()] = false;
        Some(w)
    }

    /// Whether the rate-limited re-add of `w` due at `now` is its pending
    /// one (a sooner re-add replaces a later one); if so it is no longer
    /// pending.
    fn retry_due(&mut self, w: WorkloadId, now: Millis) -> bool {
        let waiting = &mut self.waiting[w.index()];
        if *waiting != Some(now) {
            return false;
        }
        *waiting = None;
        true
    }

    /// `AddRateLimited` through the delaying queue: `w` is re-added at
    /// `at` unless a sooner re-add is pending; says whether `at` is now
    /// the pending one (its event must be scheduled).
    fn retry_at(&mut self, w: WorkloadId, at: Millis) -> bool {
        let waiting = &mut self.waiting[w.index()];
        if waiting.is_none_or(|due| at < due) {
            *waiting = Some(at);
            return true;
        }
        false
    }

    /// `workqueue.Done`: a key added during the sync is queued again.
    fn done(&mut self, w: WorkloadId) {
        self.processing[w.index()] = false;
        if self.dirty[w.index()] {
            self.queue.push_back(w);
        }
    }
}

impl Cluster {
    /// A Deployment's pod in replica slot `slot` went away: the slot is
    /// free, and the ReplicaSet's key reaches the work queue once the
    /// informer has seen it.
    pub(super) fn replica_gone<E: From<KubeEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        w: WorkloadId,
        slot: u32,
    ) {
        self.workloads[w.index()].free_slots.push(slot);
        ctx.schedule_in(self.config.controller_delay, KubeEvent::ReplicaSetAdd(w));
    }

    /// The ReplicaSet's key is added to the work queue; idle workers take
    /// keys.
    pub(super) fn replicaset_add<E: From<KubeEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        w: WorkloadId,
    ) {
        self.controllers.replicasets.add(w);
        self.start_syncs(ctx);
    }

    /// A rate-limited re-add falls due: the key joins the queue, unless a
    /// sooner re-add replaced this one.
    pub(super) fn replicaset_retry<E: From<KubeEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        w: WorkloadId,
    ) {
        if self.controllers.replicasets.retry_due(w, ctx.now()) {
            self.replicaset_add(ctx, w);
        }
    }

    /// Idle workers take keys and start their syncs.
    fn start_syncs<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>) {
        for k in 0..self.controllers.replicasets.workers.len() {
            loop {
                let rs = &mut self.controllers.replicasets;
                if rs.workers[k].is_some() {
                    break;
                }
                let Some(w) = rs.get() else {
                    return;
                };
                let missing = self.workloads[w.index()].free_slots.len() as u32;
                let remaining = missing.min(rs.burst_replicas);
                if remaining == 0 {
                    rs.done(w);
                    continue;
                }
                rs.workers[k] = Some(Sync {
                    workload: w,
                    remaining,
                    batch: 0,
                    in_flight: 0,
                    failed: false,
                });
                self.next_batch(ctx, k);
            }
        }
    }

    /// Sends worker `k`'s next slow-start batch: each call waits for its
    /// token.
    fn next_batch<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>, k: usize) {
        let rs = &mut self.controllers.replicasets;
        let Some(sync) = rs.workers[k].as_mut() else {
            return;
        };
        let size = if sync.batch == 0 {
            1
        } else {
            sync.batch.saturating_mul(2)
        }
        .min(sync.remaining);
        sync.batch = size;
        sync.remaining -= size;
        sync.in_flight = size;
        for _ in 0..size {
            let at = rs.client.reserve(ctx.now());
            ctx.schedule_at(at, KubeEvent::ReplicaSetCreate(k as u16));
        }
    }

    /// One create call of worker `k` returns: a pod exists, or a webhook
    /// rejected it. The last call of a batch starts the next one, or ends
    /// the sync.
    pub(super) fn replicaset_create<E: From<KubeEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        k: u16,
    ) {
        let k = usize::from(k);
        let Some(sync) = self.controllers.replicasets.workers[k] else {
            return;
        };
        let w = sync.workload;
        let mut failed = sync.failed;
        if self.creation_blocked(w) {
            failed = true;
        } else if let Some(slot) = self.workloads[w.index()].free_slots.pop() {
            self.create_pod(ctx, w, slot);
            // The informer sees the new pod: the key is added again.
            self.controllers.replicasets.add(w);
        }
        let Some(sync) = self.controllers.replicasets.workers[k].as_mut() else {
            return;
        };
        sync.failed = failed;
        sync.in_flight -= 1;
        if sync.in_flight > 0 {
            return;
        }
        if sync.remaining > 0 && !sync.failed {
            self.next_batch(ctx, k);
            return;
        }
        self.controllers.replicasets.workers[k] = None;
        if failed {
            // The sync returned an error: `AddRateLimited`.
            self.status.webhook_rejections += 1;
            self.note(KubeRecord::CreationRejected(w));
            let at = ctx.now() + self.retry_delay(w);
            if self.controllers.replicasets.retry_at(w, at) {
                ctx.schedule_at(at, KubeEvent::ReplicaSetRetry(w));
            }
        } else {
            // `Forget`: the backoff starts over.
            self.workloads[w.index()].create_failures = 0;
        }
        self.controllers.replicasets.done(w);
        self.start_syncs(ctx);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::RateLimiter;
    use crate::engine::{Context, Millis, Model, RngStreams, Simulation};
    use crate::kube::affinity::NodeAffinity;
    use crate::kube::{
        Cluster, KubeConfig, KubeEvent, PodClass, PoolInfo, PreemptionPolicy, WorkloadId,
        WorkloadKind, WorkloadSpec,
    };

    /// A cluster driven by its own events only.
    struct Alone(Cluster);

    impl Model for Alone {
        type Event = KubeEvent;
        fn handle(&mut self, ctx: &mut Context<'_, KubeEvent>, e: KubeEvent) {
            self.0.handle(ctx, e);
        }
    }

    fn deployment(name: &str, replicas: u32) -> WorkloadSpec {
        WorkloadSpec {
            name: name.to_string(),
            class: PodClass::User,
            replicas,
            requests: Default::default(),
            node_selector: BTreeMap::new(),
            min_available: None,
            needs: Vec::new(),
            kind: WorkloadKind::Deployment,
            priority: 0,
            preemption_policy: PreemptionPolicy::PreemptLowerPriority,
            tolerations: Vec::new(),
            affinity: NodeAffinity::default(),
            termination_grace: Millis::from_secs(30),
            placeholder: false,
            webhooks: Vec::new(),
            job: None,
            pdb: None,
            statefulset: None,
            do_not_disrupt: false,
            readiness_delay: None,
            topology_spread: Vec::new(),
            pod_affinity: Default::default(),
        }
    }

    /// Pods of each workload that exist.
    fn counts(c: &Cluster) -> Vec<u32> {
        let mut n = vec![0; c.workloads().len()];
        for p in c.pods() {
            n[p.workload.index()] += 1;
        }
        n
    }

    /// Five ReplicaSets of 3, 3, 2, 300 and 40 pods lose every pod at 0 s;
    /// their keys reach the queue in that order (informer delay 0). Five
    /// workers take A..E; QPS 20 (a token every 50 ms) and burst 30, tokens
    /// in the order asked. Batches of 1 (tokens 1-5 at 0 s), then A 2, B 2,
    /// C 1, D 2, E 2 (6-14), A, B and C are done; D 4 (15-18), E 4
    /// (19-22); D 8 (23-30, the last of the burst, at 0 s); E 8 (31-38, at
    /// 50, 100, ..., 400 ms); D 16 (39-54, at 450 ... 1200 ms); after E's
    /// batch returns at 400 ms, E 16 (55-70, at 1250 ... 2000 ms); D 32
    /// from 2050 ms. So at 0.1 s: 3, 3, 2, 15, 9 (E's 50 and 100 ms calls);
    /// at 0.5 s: D 17 (450, 500 ms), E 15; at 2 s: D 31, E 31; 70 pods, the
    /// 30 of the burst and one per 50 ms.
    ///
    /// With one worker the ReplicaSets sync one after another: D's 300
    /// creations take tokens 9 to 308 and E waits for them.
    #[test]
    fn five_replicasets_after_a_mass_loss() {
        for (workers, expect) in [
            (5, [[3, 3, 2, 15, 9], [3, 3, 2, 17, 15], [3, 3, 2, 31, 31]]),
            // As many workers as one could ask for: five are enough for
            // five ReplicaSets, and the rest are not allocated.
            (
                u32::MAX,
                [[3, 3, 2, 15, 9], [3, 3, 2, 17, 15], [3, 3, 2, 31, 31]],
            ),
            (1, [[3, 3, 2, 24, 0], [3, 3, 2, 32, 0], [3, 3, 2, 62, 0]]),
        ] {
            let config = KubeConfig {
                controller_delay: Millis::ZERO,
                concurrent_replicaset_syncs: workers,
                ..KubeConfig::default()
            };
            let specs = [("a", 3), ("b", 3), ("c", 2), ("d", 300), ("e", 40)]
                .iter()
                .map(|&(n, r)| deployment(n, r))
                .collect();
            let cluster = Cluster::new(config, specs, &[PoolInfo::default()], &RngStreams::new(1));
            let mut m = Alone(cluster);
            let mut sim = Simulation::new();
            sim.with_context(|ctx| {
                for w in 0..5u16 {
                    for slot in 0..m.0.workloads()[usize::from(w)].spec.replicas {
                        m.0.replica_gone(ctx, WorkloadId(w), slot);
                    }
                }
            });
            for (t, want) in [100, 500, 2000].into_iter().zip(expect) {
                sim.run_until(&mut m, Millis(t));
                assert_eq!(counts(&m.0), want, "{workers} workers at {t} ms");
            }
        }
    }

    /// QPS 20, burst 30: thirty calls at once, then one every 50 ms; a
    /// bucket left alone refills.
    #[test]
    fn token_bucket_burst_then_rate() {
        let mut b = RateLimiter::new(Millis(50), 30);
        let t: Vec<u64> = (0..32).map(|_| b.reserve(Millis::ZERO).0).collect();
        assert!(t[..30].iter().all(|&x| x == 0));
        assert_eq!(&t[30..], &[50, 100]);
        // Asked at 120 ms, the 33rd call waits for the 150 ms token.
        assert_eq!(b.reserve(Millis(120)).0, 150);
        // After 10 s idle the bucket is full again.
        let t: Vec<u64> = (0..31).map(|_| b.reserve(Millis(10_150)).0).collect();
        assert!(t[..30].iter().all(|&x| x == 10_150));
        assert_eq!(t[30], 10_200);
        // A burst as large as the key allows does not overflow: every call
        // of a fresh bucket goes at once.
        let mut b = RateLimiter::new(Millis(u64::MAX / 4), u32::MAX);
        assert!((0..3).all(|_| b.reserve(Millis(5)) == Millis(5)));
    }
}
