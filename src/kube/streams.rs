//! The cluster's random streams: one generator per kind of draw, each
//! seeded from its own [`Stream`] of the run's seed, so that a draw of one
//! kind never shifts the draws of another (and a policy that makes more
//! draws of one kind leaves the others common to every policy). Each
//! method is the one draw of its kind; nothing else reads the generators.

use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::engine::{Millis, RngStreams, Stream};
use crate::quantity::Delay;

/// The random streams of the cluster (the StatefulSet controller keeps
/// `Stream::VolumeAttach` itself).
pub(super) struct Streams {
    /// `Stream::TieBreak`: the scheduler's draws among equal scores and
    /// the preemption search's starting node.
    tie: ChaCha8Rng,
    /// `Stream::PodOrder`: the order of PodGC's deletions.
    order: ChaCha8Rng,
    /// `Stream::PodStartup`: each bound pod's start delay.
    startup: ChaCha8Rng,
    /// `Stream::WorkSizes`: a Job pod's work and whether it fails.
    work: ChaCha8Rng,
    /// `Stream::JobArrivals`: the intervals of Poisson Job arrivals.
    arrival: ChaCha8Rng,
    /// `Stream::NodeLease`: where in its Lease renewal cycle each lost
    /// node's machine stopped.
    lease: ChaCha8Rng,
    /// `Stream::Readiness`: how long each started pod of a workload with a
    /// `readiness_delay` takes to turn Ready (drawn only for those).
    ready: ChaCha8Rng,
}

impl Streams {
    /// The streams of the run whose generators are `rng`.
    pub(super) fn new(rng: &RngStreams) -> Self {
        Streams {
            tie: rng.stream(Stream::TieBreak),
            order: rng.stream(Stream::PodOrder),
            startup: rng.stream(Stream::PodStartup),
            work: rng.stream(Stream::WorkSizes),
            arrival: rng.stream(Stream::JobArrivals),
            lease: rng.stream(Stream::NodeLease),
            ready: rng.stream(Stream::Readiness),
        }
    }

    /// The generator of the scheduler's node choice among equal scores.
    pub(super) fn tie_break(&mut self) -> &mut ChaCha8Rng {
        &mut self.tie
    }

    /// Where the preemption search starts among `n` candidate nodes.
    pub(super) fn preemption_offset(&mut self, n: usize) -> usize {
        self.tie.random_range(0..n)
    }

    /// PodGC's deletions in its lister's order, which is no order.
    pub(super) fn shuffle_deletions<T>(&mut self, v: &mut [T]) {
        v.shuffle(&mut self.order);
    }

    /// A bound pod's start delay.
    pub(super) fn pod_startup(&mut self, d: &Delay) -> Millis {
        d.sample(&mut self.startup)
    }

    /// A started pod's time to turn Ready.
    pub(super) fn readiness(&mut self, d: &Delay) -> Millis {
        d.sample(&mut self.ready)
    }

    /// A Job pod's work.
    pub(super) fn job_work(&mut self, d: &Delay) -> Millis {
        d.sample(&mut self.work)
    }

    /// Whether a Job pod that ends fails, with probability `p`.
    pub(super) fn job_pod_fails(&mut self, p: f64) -> bool {
        self.work.random_bool(p)
    }

    /// A uniform draw in (0, 1) for the next Poisson Job arrival.
    pub(super) fn arrival_uniform(&mut self) -> f64 {
        self.arrival.random_range(f64::EPSILON..1.0)
    }

    /// How long before its heartbeat stopped a node last renewed its Lease:
    /// uniform within its renewal `cycle` (in ms, above 0).
    pub(super) fn lease_offset(&mut self, cycle: u64) -> u64 {
        self.lease.random_range(0..cycle)
    }
}
