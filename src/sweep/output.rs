//! Writing results so that nothing is lost: final files go to a temporary
//! name and are renamed into place, and runs stream, in plan order, to
//! `runs.csv.partial` (and `timeseries.csv.partial`), flushed every second,
//! which `--resume` reads back after an interruption.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::SweepError;
use super::execute::Rendered;
use super::plan::Plan;

/// The metadata file next to the CSVs.
pub const META_FILE: &str = "sweep.toml";

pub(crate) fn write_error(path: &Path) -> impl FnOnce(std::io::Error) -> SweepError + '_ {
    move |source| SweepError::Write {
        path: path.display().to_string(),
        source,
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), SweepError> {
    let tmp = tmp_path(path);
    let mut f = File::create(&tmp).map_err(write_error(&tmp))?;
    f.write_all(bytes).map_err(write_error(&tmp))?;
    f.sync_all().map_err(write_error(&tmp))?;
    fs::rename(&tmp, path).map_err(write_error(path))
}

fn tmp_path(path: &Path) -> PathBuf {
    path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ))
}

/// Renders a CSV table.
pub fn write_csv(header: &[String], records: impl Iterator<Item = Vec<String>>) -> Vec<u8> {
    let mut out = super::csv_line(header);
    for r in records {
        out.extend(super::csv_line(&r));
    }
    out
}

/// What a result directory holds: written before the first run, read by
/// `--resume` (is this the same plan?) and by `merge` (which shard is this?).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// The poolsim version that ran the sweep.
    pub poolsim_version: String,
    /// Fingerprint of the plan: the resolved scenario, the grid, seeds,
    /// policies, baseline and time-series step.
    pub plan: String,
    /// Runs in the whole plan (all shards).
    pub runs: u64,
    /// This directory's shard index.
    pub shard: u32,
    /// Number of shards.
    pub shards: u32,
    /// The baseline policy of paired differences.
    pub baseline: String,
    /// Whether `timeseries.csv` is part of the result.
    pub timeseries: bool,
}

impl Meta {
    /// Reads `DIR/sweep.toml`.
    pub fn read(dir: &Path) -> Result<Meta, String> {
        let path = dir.join(META_FILE);
        let text = fs::read_to_string(&path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {}", path.display(), e.message()))
    }

    /// The file's text.
    pub fn render(&self) -> String {
        format!(
            "# Written by poolsim run: what this result directory holds.\n{}",
            toml::to_string(self).unwrap_or_default()
        )
    }
}

/// 64-bit FNV-1a: a fingerprint that is the same on every machine and
/// version of Rust (unlike `DefaultHasher`).
pub fn fingerprint(parts: &[&[u8]]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for &b in p.iter().chain(&[0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// The partial files of a running sweep.
pub(crate) struct PartialFiles {
    dir: PathBuf,
    runs: File,
    /// Runs rows not yet written: they go to disk only after the time-series
    /// rows of the same runs, so a row in `runs.csv.partial` always has its
    /// samples complete (what `--resume` relies on).
    runs_buf: Vec<u8>,
    series: Option<BufWriter<File>>,
    last_flush: Instant,
}

const RUNS_PARTIAL: &str = "runs.csv.partial";
const SERIES_PARTIAL: &str = "timeseries.csv.partial";

impl PartialFiles {
    /// Opens the partial files of `dir`. With `resume`, keeps the complete
    /// rows of a previous attempt at the same plan and returns how many runs
    /// they cover; otherwise starts empty files and returns 0.
    pub fn open(
        dir: &Path,
        plan: &Plan,
        first_run: usize,
        runs_header: &[u8],
        series_header: Option<&[u8]>,
        resume: bool,
    ) -> Result<(PartialFiles, usize), SweepError> {
        let runs_path = dir.join(RUNS_PARTIAL);
        let series_path = dir.join(SERIES_PARTIAL);
        let kept = if resume {
            reusable(
                plan,
                first_run,
                &runs_path,
                runs_header,
                &series_path,
                series_header,
            )
        } else {
            None
        };
        let (done, runs_len, series_len) = kept.unwrap_or((0, 0, 0));
        let open = |path: &Path, keep: u64, header: &[u8]| -> Result<File, SweepError> {
            let mut f = OpenOptions::new()
                .create(true)
                .read(true)
                .write(true)
                .truncate(false)
                .open(path)
                .map_err(write_error(path))?;
            f.set_len(keep).map_err(write_error(path))?;
            if keep == 0 {
                f.write_all(header).map_err(write_error(path))?;
            }
            use std::io::Seek;
            f.seek(std::io::SeekFrom::End(0))
                .map_err(write_error(path))?;
            Ok(f)
        };
        let series = match series_header {
            Some(h) => Some(BufWriter::new(open(&series_path, series_len, h)?)),
            None => None,
        };
        let runs = open(&runs_path, runs_len, runs_header)?;
        let files = PartialFiles {
            dir: dir.to_path_buf(),
            runs,
            runs_buf: Vec::new(),
            series,
            last_flush: Instant::now(),
        };
        Ok((files, done))
    }

    /// Appends one run's rows (the next in plan order).
    pub fn write(&mut self, r: Rendered) -> Result<(), SweepError> {
        if let Some(s) = &mut self.series {
            s.write_all(&r.series)
                .map_err(write_error(&self.dir.join(SERIES_PARTIAL)))?;
        }
        self.runs_buf.extend(r.run);
        if self.last_flush.elapsed() >= Duration::from_secs(1) {
            self.flush()?;
        }
        Ok(())
    }

    /// Puts everything written so far on disk (series first).
    pub fn flush(&mut self) -> Result<(), SweepError> {
        if let Some(s) = &mut self.series {
            s.flush()
                .map_err(write_error(&self.dir.join(SERIES_PARTIAL)))?;
        }
        let path = self.dir.join(RUNS_PARTIAL);
        self.runs
            .write_all(&self.runs_buf)
            .map_err(write_error(&path))?;
        self.runs_buf.clear();
        self.last_flush = Instant::now();
        Ok(())
    }

    /// Renames the complete partial files to their final names.
    pub fn finish(mut self) -> Result<(), SweepError> {
        self.flush()?;
        let runs_path = self.dir.join(RUNS_PARTIAL);
        self.runs.sync_all().map_err(write_error(&runs_path))?;
        fs::rename(&runs_path, self.dir.join("runs.csv")).map_err(write_error(&runs_path))?;
        let final_series = self.dir.join("timeseries.csv");
        match self.series.take() {
            Some(s) => {
                let path = self.dir.join(SERIES_PARTIAL);
                let f = s
                    .into_inner()
                    .map_err(|e| write_error(&path)(e.into_error()))?;
                f.sync_all().map_err(write_error(&path))?;
                fs::rename(&path, &final_series).map_err(write_error(&path))?;
            }
            // A stale series from an earlier sweep in this directory would
            // not match these runs.
            None if final_series.exists() => {
                fs::remove_file(&final_series).map_err(write_error(&final_series))?;
            }
            None => {}
        }
        Ok(())
    }
}

/// The complete rows of a previous attempt that match the plan: (runs
/// covered, bytes of `runs.csv.partial` to keep, bytes of the series to
/// keep). `None` when there is nothing to reuse.
fn reusable(
    plan: &Plan,
    first_run: usize,
    runs_path: &Path,
    runs_header: &[u8],
    series_path: &Path,
    series_header: Option<&[u8]>,
) -> Option<(usize, u64, u64)> {
    let runs = fs::read(runs_path).ok()?;
    let (done, runs_len) = complete_prefix(&runs, runs_header, |k, rec| {
        matches_run(plan, first_run + k, rec)
    })?;
    let series_len = match series_header {
        None => 0,
        Some(h) => {
            let series = fs::read(series_path).ok()?;
            series_prefix(plan, first_run, done, &series, h)?
        }
    };
    Some((done, runs_len, series_len))
}

/// How many leading rows after `header` are complete (end in a newline)
/// and pass `ok`, and the byte length they end at.
fn complete_prefix(
    bytes: &[u8],
    header: &[u8],
    mut ok: impl FnMut(usize, &csv::ByteRecord) -> bool,
) -> Option<(usize, u64)> {
    let body = bytes.strip_prefix(header)?;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let mut rec = csv::ByteRecord::new();
    let mut n = 0;
    let mut end = 0u64;
    while let Ok(true) = rdr.read_byte_record(&mut rec) {
        let at = rdr.position().byte();
        if at == 0 || body.get(at as usize - 1) != Some(&b'\n') || !ok(n, &rec) {
            break;
        }
        n += 1;
        end = at;
    }
    Some((n, header.len() as u64 + end))
}

/// Whether a `runs.csv` record is run `i` of the plan.
fn matches_run(plan: &Plan, i: usize, rec: &csv::ByteRecord) -> bool {
    if i >= plan.len() {
        return false;
    }
    let k = plan.run(i);
    let name = plan.policy_name(k.policy);
    let labels = plan.grid.labels(k.point);
    rec.len() == super::runs_header(plan).len()
        && rec.get(0) == Some(name.as_bytes())
        && rec.get(1) == Some(k.seed.to_string().as_bytes())
        && labels
            .iter()
            .enumerate()
            .all(|(j, l)| rec.get(2 + j) == Some(l.as_bytes()))
}

/// The bytes of the series that hold the samples of the first `done` runs.
/// A run's samples reach the disk before its `runs.csv` row does, so the
/// samples of those runs are complete; what follows them is cut.
fn series_prefix(
    plan: &Plan,
    first_run: usize,
    done: usize,
    bytes: &[u8],
    header: &[u8],
) -> Option<u64> {
    let mut run = 0;
    let (_, end) = complete_prefix(bytes, header, |_, rec| {
        // Runs with no samples (failed ones) are skipped over.
        while run < done && !same_run(plan, first_run + run, rec) {
            run += 1;
        }
        run < done
    })?;
    Some(end)
}

/// Whether a time-series record belongs to run `i`.
fn same_run(plan: &Plan, i: usize, rec: &csv::ByteRecord) -> bool {
    let k = plan.run(i);
    let name = plan.policy_name(k.policy);
    rec.get(0) == Some(name.as_bytes())
        && rec.get(1) == Some(k.seed.to_string().as_bytes())
        && plan
            .grid
            .labels(k.point)
            .iter()
            .enumerate()
            .all(|(j, l)| rec.get(2 + j) == Some(l.as_bytes()))
}
