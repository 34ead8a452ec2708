//! One simulated run: the world that wires the cloud and Kubernetes together
//! through their narrow interface (a node joins, a node's machine is lost),
//! injects the scenario's faults, and feeds the recorder.

mod trace;
mod world;

pub use trace::{TraceEntry, TraceRecord, Traced, run_traced};

pub use world::{
    Event, MAX_INSTANCES_LAUNCHED, World, run_limited, run_one, run_sampled, stopped_row,
};
