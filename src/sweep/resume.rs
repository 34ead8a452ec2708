//! What a sweep finds in its output directory before it starts: `--resume`
//! reuses results only when `sweep.toml` is there, parses and names
//! exactly this plan and shard; a run without `--resume` first removes
//! every result file an earlier sweep left, so that no stale `runs.csv`
//! outlives the `sweep.toml` it belonged to.

use std::fs;
use std::path::{Path, PathBuf};

use super::output::{META_FILE, Meta, tmp_path, write_error};
use super::partial::{RUNS_PARTIAL, SERIES_PARTIAL, SUMS_FILE};
use super::{RESOLVED_FILE, SweepError};

/// The files of a result directory, `runs.csv` (the mark of a finished
/// directory) first.
const RESULT_FILES: [&str; 8] = [
    "runs.csv",
    "summary.csv",
    "timeseries.csv",
    RESOLVED_FILE,
    RUNS_PARTIAL,
    SERIES_PARTIAL,
    SUMS_FILE,
    META_FILE,
];

/// The final files of a finished result directory that `dir` holds
/// (`runs.csv`, `summary.csv`, `timeseries.csv`, the resolved scenario,
/// `sweep.toml`, in that order): after a `run` or `merge` that succeeded,
/// exactly the files it wrote (each starts by removing every result file
/// of an earlier sweep).
pub fn result_files(dir: &Path) -> Vec<PathBuf> {
    RESULT_FILES
        .iter()
        .filter(|f| ![RUNS_PARTIAL, SERIES_PARTIAL, SUMS_FILE].contains(f))
        .map(|f| dir.join(f))
        .filter(|p| p.exists())
        .collect()
}

/// How a sweep starts in its directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// From nothing: no earlier result of this plan is there.
    Afresh,
    /// An interrupted attempt at this plan left partial files.
    Partial,
    /// This plan finished here (`runs.csv` is there): only the summary is
    /// to be (re)computed.
    Finished,
}

/// For `--resume`: what `dir` holds of the sweep described by `meta`, or
/// why its contents cannot be resumed.
pub(crate) fn inspect(dir: &Path, meta: &Meta) -> Result<Start, SweepError> {
    let refuse = |reason: String| SweepError::NotResumable {
        dir: dir.display().to_string(),
        reason,
    };
    let holds_results = RESULT_FILES[..RESULT_FILES.len() - 1]
        .iter()
        .any(|f| dir.join(f).exists());
    if !dir.join(META_FILE).exists() {
        return if holds_results {
            Err(refuse(format!(
                "it holds results but no {META_FILE}, so which sweep they belong to cannot be told"
            )))
        } else {
            Ok(Start::Afresh)
        };
    }
    let found = Meta::read(dir).map_err(refuse)?;
    if found != *meta {
        return Err(SweepError::OtherPlan {
            dir: dir.display().to_string(),
            found: format!("{} shard {}/{}", found.plan, found.shard, found.shards),
            expected: format!("{} shard {}/{}", meta.plan, meta.shard, meta.shards),
        });
    }
    Ok(if dir.join(RUNS_PARTIAL).exists() {
        Start::Partial
    } else if dir.join("runs.csv").exists() {
        Start::Finished
    } else {
        Start::Afresh
    })
}

/// Removes every result file of `dir` and their temporary names,
/// `runs.csv` first.
pub(crate) fn clear(dir: &Path) -> Result<(), SweepError> {
    for name in RESULT_FILES {
        let path = dir.join(name);
        remove(&tmp_path(&path))?;
        remove(&path)?;
    }
    Ok(())
}

fn remove(path: &Path) -> Result<(), SweepError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(write_error(path)(e)),
        _ => Ok(()),
    }
}

/// Before resuming from partial files: a `runs.csv` next to them is not
/// theirs (it would mark the directory finished), and a `timeseries.csv`
/// without its partial file is theirs, renamed by a finish that stopped
/// before renaming the runs: it goes back.
pub(crate) fn remove_finished(dir: &Path) -> Result<(), SweepError> {
    remove(&dir.join("runs.csv"))?;
    let (series, partial) = (dir.join("timeseries.csv"), dir.join(SERIES_PARTIAL));
    if series.exists() && !partial.exists() {
        fs::rename(&series, &partial).map_err(write_error(&series))?;
    }
    Ok(())
}

/// After summarising a finished directory again: partial files left by a
/// finish that stopped after renaming `runs.csv` go.
pub(crate) fn clear_partials(dir: &Path) -> Result<(), SweepError> {
    for name in [SERIES_PARTIAL, SUMS_FILE] {
        remove(&dir.join(name))?;
    }
    Ok(())
}
