use std::path::PathBuf;

use poolsim::import::{ClassRule, ImportOptions, Imported, import};
use poolsim::metrics::RunStatus;
use poolsim::{Scenario, run_one};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn options(inputs: Vec<PathBuf>, asgs: Vec<PathBuf>) -> ImportOptions {
    ImportOptions {
        inputs,
        asgs,
        nodegroups: Vec::new(),
        needs: None,
        class_rule: ClassRule {
            namespaces: vec!["kube-system".into()],
            labels: Vec::new(),
        },
        strict: false,
        name: "imported".into(),
    }
}

fn run(inputs: Vec<PathBuf>, asgs: Vec<PathBuf>) -> (Imported, toml::Table) {
    let out = import(&options(inputs, asgs)).unwrap_or_else(|e| panic!("{e}"));
    let table: toml::Table = out.text.parse().expect("the import is TOML");
    (out, table)
}

fn manifests() -> PathBuf {
    root().join("tests/fixtures/manifests")
}

fn workload<'a>(f: &'a toml::Table, name: &str) -> &'a toml::Table {
    f["workloads"]
        .as_array()
        .expect("workloads")
        .iter()
        .filter_map(toml::Value::as_table)
        .find(|t| t["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no workload `{name}`"))
}

const RULE_KEYS: [&str; 4] = [
    "labels",
    "topology_spread",
    "pod_affinity",
    "pod_anti_affinity",
];

/// The rule keys of workload `name` are exactly those of `want`.
fn assert_rules(f: &toml::Table, name: &str, want: &str) {
    let w = workload(f, name);
    let want: toml::Table = want.parse().expect("expected TOML");
    for k in RULE_KEYS {
        assert_eq!(w.get(k), want.get(k), "{name}.{k}");
    }
}

/// Every policy of the imported text loads and runs to the horizon.
fn loads_and_runs(text: &str) {
    let s = Scenario::parse(text, "imported.toml").unwrap_or_else(|e| panic!("{e}"));
    for p in 0..s.policies.len() {
        assert_eq!(run_one(&s, p, 1).status, RunStatus::Ok, "policy {p}");
    }
}

/// The manifests' zone spread, CoreDNS-like required hostname
/// anti-affinity (an `In` with one value is a matchLabels entry) and
/// preferred affinity become the workload's keys, with the pod labels of
/// every workload a selector selects.
#[test]
fn spread_and_affinity_become_workload_keys() {
    let (out, f) = run(vec![manifests()], Vec::new());
    assert_rules(
        &f,
        "web",
        r#"
        labels = { app = "web", tier = "front" }
        topology_spread = [{ max_skew = 1, topology_key = "zone", when_unsatisfiable = "DoNotSchedule", min_domains = 2, node_taints_policy = "Honor", selector = { app = "web" } }]
        pod_affinity = { preferred = [{ topology_key = "zone", weight = 50, selector = { app = "api" } }] }
        pod_anti_affinity = { required = [{ topology_key = "hostname", selector = { app = "web" } }] }
        "#,
    );
    // Selected by web's preferred affinity: its labels are written.
    assert_rules(&f, "api", r#"labels = { app = "api" }"#);
    // Every rule of `odd` is one the model cannot express.
    assert_rules(&f, "odd", "");
    assert!(out.text.contains(
        "[[workloads.topology_spread]]\nmax_skew = 1\ntopology_key = \"zone\"\nwhen_unsatisfiable = \"DoNotSchedule\"\nmin_domains = 2\nnode_taints_policy = \"Honor\"\n\n[workloads.topology_spread.selector]\napp = \"web\"\n"
    ));
    assert!(out.text.contains(
        "[[workloads.pod_anti_affinity.required]]\ntopology_key = \"hostname\"\n\n[workloads.pod_anti_affinity.required.selector]\napp = \"web\"\n"
    ));
    loads_and_runs(&out.text);
}

/// What the model cannot express is skipped, each with the object and the
/// JSON path, in the report and the file.
#[test]
fn what_cannot_be_expressed_is_noted_with_its_path() {
    let (out, _) = run(vec![manifests()], Vec::new());
    let lines = out.notes.lines();
    let t = ".spec.template.spec";
    for want in [
        format!(
            "skipped (1): spread and pod affinity selectors with matchExpressions other than In with one value: not modelled: Deployment/shop/odd {t}.topologySpreadConstraints[0].labelSelector.matchExpressions[0]"
        ),
        format!(
            "skipped (1): spread and pod affinity matchLabelKeys / mismatchLabelKeys: not modelled: Deployment/shop/odd {t}.topologySpreadConstraints[1].matchLabelKeys"
        ),
        format!(
            "skipped (1): spread and pod affinity on topology keys other than zone and hostname: not modelled: Deployment/shop/odd {t}.topologySpreadConstraints[2].topologyKey"
        ),
        format!(
            "skipped (1): spread and pod affinity selectors that select no imported workload: Deployment/shop/odd {t}.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]"
        ),
        format!(
            "skipped (1): pod affinity terms over other namespaces (namespaces, namespaceSelector): not modelled: Deployment/shop/odd {t}.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.namespaces"
        ),
    ] {
        assert!(
            lines.contains(&want),
            "no `{want}` in\n{}",
            lines.join("\n")
        );
        assert!(
            out.text.contains(&format!("# - {want}\n")),
            "not in the file: {want}"
        );
    }
    assert!(!out.text.contains("not modelled yet"));
}

/// The EKS fixture: CoreDNS's zone spread (ScheduleAnyway) and preferred
/// hostname anti-affinity, ingress-nginx's zone spread and checkout's
/// required anti-affinity, no longer noted as skipped.
#[test]
fn eks_fixture_rules_are_imported() {
    let eks = root().join("tests/fixtures/eks");
    let (out, f) = run(vec![eks.join("cluster.json")], vec![eks.join("asgs.json")]);
    assert_rules(
        &f,
        "coredns",
        r#"
        labels = { "eks.amazonaws.com/component" = "coredns", k8s-app = "kube-dns" }
        topology_spread = [{ max_skew = 1, topology_key = "zone", when_unsatisfiable = "ScheduleAnyway", selector = { k8s-app = "kube-dns" } }]
        pod_anti_affinity = { preferred = [{ topology_key = "hostname", weight = 100, selector = { k8s-app = "kube-dns" } }] }
        "#,
    );
    assert_rules(
        &f,
        "ingress-nginx-controller",
        r#"
        labels = { "app.kubernetes.io/component" = "controller", "app.kubernetes.io/instance" = "ingress-nginx", "app.kubernetes.io/name" = "ingress-nginx" }
        topology_spread = [{ max_skew = 1, topology_key = "zone", when_unsatisfiable = "DoNotSchedule", selector = { "app.kubernetes.io/component" = "controller", "app.kubernetes.io/instance" = "ingress-nginx", "app.kubernetes.io/name" = "ingress-nginx" } }]
        "#,
    );
    assert_rules(
        &f,
        "checkout",
        r#"
        labels = { app = "checkout" }
        pod_anti_affinity = { required = [{ topology_key = "hostname", selector = { app = "checkout" } }] }
        "#,
    );
    assert!(out.notes.objects("affinity").is_empty());
    assert!(out.notes.objects("spread").is_empty());
}

const EDGE: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: edge}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - {name: web, image: example/web:1, resources: {requests: {cpu: 100m, memory: 64Mi}}}
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - labelSelector: {matchLabels: {app: web}}
              topologyKey: kubernetes.io/hostname
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: edge}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers:
        - {name: agent, image: example/agent:1, resources: {requests: {cpu: 10m, memory: 16Mi}}}
      topologySpreadConstraints:
        - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: agent}}}
"#;

/// A selector counts its own namespace's pods: where the same labels are
/// on another namespace's pods, the rule names its workloads instead of a
/// selector. A DaemonSet's rules are skipped, noted.
#[test]
fn selectors_stay_in_their_namespace() {
    let dir = tempfile::tempdir().expect("tempdir");
    let edge = dir.path().join("edge.yaml");
    std::fs::write(&edge, EDGE).expect("write");
    let (out, f) = run(vec![manifests(), edge], Vec::new());
    assert_rules(
        &f,
        "edge/web",
        r#"
        labels = { app = "web" }
        pod_anti_affinity = { required = [{ topology_key = "hostname", workloads = ["edge/web"] }] }
        "#,
    );
    let shop = workload(&f, "shop/web");
    assert_eq!(
        shop["pod_anti_affinity"].to_string(),
        r#"{ required = [{ topology_key = "hostname", workloads = ["shop/web"] }] }"#
    );
    // web's zone spread on app = web: the same fallback.
    assert_eq!(
        shop["topology_spread"][0]["workloads"].to_string(),
        r#"["shop/web"]"#
    );
    assert_rules(&f, "agent", "");
    assert_eq!(
        out.notes.objects(
            "spread and pod affinity of DaemonSet pods (placed one per node): not modelled"
        ),
        ["DaemonSet/edge/agent"]
    );
    loads_and_runs(&out.text);
}
