//! Making the runs the search asks for: in parallel on a rayon pool, each
//! run once, kept in `advise-runs.csv` so that an interrupted or repeated
//! advice reuses them.
//!
//! A run depends only on its candidate's scenario and its seed, so the
//! runs file stays valid when the requirements, the confidence or the
//! budget change; `advise-plan.txt` holds a fingerprint of the scenario
//! and the candidates, and `--resume` refuses a directory of another plan.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use crate::engine::Millis;
use crate::metrics::RunStatus;
use crate::sim::run_one;
use crate::sweep::{Progress, ProgressMode, stop_requested};

use super::AdviseError;
use super::requirement::RunFacts;
use super::space::Candidate;

/// The runs file.
pub const RUNS_FILE: &str = "advise-runs.csv";
/// The plan fingerprint file.
pub const PLAN_FILE: &str = "advise-plan.txt";
const HEADER: &str =
    "candidate,seed,ok,deadlocked,system_recovery_ms,system_unavailable_ms,cost_micro_usd";

/// FNV-1a over the parts, as 16 hex digits.
pub fn fingerprint(parts: &[&[u8]]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for &b in p.iter().chain(&[0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// Runs made or reused, by (candidate, seed).
pub struct Runner<'a> {
    candidates: &'a [Candidate],
    first_seed: u64,
    pool: rayon::ThreadPool,
    known: HashMap<(usize, u64), RunFacts>,
    file: File,
    path: PathBuf,
    progress: ProgressMode,
    /// Runs taken from the runs file instead of made.
    pub reused: usize,
}

fn write_err(path: &Path) -> impl FnOnce(std::io::Error) -> AdviseError + '_ {
    move |source| AdviseError::Write {
        path: path.display().to_string(),
        source,
    }
}

impl<'a> Runner<'a> {
    /// Opens `dir` for the runs of `candidates`: a fresh runs file, or with
    /// `resume` the runs already there (if `plan` matches).
    pub fn open(
        candidates: &'a [Candidate],
        first_seed: u64,
        dir: &Path,
        plan: &str,
        resume: bool,
        threads: Option<usize>,
        progress: ProgressMode,
    ) -> Result<Self, AdviseError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.unwrap_or(0))
            .build()
            .map_err(|e| AdviseError::BadOption(format!("cannot start threads: {e}")))?;
        std::fs::create_dir_all(dir).map_err(write_err(dir))?;
        let plan_path = dir.join(PLAN_FILE);
        let path = dir.join(RUNS_FILE);
        let mut known = HashMap::new();
        if resume && let Ok(found) = std::fs::read_to_string(&plan_path) {
            if found.trim() != plan {
                return Err(AdviseError::OtherPlan {
                    dir: dir.display().to_string(),
                });
            }
            known = read_runs(&path)?;
        }
        std::fs::write(&plan_path, format!("{plan}\n")).map_err(write_err(&plan_path))?;
        // Written afresh with the runs kept, so that a line cut by an
        // interruption is gone before new lines follow.
        let mut file = File::create(&path).map_err(write_err(&path))?;
        let mut keys: Vec<&(usize, u64)> = known.keys().collect();
        keys.sort();
        let mut text = format!("{HEADER}\n");
        for k in keys {
            text.push_str(&record(*k, &known[k]));
        }
        file.write_all(text.as_bytes()).map_err(write_err(&path))?;
        Ok(Runner {
            candidates,
            first_seed,
            pool,
            known,
            file,
            path,
            progress,
            reused: 0,
        })
    }

    /// The facts of each job `(candidate, seed offset)`, in order: reused
    /// when known, else run in parallel and appended to the runs file.
    pub fn run(&mut self, jobs: &[(usize, usize)]) -> Result<Vec<RunFacts>, AdviseError> {
        let keys: Vec<(usize, u64)> = jobs
            .iter()
            .map(|&(c, s)| (c, self.first_seed + s as u64))
            .collect();
        let todo: Vec<(usize, u64)> = keys
            .iter()
            .copied()
            .filter(|k| !self.known.contains_key(k))
            .collect();
        self.reused += keys.len() - todo.len();
        let mut done: Vec<Option<RunFacts>> = vec![None; todo.len()];
        let mut progress = Progress::new(self.progress, todo.len() as u64, 0);
        let next = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        let candidates = self.candidates;
        self.pool.in_place_scope(|s| {
            let (tx, rx) = mpsc::channel::<(usize, RunFacts)>();
            for _ in 0..self.pool.current_num_threads() {
                let tx = tx.clone();
                let (next, stop, todo) = (&next, &stop, &todo);
                s.spawn(move |_| {
                    loop {
                        if stop_requested() || stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(&(c, seed)) = todo.get(i) else {
                            break;
                        };
                        let f = facts(&candidates[c], seed);
                        if tx.send((i, f)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(tx);
            for (i, f) in rx {
                done[i] = Some(f);
                progress.tick();
            }
        });
        progress.finish();
        let mut text = String::new();
        for (k, f) in todo.iter().zip(&done) {
            if let Some(f) = f {
                text.push_str(&record(*k, f));
                self.known.insert(*k, *f);
            }
        }
        self.file
            .write_all(text.as_bytes())
            .and_then(|()| self.file.flush())
            .map_err(write_err(&self.path))?;
        if done.iter().any(Option::is_none) {
            return Err(AdviseError::Interrupted {
                dir: self
                    .path
                    .parent()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            });
        }
        Ok(keys
            .iter()
            .filter_map(|k| self.known.get(k).copied())
            .collect())
    }

    /// Rewrites the runs file sorted by candidate and seed, so that its
    /// bytes do not depend on threads or on interruptions.
    pub fn finish(self) -> Result<(), AdviseError> {
        drop(self.file);
        let mut keys: Vec<&(usize, u64)> = self.known.keys().collect();
        keys.sort();
        let mut text = format!("{HEADER}\n");
        for k in keys {
            text.push_str(&record(*k, &self.known[k]));
        }
        crate::sweep::write_atomically(&self.path, text.as_bytes()).map_err(AdviseError::Sweep)
    }
}

/// Runs candidate `c` with `seed`; a panic is a failed run.
fn facts(c: &Candidate, seed: u64) -> RunFacts {
    let row = catch_unwind(AssertUnwindSafe(|| run_one(&c.scenario, c.policy, seed)));
    match row {
        Ok(row) => RunFacts {
            ok: row.status == RunStatus::Ok,
            deadlocked: row.outcome.deadlocked,
            system_recovery: row.outcome.system_recovery,
            system_unavailable: row.outcome.system_unavailable,
            cost_micro_usd: (row.cost_usd * 1e6).round() as i64,
        },
        Err(_) => RunFacts {
            ok: false,
            deadlocked: true,
            system_recovery: None,
            system_unavailable: Millis::ZERO,
            cost_micro_usd: 0,
        },
    }
}

fn record((c, seed): (usize, u64), f: &RunFacts) -> String {
    format!(
        "{c},{seed},{},{},{},{},{}\n",
        f.ok,
        f.deadlocked,
        f.system_recovery.map_or(String::new(), |m| m.0.to_string()),
        f.system_unavailable.0,
        f.cost_micro_usd
    )
}

/// Reads a runs file back; a missing file is no runs, a malformed line an
/// error naming it.
fn read_runs(path: &Path) -> Result<HashMap<(usize, u64), RunFacts>, AdviseError> {
    let mut out = HashMap::new();
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(out);
    };
    // Only whole lines: a line without its newline was cut short.
    for (n, line) in text.split_inclusive('\n').enumerate().skip(1) {
        let Some(line) = line.strip_suffix('\n') else {
            break;
        };
        let corrupt = |what: &str| AdviseError::Corrupt {
            path: path.display().to_string(),
            message: format!("line {}: {what}", n + 1),
        };
        let cells: Vec<&str> = line.split(',').collect();
        if cells.len() != 7 {
            return Err(corrupt("expected 7 cells"));
        }
        let num = |i: usize| cells[i].parse::<u64>().map_err(|_| corrupt("not a number"));
        let flag = |i: usize| match cells[i] {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(corrupt("expected true or false")),
        };
        let key = (num(0)? as usize, num(1)?);
        let facts = RunFacts {
            ok: flag(2)?,
            deadlocked: flag(3)?,
            system_recovery: if cells[4].is_empty() {
                None
            } else {
                Some(Millis(num(4)?))
            },
            system_unavailable: Millis(num(5)?),
            cost_micro_usd: cells[6].parse().map_err(|_| corrupt("not a number"))?,
        };
        out.insert(key, facts);
    }
    Ok(out)
}
