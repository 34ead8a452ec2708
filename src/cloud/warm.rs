//! Warm pools (user guide, ec2-auto-scaling-warm-pools): instances launched
//! and initialized ahead of need and kept stopped (the default) or running.
//! When the group must add capacity it takes a warm instance first, which
//! only has to start and join; it then launches a new one to refill the
//! pool. A stopped instance's compute is not billed. Warm instances are not
//! in service: faults other than a zone outage do not hit them, and they
//! have no node.

use crate::engine::{Context, Millis};

use super::{AsgId, Cloud, CloudEvent, InstanceState, Warm};

impl Cloud {
    /// At the start of a run the pool is full and already initialized.
    pub(super) fn start_warm_pool(&mut self, asg: AsgId, now: Millis) {
        let Some(w) = self.asgs[asg.index()].spec.warm_pool.clone() else {
            return;
        };
        let zones = self.asgs[asg.index()].zone_ids.clone();
        for k in 0..w.size as usize {
            let zone = zones[k % zones.len().max(1)];
            let t = self.asgs[asg.index()].spec.instance_type;
            let spot = self.asgs[asg.index()].spec.spot;
            let id = self.create_instance(asg, zone, t, now, true, spot);
            let inst = &mut self.instances[id.index()];
            inst.state = InstanceState::Running;
            inst.running_at = Some(now);
            self.warm_initialized(id, now);
        }
    }

    /// A warm-pool instance finished initializing: it waits, stopped or
    /// running.
    pub(super) fn warm_initialized(&mut self, id: super::InstanceId, now: Millis) {
        let stopped = self.asgs[self.instances[id.index()].asg.index()]
            .spec
            .warm_pool
            .as_ref()
            .is_none_or(|w| w.stopped);
        let inst = &mut self.instances[id.index()];
        inst.warm = Some(Warm::Ready);
        if stopped {
            inst.stopped_since = Some(now);
        }
    }

    /// Takes a ready warm instance into service, in the first zone of the
    /// launch order that has one and is up. Returns whether it did.
    pub(super) fn take_warm<E: From<CloudEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        asg: AsgId,
    ) -> bool {
        let now = ctx.now();
        let g = &self.asgs[asg.index()];
        let Some(spec) = g.spec.warm_pool.clone() else {
            return false;
        };
        let mut order = std::mem::take(&mut self.scratch_zones);
        g.zones_for_launch(&mut order);
        let pick = order.iter().find_map(|&local| {
            let zone = g.zone_ids[local];
            if self.zone_down_until[zone] > now {
                return None;
            }
            g.warm.iter().position(|&w| {
                let i = &self.instances[w.index()];
                i.zone == zone && i.warm == Some(Warm::Ready)
            })
        });
        self.scratch_zones = order;
        let Some(pos) = pick else {
            return false;
        };
        let id = self.asgs[asg.index()].warm.remove(pos);
        let inst = &mut self.instances[id.index()];
        inst.warm = None;
        inst.counted = true;
        if let Some(s) = inst.stopped_since.take() {
            inst.stopped_total += now.saturating_sub(s);
        }
        inst.running_at = Some(now);
        let zone = inst.zone;
        self.asgs[asg.index()].count(id, zone);
        let delay = spec.delay.sample(&mut self.launch_rng);
        ctx.schedule_in(delay, CloudEvent::InstanceBooted(id));
        self.arm_mtbf(ctx, id);
        true
    }

    /// Launches warm instances until the pool has its size. Returns false
    /// if a launch failed (the caller retries later).
    pub(super) fn refill_warm<E: From<CloudEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        asg: AsgId,
    ) -> bool {
        let size = self.asgs[asg.index()]
            .spec
            .warm_pool
            .as_ref()
            .map_or(0, |w| w.size);
        while (self.asgs[asg.index()].warm.len() as u32) < size {
            if self.try_launch(ctx, asg, None, true).is_none() {
                self.launch_failures += 1;
                return false;
            }
        }
        true
    }
}
