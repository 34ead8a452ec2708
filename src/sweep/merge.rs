//! `poolsim merge`: joins the result directories of the shards of one sweep
//! into the files an unsharded run writes, byte for byte.
//!
//! Shards are contiguous slices of the plan, so their rows concatenated in
//! shard order are the plan's rows in order; the summary is recomputed from
//! the joined rows.

use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::output::{META_FILE, Meta, write_atomically, write_error};
use super::summarise::summarise_file;
use super::{RESOLVED_FILE, SweepError, write_summary};
use crate::metrics::SummaryRow;

/// Merges the shard directories `dirs` into `out`.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<Vec<SummaryRow>, SweepError> {
    let bad = |m: String| SweepError::Merge(m);
    if dirs.is_empty() {
        return Err(bad("no shard directories given".into()));
    }
    let mut shards: Vec<(Meta, &PathBuf)> = Vec::new();
    for d in dirs {
        let meta = Meta::read(d).map_err(|m| bad(format!("{m} (is it a poolsim result?)")))?;
        shards.push((meta, d));
    }
    let first = shards[0].0.clone();
    for (m, d) in &shards {
        if (&m.plan, &m.poolsim_version, m.shards, m.runs)
            != (
                &first.plan,
                &first.poolsim_version,
                first.shards,
                first.runs,
            )
        {
            return Err(bad(format!(
                "{} is from a different sweep (plan {}, {} shards) than {} (plan {}, {} shards)",
                d.display(),
                m.plan,
                m.shards,
                shards[0].1.display(),
                first.plan,
                first.shards
            )));
        }
        if !d.join("runs.csv").exists() {
            return Err(bad(format!(
                "{} has no runs.csv: that shard has not finished",
                d.display()
            )));
        }
    }
    shards.sort_by_key(|(m, _)| m.shard);
    for (k, (m, d)) in shards.iter().enumerate() {
        if m.shard as usize != k {
            let missing = if m.shard as usize > k {
                format!("shard {k}/{} is missing", first.shards)
            } else {
                format!("shard {} appears twice ({})", m.shard, d.display())
            };
            return Err(bad(missing));
        }
    }
    if shards.len() != first.shards as usize {
        return Err(bad(format!(
            "{} of {} shards given; shard {}/{} is missing",
            shards.len(),
            first.shards,
            shards.len(),
            first.shards
        )));
    }
    fs::create_dir_all(out).map_err(write_error(out))?;
    let paths: Vec<&Path> = shards.iter().map(|(_, d)| d.as_path()).collect();
    concatenate(&paths, "runs.csv", out)?;
    if first.timeseries {
        concatenate(&paths, "timeseries.csv", out)?;
    }
    let resolved = fs::read(paths[0].join(RESOLVED_FILE))
        .map_err(|e| bad(format!("{}: {e}", paths[0].join(RESOLVED_FILE).display())))?;
    write_atomically(&out.join(RESOLVED_FILE), &resolved)?;
    let meta = Meta {
        shard: 0,
        shards: 1,
        ..first.clone()
    };
    write_atomically(&out.join(META_FILE), meta.render().as_bytes())?;
    let summary = summarise_file(&out.join("runs.csv"), &first.baseline)?;
    write_summary(out, &summary)?;
    Ok(summary)
}

/// Writes `out/name` as the header of the first shard's `name` followed by
/// every shard's rows.
fn concatenate(dirs: &[&Path], name: &str, out: &Path) -> Result<(), SweepError> {
    let target = out.join(name);
    let tmp = target.with_extension("csv.tmp");
    let mut w = BufWriter::new(File::create(&tmp).map_err(write_error(&tmp))?);
    let mut header: Option<Vec<u8>> = None;
    for d in dirs {
        let path = d.join(name);
        let f =
            File::open(&path).map_err(|e| SweepError::Merge(format!("{}: {e}", path.display())))?;
        let mut r = BufReader::new(f);
        let mut line = Vec::new();
        // The header is one line: its names contain no quoted newlines.
        let mut byte = [0u8; 1];
        loop {
            let n = r.read(&mut byte).map_err(write_error(&path))?;
            if n == 0 {
                break;
            }
            line.push(byte[0]);
            if byte[0] == b'\n' {
                break;
            }
        }
        match &header {
            None => {
                w.write_all(&line).map_err(write_error(&tmp))?;
                header = Some(line);
            }
            Some(h) if *h != line => {
                return Err(SweepError::Merge(format!(
                    "{}: its columns differ from the first shard's",
                    path.display()
                )));
            }
            Some(_) => {}
        }
        std::io::copy(&mut r, &mut w).map_err(write_error(&tmp))?;
    }
    let f = w
        .into_inner()
        .map_err(|e| write_error(&tmp)(e.into_error()))?;
    f.sync_all().map_err(write_error(&tmp))?;
    fs::rename(&tmp, &target).map_err(write_error(&target))
}
