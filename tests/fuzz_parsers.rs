//! A fuzzing campaign for every parser kdrift owns, run as property tests (cargo-fuzz needs a
//! nightly toolchain and its own install, which CI does not have; these are not coverage
//! guided). Each target reads the committed seed corpus (`tests/fuzz-corpus/`), then inputs
//! made by mutating it (bytes flipped, inserted, removed, pieces spliced) and arbitrary text.
//! What must hold: no panic, no hang, bounded work; and where the fast YAML reader answers,
//! the full parser answers the same. `KDRIFT_FUZZ_CASES` raises the number of cases per target
//! (default 300) for a long campaign.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::path::Path;

fn corpus() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("the corpus folder")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    let seeds: Vec<Vec<u8>> = files
        .iter()
        .map(|p| std::fs::read(p).expect("a corpus file"))
        .collect();
    assert!(seeds.len() >= 10, "the corpus is committed");
    seeds
}

fn cases() -> u32 {
    std::env::var("KDRIFT_FUZZ_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(300)
}

#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Remove(usize, usize),
    Splice(usize, usize, usize),
}

/// A seed with a few edits, or arbitrary text.
fn input() -> impl Strategy<Value = Vec<u8>> {
    let seeds = corpus();
    let n = seeds.len();
    let tokens: Vec<&'static [u8]> = vec![
        b"\n",
        b": ",
        b"- ",
        b"&a ",
        b"*a",
        b"<<: ",
        b"[",
        b"]",
        b"{",
        b"}",
        b"'",
        b"\"",
        b"|",
        b">",
        b"#",
        b"!!str ",
        b"---\n",
        b"\t",
        b"\0",
        b"\x1b",
        b"\\",
        b",",
        b"=",
        b"!",
        b"k:{\"name\":\"x\"}",
        b"f:",
        b"in (",
        b")",
    ];
    let edit = prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
        (any::<usize>(), proptest::sample::select(tokens))
            .prop_map(|(i, t)| Edit::Insert(i, t.to_vec())),
        (any::<usize>(), 0usize..16).prop_map(|(i, l)| Edit::Remove(i, l)),
        (any::<usize>(), any::<usize>(), 0usize..64).prop_map(|(s, i, l)| Edit::Splice(s, i, l)),
    ];
    let mutated = (0..n, prop::collection::vec(edit, 0..8)).prop_map(move |(i, edits)| {
        let mut data = seeds[i].clone();
        for e in edits {
            let at = |x: usize, len: usize| if len == 0 { 0 } else { x % (len + 1) };
            match e {
                Edit::Flip(i, b) if !data.is_empty() => {
                    let i = i % data.len();
                    data[i] ^= b;
                }
                Edit::Flip(..) => {}
                Edit::Insert(i, t) => {
                    let i = at(i, data.len());
                    data.splice(i..i, t);
                }
                Edit::Remove(i, l) => {
                    let i = at(i, data.len());
                    let end = (i + l).min(data.len());
                    data.drain(i..end);
                }
                Edit::Splice(s, i, l) => {
                    let piece = &seeds[s % seeds.len()];
                    let from = at(i, piece.len());
                    let end = (from + l).min(piece.len());
                    let piece = piece[from..end].to_vec();
                    let to = at(i, data.len());
                    data.splice(to..to, piece);
                }
            }
        }
        data
    });
    prop_oneof![
        8 => mutated,
        1 => any::<String>().prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..256),
    ]
}

/// Runs `target` on every seed, then on `cases()` generated inputs, each within a time bound.
fn campaign(name: &str, target: impl Fn(&[u8])) {
    for seed in corpus() {
        target(&seed);
    }
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&input(), |data| {
            let started = std::time::Instant::now();
            target(&data);
            prop_assert!(
                started.elapsed() < std::time::Duration::from_secs(10),
                "{name}: {} ms on {:?}",
                started.elapsed().as_millis(),
                String::from_utf8_lossy(&data)
            );
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{name}: {e}"));
}

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

#[test]
fn fuzz_yaml_fast_reader_against_the_full_parser() {
    campaign("yaml", |data| {
        let text = text(data);
        for doc in kdrift::yaml::split_documents(&text) {
            if let Some(fast) = kdrift::yaml::parse_document_fast(doc.text) {
                let full = kdrift::yaml::parse_full(doc.text, doc.line);
                assert_eq!(Ok(fast), full, "the readers disagree on {:?}", doc.text);
            }
        }
        let _ = kdrift::yaml::parse_stream(&text);
        let _ = kdrift::desired::manifest::read_file(&text);
    });
}

#[test]
fn fuzz_live_file_reader() {
    campaign("live file", |data| {
        let _ = kdrift::live::file::parse(&text(data), "fuzz.yaml");
    });
}

#[test]
fn fuzz_field_paths() {
    campaign("field paths", |data| {
        for line in text(data).lines() {
            if let Ok(p) = kdrift::path::FieldPath::parse(line) {
                // What parses prints back to something that parses to the same path.
                let again = kdrift::path::FieldPath::parse(&p.to_string());
                assert_eq!(again.as_ref().ok(), Some(&p), "{line:?} → {p}");
            }
        }
    });
}

#[test]
fn fuzz_label_selectors() {
    campaign("label selectors", |data| {
        let object = serde_json::json!({"metadata": {"labels": {"app": "web", "env": "prod"}}});
        for line in text(data).lines() {
            if let Ok(s) = kdrift::drift::LabelSelector::parse(line) {
                let _ = s.matches(&object);
            }
        }
    });
}

#[test]
fn fuzz_fields_v1_ownership() {
    campaign("FieldsV1", |data| {
        let text = text(data);
        for value in kdrift::yaml::parse_stream(&text).into_iter().flatten() {
            let live = value.0;
            let own = kdrift::drift::ownership::Ownership::from_live(&live, &["kdrift".into()]);
            let mut cursors = own.root();
            for seg in ["metadata", "data", "spec", "labels"] {
                cursors = kdrift::drift::ownership::descend(
                    &cursors,
                    &kdrift::path::Segment::Field(seg.into()),
                );
            }
            let _ = kdrift::drift::ownership::descend_value(&cursors, &live);
        }
    });
}

#[test]
fn fuzz_kubeconfig() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    campaign("kubeconfig", |data| {
        std::fs::write(&path, data).unwrap();
        let (context, _) = kdrift::live::kubeconfig::context_namespace(Some(&path), None);
        if let Some(c) = context {
            let _ = kdrift::live::kubeconfig::context_server(Some(&path), &c);
            let _ = kdrift::live::kubeconfig::context_user(Some(&path), &c);
        }
    });
}
