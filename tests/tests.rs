//! poolsim's integration tests, one binary.

/// Shared helpers: small inline scenarios and running them.
mod support;

/// A few nodes and pods with fixed delays: exact placements and times.
mod hand_checked;

/// The story: a constructed deadlock, its split-pool twin, and the shipped
/// seed scenarios.
mod deadlock;

/// One seed, one history: across repeats, thread counts and policies.
mod determinism;

/// Bad input gets a clear error and exit code 2, and nothing is written.
mod bad_input;

/// Kubernetes fidelity: scores, queue, preemption, taints, DaemonSets.
mod kube;
