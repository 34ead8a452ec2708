//! The resolved scenario: a validated [`Scenario`] written back in the file
//! format with every default filled in, so a result directory says exactly
//! what ran and `poolsim run` on it runs the same thing.

use crate::engine::Millis;
use crate::kube::scheduler::{SchedulerConfig, ScoringStrategy};
use crate::quantity::Delay;

use super::Scenario;
use super::file::{
    DelayFile, InstanceTypeFile, KubernetesFile, ScenarioFile, SchedulerFile, ScoringFile,
    ShapePointFile,
};
use super::units::{CpuText, DurationText, MemoryText};

fn duration(d: Millis) -> DurationText {
    DurationText(d)
}

fn delay(d: &Delay) -> DelayFile {
    match *d {
        Delay::Fixed(value) => DelayFile::Fixed {
            value: duration(value),
        },
        Delay::Uniform { min, max } => DelayFile::Uniform {
            min: duration(min),
            max: duration(max),
        },
        Delay::Exponential { mean } => DelayFile::Exponential {
            mean: duration(mean),
        },
        Delay::LogNormal { median, p95 } => DelayFile::Lognormal {
            median: duration(median),
            p95: duration(p95),
        },
        Delay::Empirical(ref samples) => DelayFile::Empirical {
            samples: samples.iter().map(|&m| duration(m)).collect(),
        },
    }
}

/// The scenario's file with every constant default made explicit: seeds,
/// window, zones, every instance type (built-in ones included), instance
/// and control-plane timings, node lifecycle and scheduler settings. Defaults that follow another value (a pool's
/// min and max follow its desired size, its zones the scenario's, its
/// delays `[instances]`) stay implicit, so that sweeping that value means
/// the same on the resolved file. Keys not listed here are kept as written.
pub fn resolved_file(s: &Scenario) -> ScenarioFile {
    let mut f = s.file.clone();
    f.seeds = Some(s.seeds);
    f.first_seed = Some(s.first_seed);
    f.detection_window = Some(duration(s.detection_window));
    if f.zones.is_none() {
        f.zones = Some(
            super::validate::DEFAULT_ZONES
                .iter()
                .map(|z| z.to_string())
                .collect(),
        );
    }
    f.instance_types = s
        .instance_types
        .iter()
        .map(|t| InstanceTypeFile {
            name: t.name.clone(),
            cpu: CpuText(t.cpu),
            memory: MemoryText(t.memory),
            max_pods: t.max_pods,
            gpu: (t.gpu > 0).then_some(t.gpu),
            price_per_hour: t.price_per_hour,
        })
        .collect();
    f.instances.replacement_delay = Some(duration(s.replacement_delay));
    f.instances.impaired_detection = Some(duration(s.cloud.impaired_detection));
    f.instances.shutting_down = Some(duration(s.cloud.shutting_down));
    resolve_kubernetes(&mut f.kubernetes, s);
    resolve_scheduler(&mut f.kubernetes.scheduler, &s.kube.scheduler);
    resolve_instance_delays(&mut f, s);
    f
}

/// `[kubernetes]`: the version and every control-plane timing, node
/// lifecycle and controller setting.
fn resolve_kubernetes(kf: &mut KubernetesFile, s: &Scenario) {
    let k = &s.kube;
    kf.node_monitor_period = Some(duration(k.node_monitor_period));
    // The version is written; the defaults that follow it (grace period,
    // feature gates, the autoscaler's expander) stay as written, so a
    // sweep of `kubernetes.version` means the same on the resolved file.
    kf.version = Some(toml::Spanned::new(0..0, s.kube_version.to_string()));
    kf.node_lease_renew_interval = Some(duration(k.node_lease_renew_interval));
    kf.pod_gc_period = Some(duration(k.pod_gc_period));
    kf.pod_gc_quarantine = Some(duration(k.pod_gc_quarantine));
    kf.controller_delay = Some(duration(k.controller_delay));
    kf.pod_create_interval = Some(duration(k.pod_create_interval));
    kf.pod_startup = Some(delay(&k.pod_startup));
    kf.pod_create_burst = Some(k.pod_create_burst);
    kf.concurrent_replicaset_syncs = Some(k.concurrent_replicaset_syncs);
    kf.replicaset_burst = Some(k.replicaset_burst);
    kf.terminated_instance_visible_for = Some(duration(k.terminated_instance_visible_for));
    kf.node_eviction_rate = Some(k.node_eviction_rate);
    kf.secondary_node_eviction_rate = Some(k.secondary_node_eviction_rate);
    kf.large_cluster_size_threshold = Some(k.large_cluster_size_threshold);
    kf.unhealthy_zone_threshold = Some(k.unhealthy_zone_threshold);
    kf.default_toleration_seconds = Some(duration(k.default_toleration_seconds));
    kf.controller_retry_initial = Some(duration(k.controller_retry_initial));
    kf.controller_retry_max = Some(duration(k.controller_retry_max));
}

/// `[kubernetes.scheduler]`: backoff, decision time, scoring and its shape.
fn resolve_scheduler(sf: &mut SchedulerFile, sc: &SchedulerConfig) {
    sf.initial_backoff = Some(duration(sc.initial_backoff));
    sf.max_backoff = Some(duration(sc.max_backoff));
    sf.max_in_unschedulable = Some(duration(sc.max_in_unschedulable));
    sf.decision_time = Some(duration(sc.decision_time));
    sf.percentage_of_nodes_to_score = Some(sc.percentage_of_nodes_to_score);
    sf.default_spreading = Some(sc.default_spreading);
    sf.ratio_shape = Some(
        sc.ratio_shape
            .iter()
            .map(|p| ShapePointFile {
                utilization: p.utilization as u32,
                score: p.score as u32,
            })
            .collect(),
    );
    sf.scoring = Some(match sc.scoring {
        ScoringStrategy::LeastAllocated => ScoringFile::LeastAllocated,
        ScoringStrategy::MostAllocated => ScoringFile::MostAllocated,
        ScoringStrategy::RequestedToCapacityRatio => ScoringFile::RequestedToCapacityRatio,
    });
}

/// The instance delays: a pool without its own takes these, so the
/// resolved delay of such a pool is the default. Pools keep what they
/// wrote, and min, max and zones (which default to other values, not to
/// constants) stay as written, so a sweep of `desired` or of
/// `instances.launch_delay` means the same on the resolved file.
fn resolve_instance_delays(f: &mut ScenarioFile, s: &Scenario) {
    for (pf, p) in f.policies.iter().zip(&s.policies) {
        for (poolf, pool) in pf.pools.iter().zip(&p.pools) {
            if f.instances.launch_delay.is_none() && poolf.launch_delay.is_none() {
                f.instances.launch_delay = Some(delay(&pool.launch_delay));
            }
            if f.instances.boot_delay.is_none() && poolf.boot_delay.is_none() {
                f.instances.boot_delay = Some(delay(&pool.boot_delay));
            }
        }
    }
}
