//! The module layers of ARCHITECTURE.md, checked: every `crate::X` a module of `src/` names
//! must be a dependency its layer allows. A new dependency fails this test until the map (and
//! ARCHITECTURE.md) says it is wanted. The edges listed under `AGAINST_THE_LAYERS` go
//! against the layers today; they are to be removed, never added to.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// What each top-level module may use.
const ALLOWED: &[(&str, &[&str])] = &[
    // The bottom: depends on nothing of kdrift.
    ("model", &[]),
    ("path", &[]),
    ("quantity", &[]),
    ("kinds", &[]),
    ("timefmt", &[]),
    ("text", &[]),
    ("selector", &[]),
    ("cli", &[]),
    ("diff", &[]),
    ("process", &["text"]),
    ("yaml", &["text"]),
    // Sources and pure logic: no UI, no runtime.
    (
        "desired",
        &["drift", "kinds", "model", "path", "process", "text", "yaml"],
    ),
    ("live", &["model", "process", "text", "yaml"]),
    (
        "drift",
        &[
            "config", "kinds", "model", "path", "quantity", "selector", "timefmt",
        ],
    ),
    ("report", &["diff", "drift", "model"]),
    ("sync", &["app", "drift", "live", "model"]),
    ("config", &["app"]),
    ("fixture", &["config", "drift"]),
    (
        "sim",
        &[
            "live", "model", "path", "quantity", "selector", "timefmt", "yaml",
        ],
    ),
    // The explorer's state and its drawing.
    (
        "app",
        &[
            "config", "desired", "diff", "drift", "model", "path", "sync", "timefmt", "ui",
        ],
    ),
    (
        "ui",
        &[
            "app", "diff", "drift", "model", "path", "sync", "text", "timefmt",
        ],
    ),
    // The wiring: knows everything.
    (
        "runtime",
        &[
            "app", "cli", "config", "demo", "desired", "drift", "fixture", "live", "model", "path",
            "report", "sim", "sync", "text", "ui",
        ],
    ),
    (
        "demo",
        &[
            "app", "cli", "config", "desired", "live", "model", "runtime", "sim", "sync",
        ],
    ),
];

/// Edges allowed above that go against the layers (cycles, or sim checking the engine with the
/// engine's own rules), to be removed.
const AGAINST_THE_LAYERS: &[(&str, &str)] = &[
    ("config", "app"),   // key bindings: app::keymap ↔ config
    ("sync", "app"),     // the write path uses the UI's short_name
    ("drift", "config"), // attribution uses config::glob_match
    ("demo", "runtime"), // demo ↔ runtime
    ("app", "ui"),       // app's snapshot tests draw with ui, which renders app's state
];

fn crate_refs(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        if !name.is_empty() {
            out.insert(name);
        }
    }
    out
}

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Module → the modules its files name.
fn actual_edges() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let module = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let used = edges.entry(module.clone()).or_default();
        used.extend(crate_refs(&text).into_iter().filter(|u| *u != module));
    }
    edges
}

fn allowed(module: &str) -> Option<&'static [&'static str]> {
    ALLOWED.iter().find(|(m, _)| *m == module).map(|(_, d)| *d)
}

#[test]
fn modules_use_only_what_their_layer_allows() {
    let mut wrong = Vec::new();
    for (module, used) in actual_edges() {
        let Some(deps) = allowed(&module) else {
            wrong.push(format!("{module}: a module the layer map does not know"));
            continue;
        };
        for u in used.iter().filter(|u| !deps.contains(&u.as_str())) {
            wrong.push(format!("{module} uses crate::{u}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "dependencies against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_map_says_no_more_than_the_code_does() {
    // An allowance nothing uses any more is removed, so that the map (and ARCHITECTURE.md)
    // stays true and a removed cycle cannot come back unnoticed.
    let edges = actual_edges();
    let mut stale = Vec::new();
    for (module, deps) in ALLOWED {
        for d in *deps {
            if !edges.get(*module).is_some_and(|u| u.contains(*d)) {
                stale.push(format!("{module} → {d}"));
            }
        }
    }
    for (from, to) in AGAINST_THE_LAYERS {
        if !allowed(from).is_some_and(|d| d.contains(to)) {
            stale.push(format!(
                "edge against the layers {from} → {to} is not in the map"
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "allowed but unused:\n{}",
        stale.join("\n")
    );
}
