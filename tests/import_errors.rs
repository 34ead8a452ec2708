//! `poolsim import` refuses bad input with exit 2, naming the file, the
//! object and the JSON path, and writes nothing.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::import::fixture;
use crate::support::poolsim;

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
