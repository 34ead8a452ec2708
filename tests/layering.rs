//! The module order of `ARCHITECTURE.md` ("Dependencies between modules")
//! is read from that file and checked against the source: every `crate::`
//! path in `src/` (in `use` lines, grouped `use crate::{...}`, and inline
//! paths such as `crate::kube::Pdb`) names a top-level module, and that
//! module must sit strictly below the module of the file that uses it.
//! Modules on one line of the order are peers and must not use each other.
//!
//! `super::` paths are not followed: none in `src/` climbs out of its
//! top-level module, and rustc would not let one do so without naming a
//! module this test already knows.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The layers of `ARCHITECTURE.md`'s fenced `text` block after the marker
/// line, top first; each layer is the modules on one line.
fn documented_layers(root: &Path) -> Vec<Vec<String>> {
    let text = fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let marker = "Module order, top to bottom";
    let start = text
        .find(marker)
        .unwrap_or_else(|| panic!("ARCHITECTURE.md has no line containing `{marker}`"));
    let block = &text[start..];
    let open = block
        .find("```text\n")
        .expect("a ```text block after the marker")
        + 8;
    let close = block[open..]
        .find("```")
        .expect("the block's closing fence")
        + open;
    block[open..close]
        .lines()
        .map(|line| {
            line.split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|layer| !layer.is_empty())
        .collect()
}

/// Every `.rs` file under `dir`, sorted so failures list in a stable order.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .expect("src/")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source without `//` comments (doc comments included: an example in
/// a doc comment is not a dependency).
fn without_comments(text: &str) -> String {
    text.lines()
        .map(|line| line.find("//").map_or(line, |i| &line[..i]))
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The first segment after each `crate::` in `code`, expanding one level
/// of `crate::{a::b, c}` groups.
fn crate_roots(code: &str) -> Vec<String> {
    let mut roots = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let preceded_by_ident = rest[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        rest = &rest[i + "crate::".len()..];
        if preceded_by_ident {
            continue; // e.g. `my_crate::`, not this crate (`$crate::` is)
        }
        if let Some(group) = rest.strip_prefix('{') {
            // Items of the group at brace depth 0, each starting with a root.
            let mut depth = 0usize;
            let mut item_start = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && (c.is_ascii_alphabetic() || c == '_') => {
                        roots.push(ident_at(&group[j..]).to_string());
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            roots.push(ident_at(rest).to_string());
        }
    }
    roots
}

/// Names `lib.rs` re-exports at the crate root (`pub use sim::run_one;`),
/// mapped to the module they come from.
fn root_reexports(lib: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for line in without_comments(lib).lines() {
        let Some(path) = line.trim().strip_prefix("pub use ") else {
            continue;
        };
        let module = ident_at(path).to_string();
        let names = path[module.len()..].trim_start_matches("::");
        let names = names.trim_end_matches(';').trim_matches(['{', '}']);
        for name in names.split(',') {
            let name = ident_at(name.trim());
            if !name.is_empty() {
                map.insert(name.to_string(), module.clone());
            }
        }
    }
    map
}

/// The modules of the binary: `mod name;` lines of `main.rs` (files of
/// the binary, not of the library, so outside the library's order).
fn binary_modules(src: &Path) -> Vec<String> {
    let main = fs::read_to_string(src.join("main.rs")).expect("src/main.rs");
    without_comments(&main)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("mod ")?.strip_suffix(';'))
        .map(|m| m.trim().to_string())
        .collect()
}

/// The top-level module a file of `src/` belongs to (`None` for the crate
/// roots `lib.rs` and `main.rs`, and for the binary's own modules).
fn top_module(src: &Path, file: &Path, binary: &[String]) -> Option<String> {
    let rel = file.strip_prefix(src).expect("under src/");
    let first = rel.components().next()?.as_os_str().to_str()?.to_string();
    if rel.components().count() > 1 {
        return Some(first);
    }
    let stem = first.trim_end_matches(".rs").to_string();
    (stem != "lib" && stem != "main" && !binary.contains(&stem)).then_some(stem)
}

/// Every edge that points up (or sideways between peers), as
/// `file: from -> to` lines.
fn upward_edges(root: &Path) -> Vec<String> {
    let layers = documented_layers(root);
    let rank: BTreeMap<String, usize> = layers
        .iter()
        .enumerate()
        .flat_map(|(i, layer)| layer.iter().map(move |m| (m.clone(), i)))
        .collect();
    let src = root.join("src");
    let lib = fs::read_to_string(src.join("lib.rs")).expect("src/lib.rs");
    let reexports = root_reexports(&lib);
    let binary = binary_modules(&src);
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut bad = Vec::new();
    for file in &files {
        let Some(from) = top_module(&src, file, &binary) else {
            continue;
        };
        let shown = file.strip_prefix(root).unwrap_or(file).display();
        let Some(&from_rank) = rank.get(&from) else {
            bad.push(format!(
                "{shown}: module `{from}` is missing from ARCHITECTURE.md's module order"
            ));
            continue;
        };
        let code = without_comments(&fs::read_to_string(file).expect("source file"));
        for name in crate_roots(&code) {
            let to = reexports.get(&name).cloned().unwrap_or(name);
            if to == from {
                continue;
            }
            match rank.get(&to) {
                None => bad.push(format!(
                    "{shown}: `crate::{to}` is not a module of the documented order"
                )),
                // Lower layers have higher indices (the list is top first).
                Some(&to_rank) if to_rank <= from_rank => {
                    let how = if to_rank == from_rank { "a peer" } else { "up" };
                    bad.push(format!("{shown}: {from} -> {to} points {how}"));
                }
                Some(_) => {}
            }
        }
    }
    bad.sort();
    bad.dedup();
    bad
}

#[test]
fn no_module_uses_one_above_it_or_a_peer() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bad = upward_edges(root);
    assert!(
        bad.is_empty(),
        "dependencies against ARCHITECTURE.md's module order:\n  {}",
        bad.join("\n  ")
    );
}

#[test]
fn the_documented_order_names_every_top_level_module_once() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut documented: Vec<String> = documented_layers(root).concat();
    let n = documented.len();
    documented.sort();
    documented.dedup();
    assert_eq!(documented.len(), n, "a module is listed twice");
    let lib = fs::read_to_string(root.join("src/lib.rs")).expect("src/lib.rs");
    let mut declared: Vec<String> = without_comments(&lib)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|m| m.trim_end_matches(';').to_string())
        .collect();
    declared.sort();
    assert_eq!(documented, declared);
}

#[test]
fn crate_paths_are_found_in_use_lines_groups_and_inline_paths() {
    let code = "use crate::engine::Millis;\n\
                use crate::{quantity::Delay, kube::{Pdb, PodId}, cloud};\n\
                let x = crate::metrics::stats::mean(v);\n\
                macro_rules! m { () => { $crate::sim::run_one } }";
    assert_eq!(
        crate_roots(code),
        ["engine", "quantity", "kube", "cloud", "metrics", "sim"]
    );
    let lib = "pub use sim::run_one;\npub use sweep::{SweepError, run_sweep};";
    let map = root_reexports(lib);
    assert_eq!(map["run_one"], "sim");
    assert_eq!(map["SweepError"], "sweep");
    assert_eq!(map["run_sweep"], "sweep");
}
