//! The one place that knows every module: resolves flags and configuration into settings,
//! runs the sources, the drift engine and the renderers, and maps outcomes to exit codes.

pub mod demo;
mod diff_cmd;
pub mod explorer;
mod external;
pub mod fleet;
pub mod log;
mod recompute;
mod settings;
mod sim_cmd;
mod sources;
pub mod sync_cmd;
mod terminal;
mod watch_cmd;

use crate::cli::{Cli, Command};
use crate::config;
use crate::live;
use anyhow::{Context, Result};
pub use diff_cmd::{run_diff, NO_CLUSTER_HINT};
pub use settings::{context_server, explorer_options, resolve, Settings};
use sim_cmd::run_sim;

/// Exit status of `kdrift diff`, as `kubectl diff` has it.
pub const EXIT_CLEAN: u8 = 0;
pub const EXIT_DRIFT: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

static LEAN_HOOK: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// What the binary does, before any thread starts, for the command whose memory matters
/// more than a little speed: a one-cluster `kdrift diff`. It tunes its allocator to give
/// freed memory back at once (a one-shot command's peak then follows what it holds). A
/// fleet's diff keeps the default, a quarter faster there, and so do the explorer and the
/// fleet's matrix (with huge pages off, the matrix of 20 clusters is resident at 140 to 190
/// MB either way, and a few tenths of a second sooner complete without it).
pub fn set_lean_memory_hook(hook: fn()) {
    let _ = LEAN_HOOK.set(hook);
}

fn lean_memory() {
    if let Some(hook) = LEAN_HOOK.get() {
        hook();
    }
}

static RELEASE_HOOK: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// What the binary does to give the memory a thread freed back to the system now (its
/// allocator otherwise waits a second, and keeps a freed page a thread may reuse). The
/// explorer calls it once, on the two threads that build its first complete screen, right
/// after: what the first load used and dropped (list pages, parse trees, comparisons) is
/// then not counted resident for the rest of the session.
pub fn set_release_memory_hook(hook: fn()) {
    let _ = RELEASE_HOOK.set(hook);
}

pub(crate) fn release_memory() {
    if let Some(hook) = RELEASE_HOOK.get() {
        hook();
    }
}

/// Runs the command line; returns the process exit status.
pub fn run(cli: Cli) -> Result<u8> {
    match &cli.command {
        Some(Command::Diff(args)) => {
            let config = config::load(cli.global.config.as_deref())?;
            let targets = if args.fleet {
                fleet::discover(&cli.global, &config)?
            } else {
                fleet::targets(&cli.global, &config)?
            };
            if targets.len() > 1 || args.fleet {
                return fleet::run_diff(&targets, args);
            }
            let settings = one_target(&cli.global, &config, "")?;
            lean_memory();
            run_diff(&settings, args)
        }
        Some(Command::Apps(args)) => {
            let config = config::load(cli.global.config.as_deref())?;
            let settings =
                one_target(&cli.global, &config, "kdrift apps lists one cluster's apps")?;
            let diff = crate::cli::DiffArgs {
                output: args.output,
                keys: Vec::new(),
                color: crate::cli::ColorChoice::Never,
                no_pager: true,
                app: None,
                apps_table: true,
                fleet: false,
            };
            run_diff(&settings, &diff)
        }
        Some(Command::Fixture(args)) => {
            let summary = crate::fixture::write(&crate::fixture::FixtureOptions {
                out: args.out.clone(),
                resources: args.resources,
                namespaces: args.namespaces,
                seed: args.seed,
            })?;
            eprintln!("{summary}");
            Ok(EXIT_CLEAN)
        }
        Some(Command::Sim(args)) => run_sim(args),
        Some(Command::Sync(args)) => {
            let config = config::load(cli.global.config.as_deref())?;
            let settings = one_target(
                &cli.global,
                &config,
                "kdrift sync writes to one cluster at a time",
            )?;
            sync_cmd::run(&settings, args)
        }
        Some(Command::Watch(args)) => {
            let config = config::load(cli.global.config.as_deref())?;
            let settings = one_target(&cli.global, &config, "kdrift watch follows one cluster")?;
            watch_cmd::run(&settings, args)
        }
        Some(Command::History(args)) => {
            let config = config::load(cli.global.config.as_deref())?;
            let settings = one_target(
                &cli.global,
                &config,
                "kdrift history reads one cluster's episodes",
            )?;
            watch_cmd::history(&settings, args)
        }
        Some(Command::Demo(args)) => {
            let config = config::load(cli.global.config.as_deref())?;
            demo::run(&cli.global, &config, args)
        }
        Some(Command::Completions(args)) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(args.shell, &mut cmd, "kdrift", &mut std::io::stdout());
            Ok(EXIT_CLEAN)
        }
        Some(Command::ExecCredential(args)) => Ok(live::exec::run_plugin(
            &args.command,
            args.timeout,
            args.interactive,
        )),
        Some(Command::Man) => {
            let cmd = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(cmd)
                .render(&mut std::io::stdout())
                .context("writing the man page")?;
            Ok(EXIT_CLEAN)
        }
        Some(Command::Tui) | None => {
            let config = config::load(cli.global.config.as_deref())?;
            // `:ctx` and `:rev` end a run and start the next on the new context or revision,
            // with settings resolved again (read-only and protected contexts included).
            let mut global = cli.global.clone();
            let mut carried = None;
            let targets = fleet::targets(&cli.global, &config)?;
            if targets.len() > 1 {
                let look = explorer_options(&cli.global, &config, &targets[0].settings)?.look;
                loop {
                    // One target's explorer at a time (a sync there names its cluster);
                    // quitting it comes back to the matrix (or goes on to the next target of a
                    // sync); a signal ends everything.
                    let visits: Vec<(usize, Vec<crate::model::ResourceKey>)> =
                        match fleet::explore(&targets, look)? {
                            fleet::FleetEnd::Exit(code) => return Ok(code),
                            fleet::FleetEnd::Open(i) => vec![(i, Vec::new())],
                            fleet::FleetEnd::Sync(plan) => plan,
                        };
                    let n = visits.len();
                    for (step, (i, keys)) in visits.into_iter().enumerate() {
                        let t = &targets[i];
                        let mut opts = explorer_options(&cli.global, &config, &t.settings)?;
                        let name = crate::text::visible_line(&t.name);
                        opts.first_run_hint = Some(if keys.is_empty() {
                            format!("target {name} of the fleet · q: back to the matrix")
                        } else {
                            opts.sync_on_load = true;
                            opts.marks = keys.into_iter().collect();
                            format!(
                                "fleet sync {} of {n}: target {name} · q: {}",
                                step + 1,
                                if step + 1 < n {
                                    "the next target"
                                } else {
                                    "back to the matrix"
                                }
                            )
                        });
                        let (ending, _) = explorer::run(&t.settings, opts, None)?;
                        if let explorer::Ending::Exit(code) = ending {
                            if code >= 128 {
                                return Ok(code);
                            }
                        }
                    }
                }
            }
            loop {
                let settings = one_target(&global, &config, "the explorer on one cluster")?;
                let opts = explorer_options(&global, &config, &settings)?;
                let (ending, state) = explorer::run(&settings, opts, carried)?;
                match ending {
                    explorer::Ending::Exit(code) => return Ok(code),
                    explorer::Ending::Context(c) => global.context = vec![c],
                    explorer::Ending::Revision(r) => global.rev = r,
                }
                carried = Some(state);
            }
        }
    }
}

/// The one cluster a command works on: the one target the flags or the configuration name,
/// else the flags' own (`--context`, the current context). Several targets are refused,
/// saying `what` the command does and naming them.
fn one_target(
    global: &crate::cli::GlobalArgs,
    config: &config::Config,
    what: &str,
) -> Result<Settings> {
    let mut targets = fleet::targets(global, config)?;
    match targets.len() {
        0 => resolve(global, config),
        1 => Ok(targets.remove(0).settings),
        _ => {
            let names: Vec<String> = targets
                .iter()
                .map(|t| crate::text::visible_line(&t.name).into_owned())
                .collect();
            anyhow::bail!(
                "{what}: pick one of the targets ({}) with --context; `kdrift diff` compares them side by side",
                names.join(", ")
            )
        }
    }
}
