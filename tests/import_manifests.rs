//! `poolsim import` of other inputs: YAML manifests, a Karpenter NodePool
//! manifest, a needs file, GPU limits.

use std::path::PathBuf;

use poolsim::Scenario;
use poolsim::import::import;

use crate::import::{array, container_names, effective, fixture, n, named, options, s, strings};

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
