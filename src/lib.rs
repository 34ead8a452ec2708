//! poolsim: a discrete-event simulator of Kubernetes clusters on EC2 Auto
//! Scaling Groups.
//!
//! It answers questions like: if every instance of the cluster is terminated
//! and replaced, how often does the cluster come back, how long does it take,
//! and what does it cost, with one node pool or a pool per pod class?
//!
//! The public face is small: [`Scenario::load`] (or [`Scenario::parse`]) to
//! read a scenario, [`run_one`] to run one policy with one seed,
//! [`run_sweep`] to run a parameter grid x policies x seeds in parallel and
//! stream CSV to disk (resumable, shardable), and [`sweep::merge`] to join
//! the results of shards.
//!
//! ```
//! let text = r#"
//! name = "tiny"
//! horizon = "30m"
//! [[workloads]]
//! name = "dns"
//! class = "system"
//! replicas = 2
//! min_available = 1
//! cpu = "100m"
//! memory = "128Mi"
//! [[workloads]]
//! name = "app"
//! class = "user"
//! replicas = 4
//! cpu = "500m"
//! memory = "512Mi"
//! needs = ["dns"]
//! [[policies]]
//! name = "single-pool"
//! pools = [{ name = "all", instance_type = "m5.large", desired = 2 }]
//! [[faults]]
//! kind = "terminate_all"
//! at = "10m"
//! "#;
//! let scenario = poolsim::Scenario::parse(text, "tiny.toml").unwrap();
//! let row = poolsim::run_one(&scenario, 0, 1);
//! assert!(!row.outcome.deadlocked);
//! assert!(row.outcome.system_recovery.is_some());
//! ```

pub mod advise;
pub mod cloud;
pub mod engine;
pub mod import;
pub mod input;
pub mod karpenter;
pub mod kube;
pub mod metrics;
pub mod quantity;
pub mod report;
pub mod scenario;
pub mod sim;
pub mod sweep;

pub use metrics::{RunRow, SummaryRow};
pub use scenario::{Scenario, ScenarioError};
pub use sim::run_one;
pub use sweep::{SweepError, SweepOptions, SweepOutput, run_sweep};
