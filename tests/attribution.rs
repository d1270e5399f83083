//! Who, when and why: field owners resolved through managedFields for keyed, set and atomic
//! lists; the commit that last changed a field's line through several commits, and the
//! bound on big histories; and, against sim, causes for fields changed by several named
//! managers and by a Git commit that was never applied.

mod support;

use kdrift::desired::history::{Bounds, History};
use kdrift::drift::attribution::Cause;
use kdrift::drift::{self, DriftOptions};
use kdrift::model::{DesiredObject, LiveObject, ResourceKey, SourceLocation};
use serde_json::{json, Value};
use std::time::Duration;
use support::{stderr, stdout, TestRepo};

#[test]
fn owners_resolve_through_keyed_set_and_atomic_lists() {
    let desired = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "finalizers": ["a", "b"]},
        "spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": "web:1", "args": ["--x"]},
            {"name": "side", "image": "side:1"}]}}}});
    let live = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "finalizers": ["a", "c"],
            "managedFields": [
                {"manager": "kdrift", "operation": "Apply", "time": "2026-11-26T08:00:00Z", "fieldsV1": (json!({
                    "f:metadata": {"f:finalizers": {"v:\"a\"": {}}},
                    "f:spec": {"f:template": {"f:spec": {"f:containers": {
                        "k:{\"name\":\"side\"}": {".": {}, "f:name": {}, "f:image": {}}}}}}}))},
                {"manager": "kubectl-edit", "operation": "Update", "time": "2026-11-26T09:00:00Z", "fieldsV1": (json!({
                    "f:spec": {"f:template": {"f:spec": {"f:containers": {
                        "k:{\"name\":\"web\"}": {".": {}, "f:name": {}, "f:image": {}}}}}}}))},
                {"manager": "finalizer-bot", "operation": "Update", "time": "2026-11-26T09:30:00Z", "fieldsV1": (json!({
                    "f:metadata": {"f:finalizers": {"v:\"c\"": {}}}}))},
                {"manager": "args-operator", "operation": "Apply", "time": "2026-11-26T10:00:00Z", "fieldsV1": (json!({
                    "f:spec": {"f:template": {"f:spec": {"f:containers": {
                        "k:{\"name\":\"web\"}": {"f:args": {}}}}}}}))}
            ]},
        "spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": "web:2", "args": ["--y"]},
            {"name": "side", "image": "side:2"}]}}}});
    let key = ResourceKey::new("apps", "Deployment", "shop", "web");
    let d = DesiredObject {
        key: key.clone(),
        api_version: "apps/v1".into(),
        object: kdrift::model::Packed::new(&desired),
        source: SourceLocation {
            file: "web.yaml".into(),
            line: Some(1),
        },
    };
    let l = LiveObject::new(key, "apps/v1", live);
    let opts = DriftOptions {
        appliers: vec!["kdrift".into()],
        people: vec!["kubectl-*".into()],
        ..DriftOptions::default()
    };
    let report = drift::build_report(&[d], &[], &[l], &opts);
    let e = &report.entries[0];
    let by_path = |p: &str| {
        e.fields
            .iter()
            .find(|f| f.path.to_string() == p)
            .unwrap_or_else(|| {
                panic!(
                    "no {p} in {:?}",
                    e.fields
                        .iter()
                        .map(|f| f.path.to_string())
                        .collect::<Vec<_>>()
                )
            })
    };
    let owned = |p: &str, manager: &str, cause: Cause| {
        let f = by_path(p);
        assert_eq!(f.owner.as_ref().unwrap().manager, manager, "{p}");
        assert_eq!(f.cause, Some(cause), "{p}");
    };
    // Keyed list item: the manager that updated web's image.
    owned(
        "spec.template.spec.containers[name=web].image",
        "kubectl-edit",
        Cause::ManualEdit,
    );
    // The other item is the applier's: Git moved since its apply.
    owned(
        "spec.template.spec.containers[name=side].image",
        "kdrift",
        Cause::NotYetApplied,
    );
    // Atomic list: owned as a whole by its leaf owner.
    owned(
        "spec.template.spec.containers[name=web].args",
        "args-operator",
        Cause::Controller,
    );
    // Set: the member another manager added.
    owned("metadata.finalizers", "finalizer-bot", Cause::Controller);
    // The object's last change.
    assert_eq!(e.last_change.as_ref().unwrap().manager, "args-operator");
}

const WEB: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels:
    tier: front
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
";

#[test]
fn the_last_commit_of_each_line_through_history_and_the_bound() {
    let repo = TestRepo::new();
    repo.write("apps/web.yaml", WEB);
    let c1 = repo.commit("web: first");
    repo.write(
        "apps/web.yaml",
        &WEB.replace("image: web:1", "image: web:2"),
    );
    let c2 = repo.commit("web: release 2");
    repo.write(
        "apps/web.yaml",
        &WEB.replace("image: web:1", "image: web:2")
            .replace("tier: front", "tier: edge"),
    );
    let c3 = repo.commit("web: move to the edge tier");
    // Unrelated history on top.
    for i in 0..60 {
        repo.write("other.txt", &format!("{i}\n"));
        repo.commit(&format!("other {i}"));
    }
    let head = repo.git(&["rev-parse", "HEAD"]);
    let mut h = History::open(repo.path()).unwrap();
    let text = h.file_at(&head, "apps/web.yaml").unwrap();
    let line = |p: &str| {
        kdrift::desired::history::field_line(&text, 1, &kdrift::path::FieldPath::parse(p).unwrap())
            .unwrap()
    };
    let commit = |h: &mut History, p: &str| {
        h.last_change(&head, "apps/web.yaml", line(p), Bounds::default())
            .map(|c| (c.id, c.summary))
    };
    assert_eq!(
        commit(&mut h, "spec.template.spec.containers[name=web].image"),
        Some((c2.clone(), "web: release 2".into()))
    );
    assert_eq!(
        commit(&mut h, "metadata.labels.tier"),
        Some((c3, "web: move to the edge tier".into()))
    );
    assert_eq!(
        commit(&mut h, "spec.replicas"),
        Some((c1, "web: first".into()))
    );
    // Bounded: 60 commits cannot be walked in 10, nor in no time; a huge history never stalls.
    let mut fresh = History::open(repo.path()).unwrap();
    let image = line("spec.template.spec.containers[name=web].image");
    assert_eq!(
        fresh.last_change(
            &head,
            "apps/web.yaml",
            image,
            Bounds {
                max_commits: 10,
                max_time: Duration::from_secs(5)
            }
        ),
        None
    );
    assert_eq!(
        fresh.last_change(
            &head,
            "apps/web.yaml",
            image,
            Bounds {
                max_commits: 10_000,
                max_time: Duration::ZERO
            }
        ),
        None
    );
    assert_eq!(
        fresh
            .last_change(&head, "apps/web.yaml", image, Bounds::default())
            .map(|c| c.id),
        Some(c2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn causes_on_both_servers_for_several_managers_and_an_unapplied_commit() {
    let dir = tempfile::tempdir().unwrap();
    let sim = kdrift::sim::start(kdrift::sim::SimOptions::default())
        .await
        .unwrap();
    let sim_kc = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&sim_kc).unwrap();
    let mut servers = vec![("sim", sim_kc)];
    if let Some(real) = support::real_server() {
        servers.push(("real", real.kubeconfig.clone()));
    }
    for (server, kc) in servers {
        eprintln!("on {server}");
        causes_for_several_managers_and_an_unapplied_commit(&kc).await;
    }
}

async fn causes_for_several_managers_and_an_unapplied_commit(kc: &std::path::Path) {
    use kube::api::{Api, Patch, PatchParams};
    let ns = support::unique_name("shop");
    let web_yaml = WEB.replace("namespace: shop", &format!("namespace: {ns}"));
    let repo = TestRepo::new();
    repo.write(
        "ns.yaml",
        &format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n"),
    );
    repo.write("apps/web.yaml", &web_yaml);
    repo.commit("web");
    let out = support::kdrift_on(
        repo.path(),
        kc,
        &[
            "sync",
            "--yes",
            &format!("/Namespace//{ns}"),
            "deploy/web",
            "-n",
            &ns,
        ],
    )
    .await;
    support::assert_exit(&out, 0);
    let client = kdrift::live::cluster::connect(Some(kc), None)
        .await
        .unwrap()
        .client;
    let api: Api<k8s_openapi::api::apps::v1::Deployment> = Api::namespaced(client, &ns);
    let pp = |m: &str| PatchParams {
        field_manager: Some(m.into()),
        ..PatchParams::default()
    };
    api.patch("web", &pp("kubectl-edit"), &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "web:hotfix"}]}}}}))).await.unwrap();
    api.patch(
        "web",
        &pp("istio-injector"),
        &Patch::Merge(json!({"metadata": {"labels": {"tier": "mesh"}}})),
    )
    .await
    .unwrap();
    // A commit after the apply, never applied. Commit times have one-second resolution:
    // make sure it is later than the apply.
    std::thread::sleep(Duration::from_millis(1100));
    repo.write(
        "apps/web.yaml",
        &web_yaml.replace("replicas: 2", "replicas: 3"),
    );
    let commit = repo.commit("web: scale to 3");
    let out = support::kdrift_on(repo.path(), kc, &["diff", "-o", "json"]).await;
    let v: Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&out), stderr(&out)));
    let web = v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "web")
        .unwrap()
        .clone();
    let field = |p: &str| {
        web["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == p)
            .unwrap_or_else(|| panic!("no {p}: {web:#}"))
            .clone()
    };
    let image = field("spec.template.spec.containers[name=web].image");
    assert_eq!(image["cause"], "manual-edit", "{image:#}");
    assert_eq!(image["owner"]["manager"], "kubectl-edit");
    assert_eq!(image["owner"]["operation"], "Update");
    let tier = field("metadata.labels.tier");
    assert_eq!(tier["cause"], "controller", "{tier:#}");
    assert_eq!(tier["owner"]["manager"], "istio-injector");
    let replicas = field("spec.replicas");
    assert_eq!(replicas["cause"], "not-yet-applied", "{replicas:#}");
    assert_eq!(replicas["commit"]["id"], commit.as_str());
    assert_eq!(replicas["commit"]["summary"], "web: scale to 3");
    assert_eq!(replicas["commit"]["author"], "Test Author");
    assert_eq!(replicas["commit"]["file"], "apps/web.yaml");
    assert_eq!(replicas["commit"]["line"], 9);
    assert!(replicas["commit"]["time"].as_str().unwrap().ends_with('Z'));
}

/// Rendered objects: a drifted field of a kustomize overlay is attributed to the overlay's
/// transformer line, of a base to the base's line, of a patch to the patch's line; a field a
/// chart takes from `.Values` to the values file line of the Argo CD Application's value
/// file, each with the commit that last changed that line.
#[test]
fn rendered_fields_lead_to_the_commit_of_the_line_that_set_them() {
    let (Some(kubectl), Some(helm)) = (support::kubectl(), support::helm()) else {
        eprintln!("skipped: no pinned kubectl and helm (scripts/install-tools)");
        return;
    };
    let repo = TestRepo::new();
    repo.write(
        "base/deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers:\n        - name: web\n          image: web:1\n          workingDir: /srv\n",
    );
    repo.write("base/kustomization.yaml", "resources:\n  - deploy.yaml\n");
    repo.write(
        "prod/kustomization.yaml",
        "resources:\n  - ../base\nnamespace: shop\nimages:\n  - name: web\n    newTag: \"1.1\"\npatches:\n  - path: memory.yaml\n",
    );
    repo.write(
        "prod/memory.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          resources:\n            limits:\n              memory: 1Gi\n",
    );
    repo.write(
        "charts/api/Chart.yaml",
        "apiVersion: v2\nname: api\nversion: 0.1.0\n",
    );
    repo.write(
        "charts/api/values.yaml",
        "replicaCount: 1\nimage:\n  repository: api\n  tag: \"1.0\"\n",
    );
    repo.write(
        "charts/api/templates/deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  replicas: {{ .Values.replicaCount }}\n  template:\n    spec:\n      containers:\n        - name: {{ .Chart.Name }}\n          image: \"{{ .Values.image.repository }}:{{ .Values.image.tag }}\"\n          {{- if .Values.command }}\n          command: {{ toYaml .Values.command | nindent 12 }}\n          {{- end }}\n",
    );
    repo.write("charts/api/values-prod.yaml", "image:\n  tag: \"1.0\"\n");
    repo.write(
        "argocd/api.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: api\n  namespace: argocd\nspec:\n  destination:\n    namespace: shop\n  source:\n    repoURL: https://git.example.com/gitops.git\n    path: charts/api\n    helm:\n      valueFiles: [values-prod.yaml]\n",
    );
    let first = repo.commit("everything");
    repo.write(
        "prod/kustomization.yaml",
        "resources:\n  - ../base\nnamespace: shop\nimages:\n  - name: web\n    newTag: \"2.0\"\npatches:\n  - path: memory.yaml\n",
    );
    let tag = repo.commit("web: release 2.0");
    // Commit times have one-second resolution: the newest line must be told apart.
    std::thread::sleep(Duration::from_millis(1100));
    repo.write("charts/api/values-prod.yaml", "image:\n  tag: \"3.1\"\n");
    let values = repo.commit("api: release 3.1");
    // The cluster: each rendered field changed by hand.
    let live = "apiVersion: v1\nkind: List\nitems:\n\
- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: web, namespace: shop}\n  spec:\n    replicas: 1\n    template:\n      spec:\n        containers:\n          - name: web\n            image: web:hotfix\n            workingDir: /tmp\n            resources: {limits: {memory: 2Gi}}\n\
- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: api, namespace: shop}\n  spec:\n    replicas: 1\n    template:\n      spec:\n        containers:\n          - name: api\n            image: api:hotfix\n";
    std::fs::write(repo.path().join(".git").join("live.yaml"), live).unwrap();
    let config = repo.path().join(".git").join("kdrift.yaml");
    std::fs::write(
        &config,
        format!(
            "kustomize:\n  command: {}\nhelm:\n  command: {}\n",
            kubectl.display(),
            helm.display()
        ),
    )
    .unwrap();
    let out = support::kdrift(
        &[
            "--config",
            &config.display().to_string(),
            "diff",
            "--live-file",
            &repo.path().join(".git/live.yaml").display().to_string(),
            "-o",
            "json",
        ],
        repo.path(),
    );
    let v: Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&out), stderr(&out)));
    let field = |name: &str, p: &str| {
        let r = v["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name && r["kind"] == "Deployment")
            .unwrap_or_else(|| panic!("no {name}: {v:#}"));
        r["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == p)
            .unwrap_or_else(|| panic!("no {p} in {r:#}"))
            .clone()
    };
    let commit = |name: &str, p: &str| {
        let f = field(name, p);
        (
            f["commit"]["id"].as_str().unwrap_or_default().to_string(),
            f["commit"]["file"].as_str().unwrap_or_default().to_string(),
            f["commit"]["line"].as_u64().unwrap_or_default(),
        )
    };
    let image = "spec.template.spec.containers[name=web].image";
    assert_eq!(
        commit("web", image),
        (tag.clone(), "prod/kustomization.yaml".into(), 6)
    );
    assert_eq!(
        commit("web", "spec.template.spec.containers[name=web].workingDir"),
        (first.clone(), "base/deploy.yaml".into(), 12)
    );
    assert_eq!(
        commit(
            "web",
            "spec.template.spec.containers[name=web].resources.limits.memory"
        ),
        (first.clone(), "prod/memory.yaml".into(), 12)
    );
    // The image is made of two values: the newest line that made it.
    assert_eq!(
        commit("api", "spec.template.spec.containers[name=api].image"),
        (values.clone(), "charts/api/values-prod.yaml".into(), 2)
    );
}
