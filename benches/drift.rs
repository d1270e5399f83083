//! Criterion benchmarks of the pure engine on 10,000 generated resources: normalise+compare
//! (the whole `build_report`), and, as the baseline measured in the same run, parsing the
//! same manifests' YAML. Run with `cargo bench --bench drift`.

use criterion::{criterion_group, criterion_main, Criterion};
use kdrift::drift;
use std::hint::black_box;

// The same allocator as the binary, so the figures are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod common;

fn bench(c: &mut Criterion) {
    let common::Objects {
        fx,
        desired,
        live,
        opts,
    } = common::objects(10_000);
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
