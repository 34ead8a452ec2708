//! Seeded random streams, one per purpose.
//!
//! Each stream is a ChaCha8 generator keyed by the run's seed and set to a
//! stream number derived from the purpose's name. A draw in one stream never
//! shifts another, so two policies run with the same seed see the same fault
//! times and launch delays (common random numbers), even though they make a
//! different number of, say, scheduler tie-break draws.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The purposes that draw random numbers. Adding one never changes the
/// draws of the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Random fault processes (times, victims).
    Faults,
    /// Instance launch and boot delays.
    LaunchDelays,
    /// The order in which controllers recreate lost pods.
    PodOrder,
    /// Pod container start-up delays.
    PodStartup,
    /// Random choice among equally scored nodes.
    TieBreak,
    /// Amounts of work of job pods.
    WorkSizes,
    /// Arrival times of Jobs (Poisson processes).
    JobArrivals,
    /// The cluster autoscaler's expander (random choice, tie-breaks).
    Autoscaler,
    /// Where in its Lease renewal cycle a node's machine stops.
    NodeLease,
    /// Volume attach times of StatefulSet pods.
    VolumeAttach,
    /// How long a started pod takes to turn Ready (`readiness_delay`).
    Readiness,
}

impl Stream {
    /// The stable name the stream number is derived from.
    pub fn name(self) -> &'static str {
        match self {
            Stream::Faults => "faults",
            Stream::LaunchDelays => "launch-delays",
            Stream::PodOrder => "pod-order",
            Stream::PodStartup => "pod-startup",
            Stream::TieBreak => "tie-break",
            Stream::WorkSizes => "work-sizes",
            Stream::JobArrivals => "job-arrivals",
            Stream::Autoscaler => "autoscaler",
            Stream::NodeLease => "node-lease",
            Stream::VolumeAttach => "volume-attach",
            Stream::Readiness => "readiness",
        }
    }
}

/// The source of every random stream of one run.
#[derive(Debug, Clone, Copy)]
pub struct RngStreams {
    seed: u64,
}

impl RngStreams {
    /// Streams for a run with this seed.
    pub fn new(seed: u64) -> Self {
        RngStreams { seed }
    }

    /// A fresh generator for `stream`; the same seed and stream always give
    /// the same sequence.
    pub fn stream(&self, stream: Stream) -> ChaCha8Rng {
        let mut key = [0u8; 32];
        let mut state = self.seed;
        for chunk in key.chunks_exact_mut(8) {
            chunk.copy_from_slice(&splitmix64(&mut state).to_le_bytes());
        }
        let mut rng = ChaCha8Rng::from_seed(key);
        rng.set_stream(fnv1a(stream.name().as_bytes()));
        rng
    }
}

/// SplitMix64: spreads nearby seeds (1, 2, 3...) over the whole key space.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a, a fixed hash (unlike `std`'s, which is randomised per process).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn same_seed_same_stream_same_draws() {
        let a: Vec<u64> = (0..5)
            .map({
                let mut r = RngStreams::new(7).stream(Stream::LaunchDelays);
                move |_| r.random()
            })
            .collect();
        let mut r = RngStreams::new(7).stream(Stream::LaunchDelays);
        let b: Vec<u64> = (0..5).map(|_| r.random()).collect();
        assert_eq!(a, b);
    }

    #[test]
    fn streams_and_seeds_are_independent() {
        let first = |seed, s| RngStreams::new(seed).stream(s).random::<u64>();
        assert_ne!(first(7, Stream::LaunchDelays), first(7, Stream::PodOrder));
        assert_ne!(
            first(7, Stream::LaunchDelays),
            first(8, Stream::LaunchDelays)
        );
    }

    /// Chi-square test of uniformity over 16 buckets; the 0.999 quantile of
    /// chi-square with 15 degrees of freedom is 37.7.
    #[test]
    fn draws_are_uniform() {
        let mut r = RngStreams::new(42).stream(Stream::TieBreak);
        let n = 160_000;
        let mut buckets = [0u32; 16];
        for _ in 0..n {
            buckets[r.random_range(0..16)] += 1;
        }
        let expected = f64::from(n) / 16.0;
        let chi2: f64 = buckets
            .iter()
            .map(|&c| (f64::from(c) - expected).powi(2) / expected)
            .sum();
        assert!(chi2 < 37.7, "chi2 = {chi2}");
    }
}
