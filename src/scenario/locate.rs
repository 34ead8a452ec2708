//! Finding the line of a key in a scenario file, for errors found after
//! serde (whose spans are lost by then): the line where the key's value is
//! written, not the header of the table that holds it.
//!
//! Keys are dotted paths as errors name them: `horizon`,
//! `kubernetes.controller_retry_max`, `workloads.api.min_available`,
//! `policies.split.pools.system.desired`, `faults[0].fraction`. Arrays of
//! tables are found by their `name = "..."` line, or by index for
//! `faults[i]`.

use std::ops::Range;

/// The 1-based line of byte `offset`.
fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Whether `line` is a table header (`[a.b]` or `[[a]]`).
fn header(line: &str) -> Option<&str> {
    let t = line.trim();
    let inner = t.strip_prefix("[[").and_then(|x| x.strip_suffix("]]"));
    let inner = inner.or_else(|| t.strip_prefix('[').and_then(|x| x.strip_suffix(']')))?;
    let ok = !inner.is_empty()
        && inner
            .chars()
            .all(|c| c.is_alphanumeric() || "_-. \"".contains(c));
    ok.then(|| inner.trim())
}

/// The byte ranges of the lines of `text`.
fn lines(text: &str) -> impl Iterator<Item = (Range<usize>, &str)> {
    let mut at = 0;
    text.split_inclusive('\n').map(move |l| {
        let r = at..at + l.len();
        at += l.len();
        (r, l)
    })
}

/// Whether `line` assigns `key` (bare or quoted), as `key =` at its start
/// or inside an inline table.
fn assigns(line: &str, key: &str) -> bool {
    let mut from = 0;
    while let Some(i) = line[from..].find(key) {
        let start = from + i;
        let end = start + key.len();
        let before = line[..start].trim_end_matches('"');
        let after = line[end..].trim_start_matches('"').trim_start();
        let boundary = before
            .chars()
            .next_back()
            .is_none_or(|c| c.is_whitespace() || c == '{' || c == ',' || c == '.');
        if boundary && after.starts_with('=') && !after.starts_with("==") {
            return true;
        }
        from = end;
    }
    false
}

/// The region (byte range) of the table a key path starts with, when no
/// span says where to look.
fn region(text: &str, key: &str) -> Option<Range<usize>> {
    let mut parts = key.split('.');
    let first = parts.next()?;
    let second = parts.next();
    // Headers in order, with where their body starts.
    let heads: Vec<(usize, &str, usize)> = lines(text)
        .filter_map(|(r, l)| header(l).map(|h| (r.start, h, r.end)))
        .collect();
    let end_after = |body: usize| {
        heads
            .iter()
            .find(|(s, _, _)| *s >= body)
            .map_or(text.len(), |(s, _, _)| *s)
    };
    if second.is_none() {
        // A top-level key: before the first header.
        return Some(0..heads.first().map_or(text.len(), |(s, _, _)| *s));
    }
    if let Some((name, index)) = first.strip_suffix(']').and_then(|f| f.split_once('[')) {
        let i: usize = index.parse().ok()?;
        let (_, _, body) = heads.iter().filter(|(_, h, _)| *h == name).nth(i)?;
        return Some(*body..end_after(*body));
    }
    // An array of tables named by `name = "..."`.
    if let Some(name) = second {
        let quoted = format!("\"{name}\"");
        for (_, _, body) in heads.iter().filter(|(_, h, _)| *h == first) {
            let r = *body..end_after(*body);
            let names_it = text[r.clone()]
                .lines()
                .any(|l| assigns(l, "name") && l.contains(&quoted));
            if names_it {
                return Some(r);
            }
        }
    }
    // A table `[first.second...]`, the longest header that prefixes the key.
    heads
        .iter()
        .filter(|(_, h, _)| key == *h || key.starts_with(&format!("{h}.")))
        .max_by_key(|(_, h, _)| h.len())
        .map(|(_, _, body)| *body..end_after(*body))
}

/// The line of the value of `key`: searched from the line of `near` to the
/// end of its table when given, else in the table the key names. `near`'s
/// line when the key is not written there (a missing key, a default);
/// `None` when nothing says where.
pub(super) fn line_of_key(text: &str, near: Option<usize>, key: &str) -> Option<usize> {
    let last = key.rsplit('.').next().unwrap_or(key);
    let last = last.split('[').next().unwrap_or(last);
    let searchable = !last.is_empty()
        && last
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    let within = match near {
        Some(at) => {
            let at = at.min(text.len());
            let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
            let end = lines(text)
                .filter(|(r, l)| r.start > start && header(l).is_some())
                .map(|(r, _)| r.start)
                .next()
                .unwrap_or(text.len());
            Some(start..end)
        }
        None => region(text, key),
    };
    let found = searchable
        .then(|| {
            let r = within.clone()?;
            lines(&text[r.clone()])
                .find(|(_, l)| assigns(l, last))
                .map(|(lr, _)| r.start + lr.start)
        })
        .flatten();
    match (found, near) {
        (Some(at), _) => Some(line_at(text, at)),
        (None, Some(at)) => Some(line_at(text, at)),
        (None, None) => None,
    }
}

/// The line of each key of the `[sweep]` table (and `[sweep.x]`
/// sub-tables), as the dotted path the grid uses.
pub(super) fn sweep_lines(text: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut prefix: Option<String> = None;
    for (i, (_, l)) in lines(text).enumerate() {
        if let Some(h) = header(l) {
            prefix = match h.strip_prefix("sweep") {
                Some("") => Some(String::new()),
                Some(rest) if rest.starts_with('.') => Some(format!("{}.", &rest[1..])),
                _ => None,
            };
            continue;
        }
        let (Some(p), Some((k, _))) = (&prefix, l.split_once('=')) else {
            continue;
        };
        let k: String = k
            .trim()
            .chars()
            .filter(|&c| c != '"' && c != '\'')
            .collect();
        if !k.is_empty() && !k.starts_with('#') {
            out.push((format!("{p}{}", k.replace(" ", "")), i + 1));
        }
    }
    out
}

/// The dotted key of the value at byte `offset`, from the document's own
/// spans: the innermost key whose value holds the offset, each element of
/// an array of tables named by its `name`, else by its index, as the other
/// errors name keys (`policies.split.pools.system.capacity`,
/// `workloads.api`, `faults[1].fraction`). `None`
/// when the text is not valid TOML or nothing holds the offset.
pub(super) fn key_path_at(text: &str, offset: usize) -> Option<String> {
    let doc = toml::de::DeTable::parse(text).ok()?;
    let mut path = Vec::new();
    walk_table(doc.get_ref(), offset, &mut path);
    (!path.is_empty()).then(|| path.join("."))
}

/// Pushes onto `path` the keys, within `table`, of the value holding
/// `offset`. A key also holds the offset when the offset is on the key
/// itself (a typo in a key name).
fn walk_table(table: &toml::de::DeTable<'_>, offset: usize, path: &mut Vec<String>) {
    for (k, v) in table {
        let in_value = holds(v, offset);
        if in_value || k.span().contains(&offset) {
            path.push(k.get_ref().to_string());
            if in_value {
                walk_value(v.get_ref(), offset, path);
            }
            return;
        }
    }
}

/// Whether `offset` is in `value` or its children. A table opened by a
/// header (`[[workloads]]`) spans only its header, its keys lie below it.
fn holds(value: &toml::Spanned<toml::de::DeValue<'_>>, offset: usize) -> bool {
    if value.span().contains(&offset) {
        return true;
    }
    match value.get_ref() {
        toml::de::DeValue::Table(t) => t
            .iter()
            .any(|(k, v)| k.span().contains(&offset) || holds(v, offset)),
        toml::de::DeValue::Array(items) => items.iter().any(|v| holds(v, offset)),
        _ => false,
    }
}

fn walk_value(value: &toml::de::DeValue<'_>, offset: usize, path: &mut Vec<String>) {
    match value {
        toml::de::DeValue::Table(t) => walk_table(t, offset, path),
        toml::de::DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if !holds(item, offset) {
                    continue;
                }
                let name = match item.get_ref() {
                    toml::de::DeValue::Table(t) => t.get("name").and_then(|n| match n.get_ref() {
                        toml::de::DeValue::String(s) => Some(s.to_string()),
                        _ => None,
                    }),
                    _ => None,
                };
                match name {
                    Some(name) => path.push(name),
                    // `faults[0]`, as the checks after serde name it.
                    None => {
                        if let Some(last) = path.last_mut() {
                            last.push_str(&format!("[{i}]"));
                        }
                    }
                }
                walk_value(item.get_ref(), offset, path);
                return;
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"name = "t"
horizon = "0s"

[kubernetes]
node_monitor_period = "5s"
controller_retry_max = "0s"

[[workloads]]
name = "dns"
replicas = 2
min_available = 3

[[workloads]]
name = "api"
min_available = 1

[[faults]]
kind = "terminate_all"

[[faults]]
kind = "terminate_fraction"
fraction = 2.0
"#;

    #[test]
    fn keys_are_found_on_their_own_line() {
        assert_eq!(line_of_key(TEXT, None, "horizon"), Some(2));
        assert_eq!(
            line_of_key(TEXT, None, "kubernetes.controller_retry_max"),
            Some(6)
        );
        assert_eq!(
            line_of_key(TEXT, None, "workloads.api.min_available"),
            Some(15)
        );
        assert_eq!(line_of_key(TEXT, None, "faults[1].fraction"), Some(22));
        // Near the name of `dns`: its own min_available, not the header.
        let near = TEXT.find("name = \"dns\"");
        assert_eq!(
            line_of_key(TEXT, near, "workloads.dns.min_available"),
            Some(11)
        );
        // A key that is not written: the line near which it belongs.
        assert_eq!(line_of_key(TEXT, near, "workloads.dns.cpu"), Some(9));
        assert_eq!(line_of_key(TEXT, None, "seeds"), None);
    }

    #[test]
    fn serde_errors_get_the_path_of_their_value() {
        let text = r#"name = "t"
[[workloads]]
name = "dns"
cpu = "1"

[[workloads]]
name = "api"
memory = "1Gi"

[[policies]]
name = "split"
pools = [{ name = "sys", desired = 2 }, { name = "user", capacity = "spt" }]
"#;
        let at = |needle: &str| key_path_at(text, text.find(needle).unwrap());
        assert_eq!(
            at("\"spt\"").as_deref(),
            Some("policies.split.pools.user.capacity")
        );
        assert_eq!(at("\"1Gi\"").as_deref(), Some("workloads.api.memory"));
        assert_eq!(at("cpu").as_deref(), Some("workloads.dns.cpu"));
        assert_eq!(key_path_at("a = [", 2), None);
        let faults = "[[faults]]\nkind = \"a\"\n[[faults]]\nfraction = 2\n";
        let at = faults.find('2').unwrap();
        assert_eq!(
            key_path_at(faults, at).as_deref(),
            Some("faults[1].fraction")
        );
    }
}
