//! `kdrift demo`: the headless report shows exactly the drift the demo's actors make, and
//! the explorer on the demo shows a live change, syncs one resource (everything else stays
//! as it was) and quits clean, leaving no temporary files.

mod support;

use std::time::Duration;
use support::{stdout, Tmux};

#[test]
fn demo_no_tui_reports_the_actors_drift() {
    // The demo's redis overlay is rendered with `kubectl kustomize` from PATH, its checkout
    // chart with helm from PATH.
    if support::require_tool("kubectl", &["kubectl"]).is_none()
        || support::require_tool("helm", &["helm"]).is_none()
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kdrift"))
        .args(["demo", "--no-tui", "--repo-out"])
        .arg(dir.path().join("repo"))
        .env("HOME", dir.path())
        .env("XDG_STATE_HOME", dir.path().join("state"))
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    support::assert_exit(&out, 0);
    let text = stdout(&out);
    for line in [
        "missing: /ConfigMap/data/redis-config",
        "extra: /ConfigMap/shop/legacy-flags",
        "out-of-sync: /ConfigMap/shop/web-config",
        "~ data.LOG_LEVEL: git info | live debug",
        "out-of-sync: apps/Deployment/shop/api",
        "~ spec.replicas: git 2 | live 5",
        "~ spec.template.spec.containers[name=api].image: git ghcr.io/example/api:1.5.0 | live ghcr.io/example/api:1.4.0",
        "out-of-sync: apps/Deployment/shop/web",
        "~ spec.template.spec.containers[name=web].image: git ghcr.io/example/web:2.3.1 | live ghcr.io/example/web:2.3.1-hotfix1",
        // The Argo CD Application's chart, edited by hand: its tag is the values file's,
        // changed in a later commit than the chart.
        "out-of-sync: apps/Deployment/shop/checkout (charts/checkout/templates/deployment.yaml)",
        "~ spec.template.spec.containers[name=checkout].image: git ghcr.io/example/checkout:1.1.0 | live ghcr.io/example/checkout:1.1.0-debug",
        "manual edit · live: kubectl-set (Update,",
        "Alice Ops \"checkout: release 1.1.0\" charts/checkout/values-demo.yaml:3",
        "33 resources: 27 synced, 4 out-of-sync, 1 missing, 1 extra, 0 unknown, 0 invalid",
        // Synced, but its rollout is stuck: health says so.
        "apps/Deployment/data/redis: degraded (ProgressDeadlineExceeded: ReplicaSet \"redis-6d5f8c7b9\" has timed out progressing.)",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    // The autoscaler's replicas are not drift, and the Secret's values never show.
    assert!(
        !text.contains("Deployment/shop/web (shop/web.yaml:2)\n  ~ spec.replicas"),
        "{text}"
    );
    assert!(!text.contains("demo-session-key"), "{text}");
    // The repository is kept with its history, the release commit on top.
    let log = std::process::Command::new("git")
        .args(["log", "--format=%s"])
        .current_dir(dir.path().join("repo"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&log.stdout).lines().next(),
        Some("api: release 1.5.0")
    );
}

#[test]
fn demo_in_the_explorer_syncs_one_resource_and_quits_clean() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let bin = env!("CARGO_BIN_EXE_kdrift");
    let command = format!(
        "{bin} demo --ascii --pace 0.5; echo EXITED $?; ls -A {}; echo LISTED; sleep 60",
        tmp.display()
    );
    let env = [
        ("HOME", dir.path().display().to_string()),
        (
            "XDG_STATE_HOME",
            dir.path().join("state").display().to_string(),
        ),
        ("TMPDIR", tmp.display().to_string()),
        ("NO_COLOR", "1".to_string()),
    ];
    let Some(t) = Tmux::start(&command, dir.path(), &env, 100, 30) else {
        return;
    };
    let secs = Duration::from_secs;
    // The first-run hint, or an actor's news, in the hint bar (a brief announcement of
    // the watches starting may come first).
    t.wait_for("the demo explorer and its hint", secs(20), |s| {
        s.contains("kdrift-demo") && s.contains("live") && s.contains("demo:")
    });
    // The actors act: the hot-fixed web image turns its row out-of-sync.
    t.send(&["f"]);
    t.wait_for("web out-of-sync", secs(15), |s| s.contains("~h web"));
    t.wait_for("web-config out-of-sync", secs(15), |s| {
        s.contains("~h web-config")
    });
    t.send(&["/"]);
    t.type_text("web-config");
    t.send(&["Enter"]);
    t.wait_for("web-config selected", secs(5), |s| {
        s.contains("ConfigMap web-config  out-of-sync")
    });
    t.send(&["s"]);
    t.wait_for("the confirmation", secs(10), |s| {
        s.contains("confirm sync") && s.contains("context kdrift-demo")
    });
    let screen = t.capture();
    if screen.contains("WILL NOT BE WRITTEN") {
        t.send(&["f"]);
        t.wait_for("force", secs(5), |s| s.contains("FORCE"));
    }
    t.send(&["y"]);
    t.wait_for("the result", secs(10), |s| {
        s.contains("sync result") && s.contains("1 updated")
    });
    // The first Esc closes the result, the second clears the search.
    t.send(&["Escape"]);
    t.wait_for("the result closed", secs(5), |s| !s.contains("sync result"));
    t.send(&["Escape"]);
    // web-config leaves the drifted filter; web stays drifted.
    t.wait_for("web-config synced", secs(5), |s| {
        !s.contains("web-config") && s.contains("~h web")
    });
    t.send(&["q"]);
    let (screen, _) = t.wait_for("the exit", secs(10), |s| s.contains("LISTED"));
    assert!(screen.contains("EXITED 0"), "{screen}");
    // No temporary file is left behind.
    let listing: Vec<&str> = screen
        .lines()
        .skip_while(|l| !l.starts_with("EXITED"))
        .skip(1)
        .take_while(|l| *l != "LISTED")
        .collect();
    assert!(
        listing.iter().all(|l| l.trim().is_empty()),
        "left behind: {listing:?}"
    );
}
