//! `kdrift watch`: the explorer's live engine (the same sources and recompute thread)
//! without a terminal, for days. Each change is a JSON line on stdout (`watch::WatchEvent`);
//! `--metrics-addr` serves Prometheus metrics and `/healthz`; a resource out of sync or
//! degraded for longer than `--for` is notified once per episode (and when it converges) to
//! `--notify-exec` commands (the event on stdin) and `--notify-webhook` URLs (POSTed, retried
//! with backoff). It never writes to the cluster.

use super::Settings;
use crate::app::{LiveState, Msg};
use crate::cli::WatchArgs;
use crate::watch::metrics::Metrics;
use crate::watch::{WatchEvent, WatchOptions, Watcher};
use anyhow::{Context, Result};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How many times a webhook is tried, and the first pause between tries (doubled each time).
const WEBHOOK_TRIES: u32 = 5;
const WEBHOOK_BACKOFF: Duration = Duration::from_secs(1);
/// How long a notification command or one webhook request may take.
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(30);

pub fn run(settings: &Settings, args: &WatchArgs) -> Result<u8> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let code = rt.block_on(watch(settings, args))?;
    rt.shutdown_background();
    Ok(code)
}

/// Where notifications go.
struct Notifier {
    exec: Vec<String>,
    webhooks: Vec<String>,
    metrics: Arc<Metrics>,
}

impl Notifier {
    /// Delivers one notification on every channel, each on its own task (a slow webhook
    /// holds nothing else).
    fn deliver(&self, event: &WatchEvent) {
        let body = event.to_line();
        for cmd in &self.exec {
            let cmd = cmd.clone();
            let body = body.clone();
            let metrics = Arc::clone(&self.metrics);
            tokio::task::spawn_blocking(move || {
                let ok = run_exec(&cmd, &body);
                metrics.notification("exec", ok);
            });
        }
        for url in &self.webhooks {
            let url = url.clone();
            let body = body.clone();
            let metrics = Arc::clone(&self.metrics);
            tokio::spawn(async move {
                let ok = post_with_retries(&url, body).await;
                metrics.notification("webhook", ok);
            });
        }
    }
}

/// Runs a notification command with the event on stdin; says on stderr when it fails.
fn run_exec(cmd: &str, body: &str) -> bool {
    let mut command = std::process::Command::new("sh");
    command.arg("-c").arg(cmd);
    let input: Arc<[u8]> = Arc::from(format!("{body}\n").into_bytes());
    match crate::process::run(
        command,
        crate::process::Io::Input(input),
        NOTIFY_TIMEOUT,
        64 * 1024,
        16 * 1024,
    ) {
        Ok(out) if out.status.success() => true,
        Ok(out) => {
            tracing::warn!(status = %out.status, "notification command failed");
            eprintln!(
                "kdrift: notification command {:?} ended with {}: {}",
                crate::text::visible_line(cmd),
                out.status,
                crate::text::visible_line(String::from_utf8_lossy(&out.stderr).trim())
            );
            false
        }
        Err(e) => {
            eprintln!("kdrift: {}", crate::text::visible_line(&e.to_string()));
            false
        }
    }
}

/// POSTs the event, retrying with exponential backoff on errors and non-2xx answers.
async fn post_with_retries(url: &str, body: String) -> bool {
    let mut pause = WEBHOOK_BACKOFF;
    for attempt in 1..=WEBHOOK_TRIES {
        match post(url, body.clone()).await {
            Ok(()) => return true,
            Err(e) => {
                tracing::warn!(attempt, error = %e, "webhook failed");
                if attempt == WEBHOOK_TRIES {
                    eprintln!(
                        "kdrift: webhook {}: {e} (gave up after {WEBHOOK_TRIES} tries)",
                        crate::text::visible_line(url)
                    );
                    return false;
                }
            }
        }
        tokio::time::sleep(pause).await;
        pause *= 2;
    }
    false
}

async fn post(url: &str, body: String) -> Result<(), String> {
    use http_body_util::Full;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| format!("no TLS roots: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Full<bytes::Bytes>> = Client::builder(TokioExecutor::new()).build(https);
    let request = http::Request::post(url)
        .header("content-type", "application/json")
        .header("user-agent", concat!("kdrift/", env!("CARGO_PKG_VERSION")))
        .body(Full::new(bytes::Bytes::from(body)))
        .map_err(|e| format!("not a URL: {e}"))?;
    let answer = tokio::time::timeout(NOTIFY_TIMEOUT, client.request(request))
        .await
        .map_err(|_| format!("no answer within {} s", NOTIFY_TIMEOUT.as_secs()))?
        .map_err(|e| e.to_string())?;
    if answer.status().is_success() {
        Ok(())
    } else {
        Err(format!("answered {}", answer.status()))
    }
}

/// Serves `/metrics` and `/healthz` (HTTP/1.1, one request per connection).
async fn serve(listener: tokio::net::TcpListener, metrics: Arc<Metrics>, ready: Arc<AtomicBool>) {
    loop {
        let Ok((mut socket, _)) = listener.accept().await else {
            continue;
        };
        let metrics = Arc::clone(&metrics);
        let ready = Arc::clone(&ready);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 8192];
            let mut used = 0;
            // The request line and headers, at most 8 KiB, within 5 s.
            let read = tokio::time::timeout(Duration::from_secs(5), async {
                while used < buf.len() {
                    let n = socket.read(&mut buf[used..]).await.ok()?;
                    if n == 0 {
                        break;
                    }
                    used += n;
                    if buf[..used].windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                Some(())
            })
            .await;
            if !matches!(read, Ok(Some(()))) {
                return;
            }
            let head = String::from_utf8_lossy(&buf[..used]);
            let mut parts = head.lines().next().unwrap_or("").split_whitespace();
            let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let path = path.split('?').next().unwrap_or("");
            let (status, kind, body) = match (method, path) {
                ("GET", "/metrics") => (
                    "200 OK",
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    metrics.render(),
                ),
                ("GET", "/healthz") if ready.load(Ordering::Relaxed) => {
                    ("200 OK", "text/plain", "ok\n".to_string())
                }
                ("GET", "/healthz") => (
                    "503 Service Unavailable",
                    "text/plain",
                    "waiting for the first complete report\n".to_string(),
                ),
                ("GET", _) => ("404 Not Found", "text/plain", "not found\n".to_string()),
                _ => (
                    "405 Method Not Allowed",
                    "text/plain",
                    "GET only\n".to_string(),
                ),
            };
            let answer = format!(
                "HTTP/1.1 {status}\r\ncontent-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(answer.as_bytes()).await;
            let _ = socket.shutdown().await;
        });
    }
}

/// `:9464` means every interface, as Prometheus exporters take it.
fn listen_address(text: &str) -> String {
    if text.starts_with(':') {
        format!("0.0.0.0{text}")
    } else {
        text.to_string()
    }
}

async fn watch(settings: &Settings, args: &WatchArgs) -> Result<u8> {
    super::log::init_logging();
    let metrics = Arc::new(Metrics::new(if args.no_resource_metrics {
        0
    } else {
        args.resource_series
    }));
    let ready = Arc::new(AtomicBool::new(false));
    if let Some(addr) = &args.metrics_addr {
        let addr = listen_address(addr);
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .with_context(|| format!("--metrics-addr {addr}: cannot listen"))?;
        let local = listener.local_addr()?;
        eprintln!("kdrift: metrics on http://{local}/metrics");
        tokio::spawn(serve(listener, Arc::clone(&metrics), Arc::clone(&ready)));
    }
    let notifier = Notifier {
        exec: args.notify_exec.clone(),
        webhooks: args.notify_webhook.clone(),
        metrics: Arc::clone(&metrics),
    };
    // Read-only: `kdrift watch` never writes.
    let mut sources = super::sources::start(settings, true);
    eprintln!(
        "kdrift: watching {} ({}); events on stdout, notifications after {} s",
        crate::text::visible_line(&sources.context),
        crate::text::visible_line(&sources.server),
        args.alert_after.as_secs()
    );
    let mut watcher = Watcher::new(WatchOptions {
        alert_after: args.alert_after,
    });
    let history_path = args
        .history
        .clone()
        .unwrap_or_else(crate::history::default_path);
    let mut history = match crate::history::History::open(
        &history_path,
        &history_context(&sources.context, &sources.server),
        unix_now(),
    ) {
        Ok(h) => {
            match h.open_episodes() {
                Ok(open) => watcher.resume(open),
                Err(e) => eprintln!("kdrift: history: {}", crate::text::visible_line(&e)),
            }
            Some(h)
        }
        Err(e) => {
            eprintln!(
                "kdrift: no drift history ({}): episodes start anew at each restart",
                crate::text::visible_line(&e)
            );
            None
        }
    };
    let mut signals = super::terminal::ending_signals();
    let emit = |events: Vec<WatchEvent>, history: &Option<crate::history::History>| {
        let mut out = std::io::stdout().lock();
        for e in events {
            metrics.event(&e);
            if let (WatchEvent::Alert { resource, .. }, Some(h)) = (&e, history) {
                let _ = h.mark_alerted(resource);
            }
            // A closed stdout (the reader went away) does not stop the metrics.
            let _ = writeln!(out, "{}", e.to_line());
            if e.is_notification() {
                notifier.deliver(&e);
            }
        }
        let _ = out.flush();
    };
    let mut last: Option<(crate::drift::DriftReport, String)> = None;
    // The engine's report as of its last update (updates may carry only what changed).
    let mut current = crate::drift::DriftReport::default();
    loop {
        let wake = watcher
            .next_due()
            .and_then(|d| d.duration_since(SystemTime::now()).ok())
            .unwrap_or(Duration::from_secs(1))
            .min(Duration::from_secs(1));
        tokio::select! {
            msg = sources.ui_rx.recv() => {
                let now = SystemTime::now();
                match msg {
                    None => return Ok(super::EXIT_ERROR),
                    Some(Msg::Report(update)) => {
                        let update = *update;
                        update.body.apply(&mut current);
                        let complete = update.live.is_complete();
                        let mut events = watcher.on_report(
                            &current,
                            &update.revision.commit,
                            &update.revision.subject,
                            complete,
                            now,
                        );
                        events.extend(connection(&mut watcher, &update.live, &metrics, now));
                        if complete {
                            if let Some(h) = history.as_mut() {
                                if let Err(e) = h.record(&crate::history::Sightings::of(&current), unix_now()) {
                                    tracing::warn!(error = %e, "history not recorded");
                                }
                            }
                            metrics.observe(&current, &watcher, &update.revision.commit, now);
                            ready.store(true, Ordering::Relaxed);
                            last = Some((current.clone(), update.revision.commit));
                        }
                        emit(events, &history);
                    }
                    Some(Msg::Live(live)) => emit(connection(&mut watcher, &live, &metrics, now), &history),
                    Some(Msg::GitProblem(Some(problem))) => {
                        eprintln!("kdrift: Git: {}", crate::text::visible_line(&problem));
                    }
                    Some(_) => {}
                }
            }
            _ = tokio::time::sleep(wake) => {
                let now = SystemTime::now();
                emit(watcher.tick(now), &history);
                // Ages move on between reports: the per-resource gauge too.
                if let Some((report, commit)) = &last {
                    metrics.observe(report, &watcher, commit, now);
                }
            }
            n = super::terminal::next_signal(&mut signals) => {
                tracing::info!(signal = n, "watch ended by a signal");
                // SIGTERM and SIGINT are how a service manager stops it: a clean end.
                return Ok(if n == 15 || n == 2 { super::EXIT_CLEAN } else { 128 + n });
            }
        }
    }
}

/// The history's name for a cluster: its context and server (two kubeconfigs may name
/// different clusters alike).
pub fn history_context(context: &str, server: &str) -> String {
    format!("{context} {server}")
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64
}

/// Connection news from a live state, and the metric.
fn connection(
    watcher: &mut Watcher,
    live: &LiveState,
    metrics: &Metrics,
    now: SystemTime,
) -> Vec<WatchEvent> {
    match live {
        LiveState::Connected { .. } | LiveState::File { .. } => {
            metrics.connection(true);
            watcher.on_connection(true, "", now)
        }
        LiveState::Reconnecting { error, .. } | LiveState::Unreachable { error } => {
            metrics.connection(false);
            watcher.on_connection(false, error, now)
        }
        LiveState::Connecting | LiveState::Waiting { .. } => Vec::new(),
    }
}

/// The history's name for the cluster (or live file) the settings point at.
pub fn settings_history_context(settings: &Settings) -> String {
    match &settings.live_file {
        Some(p) => history_context("(offline)", &p.display().to_string()),
        None => history_context(
            settings.context.as_deref().unwrap_or("(no context)"),
            &super::context_server(settings).unwrap_or_else(|| "(no server)".into()),
        ),
    }
}

/// `kdrift history [KEY]`: the episodes of this cluster, newest first.
pub fn history(settings: &Settings, args: &crate::cli::HistoryArgs) -> Result<u8> {
    let path = args
        .history
        .clone()
        .unwrap_or_else(crate::history::default_path);
    let context = settings_history_context(settings);
    let h = crate::history::History::open(&path, &context, unix_now())
        .map_err(|e| anyhow::anyhow!("history {}: {e}", path.display()))?;
    let episodes = h
        .list(args.key.as_deref(), args.limit)
        .map_err(|e| anyhow::anyhow!("history {}: {e}", path.display()))?;
    let mut out = String::new();
    match args.output {
        crate::cli::OutputFormat::Json | crate::cli::OutputFormat::Yaml => {
            let text = if args.output == crate::cli::OutputFormat::Json {
                serde_json::to_string_pretty(&episodes).unwrap_or_default() + "\n"
            } else {
                serde_yaml::to_string(&episodes).unwrap_or_default()
            };
            out.push_str(&crate::text::escaped_for_json(&text));
        }
        crate::cli::OutputFormat::Text => {
            let now = unix_now();
            for e in &episodes {
                let lasted = e.end.unwrap_or(now) - e.start;
                let span = match e.end {
                    Some(end) => format!(
                        "{} → {}",
                        crate::timefmt::rfc3339(e.start),
                        crate::timefmt::rfc3339(end)
                    ),
                    None => format!("{} → now (open)", crate::timefmt::rfc3339(e.start)),
                };
                let mut why = Vec::new();
                if let Some(h) = &e.health {
                    if h != "healthy" {
                        why.push(h.clone());
                    }
                }
                if let Some(c) = &e.cause {
                    why.push(c.clone());
                }
                if let Some(o) = &e.owner {
                    why.push(format!("by {o}"));
                }
                if let Some(c) = &e.commit {
                    why.push(format!("git {}", &c[..c.len().min(7)]));
                }
                out.push_str(&format!(
                    "{span} ({})  {}  {}\n",
                    crate::app::ages::age_secs(
                        SystemTime::UNIX_EPOCH + Duration::from_secs(lasted.max(0) as u64),
                        0
                    ),
                    e.status,
                    e.resource
                ));
                if !e.fields.is_empty() || !why.is_empty() {
                    out.push_str(&format!(
                        "    {}{}{}\n",
                        e.fields.join(", "),
                        if e.fields.is_empty() || why.is_empty() {
                            ""
                        } else {
                            "  ·  "
                        },
                        why.join(" · ")
                    ));
                }
            }
            out.push_str(&format!(
                "{} episode{} of {} ({})\n",
                episodes.len(),
                if episodes.len() == 1 { "" } else { "s" },
                context,
                path.display()
            ));
            out = crate::text::visible_text(&out).into_owned();
        }
    }
    print!("{out}");
    Ok(super::EXIT_CLEAN)
}
