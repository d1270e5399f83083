//! `kdrift watch` end to end against sim: JSON event lines, Prometheus metrics scraped over
//! HTTP and parsed as the exposition format, an alert after `--for` delivered to a
//! notification command (event on stdin) and to a webhook (a local server that refuses the
//! first try, so the retry is exercised), then the resolution when the resource converges.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A webhook receiver: answers 503 to the first request and 200 after, keeping the bodies.
fn webhook() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&bodies);
    std::thread::spawn(move || {
        let mut first = true;
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut reader = BufReader::new(s.try_clone().unwrap());
            let mut length = 0usize;
            let mut line = String::new();
            let mut request = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                request.push_str(&line);
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0u8; length];
            reader.read_exact(&mut body).unwrap();
            assert!(request.starts_with("POST /hook "), "{request}");
            assert!(request
                .to_ascii_lowercase()
                .contains("content-type: application/json"));
            let status = if first {
                "503 Service Unavailable"
            } else {
                "200 OK"
            };
            if !first {
                kept.lock().unwrap().push(String::from_utf8(body).unwrap());
            }
            first = false;
            let _ = s.write_all(
                format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .as_bytes(),
            );
        }
    });
    (url, bodies)
}

/// GETs a path over plain HTTP/1.1; returns the status line and the body.
fn get(addr: &str, path: &str) -> (String, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nhost: {addr}\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_string(), body.to_string())
}

/// Parses the text exposition format: every sample's name, labels and value; checks that
/// every sample belongs to a family declared by `# TYPE` and that the text ends with `# EOF`.
/// One sample: name, labels, value.
type Sample = (String, Vec<(String, String)>, f64);

fn parse_exposition(text: &str) -> Vec<Sample> {
    let mut families = Vec::new();
    let mut samples = Vec::new();
    assert!(text.trim_end().ends_with("# EOF"), "{text}");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            families.push(parts.next().unwrap().to_string());
            let kind = parts.next().unwrap();
            assert!(["gauge", "counter", "info"].contains(&kind), "{line}");
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value: {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => {
                let inner = rest.strip_suffix('}').unwrap();
                let labels = inner
                    .split("\",")
                    .filter(|p| !p.is_empty())
                    .map(|p| {
                        let (k, v) = p.split_once("=\"").unwrap();
                        (k.to_string(), v.trim_end_matches('"').to_string())
                    })
                    .collect();
                (n.to_string(), labels)
            }
            None => (series.to_string(), Vec::new()),
        };
        assert!(
            families
                .iter()
                .any(|f| name == *f || name.strip_suffix("_total") == Some(f)),
            "{name} has no # TYPE"
        );
        samples.push((name, labels, value));
    }
    samples
}

fn value(samples: &[Sample], name: &str, label: (&str, &str)) -> f64 {
    samples
        .iter()
        .find(|(n, l, _)| n == name && l.iter().any(|(k, v)| k == label.0 && v == label.1))
        .map(|(_, _, v)| *v)
        .unwrap_or_else(|| panic!("no {name}{{{}={}}}", label.0, label.1))
}

fn wait_for(what: &str, timeout: Duration, mut pred: impl FnMut() -> bool) {
    let start = Instant::now();
    while !pred() {
        assert!(start.elapsed() < timeout, "waited {timeout:?} for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn write_empty_live(path: &Path) {
    std::fs::write(path, r#"{"apiVersion": "v1", "kind": "List", "items": []}"#).unwrap();
}

#[test]
fn watch_reports_metrics_and_notifies_once_per_episode_on_sim() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live.json");
    write_empty_live(&live);
    let kc = dir.path().join("kubeconfig");
    let _sim = support::SimProcess::start(&live, &kc);
    watch_case(dir.path(), &kc, &support::unique_name("watch"));
}

#[test]
fn watch_reports_metrics_and_notifies_once_per_episode_on_the_real_server() {
    let Some(real) = support::real_server() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    watch_case(dir.path(), &real.kubeconfig, &support::unique_name("watch"));
}

/// Git declares a namespace and a ConfigMap in it, the cluster has neither.
fn watch_case(dir: &Path, kc: &Path, ns: &str) {
    let repo = support::TestRepo::new();
    repo.write(
        "cm.yaml",
        &format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: {ns}\ndata:\n  mode: blue\n"),
    );
    repo.commit("settings");
    let notified = dir.join("notified");
    let (hook, bodies) = webhook();
    let notify = format!("cat >> '{}'", notified.display());
    let w = start_watch(
        repo.path(),
        kc,
        dir,
        &[
            "--metrics-addr",
            "127.0.0.1:0",
            "--for",
            "1s",
            "--notify-exec",
            &notify,
            "--notify-webhook",
            &hook,
        ],
    );
    // The metrics address, from stderr.
    let addr = loop {
        let line = w
            .stderr
            .recv_timeout(Duration::from_secs(20))
            .expect("watch starts");
        if let Some(rest) = line.strip_prefix("kdrift: metrics on http://") {
            break rest.trim_end_matches("/metrics").to_string();
        }
    };
    let has = |name: &str| w.count(name);
    // Both are missing: drifted at once, alerts after --for, delivered twice.
    wait_for("drifted", Duration::from_secs(20), || has("drifted") >= 2);
    wait_for("the alerts", Duration::from_secs(10), || has("alert") >= 2);
    wait_for("the notification command", Duration::from_secs(10), || {
        std::fs::read_to_string(&notified).is_ok_and(|t| t.contains("\"event\":\"alert\""))
    });
    // The webhook refused the first try: the retry delivered it.
    wait_for("the webhook", Duration::from_secs(15), || {
        bodies
            .lock()
            .unwrap()
            .iter()
            .any(|b| b.contains("\"alert\""))
    });
    wait_for("both webhooks", Duration::from_secs(15), || {
        bodies
            .lock()
            .unwrap()
            .iter()
            .filter(|b| b.contains("\"alert\""))
            .count()
            >= 2
    });
    let cm = format!("/ConfigMap/{ns}/settings");
    let alert: serde_json::Value = bodies
        .lock()
        .unwrap()
        .iter()
        .map(|b| serde_json::from_str::<serde_json::Value>(b).unwrap())
        .find(|v| v["resource"] == cm.as_str())
        .expect("the ConfigMap's alert");
    assert_eq!(alert["status"], "missing");

    // Metrics: parsed as the exposition format, and saying what the report says.
    let (status, body) = get(&addr, "/metrics");
    assert!(status.contains("200"), "{status}");
    let samples = parse_exposition(&body);
    assert_eq!(
        value(&samples, "kdrift_resources", ("status", "missing")),
        2.0
    );
    assert_eq!(
        value(&samples, "kdrift_resources", ("status", "synced")),
        0.0
    );
    assert!(
        value(
            &samples,
            "kdrift_resource_unconverged_seconds",
            ("name", "settings")
        ) >= 1.0
    );
    assert_eq!(
        value(&samples, "kdrift_events_total", ("event", "alert")),
        2.0
    );
    assert_eq!(get(&addr, "/healthz").0, "HTTP/1.1 200 OK");
    assert!(get(&addr, "/nothing").0.contains("404"));

    // Once per episode: no second alert while it stays missing.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(has("alert"), 2);

    // It converges (kdrift sync creates it): converged, and resolved on every channel.
    let out = support::kdrift_cmd(repo.path())
        .args([
            "sync",
            "--yes",
            &format!("ns/{ns}"),
            "cm/settings",
            "-n",
            ns,
        ])
        .arg("--kubeconfig")
        .arg(kc)
        .output()
        .unwrap();
    support::assert_exit(&out, 0);
    wait_for("converged", Duration::from_secs(10), || {
        has("converged") >= 2
    });
    wait_for("resolved", Duration::from_secs(10), || has("resolved") >= 2);
    wait_for("resolved by command", Duration::from_secs(10), || {
        std::fs::read_to_string(&notified).is_ok_and(|t| t.contains("\"event\":\"resolved\""))
    });
    wait_for("resolved by webhook", Duration::from_secs(10), || {
        bodies
            .lock()
            .unwrap()
            .iter()
            .any(|b| b.contains("\"resolved\""))
    });
    let (_, body) = get(&addr, "/metrics");
    let samples = parse_exposition(&body);
    assert_eq!(
        value(&samples, "kdrift_resources", ("status", "synced")),
        2.0
    );
    assert!(!samples
        .iter()
        .any(|(n, _, _)| n == "kdrift_resource_unconverged_seconds"));
    w.stop();
}

/// A running `kdrift watch`: the process, its event lines as they come, its stderr lines.
struct Running {
    child: std::process::Child,
    events: Arc<Mutex<Vec<serde_json::Value>>>,
    stderr: std::sync::mpsc::Receiver<String>,
}

impl Running {
    fn count(&self, name: &str) -> usize {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e["event"] == name)
            .count()
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `kdrift watch` in `repo` with `args`, its state under `state`.
fn start_watch(repo: &Path, kc: &Path, state: &Path, args: &[&str]) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kdrift"))
        .arg("watch")
        .args(args)
        .arg("--kubeconfig")
        .arg(kc)
        .current_dir(repo)
        .env("HOME", state)
        .env("XDG_STATE_HOME", state.join("state"))
        .env_remove("KUBECONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let events = Arc::new(Mutex::new(Vec::<serde_json::Value>::new()));
    let sink = Arc::clone(&events);
    let stdout = BufReader::new(child.stdout.take().unwrap());
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            let v: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
            sink.lock().unwrap().push(v);
        }
    });
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    Running {
        child,
        events,
        stderr: rx,
    }
}

#[test]
fn episodes_survive_a_restart_and_kdrift_history_lists_them() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live.json");
    write_empty_live(&live);
    let kc = dir.path().join("kubeconfig");
    let _sim = support::SimProcess::start(&live, &kc);
    let repo = support::TestRepo::new();
    repo.write(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: flags\n  namespace: default\ndata:\n  a: '1'\n",
    );
    repo.commit("flags");
    // The first run sees it missing, and stops before --for.
    let first = start_watch(repo.path(), &kc, dir.path(), &["--for", "4s"]);
    wait_for("drifted", Duration::from_secs(20), || {
        first.count("drifted") >= 1
    });
    let seen = first.events.lock().unwrap()[0]["time"].clone();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(first.count("alert"), 0);
    first.stop();
    // The second run continues the episode: the alert counts from the first sight.
    let second = start_watch(repo.path(), &kc, dir.path(), &["--for", "4s"]);
    wait_for("the alert", Duration::from_secs(20), || {
        second.count("alert") >= 1
    });
    let alert = second
        .events
        .lock()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "alert")
        .cloned()
        .unwrap();
    // Since the first run's first sight: the restart did not reset --for.
    assert_eq!(alert["since"], seen, "{alert}");
    second.stop();
    // A third run does not alert the same episode again.
    let third = start_watch(repo.path(), &kc, dir.path(), &["--for", "1s"]);
    wait_for("drifted", Duration::from_secs(20), || {
        third.count("drifted") >= 1
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(third.count("alert"), 0);
    third.stop();
    // kdrift history lists it, open, for this cluster.
    let out = support::kdrift_cmd(repo.path())
        .args(["history", "flags", "--kubeconfig"])
        .arg(&kc)
        .env("HOME", dir.path())
        .env("XDG_STATE_HOME", dir.path().join("state"))
        .output()
        .unwrap();
    support::assert_exit(&out, 0);
    let text = support::stdout(&out);
    assert!(text.contains("now (open)"), "{text}");
    assert!(text.contains("missing  /ConfigMap/default/flags"), "{text}");
    assert!(text.contains("1 episode of sim "), "{text}");
}
