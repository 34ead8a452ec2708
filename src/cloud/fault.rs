//! Faults: events that take instances away.

use crate::engine::Millis;

/// A fault the scenario injects.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Every instance of every group is terminated at once (the story).
    TerminateAll {
        /// When.
        at: Millis,
    },
}

impl Fault {
    /// When the fault strikes.
    pub fn at(&self) -> Millis {
        match self {
            Fault::TerminateAll { at } => *at,
        }
    }
}
