use std::path::{Path, PathBuf};

use crate::support::{poolsim, shipped};

/// One panel of a figure: its title and, per series, the name and the
/// number of points it draws (its `data-points`, checked against the
/// markers drawn where a series marks its points).
#[derive(Debug, PartialEq)]
struct Panel {
    title: String,
    series: Vec<(String, usize)>,
}

/// The panels of an SVG figure, parsed as XML.
fn panels(svg: &str) -> Vec<Panel> {
    let doc = roxmltree::Document::parse(svg).expect("valid XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.attribute("class") == Some("panel"))
        .map(|p| Panel {
            title: p.attribute("data-name").unwrap_or("").to_string(),
            series: p
                .descendants()
                .filter(|n| n.attribute("class") == Some("series"))
                .map(|s| {
                    let n: usize = s.attribute("data-points").unwrap().parse().unwrap();
                    let circles = s.children().filter(|c| c.has_tag_name("circle")).count();
                    let is_path = s.children().any(|c| c.has_tag_name("path"));
                    // Lines and points mark every point; steps draw a path.
                    assert!(
                        circles == n || (circles == 0 && is_path),
                        "{circles} vs {n}"
                    );
                    (s.attribute("data-name").unwrap().to_string(), n)
                })
                .collect(),
        })
        .collect()
}

/// The `data-name`s of the series groups of an SVG, over all panels.
fn series_names(svg: &str) -> Vec<String> {
    panels(svg)
        .into_iter()
        .flat_map(|p| p.series.into_iter().map(|s| s.0))
        .collect()
}

fn run(args: &[&str], dir: &Path) {
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--quiet", "--out", dir.to_str().unwrap()]);
    let o = poolsim(&all);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn plot(dir: &Path, extra: &[&str]) -> Vec<PathBuf> {
    let mut all = vec!["plot", dir.to_str().unwrap()];
    all.extend_from_slice(extra);
    let p = poolsim(&all);
    assert!(p.status.success(), "{}", String::from_utf8_lossy(&p.stderr));
    wrote(&p.stdout)
}

fn read(dir: &Path, f: &str) -> String {
    std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"))
}

/// Tick labels of the horizontal axis of the first panel.
fn x_ticks(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).unwrap();
    let axes = doc
        .descendants()
        .find(|n| n.attribute("class") == Some("axes"))
        .unwrap();
    axes.children()
        .filter(|n| n.has_tag_name("text") && n.attribute("class").is_none())
        .filter(|n| n.attribute("text-anchor") == Some("middle"))
        .filter_map(|n| n.text().map(str::to_string))
        .collect()
}

#[test]
fn plot_writes_the_figures_with_one_series_per_policy() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("o");
    let file = shipped("seed-deadlock.toml");
    run(&[file.to_str().unwrap(), "--seeds", "40"], &dir);
    plot(&dir, &[]);

    let rate = panels(&read(&dir, "deadlock-rate.svg"));
    assert_eq!(
        rate,
        [Panel {
            title: String::new(),
            series: vec![("single-pool".into(), 1), ("split-pool".into(), 1)]
        }]
    );
    // The CDF starts at (0, 0) and climbs one step per recovered run: 40
    // for split-pool, which always recovers.
    let cdf_svg = read(&dir, "recovery-cdf.svg");
    let cdf = panels(&cdf_svg);
    assert_eq!(cdf.len(), 1);
    assert_eq!(cdf[0].series[1], ("split-pool".into(), 41));
    assert!(cdf[0].series[0].1 < 41);
    assert!(cdf_svg.contains("never recovered: single-pool "));
    assert!(cdf_svg.contains(", split-pool 0%"));
    assert_eq!(
        series_names(&read(&dir, "cost-vs-unavailability.svg")),
        ["single-pool", "split-pool"]
    );
    // Titles name the scenario; axes carry units.
    assert!(cdf_svg.contains("seed-deadlock: time for system services to recover"));
    assert!(cdf_svg.contains("(s)"));
}

#[test]
fn plot_of_a_directory_without_results_is_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let p = poolsim(&["plot", tmp.path().to_str().unwrap()]);
    assert_eq!(p.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&p.stderr).contains("summary.csv"));
}

/// A sweep over durations: every value is a point on a numeric axis in
/// seconds (once an empty chart).
#[test]
fn a_duration_sweep_plots_on_a_numeric_axis_in_seconds() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("o");
    let file = shipped("seed-deadlock.toml");
    let set = "instances.launch_delay.median=30s..90s:30s";
    run(
        &[file.to_str().unwrap(), "--seeds", "3", "--set", set],
        &dir,
    );
    plot(&dir, &[]);
    let svg = read(&dir, "deadlock-rate-vs-instances.launch_delay.median.svg");
    assert_eq!(
        panels(&svg),
        [Panel {
            title: String::new(),
            series: vec![("single-pool".into(), 3), ("split-pool".into(), 3)]
        }]
    );
    assert!(svg.contains("instances.launch_delay.median (s)"));
    // 30 s to 90 s padded by 4% (27.6 to 92.4): ticks every 20 s.
    assert_eq!(x_ticks(&svg), ["40", "60", "80"]);
    // One CDF panel per grid point, a curve per policy in each.
    let cdf = panels(&read(&dir, "recovery-cdf.svg"));
    let titles: Vec<&str> = cdf.iter().map(|p| p.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "instances.launch_delay.median=30s",
            "instances.launch_delay.median=1m",
            "instances.launch_delay.median=1m30s"
        ]
    );
    for p in &cdf {
        let names: Vec<&str> = p.series.iter().map(|s| s.0.as_str()).collect();
        assert_eq!(names, ["single-pool", "split-pool"]);
        // Split-pool recovers in all 3 runs: the origin and three steps.
        assert_eq!(p.series[1].1, 4);
    }
    let cost = read(&dir, "cost-vs-unavailability.svg");
    assert_eq!(
        panels(&cost)[0].series,
        [("single-pool".into(), 3), ("split-pool".into(), 3)]
    );
    assert!(
        cost.contains(">30s<") || cost.contains("30s;"),
        "points labelled"
    );
}

/// A quantity sweep keeps `500m` (once dropped) and places it at 0.5 cores.
#[test]
fn a_cpu_sweep_plots_every_quantity_in_cores() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("o");
    let file = shipped("seed-deadlock.toml");
    let set = "workloads.worker.cpu=500m,1,2";
    run(
        &[file.to_str().unwrap(), "--seeds", "2", "--set", set],
        &dir,
    );
    plot(&dir, &[]);
    let svg = read(&dir, "deadlock-rate-vs-workloads.worker.cpu.svg");
    assert_eq!(
        panels(&svg)[0].series,
        [("single-pool".into(), 3), ("split-pool".into(), 3)]
    );
    assert!(svg.contains("workloads.worker.cpu (cores)"));
    assert_eq!(x_ticks(&svg)[0], "0.5");
}

/// A sweep value that is neither a number, a duration nor a quantity is a
/// category; and a figure with nothing to draw is an error, not a file.
#[test]
fn names_are_categories_and_an_empty_figure_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("o");
    let file = shipped("seed-deadlock.toml");
    let set = "workloads.worker.class=user,system";
    run(
        &[file.to_str().unwrap(), "--seeds", "2", "--set", set],
        &dir,
    );
    plot(&dir, &[]);
    let svg = read(&dir, "deadlock-rate-vs-workloads.worker.class.svg");
    assert_eq!(panels(&svg)[0].series[0].1, 2);
    assert!(svg.contains(r#"class="category""#) && svg.contains(">system<"));

    // Blank out every deadlock rate: nothing to draw.
    let summary = read(&dir, "summary.csv");
    let mut lines = summary.lines();
    let header = lines.next().unwrap();
    let col = header
        .split(',')
        .position(|h| h == "deadlock_rate")
        .unwrap();
    let mut out = format!("{header}\n");
    for l in lines {
        let mut f: Vec<&str> = l.split(',').collect();
        f[col] = "";
        out.push_str(&f.join(","));
        out.push('\n');
    }
    std::fs::write(dir.join("summary.csv"), out).unwrap();
    std::fs::remove_file(dir.join("deadlock-rate-vs-workloads.worker.class.svg")).unwrap();
    let p = poolsim(&["plot", dir.to_str().unwrap()]);
    assert_eq!(p.status.code(), Some(2));
    let err = String::from_utf8_lossy(&p.stderr);
    assert!(
        err.contains("deadlock-rate-vs-workloads.worker.class.svg: nothing to draw"),
        "{err}"
    );
    assert!(
        !dir.join("deadlock-rate-vs-workloads.worker.class.svg")
            .exists()
    );
}

/// scenarios/autoscaler.toml sweeps two keys: each deadlock-rate figure has
/// a panel per value of the other key with three points per policy, and the
/// recovery CDF has a panel per grid point (nine), never a curve across
/// grid points.
#[test]
fn a_two_axis_sweep_draws_small_multiples() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("o");
    let file = shipped("autoscaler.toml");
    run(&[file.to_str().unwrap(), "--seeds", "2"], &dir);
    plot(&dir, &[]);
    let a = "policies.single-pool.pools.workers.max";
    let b = "policies.split-pool.pools.user.max";
    let svg = read(&dir, &format!("deadlock-rate-vs-{a}.svg"));
    let ps = panels(&svg);
    let titles: Vec<String> = ps.iter().map(|p| p.title.clone()).collect();
    assert_eq!(titles, [16, 36, 56].map(|v| format!("{b}={v}")));
    for p in &ps {
        assert_eq!(
            p.series,
            [("single-pool".into(), 3), ("split-pool".into(), 3)]
        );
    }
    let other = panels(&read(&dir, &format!("deadlock-rate-vs-{b}.svg")));
    assert_eq!(other.len(), 3);
    assert_eq!(other[2].title, format!("{a}=60"));

    let cdf = panels(&read(&dir, "recovery-cdf.svg"));
    assert_eq!(cdf.len(), 9);
    assert_eq!(cdf[1].title, format!("{a}=20, {b}=36"));
    for p in &cdf {
        assert_eq!(p.series.len(), 2);
        // Two runs per policy and grid point: at most the origin and 2 steps.
        assert!(p.series.iter().all(|s| (1..=3).contains(&s.1)), "{p:?}");
    }
    let cost = read(&dir, "cost-vs-unavailability.svg");
    assert_eq!(
        panels(&cost)[0].series,
        [("single-pool".into(), 9), ("split-pool".into(), 9)]
    );
    // single-pool's points at max 20 repeat over the other key: one label.
    assert!(cost.contains(">20/16; 20/36; 20/56<"), "{cost}");
}

/// With a swept parameter and a time series: the deadlock-rate figure is per
/// parameter, with a band per policy, and the chosen run is drawn over time
/// in three panels with the fault marked.
#[test]
fn plot_of_a_sweep_with_timeseries() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("o");
    let file = shipped("seed-deadlock.toml");
    run(
        &[
            file.to_str().unwrap(),
            "--seeds",
            "10",
            "--set",
            "workloads.worker.replicas=20,300",
            "--timeseries",
            "10s",
        ],
        &dir,
    );
    plot(&dir, &["--policy", "split-pool", "--seed", "3"]);

    let rate = read(&dir, "deadlock-rate-vs-workloads.worker.replicas.svg");
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

    let ts = read(&dir, "timeseries-split-pool-seed3.svg");
    let ps = panels(&ts);
    // 2 h sampled every 10 s: 721 samples per series.
    let names: Vec<Vec<(String, usize)>> = ps.into_iter().map(|p| p.series).collect();
    let n = 721;
    assert_eq!(
        names,
        [
            vec![
                ("ready nodes: system".to_string(), n),
                ("ready nodes: user".to_string(), n)
            ],
            vec![("pending system pods".to_string(), n)],
            vec![
                ("pending user pods".to_string(), n),
                ("stalled pods".to_string(), n)
            ],
        ]
    );
    // The fault is marked in each of the three panels.
    assert_eq!(
        ts.matches(r#"class="marker" data-name="terminate_all""#)
            .count(),
        3
    );
}

/// `poolsim report` on a sweep: one HTML file, no script or external
/// resource, every figure inline, every summary number beside its CSV
/// value, the grid-point view and the worst run's explanation.
#[test]
fn report_writes_one_self_contained_page() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("o");
    let file = shipped("seed-deadlock.toml");
    run(
        &[
            file.to_str().unwrap(),
            "--seeds",
            "6",
            "--set",
            "workloads.worker.replicas=100,300",
        ],
        &dir,
    );
    let p = poolsim(&["report", dir.to_str().unwrap()]);
    assert!(p.status.success(), "{}", String::from_utf8_lossy(&p.stderr));
    let html = read(&dir, "report.html");
    for banned in ["<script", "src=\"http", "href=\"http", "@import", "url("] {
        assert!(!html.contains(banned), "{banned}");
    }
    for f in [
        "deadlock-rate-vs-workloads.worker.replicas.svg",
        "recovery-cdf.svg",
        "cost-vs-unavailability.svg",
    ] {
        assert!(
            html.contains(&format!("<figure data-file=\"{f}\"><svg")),
            "{f}"
        );
    }
    // Each of the 4 summary rows has its deadlock rate as written.
    let summary = read(&dir, "summary.csv");
    let header: Vec<&str> = summary.lines().next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == "deadlock_rate").unwrap();
    for (i, line) in summary.lines().skip(1).enumerate() {
        let v = line.split(',').nth(col).unwrap();
        let tag = format!(r#"data-row="{i}" data-col="deadlock_rate" data-value="{v}""#);
        assert!(html.contains(&tag), "{tag}");
    }
    assert!(html.contains("id=\"grid\""));
    assert!(html.contains("<td class=\"name\">300</td>"));
    // The worst run is explained as trace explains it.
    assert!(html.contains("the worst run"));
    assert!(html.contains("<pre class=\"trace\">"));
    assert!(html.contains("--set workloads.worker.replicas="));
}

/// The paths of the `wrote PATH` lines of a command's output.
fn wrote(stdout: &[u8]) -> Vec<PathBuf> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("wrote ").map(PathBuf::from))
        .collect()
}

/// The files in `dir`, sorted.
fn listing(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

/// `run` prints `wrote PATH` for every file it wrote: the files then in its
/// directory, exactly; `plot` does the same for its figures. `plot
/// --policy`/`--seed` with no `timeseries.csv` to draw from is refused
/// (exit 2, naming the file), and no figure is written.
#[test]
fn run_and_plot_list_every_file_they_write() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("o");
    let out = dir.to_str().unwrap();
    let file = shipped("seed-deadlock.toml");
    let file = file.to_str().unwrap();
    let names = |paths: &[PathBuf]| -> Vec<String> {
        let mut n: Vec<String> = paths
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    };
    // Runs `poolsim ARGS`: the files it says it wrote, sorted, are those
    // in the directory.
    let listed = |args: &[&str]| {
        let o = poolsim(args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let mut printed = wrote(&o.stdout);
        printed.sort();
        assert_eq!(printed, listing(&dir));
        printed
    };
    let args = ["run", file, "--seeds", "2", "--quiet", "--out", out];
    let printed = listed(&[&args[..], &["--timeseries", "10m"]].concat());
    assert_eq!(
        names(&printed),
        [
            "runs.csv",
            "scenario.resolved.toml",
            "summary.csv",
            "sweep.toml",
            "timeseries.csv"
        ]
    );

    // Again without a time series: the old one is removed, not listed.
    let printed = listed(&args);
    assert_eq!(
        names(&printed),
        [
            "runs.csv",
            "scenario.resolved.toml",
            "summary.csv",
            "sweep.toml"
        ]
    );

    let p = poolsim(&["plot", out, "--policy", "split-pool"]);
    assert_eq!(p.status.code(), Some(2));
    let err = String::from_utf8_lossy(&p.stderr);
    assert!(
        err.contains(
            "timeseries.csv: not found: --policy and --seed choose the run drawn over time"
        ),
        "{err}"
    );
    assert_eq!(listing(&dir), printed, "nothing written");

    let figures = plot(&dir, &[]);
    assert_eq!(
        names(&figures),
        [
            "cost-vs-unavailability.svg",
            "deadlock-rate.svg",
            "recovery-cdf.svg"
        ]
    );
    let mut all = [printed, figures].concat();
    all.sort();
    assert_eq!(all, listing(&dir));
}
