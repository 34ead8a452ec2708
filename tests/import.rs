use std::path::PathBuf;

use poolsim::import::{ClassRule, ImportOptions, import};
use poolsim::{Scenario, run_one};

/// A file of the EKS fixture.
pub(crate) fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/eks")
        .join(name)
}

/// Import options for `inputs` with the fixture's ASGs, kube-system as the
/// system namespace, not strict.
pub(crate) fn options(inputs: Vec<PathBuf>) -> ImportOptions {
    ImportOptions {
        inputs,
        asgs: vec![fixture("asgs.json")],
        nodegroups: Vec::new(),
        needs: None,
        class_rule: ClassRule {
            namespaces: vec!["kube-system".into()],
            labels: Vec::new(),
        },
        strict: false,
        name: "imported-eks".into(),
    }
}

/// The fixture imported with its ASGs, as TOML.
pub(crate) fn imported() -> (String, toml::Table) {
    let out = import(&options(vec![fixture("cluster.json")])).unwrap_or_else(|e| panic!("{e}"));
    let table: toml::Table = out.text.parse().expect("the import is TOML");
    (out.text, table)
}

/// A workload's effective cpu and memory requests as the model reads the
/// imported text (from `cpu`/`memory`, or its containers).
pub(crate) fn effective(text: &str, name: &str) -> (String, String) {
    let s = Scenario::parse(text, "imported.toml").unwrap_or_else(|e| panic!("{e}"));
    let w = s
        .workloads
        .iter()
        .find(|w| w.name == name)
        .unwrap_or_else(|| panic!("no `{name}`"));
    (w.requests.cpu.to_string(), w.requests.memory.to_string())
}

/// The names of a workload's `containers` or `init_containers`.
pub(crate) fn container_names(w: &toml::Table, key: &str) -> Vec<String> {
    w.get(key)
        .and_then(toml::Value::as_array)
        .map(|l| {
            l.iter()
                .map(|c| c["name"].as_str().expect("name").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The array `t.key`.
pub(crate) fn array<'a>(t: &'a toml::Table, key: &str) -> &'a Vec<toml::Value> {
    t[key].as_array().unwrap_or_else(|| panic!("no {key}"))
}

/// The table of `list` whose `name` is `name`.
pub(crate) fn named<'a>(list: &'a [toml::Value], name: &str) -> &'a toml::Table {
    list.iter()
        .filter_map(toml::Value::as_table)
        .find(|t| t["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no `{name}`"))
}

/// The string `t.key`.
pub(crate) fn s<'a>(t: &'a toml::Table, key: &str) -> &'a str {
    t.get(key)
        .and_then(toml::Value::as_str)
        .unwrap_or_else(|| panic!("no string {key} in {t:?}"))
}

/// The integer `t.key`.
pub(crate) fn n(t: &toml::Table, key: &str) -> i64 {
    t.get(key)
        .and_then(toml::Value::as_integer)
        .unwrap_or_else(|| panic!("no integer {key} in {t:?}"))
}

/// The strings of the array `t.key` (none if absent).
pub(crate) fn strings(t: &toml::Table, key: &str) -> Vec<String> {
    t.get(key)
        .and_then(toml::Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The pools of the `as-is` policy of the imported fixture.
fn as_is_pools(f: &toml::Table) -> &Vec<toml::Value> {
    let as_is = named(array(f, "policies"), "as-is");
    array(as_is, "pools")
}

/// Pools of `as-is`: the node groups with their ASGs' sizes and settings,
/// the Karpenter nodes (no NodePool manifest given) and the lone node as
/// fixed pools.
#[test]
fn pools_come_from_node_groups_asgs_and_ungrouped_nodes() {
    let (_, f) = imported();
    let pools = as_is_pools(&f);
    assert_eq!(pools.len(), 4);
    // Karpenter's nodes, fixed: 2 c5.2xlarge then c5.xlarge.
    let batch = named(pools, "batch");
    assert_eq!(s(batch, "instance_type"), "c5.2xlarge");
    assert_eq!(strings(batch, "fallback_types"), ["c5.xlarge"]);
    assert_eq!(n(batch, "desired"), 3);
    assert!(batch.get("min").is_none() && batch.get("max").is_none());
    let lone = named(pools, "ungrouped");
    assert_eq!(
        (s(lone, "instance_type"), n(lone, "desired")),
        ("m5.large", 1)
    );
}

/// The `general` node group: 12 m5.xlarge and 2 m6a.xlarge; the ASG: min
/// 3, desired 14, max 20, grace 15 s, AZRebalance suspended, warm pool of
/// 2 (prepared 16); the node group's labels, not a node's own.
#[test]
fn a_node_group_pool_has_its_asgs_sizes_settings_and_labels() {
    let (_, f) = imported();
    let general = named(as_is_pools(&f), "general");
    assert_eq!(s(general, "instance_type"), "m5.xlarge");
    assert_eq!(strings(general, "fallback_types"), ["m6a.xlarge"]);
    assert_eq!(
        (n(general, "min"), n(general, "desired"), n(general, "max")),
        (3, 14, 20)
    );
    assert_eq!(
        strings(general, "zones"),
        ["us-east-1a", "us-east-1b", "us-east-1c"]
    );
    assert_eq!(s(general, "health_check_grace_period"), "15s");
    assert_eq!(general["az_rebalance"].as_bool(), Some(false));
    assert!(
        general.get("capacity").is_none(),
        "on-demand is the default"
    );
    let warm = general["warm_pool"].as_table().expect("warm pool");
    assert_eq!(
        (n(warm, "min_size"), n(warm, "max_prepared_capacity")),
        (2, 16)
    );
    let labels = general["labels"].as_table().expect("labels");
    assert_eq!(
        labels["eks.amazonaws.com/nodegroup"].as_str(),
        Some("general")
    );
    assert_eq!(labels["kubernetes.io/os"].as_str(), Some("linux"));
    assert!(labels.get("kubernetes.io/hostname").is_none());
    assert!(
        labels.get("node.kubernetes.io/instance-type").is_none(),
        "two types"
    );
}

/// The `memory` node group: 4 r5.xlarge on Spot, tainted, capacity
/// rebalancing.
#[test]
fn a_spot_node_group_pool_keeps_its_capacity_type_and_taints() {
    let (_, f) = imported();
    let memory = named(as_is_pools(&f), "memory");
    assert_eq!(s(memory, "instance_type"), "r5.xlarge");
    assert_eq!(
        (n(memory, "min"), n(memory, "desired"), n(memory, "max")),
        (2, 4, 6)
    );
    assert_eq!(s(memory, "capacity"), "spot");
    assert_eq!(memory["capacity_rebalance"].as_bool(), Some(true));
    let taint = array(memory, "taints")[0].as_table().expect("taint");
    assert_eq!(
        (s(taint, "key"), s(taint, "value"), s(taint, "effect")),
        ("dedicated", "memory", "NoSchedule")
    );
    assert_eq!(memory["labels"]["workload-type"].as_str(), Some("memory"));
}

/// An instance type outside the catalogue, the zones and the Kubernetes
/// version come from the nodes.
#[test]
fn unknown_types_zones_and_version_come_from_the_nodes() {
    let (_, f) = imported();
    // m6a.xlarge is not in the catalogue: from the node's capacity.
    let t = named(array(&f, "instance_types"), "m6a.xlarge");
    assert_eq!(
        (s(t, "cpu"), s(t, "memory"), n(t, "max_pods")),
        ("4", "15907764Ki", 58)
    );
    assert_eq!(
        strings(&f, "zones"),
        ["us-east-1a", "us-east-1b", "us-east-1c"]
    );
    assert_eq!(
        s(f["kubernetes"].as_table().expect("kubernetes"), "version"),
        "1.31"
    );
}

/// The api Deployment: HPA current 6; 500m/1Gi (the 50m/32Mi init
/// container is smaller, and written as one); shop-high; ClusterFirst DNS
/// needs CoreDNS; its readiness probe waits 15 s.
#[test]
fn a_deployment_has_its_containers_class_needs_and_readiness() {
    let (text, f) = imported();
    let w = array(&f, "workloads");
    let api = named(w, "api");
    assert_eq!(n(api, "replicas"), 6);
    assert_eq!(container_names(api, "containers"), ["api"]);
    assert_eq!(container_names(api, "init_containers"), ["wait-for-db"]);
    assert!(api.get("cpu").is_none());
    assert_eq!(effective(&text, "api"), ("500m".into(), "1Gi".into()));
    assert_eq!(
        (s(api, "class"), s(api, "priority_class")),
        ("user", "shop-high")
    );
    assert_eq!(strings(api, "needs"), ["coredns"]);
    assert_eq!(
        s(
            api["readiness_delay"].as_table().expect("readiness"),
            "value"
        ),
        "15s"
    );
    assert!(named(w, "worker").get("readiness_delay").is_none());
}

/// Effective requests summed over containers (init containers smaller),
/// replicas, PDBs and the system DaemonSets.
#[test]
fn workloads_have_effective_requests_replicas_and_classes() {
    let (text, f) = imported();
    let w = array(&f, "workloads");
    // web: 250m+100m, 512Mi+128Mi; PDB maxUnavailable 25% of 4 -> 1.
    let web = named(w, "web");
    assert_eq!(container_names(web, "containers").len(), 2);
    assert_eq!(effective(&text, "web"), ("350m".into(), "640Mi".into()));
    assert_eq!(n(web["pdb"].as_table().expect("pdb"), "max_unavailable"), 1);
    // worker: 30 replicas, 12 of them Pending (the backlog).
    let worker = named(w, "worker");
    assert_eq!(n(worker, "replicas"), 30);
    assert_eq!(effective(&text, "worker"), ("500m".into(), "1Gi".into()));
    // aws-node: the CNI DaemonSet, 25m+25m (its 25m init container is
    // smaller), no memory, system.
    let cni = named(w, "aws-node");
    assert_eq!(s(cni, "kind"), "daemonset");
    assert_eq!(effective(&text, "aws-node"), ("50m".into(), "0".into()));
    assert_eq!(cni["network_plugin"].as_bool(), Some(true));
    assert_eq!(s(cni, "class"), "system");
    assert!(named(w, "kube-proxy")["network_plugin"].as_bool() == Some(false));
    // ebs-csi-controller: five 10m/40Mi containers.
    let ebs = named(w, "ebs-csi-controller");
    assert_eq!(container_names(ebs, "containers").len(), 5);
    assert_eq!(
        effective(&text, "ebs-csi-controller"),
        ("50m".into(), "200Mi".into())
    );
    // BestEffort: no requests.
    let echo = named(w, "echo");
    assert_eq!((s(echo, "cpu"), s(echo, "memory")), ("0", "0"));
    let shell = named(w, "debug-shell");
    assert_eq!(n(shell, "replicas"), 1);
}

/// CoreDNS and Prometheus: a service's minimum from its PDB, its own DNS
/// policy, a StatefulSet's claim template; the fixture's PriorityClasses.
#[test]
fn services_statefulsets_and_priority_classes_are_imported() {
    let (text, f) = imported();
    let w = array(&f, "workloads");
    // CoreDNS: a service of 2 - maxUnavailable 1 = 1 pod; its own DNS
    // policy is Default, so it needs nothing.
    let dns = named(w, "coredns");
    assert_eq!((n(dns, "replicas"), n(dns, "min_available")), (2, 1));
    assert!(strings(dns, "needs").is_empty());
    assert_eq!(s(dns, "priority_class"), "system-cluster-critical");
    // Prometheus: 500m+10m, 2Gi+25Mi, its claim template, one replica.
    let prom = named(w, "prometheus-kube-prometheus-stack-prometheus");
    assert_eq!((s(prom, "kind"), n(prom, "replicas")), ("statefulset", 1));
    assert_eq!(
        effective(&text, "prometheus-kube-prometheus-stack-prometheus"),
        ("510m".into(), "2073Mi".into())
    );
    let claim = array(prom, "volume_claims")[0].as_table().expect("claim");
    assert_eq!(
        s(claim, "name"),
        "prometheus-kube-prometheus-stack-prometheus-db"
    );
    // PriorityClasses: the fixture's own two, not the built-in ones.
    let classes = array(&f, "priority_classes");
    assert_eq!(classes.len(), 2);
    assert_eq!(n(named(classes, "batch-low"), "value"), -10);
    assert_eq!(s(named(classes, "batch-low"), "preemption_policy"), "Never");
}

/// Placement and Jobs: Redis on the memory pool by selector and
/// toleration; a CronJob's arrivals and work; a running Job's remaining
/// completions.
#[test]
fn placement_and_jobs_are_imported() {
    let (_, f) = imported();
    let w = array(&f, "workloads");
    let redis = named(w, "cache-redis");
    assert_eq!(
        redis["node_selector"]["workload-type"].as_str(),
        Some("memory")
    );
    assert_eq!(
        array(redis, "tolerations").len(),
        1,
        "the default pair is the model's own"
    );
    // The CronJob: one Job a day, 27m (the longer of its two finished
    // Jobs, 23m and 27m).
    let cron = named(w, "nightly-report");
    assert_eq!(s(cron, "kind"), "job");
    assert_eq!(s(cron["work"].as_table().expect("work"), "value"), "27m");
    let rate = cron["arrivals"]["rate_per_hour"].as_float().expect("rate");
    assert!((rate - 1.0 / 24.0).abs() < 1e-12);
    // The running Job: 10 completions, 3 done, 4 at once.
    let backfill = named(w, "backfill-2024");
    assert_eq!(
        (n(backfill, "completions"), n(backfill, "parallelism")),
        (7, 4)
    );
}

/// Kyverno's Fail webhooks gate every Deployment, StatefulSet and Job
/// outside kube-system and kyverno; cert-manager's and ingress-nginx's
/// webhooks do not intercept pods.
#[test]
fn webhooks_gate_what_their_selectors_match() {
    let (_, f) = imported();
    let w = array(&f, "workloads");
    let kyverno = named(w, "kyverno-admission-controller");
    let hook = kyverno["webhook"].as_table().expect("webhook");
    assert_eq!(s(hook, "failure_policy"), "Fail");
    assert_eq!(n(kyverno, "min_available"), 1);
    let mut gated = strings(hook, "workloads");
    gated.sort();
    let mut want = vec![
        "api",
        "backfill-2024",
        "cache-redis",
        "cert-manager",
        "cert-manager-cainjector",
        "cert-manager-webhook",
        "checkout",
        "debug-shell",
        "echo",
        "ingress-nginx-controller",
        "kube-prometheus-stack-kube-state-metrics",
        "nightly-report",
        "prometheus-kube-prometheus-stack-prometheus",
        "web",
        "worker",
    ];
    want.sort();
    assert_eq!(gated, want);
    for name in ["cert-manager-webhook", "ingress-nginx-controller"] {
        assert!(named(w, name).get("webhook").is_none(), "{name}");
    }
}

/// The split policy adds a tainted system pool of 2 m5.xlarge: the
/// system Deployments ask 500m and 940Mi, one node's worth after the
/// system DaemonSets' 180m/120Mi, plus one spare.
#[test]
fn split_sizes_a_system_pool() {
    let (_, f) = imported();
    let split = named(array(&f, "policies"), "split");
    let pools = array(split, "pools");
    assert_eq!(pools.len(), 5);
    let system = named(pools, "system");
    assert_eq!(
        (s(system, "instance_type"), n(system, "desired")),
        ("m5.xlarge", 2)
    );
    assert_eq!(system["labels"]["poolsim/pool"].as_str(), Some("system"));
    let rule = split["placement"]["system"].as_table().expect("placement");
    assert_eq!(
        rule["node_selector"]["poolsim/pool"].as_str(),
        Some("system")
    );
    assert_eq!(
        strings(rule, "except"),
        ["aws-node", "ebs-csi-node", "kube-proxy"]
    );
    let prio = named(array(&f, "policies"), "as-is-priority");
    assert_eq!(
        prio["placement"]["system"]["priority_class"].as_str(),
        Some("system-cluster-critical")
    );
}

/// The report names what was approximated, and the file carries it.
#[test]
fn report_lists_what_was_approximated() {
    let out = import(&options(vec![fixture("cluster.json")])).expect("import");
    let lines = out.notes.lines().join("\n");
    for want in [
        "HPAs frozen at their current size",
        "Deployment/shop/api (6 replicas, HPA 3-20)",
        "pods with no controller",
        "Pod/shop/debug-shell",
        "instance types not in the catalogue",
        "m6a.xlarge",
        "pool ungrouped (1 nodes)",
        "PDB percentages",
    ] {
        assert!(lines.contains(want), "no `{want}` in\n{lines}");
        assert!(out.text.contains(want), "no `{want}` in the file");
    }
    assert!(
        out.text
            .contains("# Deployment/shop/api; HPA 3-20\n[[workloads]]")
    );
    assert!(
        out.text
            .contains("# Deployment/shop/worker; 12 Pending\n[[workloads]]")
    );
}

/// The same inputs give the same bytes, and the shipped example is what
/// the importer writes today.
#[test]
fn import_is_byte_identical_and_matches_the_shipped_example() {
    let (a, _) = imported();
    let (b, _) = imported();
    assert_eq!(a, b);
    let shipped = std::fs::read_to_string(crate::support::shipped("imported-eks.toml"))
        .expect("scenarios/imported-eks.toml");
    let from_cli = {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("imported-eks.toml");
        let root = env!("CARGO_MANIFEST_DIR");
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_poolsim"))
            .current_dir(root)
            .args([
                "import",
                "tests/fixtures/eks/cluster.json",
                "--asg",
                "tests/fixtures/eks/asgs.json",
                "-o",
            ])
            .arg(&out)
            .output()
            .expect("poolsim runs");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read_to_string(&out).expect("written")
    };
    assert_eq!(
        from_cli, shipped,
        "regenerate: poolsim import tests/fixtures/eks/cluster.json --asg tests/fixtures/eks/asgs.json -o scenarios/imported-eks.toml"
    );
}

/// The imported scenario runs every policy, and a seed gives one history.
#[test]
fn imported_scenario_runs_with_stable_results() {
    let (text, _) = imported();
    let scenario = Scenario::parse(&text, "imported-eks.toml").expect("valid");
    assert_eq!(scenario.policies.len(), 3);
    for p in 0..scenario.policies.len() {
        for seed in 1..=3 {
            let a = run_one(&scenario, p, seed);
            let b = run_one(&scenario, p, seed);
            assert_eq!(
                a.status,
                poolsim::metrics::RunStatus::Ok,
                "policy {p} seed {seed}"
            );
            assert_eq!(format!("{a:?}"), format!("{b:?}"));
        }
    }
}
