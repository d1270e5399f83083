//! Sync against sim and against a real kube-apiserver (every test runs on both, each in a
//! namespace of its own): headless `kdrift sync` creates and updates exactly the named
//! resources (every other object compared before and after), conflicts are refused until
//! `--force-conflicts`, `--dry-run` and read-only write nothing, no terminal without `--yes`
//! refuses, the preview-versus-apply guard refuses when Git or the live object moved, and
//! prune deletes only an unowned object at the version that was shown.

mod support;

use kdrift::live::cluster;
use kdrift::model::ResourceKey;
use kdrift::sim::{self, SimHandle, SimOptions};
use kdrift::sync::{ItemResult, PlanAction, SyncError, Syncer};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use support::{stderr, stdout, TestRepo};

/// The application, in namespace `shop` (replaced by each test's own namespace).
const MANIFESTS: &str = "\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: web:1
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
  namespace: shop
data:
  mode: blue
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: other
  namespace: shop
data:
  mode: green
";

struct Setup {
    _dir: tempfile::TempDir,
    repo: TestRepo,
    /// `sim` or `real`.
    server: &'static str,
    _sim: Option<SimHandle>,
    kubeconfig: PathBuf,
    /// This test's namespace (in place of `shop`).
    ns: String,
}

/// One setup on sim, and one on the real API server where there is one.
async fn setups() -> Vec<Setup> {
    let mut out = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    let sim = sim::start(SimOptions::default()).await.unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig).unwrap();
    out.push(setup_on("sim", Some(sim), kubeconfig, dir));
    if let Some(real) = support::real_server() {
        out.push(setup_on(
            "real",
            None,
            real.kubeconfig.clone(),
            tempfile::tempdir().unwrap(),
        ));
    }
    out
}

fn setup_on(
    server: &'static str,
    handle: Option<SimHandle>,
    kubeconfig: PathBuf,
    dir: tempfile::TempDir,
) -> Setup {
    let ns = support::unique_name("shop");
    let repo = TestRepo::new();
    repo.write("apps/shop.yaml", &MANIFESTS.replace("shop", &ns));
    repo.commit("shop");
    Setup {
        _dir: dir,
        repo,
        server,
        _sim: handle,
        kubeconfig,
        ns,
    }
}

fn run(setup: &Setup, args: &[&str]) -> std::process::Output {
    support::kdrift_cmd(setup.repo.path())
        .args(args)
        .arg("--kubeconfig")
        .arg(&setup.kubeconfig)
        .output()
        .expect("kdrift runs")
}

async fn run_async(setup: &Setup, args: &[&str]) -> std::process::Output {
    support::kdrift_on(setup.repo.path(), &setup.kubeconfig, args).await
}

/// Every object this test can have written, by `group/plural/namespace/name`, with its whole
/// JSON (resourceVersion included): the namespace and what is in it, and with `widgets` the
/// widgets CRD (cluster-wide, so only the one test that makes it looks at it).
async fn everything_of(s: &Setup, widgets: bool) -> BTreeMap<String, Value> {
    let c = client(&s.kubeconfig).await;
    let mut out = BTreeMap::new();
    let kinds: [(&str, &str, &str, &str, bool); 5] = [
        ("", "v1", "Namespace", "namespaces", false),
        ("", "v1", "ConfigMap", "configmaps", true),
        ("apps", "v1", "Deployment", "deployments", true),
        (
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            false,
        ),
        ("example.com", "v1", "Widget", "widgets", true),
    ];
    for (group, version, kind, plural, namespaced) in kinds {
        if !widgets && matches!(kind, "CustomResourceDefinition" | "Widget") {
            continue;
        }
        let ar = kube::discovery::ApiResource {
            group: group.into(),
            version: version.into(),
            api_version: if group.is_empty() {
                version.into()
            } else {
                format!("{group}/{version}")
            },
            kind: kind.into(),
            plural: plural.into(),
        };
        let namespaces = vec![s.ns.clone()];
        for ns in namespaces {
            let api: Api<DynamicObject> = if namespaced {
                Api::namespaced_with(c.clone(), &ns, &ar)
            } else {
                Api::all_with(c.clone(), &ar)
            };
            let Ok(list) = api.list(&Default::default()).await else {
                continue; // a kind not served (yet)
            };
            for o in list.items {
                let name = o.metadata.name.clone().unwrap_or_default();
                let mine = match kind {
                    "Namespace" => name == s.ns,
                    "CustomResourceDefinition" => name == "widgets.example.com",
                    _ => true,
                };
                if mine {
                    let obj_ns = o.metadata.namespace.clone().unwrap_or_default();
                    out.insert(
                        format!("{group}/{plural}/{obj_ns}/{name}"),
                        serde_json::to_value(&o).unwrap(),
                    );
                }
            }
        }
    }
    out
}

async fn everything(s: &Setup) -> BTreeMap<String, Value> {
    everything_of(s, false).await
}

async fn client(kubeconfig: &Path) -> kube::Client {
    cluster::connect(Some(kubeconfig), None)
        .await
        .unwrap()
        .client
}

async fn patch_as(s: &Setup, manager: &str, kind: &str, name: &str, body: Value) {
    let kubeconfig = &s.kubeconfig;
    let c = client(kubeconfig).await;
    let pp = PatchParams {
        field_manager: Some(manager.into()),
        ..PatchParams::default()
    };
    match kind {
        "Deployment" => {
            let api: Api<k8s_openapi::api::apps::v1::Deployment> = Api::namespaced(c, &s.ns);
            api.patch(name, &pp, &Patch::Merge(body)).await.unwrap();
        }
        _ => {
            let api: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(c, &s.ns);
            api.patch(name, &pp, &Patch::Merge(body)).await.unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_sync_converges_only_the_named_resources() {
    for s in setups().await {
        let ns = s.ns.as_str();
        eprintln!("on {} in namespace {ns}", s.server);
        // Create everything from Git (missing → create).
        let out = run_async(
            &s,
            &[
                "sync",
                "--yes",
                &format!("/Namespace//{ns}"),
                "deploy/web",
                "-n",
                ns,
                "configmap/cfg",
                "cm/other",
            ],
        )
        .await;
        support::assert_exit(&out, 0);
        assert!(stdout(&out).contains("create"), "{}", stdout(&out));
        // Others change the cluster.
        patch_as(
            &s,
            "kubectl-scale",
            "Deployment",
            "web",
            json!({"spec": {"replicas": 5}}),
        )
        .await;
        patch_as(
            &s,
            "kubectl-edit",
            "ConfigMap",
            "cfg",
            json!({"data": {"mode": "red"}}),
        )
        .await;
        patch_as(
            &s,
            "kubectl-edit",
            "ConfigMap",
            "other",
            json!({"data": {"mode": "red"}}),
        )
        .await;
        let before = everything(&s).await;

        // Conflicts are refused without force: nothing is written.
        let out = run_async(&s, &["sync", "--yes", "cm/cfg", "-n", ns]).await;
        support::assert_exit(&out, 2);
        assert!(
            stdout(&out).contains("conflict: kubectl-edit owns .data.mode"),
            "{}",
            stdout(&out)
        );
        assert_eq!(everything(&s).await, before);

        // With force: cfg converges, and nothing else changes.
        let out = run_async(
            &s,
            &[
                "sync",
                "--yes",
                "--force-conflicts",
                &format!("/ConfigMap/{ns}/cfg"),
            ],
        )
        .await;
        support::assert_exit(&out, 0);
        assert!(stdout(&out).contains("applied"), "{}", stdout(&out));
        let after = everything(&s).await;
        for (k, v) in &before {
            if k.contains(&format!("configmaps/{ns}/cfg")) {
                assert_eq!(after[k]["data"]["mode"], "blue");
            } else {
                assert_eq!(after.get(k), Some(v), "{k} changed");
            }
        }
        assert_eq!(after.len(), before.len());

        // The diff agrees: cfg synced, web and other still drifted.
        let out = run_async(&s, &["diff", "-o", "json"]).await;
        let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
        let status = |name: &str| {
            v["resources"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["name"] == name)
                .unwrap()["status"]
                .clone()
        };
        assert_eq!(status("cfg"), "synced");
        assert_eq!(status("other"), "out-of-sync");
        assert_eq!(status("web"), "out-of-sync");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_read_only_and_no_terminal_write_nothing() {
    for s in setups().await {
        let ns = s.ns.as_str();
        eprintln!("on {} in namespace {ns}", s.server);
        run_async(&s, &["sync", "--yes", &format!("/Namespace//{ns}")]).await;
        let before = everything(&s).await;
        let out = run_async(&s, &["sync", "--dry-run", "cm/cfg", "-n", ns]).await;
        assert!(
            stdout(&out).contains("create") && stdout(&out).contains("Dry run"),
            "{}",
            stdout(&out)
        );
        assert_eq!(everything(&s).await, before);

        let out = run_async(&s, &["sync", "--read-only", "--yes", "cm/cfg", "-n", ns]).await;
        assert_eq!(out.status.code(), Some(2));
        assert!(stderr(&out).contains("read-only"), "{}", stderr(&out));
        assert_eq!(everything(&s).await, before);

        // stdin is not a terminal here: without --yes, kdrift refuses.
        let out = run(&s, &["sync", "cm/cfg", "-n", ns]);
        assert_eq!(out.status.code(), Some(2));
        assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
        assert_eq!(everything(&s).await, before);

        // Names that cannot be resolved are refused before anything happens.
        let out = run(&s, &["sync", "--yes", "gizmo/web"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(stderr(&out).contains("unknown kind"), "{}", stderr(&out));
    }
}

async fn make_syncer(s: &Setup, read_only: bool) -> (Syncer, kdrift::desired::DesiredSnapshot) {
    let target = cluster::connect(Some(&s.kubeconfig), None).await.unwrap();
    let served = Arc::new(cluster::discover(&target).await.unwrap());
    let mut snap = kdrift::desired::load(&kdrift::desired::LoadOptions {
        repo: Some(s.repo.path().to_path_buf()),
        rev: "HEAD".into(),
        paths: vec![],
        default_namespace: "default".into(),
        kustomize_command: String::new(),
        helm_command: String::new(),
        capabilities: None,
        apps: Default::default(),
        cache_dir: s.repo.path().join(".cache"),
    })
    .unwrap();
    kdrift::desired::rescope(
        &mut snap,
        |g, k| served.get(g, k).map(|(_, n)| *n),
        "default",
    );
    let syncer = Syncer::new(
        target,
        served,
        "kdrift",
        read_only,
        Default::default(),
        "tester",
    );
    (syncer, snap)
}

fn inputs(
    snap: &kdrift::desired::DesiredSnapshot,
    keys: &[ResourceKey],
) -> Vec<(ResourceKey, Option<kdrift::model::DesiredObject>)> {
    keys.iter()
        .map(|k| {
            (
                k.clone(),
                snap.objects.iter().find(|o| o.key == *k).cloned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_refuses_when_the_live_object_or_git_moved_since_the_preview() {
    for s in setups().await {
        let ns = s.ns.as_str();
        eprintln!("on {} in namespace {ns}", s.server);
        let out = run_async(
            &s,
            &[
                "sync",
                "--yes",
                &format!("/Namespace//{ns}"),
                "deploy/web",
                "-n",
                ns,
            ],
        )
        .await;
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        patch_as(
            &s,
            "kubectl-edit",
            "Deployment",
            "web",
            json!({"metadata": {"labels": {"x": "1"}}}),
        )
        .await;
        let (syncer, snap) = make_syncer(&s, false).await;
        let web = ResourceKey::new("apps", "Deployment", ns, "web");
        patch_as(
            &s,
            "kubectl-scale",
            "Deployment",
            "web",
            json!({"spec": {"replicas": 7}}),
        )
        .await;
        let plan = syncer
            .preview(
                inputs(&snap, std::slice::from_ref(&web)),
                &snap.revision.commit,
                4,
            )
            .await;
        assert_eq!(plan.items[0].action, PlanAction::Update);
        assert!(
            plan.items[0]
                .changes
                .iter()
                .any(|c| c.path == "spec.replicas"
                    && c.before.as_deref() == Some("7")
                    && c.after.as_deref() == Some("2")),
            "{:?}",
            plan.items[0]
        );
        assert!(
            plan.items[0]
                .conflicts
                .iter()
                .any(|c| c.manager == "kubectl-scale"),
            "{:?}",
            plan.items[0].conflicts
        );
        // Someone changes web between preview and confirmation.
        patch_as(
            &s,
            "kubectl-scale",
            "Deployment",
            "web",
            json!({"spec": {"replicas": 9}}),
        )
        .await;
        let before = everything(&s).await;
        match syncer.apply(&plan, &snap.revision.commit, true).await {
            Err(SyncError::Moved(what)) => {
                assert!(what[0].contains("changed in the cluster"), "{what:?}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(everything(&s).await, before);
        // Git moved.
        let plan = syncer
            .preview(
                inputs(&snap, std::slice::from_ref(&web)),
                &snap.revision.commit,
                4,
            )
            .await;
        match syncer.apply(&plan, "0123456789abcdef", true).await {
            Err(SyncError::Moved(what)) => assert!(what[0].contains("Git moved"), "{what:?}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(everything(&s).await, before);
        // Unchanged since the preview: applied, with force taking replicas back.
        let outcomes = syncer
            .apply(&plan, &snap.revision.commit, true)
            .await
            .unwrap();
        assert_eq!(outcomes[0].result, ItemResult::Applied);
        let after = everything(&s).await;
        let key = after
            .keys()
            .find(|k| k.contains(&format!("deployments/{ns}/web")))
            .unwrap();
        assert_eq!(after[key]["spec"]["replicas"], 2);
        // A read-only syncer refuses whatever calls it.
        let (ro, _) = make_syncer(&s, true).await;
        assert!(matches!(
            ro.apply(&plan, &snap.revision.commit, true).await,
            Err(SyncError::ReadOnly(_))
        ));
        assert!(matches!(
            ro.delete(&web, "1").await,
            Err(SyncError::ReadOnly(_))
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_deletes_only_the_version_shown_and_never_owned_objects() {
    for s in setups().await {
        let ns = s.ns.as_str();
        eprintln!("on {} in namespace {ns}", s.server);
        run_async(&s, &["sync", "--yes", &format!("/Namespace//{ns}")]).await;
        let c = client(&s.kubeconfig).await;
        let cms: Api<DynamicObject> = Api::namespaced_with(
            c,
            ns,
            &kube::discovery::ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&()),
        );
        let pp = kube::api::PostParams::default();
        for (name, owned) in [("orphan", false), ("owned", true)] {
            let mut obj: DynamicObject = serde_json::from_value(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, "data": {"a": "b"}})).unwrap();
            if owned {
                obj.metadata.owner_references = Some(vec![serde_json::from_value(json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "1234"})).unwrap()]);
            }
            cms.create(&pp, &obj).await.unwrap();
        }
        let (syncer, _) = make_syncer(&s, false).await;
        let orphan = ResourceKey::new("", "ConfigMap", ns, "orphan");
        let owned = ResourceKey::new("", "ConfigMap", ns, "owned");
        let rv = syncer
            .get(&orphan)
            .await
            .unwrap()
            .unwrap()
            .resource_version();
        // A stale version is refused by the server's precondition.
        let stale = syncer.delete(&orphan, "1").await.unwrap();
        assert!(matches!(stale.result, ItemResult::Stale(_)), "{stale:?}");
        assert!(syncer.get(&orphan).await.unwrap().is_some());
        assert!(
            matches!(syncer.delete(&owned, "1").await, Err(SyncError::Refused(m)) if m.contains("ownerReferences"))
        );
        let done = syncer.delete(&orphan, &rv).await.unwrap();
        assert_eq!(done.result, ItemResult::Deleted);
        assert!(syncer.get(&orphan).await.unwrap().is_none());
        assert!(syncer.get(&owned).await.unwrap().is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crd_and_its_custom_resources_sync_in_one_confirmed_operation() {
    for s in setups().await {
        let ns = s.ns.as_str();
        eprintln!("on {} in namespace {ns}", s.server);
        s.repo.write(
        "crds/widget.yaml",
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}\nspec:\n  group: example.com\n  scope: Namespaced\n  names: {kind: Widget, plural: widgets}\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}\n",
    );
        s.repo.write(
        "apps/widget.yaml",
        &format!("apiVersion: example.com/v1\nkind: Widget\nmetadata: {{name: w, namespace: {ns}}}\nspec: {{size: 3}}\n"),
    );
        s.repo.commit("widgets");
        run_async(&s, &["sync", "--yes", &format!("/Namespace//{ns}")]).await;
        let keys = [
            "sync",
            "customresourcedefinition/widgets.example.com",
            "widget/w",
            "-n",
            ns,
        ];
        // The preview names both, says how the widget is checked, and writes nothing.
        let mut dry = keys.to_vec();
        dry.push("--dry-run");
        let out = run_async(&s, &dry).await;
        let text = stdout(&out);
        assert!(
            text.contains("create    CustomResourceDefinition/widgets.example.com"),
            "{text}{}",
            stderr(&out)
        );
        assert!(
            text.contains(&format!("create    Widget/w -n {ns}")),
            "{text}"
        );
        assert!(
            text.contains("checked with a dry run once that CRD is established"),
            "{text}"
        );
        assert!(!everything_of(&s, true)
            .await
            .keys()
            .any(|k| k.contains("widgets")));
        // Confirmed: the CRD first, then the widget once its kind is served.
        let mut yes = keys.to_vec();
        yes.push("--yes");
        let out = run_async(&s, &yes).await;
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}{}",
            stdout(&out),
            stderr(&out)
        );
        let all = everything_of(&s, true).await;
        let widget = all
            .get(&format!("example.com/widgets/{ns}/w"))
            .unwrap_or_else(|| panic!("no widget in {:?}", all.keys().collect::<Vec<_>>()));
        assert_eq!(widget["spec"]["size"], 3);
        assert!(
            all.contains_key("apiextensions.k8s.io/customresourcedefinitions//widgets.example.com")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syncing_a_name_that_exists_nowhere_says_so_and_where_it_looked() {
    for s in setups().await {
        let ns = s.ns.as_str();
        eprintln!("on {} in namespace {ns}", s.server);
        let out = run_async(&s, &["sync", "cm/nope", "-n", ns, "--dry-run"]).await;
        let text = format!("{}{}", stdout(&out), stderr(&out));
        assert!(
            text.contains(&format!(
                "exists neither in Git nor in the cluster (in namespace {ns})"
            )),
            "{text}"
        );
        assert!(
            !text.contains(" D"),
            "no explorer key in a headless answer: {text}"
        );
        assert_ne!(out.status.code(), Some(0), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preview_names_keyed_items_of_custom_resources_by_key() {
    for s in setups().await {
        let ns = s.ns.as_str();
        let group = format!("{ns}.example.com");
        let crd = format!("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {{name: rules.{group}}}\nspec:\n  group: {group}\n  scope: Namespaced\n  names: {{kind: Rule, plural: rules}}\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        type: object\n        properties:\n          spec:\n            type: object\n            properties:\n              groups:\n                type: array\n                x-kubernetes-list-type: map\n                x-kubernetes-list-map-keys: [name]\n                items:\n                  type: object\n                  required: [name]\n                  properties:\n                    name: {{type: string}}\n                    expr: {{type: string}}\n");
        let rule = format!("apiVersion: {group}/v1\nkind: Rule\nmetadata: {{name: r, namespace: {ns}}}\nspec:\n  groups:\n  - {{name: a, expr: up}}\n  - {{name: b, expr: new}}\n");
        s.repo.write("crds/rule.yaml", &crd);
        s.repo.write("apps/rule.yaml", &rule);
        s.repo.commit("rules");
        let crd_key = format!("customresourcedefinition/rules.{group}");
        let out = run_async(
            &s,
            &[
                "sync",
                "--yes",
                &format!("/Namespace//{ns}"),
                &crd_key,
                "rule/r",
                "-n",
                ns,
            ],
        )
        .await;
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}{}",
            s.server,
            stdout(&out),
            stderr(&out)
        );
        // Someone changes group b's expression.
        let ar = kube::discovery::ApiResource {
            group: group.clone(),
            version: "v1".into(),
            api_version: format!("{group}/v1"),
            kind: "Rule".into(),
            plural: "rules".into(),
        };
        let api: Api<DynamicObject> = Api::namespaced_with(client(&s.kubeconfig).await, ns, &ar);
        let pp = PatchParams {
            field_manager: Some("kubectl-edit".into()),
            ..PatchParams::default()
        };
        api.patch(
            "r",
            &pp,
            &Patch::Merge(json!({"spec": {"groups": [{"name": "a", "expr": "up"}, {"name": "b", "expr": "old"}]}})),
        )
        .await
        .unwrap();
        let (syncer, snap) = make_syncer(&s, false).await;
        let key = ResourceKey::new(&group, "Rule", ns, "r");
        let plan = syncer
            .preview(
                inputs(&snap, std::slice::from_ref(&key)),
                &snap.revision.commit,
                4,
            )
            .await;
        let paths: Vec<&str> = plan.items[0]
            .changes
            .iter()
            .map(|c| c.path.as_str())
            .collect();
        assert_eq!(
            paths,
            ["spec.groups[name=b].expr"],
            "{}: {:?}",
            s.server,
            plan.items[0]
        );
    }
}
