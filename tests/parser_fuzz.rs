use proptest::prelude::*;

use poolsim::{Scenario, ScenarioError};

use crate::support::shipped;

fn seeds() -> Vec<String> {
    ["seed-deadlock.toml", "seed-headroom.toml"]
        .iter()
        .map(|f| std::fs::read_to_string(shipped(f)).expect("shipped scenario"))
        .collect()
}

/// Tokens that make interesting replacements: other types, bad units,
/// negative numbers, huge numbers, unknown names, TOML syntax.
pub(crate) const TOKENS: &[&str] = &[
    "\"\"",
    "0",
    "-1",
    "\"-5s\"",
    "1e308",
    "18446744073709551615",
    "\"2 cores\"",
    "\"9Zi\"",
    "\"m9.huge\"",
    "true",
    "[",
    "]",
    "{",
    "}",
    "=",
    "\"",
    "[[workloads]]",
    "[[policies]]",
    "needs = [\"nope\"]",
    "\"ü\"",
    "nan",
    "inf",
    "\"1h30\"",
    "\"500m\"",
    "\"0s\"",
];

/// One mutation of a scenario text.
#[derive(Debug, Clone)]
pub(crate) enum Mutation {
    DeleteLine(usize),
    DuplicateLine(usize),
    ReplaceValue(usize, usize),
    DeleteByte(usize),
    InsertByte(usize, u8),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::DeleteLine),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(l, t)| Mutation::ReplaceValue(l, t)),
        any::<usize>().prop_map(Mutation::DeleteByte),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::InsertByte(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

pub(crate) fn apply(text: &str, m: &Mutation) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let n = lines.len().max(1);
    match *m {
        Mutation::DeleteLine(i) => {
            if !lines.is_empty() {
                lines.remove(i % n);
            }
        }
        Mutation::DuplicateLine(i) => {
            if let Some(l) = lines.get(i % n).cloned() {
                lines.insert(i % n, l);
            }
        }
        Mutation::ReplaceValue(i, t) => {
            if let Some(l) = lines.get_mut(i % n)
                && let Some(eq) = l.find('=')
            {
                *l = format!("{}= {}", &l[..eq], TOKENS[t % TOKENS.len()]);
            }
        }
        Mutation::DeleteByte(i) => {
            let mut bytes = lines.join("\n").into_bytes();
            if !bytes.is_empty() {
                bytes.remove(i % bytes.len());
            }
            return String::from_utf8_lossy(&bytes).into_owned();
        }
        Mutation::InsertByte(i, b) => {
            let mut bytes = lines.join("\n").into_bytes();
            let at = i % (bytes.len() + 1);
            bytes.insert(at, b);
            return String::from_utf8_lossy(&bytes).into_owned();
        }
        Mutation::Truncate(i) => {
            let joined = lines.join("\n");
            let mut cut = i % (joined.len() + 1);
            while !joined.is_char_boundary(cut) {
                cut -= 1;
            }
            return joined[..cut].to_string();
        }
    }
    lines.join("\n")
}

/// Cases per property: 3000 in the test suite (about a second); set
/// `POOLSIM_FUZZ_CASES` for a longer fuzzing session.
fn cases() -> u32 {
    std::env::var("POOLSIM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// Mutated scenario files never make the parser or validator panic: each
    /// gives a valid scenario or an error naming the file and a key.
    #[test]
    fn mutated_files_give_a_scenario_or_a_clear_error(
        which in 0usize..2,
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let mut text = seeds()[which].clone();
        for m in &mutations {
            text = apply(&text, m);
        }
        match Scenario::parse(&text, "fuzz.toml") {
            Ok(s) => prop_assert!(!s.policies.is_empty() && !s.workloads.is_empty()),
            Err(ScenarioError::Invalid { file, key, message, .. }) => {
                prop_assert_eq!(file, "fuzz.toml");
                prop_assert!(!key.is_empty(), "empty key: {}", message);
                prop_assert!(!message.is_empty());
            }
            Err(e) => prop_assert!(false, "unexpected error kind: {}", e),
        }
    }

    /// Arbitrary text, too.
    #[test]
    fn random_text_never_panics(text in "\\PC{0,400}") {
        let _ = Scenario::parse(&text, "random.toml");
    }
}
