//! The fleet, headless: one repository on two clusters (two sims in this process) with
//! different drift, side by side in one report; one cluster going down and coming back
//! changes only its own section; commands that act on one cluster refuse several.

mod support;

use serde_json::{json, Value};
use support::{stderr, stdout, TestRepo};

/// One kubeconfig holding each sim as its own context (cluster, context and user named
/// after it).
fn merged_kubeconfig(sims: &[(&str, &str)]) -> String {
    let mut out = json!({"apiVersion": "v1", "kind": "Config", "clusters": [], "contexts": [], "users": [], "current-context": sims[0].0});
    for (name, text) in sims {
        let v: Value = serde_yaml::from_str(text).unwrap();
        let mut cluster = v["clusters"][0].clone();
        cluster["name"] = json!(name);
        let mut context = v["contexts"][0].clone();
        context["name"] = json!(name);
        context["context"]["cluster"] = json!(name);
        context["context"]["user"] = json!(name);
        let mut user = v["users"][0].clone();
        user["name"] = json!(name);
        out["clusters"].as_array_mut().unwrap().push(cluster);
        out["contexts"].as_array_mut().unwrap().push(context);
        out["users"].as_array_mut().unwrap().push(user);
    }
    serde_yaml::to_string(&out).unwrap()
}

/// Two sims, `dev` and `prod`, and one kubeconfig naming both (in the returned folder).
async fn two_sims() -> (
    kdrift::sim::SimHandle,
    kdrift::sim::SimHandle,
    tempfile::TempDir,
    std::path::PathBuf,
) {
    let dev = kdrift::sim::start(kdrift::sim::SimOptions::default())
        .await
        .unwrap();
    let prod = kdrift::sim::start(kdrift::sim::SimOptions::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    std::fs::write(
        &kc,
        merged_kubeconfig(&[("dev", &dev.kubeconfig), ("prod", &prod.kubeconfig)]),
    )
    .unwrap();
    (dev, prod, dir, kc)
}

/// `kubectl edit` of ConfigMap shop/settings on `context`: data.level becomes debug.
async fn edit_by_hand(kc: &std::path::Path, context: &str) {
    edit_by_hand_in(kc, context, "shop").await
}

/// `kubectl edit` of ConfigMap `ns`/settings on `context`: data.level becomes debug.
async fn edit_by_hand_in(kc: &std::path::Path, context: &str, ns: &str) {
    let client = kdrift::live::cluster::connect(Some(kc), Some(context))
        .await
        .unwrap()
        .client;
    let cms: kube::Api<k8s_openapi::api::core::v1::ConfigMap> = kube::Api::namespaced(client, ns);
    cms.patch(
        "settings",
        &kube::api::PatchParams {
            field_manager: Some("kubectl-edit".into()),
            ..Default::default()
        },
        &kube::api::Patch::Merge(json!({"data": {"level": "debug"}})),
    )
    .await
    .unwrap();
}

/// Writes `text` as kdrift's configuration beside the kubeconfig; its path, for --config.
fn write_config(kc: &std::path::Path, text: &str) -> String {
    let config = kc.parent().unwrap().join("kdrift.yaml");
    std::fs::write(&config, text).unwrap();
    config.display().to_string()
}

async fn run(repo: &TestRepo, kc: &std::path::Path, args: &[&str]) -> std::process::Output {
    let mut cmd = support::kdrift_cmd(repo.path());
    cmd.args(args).arg("--kubeconfig").arg(kc);
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clusters_side_by_side_and_one_going_down() {
    let (dev, prod, _dir, kc) = two_sims().await;
    let repo = TestRepo::new();
    repo.write(
        "base/ns.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n",
    );
    for env in ["dev", "prod"] {
        repo.write(
            &format!("overlays/{env}/settings.yaml"),
            &format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: shop\ndata:\n  env: {env}\n  level: info\n"),
        );
    }
    repo.commit("two environments");
    // Each cluster gets its own overlay and the base.
    for env in ["dev", "prod"] {
        let out = run(
            &repo,
            &kc,
            &[
                "sync",
                "--yes",
                "--context",
                env,
                "--path",
                "base",
                "--path",
                &format!("overlays/{env}"),
                "/Namespace//shop",
                "/ConfigMap/shop/settings",
            ],
        )
        .await;
        support::assert_exit(&out, 0);
    }
    // Someone edits prod by hand.
    edit_by_hand(&kc, "prod").await;

    let targets = [
        "--target",
        "dev=dev:base,overlays/dev",
        "--target",
        "prod=prod:base,overlays/prod",
    ];
    let mut args = vec!["diff", "--no-pager"];
    args.extend(targets);
    let out = run(&repo, &kc, &args).await;
    support::assert_exit(&out, 1);
    let text = stdout(&out);
    for line in [
        "=== target dev · context dev",
        "=== target prod · context prod",
        "out-of-sync: /ConfigMap/shop/settings",
        "~ data.level: git info | live debug",
        "fleet: 2 targets, not clean: prod",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    let summary: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("fleet:"))
        .collect();
    assert!(summary[1].starts_with("target"), "{summary:?}");
    let row = |name: &str| {
        summary
            .iter()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in {summary:?}"))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        row("dev"),
        ["dev", "dev", "2", "0", "0", "0", "0", "0", "clean"]
    );
    assert_eq!(
        row("prod"),
        ["prod", "prod", "1", "1", "0", "0", "0", "0", "drifted"]
    );

    // JSON: a `targets` array, each with its status and report.
    let mut args = vec!["diff", "-o", "json"];
    args.extend(targets);
    let out = run(&repo, &kc, &args).await;
    support::assert_exit(&out, 1);
    let v: Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&out), stderr(&out)));
    assert_eq!(v["targets"][0]["name"], "dev");
    assert_eq!(v["targets"][0]["status"], "clean");
    assert_eq!(v["targets"][1]["status"], "drifted");
    assert_eq!(
        v["targets"][1]["report"]["summary"]["out_of_sync"], 1,
        "{v:#}"
    );

    // dev goes down: its section says so, prod's is unchanged, the exit is the worst (2).
    let dev_url = dev.url.clone();
    dev.stop().await;
    let mut args = vec!["diff", "--no-pager", "--request-timeout", "3s"];
    args.extend(targets);
    let out = run(&repo, &kc, &args).await;
    support::assert_exit(&out, 2);
    let text = stdout(&out);
    let dev_section: String = text.split("=== target prod").next().unwrap().to_string();
    assert!(dev_section.contains("error:"), "{text}");
    assert!(
        text.contains("~ data.level: git info | live debug"),
        "{text}"
    );
    assert!(
        text.contains("fleet: 2 targets, not clean: dev, prod"),
        "{text}"
    );
    // And comes back (on the same address): clean again.
    let listen: std::net::SocketAddr = dev_url.trim_start_matches("http://").parse().unwrap();
    let dev = kdrift::sim::start(kdrift::sim::SimOptions {
        listen,
        ..Default::default()
    })
    .await
    .unwrap();
    for env in ["dev"] {
        let out = run(
            &repo,
            &kc,
            &[
                "sync",
                "--yes",
                "--context",
                env,
                "--path",
                "base",
                "--path",
                "overlays/dev",
                "/Namespace//shop",
                "/ConfigMap/shop/settings",
            ],
        )
        .await;
        support::assert_exit(&out, 0);
    }
    let mut args = vec!["diff", "--no-pager"];
    args.extend(targets);
    let out = run(&repo, &kc, &args).await;
    support::assert_exit(&out, 1);
    assert!(
        stdout(&out).contains("fleet: 2 targets, not clean: prod"),
        "{}",
        stdout(&out)
    );

    // `--context` twice: the same paths on both (dev's overlay is then missing on prod).
    let out = run(
        &repo,
        &kc,
        &[
            "diff",
            "--no-pager",
            "--context",
            "dev",
            "--context",
            "prod",
            "--path",
            "base",
        ],
    )
    .await;
    support::assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("fleet: 2 targets, all clean"),
        "{}",
        stdout(&out)
    );

    // A configured target keeps its settings when picked alone by its context: prod is
    // read-only there, and its paths are its own.
    let config = write_config(&kc, "targets:\n  - name: dev\n    context: dev\n    paths: [base, overlays/dev]\n  - name: prod\n    context: prod\n    paths: [base, overlays/prod]\n    read_only: true\n");
    let out = run(
        &repo,
        &kc,
        &[
            "--config",
            &config,
            "sync",
            "--yes",
            "--context",
            "prod",
            "/ConfigMap/shop/settings",
        ],
    )
    .await;
    support::assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("read-only"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    // And with no flags, the configuration's targets are the fleet.
    let out = run(&repo, &kc, &["--config", &config, "diff", "--no-pager"]).await;
    support::assert_exit(&out, 1);
    assert!(
        stdout(&out).contains("fleet: 2 targets, not clean: prod"),
        "{}",
        stdout(&out)
    );

    // Commands that act on one cluster refuse several, naming them.
    let mut args = vec!["sync", "--yes", "/ConfigMap/shop/settings"];
    args.extend(targets);
    let out = run(&repo, &kc, &args).await;
    support::assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("pick one of the targets (dev, prod)"),
        "{}",
        stderr(&out)
    );
    dev.stop().await;
    prod.stop().await;
}

/// `kdrift diff --fleet`: the clusters come from the Argo CD Applications' destinations,
/// matched to the kube contexts by server URL; each target shows only its apps, and the
/// same object in two clusters' folders is no conflict.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argo_cd_destinations_name_the_fleet() {
    let (dev, prod, _dir, kc) = two_sims().await;
    let repo = TestRepo::new();
    for (env, url) in [("dev", &dev.url), ("prod", &prod.url)] {
        repo.write(
            &format!("argocd/{env}.yaml"),
            &format!("apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: web-{env}\n  namespace: argocd\nspec:\n  destination:\n    server: {url}\n    namespace: shop\n  source:\n    repoURL: https://git.example.com/fleet.git\n    path: apps/{env}\n"),
        );
        repo.write(
            &format!("apps/{env}/web.yaml"),
            &format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  env: {env}\n"
            ),
        );
    }
    repo.commit("one app per cluster");
    // The clusters as their apps would have them, prod edited by hand.
    for (ctx, value) in [("dev", "dev"), ("prod", "edited")] {
        let client = kdrift::live::cluster::connect(Some(&kc), Some(ctx))
            .await
            .unwrap()
            .client;
        let nss: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(client.clone());
        nss.create(
            &Default::default(),
            &serde_json::from_value(json!({"metadata": {"name": "shop"}})).unwrap(),
        )
        .await
        .unwrap();
        let cms: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
            kube::Api::namespaced(client, "shop");
        cms.create(
            &Default::default(),
            &serde_json::from_value(
                json!({"metadata": {"name": "web", "namespace": "shop"}, "data": {"env": value}}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    }
    let out = run(&repo, &kc, &["diff", "--fleet", "--no-pager"]).await;
    support::assert_exit(&out, 1);
    let text = stdout(&out);
    for line in [
        "=== target dev · context dev",
        "=== target prod · context prod",
        "~ data.env: git prod | live edited",
        "fleet: 2 targets, not clean: prod",
    ] {
        assert!(
            text.contains(line),
            "missing {line:?} in:\n{text}\n{}",
            stderr(&out)
        );
    }
    assert!(!text.contains("defined 2 times"), "{text}");
    // dev's section holds dev's app only.
    let dev_section = text.split("=== target prod").next().unwrap();
    assert!(!dev_section.contains("git prod"), "{text}");

    // Argo CD's own cluster (`https://kubernetes.default.svc`, `in-cluster`) is no context
    // anyone can guess: noted, until a config target named in-cluster says which it is.
    repo.write(
        "argocd/prod.yaml",
        &std::fs::read_to_string(repo.path().join("argocd/prod.yaml"))
            .unwrap()
            .replace(&prod.url, "https://kubernetes.default.svc"),
    );
    repo.commit("prod is where Argo CD runs");
    let out = run(&repo, &kc, &["diff", "--fleet", "--no-pager"]).await;
    support::assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("no kube context for https://kubernetes.default.svc (web-prod)"),
        "{}",
        stderr(&out)
    );
    let config = write_config(&kc, "targets:\n  - name: in-cluster\n    context: prod\n");
    let out = run(
        &repo,
        &kc,
        &["--config", &config, "diff", "--fleet", "--no-pager"],
    )
    .await;
    support::assert_exit(&out, 1);
    let text = stdout(&out);
    assert!(
        text.contains("=== target in-cluster · context prod"),
        "{text}"
    );
    assert!(
        text.contains("fleet: 2 targets, not clean: in-cluster"),
        "{text}"
    );
    dev.stop().await;
    prod.stop().await;
}

/// The fleet matrix in tmux at 80x24: a column per target; prod going down greys its own
/// column (dev's stays), and its cells come back when it does; `Enter` opens a target's
/// view of a resource.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_matrix_in_tmux_with_one_cluster_down_and_back() {
    let (dev, prod, dir, kc) = two_sims().await;
    let repo = TestRepo::new();
    repo.write(
        "base/ns.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n",
    );
    repo.write(
        "base/settings.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: shop\ndata:\n  level: info\n",
    );
    repo.commit("base");
    for ctx in ["dev", "prod"] {
        let out = run(
            &repo,
            &kc,
            &[
                "sync",
                "--yes",
                "--context",
                ctx,
                "/Namespace//shop",
                "/ConfigMap/shop/settings",
            ],
        )
        .await;
        support::assert_exit(&out, 0);
    }
    let bin = env!("CARGO_BIN_EXE_kdrift");
    let command = format!(
        "{bin} --kubeconfig {} --context dev --context prod; echo EXITED $?; sleep 30",
        kc.display()
    );
    let env = [
        ("HOME", dir.path().display().to_string()),
        (
            "XDG_STATE_HOME",
            dir.path().join("state").display().to_string(),
        ),
        (
            "XDG_CACHE_HOME",
            dir.path().join("cache").display().to_string(),
        ),
        ("NO_COLOR", "1".to_string()),
    ];
    let Some(t) = support::Tmux::start(&command, repo.path(), &env, 80, 24) else {
        return;
    };
    let secs = std::time::Duration::from_secs;
    fn settings_row(s: &str) -> Option<Vec<&str>> {
        s.lines()
            .find(|l| l.trim_start().starts_with("settings"))
            .map(|l| l.split_whitespace().collect())
    }
    let wait = |what: &str, pred: &dyn Fn(&str) -> bool| {
        let t = &t;
        tokio::task::block_in_place(|| t.wait_for(what, secs(20), pred))
    };
    wait("both columns synced", &|s| {
        s.contains("fleet · 2 targets") && settings_row(s) == Some(vec!["settings", "✓", "✓"])
    });
    // prod goes down: its column only.
    let prod_url = prod.url.clone();
    prod.stop().await;
    wait("prod greyed", &|s| {
        settings_row(s) == Some(vec!["settings", "✓", "░"]) && !s.contains("● prod")
    });
    // And comes back, empty: its objects are missing there now.
    let listen: std::net::SocketAddr = prod_url.trim_start_matches("http://").parse().unwrap();
    let prod = kdrift::sim::start(kdrift::sim::SimOptions {
        listen,
        ..Default::default()
    })
    .await
    .unwrap();
    wait("prod back", &|s| {
        settings_row(s) == Some(vec!["settings", "✓", "∅"]) && s.contains("● prod")
    });
    // Its namespace, as its platform team would make it.
    let client = kdrift::live::cluster::connect(Some(&kc), Some("prod"))
        .await
        .unwrap()
        .client;
    let nss: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(client);
    nss.create(
        &Default::default(),
        &serde_json::from_value(json!({"metadata": {"name": "shop"}})).unwrap(),
    )
    .await
    .unwrap();
    // prod's view of the resource.
    t.send(&["G", "l", "Enter"]);
    wait("prod's view", &|s| {
        s.contains("prod · context prod") && s.contains("ConfigMap settings -n shop  missing")
    });
    // prod's live object beside dev's, read from both clusters: prod has none now.
    t.send(&["h", "c"]);
    wait("the comparison", &|s| {
        s.contains("live on dev (-) and on prod (+)")
            && s.contains("prod's cluster has no such object")
    });
    // Syncing is per target: `o` opens prod alone, whose confirmation names prod; `q` comes
    // back to the matrix, where prod's cell is synced now.
    t.send(&["Escape", "Escape", "l", "o"]);
    wait("prod's explorer", &|s| {
        s.contains("target prod of the fleet")
    });
    wait("prod's first complete report", &|s| {
        s.contains("● live") && s.contains("∅  settings")
    });
    t.send(&["/"]);
    t.type_text("settings");
    wait("the search", &|s| s.contains("/settings (1 match)"));
    t.send(&["Enter"]);
    wait("settings selected", &|s| {
        s.contains("shop › ConfigMap › settings")
    });
    t.send(&["s"]);
    // prod is a protected context (the default `protect: ["*prod*"]`): its name is typed.
    wait("the confirmation", &|s| {
        s.contains("confirm sync") && s.contains("prod is a protected context")
    });
    t.type_text("prod");
    t.send(&["Enter"]);
    wait("the result", &|s| s.contains("sync result"));
    t.send(&["Escape", "q"]);
    wait("back in the matrix, prod synced", &|s| {
        s.contains("fleet · 2 targets") && settings_row(s) == Some(vec!["settings", "✓", "✓"])
    });
    // Edited by hand on both clusters; marked on both and synced with one `s`: a preview
    // and confirmation per target, each naming its context, then back to the matrix.
    for ctx in ["dev", "prod"] {
        edit_by_hand(&kc, ctx).await;
    }
    wait("both drifted", &|s| {
        settings_row(s) == Some(vec!["settings", "≠", "≠"])
    });
    t.send(&["G", "h", "Space", "G", "l", "Space"]);
    wait("both marked", &|s| {
        settings_row(s) == Some(vec!["settings", "≠*", "≠*"])
    });
    t.send(&["s"]);
    // kubectl-edit owns the field now: each confirmation says it will not be written, and
    // `f` (force) asks again, naming the context.
    wait("dev's confirmation", &|s| {
        s.contains("confirm sync") && s.contains("context dev") && s.contains("WILL NOT BE WRITTEN")
    });
    t.send(&["f"]);
    wait("dev's force", &|s| s.contains("FORCE"));
    t.send(&["y"]);
    wait("dev's result", &|s| s.contains("sync result"));
    t.send(&["Escape", "q"]);
    wait("prod's confirmation", &|s| {
        s.contains("confirm sync")
            && s.contains("context prod")
            && s.contains("WILL NOT BE WRITTEN")
    });
    // On a protected context letters are typed: Tab asks for force.
    t.send(&["Tab"]);
    wait("prod's force", &|s| {
        s.contains("FORCE") && s.contains("type prod")
    });
    t.type_text("prod");
    t.send(&["Enter"]);
    wait("prod's result", &|s| s.contains("sync result"));
    t.send(&["Escape", "q"]);
    wait("back in the matrix, both synced", &|s| {
        s.contains("fleet · 2 targets") && settings_row(s) == Some(vec!["settings", "✓", "✓"])
    });
    t.send(&["q"]);
    let (screen, _) = wait("the exit", &|s| s.contains("EXITED"));
    assert!(screen.contains("EXITED 0"), "{screen}");
    dev.stop().await;
    prod.stop().await;
}

/// The fleet across both kinds of server: sim and the suite's real kube-apiserver as two
/// targets of one report, the real one edited by hand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_and_the_real_server_side_by_side() {
    let Some(real) = support::real_server() else {
        return;
    };
    let sim = kdrift::sim::start(kdrift::sim::SimOptions::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    let real_text = std::fs::read_to_string(&real.kubeconfig).unwrap();
    std::fs::write(
        &kc,
        merged_kubeconfig(&[("sim", &sim.kubeconfig), ("real", &real_text)]),
    )
    .unwrap();
    let ns = support::unique_name("fleet");
    let repo = TestRepo::new();
    repo.write(
        "base/ns.yaml",
        &format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n"),
    );
    repo.write(
        "base/settings.yaml",
        &format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: {ns}\ndata:\n  level: info\n"),
    );
    repo.commit("base");
    for ctx in ["sim", "real"] {
        let out = run(
            &repo,
            &kc,
            &[
                "sync",
                "--yes",
                "--context",
                ctx,
                &format!("/Namespace//{ns}"),
                &format!("/ConfigMap/{ns}/settings"),
            ],
        )
        .await;
        support::assert_exit(&out, 0);
    }
    edit_by_hand_in(&kc, "real", &ns).await;
    let out = run(
        &repo,
        &kc,
        &[
            "diff",
            "--no-pager",
            "--context",
            "sim",
            "--context",
            "real",
        ],
    )
    .await;
    support::assert_exit(&out, 1);
    let text = stdout(&out);
    for line in [
        "=== target sim · context sim",
        "=== target real · context real",
        "~ data.level: git info | live debug",
        "fleet: 2 targets, not clean: real",
    ] {
        assert!(
            text.contains(line),
            "missing {line:?} in:\n{text}\n{}",
            stderr(&out)
        );
    }
    let sim_section = text.split("=== target real").next().unwrap();
    assert!(!sim_section.contains("live debug"), "{text}");
    sim.stop().await;
}
