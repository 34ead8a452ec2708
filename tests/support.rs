use std::path::PathBuf;
use std::process::{Command, Output};

use poolsim::Scenario;

/// Parses an inline scenario, panicking with the error if it is invalid.
pub fn scenario(text: &str) -> Scenario {
    Scenario::parse(text, "inline.toml").unwrap_or_else(|e| panic!("{e}"))
}

/// The index of a policy by name.
pub fn policy(s: &Scenario, name: &str) -> usize {
    s.policies
        .iter()
        .position(|p| p.name == name)
        .unwrap_or_else(|| panic!("no policy {name}"))
}

/// Runs the `poolsim` binary.
pub fn poolsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_poolsim"))
        .args(args)
        .output()
        .expect("poolsim runs")
}

/// A shipped scenario file.
pub fn shipped(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name)
}
