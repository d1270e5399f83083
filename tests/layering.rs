//! The crate and module layers of ARCHITECTURE.md, checked: each crate of the workspace
//! depends only on the kdrift crates below it, and every `crate::X` (or `kdrift_core::X`) a
//! module names must be a dependency its layer allows. The modules of kdrift-core keep their
//! names (`model`, `yaml` …); all of kdrift-sim counts as the one module `sim`. A new dependency fails this test until the map (and
//! ARCHITECTURE.md) says it is wanted. The edges listed under `AGAINST_THE_LAYERS` go
//! against the layers today; they are to be removed, never added to.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// What each top-level module may use.
const ALLOWED: &[(&str, &[&str])] = &[
    // The bottom: depends on nothing of kdrift (kdrift-core's modules, and small ones).
    ("model", &[]),
    ("path", &[]),
    ("quantity", &[]),
    ("kinds", &[]),
    ("timefmt", &[]),
    ("text", &[]),
    ("selector", &[]),
    ("glob", &[]),
    ("par", &[]),
    ("cachefile", &[]),
    ("keymap", &[]),
    ("cli", &[]),
    ("diff", &[]),
    ("process", &["text"]),
    ("yaml", &["text"]),
    ("dump", &["model", "text", "yaml"]),
    // Sources and pure logic: no UI, no runtime.
    (
        "desired",
        &[
            "cachefile",
            "drift",
            "glob",
            "kinds",
            "model",
            "par",
            "path",
            "process",
            "selector",
            "text",
            "yaml",
        ],
    ),
    (
        "live",
        &[
            "cachefile",
            "dump",
            "model",
            "process",
            "text",
            "timefmt",
            "yaml",
        ],
    ),
    (
        "drift",
        &[
            "glob", "kinds", "model", "par", "path", "quantity", "selector", "timefmt",
        ],
    ),
    ("report", &["diff", "drift", "model", "text"]),
    ("watch", &["drift", "model", "path", "timefmt"]),
    ("history", &["drift", "model"]),
    ("sync", &["drift", "live", "model"]),
    ("config", &["glob", "keymap"]),
    ("fixture", &["config", "drift"]),
    (
        "sim",
        &[
            "dump", "model", "path", "quantity", "selector", "timefmt", "yaml",
        ],
    ),
    // The explorer's state and its drawing.
    (
        "app",
        &[
            "config", "desired", "diff", "drift", "keymap", "model", "path", "sync", "text",
            "timefmt", "ui",
        ],
    ),
    (
        "ui",
        &[
            "app", "diff", "drift", "keymap", "model", "path", "sync", "text",
        ],
    ),
    // The wiring, the commands (demo among them): knows everything.
    (
        "runtime",
        &[
            "app",
            "cachefile",
            "cli",
            "config",
            "desired",
            "drift",
            "fixture",
            "glob",
            "history",
            "keymap",
            "live",
            "model",
            "path",
            "process",
            "report",
            "sim",
            "sync",
            "text",
            "timefmt",
            "ui",
            "watch",
        ],
    ),
];

/// Edges allowed above that go against the layers, to be removed.
const AGAINST_THE_LAYERS: &[(&str, &str)] = &[
    ("app", "ui"), // app's snapshot tests draw with ui, which renders app's state
];

fn crate_refs(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for prefix in ["crate::", "kdrift_core::"] {
        for (i, _) in text.match_indices(prefix) {
            if prefix == "crate::" && text[..i].ends_with("_core::") {
                continue;
            }
            let rest = &text[i + prefix.len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
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

/// Module → the modules its files name, over the product's `src/`, kdrift-core's modules, and
/// kdrift-sim as the one module `sim` (its references to its own modules left out).
fn actual_edges() -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (dir, whole) in [
        ("src", None),
        ("crates/kdrift-core/src", None),
        ("crates/kdrift-sim/src", Some("sim")),
    ] {
        let src = root.join(dir);
        let mut files = Vec::new();
        sources(&src, &mut files);
        let own: BTreeSet<String> = files
            .iter()
            .map(|f| f.file_stem().unwrap().to_string_lossy().to_string())
            .collect();
        for file in files {
            let rel = file.strip_prefix(&src).unwrap();
            let module = match whole {
                Some(m) => m.to_string(),
                None => rel
                    .components()
                    .next()
                    .unwrap()
                    .as_os_str()
                    .to_string_lossy()
                    .trim_end_matches(".rs")
                    .to_string(),
            };
            if module == "lib" || module == "main" {
                continue;
            }
            let text = std::fs::read_to_string(&file).unwrap();
            let used = edges.entry(module.clone()).or_default();
            used.extend(
                crate_refs(&text)
                    .into_iter()
                    .filter(|u| *u != module && !(whole.is_some() && own.contains(u))),
            );
        }
    }
    edges
}

/// The kdrift crates each crate of the workspace may depend on.
const CRATES: &[(&str, &[&str])] = &[
    ("crates/kdrift-core", &[]),
    ("crates/kdrift-sim", &["kdrift-core"]),
    (".", &["kdrift-core", "kdrift-sim"]),
];

#[test]
fn crates_depend_only_on_the_crates_below_them() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (dir, allowed) in CRATES {
        let manifest = std::fs::read_to_string(root.join(dir).join("Cargo.toml")).unwrap();
        let mut section = String::new();
        let mut found = Vec::new();
        for line in manifest.lines() {
            let line = line.trim();
            if line.starts_with('[') {
                section = line.to_string();
            } else if section.contains("dependencies") {
                if let Some(name) = line
                    .split([' ', '='])
                    .next()
                    .filter(|n| n.starts_with("kdrift"))
                {
                    found.push(name.to_string());
                }
            }
        }
        let mut want: Vec<String> = allowed.iter().map(|s| s.to_string()).collect();
        found.sort();
        want.sort();
        assert_eq!(
            found, want,
            "{dir}/Cargo.toml depends on these kdrift crates"
        );
    }
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
