//! sim at scale (run with `cargo bench --bench sim`):
//! 1. 10,000 objects loaded from a generated fixture; every type listed across all
//!    namespaces through kube-rs (median of 9), against the baseline of serialising the same
//!    objects to JSON in-process in the same run;
//! 2. 50 concurrent watches while 1,000 writes arrive at 1,000 per second: every watch must
//!    see every write; reports how long after the last write the slowest watch had it.

use futures::StreamExt;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::ApiResource;
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let fx = kdrift::fixture::generate(10_000, 10, 1);
    let live_path = dir.path().join("live.json");
    std::fs::write(
        &live_path,
        serde_json::to_string(
            &serde_json::json!({"apiVersion": "v1", "kind": "List", "items": fx.live}),
        )
        .unwrap(),
    )
    .unwrap();
    let t = Instant::now();
    let handle = kdrift::sim::start(kdrift::sim::SimOptions {
        load: vec![live_path],
        ..Default::default()
    })
    .await
    .unwrap();
    println!(
        "loaded {} objects in {:.0} ms",
        fx.live.len(),
        t.elapsed().as_secs_f64() * 1000.0
    );
    let kc = Kubeconfig::from_yaml(&handle.kubeconfig).unwrap();
    let client = kube::Client::try_from(
        kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
            .await
            .unwrap(),
    )
    .unwrap();
    let types = [
        ("", "v1", "Namespace", "namespaces"),
        ("", "v1", "ConfigMap", "configmaps"),
        ("", "v1", "Secret", "secrets"),
        ("", "v1", "Service", "services"),
        ("", "v1", "ServiceAccount", "serviceaccounts"),
        ("apps", "v1", "Deployment", "deployments"),
    ];
    let apis: Vec<Api<DynamicObject>> = types
        .iter()
        .map(|(g, v, k, p)| {
            Api::all_with(
                client.clone(),
                &ApiResource::from_gvk_with_plural(&kube::api::GroupVersionKind::gvk(g, v, k), p),
            )
        })
        .collect();
    let mut list_ms = Vec::new();
    let mut raw_ms = Vec::new();
    let mut baseline_ms = Vec::new();
    let mut count = 0;
    for _ in 0..9 {
        let t = Instant::now();
        let mut bytes = 0;
        for (g, v, _, p) in &types {
            let url = if g.is_empty() {
                format!("/api/{v}/{p}")
            } else {
                format!("/apis/{g}/{v}/{p}")
            };
            bytes += client
                .request_text(http::Request::get(url).body(Vec::new()).unwrap())
                .await
                .unwrap()
                .len();
        }
        std::hint::black_box(bytes);
        raw_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        count = 0;
        for api in &apis {
            count += api.list(&ListParams::default()).await.unwrap().items.len();
        }
        list_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        let bytes = serde_json::to_vec(&fx.live).unwrap();
        std::hint::black_box(bytes);
        baseline_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "list all {count} objects: over HTTP (response received) median {:.1} ms; decoded by kube-rs median {:.1} ms; baseline, serialising them in-process: median {:.1} ms",
        median(raw_ms),
        median(list_ms),
        median(baseline_ms)
    );

    // 50 watches, 1,000 writes at 1,000/s.
    let cms = Api::<DynamicObject>::all_with(
        client.clone(),
        &ApiResource::from_gvk_with_plural(
            &kube::api::GroupVersionKind::gvk("", "v1", "ConfigMap"),
            "configmaps",
        ),
    );
    let rv = cms
        .list(&ListParams::default().limit(1))
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let writes = 1000usize;
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
    for _ in 0..50 {
        let api = cms.clone();
        let rv = rv.clone();
        let tx = done_tx.clone();
        tokio::spawn(async move {
            let mut stream = Box::pin(
                api.watch(&WatchParams::default().timeout(60), &rv)
                    .await
                    .unwrap(),
            );
            let mut seen = 0usize;
            while let Some(ev) = stream.next().await {
                if let Ok(WatchEvent::Modified(_)) = ev {
                    seen += 1;
                    if seen == writes {
                        let _ = tx.send(Instant::now());
                        return;
                    }
                }
            }
            let _ = tx.send(Instant::now() + Duration::from_secs(3600));
        });
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let targets: Vec<(String, String)> = fx
        .live
        .iter()
        .filter(|o| o["kind"] == "ConfigMap")
        .take(100)
        .map(|o| {
            (
                o["metadata"]["namespace"].as_str().unwrap().to_string(),
                o["metadata"]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let mut sent = 0usize;
    let mut pending = Vec::new();
    while sent < writes {
        tick.tick().await;
        for _ in 0..10 {
            let (ns, name) = targets[sent % targets.len()].clone();
            let api = Api::<DynamicObject>::namespaced_with(
                client.clone(),
                &ns,
                &ApiResource::from_gvk_with_plural(
                    &kube::api::GroupVersionKind::gvk("", "v1", "ConfigMap"),
                    "configmaps",
                ),
            );
            let n = sent;
            pending.push(tokio::spawn(async move {
                api.patch(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(serde_json::json!({"data": {"bench": n.to_string()}})),
                )
                .await
                .unwrap();
            }));
            sent += 1;
        }
    }
    for p in pending {
        p.await.unwrap();
    }
    let last_write = Instant::now();
    let write_secs = last_write.duration_since(start).as_secs_f64();
    let mut lags = Vec::new();
    for _ in 0..50 {
        let at = done_rx.recv().await.unwrap();
        lags.push(at.saturating_duration_since(last_write).as_secs_f64() * 1000.0);
    }
    let slowest = lags.iter().cloned().fold(0.0, f64::max);
    println!(
        "50 watches, {writes} writes in {write_secs:.2} s ({:.0}/s): every watch saw every write; slowest watch {:.1} ms after the last write (median {:.1} ms)",
        writes as f64 / write_secs,
        slowest,
        median(lags)
    );
    handle.stop().await;
}
