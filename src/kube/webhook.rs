//! Validating/mutating admission webhooks with `failurePolicy: Fail`.
//!
//! A service workload may serve a webhook that intercepts the creation of
//! some workloads' pods. While the service has fewer Running pods than its
//! minimum, the API server cannot reach it and, with `failurePolicy: Fail`,
//! rejects those creations. The owning controller's sync fails and is
//! retried through its work queue's rate limiter: per item, 5 ms doubling
//! up to 1000 s (`workqueue.DefaultControllerRateLimiter`,
//! `k8s.io/client-go/util/workqueue/default_rate_limiters.go`). One failed
//! sync is one failure, whatever the number of pods it wanted to create
//! (slow start stops at the first error). Pods that existed before the
//! webhook was installed (the initial fleet) are not affected.

use crate::engine::{Context, Millis};

use super::events::KubeEvent;
use super::{Cluster, WorkloadId};

impl Cluster {
    /// Whether a webhook that gates `w`'s pods is down.
    pub(super) fn creation_blocked(&self, w: WorkloadId) -> bool {
        self.workloads[w.index()]
            .spec
            .webhooks
            .iter()
            .any(|&s| self.workloads[s.index()].is_unavailable())
    }

    /// A controller's create call: rejected while a gating webhook is down,
    /// in which case the slot waits for the workload's next retry.
    pub(super) fn try_create_pod<E: From<KubeEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        w: WorkloadId,
        slot: u32,
    ) {
        if self.workloads[w.index()].spec.webhooks.is_empty() {
            self.create_pod(ctx, w, slot);
            return;
        }
        let retry_armed = !self.workloads[w.index()].blocked_slots.is_empty();
        if retry_armed || self.creation_blocked(w) {
            self.workloads[w.index()].blocked_slots.push(slot);
            if !retry_armed {
                self.status.webhook_rejections += 1;
                self.note(super::KubeRecord::CreationRejected(w));
                self.arm_create_retry(ctx, w);
            }
            return;
        }
        self.create_pod(ctx, w, slot);
    }

    fn arm_create_retry<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>, w: WorkloadId) {
        let delay = self.retry_delay(w);
        ctx.schedule_in(delay, KubeEvent::RetryCreate(w));
    }

    /// The work queue's per-item backoff after one more failed sync of
    /// `w`: 5 ms doubling per consecutive failure, at most 1000 s.
    pub(super) fn retry_delay(&mut self, w: WorkloadId) -> Millis {
        let wl = &mut self.workloads[w.index()];
        let base = self.config.controller_retry_initial.0;
        let max = self.config.controller_retry_max.0;
        let delay = base
            .saturating_mul(1u64 << wl.create_failures.min(40))
            .min(max);
        wl.create_failures += 1;
        Millis(delay)
    }

    /// The controller's requeued sync: create every waiting slot if the
    /// webhooks answer, else back off again.
    pub(super) fn retry_create<E: From<KubeEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        w: WorkloadId,
    ) {
        if self.creation_blocked(w) {
            self.status.webhook_rejections += 1;
            self.note(super::KubeRecord::CreationRejected(w));
            self.arm_create_retry(ctx, w);
            return;
        }
        self.workloads[w.index()].create_failures = 0;
        let slots = std::mem::take(&mut self.workloads[w.index()].blocked_slots);
        for slot in slots {
            self.create_pod(ctx, w, slot);
        }
    }
}
