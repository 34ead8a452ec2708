//! The scheduling queue of each Kubernetes version, hand-checked with exact
//! times: which events requeue a rejected pod (QueueingHints), pop from
//! backoffQ (1.33+), and that the version changes a history only through
//! the behaviours it selects.

use poolsim::engine::Millis;
use poolsim::kube::scheduler::{
    EventView, Moved, NodeView, Plugins, SchedulerConfig, SchedulingQueue, worth_requeuing,
};
use poolsim::kube::{PodId, PodState, QueueSlot};
use poolsim::sim::World;

use crate::support::{scenario, shipped};

/// One m5.large (1930m). A Job pod of 1500m is bound at 0, starts at 5 s
/// and finishes its 10 s of work at 15 s, which frees its node's room (an
/// `AssignedPodDelete` event). The pod of a second Job, `web` (1000m),
/// arrives at 1 s, finds 430m free and is rejected by NodeResourcesFit.
fn story(version: &str, extra: &str, web: &str) -> String {
    format!(
        r#"
name = "queue-version"
horizon = "10m"
[kubernetes]
version = "{version}"
pod_startup = {{ dist = "fixed", value = "5s" }}
{extra}
[[workloads]]
name = "batch"
class = "user"
kind = "job"
work = {{ dist = "fixed", value = "10s" }}
arrivals = {{ at = ["0s"] }}
cpu = "1500m"
memory = "256Mi"
[[workloads]]
name = "web"
class = "user"
kind = "job"
work = {{ dist = "fixed", value = "60s" }}
arrivals = {{ at = ["1s"] }}
cpu = "1"
memory = "256Mi"
{web}
[[policies]]
name = "single-pool"
pools = [
  {{ name = "all", instance_type = "m5.large", desired = 1 }},
  {{ name = "ssd", instance_type = "m5.large", desired = 0, min = 0, max = 1, labels = {{ disk = "ssd" }} }},
]
"#
    )
}

/// Runs `text` to `until` and returns the `web` pod (workload 1).
fn web_at(text: &str, until: Millis) -> poolsim::kube::Pod {
    let s = scenario(text);
    let (mut world, mut sim) = World::new(&s, 0, 1);
    sim.run_until(&mut world, until);
    world
        .cluster
        .pods()
        .iter()
        .find(|p| p.workload.0 == 1)
        .expect("web pod")
        .clone()
}

/// The pod rejected for cpu is requeued by the deletion at 15 s, its 1 s
/// backoff long over: bound at 15 s, started at 20 s, in every version.
#[test]
fn cpu_rejection_is_requeued_by_a_pod_deletion() {
    for v in ["1.31", "1.32", "1.33", "1.34", "1.35"] {
        let text = story(v, "", "");
        let web = web_at(&text, Millis::from_secs(15) - Millis(1));
        assert_eq!(web.state(), PodState::Pending, "{v}");
        assert_eq!(web.rejected_by, Plugins::NODE_RESOURCES_FIT, "{v}");
        assert_eq!(web.queue, QueueSlot::Unschedulable, "{v}");
        assert_eq!(web.attempts, 1, "{v}");
        let web = web_at(&text, Millis::from_secs(30));
        assert_eq!(web.started_at, Some(Millis::from_secs(20)), "{v}");
        assert_eq!(web.attempts, 1, "{v}");
    }
}

/// A pod rejected only by NodeAffinity (its nodeSelector matches the `ssd`
/// pool, which has no node) is not requeued by the deletion at 15 s. It
/// leaves unschedulablePods through the leftover flush, which runs every
/// 30 s and takes pods rejected at least 5 min ago: not at 300 s (rejected
/// at 1 s), at 330 s, when it is tried and rejected again.
#[test]
fn affinity_rejection_is_not_requeued_by_a_pod_deletion() {
    for v in ["1.31", "1.35"] {
        let text = story(v, "", "node_selector = { disk = \"ssd\" }");
        let web = web_at(&text, Millis::from_secs(16));
        assert_eq!(web.rejected_by, Plugins::NODE_AFFINITY, "{v}");
        assert_eq!(web.queue, QueueSlot::Unschedulable, "{v}");
        assert_eq!(web.attempts, 1, "{v}");
        let web = web_at(&text, Millis::from_secs(330) - Millis(1));
        assert_eq!(web.attempts, 1, "{v}");
        let web = web_at(&text, Millis::from_secs(330));
        assert_eq!(web.attempts, 2, "{v}");
        assert_eq!(web.unschedulable_since, Millis::from_secs(330), "{v}");
    }
}

/// With a 30 s initial backoff, `web`'s backoff after its rejection at
/// 1 s runs to 31 s. The deletion at 15 s moves it to backoffQ. Before
/// 1.33 it waits out its backoff: the whole-second flush at 31 s moves it
/// to activeQ and it is bound then (started 36 s). From 1.33 the
/// idle scheduler pops it from backoffQ at once: bound at 15 s, started at
/// 20 s; with `SchedulerPopFromBackoffQ = false` 1.33 behaves as 1.32.
#[test]
fn pod_in_backoff_is_popped_at_once_when_active_q_is_empty() {
    let backoff = "scheduler.initial_backoff = \"30s\"\nscheduler.max_backoff = \"60s\"";
    for (v, gate, started) in [
        ("1.31", "", 36),
        ("1.32", "", 36),
        ("1.33", "", 20),
        ("1.35", "", 20),
        ("1.33", "feature_gates.SchedulerPopFromBackoffQ = false", 36),
    ] {
        let text = story(v, &format!("{backoff}\n{gate}"), "");
        let web = web_at(&text, Millis::from_secs(15) - Millis(1));
        assert_eq!(web.queue, QueueSlot::Unschedulable, "{v} {gate}");
        let web = web_at(&text, Millis::from_secs(15));
        let moved = if started == 20 {
            QueueSlot::None
        } else {
            QueueSlot::Backoff
        };
        assert_eq!(web.queue, moved, "{v} {gate}");
        let web = web_at(&text, Millis::from_secs(60));
        assert_eq!(
            web.started_at,
            Some(Millis::from_secs(started)),
            "{v} {gate}"
        );
        assert_eq!(web.attempts, 1, "{v} {gate}");
    }
}

/// A node label change does not requeue a pod rejected for cpu: from 1.32
/// NodeResourcesFit does not register `UpdateNodeLabel`; in 1.31 it does,
/// but `preCheckForNode` finds the pod still does not fit the node. It
/// stays in unschedulablePods until the leftover flush; a pod deletion
/// moves it at once.
#[test]
fn cpu_rejection_is_not_requeued_by_a_label_change() {
    let s = scenario(&story("1.35", "", ""));
    let (mut world, mut sim) = World::new(&s, 0, 1);
    sim.run_until(&mut world, Millis::from_secs(2));
    let mut pods = vec![world.cluster.pods()[0].clone()];
    pods[0].id = PodId(0);
    pods[0].queue = QueueSlot::None;
    let full = NodeView {
        labels_match: true,
        untolerated_no_schedule: false,
        untolerated_no_execute: false,
        unschedulable: false,
        fits_allocatable: true,
        fits_now: false,
        spread_honors_taints: false,
        pod_affinity_terms: false,
    };
    let relabel = EventView::NodeLabelUpdate {
        old: NodeView {
            labels_match: false,
            ..full
        },
        new: full,
    };
    for hints in [false, true] {
        let cfg = SchedulerConfig {
            queueing_hints: hints,
            pop_from_backoff: hints,
            ..SchedulerConfig::default()
        };
        let mut q = SchedulingQueue::default();
        q.push_active(&mut pods[0]);
        assert_eq!(q.pop(&mut pods, &cfg), Some(PodId(0)));
        let t = Millis::from_secs(10);
        q.push_unschedulable(&mut pods[0], t, Plugins::NODE_RESOURCES_FIT, &cfg);
        let moved = q.on_cluster_event(&mut pods, Millis::from_secs(20), &cfg, |p| {
            worth_requeuing(p.rejected_by, &relabel, hints)
        });
        assert_eq!(moved, Moved::default(), "hints {hints}");
        assert_eq!(pods[0].queue, QueueSlot::Unschedulable);
        // The leftover flush: not before 5 min in unschedulablePods.
        let moved = q.flush_leftover(&mut pods, t + Millis::from_mins(5) - Millis(1), &cfg);
        assert_eq!(moved, Moved::default());
        let moved = q.on_cluster_event(&mut pods, Millis::from_secs(20), &cfg, |p| {
            worth_requeuing(
                p.rejected_by,
                &EventView::AssignedPodDelete(Default::default()),
                hints,
            )
        });
        assert_eq!(moved.to_active, 1, "hints {hints}");
        assert_eq!(q.pop(&mut pods, &cfg), Some(PodId(0)));
    }
}

/// Changing the version changes a history only through the behaviours it
/// selects: with every one of them pinned equal, two versions give the same
/// rows, byte for byte. 1.31 with QueueingHints on and a 50 s grace period
/// is 1.32; 1.32 with them off and 40 s is 1.31; 1.33 and 1.35 are the
/// same; and the autoscaler's expander pinned, 1.32 is 1.33 without
/// pop-from-backoffQ.
#[test]
fn pinned_versions_give_identical_rows() {
    let story = std::fs::read_to_string(shipped("seed-deadlock.toml")).unwrap();
    let autoscaled = std::fs::read_to_string(shipped("autoscaler.toml")).unwrap();
    let with = |text: &str, kube: &str| {
        assert!(text.contains("\n[kubernetes]\n") || !text.contains("[kubernetes]"));
        if text.contains("\n[kubernetes]\n") {
            text.replacen("\n[kubernetes]\n", &format!("\n[kubernetes]\n{kube}\n"), 1)
        } else {
            format!("{text}\n[kubernetes]\n{kube}\n")
        }
    };
    let rows = |text: String| {
        let s = scenario(&text);
        (0..s.policies.len())
            .flat_map(|p| (1..=6).map(move |seed| (p, seed)))
            .map(|(p, seed)| poolsim::run_one(&s, p, seed).record().join(","))
            .collect::<Vec<_>>()
    };
    let pairs = [
        (
            "version = \"1.31\"\nnode_monitor_grace_period = \"50s\"\nfeature_gates.SchedulerQueueingHints = true",
            "version = \"1.32\"",
        ),
        (
            "version = \"1.32\"\nnode_monitor_grace_period = \"40s\"\nfeature_gates.SchedulerQueueingHints = false",
            "version = \"1.31\"",
        ),
        ("version = \"1.33\"", "version = \"1.35\""),
    ];
    for (a, b) in pairs {
        assert_eq!(rows(with(&story, a)), rows(with(&story, b)), "{a} / {b}");
    }
    // The autoscaler's default expander follows the version.
    let a = with(
        &autoscaled.replace(
            "[policies.autoscaler]\n",
            "[policies.autoscaler]\nexpander = \"least-waste\"\n",
        ),
        "version = \"1.32\"",
    );
    let b = with(
        &autoscaled,
        "version = \"1.33\"\nfeature_gates.SchedulerPopFromBackoffQ = false",
    );
    assert_eq!(rows(a), rows(b));
    // And the pins matter: 1.31 and 1.32 as they come differ.
    assert_ne!(
        rows(with(&story, "version = \"1.31\"")),
        rows(with(&story, "version = \"1.32\""))
    );
}

/// A version poolsim does not model, a gate the version does not have, and
/// a GA gate set against its locked value: exit 2, naming file, line, key.
#[test]
fn bad_versions_and_gates_are_refused() {
    use crate::bad_input::{VALID, rejects};
    let with = |kube: &str| format!("{VALID}\n[kubernetes]\n{kube}\n");
    // VALID has 14 lines and a blank one follows: `[kubernetes]` is line
    // 16, its first key 17.
    rejects(
        &with("version = \"1.30\""),
        17,
        "kubernetes.version",
        "expected \"1.31\" to \"1.35\"",
    );
    rejects(
        &with("version = \"1.32\"\nfeature_gates.SchedulerPopFromBackoffQ = true"),
        18,
        "kubernetes.feature_gates.SchedulerPopFromBackoffQ",
        "no such feature gate (it exists from 1.33)",
    );
    rejects(
        &with("feature_gates.SchedulerQueueingHints = false"),
        17,
        "kubernetes.feature_gates.SchedulerQueueingHints",
        "GA in Kubernetes 1.35 and locked to true",
    );
}
