//! The on-call workflow end to end, in tmux at 80x24: the demo's drift triaged in five keys
//! (who changed what, with which commit, without a resize), the Events view, the clipboard
//! over OSC 52, `$EDITOR`, `$PAGER` (masked Secrets), `:ctx` between two clusters, and
//! `kdrift diff` through the pager.

mod support;

use std::path::Path;
use std::time::Duration;
use support::Tmux;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A script that appends its arguments (and, for a pager, its standard input) to `out`
/// and exits 0.
fn recorder(dir: &Path, name: &str, out: &Path, read_stdin: bool) -> String {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\necho \"ARGS $*\" >> '{0}'\n{1}exit 0\n",
            out.display(),
            if read_stdin {
                format!("cat >> '{}'\n", out.display())
            } else {
                String::new()
            }
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    path.display().to_string()
}

/// The file's text once `done` holds for it (a recorder writes its arguments before its
/// input: the file is not complete as soon as it exists).
fn wait_file(path: &Path, timeout: Duration, done: impl Fn(&str) -> bool) -> String {
    let start = std::time::Instant::now();
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if done(&text) {
            return text;
        }
        assert!(
            start.elapsed() < timeout,
            "{} after {timeout:?}: {text:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn base_env(dir: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("HOME", dir.display().to_string()),
        ("XDG_STATE_HOME", dir.join("state").display().to_string()),
        ("NO_COLOR", "1".to_string()),
        ("TERM", "xterm-256color".to_string()),
    ]
}

#[test]
fn demo_triage_at_80x24_in_five_keys_with_events_clipboard_editor_and_pager() {
    let dir = tempfile::tempdir().unwrap();
    let edited = dir.path().join("edited");
    let paged = dir.path().join("paged");
    let editor = recorder(dir.path(), "editor", &edited, false);
    let pager = recorder(dir.path(), "pager", &paged, true);
    let bin = env!("CARGO_BIN_EXE_kdrift");
    let command = format!("{bin} demo --pace 0.3; echo EXITED $?; sleep 60");
    let mut env = base_env(dir.path());
    env.push(("EDITOR", editor));
    env.push(("KDRIFT_PAGER", pager));
    let Some(t) = Tmux::start(&command, dir.path(), &env, 80, 24) else {
        return;
    };
    t.run_pub(&["set-option", "-g", "set-clipboard", "on"]);
    // Every act done: three out of sync, one missing, one extra, the release commit read.
    t.wait_for("the demo's drift", secs(30), |s| {
        s.contains("≠3 ∅1 +1") && s.contains("api: release 1.5.0")
    });
    // Five keys: J opens each drifted resource's diff in turn, and its header says who
    // changed what (or what Git has that the cluster lacks), wrapped, at 80 columns.
    let expect: [(&str, &[&str]); 5] = [
        (
            "ConfigMap/redis-config -n data  missing",
            &["not in the cluster"],
        ),
        ("ConfigMap/legacy-flags -n shop  extra", &["not in Git"]),
        (
            "ConfigMap/web-config -n shop  out-of-sync",
            &["data.LOG_LEVEL", "kubectl-edit"],
        ),
        (
            "Deployment/api -n shop  out-of-sync",
            &["spec.replicas", "kubectl-scale", "api: release 1.5.0"],
        ),
        (
            "Deployment/web -n shop  out-of-sync",
            &["kubectl-edit", "Bob Dev", "first deploy"],
        ),
    ];
    for (title, parts) in expect {
        t.send(&["J"]);
        let (screen, _) = t.wait_for(title, secs(5), |s| s.contains(title));
        for p in parts {
            assert!(
                screen.contains(p),
                "{p:?} not on the screen of {title}:\n{screen}"
            );
        }
        assert!(screen.contains("- live (kdrift-demo)"), "{screen}");
    }
    // Events of the web Deployment, newest first.
    t.send(&["E"]);
    t.wait_for("the Events", secs(5), |s| {
        s.contains("Events of Deployment/web -n shop") && s.contains("ScalingReplicaSet")
    });
    t.send(&["q"]);
    t.wait_for("back in the diff", secs(5), |s| {
        s.contains("Deployment/web -n shop  out-of-sync")
    });
    // y in the tree copies the key over OSC 52: tmux keeps it as a paste buffer.
    t.send(&["q"]);
    t.wait_for("the tree", secs(5), |s| {
        s.contains("shop › Deployment › web")
    });
    t.send(&["y"]);
    // The buffer is what matters (the announcement lasts 4 s, a loaded machine may not
    // capture the screen in time).
    let start = std::time::Instant::now();
    loop {
        let buffer = t.run_pub(&["show-buffer"]);
        if buffer.contains("Deployment/web -n shop") {
            break;
        }
        assert!(
            start.elapsed() < secs(15),
            "tmux buffer: {buffer:?}; the screen:\n{}",
            t.capture()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // o opens the Git file at the resource's line in $EDITOR, then the explorer comes back.
    t.send(&["o"]);
    wait_file(&edited, secs(10), |t| t.contains("+2 shop/web.yaml"));
    t.wait_for("the explorer back", secs(5), |s| {
        s.contains("shop › Deployment › web")
    });
    // v pages the live object; a Secret's values are masked.
    t.send(&["v"]);
    wait_file(&paged, secs(10), |t| {
        t.contains("ghcr.io/example/web:2.3.1-hotfix1")
    });
    std::fs::remove_file(&paged).unwrap();
    t.send(&[":"]);
    t.type_text("ns data");
    t.send(&["Enter"]);
    t.wait_for("the data namespace", secs(5), |s| s.contains("[:ns data]"));
    t.send(&["/"]);
    t.type_text("secret");
    t.send(&["Enter", "v"]);
    let text = wait_file(&paged, secs(10), |t| {
        t.contains("kind: Secret") && t.ends_with('\n')
    });
    assert!(text.contains("<secret sha256:"), "{text}");
    t.send(&["q"]);
    t.wait_for("a clean exit", secs(5), |s| s.contains("EXITED 0"));
}

/// Two sims with different drift in one kubeconfig, contexts `alpha` and `beta`.
fn two_clusters(
    dir: &Path,
) -> (
    support::SimProcess,
    support::SimProcess,
    std::path::PathBuf,
    std::path::PathBuf,
) {
    let fx_a = support::fixture(&dir.join("a"), 60, 2, 3);
    let fx_b = support::fixture(&dir.join("b"), 60, 2, 4);
    let a = support::SimProcess::start(&fx_a.join("live.json"), &dir.join("kc-a"));
    let b = support::SimProcess::start(&fx_b.join("live.json"), &dir.join("kc-b"));
    let kc = dir.join("kubeconfig");
    std::fs::write(
        &kc,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: a\n  cluster:\n    server: {}\n- name: b\n  cluster:\n    server: {}\ncontexts:\n- name: alpha\n  context:\n    cluster: a\n    user: u\n- name: beta\n  context:\n    cluster: b\n    user: u\ncurrent-context: alpha\nusers:\n- name: u\n  user: {{}}\n",
            a.url, b.url
        ),
    )
    .unwrap();
    (a, b, kc, fx_a.join("repo"))
}

#[test]
fn ctx_switches_clusters_live_and_keeps_the_view() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, kc, repo) = two_clusters(dir.path());
    let bin = env!("CARGO_BIN_EXE_kdrift");
    let command = format!("{bin}; echo EXITED $?; sleep 60");
    let mut env = base_env(dir.path());
    env.push(("KUBECONFIG", kc.display().to_string()));
    let Some(t) = Tmux::start(&command, &repo, &env, 80, 24) else {
        return;
    };
    t.wait_for("alpha", secs(20), |s| {
        s.lines().next().is_some_and(|l| {
            l.starts_with("ctx alpha") && l.contains("● live") && l.contains(&a.url[7..])
        })
    });
    t.send(&["f"]);
    t.wait_for("the drifted filter", secs(5), |s| {
        s.contains("filter: drifted")
    });
    // Tab completes the context; Enter switches.
    t.send(&[":"]);
    t.type_text("ctx b");
    t.send(&["Tab"]);
    t.wait_for("completed", secs(5), |s| s.contains(":ctx beta"));
    t.send(&["Enter"]);
    // The status bar's first line, not the command line that still shows `:ctx beta`.
    let (screen, _) = t.wait_for("beta", secs(20), |s| {
        s.lines()
            .next()
            .is_some_and(|l| l.starts_with("ctx beta") && l.contains("● live"))
    });
    // Nothing of alpha stays: its server is gone from the status bar, the filter stays.
    assert!(!screen.contains(&a.url[7..]), "{screen}");
    assert!(screen.contains("filter: drifted"), "{screen}");
    assert!(
        screen.contains(&b.url[7..]) || screen.contains('…'),
        "{screen}"
    );
    // The event log says when the context changed (above the new cluster's first report).
    t.send(&["L"]);
    t.wait_for("the log", secs(5), |s| s.contains("esc back"));
    let mut found = false;
    for _ in 0..40 {
        if t.capture().contains("now on context beta") {
            found = true;
            break;
        }
        t.send(&["PageUp"]);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(found, "{}", t.capture());
    t.send(&["q", "q"]);
    t.wait_for("a clean exit", secs(5), |s| s.contains("EXITED 0"));
}

#[test]
fn kdrift_diff_goes_through_the_pager_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let fx = support::fixture(dir.path(), 60, 2, 5);
    let paged = dir.path().join("paged");
    let pager = recorder(dir.path(), "pager", &paged, true);
    let bin = env!("CARGO_BIN_EXE_kdrift");
    let live = fx.join("live.json");
    let command = format!(
        "{bin} diff --live-file {0}; echo EXITED $?; {bin} diff --no-pager --live-file {0}; echo NOPAGER; sleep 60",
        live.display()
    );
    let mut env = base_env(dir.path());
    env.push(("KDRIFT_PAGER", pager));
    let Some(t) = Tmux::start(&command, &fx.join("repo"), &env, 80, 24) else {
        return;
    };
    let (screen, _) = t.wait_for("both runs", secs(20), |s| s.contains("NOPAGER"));
    let text = wait_file(&paged, secs(10), |t| t.contains("60 resources: 55 synced"));
    // With --no-pager the report reaches the terminal itself, and the pager ran only once.
    assert!(screen.contains("60 resources: 55 synced"), "{screen}");
    assert_eq!(text.matches("ARGS").count(), 1, "{text}");
}

#[test]
fn a_degraded_rollout_shows_in_the_tree_and_the_not_converged_filter() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_kdrift");
    let command = format!("{bin} demo --pace 0.3; echo EXITED $?; sleep 60");
    let env = base_env(dir.path());
    let Some(t) = Tmux::start(&command, dir.path(), &env, 80, 24) else {
        return;
    };
    t.wait_for("the stalled rollout", secs(30), |s| {
        s.contains("≠3 ∅1 +1") && s.contains("▼ data")
    });
    // Drifted leaves redis out (it is synced); not converged shows it, degraded.
    t.send(&["f"]);
    let (drifted, _) = t.wait_for("drifted", secs(5), |s| s.contains("filter: drifted"));
    assert!(
        !drifted.contains("redis  ") && !drifted.contains("✓▼ redis"),
        "{drifted}"
    );
    t.send(&["f"]);
    t.wait_for("not converged", secs(5), |s| {
        s.contains("filter: not converged") && s.contains("✓▼ redis")
    });
    t.send(&["/"]);
    t.type_text("deployment redis");
    t.send(&["Enter", "i"]);
    t.wait_for("why", secs(5), |s| {
        s.contains("health ▼ degraded (ProgressDeadlineExceeded")
    });
    t.send(&["q"]);
    t.wait_for("a clean exit", secs(5), |s| s.contains("EXITED 0"));
}
