//! The fault library: what takes instances away, when, and which ones.
//!
//! Every fault strikes once at `at`, or repeatedly: with `every`, strikes
//! come at `at + d1`, `at + d1 + d2`, ... with each interval drawn from the
//! fault's own generator, until `until` (or the horizon). Strike times are
//! drawn from a generator that nothing else uses, so they are the same under
//! every policy of a seed. Victims come from a second generator of the
//! fault: the candidates (live instances of the targeted groups and zone,
//! Spot only for interruptions) are sorted by instance id and a seeded
//! partial shuffle picks the share asked for.

use rand::Rng;
use rand::seq::SliceRandom;

use crate::engine::{Context, Millis};

use super::{AsgId, Cloud, CloudEvent, CloudNotice, InstanceId, InstanceState};
use crate::quantity::Delay;

/// Which instances a fault may hit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Target {
    /// Only the pool (ASG) of this name; a policy without such a pool is not
    /// hit at all.
    pub pool: Option<String>,
    /// Only instances in this zone (scenario zone index).
    pub zone: Option<usize>,
}

/// How many of the candidates a strike hits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Victims {
    /// This share, rounded to the nearest whole instance.
    Fraction(f64),
    /// This many (or all, if fewer).
    Count(u32),
}

/// What a fault does when it strikes.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// Every targeted instance is terminated (the story).
    TerminateAll,
    /// A share of the targeted instances is terminated, at once or spread
    /// evenly over `over` (the first at the strike).
    TerminateFraction {
        /// How many.
        victims: Victims,
        /// Spread.
        over: Millis,
    },
    /// The target zone fails for `duration`: its instances die and no
    /// launch succeeds there until it is back.
    ZoneOutage {
        /// How long.
        duration: Millis,
    },
    /// From the strike on, each targeted running instance fails its status
    /// checks after an exponential lifetime with this mean.
    InstanceFailures {
        /// Mean time between failures of one instance.
        mtbf: Millis,
    },
    /// Spot interruptions: victims get a notice and are terminated when it
    /// runs out (2 minutes on AWS: user guide,
    /// ec2-auto-scaling-capacity-rebalancing).
    SpotInterruption {
        /// How many Spot instances per strike.
        victims: Victims,
        /// Notice before termination.
        notice: Millis,
        /// Cordon and drain the node on notice (AWS node termination
        /// handler).
        drain: bool,
    },
    /// Instance refresh: rolling replacement of every instance launched
    /// before the strike, keeping `min_healthy_percentage` of desired
    /// capacity healthy (AWS default 90; user guide,
    /// understand-instance-refresh-default-values).
    InstanceRefresh {
        /// `MinHealthyPercentage`.
        min_healthy_percentage: u32,
        /// `InstanceWarmup`; `None` uses the group's health check grace
        /// period, as AWS does without a default warmup.
        warmup: Option<Millis>,
    },
}

/// A fault the scenario injects.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// What it does.
    pub kind: FaultKind,
    /// What it hits.
    pub target: Target,
    /// First strike, or the start of a random process.
    pub at: Millis,
    /// Intervals between strikes of a random process.
    pub every: Option<Delay>,
    /// No strike at or after this time.
    pub until: Option<Millis>,
}

impl Fault {
    /// A fault striking once.
    pub fn once(kind: FaultKind, at: Millis) -> Self {
        Fault {
            kind,
            target: Target::default(),
            at,
            every: None,
            until: None,
        }
    }

    /// When the fault first strikes (the start of a random process).
    pub fn at(&self) -> Millis {
        self.at
    }

    /// One line for `validate`: kind, parameters, target and timing.
    pub fn describe(&self, zones: &[String]) -> String {
        use crate::quantity::format_duration as d;
        let victims = |v: &Victims| match v {
            Victims::Fraction(x) => format!("{x} of"),
            Victims::Count(n) => format!("{n} of"),
        };
        let what = match &self.kind {
            FaultKind::TerminateAll => "terminate_all".to_string(),
            FaultKind::TerminateFraction { victims: v, over } => {
                format!(
                    "terminate_fraction {} the instances over {}",
                    victims(v),
                    d(*over)
                )
            }
            FaultKind::ZoneOutage { duration } => format!("zone_outage for {}", d(*duration)),
            FaultKind::InstanceFailures { mtbf } => format!("instance_failures, mtbf {}", d(*mtbf)),
            FaultKind::SpotInterruption {
                victims: v,
                notice,
                drain,
            } => format!(
                "spot_interruption of {} the Spot instances, notice {}{},",
                victims(v),
                d(*notice),
                if *drain { ", drained" } else { "" }
            ),
            FaultKind::InstanceRefresh {
                min_healthy_percentage,
                warmup,
            } => format!(
                "instance_refresh, min healthy {min_healthy_percentage}%, warmup {}",
                warmup.map_or("= grace period".to_string(), d)
            ),
        };
        let pool = self.target.pool.as_deref().unwrap_or("every pool");
        let zone = self
            .target
            .zone
            .and_then(|z| zones.get(z))
            .map_or("every zone", |z| z.as_str());
        let when = match &self.every {
            None => format!("at {}", d(self.at)),
            Some(e) => format!("every {} from {}", e.describe(), d(self.at)),
        };
        let until = self
            .until
            .map_or(String::new(), |u| format!(" until {}", d(u)));
        format!("{what} on {pool} in {zone}, {when}{until}")
    }

    fn within(&self, t: Millis) -> Option<Millis> {
        match self.until {
            Some(u) if t >= u => None,
            _ => Some(t),
        }
    }
}

impl Cloud {
    /// When fault `f` strikes first, if ever.
    pub fn first_strike(&mut self, f: usize) -> Option<Millis> {
        let fault = &self.faults[f];
        let t = match &fault.every {
            None => fault.at,
            Some(d) => fault.at + d.sample(&mut self.fault_rngs[f].times),
        };
        fault.within(t)
    }

    /// Fault `f` strikes now. Returns when it strikes next, if it repeats.
    pub fn strike<E: From<CloudEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        f: usize,
    ) -> Option<Millis> {
        let now = ctx.now();
        // Draw the next time first, so victims never shift strike times.
        let next = self.faults[f]
            .every
            .clone()
            .and_then(|d| self.faults[f].within(now + d.sample(&mut self.fault_rngs[f].times)));
        match self.faults[f].kind.clone() {
            FaultKind::TerminateAll => {
                let victims = self.candidates(f, false);
                if !victims.is_empty() {
                    self.notices.push(CloudNotice::Struck);
                }
                for id in victims {
                    self.terminate(ctx, id);
                }
            }
            FaultKind::TerminateFraction { victims, over } => {
                self.terminate_fraction(ctx, f, victims, over);
            }
            FaultKind::ZoneOutage { duration } => self.zone_outage(ctx, f, duration),
            FaultKind::InstanceFailures { .. } => self.start_failures(ctx, f),
            FaultKind::SpotInterruption {
                victims,
                notice,
                drain,
            } => {
                let chosen = self.choose(f, victims, true);
                if !chosen.is_empty() {
                    self.notices.push(CloudNotice::Struck);
                }
                for id in chosen {
                    self.interrupt(ctx, id, notice, drain);
                }
            }
            FaultKind::InstanceRefresh {
                min_healthy_percentage,
                warmup,
            } => self.refresh_targets(ctx, f, min_healthy_percentage, warmup),
        }
        next
    }

    /// `terminate_fraction`: the chosen victims terminated at once, or
    /// spread evenly over `over` (the first at the strike).
    fn terminate_fraction<E: From<CloudEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        f: usize,
        victims: Victims,
        over: Millis,
    ) {
        let chosen = self.choose(f, victims, false);
        if !chosen.is_empty() {
            self.notices.push(CloudNotice::Struck);
        }
        let k = chosen.len() as u64;
        for (j, id) in chosen.into_iter().enumerate() {
            let offset = Millis(over.0 * j as u64 / k.max(1));
            if offset == Millis::ZERO {
                self.terminate(ctx, id);
            } else {
                ctx.schedule_in(offset, CloudEvent::Terminate(id));
            }
        }
    }

    /// `zone_outage`: the target zone is down for `duration`; its
    /// instances, warm-pool ones included, die now.
    fn zone_outage<E: From<CloudEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        f: usize,
        duration: Millis,
    ) {
        let Some(zone) = self.faults[f].target.zone else {
            return;
        };
        let end = ctx.now() + duration;
        self.zone_down_until[zone] = self.zone_down_until[zone].max(end);
        ctx.schedule_at(end, CloudEvent::ZoneBack(zone as u16));
        self.notices.push(CloudNotice::Struck);
        for id in self.candidates(f, false) {
            self.terminate(ctx, id);
        }
        // Warm-pool instances in the zone die too.
        let warm: Vec<InstanceId> = (0..self.asgs.len())
            .filter(|&g| self.targets_asg(f, AsgId(g as u16)))
            .flat_map(|g| self.asgs[g].warm.iter().copied())
            .filter(|id| self.instances[id.index()].zone == zone)
            .collect();
        for id in warm {
            self.terminate(ctx, id);
        }
    }

    /// `instance_failures`: from its first strike on, each running target
    /// draws its failure time (later ones when they start running).
    fn start_failures<E: From<CloudEvent>>(&mut self, ctx: &mut Context<'_, E>, f: usize) {
        if self.active_mtbf.contains(&f) {
            return;
        }
        self.active_mtbf.push(f);
        for id in self.candidates(f, false) {
            if self.instances[id.index()].state == InstanceState::Running {
                self.draw_failure(ctx, f, id);
            }
        }
    }

    /// `instance_refresh`: a refresh starts in every targeted group.
    fn refresh_targets<E: From<CloudEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        f: usize,
        min_healthy_percentage: u32,
        warmup: Option<Millis>,
    ) {
        let groups: Vec<AsgId> = (0..self.asgs.len())
            .map(|g| AsgId(g as u16))
            .filter(|&g| self.targets_asg(f, g))
            .collect();
        if !groups.is_empty() {
            self.notices.push(CloudNotice::Struck);
        }
        for g in groups {
            self.start_refresh(ctx, g, min_healthy_percentage, warmup);
        }
    }

    /// Whether fault `f` may hit group `g` under this policy.
    fn targets_asg(&self, f: usize, g: AsgId) -> bool {
        match self.fault_asg[f] {
            None => true,
            Some(target) => target == Some(g),
        }
    }

    /// Live instances fault `f` may hit, in id order; Spot instances not yet
    /// interrupted only, if `spot`.
    fn candidates(&self, f: usize, spot: bool) -> Vec<InstanceId> {
        let zone = self.faults[f].target.zone;
        let mut out: Vec<InstanceId> = (0..self.asgs.len())
            .filter(|&g| self.targets_asg(f, AsgId(g as u16)))
            .flat_map(|g| {
                let g = &self.asgs[g];
                g.members
                    .iter()
                    .chain(g.leaving.iter())
                    .chain(g.fleet.iter())
            })
            .filter(|id| {
                let i = &self.instances[id.index()];
                i.is_live()
                    && zone.is_none_or(|z| i.zone == z)
                    && (!spot || (i.spot && i.interrupted_at.is_none()))
            })
            .collect();
        out.sort_unstable();
        out
    }

    /// Picks the victims of one strike: a seeded partial shuffle of the
    /// candidates in id order.
    fn choose(&mut self, f: usize, victims: Victims, spot: bool) -> Vec<InstanceId> {
        let mut c = self.candidates(f, spot);
        let k = match victims {
            Victims::Fraction(x) => (x * c.len() as f64).round() as usize,
            Victims::Count(n) => n as usize,
        }
        .min(c.len());
        let (chosen, _) = c.partial_shuffle(&mut self.fault_rngs[f].victims, k);
        chosen.to_vec()
    }

    /// Draws instance `id`'s failure time under MTBF fault `f`.
    pub(super) fn draw_failure<E: From<CloudEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        f: usize,
        id: InstanceId,
    ) {
        let FaultKind::InstanceFailures { mtbf } = self.faults[f].kind else {
            return;
        };
        let i = &self.instances[id.index()];
        let zone_ok = self.faults[f].target.zone.is_none_or(|z| i.zone == z);
        if !zone_ok || !self.targets_asg(f, i.asg) {
            return;
        }
        let u: f64 = self.fault_rngs[f].times.random();
        let life = Millis((-(1.0 - u).ln() * mtbf.0 as f64).round() as u64);
        let at = ctx.now() + life;
        if self.faults[f].within(at).is_some() {
            ctx.schedule_at(at, CloudEvent::Impair(id));
        }
    }

    /// A Spot interruption notice. With Capacity Rebalancing the group
    /// launches the replacement now; otherwise only after the termination.
    fn interrupt<E: From<CloudEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        id: InstanceId,
        notice: Millis,
        drain: bool,
    ) {
        self.note(super::CloudRecord::Interrupted(id));
        let inst = &mut self.instances[id.index()];
        inst.interrupted_at = Some(ctx.now());
        let (asg, zone) = (inst.asg, inst.zone);
        if self.asgs[asg.index()].spec.capacity_rebalance && inst.counted {
            inst.counted = false;
            self.asgs[asg.index()].uncount(id, zone);
            self.asgs[asg.index()].leaving.push(id);
            self.request_reconcile(ctx, asg, Millis::ZERO);
        }
        self.notices.push(CloudNotice::Interruption {
            instance: id,
            drain,
        });
        ctx.schedule_in(notice, CloudEvent::Terminate(id));
    }
}
