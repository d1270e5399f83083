//! The drift engine against a fixture per pitfall: `tests/fixtures/drift/<case>/` holds
//! `desired.yaml` (as in Git), `live.yaml` (as the API server returns it), `expected.yaml`
//! (key → status and drifted field paths, for every key reported) and optionally
//! `options.yaml` (selector, appliers, ignore rules). Every case must agree exactly.

mod support;

use kdrift::drift::{self, DriftOptions, IgnoreRule, LabelSelector, Tracking};
use kdrift::path::FieldPath;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

use kdrift::fixture::Expected;

fn options(dir: &Path) -> DriftOptions {
    let config = kdrift::config::from_str_over_defaults("", Path::new("default")).unwrap();
    let mut opts = DriftOptions {
        appliers: config.drift.appliers,
        ..DriftOptions::default()
    };
    let Ok(text) = std::fs::read_to_string(dir.join("options.yaml")) else {
        return opts;
    };
    let v: Value = serde_yaml::from_str(&text).unwrap();
    if let Some(sel) = v.get("selector").and_then(Value::as_str) {
        opts.tracking = Tracking {
            selector: Some(LabelSelector::parse(sel).unwrap()),
            ..Tracking::default()
        };
    }
    if let Some(app) = v.get("argocd_app").and_then(Value::as_str) {
        opts.tracking.argocd_app = Some(app.to_string());
    }
    if let Some(a) = v.get("appliers").and_then(Value::as_array) {
        opts.appliers = a.iter().map(|x| x.as_str().unwrap().to_string()).collect();
    }
    for rule in v
        .get("ignore")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let strings = |k: &str| -> Vec<String> {
            rule.get(k)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|x| x.as_str().unwrap().to_string())
                .collect()
        };
        opts.ignore.push(IgnoreRule {
            group: rule
                .get("group")
                .and_then(Value::as_str)
                .unwrap_or("")
                .into(),
            kind: rule["kind"].as_str().unwrap().into(),
            namespace: rule
                .get("namespace")
                .and_then(Value::as_str)
                .map(Into::into),
            name: rule.get("name").and_then(Value::as_str).map(Into::into),
            paths: strings("paths")
                .iter()
                .map(|p| FieldPath::parse(p).unwrap())
                .collect(),
            managers: strings("managers"),
        });
    }
    opts.show_secrets = v
        .get("show_secrets")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    opts
}

fn run_case(dir: &Path) -> Result<(), String> {
    let read = |f: &str| {
        std::fs::read_to_string(dir.join(f))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.join(f).display()))
    };
    let desired =
        kdrift::desired::from_texts(&[("desired.yaml".into(), read("desired.yaml"))], "default");
    let live =
        kdrift::live::file::parse(&read("live.yaml"), "live.yaml").map_err(|e| e.to_string())?;
    let expected: BTreeMap<String, Expected> =
        serde_yaml::from_str(&read("expected.yaml")).unwrap();
    let report = drift::build_report(
        &desired.objects,
        &desired.invalid,
        &live.objects,
        &options(dir),
    );
    let got = kdrift::fixture::verdicts_of_report(&report);
    let mut want = expected;
    for e in want.values_mut() {
        e.fields.sort();
    }
    if got == want {
        Ok(())
    } else {
        let detail: Vec<String> = report
            .entries
            .iter()
            .flat_map(|e| {
                e.fields.iter().map(move |f| {
                    format!(
                        "  {} {}: git {:?} live {:?}",
                        e.key, f.path, f.desired, f.live
                    )
                })
            })
            .collect();
        Err(format!(
            "expected {want:#?}\ngot {got:#?}\n{}",
            detail.join("\n")
        ))
    }
}

#[test]
fn every_drift_fixture_agrees() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/drift");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(
        dirs.len() >= 15,
        "expected the pitfall fixtures in {}",
        root.display()
    );
    let failures: Vec<String> = dirs
        .iter()
        .filter_map(|d| {
            run_case(d)
                .err()
                .map(|e| format!("== {}\n{e}", d.file_name().unwrap().to_string_lossy()))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases disagree:\n{}",
        failures.len(),
        dirs.len(),
        failures.join("\n")
    );
}

#[test]
fn comparing_an_object_with_itself_is_clean_for_every_fixture() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/drift");
    for dir in std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
    {
        let live = kdrift::live::file::parse(
            &std::fs::read_to_string(dir.join("live.yaml")).unwrap(),
            "live.yaml",
        )
        .unwrap();
        // Each live object as its own desired state (server fields dropped by normalisation).
        let desired: Vec<kdrift::model::DesiredObject> = live
            .objects
            .iter()
            .map(|l| kdrift::model::DesiredObject {
                key: l.key.clone(),
                api_version: l.api_version.clone(),
                object: l.object.clone(),
                source: Default::default(),
            })
            .collect();
        let report = drift::build_report(&desired, &[], &live.objects, &DriftOptions::default());
        for e in &report.entries {
            assert!(
                e.fields.is_empty(),
                "{}: {} compared with itself drifts: {:?}",
                dir.display(),
                e.key,
                e.fields
            );
        }
    }
}
