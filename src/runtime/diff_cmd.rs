//! `kdrift diff`: one report of a revision against a cluster or a dump, in local or server
//! mode, as text, JSON or YAML, with the exit status of `kubectl diff`.

use super::settings::{context_server, Settings};
use super::{sync_cmd, EXIT_CLEAN, EXIT_DRIFT};
use crate::cli::{DiffArgs, DiffMode, OutputFormat};
use crate::desired::{self, DesiredSnapshot};
use crate::drift::{self};
use crate::live::{self, cluster};
use crate::report::{self, ReportContext, ReportError};
use anyhow::{anyhow, bail, Context, Result};
use kube::discovery::ApiResource;
use std::io::Write;
use std::time::{Duration, Instant};

pub(crate) fn stage(
    timings: &mut Vec<(&'static str, Duration)>,
    name: &'static str,
    since: Instant,
) {
    timings.push((name, since.elapsed()));
}

/// `kdrift diff`.
pub fn run_diff(settings: &Settings, args: &DiffArgs) -> Result<u8> {
    let mut timings = Vec::new();
    let started = Instant::now();
    let Some(live_path) = settings.live_file.clone() else {
        return run_diff_cluster(settings, args);
    };
    if settings.diff_mode == DiffMode::Server {
        bail!("--diff-mode server needs a cluster; it is not available with --live-file");
    }
    // Git and the live file are independent: read them at the same time.
    let (desired, live) = std::thread::scope(|s| {
        let live_job = s.spawn(|| {
            let t = Instant::now();
            live::load_file(&live_path, settings.live_file_limit).map(|l| (l, t.elapsed()))
        });
        let desired = desired::load(&settings.load);
        let live = live_job.join().unwrap_or_else(|_| {
            Err(live::LiveError::Read {
                path: live_path.display().to_string(),
                message: "the reader thread failed".into(),
            })
        });
        (desired, live)
    });
    let desired = desired?;
    let (live, live_time) = live?;
    timings.push(("read git", desired.timings.read_git));
    timings.push(("parse manifests", desired.timings.parse));
    if desired.files.kustomizations > 0 {
        timings.push(("kustomize", desired.timings.kustomize));
    }
    if desired.files.charts > 0 {
        timings.push(("helm", desired.timings.helm));
    }
    timings.push(("read+parse live file", live_time));

    let t = Instant::now();
    let report = drift::build_report(
        &desired.objects,
        &desired.invalid,
        &live.objects,
        &report_options(settings, &desired),
    );
    stage(&mut timings, "compare", t);
    let mut report = report;
    let t = Instant::now();
    attribute(&desired, &mut report, settings);
    stage(&mut timings, "attribute", t);
    let ctx = report_context(&desired, &live.source, None);
    finish_diff(
        args,
        settings,
        report,
        ctx,
        timings,
        started,
        (desired, live),
    )
}

/// Renders, prints and maps to the exit status; `keep` is left unfreed (the process ends).
pub(crate) fn finish_diff<T>(
    args: &DiffArgs,
    settings: &Settings,
    report: drift::DriftReport,
    ctx: ReportContext,
    mut timings: Vec<(&'static str, Duration)>,
    started: Instant,
    keep: T,
) -> Result<u8> {
    let mut report = report;
    narrow(&mut report, args, settings, &ctx)?;
    let t = Instant::now();
    let rows = args
        .apps_table
        .then(|| report::app_rows(&report, &ctx.apps));
    let text = match (&rows, args.output) {
        (Some(rows), OutputFormat::Text) => report::apps_text(rows),
        (Some(rows), OutputFormat::Json) => {
            serde_json::to_string_pretty(rows).unwrap_or_default() + "\n"
        }
        (Some(rows), OutputFormat::Yaml) => serde_yaml::to_string(rows).unwrap_or_default(),
        (None, _) => match args.output {
            OutputFormat::Text => report::to_text(&report, &ctx),
            OutputFormat::Json => report::to_json(&report, &ctx),
            OutputFormat::Yaml => report::to_yaml(&report, &ctx),
        },
    };
    drop(rows);
    // Values from Git and the cluster never drive the terminal: control characters are
    // made visible (escaped, in JSON and YAML) in everything printed.
    let text = match args.output {
        OutputFormat::Text => crate::text::visible_text(&text),
        OutputFormat::Json | OutputFormat::Yaml => crate::text::escaped_for_json(&text),
    };
    let text = if args.output == OutputFormat::Text && use_color(args.color) {
        std::borrow::Cow::Owned(colored(&text))
    } else {
        text
    };
    stage(&mut timings, "render", t);
    // On a terminal, a text report goes through the pager (as `git diff` does).
    let paged = args.output == OutputFormat::Text
        && !args.no_pager
        && std::io::IsTerminal::is_terminal(&std::io::stdout())
        && super::external::pager_command().is_some();
    let shown = paged
        && super::external::page(&text)
            .map_err(|e| eprintln!("kdrift: {e:#}; printing instead"))
            .is_ok();
    if !shown {
        let mut stdout = std::io::stdout().lock();
        // A closed pipe (`| head`) is not an error worth a message.
        let _ = stdout.write_all(text.as_bytes());
        let _ = stdout.flush();
    }
    for note in &ctx.notes {
        eprintln!("kdrift: note: {}", crate::text::visible_line(note));
    }
    if settings.timings {
        timings.push(("total", started.elapsed()));
        for (name, d) in &timings {
            eprintln!("timing: {name:<22} {:>9.1} ms", d.as_secs_f64() * 1000.0);
        }
    }
    let code = if report.summary().is_clean() {
        EXIT_CLEAN
    } else {
        EXIT_DRIFT
    };
    // The process ends here: freeing tens of thousands of JSON trees one by one would only
    // delay the exit (by up to a tenth of the run at 10,000 resources).
    std::mem::forget((report, keep));
    Ok(code)
}

/// `kdrift diff KEY... --filter S`: only the named resources, only the statuses asked for.
/// Keys resolve kinds the way `kdrift sync` does, against the kinds of the report.
pub(crate) fn narrow(
    report: &mut drift::DriftReport,
    args: &DiffArgs,
    settings: &Settings,
    ctx: &ReportContext,
) -> Result<()> {
    if let Some(app) = &args.app {
        if !ctx.apps.iter().any(|a| &a.name == app) {
            let names: Vec<&str> = ctx.apps.iter().map(|a| a.name.as_str()).collect();
            bail!(
                "--app {}: no such app in the repository ({})",
                crate::text::visible_line(app),
                if names.is_empty() {
                    "it has none".to_string()
                } else {
                    format!("apps: {}", names.join(", "))
                }
            );
        }
        report
            .entries
            .retain(|e| e.app.as_deref() == Some(app.as_str()));
    }
    if let Some(f) = settings.filter {
        // After the keys: a key the filter hides is still a key that exists.
        let keep = |e: &std::sync::Arc<drift::DriftEntry>| f.admits(e);
        narrow_keys(report, args, settings)?;
        report.entries.retain(keep);
        return Ok(());
    }
    narrow_keys(report, args, settings)
}

pub(crate) fn narrow_keys(
    report: &mut drift::DriftReport,
    args: &DiffArgs,
    settings: &Settings,
) -> Result<()> {
    if args.keys.is_empty() {
        return Ok(());
    }
    let kinds: std::collections::BTreeSet<(String, String, bool)> = report
        .entries
        .iter()
        .map(|e| {
            (
                e.key.group.clone(),
                e.key.kind.clone(),
                !e.key.namespace.is_empty(),
            )
        })
        .collect();
    let resolve = |name: &str, group: Option<&str>| -> Option<(String, String, bool)> {
        let name = sync_cmd::short_name_kind(name)
            .unwrap_or(name)
            .to_lowercase();
        kinds
            .iter()
            .filter(|(g, _, _)| group.is_none_or(|want| want == g))
            .find(|(_, k, _)| {
                let lower = k.to_lowercase();
                lower == name || format!("{lower}s") == name
            })
            .cloned()
    };
    let mut wanted = std::collections::HashSet::new();
    for text in &args.keys {
        let key = crate::sync::parse_key(text, &settings.load.default_namespace, &resolve)
            .map_err(|e| anyhow!("{e}"))?;
        if !report.entries.iter().any(|e| e.key == key) {
            bail!(
                "{text}: {} is neither in Git nor among the live objects read",
                key.short_name()
            );
        }
        wanted.insert(key);
    }
    report.entries.retain(|e| wanted.contains(&e.key));
    Ok(())
}

/// Whether `kdrift diff` colours its text: `--color`, and for auto a terminal on stdout
/// and no NO_COLOR.
pub(crate) fn use_color(choice: crate::cli::ColorChoice) -> bool {
    use std::io::IsTerminal;
    match choice {
        crate::cli::ColorChoice::Always => true,
        crate::cli::ColorChoice::Never => false,
        crate::cli::ColorChoice::Auto => {
            std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}

/// The text report coloured as `git diff` colours: removed lines red, added green, hunk
/// headers cyan, file headers and statuses bold. Applied to text already made safe: the
/// only escape sequences in the result are these.
pub(crate) fn colored(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for line in text.split_inclusive('\n') {
        let (body, nl) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        let code = if body.starts_with("--- ") || body.starts_with("+++ ") {
            "1"
        } else if body.starts_with("@@") {
            "36"
        } else if body.starts_with('-') {
            "31"
        } else if body.starts_with('+') {
            "32"
        } else if ["out-of-sync:", "missing:", "extra:", "invalid:", "unknown:"]
            .iter()
            .any(|s| body.starts_with(s))
        {
            "1;33"
        } else {
            ""
        };
        if code.is_empty() || body.is_empty() {
            out.push_str(line);
        } else {
            out.push_str(&format!("\x1b[{code}m{body}\x1b[0m{nl}"));
        }
    }
    out
}

pub(crate) fn report_context(
    desired: &DesiredSnapshot,
    source: &str,
    context: Option<String>,
) -> ReportContext {
    let rev = &desired.revision;
    let mut notes = Vec::new();
    if !desired.worktree_changes.is_empty() {
        let n = desired.worktree_changes.len();
        let shown: Vec<&str> = desired
            .worktree_changes
            .iter()
            .take(5)
            .map(String::as_str)
            .collect();
        notes.push(format!(
            "the working tree has uncommitted changes to {n} manifest file{} ({}{}); kdrift reads \
             commit {} only",
            if n == 1 { "" } else { "s" },
            shown.join(", "),
            if n > 5 { ", …" } else { "" },
            rev.short
        ));
    }
    if !desired.files.skipped.is_empty() {
        notes.push(format!(
            "skipped {} YAML/JSON file{} with no Kubernetes object",
            desired.files.skipped.len(),
            if desired.files.skipped.len() == 1 {
                ""
            } else {
                "s"
            }
        ));
    }
    let errors = desired
        .invalid
        .iter()
        .map(|i| ReportError {
            file: i.source.file.clone(),
            line: i.source.line,
            message: i.message.clone(),
        })
        .collect();
    let branch = rev
        .branch
        .as_deref()
        .map(|b| format!("{b} "))
        .unwrap_or_default();
    ReportContext {
        revision: rev.commit.clone(),
        source: source.to_string(),
        context,
        errors,
        notes,
        revision_label: format!("{branch}{} {:?}", rev.short, rev.subject),
        apps: desired.apps.clone(),
    }
}

/// `kdrift diff` against a cluster: one consistent list per kind (no watch), then the same
/// report as offline; `--diff-mode server` adds a dry run per manifest.
pub(crate) fn run_diff_cluster(settings: &Settings, args: &DiffArgs) -> Result<u8> {
    let started = Instant::now();
    let found = cluster_report(settings)?;
    finish_diff(
        args,
        settings,
        found.report,
        found.ctx,
        found.timings,
        started,
        found.desired,
    )
}

/// One cluster's report, attributed, with its context and stage times.
pub(crate) struct ClusterReport {
    pub report: drift::DriftReport,
    pub ctx: ReportContext,
    pub desired: DesiredSnapshot,
    pub timings: Vec<(&'static str, Duration)>,
}

/// Reads Git and the cluster of `settings` and compares them (see `run_diff_cluster`).
pub(crate) fn cluster_report(settings: &Settings) -> Result<ClusterReport> {
    let mut timings = Vec::new();
    // Git is read while the cluster is reached and discovered, and each kind the files
    // appear to hold is listed as soon as it is seen, beside the reading and parsing.
    let mut load = settings.load.clone();
    // Charts render with the cluster's capabilities: the last run's discovery of this
    // server, if any; checked against the fresh one below.
    if load.capabilities.is_none() {
        load.capabilities = context_server(settings)
            .and_then(|server| cluster::cached_discovery(&load.cache_dir, &server))
            .map(|served| served.capabilities());
    }
    let used_capabilities = load.capabilities.clone();
    let reload = load.clone();
    let (kinds_tx, mut kinds_rx) = tokio::sync::mpsc::unbounded_channel::<(String, String)>();
    let git_job = std::thread::spawn(move || {
        desired::load_with(&load, |kind| {
            let _ = kinds_tx.send(kind);
        })
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let stage = std::sync::Mutex::new("connecting");
    let set_stage = |name: &'static str| {
        if let Ok(mut s) = stage.lock() {
            *s = name;
        }
    };
    let server_name = context_server(settings).unwrap_or_else(|| "the cluster".into());
    let work = async {
        let t = Instant::now();
        let target = cluster::connect_with(
            settings.kubeconfig.as_deref(),
            settings.explicit_context.as_deref(),
            Some(settings.request_timeout),
        )
        .await
        .map_err(with_hint)?;
        set_stage("discovering the cluster's kinds");
        // Discovery is asked every time. A cached one (of an earlier run) only lets the lists
        // start before it answers; what it guessed wrong is listed again below.
        let fresh = {
            let (target, dir) = (target.clone(), settings.load.cache_dir.clone());
            tokio::spawn(async move { cluster::discover_fresh(&target, &dir).await })
        };
        let (guess, mut fresh) =
            match cluster::cached_discovery(&settings.load.cache_dir, &target.server) {
                Some(cached) => (cached, Some(fresh)),
                None => (
                    fresh
                        .await
                        .map_err(|e| anyhow!("discovery failed: {e}"))?
                        .map_err(with_hint)?,
                    None,
                ),
            };
        timings.push((
            if fresh.is_some() {
                "connect (discovery cached)"
            } else {
                "connect+discover"
            },
            t.elapsed(),
        ));
        set_stage("listing live objects");
        // Early lists of the guessed kinds, across namespaces, beside the parsing.
        let early_target = target.clone();
        let early_served = guess.clone();
        let concurrency = settings.concurrency.max(1);
        let early = tokio::spawn(async move {
            let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency));
            let mut guessed: Vec<(ApiResource, bool)> = Vec::new();
            let mut lists = Vec::new();
            while let Some((g, k)) = kinds_rx.recv().await {
                let Some(kind) = early_served.get(&g, &k).cloned() else {
                    continue;
                };
                guessed.push(kind.clone());
                let (target, limit) = (early_target.clone(), limit.clone());
                lists.push(tokio::spawn(async move {
                    let _permit = limit.acquire().await;
                    cluster::list_kinds(&target, &[kind], &std::collections::BTreeSet::new(), 1)
                        .await
                }));
            }
            let mut listing = cluster::Listing::default();
            for list in lists {
                let part = list.await.map_err(|e| anyhow!("listing failed: {e}"))??;
                listing.objects.extend(part.objects);
                listing.unreadable.extend(part.unreadable);
            }
            Ok::<_, anyhow::Error>((guessed, listing))
        });
        let mut desired = tokio::task::block_in_place(|| git_job.join())
            .map_err(|_| anyhow!("the Git reader failed"))??;
        timings.push(("read git", desired.timings.read_git));
        timings.push(("parse manifests", desired.timings.parse));
        let t = Instant::now();
        let served = match fresh.take() {
            Some(fresh) => fresh
                .await
                .map_err(|e| anyhow!("discovery failed: {e}"))?
                .map_err(with_hint)?,
            None => guess,
        };
        timings.push(("discovery (beside the reading)", t.elapsed()));
        if desired.files.charts > 0 && used_capabilities.as_ref() != Some(&served.capabilities()) {
            // Charts were rendered for another cluster (or none): again, for this one.
            let t = Instant::now();
            let mut again = reload.clone();
            again.capabilities = Some(served.capabilities());
            desired = tokio::task::block_in_place(|| desired::load(&again))?;
            timings.push(("render charts for the cluster's capabilities", t.elapsed()));
        }
        desired::rescope(
            &mut desired,
            |g, k| served.get(g, k).map(|(_, ns)| *ns),
            &settings.load.default_namespace,
        );

        let mut coverage = drift::LiveCoverage::default();
        let crds_in_git = desired.crds_by_kind();
        let mut kinds = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for o in &desired.objects {
            let gk = (o.key.group.clone(), o.key.kind.clone());
            if !seen.insert(gk.clone()) {
                continue;
            }
            match served.get(&gk.0, &gk.1) {
                Some((ar, namespaced)) => kinds.push((ar.clone(), *namespaced)),
                None => match crds_in_git.get(&gk) {
                    Some(crd) => {
                        coverage.missing_reason.insert(gk, format!("its CustomResourceDefinition {crd} is not installed in the cluster"));
                    }
                    None => {
                        coverage.unreadable.insert(
                            (gk.0, gk.1, String::new()),
                            "kind not served by the cluster".into(),
                        );
                    }
                },
            }
        }
        let namespaces: std::collections::BTreeSet<String> = desired
            .objects
            .iter()
            .map(|o| o.key.namespace.clone())
            .filter(|n| !n.is_empty())
            .collect();
        let t = Instant::now();
        let (guessed, early) = early.await.map_err(|e| anyhow!("listing failed: {e}"))??;
        // Kinds the guess missed (or listed at another resource than the one served), and
        // guessed kinds whose cluster-wide list was forbidden (those need the namespaces Git
        // uses), are listed now.
        let redo: Vec<(ApiResource, bool)> = kinds
            .iter()
            .filter(|(ar, _)| {
                !guessed.iter().any(|(g, _)| g == ar)
                    || early
                        .unreadable
                        .keys()
                        .any(|(g, k, _)| *g == ar.group && *k == ar.kind)
            })
            .cloned()
            .collect();
        let mut listing =
            cluster::list_kinds(&target, &redo, &namespaces, settings.concurrency).await?;
        let wanted: std::collections::HashSet<(&str, &str)> = kinds
            .iter()
            .map(|(ar, _)| (ar.group.as_str(), ar.kind.as_str()))
            .collect();
        let redone: std::collections::HashSet<(&str, &str)> = redo
            .iter()
            .map(|(ar, _)| (ar.group.as_str(), ar.kind.as_str()))
            .collect();
        listing
            .objects
            .extend(early.objects.into_iter().filter(|o| {
                let gk = (o.key.group.as_str(), o.key.kind.as_str());
                wanted.contains(&gk) && !redone.contains(&gk)
            }));
        timings.push(("list live objects", t.elapsed()));
        coverage.unreadable.extend(listing.unreadable);
        let t = Instant::now();
        let mut report = drift::build_report_with(
            &desired.objects,
            &desired.invalid,
            &listing.objects,
            &coverage,
            &report_options(settings, &desired),
        );
        timings.push(("compare", t.elapsed()));
        if settings.diff_mode == DiffMode::Server {
            set_stage("dry-running the manifests (server mode)");
            let t = Instant::now();
            let live_by_key: std::collections::HashMap<_, _> =
                listing.objects.iter().map(|l| (&l.key, l)).collect();
            let schemas = server_schemas(&desired, live_by_key.values().copied());
            server_mode(
                &target,
                &served,
                &desired,
                &live_by_key,
                &schemas,
                &mut report,
                &ServerRun {
                    field_manager: &settings.field_manager,
                    concurrency: settings.concurrency,
                    drift: &settings.drift,
                },
                &live::server_diff::DryRunCache::default(),
                None,
            )
            .await;
            timings.push(("server dry runs", t.elapsed()));
        }
        Ok::<_, anyhow::Error>((report, target, desired))
    };
    let (report, target, desired) = rt.block_on(with_deadline(
        work,
        settings.request_timeout * DIFF_DEADLINE_FACTOR,
        &server_name,
        &stage,
    ))?;
    // Nothing runs on the runtime any more; do not wait for idle connections to wind down.
    rt.shutdown_background();
    let source = target.server.clone();
    let mut report = report;
    let t = Instant::now();
    attribute(&desired, &mut report, settings);
    timings.push(("attribute", t.elapsed()));
    let ctx = report_context(&desired, &source, Some(target.context.clone()));
    Ok(ClusterReport {
        report,
        ctx,
        desired,
        timings,
    })
}

/// `kdrift diff` against a cluster gives up after this many request timeouts: each request
/// has its own deadline, this one bounds the whole (many kinds, many pages).
pub(crate) const DIFF_DEADLINE_FACTOR: u32 = 10;

/// Runs `work` for at most `deadline`, saying on stderr every few seconds what it is waiting
/// for (when stderr is a terminal), and giving up with an error that names the server and
/// the stage.
pub(crate) async fn with_deadline<T>(
    work: impl std::future::Future<Output = Result<T>>,
    deadline: Duration,
    server: &str,
    stage: &std::sync::Mutex<&'static str>,
) -> Result<T> {
    use std::io::IsTerminal;
    let started = Instant::now();
    let current = || stage.lock().map(|s| *s).unwrap_or("waiting");
    let shown = crate::text::visible_line(server).into_owned();
    let progress = async {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        tick.tick().await;
        loop {
            tick.tick().await;
            if std::io::stderr().is_terminal() {
                eprintln!(
                    "kdrift: waiting for {shown}: {} s so far ({}); gives up after {} s",
                    started.elapsed().as_secs(),
                    current(),
                    deadline.as_secs()
                );
            }
        }
    };
    tokio::select! {
        r = work => r,
        _ = progress => unreachable!("the progress loop never ends"),
        _ = tokio::time::sleep(deadline) => Err(anyhow!(
            "gave up after {} s waiting for {shown} ({}); raise --request-timeout (or config diff.request_timeout) if the cluster is just slow",
            deadline.as_secs(),
            current()
        )),
    }
}

/// The drift options of a one-shot report: in local mode, synced entries need no objects
/// (server mode may still turn them out of sync, and then shows their diff).
pub(crate) fn report_options(
    settings: &Settings,
    desired: &DesiredSnapshot,
) -> drift::DriftOptions {
    let mut opts = drift::DriftOptions {
        drop_synced_objects: settings.diff_mode == DiffMode::Local,
        ..settings.drift.clone()
    };
    opts.tracking.in_git_elsewhere = std::sync::Arc::new(desired.outside_keys());
    opts.tracking.apps = desired.app_tracking(&opts.tracking.apps);
    opts
}

/// Attaches the Git side of attribution (the commit that last changed each drifted field)
/// within a time budget.
pub(crate) fn attribute(
    desired: &DesiredSnapshot,
    report: &mut drift::DriftReport,
    settings: &Settings,
) {
    if report.entries.iter().all(|e| e.fields.is_empty()) {
        return;
    }
    if let Some(mut history) = desired::history::History::open(&desired.repo_path) {
        history.seed(&desired.revision.commit, &desired.texts);
        drift::attribution::attach_commits(
            report,
            &settings.drift.people,
            desired::history::commit_lookup(
                &mut history,
                &desired.revision.commit,
                &desired.recipes,
                Duration::from_secs(3),
            ),
        );
    }
}

/// What to try when no cluster can be used.
pub const NO_CLUSTER_HINT: &str =
    "no cluster at hand? `kdrift demo` runs the explorer on a built-in one; `--live-file FILE` reads a dump (kubectl get -A -o yaml)";

pub(crate) fn with_hint(e: cluster::ClusterError) -> anyhow::Error {
    anyhow!("{e}\nkdrift: hint: {NO_CLUSTER_HINT}")
}

/// Replaces local verdicts with server-mode ones, saying where the two disagree.
/// The CRD schemas server mode compares with: Git's CRDs and the cluster's.
pub(crate) fn server_schemas<'a>(
    desired: &DesiredSnapshot,
    live: impl Iterator<Item = &'a crate::model::LiveObject>,
) -> drift::CrdSchemas {
    drift::CrdSchemas::of(
        desired
            .objects
            .iter()
            .map(|d| (&d.key, &d.object))
            .chain(live.map(|l| (&l.key, &l.object))),
    )
}

/// What server mode needs besides the cluster: how to dry-run and compare.
pub(crate) struct ServerRun<'a> {
    pub field_manager: &'a str,
    pub concurrency: usize,
    pub drift: &'a drift::DriftOptions,
}

/// The dry runs' verdicts over a report made locally (`only`: those keys alone, sorted, after
/// a watch event); each entry the server decided says so (`by_server`).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn server_mode(
    target: &cluster::ClusterTarget,
    served: &cluster::Served,
    desired: &DesiredSnapshot,
    live_by_key: &std::collections::HashMap<&crate::model::ResourceKey, &crate::model::LiveObject>,
    schemas: &drift::CrdSchemas,
    report: &mut drift::DriftReport,
    run: &ServerRun<'_>,
    cache: &live::server_diff::DryRunCache,
    only: Option<&[crate::model::ResourceKey]>,
) {
    use crate::model::DriftStatus;
    let wanted = |k: &crate::model::ResourceKey| only.is_none_or(|o| o.binary_search(k).is_ok());
    // Every manifest is dry-run: those with a live object as an update, the missing ones as
    // a create ("will it succeed?").
    let missing: std::collections::HashSet<&crate::model::ResourceKey> = report
        .entries
        .iter()
        .filter(|e| e.status == DriftStatus::Missing && wanted(&e.key))
        .map(|e| &e.key)
        .collect();
    let git: std::collections::HashMap<&crate::model::ResourceKey, &crate::model::DesiredObject> =
        desired.objects.iter().map(|d| (&d.key, d)).collect();
    let comparable: Vec<(&crate::model::DesiredObject, String)> = git
        .values()
        .filter(|d| wanted(&d.key))
        .filter_map(|d| match live_by_key.get(&d.key) {
            Some(l) => Some((*d, l.resource_version())),
            None if missing.contains(&d.key) => Some((*d, String::new())),
            None => None,
        })
        .collect();
    let results = live::server_diff::dry_run_all(
        target,
        served,
        &comparable,
        run.field_manager,
        run.concurrency,
        cache,
    )
    .await;
    for e in &mut report.entries {
        if !matches!(
            e.status,
            DriftStatus::Synced | DriftStatus::OutOfSync | DriftStatus::Missing
        ) {
            continue;
        }
        let Some(result) = results.get(&e.key) else {
            continue;
        };
        let e = std::sync::Arc::make_mut(e);
        let obj = match result {
            Ok(obj) => obj,
            Err(why) => {
                if why.refused {
                    // Applying it would fail the same way: its own verdict, in the server's
                    // words, and a failure in the exit status.
                    e.status = DriftStatus::Refused;
                    e.reason = Some(format!("the API server refuses it: {}", why.message));
                    e.fields.clear();
                    e.by_server = true;
                } else {
                    e.reason = Some(format!("server dry run failed: {}", why.message));
                }
                continue;
            }
        };
        e.by_server = true;
        let Some(l) = live_by_key.get(&e.key) else {
            // A create the server would take: still missing.
            continue;
        };
        let mut fields = drift::compare_server(&e.key, obj, l, schemas, run.drift);
        if let Some(git) = git.get(&e.key) {
            drift::attribution::attribute_server(&mut fields, &git.object.value(), &e.fields);
        }
        let server_status = if fields.is_empty() {
            DriftStatus::Synced
        } else {
            DriftStatus::OutOfSync
        };
        if server_status != e.status {
            let local: Vec<String> = e.fields.iter().map(|f| f.path.to_string()).collect();
            let server: Vec<String> = fields.iter().map(|f| f.path.to_string()).collect();
            e.reason = Some(format!(
                "local mode says {} ({}); server mode says {} ({})",
                e.status,
                if local.is_empty() {
                    "no fields".into()
                } else {
                    local.join(", ")
                },
                server_status,
                if server.is_empty() {
                    "no fields".into()
                } else {
                    server.join(", ")
                }
            ));
        }
        e.status = server_status;
        e.fields = fields;
    }
}
