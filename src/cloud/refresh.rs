//! Instance refresh: rolling replacement of a group's instances.
//!
//! AWS replaces instances in batches so that at least
//! `MinHealthyPercentage` of desired capacity (rounded up) stays healthy;
//! 100 % replaces one instance at a time and 0 % all at once. Below 100 %
//! it terminates a batch first and then launches the replacements, and it
//! waits for each new instance to be healthy and warmed up before the next
//! batch (user guide, instance-refresh-overview and
//! understand-instance-refresh-default-values; API RefreshPreferences).
//! Scale-in protected instances are skipped, as with the `Ignore`
//! preference (AWS's default, `Wait`, waits an hour and then fails).

use crate::engine::{Context, Millis};

use super::asg::Refresh;
use super::{AsgId, Cloud, CloudEvent};

impl Cloud {
    pub(super) fn start_refresh<E: From<CloudEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        asg: AsgId,
        min_healthy_percentage: u32,
        warmup: Option<Millis>,
    ) {
        let g = &mut self.asgs[asg.index()];
        g.generation += 1;
        g.refresh = Some(Refresh {
            generation: g.generation,
            min_healthy_percentage,
            warmup: warmup.unwrap_or(g.spec.health_check_grace_period),
        });
        self.refresh_step(ctx, asg);
    }

    /// Replaces the next batch if every instance is healthy and warmed up.
    pub(super) fn refresh_step<E: From<CloudEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        asg: AsgId,
    ) {
        let now = ctx.now();
        let g = &self.asgs[asg.index()];
        let Some(r) = g.refresh else {
            return;
        };
        let is_old = |id: &super::InstanceId| {
            let i = &self.instances[id.index()];
            i.generation < r.generation && !i.protected
        };
        let old = g.members.iter().filter(|id| is_old(id)).count() as u32;
        if old == 0 {
            self.asgs[asg.index()].refresh = None;
            return;
        }
        let settled = g.live() >= g.spec.desired
            && g.members
                .iter()
                .all(|id| self.instances[id.index()].warmed_up(now, r.warmup));
        if !settled {
            return;
        }
        let desired = g.spec.desired;
        let required = (desired * r.min_healthy_percentage).div_ceil(100);
        let batch = desired.saturating_sub(required).max(1).min(old);
        let mut victims = Vec::with_capacity(batch as usize);
        for _ in 0..batch {
            let v = self.asgs[asg.index()].termination_victim(&self.instances, now, |i| {
                i.generation >= r.generation || victims.contains(&i.id)
            });
            match v {
                Some(v) => victims.push(v),
                None => break,
            }
        }
        for v in victims {
            // The group replaces what it terminates itself at once.
            self.terminate_instance(ctx, v, Millis::ZERO, super::TerminationReason::Refresh);
        }
    }
}
