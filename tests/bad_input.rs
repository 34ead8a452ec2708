use std::path::Path;

use crate::support::poolsim;

pub(crate) const VALID: &str = r#"name = "tiny"
horizon = "30m"

[[workloads]]
name = "dns"
class = "system"
replicas = 2
min_available = 1
cpu = "500m"
memory = "128Mi"

[[policies]]
name = "single-pool"
pools = [{ name = "all", instance_type = "m5.large", desired = 2 }]
"#;

/// Writes `text`, runs `poolsim run` on it, and checks the exit code, that
/// the message names the file, the line and the key, and that nothing was
/// written.
pub(crate) fn rejects(text: &str, line: usize, key: &str, words: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("bad.toml");
    std::fs::write(&file, text).unwrap();
    let out = tmp.path().join("out");
    let o = poolsim(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    let at = format!("{}:{line}: {key}", file.display());
    assert!(stderr.contains(&at), "expected `{at}` in: {stderr}");
    assert!(stderr.contains(words), "expected `{words}` in: {stderr}");
    assert!(!Path::new(&out).exists(), "output written for a bad file");
    // validate agrees.
    let v = poolsim(&["validate", file.to_str().unwrap()]);
    assert_eq!(v.status.code(), Some(2));
}

#[test]
fn the_valid_base_is_valid() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("ok.toml");
    std::fs::write(&file, VALID).unwrap();
    let v = poolsim(&["validate", file.to_str().unwrap()]);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
}

#[test]
fn unknown_key() {
    let text = VALID.replace("cpu = \"500m\"", "cpu = \"500m\"\ncolour = \"blue\"");
    rejects(&text, 10, "workloads.dns.colour", "unknown field `colour`");
}

#[test]
fn wrong_unit() {
    let text = VALID.replace("cpu = \"500m\"", "cpu = \"2 cores\"");
    rejects(
        &text,
        9,
        "workloads.dns.cpu",
        "invalid cpu quantity `2 cores`",
    );
}

#[test]
fn missing_field() {
    let text = VALID.replace("cpu = \"500m\"\n", "");
    // Issue 12, item 9: the workload is named (on its name's line: `cpu`
    // may be left out for `containers`, so serde no longer requires it).
    rejects(&text, 5, "workloads.dns.cpu", "missing field `cpu`");
    // A Deployment without replicas (a DaemonSet takes none).
    let text = VALID.replace("replicas = 2\n", "");
    rejects(
        &text,
        5,
        "workloads.dns.replicas",
        "a Deployment needs replicas",
    );
}

#[test]
fn unknown_priority_class() {
    let text = VALID.replace(
        "replicas = 2\n",
        "replicas = 2\npriority_class = \"critical\"\n",
    );
    rejects(
        &text,
        8,
        "workloads.dns.priority_class",
        "no PriorityClass named `critical`",
    );
}

#[test]
fn node_selector_no_pool_satisfies() {
    let text = VALID.replace(
        "replicas = 2\n",
        "replicas = 2\nnode_selector = { gpu = \"yes\" }\n",
    );
    rejects(
        &text,
        8,
        "workloads.dns.node_selector",
        "no pool's labels satisfy nodeSelector {gpu=yes}",
    );
}

#[test]
fn pod_larger_than_every_instance_type() {
    let text = VALID.replace("cpu = \"500m\"", "cpu = \"64\"");
    rejects(
        &text,
        5,
        "workloads.dns",
        "larger than the allocatable capacity",
    );
}

#[test]
fn unknown_policy_on_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("ok.toml");
    std::fs::write(&file, VALID).unwrap();
    let out = tmp.path().join("out");
    let o = poolsim(&[
        "run",
        file.to_str().unwrap(),
        "--policy",
        "nope",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("unknown policy `nope` (policies: single-pool)")
    );
    assert!(!out.exists());
}

#[test]
fn launch_failure_probability_outside_0_1() {
    let text =
        format!("{VALID}[instances]\nlaunch_failure_probability = {{ \"us-east-1a\" = 1.5 }}\n");
    rejects(
        &text,
        16,
        "instances.launch_failure_probability.us-east-1a",
        "1.5 is not a probability",
    );
}

#[test]
fn fault_fraction_outside_0_1() {
    let text =
        format!("{VALID}[[faults]]\nkind = \"terminate_fraction\"\nfraction = 2.0\nat = \"1m\"\n");
    rejects(&text, 17, "faults[0].fraction", "2 is not a probability");
}

#[test]
fn fault_in_an_unknown_zone() {
    let text = format!(
        "{VALID}[[faults]]\nkind = \"zone_outage\"\nzone = \"mars-1a\"\nat = \"1m\"\nduration = \"5m\"\n"
    );
    rejects(&text, 17, "faults[0].zone", "unknown zone `mars-1a`");
}

#[test]
fn fault_on_an_unknown_pool() {
    let text =
        format!("{VALID}[[faults]]\nkind = \"terminate_all\"\npool = \"gpu\"\nat = \"1m\"\n");
    rejects(
        &text,
        17,
        "faults[0].pool",
        "no policy has a pool named `gpu`",
    );
}

#[test]
fn fallback_instance_type_unknown() {
    let text = VALID.replace(
        "desired = 2 }",
        "desired = 2, fallback_types = [\"m9.huge\"] }",
    );
    rejects(
        &text,
        14,
        "policies.single-pool.pools.all.fallback_types",
        "unknown instance type `m9.huge`",
    );
}

#[test]
fn insufficient_capacity_in_an_unknown_zone() {
    let text = format!(
        "{VALID}[instances]\ninsufficient_capacity = [\n  {{ zone = \"us-west-9\", instance_type = \"m5.large\", from = \"0s\", until = \"5m\" }},\n]\n"
    );
    rejects(
        &text,
        17,
        "instances.insufficient_capacity.zone",
        "unknown zone `us-west-9`",
    );
}

#[test]
fn negative_fault_time() {
    let text = format!("{VALID}[[faults]]\nkind = \"terminate_all\"\nat = \"-5m\"\n");
    rejects(&text, 17, "faults[0].at", "negative duration `-5m`");
}

#[test]
fn fault_key_that_does_not_apply_to_its_kind() {
    let text = format!("{VALID}[[faults]]\nkind = \"terminate_all\"\nat = \"1m\"\nmtbf = \"1h\"\n");
    rejects(
        &text,
        18,
        "faults[0].mtbf",
        "does not apply to kind `terminate_all`",
    );
}

#[test]
fn min_greater_than_max_and_desired_outside() {
    let text = VALID.replace("desired = 2 }", "desired = 2, min = 3, max = 2 }");
    rejects(
        &text,
        14,
        "policies.single-pool.pools.all.min",
        "min (3) exceeds max (2)",
    );
    // Issue 12, item 9: without `min` (which defaults to desired) the
    // message is about the `desired` the user wrote.
    let text = VALID.replace("desired = 2 }", "desired = 8, max = 6 }");
    rejects(
        &text,
        14,
        "policies.single-pool.pools.all.desired",
        "desired (8) exceeds max (6)",
    );
    let text = VALID.replace("desired = 2 }", "desired = 1, min = 2, max = 4 }");
    rejects(
        &text,
        14,
        "policies.single-pool.pools.all.desired",
        "must lie within [min, max]",
    );
}

#[test]
fn toleration_exists_with_a_value() {
    let text = VALID.replace(
        "replicas = 2\n",
        "replicas = 2\ntolerations = [{ key = \"role\", operator = \"Exists\", value = \"x\" }]\n",
    );
    rejects(
        &text,
        8,
        "workloads.dns.tolerations",
        "a toleration with operator Exists takes no value",
    );
}

#[test]
fn daemonset_with_replicas() {
    let text = VALID.replace("replicas = 2\n", "replicas = 2\nkind = \"daemonset\"\n");
    rejects(
        &text,
        7,
        "workloads.dns.replicas",
        "a DaemonSet runs one pod per node",
    );
}

/// An autoscaler with an unknown expander, an unknown key, or a priority
/// for a pool the policy does not have.
#[test]
fn autoscaler_keys() {
    let text = format!("{VALID}[policies.autoscaler]\nexpander = \"cheapest\"\n");
    rejects(
        &text,
        16,
        "policies.single-pool.autoscaler.expander",
        "unknown variant `cheapest`",
    );
    let text = format!("{VALID}[policies.autoscaler]\nscan_intervall = \"10s\"\n");
    rejects(
        &text,
        16,
        "policies.single-pool.autoscaler.scan_intervall",
        "unknown field",
    );
    let text = format!(
        "{VALID}[policies.autoscaler]\nexpander = \"priority\"\npriorities = {{ gpu = 10 }}\n"
    );
    rejects(
        &text,
        13,
        "policies.single-pool.autoscaler.priorities.gpu",
        "no pool `gpu`",
    );
    let text = format!("{VALID}[policies.autoscaler]\nscale_down_utilization_threshold = 1.5\n");
    rejects(
        &text,
        13,
        "policies.single-pool.autoscaler.scale_down_utilization_threshold",
        "not between 0 and 1",
    );
}

/// Issue 12, item 9: a bad value inside a pool's inline table names the
/// policy and the pool.
#[test]
fn bad_pool_capacity_names_the_pool() {
    let text = VALID.replace("desired = 2 }", "desired = 2, capacity = \"spt\" }");
    rejects(
        &text,
        14,
        "policies.single-pool.pools.all.capacity",
        "unknown variant `spt`",
    );
}

/// Issue 12, item 9: a typo in a key of `[sweep]` names the file and the
/// line of the entry, and the nearest valid keys.
#[test]
fn sweep_key_typo_names_file_and_line() {
    let text = format!("{VALID}\n[sweep]\n\"workloads.dns.replicaz\" = [2, 3]\n");
    rejects(
        &text,
        17,
        "sweep.workloads.dns.replicaz",
        "unknown key `workloads.dns.replicaz` (nearest valid: `workloads.dns.replicas`",
    );
}
