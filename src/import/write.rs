//! Writing the scenario: the report as comments at the top, the file as
//! TOML with a comment naming the Kubernetes object behind each workload;
//! written to a temporary file beside the target and renamed into place,
//! so a failed import leaves nothing.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use crate::scenario::file::ScenarioFile;

use super::ImportError;
use super::notes::Notes;

/// The scenario's text.
pub fn render(
    file: &ScenarioFile,
    origins: &BTreeMap<String, String>,
    header: &[String],
    notes: &Notes,
) -> Result<String, ImportError> {
    let body = toml::to_string(file).map_err(|e| ImportError::Internal(e.to_string()))?;
    let mut out = String::new();
    for line in header {
        out.push_str(&comment(line));
    }
    if notes.is_empty() {
        out.push_str("#\n# Nothing was skipped or approximated.\n");
    } else {
        out.push_str(&format!(
            "#\n# Skipped or approximated ({} kinds of thing; `--strict` refuses any):\n",
            notes.len()
        ));
        for line in notes.lines() {
            out.push_str(&comment(&format!("- {line}")));
        }
    }
    out.push('\n');
    let mut workloads = file.workloads.iter();
    let lines: Vec<&str> = body.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if is_empty_table(&lines, i) {
            continue;
        }
        if *line == "[[workloads]]"
            && let Some(w) = workloads.next()
            && let Some(o) = origins.get(w.name.get_ref())
        {
            out.push_str(&comment(o));
        }
        out.push_str(line);
        out.push('\n');
    }
    Ok(out)
}

/// Whether line `i` opens a table (`[x]`, not an array element) with no
/// key before the next header: serde writes empty maps that way, and the
/// file reads the same without them.
fn is_empty_table(lines: &[&str], i: usize) -> bool {
    let l = lines[i];
    if !l.starts_with('[') || l.starts_with("[[") {
        return false;
    }
    match lines[i + 1..].iter().find(|x| !x.trim().is_empty()) {
        None => true,
        Some(next) => next.starts_with('['),
    }
}

/// `# text`, one comment line per line of text.
fn comment(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                "#\n".to_string()
            } else {
                format!("# {l}\n")
            }
        })
        .collect()
}

/// Writes `text` to `path` through a temporary file in the same
/// directory, renamed into place.
pub fn write_atomically(path: &Path, text: &str) -> Result<(), ImportError> {
    let fail = |e: std::io::Error| ImportError::Write {
        file: path.display().to_string(),
        message: e.to_string(),
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "scenario.toml".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = std::fs::File::create(&tmp)
        .and_then(|mut f| {
            f.write_all(text.as_bytes())?;
            f.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(e));
    }
    Ok(())
}
