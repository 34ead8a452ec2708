//! Readiness (`readiness_delay`) with hand-computed times: a pod counts
//! toward its service only once Ready, a StatefulSet's `OrderedReady` waits
//! for Ready, and traces and time series show the Running-but-not-Ready
//! interval. Fixed delays: launch 30 s, boot 60 s, replacement 10 s, pod
//! start-up 5 s, controller delay 1 s.

use poolsim::engine::Millis;
use poolsim::kube::PodState;
use poolsim::report::{TraceOptions, trace};
use poolsim::sim::World;

use crate::bad_input::rejects;
use crate::support::scenario;

/// One DNS pod (a service) and two app pods that need it, on two m5.large
/// nodes; all nodes die at 600 s. `dns_extra` is added to the DNS
/// workload.
fn two_nodes(dns_extra: &str) -> String {
    format!(
        r#"
name = "readiness"
horizon = "20m"
[instances]
launch_delay = {{ dist = "fixed", value = "30s" }}
boot_delay = {{ dist = "fixed", value = "60s" }}
replacement_delay = "10s"
[kubernetes]
node_monitor_grace_period = "40s"
node_lease_renew_interval = "0s"
pod_startup = {{ dist = "fixed", value = "5s" }}
controller_delay = "1s"
scheduler.decision_time = "5ms"
[[workloads]]
name = "dns"
class = "system"
replicas = 1
min_available = 1
cpu = "500m"
memory = "512Mi"
{dns_extra}
[[workloads]]
name = "app"
class = "user"
replicas = 2
cpu = "1"
memory = "1Gi"
needs = ["dns"]
[[policies]]
name = "single-pool"
pools = [{{ name = "all", instance_type = "m5.large", desired = 2 }}]
[[faults]]
kind = "terminate_all"
at = "10m"
"#
    )
}

const TEN_SECONDS: &str = r#"readiness_delay = { dist = "fixed", value = "10s" }"#;

fn secs(s: u64) -> Millis {
    Millis::from_secs(s)
}

/// The DNS pod is created and bound at 0 s and starts at 5 s: without a
/// readiness delay it serves from 5 s; with 10 s it is Running but not
/// Ready until 15 s, so the service (and the app pods that need it) wait
/// until then.
#[test]
fn a_pod_counts_toward_its_service_only_once_ready() {
    let s = scenario(&two_nodes(TEN_SECONDS));
    let (mut world, mut sim) = World::new(&s, 0, 7);
    sim.run_until(&mut world, secs(15) - Millis(1));
    let dns = &world.cluster.pods()[0];
    assert!(matches!(dns.state(), PodState::Unready(_)), "{dns:?}");
    assert_eq!(dns.started_at, Some(secs(5)));
    assert_eq!(world.cluster.workloads()[0].running, 0);
    assert!(world.cluster.workloads()[0].is_unavailable());
    assert_eq!(world.cluster.status().unready, 1);
    // The app pods run (Ready at start) but stall on DNS.
    assert_eq!(world.cluster.status().stalled, 2);
    assert_eq!(world.cluster.status().progressing_user, 0);
    sim.run_until(&mut world, secs(15));
    let dns = &world.cluster.pods()[0];
    assert!(matches!(dns.state(), PodState::Running(_)), "{dns:?}");
    assert!(!world.cluster.workloads()[0].is_unavailable());
    assert_eq!(world.cluster.status().unready, 0);
    assert_eq!(world.cluster.status().progressing_user, 2);
}

/// After the loss at 600 s, PodGC deletes the pods at 700 s and the DNS
/// pod is recreated at 701 s and runs 5 s after its binding (706 s plus
/// its place among the three pods bound 5 ms apart). Its service recovers
/// exactly 10 s later with the readiness delay, seed by seed.
#[test]
fn the_readiness_delay_moves_recovery_by_exactly_its_length() {
    let plain = scenario(&two_nodes(""));
    let ready = scenario(&two_nodes(TEN_SECONDS));
    for seed in 1..=5 {
        let a = poolsim::run_one(&plain, 0, seed).outcome.system_recovery;
        let b = poolsim::run_one(&ready, 0, seed).outcome.system_recovery;
        let a = a.expect("recovers");
        assert!(
            [106_000, 106_005, 106_010].contains(&a.0),
            "seed {seed}: {a:?}"
        );
        assert_eq!(b, Some(a + secs(10)), "seed {seed}");
    }
}

/// `readiness_delay = "0s"` (fixed) is the same as none: the same row.
#[test]
fn a_zero_readiness_delay_changes_nothing() {
    let plain = scenario(&two_nodes(""));
    let zero = scenario(&two_nodes(
        r#"readiness_delay = { dist = "fixed", value = "0s" }"#,
    ));
    for seed in 1..=3 {
        let a = poolsim::run_one(&plain, 0, seed);
        let b = poolsim::run_one(&zero, 0, seed);
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }
}

/// The trace has a `ready` line for the DNS pod 10 s after its `started`
/// line; the time series counts it as unready in between.
#[test]
fn traces_and_time_series_show_running_but_not_ready() {
    let s = scenario(&two_nodes(TEN_SECONDS));
    let mut out = Vec::new();
    let opts = TraceOptions {
        to: Some(secs(20)),
        ..TraceOptions::default()
    };
    trace(&s, "single-pool", 1, &opts, &mut out).expect("trace");
    let text = String::from_utf8(out).unwrap();
    let line = |event: &str| {
        text.lines()
            .find(|l| l.split_whitespace().nth(1) == Some(event) && l.contains("pod/dns-0"))
            .unwrap_or_else(|| panic!("no {event} line for dns-0 in:\n{text}"))
            .to_string()
    };
    assert!(
        line("started").trim_start().starts_with("0:00:05.000 "),
        "{text}"
    );
    assert!(
        line("ready").trim_start().starts_with("0:00:15.000 "),
        "{text}"
    );
    let (_, series) = poolsim::sim::run_sampled(&s, 0, 1, Some(secs(5)));
    let unready: Vec<(u64, u32)> = series.expect("sampled").samples[..5]
        .iter()
        .map(|p| (p.t.0 / 1000, p.unready))
        .collect();
    // Each sample is the state after the events at its time: Unready from
    // the start at 5 s until Ready at 15 s.
    assert_eq!(unready, [(0, 0), (5, 1), (10, 1), (15, 0), (20, 0)]);
}

/// A Job's pods do their work whether Ready or not: no readiness_delay.
#[test]
fn a_job_takes_no_readiness_delay() {
    let text = r#"
name = "bad"
horizon = "1h"
[[workloads]]
name = "batch"
class = "user"
kind = "job"
cpu = "1"
memory = "1Gi"
work = { dist = "fixed", value = "1m" }
readiness_delay = { dist = "fixed", value = "10s" }
[[policies]]
name = "p"
pools = [{ name = "all", instance_type = "m5.large", desired = 1 }]
"#;
    rejects(text, 11, "workloads.batch.readiness_delay", "a Job's pods");
}
