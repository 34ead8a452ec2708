//! The scheduler's "fits no node" memo (`select::select_node`) changes no
//! history: every shipped scenario, every policy, a few seeds each, gives
//! identical rows with the memo and without it. A scenario added to
//! `scenarios/` is covered without editing this test. Futile attempts
//! made in place (`Cluster::futile_next`) need the memo, so the runs
//! without it also check that those change no row.

use crate::support::every_shipped;

#[test]
fn the_memo_changes_no_row_of_any_shipped_scenario() {
    for (name, with, seeds) in every_shipped() {
        assert!(
            with.kube.scheduler.verdict_memo,
            "the memo is on by default"
        );
        let mut without = with.clone();
        without.kube.scheduler.verdict_memo = false;
        for policy in 0..with.policies.len() {
            for seed in seeds.clone() {
                let a = poolsim::run_one(&with, policy, seed);
                let b = poolsim::run_one(&without, policy, seed);
                assert_eq!(a, b, "{name}: policy {policy}, seed {seed}");
            }
        }
    }
}
