//! poolsim's integration tests, one binary.

/// Shared helpers: small inline scenarios and running them.
mod support;

/// A few nodes and pods with fixed delays: exact placements and times.
mod hand_checked;

/// Karpenter's disruption: consolidation, budgets, expiration, drift and
/// Spot interruption at hand-worked times.
mod karpenter_disruption;

/// The story: a constructed deadlock, its split-pool twin, and the shipped
/// seed scenarios.
mod deadlock;

/// One seed, one history: across repeats, thread counts and policies.
mod determinism;

/// Effective requests (containers, init containers, sidecars, overhead)
/// and GPUs: the scheduler, the autoscaler and Karpenter.
mod resources;

/// Bad input gets a clear error and exit code 2, and nothing is written.
mod bad_input;

/// Issue 13's reproducers: limits on runs, grids, files and values; paths,
/// escaping and lines in errors.
mod limits;

/// Mutated and random scenario files: a scenario or a clear error, never a
/// panic.
mod parser_fuzz;

/// The long fuzz: mutated scenario files loaded, planned and run with a
/// small event budget, for a time budget (ignored unless asked for).
mod fuzz_long;

/// Invariants at every event of random small scenarios: no over-commitment,
/// pods on at most one node, counters that match a recount, determinism.
mod invariants;

/// Placement rules of a policy against a workload's own selector, and
/// `validate`'s effective placement.
mod placement;

/// `poolsim plot`: figures exist, parse as SVG, and hold the expected series.
mod plots;

/// `poolsim trace`: a deadlock explained, filters, JSON lines, and a traced
/// run's row equal to an untraced one.
mod trace;

/// Sweeps: grids and `--set`, byte-identity across threads, shards and
/// merge, kill and resume, failed runs, time series, summary statistics.
mod sweep;

/// Sweeps that cannot go wrong quietly: `--resume` and `merge` check rows
/// against the plan, one process per output directory, full and closed
/// outputs, a finish that fails midway.
mod sweep_safety;

/// EC2 and ASG fidelity and the fault library: exact times and counts.
mod cloud;

/// ASG features: Spot interruptions, refresh, protection, warm pools, the
/// termination policy; exact times and counts.
mod cloud_asg;

/// Kubernetes fidelity: scores, queue, preemption, the node search, taints.
mod kube;

/// Kubernetes controllers: DaemonSets, node lifecycle, webhooks, Jobs,
/// drains, the books under every policy.
mod kube_controllers;

/// A machine's end: impaired and shutting-down instances keep their Node
/// until they are gone.
mod lifecycle;

/// Validation against theory: an M/M/c queue against Erlang C, and
/// Little's law.
mod validation;

/// The cluster autoscaler: expanders, backoff, scale-down timing.
mod autoscaler;

/// The scheduling queue by Kubernetes version: QueueingHints, pop from
/// backoffQ, and versions pinned equal giving identical rows.
mod queue_versions;

/// `poolsim advise`: a known threshold found with fewer runs than the grid,
/// the story's recommendation on fresh seeds, the sequential rule's error
/// over many seeds, determinism, resume and bad input.
mod advise;

/// The README's reference sections name every stall cause and `runs.csv`
/// column the code defines.
mod docs;

/// The module order of ARCHITECTURE.md, checked against every `crate::`
/// path in `src/`.
mod layering;

/// The scheduler's verdict memo changes no history (issue 19).
mod verdict_memo;

/// The scheduler's feasible-node index changes no history (issue 19).
mod fit_index;

/// Karpenter: batches, the NodeClaim's type, insufficient capacity, and
/// the deadlock's Karpenter form.
mod karpenter;

/// Readiness: a pod serves only once Ready; traces and time series show
/// the difference.
mod readiness;

/// StatefulSets and zonal volumes: ordinal order, volume zones, a zone
/// outage, and their bad input.
mod stateful;

/// `poolsim import`: the EKS fixture field by field, the report, byte
/// identity, runs of the imported scenario.
mod import;

/// `poolsim import` of bad input: exit 2, the file, object and JSON path
/// named, nothing written.
mod import_errors;

/// `poolsim import` of YAML manifests, a NodePool manifest, a needs file
/// and GPU limits.
mod import_manifests;

/// `poolsim import` of spread constraints and pod (anti-)affinity: the
/// keys written, selectors kept in their namespace, and what is noted.
mod import_topology;
/// Topology spread and inter-pod affinity: hand-computed placements,
/// rejections and bad input.
mod topology;
