//! The fleet: several targets, each a cluster (a kube context, and its kubeconfig) and the
//! part of the repository it runs, compared side by side. `kdrift diff` writes one report
//! with a section per target (text) or a `targets` array (JSON, YAML), then a summary with a
//! column per count, and exits with the worst of the targets. Each target is read on its
//! own thread: a target that cannot be reached is its own section's error, and nothing else
//! changes.

use super::diff_cmd::{self, cluster_report, narrow};
use super::settings::{resolve, Settings};
use super::{EXIT_CLEAN, EXIT_DRIFT, EXIT_ERROR};
use crate::cli::{DiffArgs, GlobalArgs, OutputFormat};
use crate::config::{Config, TargetConfig};
use crate::drift::Summary;
use anyhow::{anyhow, bail, Result};
use serde::Serialize;
use serde_json::Value;
use std::io::Write;

/// One target of the fleet, with its settings resolved.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub settings: Settings,
    /// The apps it runs, when found from the apps' destinations (`None`: everything its
    /// paths hold).
    pub apps: Option<std::collections::BTreeSet<String>>,
}

/// The targets the flags and the configuration name: `--target` (each
/// `NAME=CONTEXT[:PATH[,PATH…]]`), else `--context` given more than once (the same paths on
/// each), else config `targets:` when no `--context` picks one cluster. Fewer than two: no
/// fleet (one target is then the cluster and paths to use).
pub fn targets(global: &GlobalArgs, config: &Config) -> Result<Vec<Target>> {
    let named: Vec<TargetConfig> = if !global.targets.is_empty() {
        if !global.context.is_empty() {
            bail!("--target and --context name clusters two ways: use one of them");
        }
        global
            .targets
            .iter()
            .map(|t| parse_target(t, global))
            .collect::<Result<_>>()?
    } else if global.context.len() > 1 {
        global
            .context
            .iter()
            .map(|c| TargetConfig {
                name: c.clone(),
                context: c.clone(),
                kubeconfig: None,
                paths: Vec::new(),
                read_only: false,
                protect: false,
            })
            .collect()
    } else if global.context.is_empty() && global.live_file.is_none() {
        // A dump is one cluster's: the configuration's fleet is for clusters.
        config.targets.clone()
    } else if let [one] = global.context.as_slice() {
        // One cluster picked by its context (or its target's name): the configured target
        // it is, with its paths (unless --path says), read-only and protect settings.
        config
            .targets
            .iter()
            .find(|t| &t.context == one || &t.name == one)
            .map(|t| {
                let mut t = t.clone();
                if !global.paths.is_empty() {
                    t.paths = Vec::new();
                }
                vec![t]
            })
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    let named_count = named.len();
    for t in named {
        if t.name.is_empty() || !seen.insert(t.name.clone()) {
            bail!(
                "target {:?} is named twice (or not at all): each target needs its own name",
                crate::text::visible_line(&t.name)
            );
        }
        if global.live_file.is_some() && named_count > 1 {
            bail!("--live-file reads one dump; targets read clusters (drop one or the other)");
        }
        let mut g = global.clone();
        g.context = vec![t.context.clone()];
        g.targets = Vec::new();
        if t.kubeconfig.is_some() {
            g.kubeconfig = t.kubeconfig.clone();
        }
        if !t.paths.is_empty() {
            g.paths = t.paths.clone();
        }
        let mut settings = resolve(&g, config)
            .map_err(|e| anyhow!("target {}: {e:#}", crate::text::visible_line(&t.name)))?;
        settings.read_only |= t.read_only;
        settings.protected |= t.protect;
        out.push(Target {
            name: t.name,
            settings,
            apps: None,
        });
    }
    Ok(out)
}

/// The clusters the repository's apps deploy to (`kdrift diff --fleet`), each a target
/// limited to its apps (and the apps they render): an Argo CD Application's destination
/// (`server`, matched to the kube contexts whose cluster has that server; or `name`,
/// matched to a context or a config target of that name), a Flux app under
/// `clusters/<name>/` (the context or config target `<name>`). Config `targets:` fill the
/// gaps and come along; clusters no context matches are said on stderr.
pub fn discover(global: &GlobalArgs, config: &Config) -> Result<Vec<Target>> {
    use std::collections::{BTreeMap, BTreeSet};
    let base = resolve(global, config)?;
    let snapshot = crate::desired::load(&base.load)?;
    let apps = &snapshot.apps;
    // Each app's cluster: its own, else its parent's (children deploy where their parent
    // says, unless they name one).
    let own = |a: &crate::model::App| -> Option<String> {
        match a.kind {
            "Application" if !a.destination.is_empty() => Some(a.destination.clone()),
            "Application" => None,
            _ if !a.destination.is_empty() => None, // a remote kubeconfig: not ours to find
            _ => {
                let mut parts = a.source.file.split('/');
                (parts.next() == Some("clusters"))
                    .then(|| parts.next().map(str::to_string))
                    .flatten()
                    .filter(|n| !n.is_empty() && !n.ends_with(".yaml") && !n.ends_with(".yml"))
                    .map(|n| format!("name:{n}"))
            }
        }
    };
    let mut by_cluster: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for a in apps {
        let mut cur = Some(a);
        let mut cluster = None;
        for _ in 0..16 {
            let Some(c) = cur else { break };
            if let Some(found) = own(c) {
                cluster = Some(found);
                break;
            }
            cur = c.parent.and_then(|p| apps.get(p as usize));
        }
        if let Some(cluster) = cluster {
            by_cluster
                .entry(cluster)
                .or_default()
                .insert(a.name.clone());
        }
    }
    let contexts = crate::live::kubeconfig::context_names(global.kubeconfig.as_deref());
    let server_of = |c: &str| {
        crate::live::kubeconfig::context_server(global.kubeconfig.as_deref(), c)
            .map(|s| s.trim_end_matches('/').to_string())
    };
    let mut out: Vec<Target> = Vec::new();
    let mut unmatched = Vec::new();
    for (cluster, names) in by_cluster {
        let wanted = cluster.strip_prefix("name:").unwrap_or(&cluster);
        // Argo CD names the cluster it runs in `in-cluster`: a config target of that name
        // says which context it is.
        let alias = (wanted.trim_end_matches('/') == "https://kubernetes.default.svc")
            .then_some("in-cluster");
        let configured = config
            .targets
            .iter()
            .find(|t| t.name == wanted || Some(t.name.as_str()) == alias);
        let context = match configured {
            Some(t) => Some(t.context.clone()),
            None if wanted.contains("://") => contexts
                .iter()
                .find(|c| server_of(c).as_deref() == Some(wanted.trim_end_matches('/')))
                .cloned(),
            None => contexts.iter().find(|c| *c == wanted).cloned(),
        };
        let Some(context) = context else {
            unmatched.push(format!(
                "{} ({})",
                crate::text::visible_line(wanted),
                names.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
            continue;
        };
        if out
            .iter()
            .any(|t| t.settings.context.as_deref() == Some(&context))
        {
            unmatched.push(format!(
                "{} (its context {context} is another cluster's too)",
                crate::text::visible_line(wanted)
            ));
            continue;
        }
        // The folders its apps render: objects other clusters' apps declare alike do not
        // conflict with them.
        let folders: BTreeSet<String> = apps
            .iter()
            .filter(|a| names.contains(&a.name))
            .flat_map(|a| a.parts.iter())
            .filter(|p| p.renderer != "unsupported" && !p.path.contains('@'))
            .map(|p| p.path.clone())
            .collect();
        let mut g = global.clone();
        g.context = vec![context.clone()];
        g.targets = Vec::new();
        if !folders.is_empty() && !folders.contains("") && global.paths.is_empty() {
            g.paths = folders.into_iter().collect();
        }
        if let Some(kc) = configured.and_then(|t| t.kubeconfig.clone()) {
            g.kubeconfig = Some(kc);
        }
        let mut settings = resolve(&g, config)?;
        if let Some(t) = configured {
            settings.read_only |= t.read_only;
            settings.protected |= t.protect;
        }
        out.push(Target {
            name: configured.map(|t| t.name.clone()).unwrap_or(context),
            settings,
            apps: Some(names),
        });
    }
    // Configured targets the apps did not name come along whole.
    for t in targets(
        &GlobalArgs {
            context: Vec::new(),
            ..global.clone()
        },
        config,
    )? {
        if !out.iter().any(|o| o.name == t.name) {
            out.push(t);
        }
    }
    if !unmatched.is_empty() {
        eprintln!(
            "kdrift: note: no kube context for {}: name them under targets: in the config",
            unmatched.join("; ")
        );
    }
    if out.is_empty() {
        bail!("--fleet: the repository's apps name no cluster a kube context or config target matches");
    }
    Ok(out)
}

/// `NAME=CONTEXT[:PATH[,PATH…]]`. A context may itself hold `:` (EKS names its contexts by
/// ARN): the whole text after `=` is the context when the kubeconfig has one of that name,
/// else it is split at its last `:`.
fn parse_target(text: &str, global: &GlobalArgs) -> Result<TargetConfig> {
    let Some((name, rest)) = text.split_once('=') else {
        bail!(
            "--target {:?}: expected NAME=CONTEXT[:PATH[,PATH…]]",
            crate::text::visible_line(text)
        );
    };
    let contexts = crate::live::kubeconfig::context_names(global.kubeconfig.as_deref());
    let (context, paths) = if contexts.iter().any(|c| c == rest) {
        (rest, "")
    } else {
        rest.rsplit_once(':').unwrap_or((rest, ""))
    };
    if name.trim().is_empty() || context.trim().is_empty() {
        bail!(
            "--target {:?}: expected NAME=CONTEXT[:PATH[,PATH…]]",
            crate::text::visible_line(text)
        );
    }
    Ok(TargetConfig {
        name: name.trim().to_string(),
        context: context.trim().to_string(),
        kubeconfig: None,
        paths: paths
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect(),
        read_only: false,
        protect: false,
    })
}

/// What one target gave.
struct Outcome {
    name: String,
    context: String,
    server: String,
    result: Result<(Summary, String, Value), String>,
}

#[derive(Serialize)]
struct JsonTarget<'a> {
    name: &'a str,
    context: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    server: &'a str,
    /// `clean`, `drifted` or `error`.
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    report: Option<&'a Value>,
}

impl Outcome {
    fn status(&self) -> &'static str {
        match &self.result {
            Ok((s, ..)) if s.is_clean() => "clean",
            Ok(_) => "drifted",
            Err(_) => "error",
        }
    }

    fn code(&self) -> u8 {
        match self.status() {
            "clean" => EXIT_CLEAN,
            "drifted" => EXIT_DRIFT,
            _ => EXIT_ERROR,
        }
    }
}

/// `kdrift diff` over several targets.
pub fn run_diff(targets: &[Target], args: &DiffArgs) -> Result<u8> {
    if args.apps_table {
        bail!("kdrift apps lists one cluster's apps: pick one target with --context");
    }
    // A few targets at a time: each holds its Git state and live objects only while it is
    // compared (what it keeps is its report's text and counts), so memory stays that of a
    // few clusters however many there are; a slow or unreachable one holds up one worker.
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(2, 8)
        .min(targets.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut outcomes: Vec<(usize, Outcome)> = std::thread::scope(|scope| {
        let jobs: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(t) = targets.get(i) else { break };
                        let outcome =
                            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| one(t, args)))
                                .unwrap_or_else(|_| Outcome {
                                    name: t.name.clone(),
                                    context: t.settings.context.clone().unwrap_or_default(),
                                    server: String::new(),
                                    result: Err("kdrift failed reading this target".into()),
                                });
                        done.push((i, outcome));
                    }
                    done
                })
            })
            .collect();
        jobs.into_iter()
            .flat_map(|j| j.join().unwrap_or_default())
            .collect()
    });
    outcomes.sort_by_key(|(i, _)| *i);
    let outcomes: Vec<Outcome> = outcomes.into_iter().map(|(_, o)| o).collect();
    let text = match args.output {
        OutputFormat::Text => {
            let mut out = String::new();
            for o in &outcomes {
                out.push_str(&format!(
                    "=== target {} · context {}{} ===\n",
                    o.name,
                    o.context,
                    if o.server.is_empty() {
                        String::new()
                    } else {
                        format!(" · {}", o.server)
                    }
                ));
                match &o.result {
                    Ok((_, text, _)) => out.push_str(text),
                    Err(e) => out.push_str(&format!("error: {e}\n")),
                }
                out.push('\n');
            }
            out.push_str(&summary_table(&outcomes));
            out
        }
        OutputFormat::Json | OutputFormat::Yaml => {
            let list: Vec<JsonTarget> = outcomes
                .iter()
                .map(|o| JsonTarget {
                    name: &o.name,
                    context: &o.context,
                    server: &o.server,
                    status: o.status(),
                    error: o.result.as_ref().err().map(String::as_str),
                    report: o.result.as_ref().ok().map(|(_, _, v)| v),
                })
                .collect();
            let doc = serde_json::json!({ "targets": list });
            if args.output == OutputFormat::Json {
                serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
            } else {
                serde_yaml::to_string(&doc).unwrap_or_default()
            }
        }
    };
    let text = match args.output {
        OutputFormat::Text => crate::text::visible_text(&text),
        OutputFormat::Json | OutputFormat::Yaml => crate::text::escaped_for_json(&text),
    };
    let text = if args.output == OutputFormat::Text && diff_cmd::use_color(args.color) {
        std::borrow::Cow::Owned(diff_cmd::colored(&text))
    } else {
        text
    };
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
    Ok(outcomes
        .iter()
        .map(Outcome::code)
        .max()
        .unwrap_or(EXIT_CLEAN))
}

/// Reads and compares one target; its errors are its own.
fn one(t: &Target, args: &DiffArgs) -> Outcome {
    let context = t.settings.context.clone().unwrap_or_default();
    let server = super::settings::context_server(&t.settings).unwrap_or_default();
    let result = cluster_report(&t.settings)
        .and_then(|mut found| {
            if let Some(apps) = &t.apps {
                found
                    .report
                    .entries
                    .retain(|e| e.app.as_deref().is_some_and(|a| apps.contains(a)));
            }
            narrow(&mut found.report, args, &t.settings, &found.ctx)?;
            let summary = found.report.summary();
            let text = match args.output {
                OutputFormat::Text => crate::report::to_text(&found.report, &found.ctx),
                _ => String::new(),
            };
            let json = match args.output {
                OutputFormat::Text => Value::Null,
                _ => serde_json::from_str(&crate::report::to_json(&found.report, &found.ctx))
                    .unwrap_or(Value::Null),
            };
            Ok((summary, text, json))
        })
        .map_err(|e| format!("{e:#}"));
    Outcome {
        name: t.name.clone(),
        context,
        server,
        result,
    }
}

/// The column summary: a row per target, its counts and whether it drifted.
fn summary_table(outcomes: &[Outcome]) -> String {
    let headers = [
        "target",
        "context",
        "synced",
        "out-of-sync",
        "missing",
        "extra",
        "unknown",
        "invalid",
        "status",
    ];
    let rows: Vec<Vec<String>> = outcomes
        .iter()
        .map(|o| {
            // Escaped here, where widths are measured (a name with a control character is
            // longer shown than read).
            let shown = |t: &str| crate::text::visible_line(t).into_owned();
            let mut row = vec![shown(&o.name), shown(&o.context)];
            match &o.result {
                Ok((s, ..)) => row.extend(
                    [
                        s.synced,
                        s.out_of_sync,
                        s.missing,
                        s.extra,
                        s.unknown,
                        s.invalid,
                    ]
                    .iter()
                    .map(|n| n.to_string()),
                ),
                Err(_) => row.extend(std::iter::repeat_n("-".to_string(), 6)),
            }
            row.push(o.status().to_string());
            row
        })
        .collect();
    let widths: Vec<usize> = (0..headers.len())
        .map(|i| {
            rows.iter()
                .map(|r| unicode_width::UnicodeWidthStr::width(r[i].as_str()))
                .chain([headers[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[&str]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            // Names left, counts right (padded to their width on screen).
            let pad =
                " ".repeat(widths[i].saturating_sub(unicode_width::UnicodeWidthStr::width(*c)));
            if (2..8).contains(&i) {
                s.push_str(&pad);
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&pad);
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let drifted: Vec<std::borrow::Cow<str>> = outcomes
        .iter()
        .filter(|o| o.status() != "clean")
        .map(|o| crate::text::visible_line(&o.name))
        .collect();
    let mut out = format!(
        "fleet: {} targets, {}\n",
        outcomes.len(),
        if drifted.is_empty() {
            "all clean".to_string()
        } else {
            format!("not clean: {}", drifted.join(", "))
        }
    );
    out.push_str(&line(&headers));
    for r in &rows {
        let cells: Vec<&str> = r.iter().map(String::as_str).collect();
        out.push_str(&line(&cells));
    }
    out
}

/// The explorer over several targets: the fleet matrix (`app::fleet`), each target's
/// sources (Git watcher, watches, recompute) started as for one cluster, each on its own:
/// a target that is down greys its own column and nothing else. Read-only: syncs are made
/// per target, in the explorer on that one cluster (`--context`).
/// How the matrix ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FleetEnd {
    Exit(u8),
    /// `o`: the explorer on this target, then back to the matrix.
    Open(usize),
    /// `s`: these resources synced target by target, then back to the matrix.
    Sync(Vec<(usize, Vec<crate::model::ResourceKey>)>),
}

pub fn explore(targets: &[Target], look: crate::app::Look) -> Result<FleetEnd> {
    use crate::app::fleet::{Column, FleetEffect, FleetMsg, FleetState};
    use crate::app::Msg;
    use crossterm::event::{Event, EventStream, KeyEventKind};
    use futures::StreamExt;
    use std::time::{Duration, Instant, SystemTime};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| anyhow!("starting the async runtime: {e}"))?;
    let code = rt.block_on(async {
        let _log = super::log::init_logging();
        crate::live::exec::terminal_owned();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<FleetMsg>();
        let mut columns = Vec::new();
        let mut refreshers = Vec::new();
        let mut connections = Vec::new();
        for (i, t) in targets.iter().enumerate() {
            // The matrix opens drifted resources only: synced ones need no objects.
            let mut settings = t.settings.clone();
            settings.drift.drop_synced_objects = true;
            settings.partial_reports = false;
            let started = super::sources::start(&settings, true);
            columns.push(Column::new(&t.name, &started.context, &started.server));
            refreshers.push((started.git_refresh_tx.clone(), started.live_refresh_tx.clone()));
            connections.push(started.connected_rx.clone());
            let tx = tx.clone();
            let mut ui_rx = started.ui_rx;
            // Keep the target's other ends alive as long as its messages flow.
            let keep = (started.ui_tx, started.connected_rx, started.desired_rx);
            tokio::spawn(async move {
                let _keep = keep;
                // The target's report as of its engine's last update (which may carry only
                // what changed).
                let mut current = crate::drift::DriftReport::default();
                while let Some(msg) = ui_rx.recv().await {
                    let out = match msg {
                        Msg::Report(u) => {
                            let u = *u;
                            u.body.apply(&mut current);
                            FleetMsg::Report(i, Box::new(current.clone()), u.live)
                        }
                        Msg::Live(l) => FleetMsg::Live(i, l),
                        Msg::GitProblem(p) => FleetMsg::GitProblem(i, p),
                        _ => continue,
                    };
                    if tx.send(out).is_err() {
                        return;
                    }
                }
            });
        }
        let mut state = FleetState::new(columns, look, SystemTime::now());
        let mut signals = super::terminal::ending_signals();
        let (_guard, mut terminal) = super::terminal::take(false)?;
        let size = terminal.size()?;
        state.update(FleetMsg::Resize(size.width, size.height));
        let mut input = EventStream::new();
        let frame = Duration::from_millis(33);
        let mut dirty = true;
        let mut last_draw = Instant::now() - frame;
        loop {
            if dirty && last_draw.elapsed() >= frame {
                terminal.draw(|f| crate::ui::fleet::draw(f, &state))?;
                last_draw = Instant::now();
                dirty = false;
            }
            let wake = if dirty {
                last_draw + frame
            } else {
                Instant::now() + Duration::from_secs(1)
            };
            let msg = tokio::select! {
                ev = input.next() => match ev {
                    Some(Ok(Event::Key(k))) if k.kind != KeyEventKind::Release => {
                        super::explorer::key_of(k.code, k.modifiers).map(FleetMsg::Key)
                    }
                    Some(Ok(Event::Resize(w, h))) => Some(FleetMsg::Resize(w, h)),
                    Some(Ok(_)) => None,
                    Some(Err(e)) => return Err(anyhow!("reading the terminal: {e}")),
                    None => return Ok(FleetEnd::Exit(EXIT_CLEAN)),
                },
                m = rx.recv() => m,
                _ = tokio::time::sleep_until(wake.into()) => Some(FleetMsg::Tick(SystemTime::now())),
                n = super::terminal::next_signal(&mut signals) => return Ok(FleetEnd::Exit(128 + n)),
            };
            let Some(msg) = msg else { continue };
            let tick = matches!(msg, FleetMsg::Tick(_));
            for effect in state.update(msg) {
                match effect {
                    FleetEffect::Quit => return Ok(FleetEnd::Exit(EXIT_CLEAN)),
                    FleetEffect::Open(i) => return Ok(FleetEnd::Open(i)),
                    FleetEffect::Sync(plan) => return Ok(FleetEnd::Sync(plan)),
                    FleetEffect::Compare { key, columns } => {
                        let read = |i: usize| {
                            let conn = connections.get(i).and_then(|c| c.borrow().clone());
                            let show_secrets = targets
                                .get(i)
                                .is_some_and(|t| t.settings.drift.show_secrets);
                            let key = key.clone();
                            async move {
                                let Some(conn) = conn else {
                                    return Err("not connected to its cluster (yet)".to_string());
                                };
                                let live = conn.get(&key).await?;
                                Ok(live.map(|o| {
                                    let mut v = o.value();
                                    crate::drift::normalize::normalize(&key.group, &key.kind, &mut v);
                                    if key.group.is_empty() && key.kind == "Secret" && !show_secrets {
                                        crate::drift::mask_object(&mut v);
                                    }
                                    v
                                }))
                            }
                        };
                        let (a, b) = (read(columns.0), read(columns.1));
                        let tx = tx.clone();
                        tokio::spawn(async move {
                            let objects = Box::new(tokio::join!(a, b));
                            let _ = tx.send(FleetMsg::Compared {
                                key,
                                columns,
                                objects,
                            });
                        });
                    }
                    FleetEffect::Refresh => {
                        for (git, live) in &refreshers {
                            let _ = git.send(super::sources::GitRefresh::User);
                            let _ = live.send(super::sources::SourceCmd::Refresh);
                        }
                    }
                }
            }
            dirty |= !tick;
        }
    });
    rt.shutdown_background();
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names are escaped before the columns are measured, and measured by their width on
    /// screen: every row's status starts where the header's does.
    #[test]
    fn the_summary_stays_aligned_with_escaped_and_wide_names() {
        let outcome = |name: &str, drifted: usize| Outcome {
            name: name.into(),
            context: format!("ctx-{name}"),
            server: String::new(),
            result: Ok((
                Summary {
                    synced: 3,
                    out_of_sync: drifted,
                    ..Summary::default()
                },
                String::new(),
                Value::Null,
            )),
        };
        let table = summary_table(&[
            outcome("prod", 1),
            outcome("a\u{1b}[31mred", 0),
            outcome("東京", 12),
            Outcome {
                result: Err("unreachable".into()),
                ..outcome("dr", 0)
            },
        ]);
        assert!(!table.contains('\u{1b}'), "{table}");
        let lines: Vec<&str> = table.lines().skip(1).collect();
        let status_at = |line: &str| {
            let at = line
                .find("status")
                .or_else(|| line.find("clean"))
                .or_else(|| line.find("drifted"))
                .or_else(|| line.find("error"))
                .unwrap();
            unicode_width::UnicodeWidthStr::width(&line[..at])
        };
        let header = status_at(lines[0]);
        for l in &lines[1..] {
            assert_eq!(status_at(l), header, "{table}");
        }
        assert!(
            table.starts_with("fleet: 4 targets, not clean: prod, 東京, dr"),
            "{table}"
        );
    }
}
