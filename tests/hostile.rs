//! Hostile input and faults, each built by the test itself: Git trees with entries git would
//! refuse (written with low-level object writes), kustomizations that reach outside the
//! repository or echo secrets, links out of the tree, YAML bombs and control characters,
//! endless live files, names that carry terminal escapes, hung and chatty exec plugins, an
//! API server that only answers 503, and signals to the explorer. Each asserts that kdrift
//! stays bounded, writes nothing outside its private folders, and says what went wrong.

mod support;

use kdrift::desired::{self, DesiredSnapshot, LoadOptions};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use support::{assert_exit, kdrift_cmd, stderr, stdout, TestRepo};

fn load_with(repo: &Path, kustomize: &str) -> DesiredSnapshot {
    desired::load(&LoadOptions {
        repo: Some(repo.to_path_buf()),
        rev: "HEAD".into(),
        paths: Vec::new(),
        default_namespace: "default".into(),
        kustomize_command: kustomize.into(),
        helm_command: String::new(),
        capabilities: None,
        apps: Default::default(),
        cache_dir: repo.join(".git").join("kdrift-cache"),
    })
    .expect("the desired state loads")
}

/// Writes a raw object with git (no checks) and returns its id.
fn hash_object(repo: &Path, kind: &str, data: &[u8]) -> String {
    use std::io::Write;
    let mut child = Command::new("git")
        .current_dir(repo)
        .args(["hash-object", "--literally", "-w", "-t", kind, "--stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("git runs");
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A tree object from (mode, name, id) entries, names taken as given.
fn tree(repo: &Path, entries: &[(&str, &[u8], &str)]) -> String {
    let mut data = Vec::new();
    for (mode, name, id) in entries {
        data.extend_from_slice(mode.as_bytes());
        data.push(b' ');
        data.extend_from_slice(name);
        data.push(0);
        let bytes: Vec<u8> = (0..id.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&id[i..i + 2], 16).unwrap())
            .collect();
        data.extend_from_slice(&bytes);
    }
    hash_object(repo, "tree", &data)
}

/// Makes `tree_id` the tree of a new commit on main.
fn commit_tree(repo: &TestRepo, tree_id: &str) {
    let commit = repo.git(&["commit-tree", tree_id, "-m", "hostile"]);
    repo.git(&["update-ref", "refs/heads/main", &commit]);
}

/// A fake renderer: lists what it was given (with the folder's mode) into `log`, prints its
/// kustomization to stderr when asked to fail, else one ConfigMap.
fn fake_kustomize(dir: &Path, log: &Path, fail: bool) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = bin.join("kustomize");
    let body = if fail {
        "cat \"$2/kustomization.yaml\" >&2; exit 1".to_string()
    } else {
        "printf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: rendered\\n'".to_string()
    };
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"dir $2\" >> '{log}'\nstat -c 'mode %a' \"$2\" >> '{log}'\n(cd \"$2\" && find . | sort) >> '{log}'\n{body}\n",
            log = log.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    script
}

/// sim on a free loopback port, serving `load`.
async fn sim(load: Vec<PathBuf>) -> kdrift::sim::SimHandle {
    kdrift::sim::start(kdrift::sim::SimOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: false,
        load,
    })
    .await
    .unwrap()
}

/// A repository with one committed file.
fn repo_with(file: &str, text: &str) -> TestRepo {
    let repo = TestRepo::new();
    repo.write(file, text);
    repo.commit(file);
    repo
}

const ONE_CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n";

/// Writes a kubeconfig for a plain-HTTP server with a bearer token.
fn token_kubeconfig(path: &Path, server: &str) {
    std::fs::write(
        path,
        format!("apiVersion: v1\nkind: Config\ncurrent-context: s\nclusters:\n- name: s\n  cluster: {{server: \"{server}\"}}\ncontexts:\n- name: s\n  context: {{cluster: s, user: u}}\nusers:\n- name: u\n  user: {{token: t}}\n"),
    )
    .unwrap();
}

/// `command` in a tmux pane `width`x24 in the repository, HOME and state inside it.
fn tmux_in(repo: &TestRepo, command: &str, width: u16) -> Option<support::Tmux> {
    let env = [
        ("HOME", repo.path().display().to_string()),
        (
            "XDG_STATE_HOME",
            repo.path().join(".state").display().to_string(),
        ),
    ];
    support::Tmux::start(command, repo.path(), &env, width, 24)
}

fn invalid_messages(s: &DesiredSnapshot) -> Vec<String> {
    s.invalid
        .iter()
        .map(|i| format!("{}: {}", i.source.file, i.message))
        .collect()
}

#[test]
fn tree_entries_git_refuses_are_invalid_rows_and_nothing_is_written_outside() {
    let repo = TestRepo::new();
    let outside = tempfile::tempdir().unwrap();
    let cm = hash_object(
        repo.path(),
        "blob",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
    );
    let kust = hash_object(repo.path(), "blob", b"resources:\n- cm.yaml\n");
    let evil = hash_object(repo.path(), "blob", b"kustomize:\n  command: /tmp/pwned\n");
    let evil_dir = tree(repo.path(), &[("100644", b"config.yaml", &evil)]);
    let dotgit = tree(repo.path(), &[("100644", b"config", &evil)]);
    let root = tree(
        repo.path(),
        &[
            ("40000", b"..", &evil_dir),
            ("100644", b"../../escape.yaml", &evil),
            ("40000", b".GIT", &dotgit),
            ("40000", b".git. ", &dotgit),
            ("40000", b"git~1", &dotgit),
            ("40000", ".g\u{200c}it".as_bytes(), &dotgit),
            ("100644", b"cm.yaml", &cm),
            ("100644", b"kustomization.yaml", &kust),
        ],
    );
    commit_tree(&repo, &root);
    let log = outside.path().join("render.log");
    let renderer = fake_kustomize(outside.path(), &log, false);
    let snap = load_with(repo.path(), &renderer.display().to_string());

    let messages = invalid_messages(&snap);
    for name in ["..", "../../escape.yaml", ".GIT", ".git. ", "git~1"] {
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with(&format!("{name}: unsafe path"))),
            "{name} not refused: {messages:#?}"
        );
    }
    assert!(
        messages.iter().any(|m| m.contains("\\u{200c}")),
        "the HFS+ spelling of .git is refused and shown escaped: {messages:#?}"
    );
    assert_eq!(
        snap.objects
            .iter()
            .map(|o| o.key.name.as_str())
            .collect::<Vec<_>>(),
        ["rendered"]
    );
    let written = std::fs::read_to_string(&log).unwrap();
    assert!(written.contains("mode 700"), "{written}");
    assert!(written.contains("./cm.yaml"), "{written}");
    for name in ["config", "escape", "GIT", "git~1"] {
        assert!(!written.contains(name), "{name} was written: {written}");
    }
    // The private folder is gone, and nothing was written beside the repository.
    let dir = written.lines().next().unwrap().trim_start_matches("dir ");
    assert!(!Path::new(dir).exists(), "{dir} was not removed");
    assert!(!repo.path().parent().unwrap().join("config.yaml").exists());
    // The cache folder holds only rendered output (no Secret here), private to the user.
    let cache = repo.path().join(".git").join("kdrift-cache");
    for entry in std::fs::read_dir(&cache).into_iter().flatten().flatten() {
        assert_eq!(entry.file_name(), "rendered", "{:?}", entry.path());
        for file in std::fs::read_dir(entry.path()).unwrap().flatten() {
            use std::os::unix::fs::PermissionsExt;
            let mode = file.metadata().unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{:?}", file.path());
        }
    }
}

#[test]
fn a_tree_bomb_is_bounded() {
    let repo = TestRepo::new();
    let blob = hash_object(repo.path(), "blob", b"x: 1\n");
    // Each level names the level below 20 times: 20^6 paths from a few kilobytes.
    let names: Vec<String> = (0..20).map(|i| format!("d{i:02}")).collect();
    let mut level = tree(repo.path(), &[("100644", b"f.yaml", &blob)]);
    for _ in 0..6 {
        let entries: Vec<(&str, &[u8], &str)> = names
            .iter()
            .map(|n| ("40000", n.as_bytes(), level.as_str()))
            .collect();
        level = tree(repo.path(), &entries);
    }
    commit_tree(&repo, &level);
    let started = Instant::now();
    let err = desired::load(&LoadOptions {
        repo: Some(repo.path().to_path_buf()),
        rev: "HEAD".into(),
        paths: Vec::new(),
        default_namespace: "default".into(),
        kustomize_command: String::new(),
        helm_command: String::new(),
        capabilities: None,
        apps: Default::default(),
        cache_dir: repo.path().join(".cache"),
    })
    .unwrap_err();
    assert!(err.to_string().contains("more than"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn kustomizations_that_reach_outside_are_refused_and_links_out_are_not_followed() {
    let repo = TestRepo::new();
    let outside = tempfile::tempdir().unwrap();
    repo.write(
        "app/kustomization.yaml",
        "resources:\n- ../../../../etc\n- cm.yaml\n",
    );
    repo.write(
        "abs/kustomization.yaml",
        "configMapGenerator:\n- name: x\n  files:\n  - key=/etc/passwd\n",
    );
    repo.write(
        "app/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
    );
    repo.write("linked/kustomization.yaml", "resources:\n- passwd.yaml\n");
    std::os::unix::fs::symlink("/etc/passwd", repo.path().join("linked/passwd.yaml")).unwrap();
    std::os::unix::fs::symlink("../../..", repo.path().join("linked/up")).unwrap();
    repo.commit("reach out");
    let log = outside.path().join("render.log");
    let renderer = fake_kustomize(outside.path(), &log, false);
    let snap = load_with(repo.path(), &renderer.display().to_string());
    let messages = invalid_messages(&snap);
    assert!(
        messages.iter().any(
            |m| m.starts_with("app/kustomization.yaml") && m.contains("outside the repository")
        ),
        "{messages:#?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("abs/kustomization.yaml") && m.contains("absolute path")),
        "{messages:#?}"
    );
    let written = std::fs::read_to_string(&log).unwrap();
    // Only `linked` was rendered, without its links out of the repository.
    assert_eq!(written.matches("dir ").count(), 1, "{written}");
    assert!(written.contains("./kustomization.yaml"), "{written}");
    assert!(!written.contains("passwd"), "{written}");
    assert!(!written.contains("./up"), "{written}");
}

#[test]
fn secret_generator_literals_are_masked_in_renderer_errors() {
    let repo = TestRepo::new();
    let outside = tempfile::tempdir().unwrap();
    repo.write(
        "kustomization.yaml",
        "secretGenerator:\n- name: db\n  literals:\n  - password=hunter2-very-secret\n  - malformed-literal-token\n",
    );
    repo.commit("secret");
    let log = outside.path().join("render.log");
    let renderer = fake_kustomize(outside.path(), &log, true);
    let snap = load_with(repo.path(), &renderer.display().to_string());
    let messages = invalid_messages(&snap).join("\n");
    assert!(messages.contains("kustomize failed"), "{messages}");
    assert!(messages.contains("***"), "{messages}");
    assert!(!messages.contains("hunter2"), "{messages}");
    assert!(!messages.contains("malformed-literal-token"), "{messages}");
}

#[test]
fn yaml_bombs_and_control_characters_are_invalid_rows_quickly() {
    let mut bomb = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\n");
    bomb.push_str(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (i, prev) in ["a", "b", "c", "d", "e", "f", "g", "h"].iter().enumerate() {
        let name = (b'b' + i as u8) as char;
        let refs = vec![format!("*{prev}"); 9].join(",");
        bomb.push_str(&format!("{name}: &{name} [{refs}]\n"));
    }
    let deep_block: String = {
        let mut s =
            String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\ndata:\n");
        for i in 0..5000 {
            s.push_str(&" ".repeat(2 + i));
            s.push_str("k:\n");
        }
        s
    };
    let deep_flow = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: flow}}\ndata: {}{}\n",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let files = vec![
        ("bomb.yaml".to_string(), bomb),
        ("deep.yaml".to_string(), deep_block),
        ("flow.yaml".to_string(), deep_flow),
        (
            "nul.yaml".to_string(),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: nul\0byte\n".to_string(),
        ),
        (
            "esc.yaml".to_string(),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"x\"\ndata:\n  v: a\u{1b}[2Kb\n"
                .to_string(),
        ),
        (
            "dup.json".to_string(),
            r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "d", "name": "e"}}"#
                .to_string(),
        ),
        (
            "bom.yaml".to_string(),
            "\u{feff}apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bom\n".to_string(),
        ),
    ];
    let started = Instant::now();
    let snap = desired::from_texts(&files, "default");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let by_file = |f: &str| {
        snap.invalid
            .iter()
            .find(|i| i.source.file == f)
            .map(|i| i.message.clone())
            .unwrap_or_else(|| panic!("{f} is not invalid: {:#?}", snap.invalid))
    };
    // The YAML parser's own bound on flow nesting may answer first for flow.yaml.
    for (file, expected) in [
        ("bomb.yaml", &["aliases"][..]),
        ("deep.yaml", &["nested"]),
        ("flow.yaml", &["nested", "recursion limit"]),
        ("nul.yaml", &["U+0000"]),
        ("esc.yaml", &["U+001B"]),
        ("dup.json", &["already set"]),
    ] {
        let message = by_file(file);
        assert!(
            expected.iter().any(|e| message.contains(e)),
            "{file}: {message}"
        );
    }
    let names: Vec<&str> = snap.objects.iter().map(|o| o.key.name.as_str()).collect();
    assert_eq!(names, ["bom"]);
}

#[test]
fn endless_and_oversized_live_files_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let err = kdrift::live::file::load(Path::new("/dev/zero")).unwrap_err();
    assert!(err.to_string().contains("NUL"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let big = dir.path().join("big.yaml");
    std::fs::write(&big, "a: b\n".repeat(1000)).unwrap();
    let err = kdrift::live::file::load_limited(&big, 100).unwrap_err();
    assert!(err.to_string().contains("--max-live-file-size"), "{err}");
    // From the command line, with the flag raising the limit.
    let repo = repo_with("a.yaml", ONE_CM);
    let out = kdrift_cmd(repo.path())
        .args(["diff", "--live-file"])
        .arg(&big)
        .args(["--max-live-file-size", "100"])
        .output()
        .unwrap();
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("larger than 100 bytes"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn escape_sequences_from_git_and_the_cluster_never_reach_the_terminal() {
    let repo = TestRepo::new();
    // A name and a value that would erase the line and set the title, written as YAML
    // escapes (the YAML is valid; the values hold the control characters).
    repo.write(
        "evil.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"evil\\e[2K\\rharmless\"\ndata:\n  v: \"\\e]0;pwned\\a\\e[1A\\e[2Kharmless\"\n",
    );
    repo.commit("evil");
    let live = repo.path().join("live.yaml");
    std::fs::write(
        &live,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"evil\\e[2K\\rharmless\"\n  namespace: default\ndata:\n  v: \"other\\u009b31m\"\n",
    )
    .unwrap();
    for format in ["text", "json", "yaml"] {
        let out = kdrift_cmd(repo.path())
            .args(["diff", "--live-file"])
            .arg(&live)
            .args(["--output", format])
            .output()
            .unwrap();
        assert_exit(&out, 1);
        let text = stdout(&out);
        assert!(
            !text
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t'),
            "{format}: {text:?}"
        );
        assert!(text.contains("evil"), "{format}: {text}");
    }
}

/// A kubeconfig whose user runs `plugin` (a shell script) as its exec credential plugin.
fn exec_kubeconfig(dir: &Path, plugin: &str, server: &str) -> PathBuf {
    let script = dir.join("plugin.sh");
    std::fs::write(&script, format!("#!/bin/sh\n{plugin}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let kc = dir.join("kubeconfig");
    std::fs::write(
        &kc,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n  cluster: {{server: \"{server}\"}}\ncontexts:\n- name: c\n  context: {{cluster: c, user: u}}\nusers:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      interactiveMode: Never\n      env:\n      - name: PLUGIN_SECRET\n        value: env-secret-value\n",
            script.display()
        ),
    )
    .unwrap();
    kc
}

#[test]
fn hung_and_chatty_exec_plugins_are_bounded() {
    let repo = repo_with("a.yaml", ONE_CM);
    let dir = tempfile::tempdir().unwrap();
    for (plugin, expect) in [
        ("exec sleep 600", "no result within"),
        ("head -c 50000000 /dev/zero | tr '\\0' x", "more than"),
        (
            "echo 'token expired: \x1b[31mred\x1b[0m' >&2; echo again >&2; exit 3",
            "token expired",
        ),
    ] {
        let kc = exec_kubeconfig(dir.path(), plugin, "https://127.0.0.1:1");
        let started = Instant::now();
        let out = kdrift_cmd(repo.path())
            .args(["diff", "--request-timeout", "2s", "--kubeconfig"])
            .arg(&kc)
            .output()
            .unwrap();
        assert_exit(&out, 2);
        let err = stderr(&out);
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{plugin}: {:?}",
            started.elapsed()
        );
        assert!(err.contains(expect), "{plugin}: {err}");
        assert!(!err.contains("env-secret-value"), "{plugin}: {err}");
        assert!(!err.contains('\x1b'), "{plugin}: {err:?}");
        assert!(
            err.len() < 20_000,
            "{plugin}: {} bytes of stderr",
            err.len()
        );
        assert!(err.matches("token expired").count() <= 1, "{plugin}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_headless_sync_preview_shows_escapes_not_forged_lines() {
    let handle = sim(Vec::new()).await;
    let repo = TestRepo::new();
    // The value moves the cursor up, erases the preview's lines and writes "harmless".
    repo.write(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: evil, namespace: default}\ndata:\n  v: \"x\\e[1A\\e[2K\\e[1A\\e[2Kharmless\\e]0;title\\a\"\n",
    );
    repo.commit("evil");
    let kc = repo.path().join(".kc");
    handle.write_kubeconfig(&kc).unwrap();
    let out = support::kdrift_on(
        repo.path(),
        &kc,
        &["sync", "configmap/evil", "-n", "default", "--dry-run"],
    )
    .await;
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(text.contains("evil"), "{text}");
    assert!(
        !text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t'),
        "{text:?}"
    );
    assert!(text.contains("\\x1b[1A"), "the escape is shown: {text}");
    // A multi-line value cannot pass for lines of the preview: its lines are indented and
    // marked under it.
    repo.write(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: evil, namespace: default}\ndata:\n  v: \"x\\nDry run: nothing written.\\nApply 0 resources\"\n",
    );
    repo.commit("forged lines");
    let out = support::kdrift_on(
        repo.path(),
        &kc,
        &["sync", "configmap/evil", "-n", "default", "--dry-run"],
    )
    .await;
    let text = stdout(&out);
    let starts = |p: &str| text.lines().filter(|l| l.starts_with(p)).count();
    assert_eq!(starts("Dry run"), 1, "{text}");
    assert_eq!(starts("Apply"), 0, "{text}");
    assert!(
        text.contains("        | Dry run: nothing written."),
        "{text}"
    );
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_only_answers_503_or_never_answers_is_given_up_on() {
    let handle = sim(Vec::new()).await;
    let repo = repo_with("a.yaml", ONE_CM);
    let kc = repo.path().join(".kc");
    handle.write_kubeconfig(&kc).unwrap();
    handle.faults().set_errors(1.0, 503, Some(555));
    let started = Instant::now();
    let out = support::kdrift_on(repo.path(), &kc, &["diff", "--request-timeout", "2s"]).await;
    assert_exit(&out, 2);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert!(stderr(&out).contains("503"), "{}", stderr(&out));
    handle.stop().await;

    // A listener that accepts and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let hold = std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in silent.incoming().take(8).flatten() {
            held.push(conn);
        }
        std::thread::sleep(Duration::from_secs(30));
    });
    token_kubeconfig(&kc, &format!("http://{addr}"));
    let started = Instant::now();
    let out = support::kdrift_on(repo.path(), &kc, &["diff", "--request-timeout", "2s"]).await;
    assert_exit(&out, 2);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    let err = stderr(&out);
    assert!(
        err.contains("timed out") || err.contains("gave up"),
        "{err}"
    );
    drop(hold);
}

#[test]
fn signals_restore_the_terminal_and_set_the_exit_status() {
    let repo = repo_with("a.yaml", ONE_CM);
    std::fs::write(
        repo.path().join("live.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: default}\n",
    )
    .unwrap();
    for (signal, code) in [
        ("INT", 130),
        ("QUIT", 131),
        ("USR1", 138),
        ("TERM", 143),
        ("HUP", 129),
    ] {
        let command = format!(
            "stty echo; '{}' --live-file live.yaml; echo \"exit=$?\"; stty -a | grep -o ' -\\?echo ' | head -1; sleep 60",
            env!("CARGO_BIN_EXE_kdrift")
        );
        let Some(tmux) = tmux_in(&repo, &command, 80) else {
            return;
        };
        tmux.wait_for("the explorer", Duration::from_secs(30), |s| {
            s.contains("ConfigMap")
        });
        let out = Command::new(&tmux.tmux)
            .args([
                "-L",
                &tmux.name,
                "display",
                "-p",
                "-t",
                &tmux.name,
                "#{pane_pid}",
            ])
            .output()
            .unwrap();
        let shell = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let pid = String::from_utf8_lossy(
            &Command::new("pgrep")
                .args(["-P", &shell])
                .output()
                .unwrap()
                .stdout,
        )
        .trim()
        .to_string();
        assert!(!pid.is_empty(), "no kdrift under the pane's shell {shell}");
        Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
        let (screen, _) = tmux.wait_for("the exit status", Duration::from_secs(20), |s| {
            s.contains("exit=") && s.contains("echo")
        });
        assert!(
            screen.contains(&format!("exit={code}")),
            "{signal}: {screen}"
        );
        assert!(
            screen.contains(" echo") && !screen.contains("-echo"),
            "{signal}: echo is off: {screen}"
        );
        let flags = Command::new(&tmux.tmux)
            .args([
                "-L",
                &tmux.name,
                "display",
                "-p",
                "-t",
                &tmux.name,
                "#{alternate_on} #{cursor_flag} #{mouse_any_flag}",
            ])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&flags.stdout).trim(),
            "0 1 0",
            "{signal}: alternate screen, cursor, mouse"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn the_explorer_shows_git_while_the_server_is_silent_and_recovers_by_itself() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let repo = TestRepo::new();
    repo.write(
        "a.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n",
    );
    repo.commit("a");
    // A server that accepts connections and never answers, on a port sim takes over later.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    silent.set_nonblocking(true).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let holder = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                if let Ok((conn, _)) = silent.accept() {
                    held.push(conn);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let kc = repo.path().join(".kc");
    token_kubeconfig(&kc, &format!("http://{addr}"));
    let command = format!(
        "'{}' --kubeconfig .kc --request-timeout 2s; sleep 60",
        env!("CARGO_BIN_EXE_kdrift")
    );
    let Some(tmux) = tmux_in(&repo, &command, 120) else {
        return;
    };
    // The Git side at once, the cluster state as what it is.
    let (screen, _) = tokio::task::block_in_place(|| {
        tmux.wait_for("Git rows while waiting", Duration::from_secs(10), |s| {
            s.contains("settings") && s.contains("no answer for")
        })
    });
    assert!(screen.contains(&addr.to_string()), "{screen}");
    assert!(
        screen.contains("∅0") && screen.contains("?1"),
        "no verdict without an answer: {screen}"
    );
    // The server comes back on the same address: the explorer goes live with no key pressed.
    stop.store(true, Ordering::SeqCst);
    holder.join().unwrap();
    let handle = kdrift::sim::start(kdrift::sim::SimOptions {
        listen: addr,
        tls: false,
        load: Vec::new(),
    })
    .await
    .unwrap();
    let (screen, _) = tokio::task::block_in_place(|| {
        tmux.wait_for("live again", Duration::from_secs(40), |s| {
            s.contains("live") && s.contains("∅1")
        })
    });
    assert!(screen.contains("settings"), "{screen}");
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_undecodable_object_is_one_unknown_row_and_its_neighbours_keep_their_verdicts() {
    use kdrift::live::{cluster, watch};
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live.json");
    std::fs::write(
        &live,
        r#"{"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "good", "namespace": "default"}, "data": {"a": "1"}},
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bad", "namespace": "default", "managedFields": "garbage"}, "data": {"a": "1"}}
        ]}"#,
    )
    .unwrap();
    let handle = sim(vec![live]).await;
    let kc = dir.path().join("kc");
    handle.write_kubeconfig(&kc).unwrap();
    let target = cluster::connect(Some(&kc), None).await.unwrap();
    let served = cluster::discover(&target).await.unwrap();
    let kinds = vec![served.get("", "ConfigMap").unwrap().clone()];
    let mut w = watch::start(
        &target,
        &kinds,
        &Default::default(),
        Duration::from_millis(20),
    )
    .await;
    let mut views = support::Views::new(&mut w.views);
    support::wait_view(&mut views, "the first list", Duration::from_secs(20), |v| {
        v.is_ready() && !v.objects.is_empty()
    })
    .await;
    let view = &views.seen;
    let good = kdrift::model::ResourceKey::new("", "ConfigMap", "default", "good");
    let bad = kdrift::model::ResourceKey::new("", "ConfigMap", "default", "bad");
    assert!(view.objects.contains_key(&good), "the neighbour is read");
    assert!(
        view.undecodable
            .get(&bad)
            .is_some_and(|why| why.contains("metadata")),
        "{:?}",
        view.undecodable
    );
    assert!(matches!(
        view.kinds[0].state,
        watch::ConnectionState::Connected { .. }
    ));
    // In the report: one unknown row saying why, the neighbour synced.
    let snap = kdrift::desired::from_texts(
        &[(
            "cm.yaml".into(),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: good}\ndata: {a: \"1\"}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: bad}\ndata: {a: \"1\"}\n".into(),
        )],
        "default",
    );
    let coverage = kdrift::drift::LiveCoverage {
        undecodable: (*view.undecodable).clone(),
        ..Default::default()
    };
    let live: Vec<&kdrift::model::LiveObject> = view.objects.values().map(|o| &**o).collect();
    let report = kdrift::drift::build_report_with(
        &snap.objects,
        &snap.invalid,
        &live,
        &coverage,
        &kdrift::drift::DriftOptions::default(),
    );
    let status = |k: &kdrift::model::ResourceKey| {
        let e = report.entries.iter().find(|e| &e.key == k).unwrap();
        (e.status, e.reason.clone().unwrap_or_default())
    };
    assert_eq!(status(&good).0, kdrift::model::DriftStatus::Synced);
    let (s, why) = status(&bad);
    assert_eq!(s, kdrift::model::DriftStatus::Unknown);
    assert!(why.contains("cannot read"), "{why}");
    drop(w);
    handle.stop().await;
}

#[test]
fn an_explorer_outside_a_repository_says_so_and_what_to_do_until_it_quits() {
    let dir = tempfile::tempdir().unwrap();
    // A folder that is no repository (TestRepo::new would make one).
    let repo = TestRepo { dir };
    std::fs::write(repo.path().join("live.yaml"), ONE_CM).unwrap();
    let command = format!(
        "'{}' --live-file live.yaml; sleep 60",
        env!("CARGO_BIN_EXE_kdrift")
    );
    let Some(tmux) = tmux_in(&repo, &command, 80) else {
        return;
    };
    tmux.wait_for("the problem", Duration::from_secs(10), |s| {
        s.contains("no Git repository") && s.contains("--repo")
    });
    // Announcements fade after five seconds; this stays.
    std::thread::sleep(Duration::from_secs(7));
    let screen = tmux.capture();
    assert!(screen.contains("--repo"), "{screen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn the_explorer_goes_live_again_when_the_server_comes_back_on_the_same_address() {
    let repo = repo_with("a.yaml", ONE_CM);
    let live = repo.path().join(".live.yaml");
    std::fs::write(
        &live,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: default}\n",
    )
    .unwrap();
    let first = sim(vec![live.clone()]).await;
    let addr = first.addr;
    let kc = repo.path().join(".kc");
    first.write_kubeconfig(&kc).unwrap();
    let command = format!(
        "'{}' --kubeconfig .kc --request-timeout 3s; sleep 60",
        env!("CARGO_BIN_EXE_kdrift")
    );
    let Some(tmux) = tmux_in(&repo, &command, 80) else {
        return;
    };
    tokio::task::block_in_place(|| {
        tmux.wait_for("live", Duration::from_secs(20), |s| {
            s.contains("● live") && s.contains("✓1")
        })
    });
    first.stop().await;
    tokio::task::block_in_place(|| {
        tmux.wait_for("the outage noticed", Duration::from_secs(20), |s| {
            s.contains("reconnecting")
        })
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    let second = kdrift::sim::start(kdrift::sim::SimOptions {
        listen: addr,
        tls: false,
        load: vec![live],
    })
    .await
    .unwrap();
    let (screen, took) = tokio::task::block_in_place(|| {
        tmux.wait_for("live again, no key pressed", Duration::from_secs(30), |s| {
            s.contains("● live") && s.contains("✓1")
        })
    });
    assert!(
        took < Duration::from_secs(10),
        "live again only after {took:?}: {screen}"
    );
    second.stop().await;
}
