//! `kdrift demo`: the explorer on an in-process sim with a temporary Git repository made
//! from `assets/demo/`, applied through kdrift's own sync path; then other actors change
//! the cluster (each with its own field manager) and a new commit lands, paced so that the
//! explorer can be watched reacting. Quitting stops sim and removes every temporary file.

use super::{self as runtime, explorer};
use crate::app::Msg;
use crate::cli::{DemoArgs, GlobalArgs};
use crate::config::Config;
use crate::live::cluster;
use crate::model::ResourceKey;
use crate::sync::{PlanAction, Syncer};
use anyhow::{anyhow, bail, Context, Result};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

/// The demo repository's files, embedded so the demo needs nothing on disk.
pub const FILES: &[(&str, &str)] = &[
    ("README.md", include_str!("../../assets/demo/README.md")),
    (
        "argocd/checkout.yaml",
        include_str!("../../assets/demo/argocd/checkout.yaml"),
    ),
    (
        "charts/checkout/Chart.yaml",
        include_str!("../../assets/demo/charts/checkout/Chart.yaml"),
    ),
    (
        "charts/checkout/templates/_helpers.tpl",
        include_str!("../../assets/demo/charts/checkout/templates/_helpers.tpl"),
    ),
    (
        "charts/checkout/templates/deployment.yaml",
        include_str!("../../assets/demo/charts/checkout/templates/deployment.yaml"),
    ),
    (
        "charts/checkout/templates/service.yaml",
        include_str!("../../assets/demo/charts/checkout/templates/service.yaml"),
    ),
    (
        "charts/checkout/values-demo.yaml",
        include_str!("../../assets/demo/charts/checkout/values-demo.yaml"),
    ),
    (
        "charts/checkout/values.yaml",
        include_str!("../../assets/demo/charts/checkout/values.yaml"),
    ),
    (
        "data/postgres.yaml",
        include_str!("../../assets/demo/data/postgres.yaml"),
    ),
    (
        "data/redis/base/deployment.yaml",
        include_str!("../../assets/demo/data/redis/base/deployment.yaml"),
    ),
    (
        "data/redis/base/kustomization.yaml",
        include_str!("../../assets/demo/data/redis/base/kustomization.yaml"),
    ),
    (
        "data/redis/base/service.yaml",
        include_str!("../../assets/demo/data/redis/base/service.yaml"),
    ),
    (
        "data/redis/overlays/demo/kustomization.yaml",
        include_str!("../../assets/demo/data/redis/overlays/demo/kustomization.yaml"),
    ),
    (
        "namespaces.yaml",
        include_str!("../../assets/demo/namespaces.yaml"),
    ),
    (
        "platform/backup-operator.yaml",
        include_str!("../../assets/demo/platform/backup-operator.yaml"),
    ),
    (
        "platform/backup-postgres.yaml",
        include_str!("../../assets/demo/platform/backup-postgres.yaml"),
    ),
    (
        "platform/crd-applications.yaml",
        include_str!("../../assets/demo/platform/crd-applications.yaml"),
    ),
    (
        "platform/crd-backups.yaml",
        include_str!("../../assets/demo/platform/crd-backups.yaml"),
    ),
    (
        "shop/api.yaml",
        include_str!("../../assets/demo/shop/api.yaml"),
    ),
    (
        "shop/cleanup-cronjob.yaml",
        include_str!("../../assets/demo/shop/cleanup-cronjob.yaml"),
    ),
    (
        "shop/ingress.yaml",
        include_str!("../../assets/demo/shop/ingress.yaml"),
    ),
    (
        "shop/rbac.yaml",
        include_str!("../../assets/demo/shop/rbac.yaml"),
    ),
    (
        "shop/web-config.yaml",
        include_str!("../../assets/demo/shop/web-config.yaml"),
    ),
    (
        "shop/web-hpa.yaml",
        include_str!("../../assets/demo/shop/web-hpa.yaml"),
    ),
    (
        "shop/web.yaml",
        include_str!("../../assets/demo/shop/web.yaml"),
    ),
];

/// The label that marks the demo's objects (tracking selector for `extra`).
pub const PART_OF: &str = "app.kubernetes.io/part-of=kdrift-demo";
/// The demo's kube context.
pub const CONTEXT: &str = "kdrift-demo";

fn git(dir: &Path, args: &[&str], author: (&str, &str)) -> Result<()> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", author.0)
        .env("GIT_AUTHOR_EMAIL", author.1)
        .env("GIT_COMMITTER_NAME", author.0)
        .env("GIT_COMMITTER_EMAIL", author.1)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .with_context(|| format!("running git {} (is git installed?)", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

const ALICE: (&str, &str) = ("Alice Ops", "alice@example.com");
const BOB: (&str, &str) = ("Bob Dev", "bob@example.com");

/// Writes the demo repository into `dir` with a short history.
pub fn write_repository(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    if std::fs::read_dir(dir)?.next().is_some() {
        bail!(
            "{} is not empty: the demo repository needs an empty or new folder",
            dir.display()
        );
    }
    git(dir, &["init", "-q", "-b", "main"], ALICE)?;
    for (path, text) in FILES {
        let p = dir.join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&p, text)?;
    }
    git(
        dir,
        &["add", "namespaces.yaml", "platform", "README.md"],
        ALICE,
    )?;
    git(
        dir,
        &[
            "commit",
            "-q",
            "-m",
            "platform: namespaces, backups CRD and operator RBAC",
        ],
        ALICE,
    )?;
    git(dir, &["add", "-A"], BOB)?;
    git(
        dir,
        &[
            "commit",
            "-q",
            "-m",
            "shop and data: first deploy of web, api, checkout, postgres and redis",
        ],
        BOB,
    )?;
    // A release through the chart's values, before the demo applies the repository.
    let values = dir.join("charts/checkout/values-demo.yaml");
    let text = std::fs::read_to_string(&values)?;
    std::fs::write(&values, text.replace("tag: \"1.0.0\"", "tag: \"1.1.0\""))?;
    git(
        dir,
        &["commit", "-q", "-am", "checkout: release 1.1.0"],
        ALICE,
    )?;
    Ok(())
}

/// The commit that lands while the demo runs: a release of the api.
pub fn land_release(dir: &Path) -> Result<()> {
    let path = dir.join("shop/api.yaml");
    let text = std::fs::read_to_string(&path)?;
    std::fs::write(
        &path,
        text.replace("ghcr.io/example/api:1.4.0", "ghcr.io/example/api:1.5.0"),
    )?;
    git(dir, &["commit", "-q", "-am", "api: release 1.5.0"], BOB)?;
    Ok(())
}

/// Applies the whole repository to the cluster through the sync path (namespaces and
/// CRDs first, then the rest once the new kinds are served).
async fn seed(settings: &runtime::Settings) -> Result<()> {
    let snapshot = crate::desired::load(&settings.load)?;
    let target = cluster::connect(settings.kubeconfig.as_deref(), None).await?;
    for phase in 0..2 {
        let served = Arc::new(cluster::discover(&target).await?);
        let mut snap = snapshot.clone();
        crate::desired::rescope(
            &mut snap,
            |g, k| served.get(g, k).map(|(_, n)| *n),
            &settings.load.default_namespace,
        );
        let first = |k: &ResourceKey| k.kind == "Namespace" || k.kind == "CustomResourceDefinition";
        let keys: Vec<ResourceKey> = snap
            .objects
            .iter()
            .map(|o| o.key.clone())
            .filter(|k| if phase == 0 { first(k) } else { !first(k) })
            .collect();
        let syncer = Syncer::new(
            target.clone(),
            Arc::clone(&served),
            &settings.field_manager,
            false,
            settings.drift.clone(),
            "demo",
        );
        let plan = syncer
            .preview(
                super::sources::plan_inputs(&snap, keys),
                &snap.revision.commit,
                settings.concurrency,
            )
            .await;
        if let Some(bad) = plan.items.iter().find(|i| i.action == PlanAction::Refused) {
            bail!(
                "the demo could not apply {}: {}",
                bad.key.short_name(),
                bad.error.clone().unwrap_or_default()
            );
        }
        let outcomes = syncer.apply(&plan, &snap.revision.commit, false).await?;
        if let Some(bad) = outcomes.iter().find(|o| !o.result.is_success()) {
            bail!(
                "the demo could not apply {}: {}",
                bad.key.short_name(),
                bad.result
            );
        }
    }
    Ok(())
}

/// One thing someone does to the cluster or the repository.
struct Act {
    what: &'static str,
}

const ACTS: &[Act] = &[
    Act { what: "the autoscaler (kube-controller-manager) scaled deploy/web -n shop to 4 replicas: Git does not set replicas, so this is not drift" },
    Act { what: "someone ran `kubectl scale deploy/api -n shop --replicas=5`" },
    Act { what: "someone hot-fixed the image of deploy/web -n shop with `kubectl edit`" },
    Act { what: "someone edited LOG_LEVEL in configmap/web-config -n shop with `kubectl edit`" },
    Act { what: "someone deleted configmap/redis-config -n data" },
    Act { what: "someone created configmap/legacy-flags -n shop by hand, with the tracking label: it is extra" },
    Act { what: "a new commit landed in Git: \"api: release 1.5.0\"" },
    Act { what: "deploy/redis -n data is rolling out new pods (kube-controller-manager): synced with Git, but progressing" },
    Act { what: "the new redis pods cannot pull their image (the registry is down): the rollout exceeded its progress deadline, redis is degraded while synced" },
    Act { what: "someone ran `kubectl set image deploy/checkout -n shop` on the Helm chart's Deployment: Git's tag comes from the chart's values-demo.yaml" },
];

/// Records an Event about a Deployment of the shop, as its controller would (the demo's
/// `E` view shows them).
async fn record_event(
    client: &kube::Client,
    deployment: &str,
    reason: &str,
    message: &str,
) -> Result<()> {
    record_event_in(client, "shop", deployment, reason, message, false).await
}

/// Records an Event about a Deployment in `ns` (a Warning when `warning`).
async fn record_event_in(
    client: &kube::Client,
    ns: &str,
    deployment: &str,
    reason: &str,
    message: &str,
    warning: bool,
) -> Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64;
    let at = crate::timefmt::rfc3339(now);
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client.clone(), ns);
    let event = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": format!("{deployment}.{now:x}{}", reason.len()), "namespace": ns},
        "involvedObject": {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment, "namespace": ns},
        "reason": reason,
        "message": message,
        "type": if warning { "Warning" } else { "Normal" },
        "count": 1,
        "source": {"component": "deployment-controller"},
        "firstTimestamp": at,
        "lastTimestamp": at,
        "reportingComponent": "deployment-controller",
    }))?;
    events.create(&PostParams::default(), &event).await?;
    Ok(())
}

/// Writes a Deployment's status as its controller would during a rollout: under way, or past
/// its progress deadline.
async fn rollout_status(client: &kube::Client, ns: &str, name: &str, stalled: bool) -> Result<()> {
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let current = deploys.get(name).await?;
    let want = current.spec.replicas.unwrap_or(1);
    let generation = current.metadata.generation.unwrap_or(1);
    let now = crate::timefmt::rfc3339(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs() as i64,
    );
    let rs = format!("{name}-6d5f8c7b9");
    let progressing = if stalled {
        serde_json::json!({"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
            "message": format!("ReplicaSet \"{rs}\" has timed out progressing."), "lastUpdateTime": now, "lastTransitionTime": now})
    } else {
        serde_json::json!({"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
            "message": format!("ReplicaSet \"{rs}\" is progressing."), "lastUpdateTime": now, "lastTransitionTime": now})
    };
    let status = serde_json::json!({"status": {
        "observedGeneration": generation,
        "replicas": want + 1,
        "updatedReplicas": 1,
        "readyReplicas": want,
        "availableReplicas": want,
        "unavailableReplicas": 1,
        "conditions": [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability.", "lastUpdateTime": now, "lastTransitionTime": now},
            progressing,
        ],
    }});
    deploys
        .patch_status(
            name,
            &PatchParams {
                field_manager: Some("kube-controller-manager".into()),
                ..PatchParams::default()
            },
            &Patch::Merge(status),
        )
        .await?;
    let (reason, message) = if stalled {
        (
            "ProgressDeadlineExceeded",
            format!("ReplicaSet \"{rs}\" has timed out progressing: Back-off pulling image"),
        )
    } else {
        (
            "ScalingReplicaSet",
            format!("Scaled up replica set {rs} from 0 to 1"),
        )
    };
    record_event_in(client, ns, name, reason, &message, stalled).await
}

async fn act(i: usize, client: &kube::Client, repo: &Path) -> Result<()> {
    let pp = |m: &str| PatchParams {
        field_manager: Some(m.to_string()),
        ..PatchParams::default()
    };
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "shop");
    match i {
        0 => {
            deploys
                .patch(
                    "web",
                    &pp("kube-controller-manager"),
                    &Patch::Merge(serde_json::json!({"spec": {"replicas": 4}})),
                )
                .await?;
            record_event(
                client,
                "web",
                "ScalingReplicaSet",
                "Scaled up replica set web-5d8c7f9b4 from 2 to 4",
            )
            .await?;
        }
        1 => {
            deploys
                .patch(
                    "api",
                    &pp("kubectl-scale"),
                    &Patch::Merge(serde_json::json!({"spec": {"replicas": 5}})),
                )
                .await?;
            record_event(
                client,
                "api",
                "ScalingReplicaSet",
                "Scaled up replica set api-6c9f8d7b5 from 2 to 5",
            )
            .await?;
        }
        2 => {
            let patch = serde_json::json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "ghcr.io/example/web:2.3.1-hotfix1"}]}}}});
            deploys
                .patch("web", &pp("kubectl-edit"), &Patch::Strategic(patch))
                .await?;
            record_event(
                client,
                "web",
                "ScalingReplicaSet",
                "Scaled up replica set web-7f6d5c8e9 from 0 to 1",
            )
            .await?;
        }
        3 => {
            let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "shop");
            cms.patch(
                "web-config",
                &pp("kubectl-edit"),
                &Patch::Merge(serde_json::json!({"data": {"LOG_LEVEL": "debug"}})),
            )
            .await?;
        }
        4 => {
            let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "data");
            cms.delete("redis-config", &DeleteParams::default()).await?;
        }
        5 => {
            let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "shop");
            let cm: ConfigMap = serde_json::from_value(serde_json::json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "legacy-flags", "namespace": "shop", "labels": {"app.kubernetes.io/part-of": "kdrift-demo"}},
                "data": {"OLD_CHECKOUT": "true"}
            }))?;
            cms.create(
                &PostParams {
                    field_manager: Some("kubectl-create".into()),
                    ..PostParams::default()
                },
                &cm,
            )
            .await?;
        }
        7 | 8 => rollout_status(client, "data", "redis", i == 8).await?,
        9 => {
            let patch = serde_json::json!({"spec": {"template": {"spec": {"containers": [{"name": "checkout", "image": "ghcr.io/example/checkout:1.1.0-debug"}]}}}});
            deploys
                .patch("checkout", &pp("kubectl-set"), &Patch::Strategic(patch))
                .await?;
        }
        6 => {
            let dir = repo.to_path_buf();
            tokio::task::spawn_blocking(move || land_release(&dir))
                .await
                .map_err(|e| anyhow!("{e}"))??;
        }
        _ => {}
    }
    Ok(())
}

/// Runs every act, `pace` apart, announcing each in the explorer when there is one.
async fn actors(
    client: kube::Client,
    repo: PathBuf,
    pace: Duration,
    ui: Option<UnboundedSender<Msg>>,
) {
    for (i, a) in ACTS.iter().enumerate() {
        tokio::time::sleep(if i == 0 { pace / 2 } else { pace }).await;
        let result = act(i, &client, &repo).await;
        let text = match result {
            Ok(()) => format!("demo: {}", a.what),
            Err(e) => format!("demo: could not act ({}): {e}", a.what),
        };
        tracing::info!("{text}");
        if let Some(ui) = &ui {
            if ui.send(Msg::Notice(text)).is_err() {
                return;
            }
        }
    }
}

/// `kdrift demo`.
pub fn run(global: &GlobalArgs, config: &Config, args: &DemoArgs) -> Result<u8> {
    let temp = tempfile::Builder::new()
        .prefix("kdrift-demo-")
        .tempdir()
        .context("creating a temporary folder")?;
    let repo = match &args.repo_out {
        Some(dir) => dir.clone(),
        None => temp.path().join("repo"),
    };
    write_repository(&repo)?;
    let kubeconfig = temp.path().join("kubeconfig");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let sim = rt.block_on(crate::sim::start(crate::sim::SimOptions {
        listen: ([127, 0, 0, 1], 0).into(),
        tls: false,
        load: Vec::new(),
    }))?;
    let text = sim
        .kubeconfig
        .replace(
            "contexts:\n- name: sim\n",
            &format!("contexts:\n- name: {CONTEXT}\n"),
        )
        .replace(
            "current-context: sim",
            &format!("current-context: {CONTEXT}"),
        );
    std::fs::write(&kubeconfig, text)?;

    let mut g = global.clone();
    g.repo = Some(repo.clone());
    g.kubeconfig = Some(kubeconfig.clone());
    g.context = Vec::new();
    g.targets = Vec::new();
    g.live_file = None;
    g.selector = Some(PART_OF.to_string());
    g.paths = Vec::new();
    let settings = runtime::resolve(&g, config)?;
    rt.block_on(seed(&settings))?;
    let target = rt.block_on(cluster::connect(Some(&kubeconfig), None))?;
    let pace = Duration::from_secs_f64(args.pace.clamp(0.0, 600.0));
    let code = if args.no_tui {
        rt.block_on(actors(
            target.client.clone(),
            repo.clone(),
            Duration::ZERO,
            None,
        ));
        let diff = crate::cli::DiffArgs {
            output: crate::cli::OutputFormat::Text,
            keys: Vec::new(),
            color: crate::cli::ColorChoice::Never,
            no_pager: true,
            app: None,
            apps_table: false,
            fleet: false,
        };
        runtime::run_diff(&settings, &diff)?;
        runtime::EXIT_CLEAN
    } else {
        let mut opts = runtime::explorer_options(&g, config, &settings)?;
        opts.first_run_hint = Some(
            "demo: watch the tree change · f: show drifted only · enter: diff · s: sync one · ?: help · q: quit".into(),
        );
        let client = target.client.clone();
        let actor_repo = repo.clone();
        rt.block_on(explorer::explore(
            &settings,
            opts,
            Some(Box::new(move |ui| {
                tokio::spawn(actors(client, actor_repo, pace, Some(ui)));
            })),
        ))?
    };
    rt.block_on(sim.stop());
    rt.shutdown_background();
    if let Some(dir) = &args.repo_out {
        eprintln!(
            "kdrift demo: the demo repository is kept in {}",
            dir.display()
        );
    }
    drop(temp);
    Ok(code)
}
