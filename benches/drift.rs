//! Criterion benchmarks of the pure engine on 10,000 generated resources: normalise+compare
//! (the whole `build_report`), and, as the baseline measured in the same run, parsing the
//! same manifests' YAML. Run with `cargo bench --bench drift`.

use criterion::{criterion_group, criterion_main, Criterion};
use kdrift::drift::{self, DriftOptions, LabelSelector, Tracking};
use kdrift::model::{split_api_version, DesiredObject, LiveObject, ResourceKey, SourceLocation};
use serde_json::Value;
use std::hint::black_box;

// The same allocator as the binary, so the figures are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn key(v: &Value) -> (String, ResourceKey) {
    let api = v["apiVersion"].as_str().unwrap_or("").to_string();
    let group = split_api_version(&api).0.to_string();
    let meta = &v["metadata"];
    let k = ResourceKey::new(
        &group,
        v["kind"].as_str().unwrap_or(""),
        meta["namespace"].as_str().unwrap_or(""),
        meta["name"].as_str().unwrap_or(""),
    );
    (api, k)
}

fn bench(c: &mut Criterion) {
    let fx = kdrift::fixture::generate(10_000, 10, 1);
    let desired: Vec<DesiredObject> = fx
        .files
        .iter()
        .flat_map(|(file, objs)| objs.iter().map(move |o| (file, o)))
        .map(|(file, o)| {
            let (api_version, key) = key(o);
            DesiredObject {
                key,
                api_version,
                object: o.clone(),
                source: SourceLocation {
                    file: file.clone(),
                    line: None,
                },
            }
        })
        .collect();
    let live: Vec<LiveObject> = fx
        .live
        .iter()
        .map(|o| {
            let (api_version, key) = key(o);
            LiveObject {
                key,
                api_version,
                object: o.clone(),
            }
        })
        .collect();
    let config =
        kdrift::config::from_str_over_defaults("", std::path::Path::new("default")).unwrap();
    let opts = DriftOptions {
        appliers: config.drift.appliers,
        tracking: Tracking {
            selector: Some(LabelSelector::parse("app.kubernetes.io/part-of=fixture").unwrap()),
            argocd_app: None,
        },
        ..DriftOptions::default()
    };
    let yaml: Vec<String> = fx
        .files
        .values()
        .map(|objs| {
            objs.iter()
                .map(|o| format!("---\n{}", serde_yaml::to_string(o).unwrap()))
                .collect()
        })
        .collect();

    let mut group = c.benchmark_group("10k-resources");
    group.sample_size(10);
    group.bench_function("normalise+compare (build_report)", |b| {
        b.iter(|| black_box(drift::build_report(&desired, &[], &live, &opts)))
    });
    group.bench_function("baseline: parse the manifests' YAML", |b| {
        b.iter(|| {
            for text in &yaml {
                black_box(kdrift::desired::manifest::read_file(text));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
