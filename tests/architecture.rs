//! The shape of the runtime, checked from its own source: the modules'
//! imports form no circle, and no module imports one of a higher layer
//! (docs/architecture.md draws the layers and says what each holds).
//!
//! A module is a file of `parallel-runtime/src` (`map/mod.rs` is `map`,
//! `map/schedule.rs` is `map::schedule`). An import is any path
//! `crate::a::b` or `super::a` in code (comments are skipped), resolved to
//! the longest module it names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, top first. A module may use its own top-level module and
/// those of the layers below it, never those above or beside it (beside:
/// `map` and `graph` do not use each other). `lib` is the facade and
/// `__private` (macro_support.rs) the leaf that only re-exports: nothing
/// imports either.
const LAYERS: &[&[&str]] = &[
    &["lib", "macro_support"],
    &["graph", "map"],
    &["mpi"],
    &["codec", "items", "config"],
    &["pool"],
    &["trace", "panic", "bounds"],
    &["dashboard"],
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../parallel-runtime/src")
}

/// `map/schedule.rs` → `map::schedule`; `map/mod.rs` → `map`.
fn module_of(rel: &Path) -> String {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" {
        parts.push(stem.to_owned());
    }
    parts.join("::")
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("the runtime's sources")
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            // The binaries of the crate are not modules of the library.
            if p.file_name().is_some_and(|n| n != "bin") {
                files(&p, out);
            }
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file without its comments (line comments only: the
/// runtime writes no block comments around imports).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The identifiers after each `prefix` in `code`, joined by `::`, for as
/// long as the path goes on (`crate::mpi::world::active` → `mpi::world::active`).
fn paths_after(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find(prefix) {
        let boundary = rest[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        rest = &rest[i + prefix.len()..];
        if !boundary {
            continue;
        }
        let mut segs = Vec::new();
        let mut s = rest;
        loop {
            let end = s
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(s.len());
            if end == 0 {
                break;
            }
            segs.push(s[..end].to_owned());
            s = &s[end..];
            match s.strip_prefix("::") {
                Some(more) => s = more,
                None => break,
            }
        }
        // `use crate::{a, b::c}`: each path of the group.
        if segs.is_empty() && s.starts_with('{') {
            let close = s.find('}').unwrap_or(s.len());
            for part in s[1..close].split(',') {
                let p: Vec<String> = part
                    .trim()
                    .split("::")
                    .map(|x| x.trim().to_owned())
                    .filter(|x| !x.is_empty())
                    .collect();
                if !p.is_empty() {
                    out.push(p);
                }
            }
            continue;
        }
        out.push(segs);
    }
    out
}

/// The module that `segs` (a path below `base`) names: its longest prefix
/// that is a module.
fn resolve(base: &[String], segs: &[String], modules: &BTreeSet<String>) -> Option<String> {
    (1..=segs.len()).rev().find_map(|n| {
        let mut p = base.to_vec();
        p.extend_from_slice(&segs[..n]);
        let name = p.join("::");
        modules.contains(&name).then_some(name)
    })
}

fn top(m: &str) -> &str {
    m.split("::").next().unwrap_or(m)
}

fn layer(m: &str) -> usize {
    let t = top(m);
    LAYERS
        .iter()
        .position(|l| l.contains(&t))
        .unwrap_or_else(|| panic!("module `{m}` is in no layer of LAYERS: add it"))
}

/// Every module and the modules it imports.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let root = src();
    let mut paths = Vec::new();
    files(&root, &mut paths);
    let named: Vec<(String, PathBuf)> = paths
        .iter()
        .map(|p| {
            let rel = p.strip_prefix(&root).expect("below src");
            let m = module_of(rel);
            (if m.is_empty() { "lib".into() } else { m }, p.clone())
        })
        .collect();
    // `lib.rs` is the crate root: `crate::x` is `x`.
    let modules: BTreeSet<String> = named.iter().map(|(m, _)| m.clone()).collect();
    let mut graph = BTreeMap::new();
    for (m, path) in &named {
        let text = code(&std::fs::read_to_string(path).expect("a source file"));
        let mut uses = BTreeSet::new();
        for mut segs in paths_after(&text, "crate::") {
            if segs.first().is_some_and(|s| s == "__private") {
                segs[0] = "macro_support".into();
            }
            match resolve(&[], &segs, &modules) {
                Some(t) => uses.insert(t),
                // `crate::Item`: an item of the crate root, the facade.
                None if !segs.is_empty() => uses.insert("lib".into()),
                None => false,
            };
        }
        // `super::x` in the file of `a::b` is `a::x` (for `a/mod.rs`, the
        // module `a`, it is the crate root's `x`).
        let mut parent: Vec<String> = m.split("::").map(str::to_owned).collect();
        parent.pop();
        for segs in paths_after(&text, "super::") {
            if let Some(t) = resolve(&parent, &segs, &modules) {
                uses.insert(t);
            }
        }
        uses.remove(m);
        graph.insert(m.clone(), uses);
    }
    graph
}

#[test]
fn no_module_imports_a_higher_layer() {
    let graph = imports();
    assert!(graph.len() > 20, "read too few modules: {:?}", graph.keys());
    let mut wrong = Vec::new();
    for (m, uses) in &graph {
        for u in uses {
            if top(u) == top(m) {
                continue;
            }
            if m == "lib" || m == "macro_support" {
                continue;
            }
            if u == "lib" || u == "macro_support" || layer(u) <= layer(m) {
                wrong.push(format!("{m} -> {u}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that run up or sideways across layers (see LAYERS):\n{}",
        wrong.join("\n")
    );
}

/// The modules of `graph` that reach themselves through their imports,
/// each with its imports inside the circle.
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let names: Vec<&String> = graph.keys().collect();
    let index_of: BTreeMap<&String, usize> =
        names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let edges: Vec<Vec<usize>> = names
        .iter()
        .map(|n| {
            graph[*n]
                .iter()
                .filter_map(|u| index_of.get(u).copied())
                .collect()
        })
        .collect();
    let mut inside = Vec::new();
    for start in 0..names.len() {
        // Is `start` reachable from one of its own imports?
        let mut seen = vec![false; names.len()];
        let mut stack: Vec<usize> = edges[start].clone();
        while let Some(v) = stack.pop() {
            if v == start {
                inside.push(names[start].clone());
                break;
            }
            if !std::mem::replace(&mut seen[v], true) {
                stack.extend(&edges[v]);
            }
        }
    }
    inside
        .iter()
        .map(|m| {
            let ties: Vec<&String> = graph[m].iter().filter(|u| inside.contains(u)).collect();
            format!("{m} -> {ties:?}")
        })
        .collect()
}

#[test]
fn the_modules_import_no_circle() {
    let files = imports();
    // Between files, and between the top-level modules (a folder's root
    // reaches its files by relative paths this reader does not follow, so
    // `pool -> config -> config::threads -> pool` shows here as
    // `pool <-> config`).
    let mut tops: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, uses) in &files {
        let entry = tops.entry(top(m).to_owned()).or_default();
        entry.extend(
            uses.iter()
                .map(|u| top(u).to_owned())
                .filter(|u| u != top(m)),
        );
    }
    let found: Vec<String> = circles(&files).into_iter().chain(circles(&tops)).collect();
    assert!(
        found.is_empty(),
        "modules that import themselves through others:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_checker_sees_imports() {
    // The checker itself: it must see a known import, or the two tests above
    // would pass on nothing.
    let graph = imports();
    assert!(
        graph["lib"].contains("macro_support") || graph["macro_support"].contains("map"),
        "{graph:#?}"
    );
    assert!(graph.values().any(|u| u.contains("config")), "{graph:#?}");
}

#[test]
fn no_runtime_file_is_longer_than_500_lines() {
    let mut paths = Vec::new();
    files(&src(), &mut paths);
    let long: Vec<String> = paths
        .iter()
        .filter_map(|p| {
            let n = std::fs::read_to_string(p)
                .expect("a source file")
                .lines()
                .count();
            (n > 500).then(|| format!("{}: {n} lines", p.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "files over 500 lines:\n{}",
        long.join("\n")
    );
}
