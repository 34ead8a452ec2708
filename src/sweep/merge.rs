//! `poolsim merge`: joins the result directories of the shards of one sweep
//! into the files an unsharded run writes, byte for byte.
//!
//! Shards are contiguous slices of the plan, so their rows concatenated in
//! shard order are the plan's rows in order; the summary is recomputed from
//! the joined rows.
//!
//! Nothing is taken on trust: the plan is rebuilt from the first shard's
//! `scenario.resolved.toml`, whose fingerprint must be the one every
//! shard's `sweep.toml` names, and every row of every shard must be the run
//! the plan puts there (run number, policy, seed, grid labels) with every
//! field in range.

use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::check::{check_runs_file, check_series_file};
use super::lock::DirLock;
use super::output::{META_FILE, Meta, tmp_path, write_atomically, write_error};
use super::plan::{Plan, Shard};
use super::summarise::summarise_file;
use super::{RESOLVED_FILE, SweepError, SweepOptions, write_summary};
use crate::engine::Millis;
use crate::metrics::SummaryRow;
use crate::scenario::Scenario;

/// Merges the shard directories `dirs` into `out`.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<Vec<SummaryRow>, SweepError> {
    let bad = |m: String| SweepError::Merge(m);
    if dirs.is_empty() {
        return Err(bad("no shard directories given".into()));
    }
    let shards = read_shards(dirs)?;
    let first = shards[0].0.clone();
    let resolved = check_shards(&shards, out)?;
    fs::create_dir_all(out).map_err(write_error(out))?;
    let _lock = DirLock::acquire(out)?;
    super::resume::clear(out)?;
    let paths: Vec<&Path> = shards.iter().map(|(_, d)| d.as_path()).collect();
    concatenate(&paths, "runs.csv", out)?;
    if first.timeseries {
        concatenate(&paths, "timeseries.csv", out)?;
    }
    write_atomically(&out.join(RESOLVED_FILE), resolved.as_bytes())?;
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

/// The shards' metadata in shard order, refused unless they are the
/// shards of one sweep, each once, all there, each finished.
fn read_shards(dirs: &[PathBuf]) -> Result<Vec<(Meta, &PathBuf)>, SweepError> {
    let bad = |m: String| SweepError::Merge(m);
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
    Ok(shards)
}

/// Checks every shard's resolved scenario and rows against the plan
/// rebuilt from the first; returns their resolved scenario.
fn check_shards(shards: &[(Meta, &PathBuf)], out: &Path) -> Result<String, SweepError> {
    let bad = |m: String| SweepError::Merge(m);
    let first = &shards[0].0;
    let same = |a: &Path| {
        a.canonicalize()
            .ok()
            .filter(|a| Some(a) == out.canonicalize().ok().as_ref())
    };
    if let Some((_, d)) = shards.iter().find(|(_, d)| same(d).is_some()) {
        return Err(bad(format!("--out {} is one of the shards", d.display())));
    }
    let (plan, resolved) = shard_plan(shards[0].1, first)?;
    for (m, d) in shards {
        let range = Shard {
            index: m.shard,
            count: m.shards,
        }
        .range(plan.len());
        let theirs = fs::read(d.join(RESOLVED_FILE)).unwrap_or_default();
        if theirs != resolved.as_bytes() {
            return Err(bad(format!(
                "{}: its {RESOLVED_FILE} differs from the first shard's under the same plan in {META_FILE}: the directory mixes two sweeps",
                d.display()
            )));
        }
        check_runs_file(&plan, range.clone(), &d.join("runs.csv"))
            .map_err(|e| bad(format!("{e} (is the shard finished, and from this sweep?)")))?;
        if first.timeseries {
            check_series_file(&plan, range, &d.join("timeseries.csv"))
                .map_err(|e| bad(e.to_string()))?;
        }
    }
    Ok(resolved)
}

/// The plan of a shard directory, rebuilt from its resolved scenario, and
/// that scenario's text; refused unless its fingerprint is `meta`'s.
fn shard_plan(dir: &Path, meta: &Meta) -> Result<(Plan, String), SweepError> {
    let bad = |m: String| SweepError::Merge(format!("{}: {m}", dir.display()));
    let path = dir.join(RESOLVED_FILE);
    let text = fs::read_to_string(&path).map_err(|e| {
        bad(format!(
            "cannot read {RESOLVED_FILE}: {e} (has the shard finished?)"
        ))
    })?;
    let scenario = Scenario::parse(&text, &path.display().to_string())
        .map_err(|e| bad(format!("{RESOLVED_FILE} is not a valid scenario: {e}")))?;
    let opts = SweepOptions {
        baseline: Some(meta.baseline.clone()),
        timeseries: meta.timeseries.then_some(Millis(meta.timeseries_step_ms)),
        max_events_per_run: Some(meta.max_events_per_run),
        ..SweepOptions::default()
    };
    let plan = Plan::new(&scenario, &opts)
        .map_err(|e| bad(format!("{RESOLVED_FILE} does not plan: {e}")))?;
    let shard = Shard {
        index: meta.shard,
        count: meta.shards,
    };
    if Meta::for_plan(&plan, &text, shard) != *meta {
        return Err(bad(format!(
            "{RESOLVED_FILE} is not the scenario of the plan its {META_FILE} names: the directory mixes two sweeps"
        )));
    }
    Ok((plan, text))
}

/// Writes `out/name` as the header of the first shard's `name` followed by
/// every shard's rows.
fn concatenate(dirs: &[&Path], name: &str, out: &Path) -> Result<(), SweepError> {
    let target = out.join(name);
    let tmp = tmp_path(&target);
    let written = concatenate_to(dirs, name, &tmp)
        .and_then(|()| fs::rename(&tmp, &target).map_err(write_error(&target)));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

fn concatenate_to(dirs: &[&Path], name: &str, tmp: &Path) -> Result<(), SweepError> {
    let mut w = BufWriter::new(File::create(tmp).map_err(write_error(tmp))?);
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
                w.write_all(&line).map_err(write_error(tmp))?;
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
        std::io::copy(&mut r, &mut w).map_err(write_error(tmp))?;
    }
    let f = w
        .into_inner()
        .map_err(|e| write_error(tmp)(e.into_error()))?;
    f.sync_all().map_err(write_error(tmp))
}
