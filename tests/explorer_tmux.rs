//! The explorer end to end: the real binary in tmux against `kdrift sim` preloaded with a
//! generated fixture. Open, filter, search, open a diff, see a change made with kubectl
//! 1.32 turn a row out-of-sync within 2 seconds, see a Git commit followed, sync the row
//! back with the confirmation, and quit to a restored terminal.

mod support;

use std::time::Duration;
use support::{kubectl, SimProcess, Tmux};

fn first_data_key(repo: &std::path::Path, file: &str) -> String {
    let text = std::fs::read_to_string(repo.join(file)).unwrap();
    for doc in text.split("\n---") {
        if doc.contains("kind: ConfigMap") {
            let v: serde_yaml::Value = serde_yaml::from_str(doc).unwrap();
            if let Some(m) = v.get("data").and_then(|d| d.as_mapping()) {
                return m.keys().next().unwrap().as_str().unwrap().to_string();
            }
        }
    }
    panic!("no ConfigMap with data in {file}");
}

/// Sets one data key of a ConfigMap in team-000 with kubectl 1.32 (`kubectl patch`).
fn kubectl_patch(
    kubectl: &std::path::Path,
    kc: &std::path::Path,
    name: &str,
    key: &str,
    value: &str,
) {
    let patch = format!("{{\"data\":{{\"{key}\":\"{value}\"}}}}");
    support::run_ok(
        std::process::Command::new(kubectl)
            .arg("--kubeconfig")
            .arg(kc)
            .args([
                "-n",
                "team-000",
                "patch",
                "configmap",
                name,
                "--type",
                "merge",
                "-p",
                &patch,
            ]),
    );
}

/// The explorer's environment in tmux: a home and a state folder in `dir`, plain text, and
/// the kubeconfig where given.
fn plain_env(
    dir: &std::path::Path,
    kubeconfig: Option<&std::path::Path>,
) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("HOME", dir.display().to_string()),
        ("XDG_STATE_HOME", dir.join("state").display().to_string()),
        ("NO_COLOR", "1".to_string()),
        ("TERM", "xterm-256color".to_string()),
    ];
    if let Some(kc) = kubeconfig {
        env.push(("KUBECONFIG", kc.display().to_string()));
    }
    env
}

/// A 300-resource fixture in `dir`, its live objects in a `kdrift sim`: (repository,
/// kubeconfig, the sim).
fn fixture_on_sim(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, SimProcess) {
    let fx = support::fixture(dir, 300, 3, 7);
    let kc = dir.join("kubeconfig");
    let sim = SimProcess::start(&fx.join("live.json"), &kc);
    (fx.join("repo"), kc, sim)
}

#[test]
fn explorer_follows_kubectl_and_git_and_syncs() {
    let Some(kubectl) = kubectl() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (repo, kc, _sim) = fixture_on_sim(dir.path());
    let bin = env!("CARGO_BIN_EXE_kdrift");
    let command = format!("{bin} --ascii; echo EXITED $?; stty -a; sleep 60");
    let env = plain_env(dir.path(), Some(&kc));
    let Some(t) = Tmux::start(&command, &repo, &env, 120, 40) else {
        return;
    };
    let secs = Duration::from_secs;

    // Open: the status bar names the context, the revision and counts.
    t.wait_for("the first report", secs(20), |s| {
        s.contains("ctx sim") && s.contains("live") && s.contains("=") && s.contains("fixture:")
    });
    // Filter.
    t.send(&["f"]);
    t.wait_for("the drifted filter", secs(5), |s| {
        s.contains("filter: drifted")
    });
    for _ in 0..10 {
        t.send(&["f"]);
    }
    t.wait_for("the filter back to all", secs(5), |s| {
        !s.contains("filter:")
    });
    // Search a synced ConfigMap and open its diff.
    let target = "app-00000-config";
    t.send(&["/"]);
    t.type_text(target);
    t.wait_for("the search", secs(5), |s| {
        s.contains(&format!("/{target} (1 match)"))
    });
    t.send(&["Enter", "Enter"]);
    t.wait_for("the diff", secs(5), |s| {
        s.contains(&format!("ConfigMap/{target} -n team-000  synced")) && s.contains("live (sim)")
    });
    t.send(&["Escape"]);
    t.wait_for("the tree", secs(5), |s| s.contains(&format!("=h {target}")));

    // kubectl changes a field Git sets: the row turns out-of-sync within 2 seconds.
    let key = first_data_key(&repo, "team-000/app-00000.yaml");
    kubectl_patch(&kubectl, &kc, target, &key, "changed-by-kubectl");
    let (_, took) = t.wait_for("the row out-of-sync", secs(2), |s| {
        s.contains(&format!("~h {target}"))
    });
    eprintln!("kubectl change shown after {took:?}");

    // A Git commit that sets the same value: HEAD moves and the row is synced again.
    let file = repo.join("team-000/app-00000.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let mut docs: Vec<String> = text.split("\n---").map(str::to_string).collect();
    for d in &mut docs {
        if d.contains("kind: ConfigMap") {
            let mut v: serde_yaml::Value = serde_yaml::from_str(d).unwrap();
            v["data"][key.as_str()] = serde_yaml::Value::String("changed-by-kubectl".into());
            *d = serde_yaml::to_string(&v).unwrap();
        }
    }
    std::fs::write(&file, docs.join("\n---\n")).unwrap();
    support::git_in(&repo, &["commit", "-qam", "take the kubectl value"]);
    t.wait_for("the new commit", secs(3), |s| {
        s.contains("take the kubectl value") && s.contains(&format!("=h {target}"))
    });

    // Drift it again, then sync it back from the explorer.
    kubectl_patch(&kubectl, &kc, target, &key, "drifted-again");
    t.wait_for("the row out-of-sync again", secs(2), |s| {
        s.contains(&format!("~h {target}"))
    });
    // Mark it (the cursor moves on), then sync the marked set.
    t.send(&["Space"]);
    t.wait_for("the mark", secs(5), |s| {
        s.contains("1 marked") && s.contains(&format!("* ~h {target}"))
    });
    t.send(&["s"]);
    let (screen, _) = t.wait_for("the confirmation", secs(10), |s| s.contains("confirm sync"));
    assert!(
        screen.contains("context sim") && screen.contains("server http://127.0.0.1"),
        "{screen}"
    );
    assert!(
        screen.contains(&format!("data.{key}")) || screen.contains(&format!("data['{key}']")),
        "{screen}"
    );
    // kubectl-patch now owns the field: a plain `y` would not write it; force is its own step.
    if screen.contains("WILL NOT BE WRITTEN") {
        t.send(&["f"]);
        t.wait_for("the force confirmation", secs(5), |s| s.contains("FORCE"));
    }
    t.send(&["y"]);
    t.wait_for("the result", secs(10), |s| {
        s.contains("sync result") && s.contains("1 updated")
    });
    t.send(&["Escape"]);
    t.wait_for("the row synced", secs(3), |s| {
        s.contains(&format!("=h {target}")) && !s.contains("sync result")
    });

    // Quit: the terminal is restored (canonical mode, alternate screen left).
    t.send(&["q"]);
    let (screen, _) = t.wait_for("the exit and stty", secs(5), |s| {
        s.contains("EXITED 0") && s.contains("icanon")
    });
    assert!(
        screen.contains(" icanon") && !screen.contains("-icanon"),
        "{screen}"
    );
    assert!(
        !screen.contains("ctx sim"),
        "the explorer's screen is still shown:\n{screen}"
    );
}

#[test]
fn explorer_quits_on_sigterm_with_the_terminal_restored() {
    let dir = tempfile::tempdir().unwrap();
    let fx = support::fixture(dir.path(), 30, 2, 2);
    let bin = env!("CARGO_BIN_EXE_kdrift");
    let live = fx.join("live.yaml").display().to_string();
    // The explorer runs in the foreground (it has the terminal); a background job sends
    // SIGTERM once the first screen is up.
    let command = format!(
        "( sleep 3; pkill -TERM -f -- '^{bin} --live-file {live}' ) & {bin} --live-file {live}; echo EXITED $?; stty -a; sleep 60"
    );
    let env = [
        ("HOME", dir.path().display().to_string()),
        (
            "XDG_STATE_HOME",
            dir.path().join("state").display().to_string(),
        ),
    ];
    let Some(t) = Tmux::start(&command, &fx.join("repo"), &env, 80, 24) else {
        return;
    };
    t.wait_for("the explorer", Duration::from_secs(10), |s| {
        s.contains("(offline)") && s.contains("file")
    });
    let (screen, _) = t.wait_for("the exit and stty", Duration::from_secs(10), |s| {
        s.contains("EXITED 143") && s.contains("icanon")
    });
    assert!(
        screen.contains(" icanon") && !screen.contains("-icanon"),
        "{screen}"
    );
}

/// The count after a status glyph in the status bar (`∅12` → 12).
fn count_after(screen: &str, glyph: char) -> Option<usize> {
    let first = screen.lines().next()?;
    let at = first.find(glyph)? + glyph.len_utf8();
    first[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn a_slow_server_never_shows_more_missing_rows_than_there_are() {
    let dir = tempfile::tempdir().unwrap();
    let fx = support::fixture(dir.path(), 10_000, 20, 5);
    let expected: std::collections::BTreeMap<String, kdrift::fixture::Expected> =
        serde_json::from_str(&std::fs::read_to_string(fx.join("expected.json")).unwrap()).unwrap();
    let true_missing = expected.values().filter(|e| e.status == "missing").count();
    let handle = kdrift::sim::start(kdrift::sim::SimOptions {
        load: vec![fx.join("live.json")],
        ..kdrift::sim::SimOptions::default()
    })
    .await
    .unwrap();
    let kc = dir.path().join("kc");
    handle.write_kubeconfig(&kc).unwrap();
    handle.faults().set_latency(Duration::from_millis(1500));
    let command = format!(
        "'{}' --kubeconfig '{}' -l app.kubernetes.io/part-of=fixture; sleep 60",
        env!("CARGO_BIN_EXE_kdrift"),
        kc.display()
    );
    let env = [
        ("HOME", dir.path().display().to_string()),
        (
            "XDG_STATE_HOME",
            dir.path().join(".state").display().to_string(),
        ),
    ];
    let Some(t) = Tmux::start(&command, &fx.join("repo"), &env, 80, 24) else {
        return;
    };
    // Every 200 ms until the explorer is live with no row waiting.
    let started = std::time::Instant::now();
    let mut seen = 0;
    loop {
        let screen = tokio::task::block_in_place(|| t.capture());
        if let Some(missing) = count_after(&screen, '∅') {
            seen += 1;
            assert!(
                missing <= true_missing,
                "{missing} missing on screen, {true_missing} true:\n{screen}"
            );
        }
        if screen.contains("● live") && count_after(&screen, '?') == Some(0) {
            assert_eq!(count_after(&screen, '∅'), Some(true_missing), "{screen}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "not live and complete after 120 s:\n{screen}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(seen > 3, "the screen was read while loading");
    handle.stop().await;
}

/// A repository whose kinds the cluster does not serve leaves the explorer nothing to watch:
/// it says so on its rows and waits, rather than starting (and logging) watches in a loop.
#[test]
fn nothing_to_watch_is_waited_on_not_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let repo = support::TestRepo::new();
    repo.write(
        "w.yaml",
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: default}\n",
    );
    repo.commit("a kind nobody serves");
    let live = dir.path().join("live.json");
    std::fs::write(
        &live,
        r#"{"apiVersion": "v1", "kind": "List", "items": []}"#,
    )
    .unwrap();
    let kc = dir.path().join("kubeconfig");
    let _sim = SimProcess::start(&live, &kc);
    let bin = env!("CARGO_BIN_EXE_kdrift");
    let state = dir.path().join("state");
    let env = [
        ("KUBECONFIG", kc.display().to_string()),
        ("HOME", dir.path().display().to_string()),
        ("XDG_STATE_HOME", state.display().to_string()),
        ("NO_COLOR", "1".to_string()),
    ];
    let command = format!("{bin} --ascii; echo EXITED $?; sleep 60");
    let Some(t) = Tmux::start(&command, repo.path(), &env, 80, 24) else {
        return;
    };
    t.wait_for("the first report", Duration::from_secs(20), |s| {
        s.contains("ctx sim") && s.contains("live")
    });
    std::thread::sleep(Duration::from_secs(2));
    t.send(&["q"]);
    t.wait_for("the exit", Duration::from_secs(10), |s| {
        s.contains("EXITED 0")
    });
    let log = std::fs::read_to_string(state.join("kdrift").join("kdrift.log")).unwrap();
    let starts = log.lines().filter(|l| l.contains(" watching ")).count();
    assert!(
        (1..=3).contains(&starts),
        "{starts} watch starts in 2 s:\n{}",
        log.lines().take(20).collect::<Vec<_>>().join("\n")
    );
}

/// `--diff-mode server` in the explorer at 80x24: the status bar says so, the detail says the
/// verdict is the server's dry run, a kubectl change turns the row out of sync through a dry
/// run of that resource alone (the others' results are cached), and changing it back to Git's
/// value turns it synced again.
#[test]
fn explorer_in_server_mode_follows_kubectl_with_dry_runs() {
    let Some(kubectl) = kubectl() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (repo, kc, _sim) = fixture_on_sim(dir.path());
    let bin = env!("CARGO_BIN_EXE_kdrift");
    let command = format!("{bin} --ascii --diff-mode server; echo EXITED $?; sleep 60");
    let env = plain_env(dir.path(), Some(&kc));
    let Some(t) = Tmux::start(&command, &repo, &env, 80, 24) else {
        return;
    };
    let secs = Duration::from_secs;
    let (screen, _) = t.wait_for("the first report in server mode", secs(30), |s| {
        s.contains("server mode") && s.contains("live") && s.contains("?0")
    });
    assert!(!screen.contains("(local verdict)"), "{screen}");
    let target = "app-00000-config";
    t.send(&["/"]);
    t.type_text(target);
    t.wait_for("the search", secs(5), |s| {
        s.contains(&format!("/{target} (1 match)"))
    });
    t.send(&["Enter", "i"]);
    let (screen, _) = t.wait_for("the detail", secs(5), |s| s.contains("verdict:"));
    assert!(
        screen.contains("verdict: the API server's dry run"),
        "{screen}"
    );
    assert!(!screen.contains("(local verdict)"), "{screen}");
    let key = first_data_key(&repo, "team-000/app-00000.yaml");
    let text = std::fs::read_to_string(repo.join("team-000/app-00000.yaml")).unwrap();
    let git_value = text
        .split("\n---")
        .filter(|d| d.contains("kind: ConfigMap"))
        .find_map(|d| {
            let v: serde_yaml::Value = serde_yaml::from_str(d).ok()?;
            Some(v["data"][key.as_str()].as_str()?.to_string())
        })
        .unwrap();
    kubectl_patch(&kubectl, &kc, target, &key, "changed-by-kubectl");
    let (_, took) = t.wait_for("the row out-of-sync", secs(5), |s| {
        s.contains(&format!("~h {target}"))
    });
    eprintln!("kubectl change shown in server mode after {took:?}");
    // Back to Git's value (JSON-escaped for the merge patch).
    let escaped = serde_json::to_string(&git_value).unwrap();
    kubectl_patch(&kubectl, &kc, target, &key, &escaped[1..escaped.len() - 1]);
    t.wait_for("the row synced again", secs(5), |s| {
        s.contains(&format!("=h {target}"))
    });
    t.send(&["q"]);
    t.wait_for("the exit", secs(5), |s| s.contains("EXITED 0"));
}

/// The same on the suite's real kube-apiserver: the dry runs are the real server's.
#[test]
fn explorer_in_server_mode_on_the_real_server() {
    let Some(real) = support::real_server() else {
        return;
    };
    let Some(bin) = kubectl() else { return };
    let dir = tempfile::tempdir().unwrap();
    let kubectl = support::Kubectl {
        bin,
        kubeconfig: real.kubeconfig.clone(),
        cache: dir.path().join("kcache"),
    };
    let ns = support::unique_name("srvmode");
    let repo = support::TestRepo::new();
    repo.write(
        "app/ns.yaml",
        &format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n"),
    );
    repo.write(
        "app/settings.yaml",
        &format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: {ns}\n  labels:\n    team: {ns}\ndata:\n  level: info\n"),
    );
    repo.commit("app");
    let out = support::kdrift_cmd(repo.path())
        .args(["sync", "--yes", "--kubeconfig"])
        .arg(&real.kubeconfig)
        .args([
            &format!("/Namespace//{ns}"),
            &format!("/ConfigMap/{ns}/settings"),
        ])
        .output()
        .unwrap();
    support::assert_exit(&out, 0);
    let bin = env!("CARGO_BIN_EXE_kdrift");
    let command = format!(
        "{bin} --ascii --diff-mode server -n {ns} --kubeconfig {}; echo EXITED $?; sleep 60",
        real.kubeconfig.display()
    );
    let env = plain_env(dir.path(), None);
    let Some(t) = Tmux::start(&command, repo.path(), &env, 80, 24) else {
        return;
    };
    let secs = Duration::from_secs;
    t.wait_for("the ConfigMap synced in server mode", secs(30), |s| {
        s.contains("server mode") && s.contains("=h settings")
    });
    kubectl.ok(
        &[
            "-n",
            &ns,
            "patch",
            "configmap",
            "settings",
            "--type",
            "merge",
            "-p",
            r#"{"data":{"level":"debug"}}"#,
        ],
        None,
    );
    t.wait_for("the row out of sync", secs(10), |s| {
        s.contains("~h settings")
    });
    t.send(&["G", "i"]);
    let (screen, _) = t.wait_for("the detail", secs(5), |s| s.contains("verdict:"));
    assert!(
        screen.contains("verdict: the API server's dry run"),
        "{screen}"
    );
    assert!(!screen.contains("(local verdict)"), "{screen}");
    t.send(&["q"]);
    t.wait_for("the exit", secs(5), |s| s.contains("EXITED 0"));
}
