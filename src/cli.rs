//! The command line, as raw input: clap definitions only, validated without I/O. The runtime
//! resolves them (with the configuration) into settings.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

const EXAMPLES: &str = "\
Examples:
  kdrift demo                                     the explorer on a built-in cluster and repository
  kdrift                                          explore the repository around . against the current context
  kdrift --filter drifted --context staging       start on what drifted, in context staging
  kdrift sync deploy/web -n shop                  preview, confirm, then server-side apply one resource
  kdrift diff --live-file cluster.yaml            drift of the repository around . against a dump
  kdrift diff --repo ./gitops --rev main~1 --path apps/shop --live-file live.json -l app=shop
  kdrift diff --live-file live.json --output json  the report as JSON (exit 0 clean, 1 drift, 2 error)
  kdrift fixture /tmp/fx --resources 1000          write a generated repository and live dump
  kdrift sim --listen 127.0.0.1:8080 --kubeconfig-out /tmp/sim.kubeconfig --load /tmp/fx/live.json";

/// kdrift: explore GitOps drift between a Git repository and a Kubernetes cluster.
#[derive(Debug, Parser)]
#[command(name = "kdrift", version, about, long_about = None, after_help = EXAMPLES)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options every command takes.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Git repository (default: the one around the current directory).
    #[arg(long, global = true, value_name = "PATH")]
    pub repo: Option<PathBuf>,
    /// Revision to read the desired state from (anything `git rev-parse` takes).
    #[arg(long, global = true, default_value = "HEAD", value_name = "REV")]
    pub rev: String,
    /// Limit to this folder of the repository (repeatable).
    #[arg(long = "path", global = true, value_name = "DIR")]
    pub paths: Vec<String>,
    /// Kubeconfig file (default: $KUBECONFIG, else ~/.kube/config).
    #[arg(long, global = true, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kube context to use (default: the current context). More than once: the same
    /// paths on several clusters, side by side (`kdrift diff`).
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Vec<String>,
    /// A target of the fleet, NAME=CONTEXT[:PATH[,PATH…]] (repeatable): compared side by
    /// side by `kdrift diff`.
    #[arg(long = "target", global = true, value_name = "NAME=CONTEXT[:PATHS]")]
    pub targets: Vec<String>,
    /// Namespace for manifests that name none.
    #[arg(short = 'n', long, global = true, value_name = "NS")]
    pub namespace: Option<String>,
    /// Read live objects from a YAML/JSON dump instead of a cluster (offline).
    #[arg(long, global = true, value_name = "FILE")]
    pub live_file: Option<PathBuf>,
    /// Label selector of the live objects that belong to this repository (for `extra`).
    #[arg(short = 'l', long, global = true, value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// Argo CD application whose tracking annotation marks objects of this repository.
    #[arg(long, global = true, value_name = "NAME")]
    pub argocd_app: Option<String>,
    /// How drift is computed: local (instant) or server (dry-run apply; needs a cluster).
    #[arg(long, global = true, value_enum)]
    pub diff_mode: Option<DiffMode>,
    /// How many requests to make to a cluster at once (default: config diff.concurrency).
    #[arg(long, global = true, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Show Secret values instead of fingerprints.
    #[arg(long, global = true)]
    pub show_secrets: bool,
    /// Never write to the cluster.
    #[arg(long, global = true)]
    pub read_only: bool,
    /// Configuration file read over the defaults (default: the platform config dir).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print stage times (read Git, parse, compare, render) to stderr.
    #[arg(long, global = true)]
    pub timings: bool,
    /// Explorer: start with this filter (all, drifted, or a status such as out-of-sync).
    #[arg(long, global = true, value_name = "FILTER")]
    pub filter: Option<String>,
    /// Explorer: plain ASCII glyphs (also config ui.ascii).
    #[arg(long, global = true)]
    pub ascii: bool,
    /// How long to wait for an answer from the cluster (or an exec credential plugin)
    /// before giving up, as `5s`, `2m` or seconds (default: config diff.request_timeout).
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration)]
    pub request_timeout: Option<std::time::Duration>,
    /// The largest --live-file read, as bytes or with K, M or G (default 1G).
    #[arg(long, global = true, value_name = "SIZE", value_parser = parse_size)]
    pub max_live_file_size: Option<u64>,
}

/// Parses `30`, `30s`, `500ms`, `2m` or `1h`.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let (number, unit) = match t.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(at) => t.split_at(at),
        None => (t, "s"),
    };
    let n: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (try 30s, 2m)"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("{text:?}: unknown unit {unit:?} (ms, s, m, h)")),
    };
    if !secs.is_finite() || secs <= 0.0 || secs > 7.0 * 86400.0 {
        return Err(format!(
            "{text:?}: a duration above zero and at most a week"
        ));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

/// Parses `1048576`, `512K`, `200M` or `2G` (powers of 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (number, factor) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 1u64 << 10),
        Some('M') => (&t[..t.len() - 1], 1 << 20),
        Some('G') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{text:?} is not a size (try 512M, 2G)"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffMode {
    Local,
    Server,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
    Yaml,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The interactive explorer (the default command).
    Tui,
    /// Report drift; exit 0 when everything is synced, 1 on drift, 2 on error.
    Diff(DiffArgs),
    /// List the apps found in the repository (Argo CD Applications whose source is this
    /// repository): path, renderer, destination and counts per status; exit as `diff`.
    Apps(AppsArgs),
    /// Run the in-memory Kubernetes API server alone (for tests, benchmarks and kubectl).
    Sim(SimArgs),
    /// Apply the named resources from Git (server-side apply), after a preview.
    Sync(SyncArgs),
    /// The explorer on an embedded cluster with a demo repository: no setup needed.
    Demo(DemoArgs),
    /// Watch without a terminal, for days: JSON event lines on stdout, Prometheus metrics,
    /// and notifications when a resource stays out of sync or degraded.
    Watch(WatchArgs),
    /// List drift episodes (out of sync or degraded, from first sight to convergence) that
    /// `kdrift watch` and the explorer recorded for this cluster, newest first.
    History(HistoryArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Print the man page (roff), generated from this command line.
    Man,
    /// Write a generated fixture: a Git repository of manifests, the live objects as an API
    /// server returns them, and the expected verdicts.
    Fixture(FixtureArgs),
    /// Runs an exec credential plugin with bounds (kdrift's own use: kubeconfigs' exec
    /// plugins are run through it).
    #[command(name = "exec-credential", hide = true)]
    ExecCredential(ExecCredentialArgs),
}

#[derive(Debug, Clone, Args)]
pub struct WatchArgs {
    /// Serve Prometheus metrics on /metrics (and /healthz) at this address
    /// (127.0.0.1:9464, or :9464 for every interface).
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<String>,
    /// Notify when a resource has been out of sync or degraded this long (once per episode,
    /// and again when it converges).
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration, default_value = "5m")]
    pub alert_after: std::time::Duration,
    /// Run this command (with `sh -c`) for each notification, the event as JSON on stdin.
    #[arg(long, value_name = "CMD")]
    pub notify_exec: Vec<String>,
    /// POST each notification as JSON to this URL (http or https), retried with backoff.
    #[arg(long, value_name = "URL")]
    pub notify_webhook: Vec<String>,
    /// At most this many per-resource series of kdrift_resource_unconverged_seconds (the
    /// longest-drifted first; the rest are counted in kdrift_resource_series_dropped).
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub resource_series: usize,
    /// No per-resource series at all.
    #[arg(long)]
    pub no_resource_metrics: bool,
    /// The drift history database (default: history.sqlite in the state directory, beside
    /// the log). Episodes continue across restarts.
    #[arg(long, value_name = "FILE")]
    pub history: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    /// Only resources whose key contains this (`web`, `shop/web`, `Deployment/shop`).
    #[arg(value_name = "KEY")]
    pub key: Option<String>,
    /// At most this many episodes.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// text, or json (one array).
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// The history database (default: history.sqlite in the state directory).
    #[arg(long, value_name = "FILE")]
    pub history: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ExecCredentialArgs {
    /// How long the plugin may run.
    #[arg(long, value_parser = parse_duration, default_value = "120s")]
    pub timeout: std::time::Duration,
    /// Whether the plugin may talk to the user (stdin, stderr).
    #[arg(long)]
    pub interactive: bool,
    /// The plugin and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct DiffArgs {
    /// Report format.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Only these resources: group/Kind/namespace/name, or kubectl style kind/name
    /// (deploy/web, cm/cfg) with -n for the namespace.
    #[arg(value_name = "KEY")]
    pub keys: Vec<String>,
    /// Colour the text report: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Print straight to the terminal. Otherwise a text report on a terminal goes through
    /// $KDRIFT_PAGER, else $PAGER, else `less -R` (LESS=FRX unless LESS is set).
    #[arg(long)]
    pub no_pager: bool,
    /// Only the resources of this app (see `kdrift apps`).
    #[arg(long, value_name = "NAME")]
    pub app: Option<String>,
    /// Every cluster the repository's apps deploy to, side by side: Argo CD destinations
    /// and Flux `clusters/<name>/` folders, matched to kube contexts by server URL or name
    /// (config `targets:` fills the gaps).
    #[arg(long)]
    pub fleet: bool,
    /// Print the apps table instead of the report (`kdrift apps`).
    #[arg(skip)]
    pub apps_table: bool,
}

#[derive(Debug, Clone, Args)]
pub struct AppsArgs {
    /// Table format: text, json or yaml.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Args)]
pub struct SyncArgs {
    /// Resources: group/Kind/namespace/name, or kubectl style kind/name (deploy/web,
    /// deployment.apps/web) with -n for the namespace.
    #[arg(required = true, value_name = "KEY")]
    pub keys: Vec<String>,
    /// Preview only: show what would change and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Apply without asking (needed without a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Take fields other managers own (server-side apply force).
    #[arg(long)]
    pub force_conflicts: bool,
    /// Refuse any KEY that is not a resource of this app (see `kdrift apps`).
    #[arg(long, value_name = "NAME")]
    pub app: Option<String>,
    /// After applying, follow each written resource until it is healthy, degraded, or
    /// still progressing after this long (as `kubectl rollout status`): exit 0 only when
    /// all are healthy. `--wait` alone waits 5 minutes; `--wait=2m` says how long.
    #[arg(long, value_name = "DURATION", num_args = 0..=1, require_equals = true, default_missing_value = "5m", value_parser = parse_duration)]
    pub wait: Option<std::time::Duration>,
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Print the drift report once the demo's actors have acted, and exit (no explorer).
    #[arg(long)]
    pub no_tui: bool,
    /// Keep the demo repository in this folder (created; must not exist or be empty).
    #[arg(long, value_name = "DIR")]
    pub repo_out: Option<PathBuf>,
    /// Seconds between the actors' changes (default 4).
    #[arg(long, default_value_t = 4.0, value_name = "SECONDS")]
    pub pace: f64,
}

#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Clone, Args)]
pub struct FixtureArgs {
    /// Folder to write (created; must not hold a repository already).
    pub out: PathBuf,
    /// Number of resources in Git.
    #[arg(long, default_value_t = 1000)]
    pub resources: usize,
    /// Number of namespaces.
    #[arg(long, default_value_t = 10)]
    pub namespaces: usize,
    /// Seed of the generator (the output is deterministic for a seed).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Debug, Clone, Args)]
pub struct SimArgs {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub listen: std::net::SocketAddr,
    /// Write a kubeconfig pointing at the server here.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig_out: Option<PathBuf>,
    /// Preload objects from a YAML/JSON file (repeatable), keeping their metadata.
    #[arg(long, value_name = "FILE")]
    pub load: Vec<PathBuf>,
    /// Serve HTTPS with a generated certificate and require a bearer token.
    #[arg(long)]
    pub tls: bool,
}
