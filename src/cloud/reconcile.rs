//! What a group does over time: the reconcile loop that replaces lost
//! capacity, EC2 health checks with their grace period, and AZ rebalancing.

use crate::engine::{Context, Millis};

use super::{AsgId, Cloud, CloudEvent, CloudNotice, InstanceId, InstanceState, TerminationReason};

impl Cloud {
    /// Launches what the group lacks of its desired count; if a launch fails
    /// everywhere, retries after a doubling backoff. Once at its desired
    /// count, rebalances zones.
    pub(super) fn reconcile<E: From<CloudEvent>>(&mut self, ctx: &mut Context<'_, E>, asg: AsgId) {
        self.asgs[asg.index()].reconcile_pending = false;
        let missing = self.asgs[asg.index()].missing();
        for _ in 0..missing {
            if self.take_warm(ctx, asg) {
                continue;
            }
            if self.try_launch(ctx, asg, None, false).is_none() {
                self.launch_failures += 1;
                self.note(super::CloudRecord::LaunchFailed(asg));
                let lf = &self.config.launch_failures;
                let g = &mut self.asgs[asg.index()];
                g.backoff = if g.backoff == Millis::ZERO {
                    lf.retry_backoff
                } else {
                    Millis((g.backoff.0 * 2).min(lf.max_retry_backoff.0))
                };
                let wait = g.backoff;
                self.request_reconcile(ctx, asg, wait);
                return;
            }
        }
        if !self.refill_warm(ctx, asg) {
            let wait = self.config.launch_failures.retry_backoff;
            self.request_reconcile(ctx, asg, wait);
            return;
        }
        self.asgs[asg.index()].backoff = Millis::ZERO;
        self.rebalance_zones(ctx, asg);
    }

    /// The instance's kubelet is Ready: tell the world, then finish what
    /// waited for it (an AZ rebalance, the next instance-refresh batch).
    pub(super) fn booted<E: From<CloudEvent>>(&mut self, ctx: &mut Context<'_, E>, id: InstanceId) {
        let now = ctx.now();
        let inst = &mut self.instances[id.index()];
        if inst.state != InstanceState::Running || inst.impaired_at.is_some() {
            return;
        }
        if inst.warm.is_some() {
            self.warm_initialized(id, now);
            return;
        }
        inst.booted_at = Some(now);
        let asg = inst.asg;
        self.notices.push(CloudNotice::Booted(id));
        self.note(super::CloudRecord::Booted(id));
        if self.instances[id.index()].rebalance {
            self.instances[id.index()].rebalance = false;
            let g = &mut self.asgs[asg.index()];
            g.rebalancing = g.rebalancing.saturating_sub(1);
            // "Launches new instances before terminating the old ones"
            // (auto-scaling-benefits): the victim goes once its replacement
            // is up, chosen by the termination policy, which starts with
            // the zone holding the most instances.
            let victim = self.asgs[asg.index()].termination_victim(&self.instances, now, |i| {
                i.id == id || i.rebalance || i.zone == self.instances[id.index()].zone
            });
            if let Some(v) = victim {
                self.terminate_instance(ctx, v, Millis::ZERO, TerminationReason::AzRebalance);
            }
        }
        if let Some(r) = self.asgs[asg.index()].refresh {
            ctx.schedule_in(r.warmup, CloudEvent::RefreshStep(asg));
        }
    }

    /// An MTBF failure: the instance fails its status checks. Its node stops
    /// heartbeating now; the ASG replaces it once its health check notices,
    /// but never within the grace period after the instance went InService.
    pub(super) fn impair<E: From<CloudEvent>>(&mut self, ctx: &mut Context<'_, E>, id: InstanceId) {
        let now = ctx.now();
        let inst = &mut self.instances[id.index()];
        if inst.state != InstanceState::Running || inst.impaired_at.is_some() {
            return;
        }
        inst.impaired_at = Some(now);
        let grace_end = inst.running_at.unwrap_or(now)
            + self.asgs[inst.asg.index()].spec.health_check_grace_period;
        let check_at = (now + self.config.impaired_detection).max(grace_end);
        ctx.schedule_at(check_at, CloudEvent::HealthCheck(id));
        self.notices.push(CloudNotice::Unreachable(id));
        self.notices.push(CloudNotice::Struck);
    }

    /// A zone is back: its groups rebalance into it.
    pub(super) fn zone_back<E: From<CloudEvent>>(&mut self, ctx: &mut Context<'_, E>, zone: usize) {
        if self.zone_down_until[zone] > ctx.now() {
            return;
        }
        for g in 0..self.asgs.len() {
            if self.asgs[g].local_zone(zone).is_some() {
                self.request_reconcile(ctx, super::AsgId(g as u16), Millis::ZERO);
            }
        }
    }

    /// AZ rebalancing: while the emptiest available zone has two fewer
    /// instances than the fullest, launch into it; the fullest zone loses an
    /// instance when the new one is up. The group may exceed its maximum by
    /// max(10 % of max, 1) meanwhile (auto-scaling-benefits).
    fn rebalance_zones<E: From<CloudEvent>>(&mut self, ctx: &mut Context<'_, E>, asg: AsgId) {
        let now = ctx.now();
        loop {
            let g = &self.asgs[asg.index()];
            if !g.spec.az_rebalance || g.zone_ids.len() < 2 {
                return;
            }
            let surge = (g.spec.max / 10).max(1);
            if g.live() >= g.spec.max + surge || g.rebalancing >= surge {
                return;
            }
            let available =
                (0..g.zone_ids.len()).filter(|&z| self.zone_down_until[g.zone_ids[z]] <= now);
            let Some(low) = available.min_by_key(|&z| (g.live_per_zone[z], z)) else {
                return;
            };
            let high = g.live_per_zone.iter().copied().max().unwrap_or(0);
            if high < g.live_per_zone[low] + 2 {
                return;
            }
            let zone = g.zone_ids[low];
            match self.try_launch(ctx, asg, Some(zone), false) {
                Some(id) => {
                    self.instances[id.index()].rebalance = true;
                    self.asgs[asg.index()].rebalancing += 1;
                }
                None => return,
            }
        }
    }

    /// Draws, for a newly running instance, its failure time under every
    /// active `instance_failures` fault that targets it.
    pub(super) fn arm_mtbf<E: From<CloudEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        id: InstanceId,
    ) {
        for k in 0..self.active_mtbf.len() {
            let f = self.active_mtbf[k];
            self.draw_failure(ctx, f, id);
        }
    }
}

impl Cloud {
    /// Sets a group's desired capacity, clamped to [min, max], as a scaling
    /// policy or the cluster autoscaler would. Scaling out launches at once;
    /// scaling in terminates the surplus chosen by the `Default` termination
    /// policy, skipping protected instances: if every instance is
    /// protected, the desired count drops and nothing terminates (user
    /// guide, ec2-auto-scaling-instance-protection). Returns the new desired
    /// capacity.
    pub fn set_desired<E: From<CloudEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        asg: AsgId,
        desired: u32,
    ) -> u32 {
        let now = ctx.now();
        let g = &mut self.asgs[asg.index()];
        let desired = desired.clamp(g.spec.min, g.spec.max);
        g.spec.desired = desired;
        let surplus = g.live().saturating_sub(desired);
        for _ in 0..surplus {
            let victim = self.asgs[asg.index()].termination_victim(&self.instances, now, |_| false);
            match victim {
                // The group chose this itself: nothing to replace.
                Some(v) => {
                    self.terminate_instance(ctx, v, Millis::ZERO, TerminationReason::ScaleIn)
                }
                None => break,
            }
        }
        self.request_reconcile(ctx, asg, Millis::ZERO);
        desired
    }

    /// `TerminateInstanceInAutoScalingGroup` with
    /// `ShouldDecrementDesiredCapacity`: the cluster autoscaler removing a
    /// node it chose. The desired count drops by one (never below the
    /// group's minimum) and this instance, not a termination-policy victim,
    /// goes; nothing replaces it.
    pub fn terminate_and_decrement<E: From<CloudEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        id: InstanceId,
    ) {
        let inst = &self.instances[id.index()];
        if !inst.is_live() {
            return;
        }
        let g = &mut self.asgs[inst.asg.index()];
        g.spec.desired = g.spec.desired.saturating_sub(1).max(g.spec.min);
        self.terminate_instance(ctx, id, Millis::ZERO, TerminationReason::ScaleIn);
    }

    /// The allocatable capacity and pod slots of a node of the group's
    /// first instance type: the cluster autoscaler's template node (it
    /// templates from the first type of a mixed-instances group; CA
    /// `cloudprovider/aws/README.md`).
    pub fn template_of(&self, asg: AsgId) -> (crate::quantity::Resources, u32) {
        let t = &self.types[self.asgs[asg.index()].spec.instance_type];
        (t.allocatable_with(&self.config.reservation), t.max_pods)
    }

    /// The capacity (vCPUs, memory, GPUs) of the group's first instance
    /// type.
    pub fn capacity_of(&self, asg: AsgId) -> crate::quantity::Resources {
        self.types[self.asgs[asg.index()].spec.instance_type].capacity()
    }
}
