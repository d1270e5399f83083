//! `kdrift sync KEY...`: the headless sync. Reads Git, connects, previews the named
//! resources with server-side apply dry runs, prints the preview, asks
//! `Apply N resources to CONTEXT (SERVER)? [y/N]` (or the typed context name on protected
//! contexts) unless `--yes`, and applies exactly what was previewed. Exit 0 when everything
//! was applied (and, with `--wait`, became healthy), 1 when some resource failed (or its
//! rollout did not converge), 2 when nothing could be done.

use super::{Settings, EXIT_CLEAN, EXIT_DRIFT, EXIT_ERROR};
use crate::cli::SyncArgs;
use crate::desired;
use crate::live::cluster;
use crate::model::ResourceKey;
use crate::sync::{self, Fate, PlanAction, SyncError, SyncPlan, Syncer};
use anyhow::{anyhow, bail, Context, Result};
use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;

/// kubectl's short names of built-in kinds.
const SHORT_NAMES: &[(&str, &str)] = &[
    ("deploy", "Deployment"),
    ("svc", "Service"),
    ("cm", "ConfigMap"),
    ("ns", "Namespace"),
    ("sts", "StatefulSet"),
    ("ds", "DaemonSet"),
    ("rs", "ReplicaSet"),
    ("po", "Pod"),
    ("sa", "ServiceAccount"),
    ("ing", "Ingress"),
    ("hpa", "HorizontalPodAutoscaler"),
    ("cj", "CronJob"),
    ("pvc", "PersistentVolumeClaim"),
    ("pv", "PersistentVolume"),
    ("crd", "CustomResourceDefinition"),
    ("netpol", "NetworkPolicy"),
    ("pdb", "PodDisruptionBudget"),
    ("ep", "Endpoints"),
    ("sc", "StorageClass"),
    ("pc", "PriorityClass"),
];

/// Prints a plan for a terminal or a log.
/// A value's continuation lines, indented under it and marked, so that no line of a value
/// can pass for a line of the preview (a forged "Dry run" or question).
fn indented(text: &str) -> String {
    text.replace('\n', "\n        | ")
}

/// The kind a kubectl short name stands for (`deploy` → Deployment).
pub fn short_name_kind(name: &str) -> Option<&'static str> {
    SHORT_NAMES
        .iter()
        .find(|(s, _)| *s == name)
        .map(|(_, k)| *k)
}

pub fn plan_text(plan: &SyncPlan, force: bool) -> String {
    let mut out = String::new();
    let counts: Vec<String> = plan
        .fates(force)
        .into_iter()
        .map(|(f, n)| f.count_text(n))
        .collect();
    out.push_str(&format!(
        "Sync preview: context {} (server {}), Git {}: {}\n",
        plan.context,
        plan.server,
        &plan.revision[..plan.revision.len().min(7)],
        counts.join(", ")
    ));
    for item in &plan.items {
        out.push_str(&format!(
            "  {:<9} {}\n",
            item.fate(force).to_string(),
            item.key.short_name()
        ));
        if let Some(e) = &item.error {
            out.push_str(&format!("      {}\n", indented(e)));
        }
        if let Some(n) = &item.note {
            out.push_str(&format!("      ({})\n", indented(n)));
        }
        for c in &item.changes {
            let before = indented(c.before.as_deref().unwrap_or("(absent)"));
            let after = indented(c.after.as_deref().unwrap_or("(removed)"));
            if item.action == PlanAction::Create {
                out.push_str(&format!("      + {}: {after}\n", c.path));
            } else {
                out.push_str(&format!("      {}: {before} -> {after}\n", c.path));
            }
        }
        for c in &item.conflicts {
            out.push_str(&format!(
                "      conflict: {} owns {}{}\n",
                c.manager,
                c.fields.join(", "),
                if force {
                    " (taken: --force-conflicts)"
                } else {
                    " (not written without --force-conflicts)"
                }
            ));
        }
    }
    out
}

pub fn run(settings: &Settings, args: &SyncArgs) -> Result<u8> {
    if settings.live_file.is_some() {
        bail!("sync needs a cluster; it is not available with --live-file");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let code = rt.block_on(async {
        let target = cluster::connect_with(
            settings.kubeconfig.as_deref(),
            settings.explicit_context.as_deref(),
            Some(settings.request_timeout),
        )
        .await?;
        let served = Arc::new(cluster::discover(&target).await?);
        // Charts render with this cluster's capabilities, as `kdrift diff` renders them.
        let mut load = settings.load.clone();
        load.capabilities = Some(served.capabilities());
        let mut snapshot = tokio::task::block_in_place(|| desired::load(&load))?;
        desired::rescope(
            &mut snapshot,
            |g, k| served.get(g, k).map(|(_, n)| *n),
            &settings.load.default_namespace,
        );
        let resolve = |name: &str, group: Option<&str>| -> Option<(String, String, bool)> {
            let kind_name = SHORT_NAMES
                .iter()
                .find(|(s, _)| *s == name)
                .map(|(_, k)| k.to_lowercase())
                .unwrap_or_else(|| name.to_string());
            served
                .scopes()
                .filter(|(g, _, _)| group.is_none_or(|want| want == *g))
                .filter(|(g, k, _)| {
                    let lower = k.to_lowercase();
                    let plural = served
                        .get(g, k)
                        .map(|(ar, _)| ar.plural.clone())
                        .unwrap_or_default();
                    lower == kind_name || plural == kind_name
                })
                // The core and built-in groups first, as kubectl prefers them.
                .min_by_key(|(g, _, _)| (g.contains('.') && !g.ends_with(".k8s.io"), g.len()))
                .map(|(g, k, n)| (g.to_string(), k.to_string(), n))
                // A kind the cluster does not serve yet (its CRD is in this sync): as Git
                // declares it.
                .or_else(|| {
                    snapshot
                        .objects
                        .iter()
                        .find(|o| {
                            let lower = o.key.kind.to_lowercase();
                            group.is_none_or(|want| want == o.key.group)
                                && (lower == kind_name || format!("{lower}s") == kind_name)
                        })
                        .map(|o| {
                            (
                                o.key.group.clone(),
                                o.key.kind.clone(),
                                !o.key.namespace.is_empty(),
                            )
                        })
                })
        };
        let mut keys = Vec::new();
        for text in &args.keys {
            keys.push(
                sync::parse_key(text, &settings.load.default_namespace, &resolve)
                    .map_err(|e| anyhow!(e))?,
            );
        }
        if let Some(app) = &args.app {
            let Some(index) = snapshot.apps.iter().position(|a| &a.name == app) else {
                bail!(
                    "--app {}: no such app in the repository",
                    crate::text::visible_line(app)
                );
            };
            for key in &keys {
                if snapshot.app_of.get(key) != Some(&(index as u32)) {
                    bail!(
                        "{} is not a resource of app {}; nothing was written",
                        key.short_name(),
                        crate::text::visible_line(app)
                    );
                }
            }
        }
        let user =
            crate::live::kubeconfig::context_user(settings.kubeconfig.as_deref(), &target.context)
                .unwrap_or_default();
        let syncer = Syncer::new(
            target.clone(),
            Arc::clone(&served),
            &settings.field_manager,
            settings.read_only,
            settings.drift.clone(),
            &user,
        );
        let items = super::sources::plan_inputs(&snapshot, keys);
        let plan = syncer
            .preview(items, &snapshot.revision.commit, settings.concurrency)
            .await;
        // Git's values never drive the terminal: a value cannot erase the preview above the
        // question.
        print!("{}", crate::text::visible_text(&plan_text(&plan, args.force_conflicts)));
        let refused = plan
            .items
            .iter()
            .filter(|i| i.action == PlanAction::Refused)
            .count();
        let writes = plan.to_write(args.force_conflicts);
        if args.dry_run {
            println!("Dry run: nothing written.");
            return Ok::<u8, anyhow::Error>(if refused > 0 { EXIT_DRIFT } else { EXIT_CLEAN });
        }
        if settings.read_only {
            let why = SyncError::ReadOnly(target.context.clone()).to_string();
            eprintln!("kdrift: {}", crate::text::visible_line(&why));
            return Ok(EXIT_ERROR);
        }
        let held = plan.items.iter().filter(|i| i.fate(args.force_conflicts) == Fate::NotWritten).count();
        if writes == 0 {
            if held > 0 {
                println!(
                    "Nothing can be written without --force-conflicts: {held} resource{} conflict{} with other field managers.",
                    if held == 1 { "" } else { "s" },
                    if held == 1 { "s" } else { "" }
                );
                return Ok(EXIT_ERROR);
            }
            println!("Nothing to apply.");
            return Ok(if refused > 0 { EXIT_ERROR } else { EXIT_CLEAN });
        }
        if held > 0 {
            println!(
                "{held} resource{} with conflicts will not be written without --force-conflicts.",
                if held == 1 { "" } else { "s" }
            );
        }
        if !args.yes {
            if !std::io::stdin().is_terminal() {
                eprintln!("kdrift: no terminal to confirm on: pass --yes to apply without asking");
                return Ok(EXIT_ERROR);
            }
            let confirmed = if settings.protected {
                print!(
                    "{} is a protected context. Type its name to apply {writes} resource{} to {}: ",
                    crate::text::visible_line(&target.context),
                    if writes == 1 { "" } else { "s" },
                    crate::text::visible_line(&target.server)
                );
                std::io::stdout().flush().ok();
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line).ok();
                line.trim() == target.context
            } else {
                print!(
                    "Apply {writes} resource{} to {} ({})? [y/N] ",
                    if writes == 1 { "" } else { "s" },
                    crate::text::visible_line(&target.context),
                    crate::text::visible_line(&target.server)
                );
                std::io::stdout().flush().ok();
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line).ok();
                matches!(line.trim(), "y" | "Y" | "yes")
            };
            if !confirmed {
                println!("Cancelled: nothing written.");
                return Ok(EXIT_ERROR);
            }
        }
        crate::runtime::log::init_logging();
        match syncer
            .apply(&plan, &snapshot.revision.commit, args.force_conflicts)
            .await
        {
            Ok(outcomes) => {
                let mut failed = 0;
                for o in &outcomes {
                    if !o.result.is_success() {
                        failed += 1;
                    }
                    let line = format!("  {:<11} {}: {}", o.label(), o.key.short_name(), o.result);
                    println!("{}", crate::text::visible_line(&line));
                }
                if let Some(timeout) = args.wait {
                    let written: Vec<ResourceKey> = outcomes
                        .iter()
                        .filter(|o| o.result == sync::ItemResult::Applied)
                        .map(|o| o.key.clone())
                        .collect();
                    if !wait_healthy(&syncer, &written, timeout).await && failed == 0 {
                        // Everything was written; the rollout did not converge.
                        return Ok(EXIT_DRIFT);
                    }
                }
                Ok(if failed == 0 {
                    EXIT_CLEAN
                } else if failed == outcomes.len() {
                    EXIT_ERROR
                } else {
                    EXIT_DRIFT
                })
            }
            Err(e) => {
                eprintln!("kdrift: {}", crate::text::visible_line(&e.to_string()));
                Ok(EXIT_ERROR)
            }
        }
    })?;
    rt.shutdown_background();
    Ok(code)
}

/// Follows written resources until each is healthy, or one is degraded, or `timeout` passes
/// (as `kubectl rollout status`), printing each change of health. Whether all are healthy.
async fn wait_healthy(syncer: &Syncer, keys: &[ResourceKey], timeout: std::time::Duration) -> bool {
    use crate::drift::health::{assess, HealthStatus};
    if keys.is_empty() {
        return true;
    }
    let deadline = std::time::Instant::now() + timeout;
    let mut last: std::collections::HashMap<&ResourceKey, String> = Default::default();
    loop {
        let mut healthy = 0;
        let mut degraded = false;
        for k in keys {
            let (status, text) = match syncer.get(k).await {
                Ok(Some(l)) => {
                    let h = assess(k, &l.value());
                    (Some(h.status), h.to_string())
                }
                Ok(None) => (None, "gone".to_string()),
                Err(e) => (None, format!("cannot be read: {e}")),
            };
            if last.get(k) != Some(&text) {
                let line = format!("  {:<11} {}: {text}", "health", k.short_name());
                println!("{}", crate::text::visible_line(&line));
                last.insert(k, text);
            }
            match status {
                Some(HealthStatus::Healthy) => healthy += 1,
                Some(HealthStatus::Degraded) => degraded = true,
                _ => {}
            }
        }
        if healthy == keys.len() {
            println!("All {healthy} healthy.");
            return true;
        }
        if degraded {
            println!("Degraded: the rollout will not finish by itself.");
            return false;
        }
        if std::time::Instant::now() >= deadline {
            println!(
                "Still progressing after {} s: {healthy} of {} healthy.",
                timeout.as_secs(),
                keys.len()
            );
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}
