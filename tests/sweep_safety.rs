use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use crate::support::{poolsim, slow_sweep, wait_for_rows};
use crate::sweep::{assert_same_files, grid_file, run_ok};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_poolsim"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `poolsim run FILE --out DIR -q ARGS` with environment `env`.
fn run(file: &Path, out: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    bin()
        .args([
            "run",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "-q",
        ])
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// Starts a slow one-thread sweep (10 ms more per run) into `out`.
fn spawn_slow(file: &Path, out: &Path, args: &[&str]) -> Child {
    slow_sweep(file, out, args)
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// A sweep of the grid scenario killed (SIGKILL) midway in `out`.
fn killed(file: &Path, out: &Path, args: &[&str]) {
    let mut child = spawn_slow(file, out, args);
    wait_for_rows(&mut child, out, 5);
    child.kill().unwrap();
    child.wait().unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

const SEEDS40: [&str; 4] = ["--seeds", "40", "--timeseries", "2m"];

/// The reproducer of issue 13, item 1: a directory interrupted in one
/// sweep, resumed by another whose `sweep.toml` is missing, empty or
/// garbage, adopted the first sweep's rows. Now it is refused (exit 2) and
/// the partial rows are left as they were.
#[test]
fn resume_refuses_a_directory_without_its_metadata() {
    let tmp = tempfile::tempdir().unwrap();
    let file = grid_file(tmp.path());
    let a = tmp.path().join("a");
    killed(&file, &a, &SEEDS40);
    let partial = std::fs::read(a.join("runs.csv.partial")).unwrap();
    for (case, meta) in [
        ("missing", None),
        ("empty", Some("")),
        ("garbage", Some("x = [")),
    ] {
        match meta {
            None => {
                let _ = std::fs::remove_file(a.join("sweep.toml"));
            }
            Some(m) => std::fs::write(a.join("sweep.toml"), m).unwrap(),
        }
        // Another sweep of the same columns: fewer seeds.
        let o = run(
            &file,
            &a,
            &["--seeds", "2", "--timeseries", "2m", "--resume"],
            &[],
        );
        assert_eq!(o.status.code(), Some(2), "{case}: {}", text(&o.stderr));
        assert!(
            text(&o.stderr).contains("cannot resume"),
            "{case}: {}",
            text(&o.stderr)
        );
        assert_eq!(
            std::fs::read(a.join("runs.csv.partial")).unwrap(),
            partial,
            "{case}"
        );
    }
    // An empty directory has nothing to adopt: --resume starts the sweep.
    let fresh = tmp.path().join("fresh");
    run_ok(&file, &fresh, &["--resume"]);
    let whole = tmp.path().join("whole");
    run_ok(&file, &whole, &[]);
    assert_same_files(&whole, &fresh);
}

/// The partial files are bound to their plan: under the `sweep.toml` of
/// another plan (same columns, fewer seeds), the checksum file names the
/// old plan, so no row is adopted and the result is the other plan's.
#[test]
fn partial_rows_of_another_plan_are_not_adopted() {
    let tmp = tempfile::tempdir().unwrap();
    let file = grid_file(tmp.path());
    let a = tmp.path().join("a");
    killed(&file, &a, &SEEDS40);
    let other = ["--seeds", "2", "--timeseries", "2m"];
    let whole = tmp.path().join("whole");
    run_ok(&file, &whole, &other);
    std::fs::copy(whole.join("sweep.toml"), a.join("sweep.toml")).unwrap();
    let o = run(&file, &a, &[&other[..], &["--resume"]].concat(), &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("not that of this sweep"),
        "{}",
        text(&o.stderr)
    );
    assert!(!text(&o.stdout).contains("resumed"));
    assert_same_files(&whole, &a);
}

/// Replaces field `column` of data row `row` (0-based) of a CSV file.
fn set_field(path: &Path, row: usize, column: &str, value: &str) {
    let t = std::fs::read_to_string(path).unwrap();
    let mut lines: Vec<String> = t.lines().map(str::to_string).collect();
    let col = lines[0].split(',').position(|h| h == column).unwrap();
    let mut cells: Vec<String> = lines[row + 1].split(',').map(str::to_string).collect();
    cells[col] = value.to_string();
    lines[row + 1] = cells.join(",");
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

/// The reproducer of issue 13, item 4: well-formed but altered rows in
/// `runs.csv.partial` were kept. Each alteration is now caught (by the
/// checksum, and the fields by the plan's ranges), the run and those after
/// it are run again, and the result equals an uninterrupted sweep.
#[test]
fn altered_partial_rows_are_run_again() {
    let tmp = tempfile::tempdir().unwrap();
    let file = grid_file(tmp.path());
    let whole = tmp.path().join("whole");
    run_ok(&file, &whole, &SEEDS40);
    let k = tmp.path().join("killed");
    killed(&file, &k, &SEEDS40);
    type Alter = Box<dyn Fn(&Path)>;
    let field = |column: &'static str, value: &'static str| -> Alter {
        Box::new(move |p: &Path| set_field(p, 1, column, value))
    };
    let cases: Vec<(&str, Alter)> = vec![
        ("deadlocked=maybe", field("deadlocked", "maybe")),
        ("recovery NaN", field("system_recovery_s", "NaN")),
        (
            "unavailable -1e308",
            field("system_unavailable_s", "-1e308"),
        ),
        ("another cost", field("cost_usd", "0.000001")),
        (
            "ok -> failed",
            Box::new(|p: &Path| {
                set_field(p, 1, "status", "failed");
                set_field(p, 1, "error", "x");
            }),
        ),
        (
            "a forged next row",
            Box::new(|p: &Path| {
                let t = std::fs::read_to_string(p).unwrap();
                let rows: Vec<&str> = t.lines().collect();
                let n = rows.len() - 1;
                // The true next row of the uninterrupted sweep, cost changed.
                let truth = std::fs::read_to_string(p.with_file_name("next")).unwrap();
                let mut cells: Vec<&str> = truth.lines().nth(n + 1).unwrap().split(',').collect();
                cells[15] = "9.999999";
                std::fs::write(p, format!("{t}{}\n", cells.join(","))).unwrap();
            }),
        ),
    ];
    for (i, (case, alter)) in cases.iter().enumerate() {
        let d = tmp.path().join(format!("case{i}"));
        copy_dir(&k, &d);
        std::fs::copy(whole.join("runs.csv"), d.join("next")).unwrap();
        alter(&d.join("runs.csv.partial"));
        std::fs::remove_file(d.join("next")).unwrap();
        let o = run(&file, &d, &[&SEEDS40[..], &["--resume"]].concat(), &[]);
        assert!(o.status.success(), "{case}: {}", text(&o.stderr));
        if *case != "a forged next row" {
            assert!(
                text(&o.stderr).contains("run 1 and after are run again"),
                "{case}: {}",
                text(&o.stderr)
            );
        }
        assert_same_files(&whole, &d);
    }
}

/// The reproducer of issue 13, item 2: an unfinished shard holding an old
/// `runs.csv` of another sweep was merged. A new run now removes the stale
/// `runs.csv` as it starts, and `merge` checks every shard's rows and
/// resolved scenario against the plan its `sweep.toml` names.
#[test]
fn merge_refuses_a_shard_with_rows_of_another_sweep() {
    let tmp = tempfile::tempdir().unwrap();
    let file = grid_file(tmp.path());
    let dir = |n: &str| tmp.path().join(n);
    let merge = |dirs: &[&Path], out: &Path| -> Output {
        let mut args = vec!["merge".to_string()];
        args.extend(dirs.iter().map(|d| d.display().to_string()));
        args.extend(["--out".into(), out.display().to_string()]);
        let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        poolsim(&args)
    };
    // Sweep A (3 seeds) and sweep B (2 seeds), two shards each.
    for (name, seeds) in [("a", "3"), ("b", "2")] {
        for i in 0..2 {
            let shard = format!("{i}/2");
            run_ok(
                &file,
                &dir(&format!("{name}{i}")),
                &["--seeds", seeds, "--shard", &shard],
            );
        }
    }
    // B's metadata over A's rows and resolved scenario: the fingerprint.
    let mixed = dir("mixed");
    copy_dir(&dir("a1"), &mixed);
    std::fs::copy(dir("b1").join("sweep.toml"), mixed.join("sweep.toml")).unwrap();
    let o = merge(&[&dir("b0"), &mixed], &dir("m1"));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("mixes two sweeps"),
        "{}",
        text(&o.stderr)
    );
    // B's metadata and resolved scenario over A's rows: the rows.
    std::fs::copy(
        dir("b1").join("scenario.resolved.toml"),
        mixed.join("scenario.resolved.toml"),
    )
    .unwrap();
    let o = merge(&[&dir("b0"), &mixed], &dir("m2"));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("runs.csv: "),
        "{}",
        text(&o.stderr)
    );
    assert!(!dir("m2").join("runs.csv").exists());
    // A new sweep (B's shard 1) started in A's shard 1 and killed: A's
    // runs.csv is gone, so the shard reads as unfinished.
    let mut child = spawn_slow(&file, &dir("a1"), &["--seeds", "40", "--shard", "1/2"]);
    wait_for_rows(&mut child, &dir("a1"), 1);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!dir("a1").join("runs.csv").exists());
    assert!(!dir("a1").join("summary.csv").exists());
    let o = merge(&[&dir("a0"), &dir("a1")], &dir("m3"));
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("different sweep") || text(&o.stderr).contains("no runs.csv"));
    // The true shards still merge.
    let o = merge(&[&dir("b0"), &dir("b1")], &dir("m4"));
    assert!(o.status.success(), "{}", text(&o.stderr));
}

/// The reproducer of issue 13, item 3: two runs into one `--out` wrote a
/// corrupt `summary.csv`. The second now stops at once (exit 1) naming the
/// first's process; so do `--resume` and `merge` into that directory. The
/// lock goes with the process, even killed.
#[test]
fn one_process_per_output_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let file = grid_file(tmp.path());
    let out = tmp.path().join("out");
    let mut first = spawn_slow(&file, &out, &SEEDS40);
    wait_for_rows(&mut first, &out, 1);
    let holder = format!("in use by another poolsim (pid {}: ", first.id());
    for extra in [&[][..], &["--resume"][..]] {
        let o = run(&file, &out, &[&SEEDS40[..], extra].concat(), &[]);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
        assert!(text(&o.stderr).contains(&holder), "{}", text(&o.stderr));
    }
    let shard = tmp.path().join("shard");
    run_ok(&file, &shard, &[]);
    let o = poolsim(&[
        "merge",
        shard.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains(&holder), "{}", text(&o.stderr));
    first.kill().unwrap();
    first.wait().unwrap();
    let o = run(&file, &out, &[&SEEDS40[..], &["--resume"]].concat(), &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(!out.join(poolsim::sweep::LOCK_FILE).exists());
    let whole = tmp.path().join("whole");
    run_ok(&file, &whole, &SEEDS40);
    assert_same_files(&whole, &out);
}

fn full() -> Stdio {
    Stdio::from(
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap(),
    )
}

/// The reproducer of issue 13, item 12: a full stdout or stderr panicked
/// (exit 101), even for a bad-input error. Now the documented codes hold:
/// 2 for bad input whatever stderr is, 1 when the output cannot be
/// written, 0 when the reader closed the pipe; progress on a full stderr
/// does not stop a sweep.
#[test]
fn full_or_closed_outputs_keep_the_exit_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let file = grid_file(tmp.path());
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "name = 3\n").unwrap();
    let o = bin()
        .args(["validate", bad.to_str().unwrap()])
        .stderr(full())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = bin()
        .args(["validate", file.to_str().unwrap()])
        .stdout(full())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("writing to stdout"),
        "{}",
        text(&o.stderr)
    );
    let out = tmp.path().join("out");
    let args = [
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    // Progress (plain lines, stderr is no terminal) into a full stderr.
    let o = bin().args(args).stderr(full()).output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(out.join("summary.csv").exists());
    let o = bin().args(args).arg("-q").stdout(full()).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    // A reader that closes the pipe at once.
    let mut child = bin()
        .args(args)
        .arg("-q")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
}

/// `ulimit -f` killed the process with SIGXFSZ and no message; now the
/// write fails with an error naming the file, exit 1.
#[test]
fn a_file_size_limit_is_an_error_with_a_message() {
    let tmp = tempfile::tempdir().unwrap();
    let file = grid_file(tmp.path());
    let out = tmp.path().join("out");
    let cmd = format!(
        "ulimit -f 1 && exec '{}' run '{}' --out '{}' -q --seeds 40",
        env!("CARGO_BIN_EXE_poolsim"),
        file.display(),
        out.display()
    );
    let o = Command::new("sh").args(["-c", &cmd]).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(
        text(&o.stderr).contains("File too large"),
        "{}",
        text(&o.stderr)
    );
    assert!(text(&o.stderr).contains(".partial"), "{}", text(&o.stderr));
}

fn tmp_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tmp"))
        .collect()
}

/// The reproducer of issue 13, item 13: a write failing while finishing
/// (here `summary.csv` cannot be replaced, as on a full disk) left
/// temporary files, and `--resume` ran every run again. Now the temporary
/// file is removed, and `--resume` finishes from the complete rows without
/// running anything (the panic hook would make any run of seed 1 a failed
/// row). A finished directory that lost its summary is summarised again.
#[test]
fn a_failed_finish_resumes_without_running_again() {
    let tmp = tempfile::tempdir().unwrap();
    let file = grid_file(tmp.path());
    let whole = tmp.path().join("whole");
    run_ok(&file, &whole, &SEEDS40);
    let out = tmp.path().join("out");
    // Once the sweep runs, a directory takes the place of summary.csv.
    let mut child = slow_sweep(&file, &out, &SEEDS40)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_rows(&mut child, &out, 1);
    std::fs::create_dir_all(out.join("summary.csv")).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("summary.csv"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(tmp_files(&out), Vec::<PathBuf>::new());
    assert!(!out.join("runs.csv").exists());
    std::fs::remove_dir(out.join("summary.csv")).unwrap();
    let panic = [(poolsim::sweep::TEST_PANIC_SEED, "1")];
    let resume = [&SEEDS40[..], &["--resume"]].concat();
    let o = run(&file, &out, &resume, &panic);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("resumed 320 of 320 runs"),
        "{}",
        text(&o.stdout)
    );
    assert_same_files(&whole, &out);
    // Finished, then the summary lost.
    std::fs::remove_file(out.join("summary.csv")).unwrap();
    let o = run(&file, &out, &resume, &panic);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("resumed 320 of 320 runs"));
    assert_same_files(&whole, &out);
    // A finished runs.csv that is not this plan's is run again.
    set_field(&out.join("runs.csv"), 3, "seed", "7");
    let o = run(&file, &out, &resume, &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("every run is run again"),
        "{}",
        text(&o.stderr)
    );
    assert_same_files(&whole, &out);
}
