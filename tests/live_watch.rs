//! The live state kept current by watches, against sim over HTTP: a change made by kubectl
//! (or kube-rs where kubectl is missing) reaches the published view within a second, and the
//! watches survive dropped connections, 410 after compaction, bursts of 500s with latency, and
//! a restart of the server; a forbidden kind is reported as such and nothing else suffers.

mod support;

use kdrift::live::cluster;
use kdrift::live::watch::{self, ConnectionState};
use kdrift::sim::{self, SimOptions};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use support::{value_of, wait_view};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_keep_the_view_current_through_faults() {
    let handle = sim::start(SimOptions::default()).await.unwrap();
    handle.with_store(|s| {
        s.load(serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})).unwrap();
        s.load(serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "shop"}, "data": {"v": "0"}})).unwrap();
        s.load(serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "shop"}, "data": {"p": "eA=="}})).unwrap();
    });
    handle.faults().forbid_resource("secrets");
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kc");
    handle.write_kubeconfig(&kc).unwrap();
    let target = cluster::connect(Some(&kc), None).await.unwrap();
    let served = cluster::discover(&target).await.unwrap();
    let kinds = vec![
        served.get("", "ConfigMap").unwrap().clone(),
        served.get("", "Secret").unwrap().clone(),
    ];
    let namespaces: BTreeSet<String> = ["shop".to_string()].into();
    let mut live = watch::start(&target, &kinds, &namespaces, Duration::from_millis(50)).await;
    let mut views = support::Views::new(&mut live.views);
    wait_view(&mut views, "first list", Duration::from_secs(5), |v| {
        value_of(v, "settings").as_deref() == Some("0")
    })
    .await;
    wait_view(
        &mut views,
        "forbidden kind reported",
        Duration::from_secs(5),
        |v| {
            v.kinds.iter().any(|k| {
                k.kind == "Secret" && matches!(k.state, ConnectionState::Unreadable { .. })
            })
        },
    )
    .await;

    let kubectl = support::kubectl();
    let sim_url = handle.url.clone();
    let set = |value: &'static str| {
        let kc = kc.clone();
        let kubectl = kubectl.clone();
        let url = sim_url.clone();
        async move {
            match kubectl {
                Some(bin) => {
                    let out = tokio::task::spawn_blocking(move || {
                        std::process::Command::new(bin)
                            .arg("--kubeconfig")
                            .arg(&kc)
                            .arg("--cache-dir")
                            .arg(kc.with_extension("cache"))
                            .args([
                                "patch",
                                "configmap",
                                "settings",
                                "-n",
                                "shop",
                                "--type",
                                "merge",
                                "-p",
                                &format!(r#"{{"data":{{"v":"{value}"}}}}"#),
                            ])
                            .output()
                            .unwrap()
                    })
                    .await
                    .unwrap();
                    assert!(
                        out.status.success(),
                        "kubectl against {url}: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
                None => {
                    let client = cluster::connect(Some(&kc), None).await.unwrap().client;
                    let api: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
                        kube::Api::namespaced(client, "shop");
                    api.patch(
                        "settings",
                        &kube::api::PatchParams::default(),
                        &kube::api::Patch::Merge(serde_json::json!({"data": {"v": value}})),
                    )
                    .await
                    .unwrap();
                }
            }
        }
    };

    let started = Instant::now();
    set("1").await;
    let seen = wait_view(
        &mut views,
        "a kubectl change",
        Duration::from_secs(3),
        |v| value_of(v, "settings").as_deref() == Some("1"),
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?} (view {:?} after the write)",
        started.elapsed(),
        seen
    );
    let one_second = Duration::from_secs(1);
    assert!(
        seen < one_second,
        "the change reached the view {seen:?} after kubectl returned"
    );

    // Dropped connections.
    handle.faults().drop_watches();
    set("2").await;
    wait_view(
        &mut views,
        "after dropped watches",
        Duration::from_secs(10),
        |v| value_of(v, "settings").as_deref() == Some("2"),
    )
    .await;

    // 410: history compacted, then the watch is dropped and must relist.
    handle.compact();
    handle.faults().drop_watches();
    set("3").await;
    wait_view(&mut views, "after 410", Duration::from_secs(10), |v| {
        value_of(v, "settings").as_deref() == Some("3")
    })
    .await;

    // A burst of 500s with latency.
    handle.faults().set_errors(0.5, 500, None);
    handle.faults().set_latency(Duration::from_millis(100));
    handle.faults().drop_watches();
    tokio::time::sleep(Duration::from_millis(500)).await;
    handle.faults().clear();
    set("4").await;
    wait_view(&mut views, "after 500s", Duration::from_secs(15), |v| {
        value_of(v, "settings").as_deref() == Some("4")
    })
    .await;

    // A restart of the server on the same address, keeping its objects.
    let shared = handle.shared();
    let addr = handle.addr;
    handle.stop().await;
    let restarted = sim::start_with(
        SimOptions {
            listen: addr,
            ..SimOptions::default()
        },
        shared,
    )
    .await
    .unwrap();
    restarted.faults().forbid_resource("secrets");
    set("5").await;
    wait_view(
        &mut views,
        "after a restart",
        Duration::from_secs(20),
        |v| value_of(v, "settings").as_deref() == Some("5"),
    )
    .await;
    assert!(views
        .borrow()
        .kinds
        .iter()
        .any(|k| k.kind == "ConfigMap" && matches!(k.state, ConnectionState::Connected { .. })));
    drop(live);
    restarted.stop().await;
}

/// A kind of several pages (the watch's lists ask 500 at a time, and read one page while the
/// next is asked for) across namespaces: the first view holds every object once, the watch
/// then starts from the list's version (a change made after the list is seen, none is
/// lost), and a relist after a compaction drops what was deleted meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kind_of_many_pages_is_listed_whole_then_watched_from_its_version() {
    use kube::api::{Api, DeleteParams, Patch, PatchParams};
    let handle = sim::start(SimOptions::default()).await.unwrap();
    let names: BTreeSet<String> = (0..1234).map(|i| format!("cm-{i:04}")).collect();
    handle.with_store(|s| {
        for ns in ["alpha", "beta"] {
            s.load(serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})).unwrap();
        }
        for (i, name) in names.iter().enumerate() {
            let ns = if i % 3 == 0 { "alpha" } else { "beta" };
            s.load(serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, "data": {"v": "0"}})).unwrap();
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kc");
    handle.write_kubeconfig(&kc).unwrap();
    let target = cluster::connect(Some(&kc), None).await.unwrap();
    let served = cluster::discover(&target).await.unwrap();
    let kinds = vec![served.get("", "ConfigMap").unwrap().clone()];
    let mut live = watch::start(&target, &kinds, &BTreeSet::new(), Duration::from_millis(20)).await;
    let mut views = support::Views::new(&mut live.views);
    let of = |v: &support::Seen| -> BTreeSet<String> {
        v.objects
            .keys()
            .filter(|k| k.kind == "ConfigMap")
            .map(|k| k.name.clone())
            .collect()
    };
    wait_view(&mut views, "the whole list", Duration::from_secs(30), |v| {
        v.is_ready()
    })
    .await;
    // Ready means listed whole: never a part of the list as if it were all of it.
    assert_eq!(
        of(views.borrow()),
        names,
        "every object once, after one list"
    );
    assert_eq!(views.borrow().objects.len(), names.len());

    let api: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(target.client.clone(), "beta");
    api.patch(
        "cm-1232",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"data": {"v": "after"}})),
    )
    .await
    .unwrap();
    wait_view(
        &mut views,
        "a change after the list",
        Duration::from_secs(10),
        |v| value_of(v, "cm-1232").as_deref() == Some("after"),
    )
    .await;

    // Deleted while the watch is away, the history compacted: the relist (410) drops it.
    handle.faults().drop_watches();
    api.delete("cm-0001", &DeleteParams::default())
        .await
        .unwrap();
    handle.compact();
    let mut left = names.clone();
    left.remove("cm-0001");
    wait_view(&mut views, "the deletion", Duration::from_secs(15), |v| {
        of(v) == left && v.is_ready()
    })
    .await;
    assert_eq!(
        value_of(views.borrow(), "cm-1232").as_deref(),
        Some("after")
    );
    drop(live);
    handle.stop().await;
}
