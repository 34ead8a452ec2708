//! The README's reference sections name what the code defines, so that a
//! new column or stall cause cannot ship undocumented.

use poolsim::RunRow;
use poolsim::metrics::STALL_CAUSES;

/// The README's text from the heading `heading` to the next heading of the
/// same or a higher level.
fn section(heading: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).expect("README.md");
    let level = heading.len() - heading.trim_start_matches('#').len();
    let start = readme
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("README.md has no `{heading}`"));
    let body = &readme[start + heading.len() + 2..];
    let end = body
        .lines()
        .scan(0, |at, line| {
            let here = *at;
            *at += line.len() + 1;
            Some((here, line))
        })
        .find(|(_, line)| {
            let hashes = line.len() - line.trim_start_matches('#').len();
            hashes > 0 && hashes <= level && line[hashes..].starts_with(' ')
        })
        .map_or(body.len(), |(at, _)| at);
    body[..end].to_string()
}

/// Every stall cause the code can write is explained in `runs.csv`'s
/// reference, and its count column in `summary.csv`'s.
#[test]
fn readme_lists_every_stall_cause_and_its_summary_column() {
    let runs = section("### `runs.csv`");
    let summary = section("### `summary.csv`");
    for cause in STALL_CAUSES {
        assert!(
            runs.contains(&format!("`{cause}`")),
            "README.md, `runs.csv`: stall cause `{cause}` is not listed"
        );
        assert!(
            summary.contains(&format!("`stall_{cause}`")),
            "README.md, `summary.csv`: column `stall_{cause}` is not listed"
        );
        assert!(
            poolsim::metrics::stall_meaning(cause).is_some(),
            "stall cause `{cause}` has no meaning for the report"
        );
    }
}

/// Every column of `runs.csv` is in its reference table.
#[test]
fn readme_lists_every_runs_column() {
    let runs = section("### `runs.csv`");
    for column in RunRow::HEADER {
        assert!(
            runs.contains(&format!("`{column}`")),
            "README.md, `runs.csv`: column `{column}` is not listed"
        );
    }
}
