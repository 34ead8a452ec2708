use crate::support::{poolsim, shipped};

/// The `data-name`s of the series groups of an SVG, parsed as XML.
fn series_names(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).expect("valid XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.attribute("class") == Some("series"))
        .filter_map(|n| n.attribute("data-name").map(str::to_string))
        .collect()
}

#[test]
fn plot_writes_the_figures_with_one_series_per_policy() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("o");
    let file = shipped("seed-deadlock.toml");
    let o = poolsim(&[
        "run",
        file.to_str().unwrap(),
        "--seeds",
        "40",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let p = poolsim(&["plot", dir.to_str().unwrap()]);
    assert!(p.status.success(), "{}", String::from_utf8_lossy(&p.stderr));

    let read =
        |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
    assert_eq!(
        series_names(&read("deadlock-rate.svg")),
        ["single-pool", "split-pool"]
    );
    let cdf = series_names(&read("recovery-cdf.svg"));
    assert_eq!(cdf.len(), 2);
    assert!(cdf[0].starts_with("single-pool (never: "), "{cdf:?}");
    assert_eq!(cdf[1], "split-pool (never: 0%)");
    assert_eq!(
        series_names(&read("cost-vs-unavailability.svg")),
        ["single-pool", "split-pool"]
    );
    // Titles name the scenario; axes carry units.
    let svg = read("recovery-cdf.svg");
    assert!(svg.contains("seed-deadlock: time for system services to recover"));
    assert!(svg.contains("(s)"));
}

#[test]
fn plot_of_a_directory_without_results_is_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let p = poolsim(&["plot", tmp.path().to_str().unwrap()]);
    assert_eq!(p.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&p.stderr).contains("summary.csv"));
}

/// With a swept parameter and a time series: the deadlock-rate figure is per
/// parameter, with a band per policy, and the chosen run is drawn over time
/// with its fault marked.
#[test]
fn plot_of_a_sweep_with_timeseries() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("o");
    let file = shipped("seed-deadlock.toml");
    let o = poolsim(&[
        "run",
        file.to_str().unwrap(),
        "--seeds",
        "10",
        "--quiet",
        "--set",
        "workloads.worker.replicas=20,300",
        "--timeseries",
        "10s",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let p = poolsim(&[
        "plot",
        dir.to_str().unwrap(),
        "--policy",
        "split-pool",
        "--seed",
        "3",
    ]);
    assert!(p.status.success(), "{}", String::from_utf8_lossy(&p.stderr));
    let read =
        |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));

    let rate = read("deadlock-rate-vs-workloads.worker.replicas.svg");
    assert_eq!(series_names(&rate), ["single-pool", "split-pool"]);
    let doc = roxmltree::Document::parse(&rate).unwrap();
    let bands: Vec<_> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("band"))
        .filter_map(|n| n.attribute("data-name"))
        .collect();
    assert_eq!(
        bands,
        ["single-pool 95% interval", "split-pool 95% interval"]
    );

    let ts = read("timeseries-split-pool-seed3.svg");
    assert_eq!(
        series_names(&ts),
        [
            "ready nodes: system",
            "ready nodes: user",
            "pending system pods",
            "pending user pods",
            "stalled pods"
        ]
    );
    assert!(ts.contains(r#"class="marker" data-name="fault""#));
}
