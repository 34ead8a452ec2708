//! The files of a sweep in progress: runs stream, in plan order, to
//! `runs.csv.partial` (and `timeseries.csv.partial`), flushed every second,
//! and each run's checksums to `runs.csv.partial.sums`, which binds the
//! partial files to their plan and lets `--resume` tell a row poolsim wrote
//! from one changed or added since.
//!
//! The checksum file starts with a line naming the plan's fingerprint and
//! the shard's runs; then one line per run in order: `RUN ROW_BYTES ROW_SUM
//! SERIES_BYTES SERIES_SUM`, each sum an FNV-1a hash of the plan
//! fingerprint, the run number and the bytes. The series reach the disk
//! before their runs rows, and both before their checksum line, so a line
//! on disk has its rows complete. FNV-1a catches edits, truncation and
//! stray rows; it is not a signature against someone forging rows on
//! purpose (who could as well run poolsim).

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::SweepError;
use super::check::RowChecker;
use super::execute::Rendered;
use super::output::{Fnv, write_error};
use super::plan::Plan;

/// The runs rows of a sweep in progress.
pub(crate) const RUNS_PARTIAL: &str = "runs.csv.partial";
/// The time-series rows of a sweep in progress.
pub(crate) const SERIES_PARTIAL: &str = "timeseries.csv.partial";
/// The checksums of the rows in the partial files.
pub(crate) const SUMS_FILE: &str = "runs.csv.partial.sums";

/// The partial files of a running sweep.
pub(crate) struct PartialFiles {
    dir: PathBuf,
    plan_id: String,
    next_run: usize,
    runs: File,
    /// Runs rows not yet written: they go to disk only after the time-series
    /// rows of the same runs, and their checksums after them.
    runs_buf: Vec<u8>,
    series: Option<BufWriter<File>>,
    sums: File,
    sums_buf: Vec<u8>,
    last_flush: Instant,
}

/// What a shard's partial files hold: the plan, its headers, its runs.
pub(crate) struct Layout<'a> {
    /// The plan.
    pub plan: &'a Plan,
    /// Its fingerprint (`sweep.toml`'s `plan`).
    pub plan_id: &'a str,
    /// The runs of this shard.
    pub range: Range<usize>,
    /// The `runs.csv` header line.
    pub runs_header: &'a [u8],
    /// The `timeseries.csv` header line, with time series.
    pub series_header: Option<&'a [u8]>,
}

impl Layout<'_> {
    fn sums_header(&self) -> String {
        format!(
            "# poolsim checksums of {RUNS_PARTIAL}: plan {}, runs {}..{}\n",
            self.plan_id, self.range.start, self.range.end
        )
    }
}

/// The rows an earlier attempt left that `--resume` keeps.
#[derive(Debug, Default)]
pub(crate) struct Reused {
    /// Runs kept, from the shard's first.
    pub runs: usize,
    /// Why the rows after them were not kept, when it is not simply that
    /// the attempt stopped there (a changed row, another plan).
    pub note: Option<String>,
}

/// Byte lengths of the kept prefixes.
#[derive(Debug, Default)]
struct Kept {
    reused: Reused,
    runs_len: u64,
    series_len: u64,
    sums_len: u64,
}

fn sum(plan_id: &str, what: &[u8], run: usize, bytes: &[u8]) -> String {
    let mut h = Fnv::default();
    h.part(plan_id.as_bytes());
    h.part(what);
    h.part(run.to_string().as_bytes());
    h.part(bytes);
    h.hex()
}

impl PartialFiles {
    /// Opens the partial files of `dir`. With `resume`, keeps the rows of a
    /// previous attempt at the same plan whose checksums and fields hold,
    /// in order, and cuts the rest; otherwise starts empty files.
    pub fn open(
        dir: &Path,
        layout: &Layout,
        resume: bool,
    ) -> Result<(PartialFiles, Reused), SweepError> {
        let kept = if resume {
            reusable(dir, layout)
        } else {
            Kept::default()
        };
        let open = |name: &str, keep: u64, header: &[u8]| -> Result<File, SweepError> {
            let path = dir.join(name);
            let mut f = OpenOptions::new()
                .create(true)
                .read(true)
                .write(true)
                .truncate(false)
                .open(&path)
                .map_err(write_error(&path))?;
            // Nothing kept: the header too is written anew.
            let keep = if kept.reused.runs == 0 { 0 } else { keep };
            f.set_len(keep).map_err(write_error(&path))?;
            f.seek(std::io::SeekFrom::End(0))
                .map_err(write_error(&path))?;
            if keep == 0 {
                f.write_all(header).map_err(write_error(&path))?;
            }
            Ok(f)
        };
        let series = match layout.series_header {
            Some(h) => Some(BufWriter::new(open(SERIES_PARTIAL, kept.series_len, h)?)),
            None => None,
        };
        let runs = open(RUNS_PARTIAL, kept.runs_len, layout.runs_header)?;
        let sums = open(SUMS_FILE, kept.sums_len, layout.sums_header().as_bytes())?;
        let files = PartialFiles {
            dir: dir.to_path_buf(),
            plan_id: layout.plan_id.to_string(),
            next_run: layout.range.start + kept.reused.runs,
            runs,
            runs_buf: Vec::new(),
            series,
            sums,
            sums_buf: Vec::new(),
            last_flush: Instant::now(),
        };
        Ok((files, kept.reused))
    }

    /// Appends one run's rows (the next in plan order).
    pub fn write(&mut self, r: Rendered) -> Result<(), SweepError> {
        if let Some(s) = &mut self.series {
            s.write_all(&r.series)
                .map_err(write_error(&self.dir.join(SERIES_PARTIAL)))?;
        }
        let run = self.next_run;
        self.next_run += 1;
        let line = format!(
            "{run} {} {} {} {}\n",
            r.run.len(),
            sum(&self.plan_id, b"run", run, &r.run),
            r.series.len(),
            sum(&self.plan_id, b"series", run, &r.series),
        );
        self.sums_buf.extend(line.as_bytes());
        self.runs_buf.extend(r.run);
        if self.last_flush.elapsed() >= Duration::from_secs(1) {
            self.flush()?;
        }
        Ok(())
    }

    /// Puts everything written so far on disk: series, then runs, then
    /// checksums.
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
        let path = self.dir.join(SUMS_FILE);
        self.sums
            .write_all(&self.sums_buf)
            .map_err(write_error(&path))?;
        self.sums_buf.clear();
        self.last_flush = Instant::now();
        Ok(())
    }

    /// Flushes and syncs every partial file: they are complete.
    pub fn close(mut self) -> Result<(), SweepError> {
        self.flush()?;
        if let Some(s) = self.series.take() {
            let path = self.dir.join(SERIES_PARTIAL);
            let f = s
                .into_inner()
                .map_err(|e| write_error(&path)(e.into_error()))?;
            f.sync_all().map_err(write_error(&path))?;
        }
        let path = self.dir.join(RUNS_PARTIAL);
        self.runs.sync_all().map_err(write_error(&path))?;
        let path = self.dir.join(SUMS_FILE);
        self.sums.sync_all().map_err(write_error(&path))
    }
}

/// Renames complete partial files to their final names, `runs.csv` last
/// (its presence says the directory is finished), and drops the checksums.
pub(crate) fn promote(dir: &Path, timeseries: bool) -> Result<(), SweepError> {
    let final_series = dir.join("timeseries.csv");
    if timeseries {
        let path = dir.join(SERIES_PARTIAL);
        fs::rename(&path, &final_series).map_err(write_error(&path))?;
    } else if final_series.exists() {
        // A stale series from an earlier sweep would not match these runs.
        fs::remove_file(&final_series).map_err(write_error(&final_series))?;
    }
    let path = dir.join(RUNS_PARTIAL);
    fs::rename(&path, dir.join("runs.csv")).map_err(write_error(&path))?;
    let sums = dir.join(SUMS_FILE);
    match fs::remove_file(&sums) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(write_error(&sums)(e)),
        _ => Ok(()),
    }
}

/// Why reading a run's rows back stopped.
enum Stop {
    /// The attempt ended there (a torn last line): nothing to say.
    End,
    /// The row is not what poolsim wrote for this plan.
    Bad(String),
}

/// The rows of a previous attempt that `--resume` can keep.
fn reusable(dir: &Path, layout: &Layout) -> Kept {
    let nothing = |note: Option<String>| Kept {
        reused: Reused { runs: 0, note },
        ..Kept::default()
    };
    if !dir.join(RUNS_PARTIAL).exists() {
        return nothing(None);
    }
    let open = |name: &str| File::open(dir.join(name)).map(BufReader::new);
    let Ok(mut sums) = open(SUMS_FILE) else {
        return nothing(Some(format!(
            "{RUNS_PARTIAL} has no {SUMS_FILE}: its rows cannot be told from rows poolsim did not write"
        )));
    };
    let mut line = String::new();
    if sums.read_line(&mut line).is_err() || line != layout.sums_header() {
        return nothing(Some(format!("{SUMS_FILE} is not that of this sweep")));
    }
    let header = |name: &str, expected: &[u8]| -> Option<BufReader<File>> {
        let mut r = open(name).ok()?;
        let mut found = vec![0; expected.len()];
        r.read_exact(&mut found).ok()?;
        (found == expected).then_some(r)
    };
    let Some(mut runs) = header(RUNS_PARTIAL, layout.runs_header) else {
        return nothing(Some(format!("{RUNS_PARTIAL} has other columns")));
    };
    let mut series = match layout.series_header {
        None => None,
        Some(h) => match header(SERIES_PARTIAL, h) {
            Some(r) => Some(r),
            None => return nothing(Some(format!("{SERIES_PARTIAL} has other columns"))),
        },
    };
    let mut checker = RowChecker::new(layout.plan);
    let mut kept = Kept {
        runs_len: layout.runs_header.len() as u64,
        series_len: layout.series_header.map_or(0, |h| h.len() as u64),
        sums_len: line.len() as u64,
        ..Kept::default()
    };
    loop {
        line.clear();
        match sums.read_line(&mut line) {
            Ok(n) if n > 0 && line.ends_with('\n') => {}
            _ => break,
        }
        let run = layout.range.start + kept.reused.runs;
        match reread(layout, &mut checker, run, &line, &mut runs, series.as_mut()) {
            Ok((run_bytes, series_bytes)) => {
                kept.reused.runs += 1;
                kept.runs_len += run_bytes;
                kept.series_len += series_bytes;
                kept.sums_len += line.len() as u64;
            }
            Err(Stop::End) => break,
            Err(Stop::Bad(m)) => {
                kept.reused.note = Some(format!("run {run} and after are run again: {m}"));
                break;
            }
        }
    }
    kept
}

/// Reads run `run`'s rows back and checks them against its checksum line
/// and the plan; returns their byte lengths.
fn reread(
    layout: &Layout,
    checker: &mut RowChecker,
    run: usize,
    line: &str,
    runs: &mut impl Read,
    series: Option<&mut BufReader<File>>,
) -> Result<(u64, u64), Stop> {
    let bad = |m: &str| Stop::Bad(m.to_string());
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [n, run_len, run_sum, series_len, series_sum] = fields[..] else {
        return Err(bad("a malformed checksum line"));
    };
    if n != run.to_string() || run >= layout.range.end {
        return Err(bad("the checksums are out of order"));
    }
    let (Ok(run_len), Ok(series_len)) = (run_len.parse::<u64>(), series_len.parse::<u64>()) else {
        return Err(bad("a malformed checksum line"));
    };
    let mut row = Vec::new();
    match runs.take(run_len).read_to_end(&mut row) {
        Ok(n) if n as u64 == run_len => {}
        _ => return Err(Stop::End),
    }
    if sum(layout.plan_id, b"run", run, &row) != run_sum {
        return Err(bad("its row is not the one poolsim wrote (checksum)"));
    }
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(row.as_slice());
    let mut rec = csv::ByteRecord::new();
    let whole = matches!(rdr.read_byte_record(&mut rec), Ok(true))
        && rdr.position().byte() == run_len
        && row.ends_with(b"\n");
    if !whole {
        return Err(bad("its row is not one CSV record"));
    }
    checker.check(run, rec.iter()).map_err(Stop::Bad)?;
    if let Some(series) = series {
        let mut h = Fnv::default();
        for part in [
            layout.plan_id.as_bytes(),
            b"series",
            run.to_string().as_bytes(),
        ] {
            h.part(part);
        }
        match std::io::copy(&mut series.take(series_len), &mut h) {
            Ok(n) if n == series_len => {}
            _ => return Err(Stop::End),
        }
        h.feed(&[0xff]);
        if h.hex() != series_sum {
            return Err(bad(
                "its time series is not the one poolsim wrote (checksum)",
            ));
        }
    } else if series_len != 0 {
        return Err(bad("a time series in a sweep without one"));
    }
    Ok((run_len, series_len))
}
