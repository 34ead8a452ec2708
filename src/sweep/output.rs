//! Writing results: every file goes to a temporary name first and is renamed
//! into place, so a reader never sees half a file.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::metrics::{RunRow, SummaryRow};
use crate::scenario::Scenario;

use super::SweepError;

fn write_error(path: &Path) -> impl FnOnce(std::io::Error) -> SweepError + '_ {
    move |source| SweepError::Write {
        path: path.display().to_string(),
        source,
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), SweepError> {
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    let mut f = fs::File::create(&tmp).map_err(write_error(&tmp))?;
    f.write_all(bytes).map_err(write_error(&tmp))?;
    f.sync_all().map_err(write_error(&tmp))?;
    fs::rename(&tmp, path).map_err(write_error(path))
}

/// Renders a CSV table.
pub fn write_csv(header: &[String], records: impl Iterator<Item = Vec<String>>) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    // Writing to a Vec cannot fail.
    let _ = w.write_record(header);
    for r in records {
        let _ = w.write_record(&r);
    }
    w.into_inner().unwrap_or_default()
}

pub(super) fn write_results(
    dir: &Path,
    scenario: &Scenario,
    rows: &[RunRow],
    summary: &[SummaryRow],
) -> Result<(), SweepError> {
    fs::create_dir_all(dir).map_err(write_error(dir))?;
    let header: Vec<String> = RunRow::HEADER.iter().map(|s| s.to_string()).collect();
    let runs = write_csv(&header, rows.iter().map(|r| r.record()));
    let summary_header = summary.first().map(|s| s.header()).unwrap_or_default();
    let summary_csv = write_csv(&summary_header, summary.iter().map(|s| s.record()));
    let resolved = toml::to_string(&scenario.file).unwrap_or_default();
    write_atomically(&dir.join("runs.csv"), &runs)?;
    write_atomically(&dir.join("summary.csv"), &summary_csv)?;
    write_atomically(&dir.join("scenario.toml"), resolved.as_bytes())?;
    Ok(())
}
