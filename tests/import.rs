use std::path::{Path, PathBuf};

use poolsim::import::{ClassRule, ImportOptions, import};
use poolsim::{Scenario, run_one};
use serde_json::Value;

use crate::support::poolsim;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/eks")
        .join(name)
}

fn options(inputs: Vec<PathBuf>) -> ImportOptions {
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
fn imported() -> (String, toml::Table) {
    let out = import(&options(vec![fixture("cluster.json")])).unwrap_or_else(|e| panic!("{e}"));
    let table: toml::Table = out.text.parse().expect("the import is TOML");
    (out.text, table)
}

/// A workload's effective cpu and memory requests as the model reads the
/// imported text (from `cpu`/`memory`, or its containers).
fn effective(text: &str, name: &str) -> (String, String) {
    let s = Scenario::parse(text, "imported.toml").unwrap_or_else(|e| panic!("{e}"));
    let w = s
        .workloads
        .iter()
        .find(|w| w.name == name)
        .unwrap_or_else(|| panic!("no `{name}`"));
    (w.requests.cpu.to_string(), w.requests.memory.to_string())
}

/// The names of a workload's `containers` or `init_containers`.
fn container_names(w: &toml::Table, key: &str) -> Vec<String> {
    w.get(key)
        .and_then(toml::Value::as_array)
        .map(|l| {
            l.iter()
                .map(|c| c["name"].as_str().expect("name").to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn array<'a>(t: &'a toml::Table, key: &str) -> &'a Vec<toml::Value> {
    t[key].as_array().unwrap_or_else(|| panic!("no {key}"))
}

fn named<'a>(list: &'a [toml::Value], name: &str) -> &'a toml::Table {
    list.iter()
        .filter_map(toml::Value::as_table)
        .find(|t| t["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no `{name}`"))
}

fn s<'a>(t: &'a toml::Table, key: &str) -> &'a str {
    t.get(key)
        .and_then(toml::Value::as_str)
        .unwrap_or_else(|| panic!("no string {key} in {t:?}"))
}

fn n(t: &toml::Table, key: &str) -> i64 {
    t.get(key)
        .and_then(toml::Value::as_integer)
        .unwrap_or_else(|| panic!("no integer {key} in {t:?}"))
}

fn strings(t: &toml::Table, key: &str) -> Vec<String> {
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

/// Writes `value` as JSON into `dir/name`.
fn write_json(dir: &Path, name: &str, value: &Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_string(value).expect("json")).expect("write");
    p
}

fn cluster() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("cluster.json")).expect("fixture"))
        .expect("fixture JSON")
}

fn item_index(v: &Value, kind: &str, name: &str) -> usize {
    v["items"]
        .as_array()
        .expect("items")
        .iter()
        .position(|i| i["kind"] == kind && i["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind}/{name}"))
}

/// Runs `poolsim import ARGS -o DIR/out.toml`: exit 2, every `want` in
/// the message, nothing written.
fn refused(dir: &Path, args: &[&str], want: &[&str]) {
    let out = dir.join("out.toml");
    let mut all: Vec<&str> = vec!["import"];
    all.extend_from_slice(args);
    let out_s = out.to_str().expect("utf-8 path");
    all.extend_from_slice(&["-o", out_s]);
    let o = poolsim(&all);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    for w in want {
        assert!(err.contains(w), "`{w}` not in: {err}");
    }
    assert!(!out.exists(), "nothing written");
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

/// A path as the command-line argument it is.
fn arg(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Input that is not JSON or YAML names its file and where it broke.
#[test]
fn unparsable_input_names_the_file_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let full = std::fs::read_to_string(fixture("cluster.json")).expect("fixture");
    // Truncated JSON.
    let cut = d.join("cut.json");
    std::fs::write(&cut, &full[..full.len() / 2]).expect("write");
    refused(d, &[arg(&cut)], &["cut.json", "truncated JSON at line"]);
    // Invalid YAML.
    let yaml = d.join("bad.yaml");
    std::fs::write(&yaml, "apiVersion: v1\nkind: [Pod\n").expect("write");
    refused(d, &[arg(&yaml)], &["bad.yaml", "invalid YAML"]);
}

/// An unknown kind, and an unknown apiVersion of a known kind: the file,
/// the object and the JSON path.
#[test]
fn unknown_kinds_and_api_versions_name_file_object_and_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let mut v = cluster();
    v["items"][3]["kind"] = Value::from("Widget");
    v["items"][3]["apiVersion"] = Value::from("example.com/v1");
    let p = write_json(d, "kind.json", &v);
    refused(
        d,
        &[arg(&p)],
        &["kind.json", "Widget/", ".items[3].kind", "unknown kind"],
    );
    let mut v = cluster();
    let i = item_index(&v, "Deployment", "api");
    v["items"][i]["apiVersion"] = Value::from("apps/v1beta1");
    let p = write_json(d, "version.json", &v);
    let path = format!(".items[{i}].apiVersion");
    refused(
        d,
        &[arg(&p)],
        &["Deployment/shop/api", &path, "expected apps/v1"],
    );
}

/// A node without allocatable, and an ownerReference to nothing (the api
/// ReplicaSet removed): the object and the JSON path.
#[test]
fn missing_fields_and_dangling_owners_name_object_and_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let mut v = cluster();
    let node = v["items"][0]["metadata"]["name"]
        .as_str()
        .expect("name")
        .to_string();
    v["items"][0]["status"]
        .as_object_mut()
        .expect("status")
        .remove("allocatable");
    let p = write_json(d, "node.json", &v);
    let object = format!("Node/{node}");
    refused(
        d,
        &[arg(&p)],
        &[&object, ".items[0].status.allocatable", "allocatable"],
    );
    let mut v = cluster();
    let items = v["items"].as_array_mut().expect("items");
    items.retain(|i| {
        !(i["kind"] == "ReplicaSet"
            && i["spec"]["replicas"] == 6
            && i["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("api-")))
    });
    let p = write_json(d, "owner.json", &v);
    refused(
        d,
        &[arg(&p)],
        &[
            "Pod/shop/api-",
            ".metadata.ownerReferences[0]",
            "not among the inputs",
        ],
    );
}

/// An ASG instance that is no node names the ASG file, the group and the
/// instance's path.
#[test]
fn an_asg_instance_that_is_no_node_names_file_group_and_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let mut asgs: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("asgs.json")).expect("asgs"))
            .expect("json");
    let extra = serde_json::json!({"AvailabilityZone": "us-east-1a", "HealthStatus": "Healthy",
        "InstanceId": "i-0deadbeef0000000", "InstanceType": "m5.xlarge", "LifecycleState": "InService",
        "ProtectedFromScaleIn": false});
    asgs["AutoScalingGroups"][0]["Instances"]
        .as_array_mut()
        .expect("instances")
        .push(extra);
    let a = write_json(d, "asgs.json", &asgs);
    let c = fixture("cluster.json");
    refused(
        d,
        &[arg(&c), "--asg", arg(&a)],
        &[
            "asgs.json",
            "AutoScalingGroup/eks-general-",
            ".AutoScalingGroups[0].Instances[14].InstanceId",
            "i-0deadbeef0000000",
        ],
    );
}

/// `--strict` refuses an import that approximated anything.
#[test]
fn strict_refuses_an_approximated_import_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let c = fixture("cluster.json");
    refused(d, &[arg(&c), "--strict"], &["--strict", "HPAs frozen"]);
}

/// A directory of YAML manifests: a `List` of nodes, multi-document
/// files, kinds the model has no use for noted, a file that is no
/// manifest noted; sidecars, init containers, overhead and limits in the
/// effective requests.
#[test]
fn yaml_manifests_import_with_effective_requests() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/manifests");
    let mut opts = options(vec![dir]);
    opts.asgs.clear();
    let out = import(&opts).unwrap_or_else(|e| panic!("{e}"));
    let f: toml::Table = out.text.parse().expect("TOML");
    let api = named(array(&f, "workloads"), "api");
    // max(sidecar 100m/64Mi + api's limits 500m/512Mi + probe 50m,
    // init 1/1Gi) + overhead 10m/16Mi: written as containers (the sidecar
    // with restart_policy), init containers and overhead.
    assert_eq!(container_names(api, "containers"), ["api", "gpu-probe"]);
    assert_eq!(
        container_names(api, "init_containers"),
        ["migrate", "proxy"]
    );
    let proxy = array(api, "init_containers")[1].as_table().expect("proxy");
    assert_eq!(s(proxy, "restart_policy"), "Always");
    assert_eq!(
        s(api["overhead"].as_table().expect("overhead"), "cpu"),
        "10m"
    );
    assert_eq!(
        effective(&out.text, "api"),
        ("1010m".into(), "1040Mi".into())
    );
    // The probe's GPU: the manifests' nodes (m5.large) have none, so the
    // request is dropped with a note rather than written unplaceable.
    assert!(array(api, "containers")[1].get("gpu").is_none());
    // No status: the HPA keeps spec.replicas; minAvailable 50% of 3 -> 2.
    assert_eq!(n(api, "replicas"), 3);
    assert_eq!(n(api["pdb"].as_table().expect("pdb"), "min_available"), 2);
    let pool = named(
        array(named(array(&f, "policies"), "as-is"), "pools"),
        "apps",
    );
    assert_eq!(
        (s(pool, "instance_type"), n(pool, "desired")),
        ("m5.large", 2)
    );
    assert_eq!(strings(&f, "zones"), ["eu-west-1a", "eu-west-1b"]);
    assert_eq!(s(f["kubernetes"].as_table().expect("k"), "version"), "1.33");
    let report = out.notes.lines().join("\n");
    for want in [
        "Namespace objects: not part of the model: Namespace/shop",
        "ConfigMap/shop/api-config",
        "NOTES.txt",
        "`nvidia.com/gpu` requests dropped: no node or NodePool has GPUs",
        "Deployment/shop/api",
        "no CoreDNS workload",
        "node groups without AWS data",
    ] {
        assert!(report.contains(want), "no `{want}` in\n{report}");
    }
}

/// With its NodePool manifest, the Karpenter pool is a NodePool of every
/// policy instead of a fixed pool, and the EC2NodeClass is noted.
#[test]
fn karpenter_nodepool_manifest_becomes_a_nodepool() {
    let opts = options(vec![
        fixture("cluster.json"),
        fixture("karpenter/batch.yaml"),
    ]);
    let out = import(&opts).unwrap_or_else(|e| panic!("{e}"));
    let f: toml::Table = out.text.parse().expect("TOML");
    for p in array(&f, "policies") {
        let p = p.as_table().expect("policy");
        assert!(
            array(p, "pools")
                .iter()
                .all(|x| x["name"].as_str() != Some("batch"))
        );
        let np = named(array(p, "nodepools"), "batch");
        assert_eq!(n(np, "weight"), 10);
        assert_eq!(np["labels"]["team"].as_str(), Some("data"));
        let limits = np["limits"].as_table().expect("limits");
        assert_eq!((s(limits, "cpu"), s(limits, "memory")), ("64", "128Gi"));
        let reqs = array(np, "requirements");
        assert_eq!(reqs.len(), 3);
        let t = array(np, "taints")[0].as_table().expect("taint");
        assert_eq!((s(t, "key"), s(t, "effect")), ("batch", "NoSchedule"));
    }
    let report = out.notes.lines().join("\n");
    assert!(report.contains("EC2NodeClass/default"), "{report}");
    let np = named(
        array(named(array(&f, "policies"), "as-is"), "nodepools"),
        "batch",
    );
    let d = np["disruption"].as_table().expect("disruption");
    assert_eq!(
        (s(d, "consolidation_policy"), s(d, "consolidate_after")),
        ("WhenEmptyOrUnderutilized", "1m")
    );
    assert_eq!(s(np, "expire_after"), "720h");
    assert!(Scenario::parse(&out.text, "k.toml").is_ok());
}

/// `--needs FILE` adds dependencies the API cannot show, making each
/// needed workload a service; a name that is no workload is refused.
#[test]
fn needs_file_adds_dependencies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let needs = dir.path().join("needs.toml");
    std::fs::write(&needs, "api = [\"checkout\", \"cache-redis\"]\n").expect("write");
    let mut opts = options(vec![fixture("cluster.json")]);
    opts.needs = Some(needs.clone());
    let out = import(&opts).unwrap_or_else(|e| panic!("{e}"));
    let f: toml::Table = out.text.parse().expect("TOML");
    let w = array(&f, "workloads");
    let mut got = strings(named(w, "api"), "needs");
    got.sort();
    assert_eq!(got, ["cache-redis", "checkout", "coredns"]);
    assert_eq!(n(named(w, "checkout"), "min_available"), 1);
    assert_eq!(n(named(w, "cache-redis"), "min_available"), 1);
    std::fs::write(&needs, "api = [\"payments\"]\n").expect("write");
    let err = import(&opts).expect_err("unknown service").to_string();
    assert!(
        err.contains("needs.toml")
            && err.contains("api[payments]")
            && err.contains("no imported workload named `payments`"),
        "{err}"
    );
}

/// A g5.xlarge node (one GPU in its capacity) and a Deployment whose one
/// container has `nvidia.com/gpu: 1` in its limits only (the API server
/// copies it into requests): the workload asks for `gpu = 1`, and the
/// scenario is valid because the node's pool holds it.
#[test]
fn gpu_limits_become_a_gpu_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    let list = serde_json::json!({
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": "gpu-1",
                    "labels": {
                        "node.kubernetes.io/instance-type": "g5.xlarge",
                        "topology.kubernetes.io/zone": "us-east-1a"
                    }
                },
                "status": {
                    "capacity": {"cpu": "4", "memory": "16Gi", "pods": "58", "nvidia.com/gpu": "1"},
                    "allocatable": {"cpu": "3920m", "memory": "15Gi", "pods": "58", "nvidia.com/gpu": "1"}
                }
            },
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "train", "namespace": "ml"},
                "spec": {
                    "replicas": 1,
                    "template": {
                        "metadata": {"labels": {"app": "train"}},
                        "spec": {
                            "containers": [{
                                "name": "train",
                                "resources": {"limits": {"cpu": "2", "memory": "8Gi", "nvidia.com/gpu": 1}}
                            }]
                        }
                    }
                }
            }
        ]
    });
    let p = dir.path().join("gpu.json");
    std::fs::write(&p, list.to_string()).expect("write");
    let mut opts = options(vec![p]);
    opts.asgs.clear();
    let out = import(&opts).unwrap_or_else(|e| panic!("{e}"));
    let f: toml::Table = out.text.parse().expect("TOML");
    let train = named(array(&f, "workloads"), "train");
    assert_eq!(n(train, "gpu"), 1);
    assert_eq!((s(train, "cpu"), s(train, "memory")), ("2", "8Gi"));
    let scenario = Scenario::parse(&out.text, "gpu.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(scenario.workloads[0].requests.gpu, 1);
    let report = out.notes.lines().join("\n");
    assert!(!report.contains("nvidia.com/gpu"), "{report}");
}
