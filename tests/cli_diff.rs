//! `kdrift diff` end to end, as the binary: exit codes, text and JSON reports, errors that
//! name their cause, configuration errors, and a generated 1,000-resource fixture whose
//! every verdict and drifted path must match.

mod support;

use serde_json::Value;
use std::collections::BTreeMap;
use support::{kdrift, stderr, stdout, TestRepo};

const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\n  labels: {app: web}\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: web:1\n        resources:\n          limits: {cpu: 500m, memory: 1Gi}\n";

fn live_deploy(replicas: u32, image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\n  uid: 1234\n  resourceVersion: \"77\"\n  generation: 3\n  labels: {{app: web, app.kubernetes.io/part-of: shop}}\n  annotations: {{deployment.kubernetes.io/revision: \"4\"}}\nspec:\n  replicas: {replicas}\n  progressDeadlineSeconds: 600\n  selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n      creationTimestamp: null\n      labels: {{app: web}}\n    spec:\n      dnsPolicy: ClusterFirst\n      containers:\n      - name: web\n        image: {image}\n        imagePullPolicy: IfNotPresent\n        resources:\n          limits: {{cpu: \"0.5\", memory: 1024Mi}}\nstatus:\n  replicas: {replicas}\n"
    )
}

fn setup(live: &str) -> TestRepo {
    let repo = TestRepo::new();
    repo.write("shop/web.yaml", DEPLOY);
    repo.commit("web");
    std::fs::write(repo.path().join(".git").join("live.yaml"), live).unwrap();
    repo
}

fn live_path(repo: &TestRepo) -> String {
    repo.path()
        .join(".git")
        .join("live.yaml")
        .display()
        .to_string()
}

#[test]
fn clean_cluster_exits_zero() {
    let repo = setup(&live_deploy(2, "web:1"));
    let out = kdrift(&["diff", "--live-file", &live_path(&repo)], repo.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("1 resources: 1 synced, 0 out-of-sync"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn drift_exits_one_with_fields_and_a_unified_diff() {
    let repo = setup(&live_deploy(5, "web:hotfix"));
    let out = kdrift(&["diff", "--live-file", &live_path(&repo)], repo.path());
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("out-of-sync: apps/Deployment/shop/web (shop/web.yaml:1)"),
        "{text}"
    );
    assert!(text.contains("~ spec.replicas: git 2 | live 5"), "{text}");
    assert!(
        text.contains(
            "~ spec.template.spec.containers[name=web].image: git web:1 | live web:hotfix"
        ),
        "{text}"
    );
    assert!(text.contains("-  replicas: 5\n+  replicas: 2"), "{text}");
    // Server defaults and respelled quantities are not shown as changes.
    assert!(
        !text.contains("imagePullPolicy") && !text.contains("1024Mi"),
        "{text}"
    );
}

#[test]
fn json_report_has_the_documented_shape() {
    let repo = setup(&live_deploy(5, "web:1"));
    let out = kdrift(
        &["diff", "--live-file", &live_path(&repo), "-o", "json"],
        repo.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["revision"].as_str().unwrap().len(), 40);
    assert!(v["source"].as_str().unwrap().ends_with("live.yaml"));
    assert_eq!(v["summary"]["out_of_sync"], 1);
    let r = &v["resources"][0];
    for (k, want) in [
        ("group", "apps"),
        ("version", "v1"),
        ("kind", "Deployment"),
        ("namespace", "shop"),
        ("name", "web"),
        ("status", "out-of-sync"),
        ("file", "shop/web.yaml"),
    ] {
        assert_eq!(r[k], want, "{k}");
    }
    assert_eq!(r["fields"][0]["path"], "spec.replicas");
    assert_eq!(r["fields"][0]["desired"], 2);
    assert_eq!(r["fields"][0]["live"], 5);
    assert!(v["errors"].as_array().unwrap().is_empty());
    let yaml = kdrift(
        &["diff", "--live-file", &live_path(&repo), "-o", "yaml"],
        repo.path(),
    );
    assert!(stdout(&yaml).contains("status: out-of-sync"));
}

#[test]
fn errors_exit_two_and_name_their_cause() {
    let repo = setup(&live_deploy(2, "web:1"));
    let no_repo = tempfile::tempdir().unwrap();
    let out = kdrift(&["diff", "--live-file", &live_path(&repo)], no_repo.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no Git repository"),
        "{}",
        stderr(&out)
    );

    let out = kdrift(
        &["diff", "--rev", "nope", "--live-file", &live_path(&repo)],
        repo.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("\"nope\""), "{}", stderr(&out));

    let out = kdrift(&["diff", "--live-file", "/no/such/file.yaml"], repo.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("/no/such/file.yaml"),
        "{}",
        stderr(&out)
    );

    std::fs::write(
        repo.path().join(".git").join("bad.yaml"),
        "apiVersion: v1\nkind: List\nitems:\n- {a: [1\n",
    )
    .unwrap();
    let bad = repo
        .path()
        .join(".git")
        .join("bad.yaml")
        .display()
        .to_string();
    let out = kdrift(&["diff", "--live-file", &bad], repo.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("bad.yaml, line "), "{}", stderr(&out));
}

#[test]
fn config_errors_name_the_key_and_file() {
    let repo = setup(&live_deploy(2, "web:1"));
    let cfg = repo.path().join(".git").join("kdrift.yaml");
    std::fs::write(&cfg, "tracking:\n  selecter: a=b\n").unwrap();
    let out = kdrift(
        &[
            "diff",
            "--config",
            &cfg.display().to_string(),
            "--live-file",
            &live_path(&repo),
        ],
        repo.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("kdrift.yaml") && err.contains("selecter"),
        "{err}"
    );
}

#[test]
fn path_limits_what_is_shown_never_what_is_in_git() {
    // Both objects carry the tracking label; only shop/ is shown. The one in infra/ is in Git
    // and so never extra (nor offered for pruning); a path naming nothing is an error.
    let live = format!(
        "{}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: infra, namespace: shop, labels: {{app.kubernetes.io/part-of: shop}}}}\n",
        live_deploy(2, "web:1")
    );
    let repo = setup(&live);
    repo.write(
        "infra/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: infra, namespace: shop}\n",
    );
    repo.commit("infra");
    let lp = live_path(&repo);
    let args = |path: &'static str| {
        [
            "diff",
            "--live-file",
            lp.as_str(),
            "-l",
            "app.kubernetes.io/part-of=shop",
            "--path",
            path,
            "-o",
            "json",
        ]
    };
    let out = kdrift(&args("shop"), repo.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let names: Vec<&str> = v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["web"]);
    let out = kdrift(&args("nothing-here"), repo.path());
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("--path nothing-here matches no file"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn extras_need_tracking_and_ignore_owned_objects() {
    let live = format!(
        "{}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: orphan, namespace: shop, labels: {{app.kubernetes.io/part-of: shop}}}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: child, namespace: shop, labels: {{app.kubernetes.io/part-of: shop}}, ownerReferences: [{{uid: x, kind: Deployment, name: web, apiVersion: apps/v1}}]}}\n",
        live_deploy(2, "web:1")
    );
    let repo = setup(&live);
    let out = kdrift(&["diff", "--live-file", &live_path(&repo)], repo.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "no selector, no extras: {}",
        stdout(&out)
    );
    let out = kdrift(
        &[
            "diff",
            "--live-file",
            &live_path(&repo),
            "-l",
            "app.kubernetes.io/part-of=shop",
            "-o",
            "json",
        ],
        repo.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let extras: Vec<&str> = v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "extra")
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(extras, ["orphan"]);
}

#[test]
fn uncommitted_manifest_changes_are_noted() {
    let repo = setup(&live_deploy(2, "web:1"));
    repo.write(
        "shop/web.yaml",
        &DEPLOY.replace("replicas: 2", "replicas: 9"),
    );
    let out = kdrift(&["diff", "--live-file", &live_path(&repo)], repo.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "the commit is read, not the working tree"
    );
    assert!(
        stderr(&out).contains("uncommitted changes to 1 manifest file (shop/web.yaml)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn secrets_are_masked_unless_asked() {
    let repo = TestRepo::new();
    repo.write("s.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: shop}\nstringData:\n  password: hunter2\n");
    repo.commit("secret");
    let live = "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: shop}\ntype: Opaque\ndata:\n  password: c3dvcmRmaXNo\n";
    std::fs::write(repo.path().join(".git").join("live.yaml"), live).unwrap();
    for format in ["text", "json", "yaml"] {
        let out = kdrift(
            &["diff", "--live-file", &live_path(&repo), "-o", format],
            repo.path(),
        );
        assert_eq!(out.status.code(), Some(1));
        let text = stdout(&out);
        for secret in ["hunter2", "aHVudGVyMg==", "swordfish", "c3dvcmRmaXNo"] {
            assert!(!text.contains(secret), "{format} shows {secret}: {text}");
        }
        assert!(text.contains("<secret sha256:"), "{text}");
    }
    let out = kdrift(
        &["diff", "--live-file", &live_path(&repo), "--show-secrets"],
        repo.path(),
    );
    assert!(stdout(&out).contains("c3dvcmRmaXNo"), "{}", stdout(&out));
}

#[test]
fn generated_fixture_of_1000_resources_agrees_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("fx");
    let out = kdrift(
        &[
            "fixture",
            &out_dir.display().to_string(),
            "--resources",
            "1000",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let expected: BTreeMap<String, kdrift::fixture::Expected> =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("expected.json")).unwrap())
            .unwrap();
    for live in ["live.json", "live.yaml"] {
        let out = kdrift(
            &[
                "diff",
                "--repo",
                "repo",
                "--live-file",
                live,
                "-l",
                "app.kubernetes.io/part-of=fixture",
                "-o",
                "json",
            ],
            &out_dir,
        );
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
        let got = kdrift::fixture::verdicts_of_json(&v);
        let mismatches: Vec<_> = expected
            .iter()
            .filter(|(k, e)| got.get(*k) != Some(e))
            .take(10)
            .collect();
        assert!(mismatches.is_empty(), "{live}: {mismatches:#?}");
        assert_eq!(
            got.len(),
            expected.len(),
            "{live}: every key reported, nothing more"
        );
        let count = |s: &str| expected.values().filter(|e| e.status == s).count();
        assert!(count("missing") > 0 && count("extra") > 0 && count("out-of-sync") > 0);
    }
}

#[test]
fn completions_man_page_version_and_help_with_examples() {
    let dir = tempfile::tempdir().unwrap();
    let out = support::kdrift(&["completions", "bash"], dir.path());
    assert!(out.status.success());
    assert!(stdout(&out).contains("_kdrift()"), "{}", stdout(&out));
    for shell in ["zsh", "fish"] {
        let out = support::kdrift(&["completions", shell], dir.path());
        assert!(
            out.status.success() && stdout(&out).contains("kdrift"),
            "{shell}"
        );
    }
    let out = support::kdrift(&["man"], dir.path());
    assert!(
        stdout(&out).starts_with(".ie") || stdout(&out).contains(".TH kdrift"),
        "{}",
        stdout(&out)
    );
    let out = support::kdrift(&["--version"], dir.path());
    assert!(stdout(&out).starts_with("kdrift "), "{}", stdout(&out));
    let out = support::kdrift(&["--help"], dir.path());
    assert!(
        stdout(&out).contains("kdrift demo") && stdout(&out).contains("Examples:"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn the_explorer_without_a_terminal_says_what_to_use() {
    let dir = tempfile::tempdir().unwrap();
    let out = support::kdrift(&[], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("needs a terminal") && stderr(&out).contains("kdrift diff"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn keys_filter_and_colour_narrow_and_paint_the_text_report() {
    let repo = setup(&live_deploy(3, "web:1"));
    repo.write(
        "shop/cfg.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: shop}\n",
    );
    repo.commit("cfg");
    let lp = live_path(&repo);
    // A key: only that resource.
    let out = kdrift(
        &["diff", "--live-file", &lp, "cm/cfg", "-n", "shop"],
        repo.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("missing: /ConfigMap/shop/cfg"),
        "{}",
        stdout(&out)
    );
    assert!(!stdout(&out).contains("Deployment"), "{}", stdout(&out));
    // A key naming nothing is an error, not a clean report.
    let out = kdrift(
        &["diff", "--live-file", &lp, "cm/nope", "-n", "shop"],
        repo.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("neither in Git nor among the live objects"),
        "{}",
        stderr(&out)
    );
    // A filter: only that status.
    let out = kdrift(
        &["diff", "--live-file", &lp, "--filter", "out-of-sync"],
        repo.path(),
    );
    assert!(
        stdout(&out).contains("out-of-sync: apps/Deployment/shop/web"),
        "{}",
        stdout(&out)
    );
    assert!(!stdout(&out).contains("missing:"), "{}", stdout(&out));
    // Colour: asked for, git diff's colours; never (and by default off a terminal), none.
    let out = kdrift(
        &["diff", "--live-file", &lp, "--color", "always"],
        repo.path(),
    );
    let text = stdout(&out);
    assert!(text.contains("\x1b[31m-  replicas: 3\x1b[0m"), "{text:?}");
    assert!(text.contains("\x1b[32m+  replicas: 2\x1b[0m"), "{text:?}");
    let out = kdrift(&["diff", "--live-file", &lp], repo.path());
    assert!(!stdout(&out).contains('\x1b'), "{:?}", stdout(&out));
}

#[test]
fn apps_decide_what_is_extra_and_reports_name_each_resources_app() {
    let repo = TestRepo::new();
    repo.write(
        "argocd/web.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: web\n  namespace: argocd\nspec:\n  destination:\n    namespace: web\n  source:\n    repoURL: https://git.example.com/gitops.git\n    path: apps/web\n",
    );
    repo.write(
        "apps/web/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: \"1\"\n",
    );
    repo.commit("an app");
    let cm = |name: &str, meta: &str| {
        format!("- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: {name}\n    namespace: web\n{meta}  data:\n    a: \"1\"\n")
    };
    let live = format!(
        "apiVersion: v1\nkind: List\nitems:\n{}{}{}{}",
        cm(
            "settings",
            "    annotations:\n      argocd.argoproj.io/tracking-id: web:/ConfigMap:web/settings\n"
        ),
        cm(
            "stale",
            "    annotations:\n      argocd.argoproj.io/tracking-id: web:/ConfigMap:web/stale\n"
        ),
        cm(
            "theirs",
            "    annotations:\n      argocd.argoproj.io/tracking-id: other:/ConfigMap:web/theirs\n"
        ),
        cm(
            "labelled",
            "    labels:\n      app.kubernetes.io/instance: web\n"
        ),
    );
    std::fs::write(repo.path().join(".git").join("live.yaml"), &live).unwrap();
    let out = kdrift(
        &["diff", "--live-file", &live_path(&repo), "-o", "json"],
        repo.path(),
    );
    support::assert_exit(&out, 1);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let rows: BTreeMap<String, (String, Option<String>)> = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                format!(
                    "{}/{}",
                    r["kind"].as_str().unwrap(),
                    r["name"].as_str().unwrap()
                ),
                (
                    r["status"].as_str().unwrap().to_string(),
                    r["app"].as_str().map(str::to_string),
                ),
            )
        })
        .collect();
    let row = |s: &str, app: Option<&str>| (s.to_string(), app.map(str::to_string));
    // The app's namespace is the default; its tracking marks its extras; another app's
    // objects and unmarked ones are not this repository's.
    assert_eq!(rows["ConfigMap/settings"], row("synced", Some("web")));
    assert_eq!(rows["ConfigMap/stale"], row("extra", Some("web")));
    assert!(!rows.contains_key("ConfigMap/theirs"), "{rows:?}");
    assert!(!rows.contains_key("ConfigMap/labelled"), "{rows:?}");
    assert_eq!(rows["Application/web"], row("missing", None));

    // Label tracking, as argocd-cm can say.
    std::fs::write(
        repo.path().join(".git").join("kdrift.yaml"),
        "apps:\n  tracking: label\n",
    )
    .unwrap();
    let config = repo.path().join(".git").join("kdrift.yaml");
    let out = kdrift(
        &[
            "--config",
            &config.display().to_string(),
            "apps",
            "--live-file",
            &live_path(&repo),
            "-o",
            "json",
        ],
        repo.path(),
    );
    support::assert_exit(&out, 1);
    let apps: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(apps[0]["name"], "web");
    assert_eq!(apps[0]["paths"][0], "apps/web (directory)");
    assert_eq!(apps[0]["summary"]["synced"], 1);
    assert_eq!(apps[0]["summary"]["extra"], 1, "{apps:#}");
    assert_eq!(apps[1]["name"], "(no app)");

    // One app only; a name that is no app is an error naming the apps.
    let out = kdrift(
        &[
            "diff",
            "--live-file",
            &live_path(&repo),
            "--app",
            "web",
            "-o",
            "json",
        ],
        repo.path(),
    );
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["app"] == "web"));
    let out = kdrift(
        &["diff", "--live-file", &live_path(&repo), "--app", "nope"],
        repo.path(),
    );
    support::assert_exit(&out, 2);
    assert!(stderr(&out).contains("apps: web"), "{}", stderr(&out));

    // The flags still work beside apps. `--path` limits Git to a folder: the app's own
    // resources and its tracked extras, not the Application of another folder.
    let live_path_str = live_path(&repo);
    let rows_of = |args: &[&str]| -> BTreeMap<String, String> {
        let mut all = vec!["diff", "--live-file", live_path_str.as_str(), "-o", "json"];
        all.extend_from_slice(args);
        let out = kdrift(&all, repo.path());
        let report: Value = serde_json::from_str(&stdout(&out))
            .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&out), stderr(&out)));
        report["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    format!(
                        "{}/{}",
                        r["kind"].as_str().unwrap(),
                        r["name"].as_str().unwrap()
                    ),
                    r["status"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let rows = rows_of(&["--path", "apps/web"]);
    assert_eq!(
        rows.get("ConfigMap/settings").map(String::as_str),
        Some("synced")
    );
    assert!(!rows.contains_key("Application/web"), "{rows:?}");
    let rows = rows_of(&["--path", "argocd"]);
    assert_eq!(
        rows.get("Application/web").map(String::as_str),
        Some("missing")
    );
    assert!(!rows.contains_key("ConfigMap/settings"), "{rows:?}");
    // `-l` adds what the label marks as this repository's: an extra beside the app's.
    let rows = rows_of(&["-l", "app.kubernetes.io/instance=web"]);
    assert_eq!(
        rows.get("ConfigMap/labelled").map(String::as_str),
        Some("extra")
    );
    assert_eq!(
        rows.get("ConfigMap/stale").map(String::as_str),
        Some("extra")
    );
    // `--argocd-app other` adds the objects another app's tracking id marks.
    let rows = rows_of(&["--argocd-app", "other"]);
    assert_eq!(
        rows.get("ConfigMap/theirs").map(String::as_str),
        Some("extra")
    );
    assert_eq!(
        rows.get("ConfigMap/stale").map(String::as_str),
        Some("extra")
    );
}
