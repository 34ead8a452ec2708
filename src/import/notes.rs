//! The import report: every object or field skipped or approximated,
//! grouped by what was done, with counts and the objects concerned. It is
//! printed, written as comments at the top of the scenario, and with
//! `--strict` any entry is an error.

use std::collections::BTreeMap;
use std::fmt::{self, Display};

use crate::input::escape;

/// What the importer did with something it could not carry over exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Treatment {
    /// Left out of the scenario.
    Skipped,
    /// Carried over in a simpler form.
    Approximated,
}

impl Display for Treatment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Treatment::Skipped => "skipped",
            Treatment::Approximated => "approximated",
        })
    }
}

/// How many objects a report line names before it says "and N more".
const NAMED: usize = 6;

/// The report: per (treatment, what), the objects concerned in the order
/// met (each once).
#[derive(Debug, Default, Clone)]
pub struct Notes {
    entries: BTreeMap<(Treatment, String), Vec<String>>,
}

impl Notes {
    /// Records that `object` was skipped because of `what`.
    pub fn skip(&mut self, what: &str, object: impl Display) {
        self.add(Treatment::Skipped, what, object);
    }

    /// Records that `object` was approximated as `what` says.
    pub fn approximate(&mut self, what: &str, object: impl Display) {
        self.add(Treatment::Approximated, what, object);
    }

    fn add(&mut self, t: Treatment, what: &str, object: impl Display) {
        let list = self.entries.entry((t, what.to_string())).or_default();
        let object = escape(&object.to_string()).to_string();
        if !list.contains(&object) {
            list.push(object);
        }
    }

    /// Whether nothing was skipped or approximated.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of report lines.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The report lines, skipped first, each `N x what: a, b, c and M
    /// more`.
    pub fn lines(&self) -> Vec<String> {
        self.entries
            .iter()
            .map(|((t, what), objects)| {
                let shown: Vec<&str> = objects.iter().take(NAMED).map(String::as_str).collect();
                let more = objects.len().saturating_sub(NAMED);
                let tail = if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                };
                format!(
                    "{t} ({}): {what}: {}{tail}",
                    objects.len(),
                    shown.join(", ")
                )
            })
            .collect()
    }

    /// Entries whose `what` contains `text` (for tests and callers that
    /// look for one kind of note): the objects named.
    pub fn objects(&self, text: &str) -> Vec<String> {
        self.entries
            .iter()
            .filter(|((_, what), _)| what.contains(text))
            .flat_map(|(_, o)| o.iter().cloned())
            .collect()
    }
}
