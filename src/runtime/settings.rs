//! Settings: flags, configuration and the environment resolved into what the commands need,
//! and the explorer's options.

use super::explorer;
use crate::cli::{DiffMode, GlobalArgs};
use crate::config::Config;
use crate::desired::LoadOptions;
use crate::drift::{DriftOptions, IgnoreRule, LabelSelector, Tracking};
use crate::live::{self};
use crate::path::FieldPath;
use anyhow::{anyhow, bail, Context, Result};
use std::path::PathBuf;
use std::time::Duration;

/// Flags and configuration resolved into what the commands need.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Whether the explorer shows reports while the first lists still come in (every 2 s);
    /// the fleet matrix waits for each target's complete one instead (20 targets comparing
    /// everything every 2 s would slow each other down).
    pub partial_reports: bool,
    pub load: LoadOptions,
    pub drift: DriftOptions,
    pub live_file: Option<PathBuf>,
    pub kubeconfig: Option<PathBuf>,
    /// The kube context asked for (`--context`), else the kubeconfig's current one.
    pub context: Option<String>,
    pub explicit_context: Option<String>,
    pub diff_mode: DiffMode,
    pub field_manager: String,
    pub concurrency: usize,
    pub timings: bool,
    /// Writes are off: `--read-only`, config `read_only`, or the context matches
    /// `read_only_contexts`.
    pub read_only: bool,
    /// The context matches a `protect` pattern: confirmations ask to type its name.
    pub protected: bool,
    pub protect_patterns: Vec<String>,
    /// How long to wait for the cluster's answers (`--request-timeout`, config
    /// diff.request_timeout).
    pub request_timeout: Duration,
    /// The largest live dump read.
    pub live_file_limit: u64,
    /// `--filter`: the statuses shown (`kdrift diff` lists only these; the explorer starts
    /// with it).
    pub filter: Option<crate::app::tree::Filter>,
}

/// Resolves flags over the configuration.
pub fn resolve(global: &GlobalArgs, config: &Config) -> Result<Settings> {
    let (context, context_ns) = live::kubeconfig::context_namespace(
        global.kubeconfig.as_deref(),
        global.context.first().map(String::as_str),
    );
    let default_namespace = global
        .namespace
        .clone()
        .filter(|n| !n.is_empty())
        .or_else(|| Some(config.namespace.clone()).filter(|n| !n.is_empty()))
        .or(context_ns)
        .unwrap_or_else(|| "default".to_string());
    let selector_text = global
        .selector
        .clone()
        .unwrap_or_else(|| config.tracking.selector.clone());
    let selector = if selector_text.trim().is_empty() {
        None
    } else {
        Some(LabelSelector::parse(&selector_text).map_err(|e| anyhow!("{e}"))?)
    };
    let argocd_app = global
        .argocd_app
        .clone()
        .or_else(|| Some(config.tracking.argocd_app.clone()))
        .filter(|a| !a.is_empty());
    if !matches!(
        config.apps.tracking.as_str(),
        "annotation" | "label" | "annotation+label"
    ) {
        bail!(
            "config apps.tracking is {:?}; it takes annotation, label or annotation+label",
            crate::text::visible_line(&config.apps.tracking)
        );
    }
    let mut ignore = Vec::new();
    for (i, rule) in config.ignore.iter().enumerate() {
        let mut paths = Vec::new();
        for p in &rule.paths {
            paths.push(FieldPath::parse(p).with_context(|| format!("config ignore[{i}].paths"))?);
        }
        ignore.push(IgnoreRule {
            group: rule.group.clone(),
            kind: rule.kind.clone(),
            namespace: rule.namespace.clone(),
            name: rule.name.clone(),
            paths,
            managers: rule.managers.clone(),
        });
    }
    let cache_dir = directories::ProjectDirs::from("", "", "kdrift")
        .map(|d| d.cache_dir().to_path_buf())
        .unwrap_or_else(|| std::env::temp_dir().join("kdrift-cache"));
    Ok(Settings {
        partial_reports: true,
        load: LoadOptions {
            repo: global.repo.clone(),
            rev: global.rev.clone(),
            paths: global.paths.clone(),
            default_namespace,
            kustomize_command: config.kustomize.command.clone(),
            helm_command: config.helm.command.clone(),
            capabilities: None,
            apps: crate::desired::apps::AppsOptions {
                discover: config.apps.discover,
                repo_urls: config.apps.repo_urls.clone(),
            },
            cache_dir,
        },
        drift: DriftOptions {
            appliers: config.drift.appliers.clone(),
            ignore,
            tracking: Tracking {
                selector,
                argocd_app,
                apps: std::sync::Arc::new(crate::drift::AppTracking {
                    by_annotation: config.apps.tracking.contains("annotation"),
                    label: config
                        .apps
                        .tracking
                        .contains("label")
                        .then(|| config.apps.label_key.clone()),
                    ..Default::default()
                }),
                ..Tracking::default()
            },
            show_secrets: global.show_secrets,
            people: config.attribution.people.clone(),
            drop_synced_objects: false,
        },
        live_file: global.live_file.clone(),
        kubeconfig: global.kubeconfig.clone(),
        context: context.clone(),
        explicit_context: global.context.first().cloned(),
        diff_mode: global.diff_mode.unwrap_or(match config.diff.mode {
            crate::config::DiffModeConfig::Local => DiffMode::Local,
            crate::config::DiffModeConfig::Server => DiffMode::Server,
        }),
        field_manager: config.diff.field_manager.clone(),
        concurrency: global.concurrency.unwrap_or(config.diff.concurrency).max(1),
        timings: global.timings,
        read_only: global.read_only
            || config.read_only
            || context.as_deref().is_some_and(|c| {
                config
                    .read_only_contexts
                    .iter()
                    .any(|p| crate::glob::glob_match(p, c))
            }),
        protected: context
            .as_deref()
            .is_some_and(|c| config.protect.iter().any(|p| crate::glob::glob_match(p, c))),
        protect_patterns: config.protect.clone(),
        request_timeout: match global.request_timeout {
            Some(t) => t,
            None => crate::cli::parse_duration(&config.diff.request_timeout)
                .map_err(|e| anyhow!("config diff.request_timeout: {e}"))?,
        },
        live_file_limit: global
            .max_live_file_size
            .unwrap_or(live::file::DEFAULT_LIMIT),
        filter: match &global.filter {
            Some(f) => Some(crate::app::tree::Filter::parse(f).ok_or_else(|| {
                anyhow!("--filter {f:?}: expected all, drifted, synced, out-of-sync, missing, extra, unknown or invalid")
            })?),
            None => None,
        },
    })
}

/// The explorer's options from flags, configuration and the environment.
pub fn explorer_options(
    global: &GlobalArgs,
    config: &Config,
    settings: &Settings,
) -> Result<explorer::ExplorerOptions> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        bail!(
            "the explorer needs a terminal; for a report use `kdrift diff` (exit 0 clean, 1 drift, 2 error)"
        );
    }
    let filter = match &global.filter {
        Some(f) => crate::app::tree::Filter::parse(f).ok_or_else(|| {
            anyhow!("--filter {f:?}: expected all, drifted, synced, out-of-sync, missing, extra, unknown or invalid")
        })?,
        None => crate::app::tree::Filter::All,
    };
    let keymap =
        crate::keymap::KeyMap::from_config(&config.keys).map_err(|e| anyhow!("config: {e}"))?;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    Ok(explorer::ExplorerOptions {
        filter,
        look: crate::app::Look {
            ascii: global.ascii || config.ui.ascii,
            color: !no_color,
            notify: config.ui.notify,
        },
        read_only: settings.read_only,
        protected: settings.protected,
        keymap,
        first_run_hint: None,
        protect_note: settings.protected.then(|| {
            format!(
                "context {} is protected (config protect: {}): syncs ask to type its name",
                settings.context.as_deref().unwrap_or(""),
                settings.protect_patterns.join(", ")
            )
        }),
        marks: Default::default(),
        sync_on_load: false,
    })
}

/// The API server of the settings' context, from the kubeconfig.
pub fn context_server(settings: &Settings) -> Option<String> {
    let ctx = settings.context.as_deref()?;
    live::kubeconfig::context_server(settings.kubeconfig.as_deref(), ctx)
}
