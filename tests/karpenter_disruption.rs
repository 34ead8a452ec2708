//! Karpenter's disruption with fixed delays and hand-worked times: the
//! disruption loop polls every 10 s from 0 s, waits 15 s to validate a
//! consolidation, deletes an empty node at once and a replaced one when
//! its replacement is Ready; expiration, drift and Spot interruption
//! delete NodeClaims outside consolidation; budgets, PodDisruptionBudgets
//! and `do_not_disrupt` hold nodes back; bad disruption keys are refused.
//!
//! The common timeline (`small` types, launch 30 s, boot 60 s): pods
//! created at 0 s fail at 0 and 5 ms; the batch ends 1 s after the last,
//! at 1.005 s; the node registers Ready at 91.005 s; the pods, in
//! scheduling backoff, bind at 96.000 s (a pod event), start 5 s later
//! and a Job's 60 s of work ends at 161.000 s (a pod event, 65 s after the
//! last one written; later events within 10 s are not written).

use poolsim::engine::Millis;
use poolsim::sim::World;

use crate::support::{KARPENTER_INSTANCES, KARPENTER_TYPES, run_to};

/// A Job of `pods` pods of `cpu` each, 60 s of work.
fn job(pods: u32, cpu: &str) -> String {
    format!(
        "[[workloads]]\nname = \"batch\"\nclass = \"user\"\nkind = \"job\"\ncompletions = {pods}\nparallelism = {pods}\ncpu = \"{cpu}\"\nmemory = \"1Gi\"\nwork = {{ dist = \"fixed\", value = \"60s\" }}\n"
    )
}

/// One policy `k` with one NodePool of `types` and the extra NodePool
/// keys.
fn nodepool(types: &str, extra: &str) -> String {
    format!(
        "[[policies]]\nname = \"k\"\n[[policies.nodepools]]\nname = \"default\"\nrequirements = [{{ key = \"node.kubernetes.io/instance-type\", operator = \"In\", values = [{types}] }}]\n{extra}\n"
    )
}

fn text(workloads: &str, nodepool: &str) -> String {
    format!(
        "name = \"k-disrupt\"\nhorizon = \"30m\"\n{KARPENTER_INSTANCES}{KARPENTER_TYPES}\n{workloads}\n{nodepool}"
    )
}

/// (type, launched at, terminated at) of every instance.
fn instances(world: &World) -> Vec<(String, Millis, Option<Millis>)> {
    let k = world.karpenter.as_ref().expect("karpenter on");
    k.claims()
        .iter()
        .map(|c| {
            let i = world.cloud.instance(c.instance);
            let t = &world.cloud.instance_types()[c.instance_type];
            (t.name.clone(), c.launched_at, i.terminated_at)
        })
        .collect()
}

fn s(secs: u64, ms: u64) -> Millis {
    Millis(secs * 1000 + ms)
}

/// Two 1-cpu Job pods on a `small` node. The last pod event is at
/// 161.000 s, so with `consolidate_after = "30s"` the node is
/// consolidatable from 191.000 s; the loop, polling at 190 s and 200 s,
/// finds it empty at 200 s, validates at 215 s and deletes it: no pod to
/// drain, the instance is terminated at 215.000 s.
#[test]
fn an_empty_node_is_consolidated_after_consolidate_after() {
    let t = text(
        &job(2, "1"),
        &nodepool("\"small\"", "disruption = { consolidate_after = \"30s\" }"),
    );
    let world = run_to(&t, Millis::from_mins(10));
    assert_eq!(
        instances(&world),
        [("small".into(), s(1, 5), Some(s(215, 0)))]
    );
    let k = world.karpenter.as_ref().unwrap();
    assert_eq!(k.claims()[0].last_pod_event, Some(s(161, 0)));
    assert_eq!(k.disruption_counts().consolidated, 1);
    assert_eq!(k.disruption_counts().disrupted_pods, 0);
    // One second short of 215 s it is still there.
    let world = run_to(&t, s(214, 999));
    assert_eq!(instances(&world)[0].2, None);
    // Never: the node stays.
    let t = text(
        &job(2, "1"),
        &nodepool(
            "\"small\"",
            "disruption = { consolidate_after = \"Never\" }",
        ),
    );
    assert_eq!(instances(&run_to(&t, Millis::from_mins(30)))[0].2, None);
}

/// Two 1.5-cpu pods need a `small` node each (node/0's events at 96.000
/// and 161.000 s, node/1's at 96.005 and 161.005 s). At the 200 s poll
/// both are empty and consolidatable. A budget of 1 node lets emptiness
/// take node/0 alone (validated and deleted at 215 s); the loop runs again
/// at once, node/0's instance is terminating and no longer counts, so
/// node/1 goes 15 s later, at 230 s. A budget of 2 takes both at 215 s.
#[test]
fn a_budget_of_one_node_disrupts_nodes_one_at_a_time() {
    let one = "disruption = { consolidate_after = \"30s\", budgets = [{ nodes = \"1\" }] }";
    let world = run_to(
        &text(&job(2, "1500m"), &nodepool("\"small\"", one)),
        Millis::from_mins(10),
    );
    let ends: Vec<_> = instances(&world).into_iter().map(|i| i.2).collect();
    assert_eq!(ends, [Some(s(215, 0)), Some(s(230, 0))]);
    let two = "disruption = { consolidate_after = \"30s\", budgets = [{ nodes = \"2\" }] }";
    let world = run_to(
        &text(&job(2, "1500m"), &nodepool("\"small\"", two)),
        Millis::from_mins(10),
    );
    let ends: Vec<_> = instances(&world).into_iter().map(|i| i.2).collect();
    assert_eq!(ends, [Some(s(215, 0)), Some(s(215, 0))]);
    // 10% of 2 nodes rounds up to 1: the default budget also goes one by one.
    let default = "disruption = { consolidate_after = \"30s\" }";
    let world = run_to(
        &text(&job(2, "1500m"), &nodepool("\"small\"", default)),
        Millis::from_mins(10),
    );
    let ends: Vec<_> = instances(&world).into_iter().map(|i| i.2).collect();
    assert_eq!(ends, [Some(s(215, 0)), Some(s(230, 0))]);
}

/// Four 1-cpu Job pods and one `api` pod need a `large` node (launched at
/// 1.015 s). Once the Job ends (pod event 161.005 s) the node holds one
/// pod: single-node consolidation at the 200 s poll finds it fits a new
/// NodeClaim whose types cheaper than large's $0.40 are small and medium;
/// validated at 215 s, the replacement launches on the cheapest, `small`,
/// which is Ready at 305 s; the queue, looking every second from 215 s,
/// sees it then and deletes the large node: `api` is evicted (30 s grace)
/// and the instance terminated when it is gone, at 335 s.
#[test]
fn an_underutilized_node_is_replaced_by_a_cheaper_one() {
    let api = "[[workloads]]\nname = \"api\"\nclass = \"user\"\nreplicas = 1\ncpu = \"1\"\nmemory = \"1Gi\"\n";
    let pool = nodepool(
        "\"small\", \"medium\", \"large\"",
        "disruption = { consolidate_after = \"30s\" }",
    );
    let t = text(&format!("{}{api}", job(4, "1")), &pool);
    let world = run_to(&t, Millis::from_mins(10));
    assert_eq!(
        instances(&world),
        [
            ("large".into(), s(1, 15), Some(s(335, 0))),
            ("small".into(), s(215, 0), None),
        ]
    );
    let k = world.karpenter.as_ref().unwrap();
    assert_eq!(k.disruption_counts().consolidated, 1);
    assert_eq!(k.disruption_counts().replaced, 1);
    assert_eq!(k.disruption_counts().disrupted_pods, 1);
    // A PodDisruptionBudget that allows no disruption of `api`, or
    // `do_not_disrupt`, keeps the large node a non-candidate.
    for hold in ["pdb = { min_available = 1 }", "do_not_disrupt = true"] {
        let t = text(&format!("{}{api}{hold}\n", job(4, "1")), &pool);
        let world = run_to(&t, Millis::from_mins(30));
        assert_eq!(
            instances(&world),
            [("large".into(), s(1, 15), None)],
            "{hold}"
        );
    }
}

/// Two 1-cpu `api` pods on a `small` node launched at 1.005 s with
/// `expire_after = "10m"`: at 601.005 s its NodeClaim is deleted, whatever
/// the budgets, and its pods evicted. Its deletion opens a batch window;
/// the pods' replacements, created 1 s later, fail scheduling at
/// 602.005 s and restart the idle timer: a new `small` at 603.005 s. The
/// old instance goes when its pods' 30 s grace ends, at 631.005 s.
#[test]
fn expiration_replaces_a_node_at_expire_after() {
    let api = "[[workloads]]\nname = \"api\"\nclass = \"user\"\nreplicas = 2\ncpu = \"1\"\nmemory = \"1Gi\"\n";
    let pool = nodepool(
        "\"small\", \"medium\", \"large\"",
        "expire_after = \"10m\"\ndisruption = { consolidate_after = \"Never\" }",
    );
    let world = run_to(&text(api, &pool), Millis::from_mins(11));
    assert_eq!(
        instances(&world),
        [
            ("small".into(), s(1, 5), Some(s(631, 5))),
            ("small".into(), s(603, 5), None),
        ]
    );
    let k = world.karpenter.as_ref().unwrap();
    assert_eq!(k.disruption_counts().expired, 1);
    assert_eq!(k.disruption_counts().disrupted_pods, 2);
}

/// A Spot NodePool with the interruption queue: the notice at 10 min
/// deletes the NodeClaim at once, so its two pods are evicted at 600 s
/// (2 min before the reclaim), a replacement is launched at 602 s (the
/// window from 600 s restarted by the recreated pods' failures at 601 s),
/// and the drained instance is terminated at 630 s, before 720 s. Without
/// the queue nothing happens until the reclaim at 720 s.
#[test]
fn a_spot_interruption_drains_ahead_of_termination() {
    let api = "[[workloads]]\nname = \"api\"\nclass = \"user\"\nreplicas = 2\ncpu = \"1\"\nmemory = \"1Gi\"\n";
    let spot = r#"{ key = "karpenter.sh/capacity-type", operator = "In", values = ["spot"] }"#;
    let fault = "[[faults]]\nkind = \"spot_interruption\"\nat = \"10m\"\ncount = 1\n";
    let policy = |queue: bool| {
        format!(
            "[[policies]]\nname = \"k\"\nkarpenter = {{ interruption_queue = {queue} }}\n[[policies.nodepools]]\nname = \"default\"\nrequirements = [{{ key = \"node.kubernetes.io/instance-type\", operator = \"In\", values = [\"small\"] }}, {spot}]\ndisruption = {{ consolidate_after = \"Never\" }}\n{fault}"
        )
    };
    let world = run_to(&text(api, &policy(true)), Millis::from_mins(13));
    assert_eq!(
        instances(&world),
        [
            ("small".into(), s(1, 5), Some(s(630, 0))),
            ("small".into(), s(602, 0), None),
        ]
    );
    let k = world.karpenter.as_ref().unwrap();
    assert_eq!(k.disruption_counts().interrupted, 1);
    assert_eq!(k.disruption_counts().disrupted_pods, 2);
    let world = run_to(&text(api, &policy(false)), Millis::from_mins(13));
    assert_eq!(instances(&world)[0].2, Some(s(720, 0)));
}

/// A NodePool of `medium` updated at 10 min to allow only `small`: its
/// node has drifted. The update runs before the 600 s poll (scheduled
/// first), which finds the drifted node and, without a validation wait,
/// launches a `small` for its pod at once; Ready at 690 s, the medium node
/// is deleted then and terminated when its pod's grace ends, at 720 s.
#[test]
fn a_nodepool_update_drifts_its_nodes() {
    let api = "[[workloads]]\nname = \"api\"\nclass = \"user\"\nreplicas = 1\ncpu = \"1\"\nmemory = \"1Gi\"\n";
    let update = r#"disruption = { consolidate_after = "Never" }
updates = [{ at = "10m", requirements = [{ key = "node.kubernetes.io/instance-type", operator = "In", values = ["small"] }] }]"#;
    let world = run_to(
        &text(api, &nodepool("\"medium\"", update)),
        Millis::from_mins(15),
    );
    assert_eq!(
        instances(&world),
        [
            ("medium".into(), s(1, 0), Some(s(720, 0))),
            ("small".into(), s(600, 0), None),
        ]
    );
    assert_eq!(
        world
            .karpenter
            .as_ref()
            .unwrap()
            .disruption_counts()
            .drifted,
        1
    );
}

/// Bad disruption keys: the file, the line of the key (of the NodePool
/// where the key is inside a list), the key and what is expected.
#[test]
fn bad_disruption_keys_are_refused_with_file_line_and_key() {
    let err = |extra: &str| {
        let t = format!(
            "name = \"bad\"\nhorizon = \"1h\"\n[[workloads]]\nname = \"w\"\nclass = \"user\"\nreplicas = 1\ncpu = \"1\"\nmemory = \"1Gi\"\n[[policies]]\nname = \"p\"\n[[policies.nodepools]]\nname = \"np\"\n{extra}\n"
        );
        match poolsim::Scenario::parse(&t, "bad.toml") {
            Ok(_) => panic!("accepted: {extra}"),
            Err(e) => e.to_string(),
        }
    };
    let key = "bad.toml:12: policies.p.nodepools.np.disruption";
    assert_eq!(
        err("disruption = { budgets = [{ nodes = \"ten\" }] }"),
        format!(
            "{key}.budgets.0: nodes `ten` is not a count (\"3\") or a percentage from 0% to 100% (\"10%\")"
        )
    );
    assert_eq!(
        err("disruption = { budgets = [{ nodes = \"150%\" }] }"),
        format!(
            "{key}.budgets.0: nodes `150%` is not a count (\"3\") or a percentage from 0% to 100% (\"10%\")"
        )
    );
    assert_eq!(
        err("disruption = { budgets = [{ nodes = \"1\", schedule = \"0 9 * * mon-fri\" }] }"),
        format!("{key}.budgets.0: a schedule needs a duration")
    );
    assert_eq!(
        err("disruption = { budgets = [{ nodes = \"1\", duration = \"8h\" }] }"),
        format!("{key}.budgets.0: a duration needs a schedule")
    );
    assert!(
        err("disruption = { budgets = [{ nodes = \"0\", schedule = \"0 9 * *\", duration = \"8h\" }] }")
            .starts_with(&format!("{key}.budgets.0: schedule: `0 9 * *` has 4 fields"))
    );
    assert_eq!(
        err("disruption = { budgets = [{ reasons = [\"Expired\"] }] }"),
        format!("{key}.budgets.0: reason `Expired` is not `Empty`, `Underutilized` or `Drifted`")
    );
    assert_eq!(
        err("disruption = { consolidation_policy = \"WhenUnderutilized\" }"),
        "bad.toml:13: policies.p.nodepools.np.disruption.consolidation_policy: `WhenUnderutilized` is not `WhenEmpty` or `WhenEmptyOrUnderutilized`"
    );
    assert!(
        err("expire_after = \"soon\"")
            .starts_with("bad.toml:13: policies.p.nodepools.np.expire_after: ")
    );
    assert!(err("disruption = { budgets = [{ nodes = \"1\", schedule = \"@daily\", duration = \"90s\" }] }")
        .ends_with("is not whole minutes (Karpenter takes hours and minutes)"));
}

/// Two `api` pods of 1.2 cpu and a Job of two 0.8-cpu pods on a NodePool
/// of `small` only: two small nodes, each an `api` pod and a Job pod.
/// Once the Job is done each holds 1.2 cpu, and neither fits beside the
/// other. At 5 min the NodePool also allows `medium`: at the 300 s poll
/// multi-node consolidation finds both smalls ($0.20 together) fit one
/// medium ($0.19); validated at 315 s, the medium launches, is Ready at
/// 405 s, and both smalls are deleted then, terminated when their `api`
/// pods' grace ends at 435 s. (Nothing before 300 s: one small alone has
/// no cheaper replacement, and two need a type the NodePool did not
/// allow; the update drifts nothing, small is still allowed.) This needs
/// a budget of two nodes: the default 10% of two nodes allows one, and
/// then nothing happens.
#[test]
fn multi_node_consolidation_replaces_two_nodes_with_one_cheaper() {
    let api = "[[workloads]]\nname = \"api\"\nclass = \"user\"\nreplicas = 2\ncpu = \"1200m\"\nmemory = \"1Gi\"\n";
    let update = |budget: &str| {
        format!(
            r#"disruption = {{ consolidate_after = "30s", budgets = [{{ nodes = "{budget}" }}] }}
updates = [{{ at = "5m", requirements = [{{ key = "node.kubernetes.io/instance-type", operator = "In", values = ["small", "medium"] }}] }}]"#
        )
    };
    let workloads = format!("{api}{}", job(2, "800m"));
    // 10% of two nodes is one: multi-node consolidation needs two.
    let world = run_to(
        &text(&workloads, &nodepool("\"small\"", &update("10%"))),
        Millis::from_mins(10),
    );
    assert_eq!(instances(&world).len(), 2);
    let world = run_to(
        &text(&workloads, &nodepool("\"small\"", &update("2"))),
        Millis::from_mins(10),
    );
    let got = instances(&world);
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[0].2, Some(s(435, 0)));
    assert_eq!(got[1].2, Some(s(435, 0)));
    assert_eq!(got[2], ("medium".into(), s(315, 0), None));
    let k = world.karpenter.as_ref().unwrap();
    assert_eq!(k.disruption_counts().consolidated, 2);
    assert_eq!(k.disruption_counts().replaced, 2);
    assert_eq!(k.disruption_counts().drifted, 0);
}
