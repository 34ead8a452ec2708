//! The discrete-event core: simulated time, the event queue, the run loop and
//! the seeded random streams.
//!
//! The engine knows nothing of instances, nodes or pods: it orders opaque
//! events of a type chosen by the model and hands them back one at a time.
//!
//! # Ordering guarantee
//!
//! 1. Events run in increasing `(time, sequence)` order, where `sequence` is
//!    the order in which they were scheduled. Two events at the same
//!    millisecond therefore run in the order they were pushed, never in an
//!    order that depends on memory layout, hashing or threads.
//! 2. All randomness comes from [`RngStreams`], one ChaCha stream per
//!    [`Stream`] derived from the run's seed. Together with rule 1, one seed
//!    gives one history on any machine and any number of threads.

mod queue;
mod rng;
mod run;
mod time;

pub use queue::EventQueue;
pub use rng::{RngStreams, Stream};
pub use run::{CHECK_EVERY, Context, Model, RunLimits, Simulation, Stop};
pub use time::Millis;
