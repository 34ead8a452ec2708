//! Issue 13: inputs that validated but could not be run, files that should
//! not be read, numbers that wrapped, paths that left the scenario's
//! directory, control characters echoed raw, and errors without a line.
//! Each test is one of the reproducers.

use std::path::Path;

use crate::bad_input::{VALID, rejects};
use crate::support::{poolsim, shipped};

/// Writes `text` as `name` in a new temporary directory.
fn file(text: &str, name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join(name);
    std::fs::write(&f, text).unwrap();
    (tmp, f)
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

// Item 5: zero and near-zero periods.

#[test]
fn controller_retry_max_of_zero_is_refused_on_its_line() {
    let text = VALID.replace(
        "horizon = \"30m\"\n",
        "horizon = \"30m\"\n\n[kubernetes]\ncontroller_retry_max = \"0s\"\n",
    );
    rejects(
        &text,
        5,
        "kubernetes.controller_retry_max",
        "must be at least controller_retry_initial",
    );
}

/// kube-scheduler's own validation: a backoff of whole seconds > 0, and
/// a maximum no shorter than the initial backoff.
#[test]
fn scheduler_backoffs_follow_kube_schedulers_minimums() {
    let with = |table: &str| {
        VALID.replace(
            "horizon = \"30m\"\n",
            &format!("horizon = \"30m\"\n\n[kubernetes.scheduler]\n{table}\n"),
        )
    };
    rejects(
        &with("max_backoff = \"0s\""),
        5,
        "kubernetes.scheduler.max_backoff",
        "must be at least initial_backoff (1s)",
    );
    rejects(
        &with("initial_backoff = \"1ms\""),
        5,
        "kubernetes.scheduler.initial_backoff",
        "must be at least 1s",
    );
}

/// A fault every millisecond on average made runs grow without end; with
/// an event budget each run ends as a `failed` row that says why, and the
/// sweep finishes.
#[test]
fn a_run_past_its_event_budget_is_a_failed_row() {
    let text = format!(
        "{VALID}[[faults]]\nkind = \"terminate_all\"\nevery = {{ dist = \"exponential\", mean = \"1ms\" }}\n"
    );
    let (tmp, f) = file(&text, "fast.toml");
    let out = tmp.path().join("out");
    let o = poolsim(&[
        "run",
        f.to_str().unwrap(),
        "--seeds",
        "2",
        "--max-events-per-run",
        "20000",
        "-q",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let runs = std::fs::read_to_string(out.join("runs.csv")).unwrap();
    let rows: Vec<&str> = runs.lines().skip(1).collect();
    assert_eq!(rows.len(), 2);
    for r in rows {
        assert!(r.contains(",failed,"), "{r}");
        assert!(
            r.contains("event budget exceeded: 20000 events handled by t="),
            "{r}"
        );
    }
}

/// SIGTERM stops a run in progress: the run is not written, and the sweep
/// reports the interruption instead of finishing the run first.
#[cfg(unix)]
#[test]
fn sigterm_stops_a_run_in_progress() {
    let text = format!(
        "{}[[faults]]\nkind = \"terminate_all\"\nevery = {{ dist = \"exponential\", mean = \"1ms\" }}\n",
        VALID.replace("horizon = \"30m\"", "horizon = \"365d\"")
    );
    let (tmp, f) = file(&text, "long.toml");
    let out = tmp.path().join("out");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_poolsim"))
        .args([
            "run",
            f.to_str().unwrap(),
            "--seeds",
            "1",
            "--threads",
            "1",
            "--max-events-per-run",
            "10000000000",
            "-q",
            "--out",
            out.to_str().unwrap(),
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the sweep has started (its metadata is written first).
    while !out.join("sweep.toml").exists() {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // Without cancellation this run would take hours of its budget: waiting
    // for it at all is the test.
    let o = child.wait_with_output().unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("interrupted: 0 of 1 runs saved"), "{err}");
}

// Item 6: pods of every kind are bounded.

#[test]
fn job_parallelism_beyond_the_pod_limit_is_refused() {
    let job = "[[workloads]]\nname = \"batch\"\nclass = \"user\"\nkind = \"job\"\ncpu = \"100m\"\nmemory = \"64Mi\"\nwork = { dist = \"fixed\", value = \"1m\" }\nparallelism = 4294967295\ncompletions = 4294967295\n";
    let text = VALID.replace("[[policies]]", &format!("{job}\n[[policies]]"));
    rejects(
        &text,
        19,
        "workloads.batch.parallelism",
        "4294967295 is more than the 5000000 pods",
    );
}

#[test]
fn a_job_rate_no_run_could_hold_is_refused() {
    let job = "[[workloads]]\nname = \"batch\"\nclass = \"user\"\nkind = \"job\"\ncpu = \"100m\"\nmemory = \"64Mi\"\nwork = { dist = \"fixed\", value = \"1m\" }\narrivals = { rate_per_hour = 1e18 }\n";
    let text = VALID.replace("[[policies]]", &format!("{job}\n[[policies]]"));
    rejects(
        &text,
        19,
        "workloads.batch.arrivals.rate_per_hour",
        "above the most poolsim supports, 36000 Jobs per hour",
    );
    // Within the rate, but over the horizon more pods than a run may make.
    let text = text
        .replace("rate_per_hour = 1e18", "rate_per_hour = 36000")
        .replace("horizon = \"30m\"", "horizon = \"365d\"");
    rejects(
        &text,
        19,
        "workloads.batch.arrivals",
        "Job pods over the horizon",
    );
}

// Item 7: the grid's size.

#[test]
fn a_grid_of_a_million_points_is_refused_before_anything_is_built() {
    let text = format!(
        "{VALID}\n[sweep]\n\"workloads.dns.replicas\" = \"1..100\"\n\"workloads.dns.cpu\" = [{}]\n\"instances.replacement_delay\" = \"1s..100s:1s\"\n",
        (1..=100)
            .map(|i| format!("\"{i}m\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let (_tmp, f) = file(&text, "grid.toml");
    let o = poolsim(&["validate", f.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("the grid is too large: 1000000 grid points (workloads.dns.replicas (100) x workloads.dns.cpu (100) x instances.replacement_delay (100)) x 100 seeds x 1 policies; at most 100000 grid points"),
        "{err}"
    );
}

#[test]
fn too_many_runs_are_refused() {
    let (_tmp, f) = file(VALID, "ok.toml");
    let o = poolsim(&["run", f.to_str().unwrap(), "--seeds", "4000000000"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("= 4000000000 runs; at most 10000000"), "{err}");
}

// Item 8: only regular files of a bounded size are read.

#[cfg(unix)]
#[test]
fn devices_fifos_and_huge_files_are_refused_before_reading() {
    let o = poolsim(&["validate", "/dev/zero"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("/dev/zero: not a regular file (a device)"),
        "{err}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("fifo.toml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let o = poolsim(&["validate", fifo.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a regular file (a FIFO)"));
    let big = tmp.path().join("big.toml");
    std::fs::write(&big, vec![b'#'; (4 << 20) + 1]).unwrap();
    let o = poolsim(&["validate", big.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("4194305 bytes is over the limit of 4194304 bytes"),
        "{}",
        stderr(&o)
    );
}

#[cfg(unix)]
#[test]
fn a_job_trace_on_a_device_is_refused() {
    let job = "[[workloads]]\nname = \"batch\"\nclass = \"user\"\nkind = \"job\"\ncpu = \"100m\"\nmemory = \"64Mi\"\nwork = { dist = \"fixed\", value = \"1m\" }\narrivals = { trace = \"/dev/zero\" }\n";
    let text = VALID.replace("[[policies]]", &format!("{job}\n[[policies]]"));
    let (_tmp, f) = file(&text, "trace.toml");
    let o = poolsim(&["validate", "--allow-paths-outside", f.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("/dev/zero: workloads.batch.arrivals.trace: not a regular file (a device)"),
        "{err}"
    );
}

// Item 9: no wrapping, no saturation.

#[test]
fn numbers_that_wrapped_are_refused() {
    let text = VALID.replace("\"30m\"", "\"18446744073709551615ms2h\"");
    rejects(
        &text,
        2,
        "horizon",
        "is longer than the longest poolsim accepts",
    );
    let text = VALID.replace("\"30m\"", "\"366d\"");
    rejects(
        &text,
        2,
        "horizon",
        "longer than the longest horizon poolsim runs, 365 days",
    );
    let text = VALID.replace("memory = \"128Mi\"", "memory = \"18446744073709551616Mi\"");
    rejects(
        &text,
        10,
        "workloads.memory",
        "more than the most poolsim accepts",
    );
    let text = format!(
        "{VALID}\n[[instance_types]]\nname = \"m5.large\"\ncpu = \"2\"\nmemory = \"8Gi\"\nmax_pods = 29\nprice_per_hour = 1e308\n"
    );
    rejects(
        &text,
        21,
        "instance_types.m5.large.price_per_hour",
        "must be a number of dollars within [0, 1000000]",
    );
}

#[test]
fn seeds_that_would_wrap_are_refused() {
    let text = VALID.replace("horizon", "first_seed = 18446744073709551615\nhorizon");
    let (_tmp, f) = file(&text, "seeds.toml");
    let o = poolsim(&["run", f.to_str().unwrap(), "--seeds", "2"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("first_seed 18446744073709551615 with 2 seeds goes past the largest seed"),
        "{err}"
    );
}

// Item 10: trace paths stay in the scenario's directory.

#[cfg(unix)]
#[test]
fn a_trace_path_leaving_the_directory_is_refused_and_never_echoed() {
    let job = "[[workloads]]\nname = \"batch\"\nclass = \"user\"\nkind = \"job\"\ncpu = \"100m\"\nmemory = \"64Mi\"\nwork = { dist = \"fixed\", value = \"1m\" }\narrivals = { trace = \"../../../../../../etc/passwd\" }\n";
    let text = VALID.replace("[[policies]]", &format!("{job}\n[[policies]]"));
    let (_tmp, f) = file(&text, "escape.toml");
    let o = poolsim(&["validate", f.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(":19: workloads.batch.arrivals.trace:"),
        "{err}"
    );
    assert!(err.contains("is outside the scenario's directory"), "{err}");
    assert!(!err.contains("root:"), "{err}");
    // Allowed explicitly, the file is read, and only the start of the
    // offending field is quoted.
    let o = poolsim(&["validate", "--allow-paths-outside", f.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("/etc/passwd:2: workloads.batch.arrivals.trace"),
        "{err}"
    );
    assert!(!err.contains("/usr/sbin"), "{err}");
    // A trace next to the scenario is read.
    let (tmp, f) = file(
        &text.replace("../../../../../../etc/passwd", "arrivals.csv"),
        "ok.toml",
    );
    std::fs::write(tmp.path().join("arrivals.csv"), "t\n60\n120\n").unwrap();
    let o = poolsim(&["validate", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

// Item 11: control characters are escaped.

#[test]
fn control_characters_from_input_are_escaped() {
    let text = VALID.replace("\"30m\"", "\"\\u001b[2J\\u001b[31mPWNED\"");
    let (_tmp, f) = file(&text, "esc.toml");
    let o = poolsim(&["validate", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!o.stderr.contains(&0x1b), "{:?}", stderr(&o));
    assert!(
        stderr(&o).contains("\\u{1b}[2J\\u{1b}[31mPWNED"),
        "{}",
        stderr(&o)
    );
}

/// A scenario name is the default results directory: it may not leave
/// `results/`; names hold no control characters.
#[test]
fn names_are_plain() {
    rejects(
        &VALID.replace("name = \"tiny\"", "name = \"../../etc\""),
        1,
        "name",
        "must be a plain name (it names the results directory)",
    );
    rejects(
        &VALID.replace("name = \"dns\"", "name = \"d\\u001bns\""),
        5,
        "workloads.name",
        "no control or other non-printable character",
    );
}

// Item 14: errors with a line.

#[test]
fn invalid_utf8_gives_its_byte_offset_and_line() {
    let mut bytes = VALID.as_bytes().to_vec();
    let at = VALID.find("dns").unwrap();
    bytes[at] = 0xff;
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("bin.toml");
    std::fs::write(&f, &bytes).unwrap();
    let o = poolsim(&["validate", f.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("bin.toml:5: invalid UTF-8 at byte {at} (line 5)")),
        "{err}"
    );
}

#[test]
fn errors_found_after_parsing_name_their_line() {
    rejects(
        &VALID.replace("\"30m\"", "\"0s\""),
        2,
        "horizon",
        "must be longer than 0s",
    );
    rejects(
        &VALID.replace("horizon", "seeds = 0\nhorizon"),
        2,
        "seeds",
        "must be at least 1",
    );
    let with = |delay: &str| {
        VALID.replace(
            "horizon = \"30m\"\n",
            &format!("horizon = \"30m\"\n\n[instances]\nlaunch_delay = {delay}\n"),
        )
    };
    rejects(
        &with("{ dist = \"empirical\", samples = [] }"),
        5,
        "instances.launch_delay",
        "empirical needs at least one sample",
    );
    rejects(
        &with("{ dist = \"lognormal\", median = \"60s\", p95 = \"30s\" }"),
        5,
        "instances.launch_delay",
        "p95 must be at least the median",
    );
    rejects(
        &with("{ dist = \"uniform\", min = \"60s\", max = \"30s\" }"),
        5,
        "instances.launch_delay",
        "uniform min",
    );
    // The mutated value's line, not the table's first line.
    let text = VALID.replace("min_available = 1", "min_available = 3");
    rejects(
        &text,
        8,
        "workloads.dns.min_available",
        "3 exceeds replicas (2)",
    );
}

#[test]
fn a_bad_sweep_key_names_file_and_line() {
    let text = format!("{VALID}\n[sweep]\n\"workloads.dns.replicas\" = \"5..1\"\n");
    let (_tmp, f) = file(&text, "sweep.toml");
    let o = poolsim(&["validate", f.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("{}:17: sweep.workloads.dns.replicas", f.display())),
        "{err}"
    );
}

/// The shipped scenarios are within every limit.
#[test]
fn shipped_scenarios_are_within_the_limits() {
    for name in ["seed-deadlock.toml", "large-cluster.toml", "mmc-queue.toml"] {
        let o = poolsim(&["validate", shipped(name).to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
    }
    assert!(Path::new(&shipped("seed-deadlock.toml")).exists());
}
