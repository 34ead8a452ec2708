//! Writing final files so that a reader never sees half of one (a
//! temporary name, renamed into place; the temporary file removed if
//! writing fails), the metadata of a result directory (`sweep.toml`) and
//! the fingerprints that bind results to their plan.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::SweepError;
use super::plan::{Plan, Shard};

/// The metadata file next to the CSVs.
pub const META_FILE: &str = "sweep.toml";

pub(crate) fn write_error(path: &Path) -> impl FnOnce(std::io::Error) -> SweepError + '_ {
    move |source| SweepError::Write {
        path: path.display().to_string(),
        source,
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory.
/// If anything fails (a full disk), the temporary file is removed and
/// `path` is left as it was.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), SweepError> {
    let tmp = tmp_path(path);
    let written = File::create(&tmp)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        })
        .map_err(write_error(&tmp))
        .and_then(|()| fs::rename(&tmp, path).map_err(write_error(path)));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// The temporary name of `path` while it is written (`runs.csv.tmp`).
pub(crate) fn tmp_path(path: &Path) -> PathBuf {
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
    /// Its sampling step in milliseconds (0 without time series).
    pub timeseries_step_ms: u64,
    /// Events each run may handle (`--max-events-per-run`): it decides
    /// which runs fail, so it is part of the plan.
    pub max_events_per_run: u64,
}

impl Meta {
    /// The metadata of shard `shard` of `plan`, whose resolved scenario is
    /// `resolved`: its fingerprint covers the poolsim version, the resolved
    /// scenario (grid, seeds and policies included), the `runs.csv` header,
    /// the baseline and the time-series step.
    pub fn for_plan(plan: &Plan, resolved: &str, shard: Shard) -> Meta {
        let version = env!("CARGO_PKG_VERSION");
        let header = super::csv_line(&super::runs_header(plan));
        let step = plan.timeseries.map_or(0, |t| t.0);
        let budget = plan.max_events;
        Meta {
            poolsim_version: version.to_string(),
            plan: fingerprint(&[
                version.as_bytes(),
                resolved.as_bytes(),
                &header,
                plan.baseline.as_bytes(),
                step.to_string().as_bytes(),
                budget.to_string().as_bytes(),
            ]),
            runs: plan.len() as u64,
            shard: shard.index,
            shards: shard.count,
            baseline: plan.baseline.clone(),
            timeseries: plan.timeseries.is_some(),
            timeseries_step_ms: step,
            max_events_per_run: budget,
        }
    }

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
    let mut h = Fnv::default();
    for p in parts {
        h.part(p);
    }
    h.hex()
}

/// An FNV-1a hash fed in pieces; each part ends with a 0xff byte, so that
/// `["ab", "c"]` and `["a", "bc"]` differ. A `Write`, to hash a stream.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    /// Feeds bytes (without ending a part).
    pub fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    /// Feeds one whole part.
    pub fn part(&mut self, bytes: &[u8]) {
        self.feed(bytes);
        self.feed(&[0xff]);
    }

    /// The hash as 16 hex digits.
    pub fn hex(&self) -> String {
        format!("{:016x}", self.0)
    }
}

impl Write for Fnv {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.feed(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
