//! `kdrift diff` against a cluster (sim over HTTP), as the binary: the first report from a sim
//! preloaded with a generated fixture agrees with the fixture's expectations in local and
//! server mode; forbidden kinds and kinds the cluster does not serve degrade only their rows;
//! TLS with a token, exec credential plugins and merged KUBECONFIG files work; an unreachable
//! cluster is named with its context and server.

mod support;

use kdrift::sim::{self, SimOptions};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use support::{stderr, stdout, TestRepo};

fn kdrift_with_env(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kdrift"));
    cmd.current_dir(cwd)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("KUBECONFIG")
        .env("HOME", cwd);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("kdrift runs")
}

fn report(out: &std::process::Output) -> BTreeMap<String, kdrift::fixture::Expected> {
    let v: Value = serde_json::from_str(&stdout(out))
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(out), stderr(out)));
    kdrift::fixture::verdicts_of_json(&v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_report_from_sim_agrees_with_the_fixture_in_both_modes() {
    let dir = tempfile::tempdir().unwrap();
    let fx_dir = dir.path().join("fx");
    let summary = kdrift::fixture::write(&kdrift::fixture::FixtureOptions {
        out: fx_dir.clone(),
        resources: 1000,
        namespaces: 10,
        seed: 3,
    })
    .unwrap();
    assert!(summary.contains("wrote"));
    let handle = sim::start(SimOptions {
        load: vec![fx_dir.join("live.json")],
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let kc = dir.path().join("kubeconfig");
    handle.write_kubeconfig(&kc).unwrap();
    let expected: BTreeMap<String, kdrift::fixture::Expected> =
        serde_json::from_str(&std::fs::read_to_string(fx_dir.join("expected.json")).unwrap())
            .unwrap();
    for mode in ["local", "server"] {
        let kcs = kc.display().to_string();
        let fx = fx_dir.clone();
        let out = tokio::task::spawn_blocking(move || {
            let args = [
                "diff",
                "--kubeconfig",
                &kcs,
                "--repo",
                "repo",
                "-l",
                "app.kubernetes.io/part-of=fixture",
                "-o",
                "json",
                "--diff-mode",
                mode,
            ];
            kdrift_with_env(&args, &fx, &[])
        })
        .await
        .unwrap();
        assert_eq!(out.status.code(), Some(1), "{mode}: {}", stderr(&out));
        let got = report(&out);
        let wrong: Vec<_> = expected
            .iter()
            .filter(|(k, e)| got.get(*k) != Some(e))
            .take(5)
            .collect();
        assert!(wrong.is_empty(), "{mode}: {wrong:#?}");
        assert_eq!(got.len(), expected.len(), "{mode}");
        let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(v["context"], "sim");
        assert_eq!(v["source"].as_str().unwrap(), handle.url);
    }
    handle.stop().await;
}

const APP: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shop}\ndata: {a: \"1\"}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: shop}\nstringData: {password: x}\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: shop}\n---\napiVersion: other.io/v1\nkind: Gadget\nmetadata: {name: g, namespace: shop}\n---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}\nspec:\n  group: example.com\n  scope: Namespaced\n  names: {kind: Widget, plural: widgets}\n  versions: [{name: v1, served: true, storage: true}]\n";

async fn sim_with_shop(opts: SimOptions) -> sim::SimHandle {
    let handle = sim::start(opts).await.unwrap();
    handle.with_store(|s| {
        s.load(serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})).unwrap();
        s.load(serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "shop"}, "data": {"a": "2"}})).unwrap();
        s.load(serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "shop"}, "data": {"password": "eA=="}})).unwrap();
    });
    handle
}

/// The repository of `APP` and a sim serving the shop, with its kubeconfig.
async fn shop_app() -> (TestRepo, sim::SimHandle, std::path::PathBuf) {
    let repo = TestRepo::new();
    repo.write("app.yaml", APP);
    repo.commit("app");
    let handle = sim_with_shop(SimOptions::default()).await;
    let kc = repo.path().join(".git").join("kc");
    handle.write_kubeconfig(&kc).unwrap();
    (repo, handle, kc)
}

/// A cached discovery only starts the lists early: discovery is asked beside them, and a cache
/// that is wrong about every kind (another server once at the same address: wrong versions,
/// wrong plurals, wrong scopes, kinds it lacks) changes nothing in the report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_discovery_cache_never_changes_a_verdict() {
    let (repo, handle, kc) = shop_app().await;
    let args = ["diff", "-o", "json", "--timings"];
    let first = support::kdrift_on(repo.path(), &kc, &args).await;
    assert_eq!(first.status.code(), Some(1), "{}", stderr(&first));
    assert!(
        stderr(&first).contains("connect+discover"),
        "{}",
        stderr(&first)
    );
    let cache = kdrift::live::cluster::discovery_file(
        &repo.path().join(".cache").join("kdrift"),
        &handle.url,
    );
    let mut doc: Value = serde_json::from_slice(&std::fs::read(&cache).unwrap()).unwrap();
    let kinds = doc["kinds"].as_array_mut().unwrap();
    assert!(kinds.len() > 10, "{kinds:?}");
    // Every kind at a version and plural the server does not serve, in the other scope, and
    // ConfigMaps forgotten.
    kinds.retain(|k| k[0]["kind"] != "ConfigMap");
    for k in kinds.iter_mut() {
        k[0]["version"] = "v9".into();
        let group = k[0]["group"].as_str().unwrap().to_string();
        k[0]["api_version"] = if group.is_empty() {
            "v9".into()
        } else {
            format!("{group}/v9").into()
        };
        k[0]["plural"] = "nothings".into();
        k[1] = Value::Bool(!k[1].as_bool().unwrap());
    }
    std::fs::write(&cache, serde_json::to_vec(&doc).unwrap()).unwrap();
    let second = support::kdrift_on(repo.path(), &kc, &args).await;
    assert!(
        stderr(&second).contains("discovery cached"),
        "the cache was used: {}",
        stderr(&second)
    );
    assert_eq!(stdout(&first), stdout(&second));
    handle.stop().await;
}

/// A server that answers a share of requests with 429 (API Priority and Fairness shedding
/// load) slows kdrift down and changes nothing else: lists and dry runs are asked again after
/// a backoff, and the dry runs' concurrency halves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_requests_are_asked_again_in_both_modes() {
    let (repo, handle, kc) = shop_app().await;
    for mode in ["local", "server"] {
        let args = ["diff", "-o", "json", "--diff-mode", mode];
        handle.faults().clear();
        let calm = support::kdrift_on(repo.path(), &kc, &args).await;
        assert_eq!(calm.status.code(), Some(1), "{}", stderr(&calm));
        // A quarter of the answers are 429: six in a row for one request (what gives up) has
        // a chance of 1 in 4,096 per request.
        handle.faults().set_errors(0.25, 429, None);
        let busy = support::kdrift_on(repo.path(), &kc, &args).await;
        handle.faults().clear();
        assert_eq!(busy.status.code(), Some(1), "{mode}: {}", stderr(&busy));
        assert_eq!(stdout(&calm), stdout(&busy), "{mode}");
    }
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_and_unserved_kinds_degrade_only_their_rows() {
    let repo = TestRepo::new();
    repo.write("app.yaml", APP);
    repo.commit("app");
    let handle = sim_with_shop(SimOptions::default()).await;
    handle.faults().forbid_resource("secrets");
    let kc = repo.path().join(".git").join("kc");
    handle.write_kubeconfig(&kc).unwrap();
    let path = repo.path().to_path_buf();
    let kcs = kc.display().to_string();
    let out = tokio::task::spawn_blocking(move || {
        kdrift_with_env(&["diff", "--kubeconfig", &kcs, "-o", "json"], &path, &[])
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let row = |name: &str| {
        v["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no row {name}"))
    };
    assert_eq!(
        row("settings")["status"],
        "out-of-sync",
        "other kinds still work"
    );
    assert_eq!(row("db")["status"], "unknown");
    assert!(
        row("db")["reason"]
            .as_str()
            .unwrap()
            .starts_with("forbidden"),
        "{}",
        row("db")
    );
    assert_eq!(row("g")["status"], "unknown");
    assert!(row("g")["reason"].as_str().unwrap().contains("not served"));
    assert_eq!(row("w")["status"], "missing");
    assert!(
        row("w")["reason"]
            .as_str()
            .unwrap()
            .contains("widgets.example.com is not installed"),
        "{}",
        row("w")
    );
    handle.stop().await;
}

/// The run found no drift (exit 0), or fails showing what it printed.
fn assert_clean(out: std::process::Output, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what}: {}{}",
        stdout(&out),
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_token_exec_plugin_and_merged_kubeconfigs() {
    let repo = TestRepo::new();
    repo.write("app.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shop}\ndata: {a: \"2\"}\n");
    repo.commit("app");
    let handle = sim_with_shop(SimOptions {
        tls: true,
        ..SimOptions::default()
    })
    .await;
    let git = repo.path().join(".git");
    let kc = git.join("tls.kubeconfig");
    handle.write_kubeconfig(&kc).unwrap();
    let path = repo.path().to_path_buf();
    let run = |args: Vec<String>, env: Vec<(String, String)>| {
        let path = path.clone();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let env: Vec<(&str, &str)> =
                env.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            kdrift_with_env(&args, &path, &env)
        })
    };
    // TLS with the CA and token sim wrote.
    assert_clean(
        run(
            vec![
                "diff".into(),
                "--kubeconfig".into(),
                kc.display().to_string(),
            ],
            vec![],
        )
        .await
        .unwrap(),
        "TLS with a token",
    );

    // An exec credential plugin that hands out the token.
    let token = handle
        .kubeconfig
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .unwrap()
        .to_string();
    let plugin = git.join("cred-plugin.sh");
    std::fs::write(&plugin, format!("#!/bin/sh\necho '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{token}\"}}}}'\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let exec_kc = handle.kubeconfig.replace(&format!("token: {token}"), &format!("exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      interactiveMode: Never", plugin.display()));
    let exec_path = git.join("exec.kubeconfig");
    std::fs::write(&exec_path, &exec_kc).unwrap();
    assert_clean(
        run(
            vec![
                "diff".into(),
                "--kubeconfig".into(),
                exec_path.display().to_string(),
            ],
            vec![],
        )
        .await
        .unwrap(),
        "exec plugin",
    );

    // KUBECONFIG with two files: contexts from the second, current-context from the first.
    let first = git.join("first.kubeconfig");
    std::fs::write(&first, "apiVersion: v1\nkind: Config\ncurrent-context: sim\nclusters: []\ncontexts: []\nusers: []\n").unwrap();
    let joined = format!("{}:{}", first.display(), kc.display());
    let out = run(
        vec!["diff".into(), "-o".into(), "json".into()],
        vec![("KUBECONFIG".into(), joined)],
    );
    assert_clean(out.await.unwrap(), "merged KUBECONFIG");

    // A wrong token: 401, named as such with context and server.
    let bad = git.join("bad.kubeconfig");
    std::fs::write(&bad, handle.kubeconfig.replace(&token, "wrong")).unwrap();
    let out = run(
        vec![
            "diff".into(),
            "--kubeconfig".into(),
            bad.display().to_string(),
        ],
        vec![],
    )
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("\"sim\"") && err.contains(&handle.url) && err.contains("401"),
        "{err}"
    );
    handle.stop().await;
}

#[test]
fn unreachable_cluster_names_context_server_and_cause() {
    let repo = TestRepo::new();
    repo.write(
        "app.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
    );
    repo.commit("app");
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let kc = repo.path().join(".git").join("kc");
    std::fs::write(&kc, format!("apiVersion: v1\nkind: Config\nclusters:\n- name: prod\n  cluster: {{server: \"http://127.0.0.1:{port}\"}}\ncontexts:\n- name: prod-eu\n  context: {{cluster: prod, user: u}}\ncurrent-context: prod-eu\nusers:\n- name: u\n  user: {{}}\n")).unwrap();
    let out = kdrift_with_env(
        &["diff", "--kubeconfig", kc.to_str().unwrap()],
        repo.path(),
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("\"prod-eu\"")
            && err.contains(&format!("127.0.0.1:{port}"))
            && err.contains("unreachable"),
        "{err}"
    );
    let out = kdrift_with_env(
        &[
            "diff",
            "--kubeconfig",
            kc.to_str().unwrap(),
            "--context",
            "nope",
        ],
        repo.path(),
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no context \"nope\""),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_mode_dry_runs_are_cached_by_manifest_and_resource_version() {
    use kdrift::live::{cluster, server_diff};
    let handle = sim_with_shop(SimOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kc");
    handle.write_kubeconfig(&kc).unwrap();
    let target = cluster::connect(Some(&kc), None).await.unwrap();
    let served = cluster::discover(&target).await.unwrap();
    let snap = kdrift::desired::from_texts(&[("a.yaml".into(), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shop}\ndata: {a: \"9\"}\n".into())], "default");
    let d = &snap.objects[0];
    let cache = server_diff::DryRunCache::default();
    let first =
        server_diff::dry_run_all(&target, &served, &[(d, "100".into())], "kdrift", 4, &cache).await;
    assert_eq!(first[&d.key].as_ref().unwrap()["data"]["a"], "9");
    assert_eq!(cache.len(), 1);
    // The server now refuses everything: a cached pair is still answered, a new
    // resourceVersion asks again (and fails).
    handle.faults().set_errors(1.0, 500, None);
    let again =
        server_diff::dry_run_all(&target, &served, &[(d, "100".into())], "kdrift", 4, &cache).await;
    assert!(again[&d.key].is_ok(), "answered from the cache");
    let moved =
        server_diff::dry_run_all(&target, &served, &[(d, "101".into())], "kdrift", 4, &cache).await;
    assert!(
        moved[&d.key].is_err(),
        "a new live resourceVersion is asked again"
    );
    handle.stop().await;
}

/// sim serving the objects of `live` on a free port, and its kubeconfig in `dir`.
async fn sim_serving(dir: &Path, live: std::path::PathBuf) -> (sim::SimHandle, std::path::PathBuf) {
    let handle = sim::start(SimOptions {
        load: vec![live],
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let kc = dir.join("kc");
    handle.write_kubeconfig(&kc).unwrap();
    (handle, kc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kinds_served_only_at_a_version_the_group_does_not_prefer_are_read() {
    // monitoring.coreos.com prefers v1, and AlertmanagerConfig is served at v1alpha1 only.
    let dir = tempfile::tempdir().unwrap();
    let crd = |kind: &str, plural: &str, versions: &str| {
        format!("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {{name: {plural}.monitoring.coreos.com}}\nspec:\n  group: monitoring.coreos.com\n  scope: Namespaced\n  names: {{kind: {kind}, plural: {plural}}}\n  versions: {versions}\n")
    };
    let live = dir.path().join("live.yaml");
    std::fs::write(
        &live,
        format!(
            "{}---\n{}---\napiVersion: monitoring.coreos.com/v1alpha1\nkind: AlertmanagerConfig\nmetadata: {{name: route, namespace: default}}\nspec: {{receivers: [{{name: x}}]}}\n",
            crd("PrometheusRule", "prometheusrules", "[{name: v1, served: true, storage: true}]"),
            crd("AlertmanagerConfig", "alertmanagerconfigs", "[{name: v1alpha1, served: true, storage: true}]"),
        ),
    )
    .unwrap();
    let (handle, kc) = sim_serving(dir.path(), live).await;
    let target = kdrift::live::cluster::connect(Some(&kc), None)
        .await
        .unwrap();
    let served = kdrift::live::cluster::discover(&target).await.unwrap();
    let (ar, namespaced) = served
        .get("monitoring.coreos.com", "AlertmanagerConfig")
        .expect("a kind served at another version than the preferred one is discovered");
    assert_eq!(ar.version, "v1alpha1");
    assert!(namespaced);
    assert_eq!(
        served
            .get("monitoring.coreos.com", "PrometheusRule")
            .unwrap()
            .0
            .version,
        "v1"
    );
    // And the report reads it: synced, not unknown or missing.
    let repo = TestRepo::new();
    repo.write(
        "amc.yaml",
        "apiVersion: monitoring.coreos.com/v1alpha1\nkind: AlertmanagerConfig\nmetadata: {name: route, namespace: default}\nspec: {receivers: [{name: x}]}\n",
    );
    repo.commit("amc");
    let out = support::kdrift_on(repo.path(), &kc, &["diff", "-o", "json"]).await;
    let r = report(&out);
    assert_eq!(
        r["monitoring.coreos.com/AlertmanagerConfig/default/route"].status,
        "synced",
        "{}",
        stdout(&out)
    );
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_mode_names_keyed_items_of_custom_resources_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: rules.example.com}\nspec:\n  group: example.com\n  scope: Namespaced\n  names: {kind: Rule, plural: rules}\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        type: object\n        properties:\n          spec:\n            type: object\n            properties:\n              groups:\n                type: array\n                x-kubernetes-list-type: map\n                x-kubernetes-list-map-keys: [name]\n                items:\n                  type: object\n                  properties:\n                    name: {type: string}\n                    expr: {type: string}\n";
    let rule = |expr: &str| {
        format!("apiVersion: example.com/v1\nkind: Rule\nmetadata: {{name: r, namespace: default}}\nspec:\n  groups:\n  - {{name: a, expr: \"up\"}}\n  - {{name: b, expr: \"{expr}\"}}\n")
    };
    let live = dir.path().join("live.yaml");
    std::fs::write(&live, format!("{crd}---\n{}", rule("old"))).unwrap();
    let (handle, kc) = sim_serving(dir.path(), live).await;
    let repo = TestRepo::new();
    repo.write("crd.yaml", crd);
    repo.write("rule.yaml", &rule("new"));
    repo.commit("rule");
    for mode in ["local", "server"] {
        let out = support::kdrift_on(
            repo.path(),
            &kc,
            &["diff", "--diff-mode", mode, "-o", "json"],
        )
        .await;
        let r = report(&out);
        let e = &r["example.com/Rule/default/r"];
        assert_eq!(e.status, "out-of-sync", "{mode}: {}", stdout(&out));
        assert_eq!(
            e.fields,
            ["spec.groups[name=b].expr"],
            "{mode}: {}",
            stdout(&out)
        );
    }
    handle.stop().await;
}
