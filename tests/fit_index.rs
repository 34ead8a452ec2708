//! The scheduler's feasible-node index (`scheduler/fit_index/`) changes
//! no history: every shipped scenario, every policy, a few seeds each,
//! gives identical traces (every binding to the same node at the same
//! instant) with every decision answered from the index and with every
//! decision walking the nodes; the large cluster, whose trace has millions
//! of lines, identical rows. A scenario added to `scenarios/` is covered
//! without editing this test.

use poolsim::sim::run_traced;

use crate::support::every_shipped;

#[test]
fn the_index_changes_no_row_of_any_shipped_scenario() {
    for (name, loaded, seeds) in every_shipped() {
        let mut always = loaded.clone();
        always.kube.scheduler.fit_index_min_nodes = 0;
        let mut never = loaded;
        never.kube.scheduler.fit_index_min_nodes = usize::MAX;
        for policy in 0..always.policies.len() {
            for seed in seeds.clone() {
                if name.starts_with("large-cluster") {
                    let a = poolsim::run_one(&always, policy, seed);
                    let b = poolsim::run_one(&never, policy, seed);
                    assert_eq!(a, b, "{name}: policy {policy}, seed {seed}");
                    continue;
                }
                let a = run_traced(&always, policy, seed);
                let b = run_traced(&never, policy, seed);
                assert_eq!(a.row, b.row, "{name}: policy {policy}, seed {seed}");
                assert!(
                    a.entries == b.entries,
                    "{name}: policy {policy}, seed {seed}: traces differ"
                );
            }
        }
    }
}

/// Preemption with a ten-minute grace period: while the victims
/// terminate, the preemptor's nomination sends every decision to the walk
/// (a node with nominated pods filters differently pod by pod); once it
/// binds, the index answers again from leaves that the victims' spread
/// counts and freed room left stale. The index and the walk choose alike
/// across the handover.
#[test]
fn index_and_walk_agree_across_preemption_with_long_grace() {
    let path = format!(
        "{}/scenarios/seed-alternatives.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut s = poolsim::scenario::Scenario::load(std::path::Path::new(&path)).expect("shipped");
    for w in &mut s.workloads {
        w.termination_grace = poolsim::engine::Millis::from_secs(600);
    }
    let policy = s
        .policies
        .iter()
        .position(|p| p.name == "priority-preemption")
        .expect("policy");
    let mut always = s.clone();
    always.kube.scheduler.fit_index_min_nodes = 0;
    let mut never = s;
    never.kube.scheduler.fit_index_min_nodes = usize::MAX;
    let mut preemptions = 0;
    for seed in 1..=10 {
        let a = run_traced(&always, policy, seed);
        let b = run_traced(&never, policy, seed);
        assert_eq!(a.row, b.row, "seed {seed}");
        assert!(a.entries == b.entries, "seed {seed}: traces differ");
        preemptions += a.row.preemptions;
    }
    assert!(preemptions > 0, "no preemption: the test shows nothing");
}
