//! The desired state read from real Git repositories: revisions (HEAD, branches, tags, short
//! ids, HEAD~N), folders, the commit's tree rather than the working tree, broken input,
//! namespaces and scope, and kustomize.

mod support;

use kdrift::desired::{self, DesiredSnapshot, LoadOptions};
use support::TestRepo;

fn load(repo: &TestRepo, rev: &str, paths: &[&str], ns: &str) -> DesiredSnapshot {
    try_load(repo, rev, paths, ns).expect("desired state loads")
}

fn try_load(
    repo: &TestRepo,
    rev: &str,
    paths: &[&str],
    ns: &str,
) -> Result<DesiredSnapshot, desired::DesiredError> {
    desired::load(&LoadOptions {
        rev: rev.into(),
        paths: paths.iter().map(|p| p.to_string()).collect(),
        default_namespace: ns.into(),
        ..options(repo)
    })
}

/// How the tests read a repository: HEAD, everything, namespace `default`, renderers on
/// PATH, apps found, the cache inside `.git`.
fn options(repo: &TestRepo) -> LoadOptions {
    LoadOptions {
        repo: Some(repo.path().to_path_buf()),
        rev: "HEAD".into(),
        paths: vec![],
        default_namespace: "default".into(),
        kustomize_command: String::new(),
        helm_command: String::new(),
        capabilities: None,
        apps: Default::default(),
        cache_dir: repo.path().join(".git").join("kdrift-cache"),
    }
}

fn keys(s: &DesiredSnapshot) -> Vec<String> {
    s.objects.iter().map(|o| o.key.to_string()).collect()
}

fn cm(name: &str, value: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  v: \"{value}\"\n")
}

#[test]
fn revisions_resolve_like_git_rev_parse() {
    let repo = TestRepo::new();
    repo.write("a.yaml", &cm("a", "1"));
    let first = repo.commit("first");
    repo.git(&["tag", "v1"]);
    repo.write("a.yaml", &cm("a", "2"));
    repo.write("b.yaml", &cm("b", "1"));
    repo.commit("second");
    repo.git(&["branch", "feature", &first]);
    repo.write("c.yaml", &cm("c", "1"));
    let third = repo.commit("third: add c");

    assert_eq!(keys(&load(&repo, "HEAD", &[], "default")).len(), 3);
    for rev in ["v1", "feature", "HEAD~2", &first[..8]] {
        let s = load(&repo, rev, &[], "default");
        assert_eq!(keys(&s), ["/ConfigMap/default/a"], "{rev}");
        assert_eq!(s.objects[0].object.value()["data"]["v"], "1", "{rev}");
        assert_eq!(s.revision.commit, first, "{rev}");
    }
    let head = load(&repo, "HEAD", &[], "default");
    assert_eq!(head.revision.commit, third);
    assert_eq!(head.revision.subject, "third: add c");
    assert_eq!(head.revision.branch.as_deref(), Some("main"));
    assert_eq!(head.revision.short, &third[..7]);

    let err = try_load(&repo, "no-such-branch", &[], "default").unwrap_err();
    assert!(err.to_string().contains("no-such-branch"), "{err}");
}

#[test]
fn reads_the_commit_not_the_working_tree_and_says_so() {
    let repo = TestRepo::new();
    repo.write("a.yaml", &cm("a", "committed"));
    repo.commit("one");
    repo.write("a.yaml", &cm("a", "edited"));
    repo.write("new.yaml", &cm("new", "x"));
    let s = load(&repo, "HEAD", &[], "default");
    assert_eq!(keys(&s), ["/ConfigMap/default/a"]);
    assert_eq!(s.objects[0].object.value()["data"]["v"], "committed");
    assert_eq!(s.worktree_changes, ["a.yaml", "new.yaml"]);
}

/// Unchanged files are known clean from the index's stat data; edits the stat data cannot
/// rule out (same size, at once after the commit) and staged edits are still found.
#[test]
fn working_tree_edits_of_the_same_size_and_staged_edits_are_found() {
    let repo = TestRepo::new();
    for name in ["same", "staged", "untouched"] {
        repo.write(&format!("{name}.yaml"), &cm(name, "aaaa"));
    }
    repo.commit("one");
    assert!(load(&repo, "HEAD", &[], "default")
        .worktree_changes
        .is_empty());
    repo.write("same.yaml", &cm("same", "bbbb"));
    repo.write("staged.yaml", &cm("staged", "cccc"));
    repo.git(&["add", "staged.yaml"]);
    let s = load(&repo, "HEAD", &[], "default");
    assert_eq!(s.worktree_changes, ["same.yaml", "staged.yaml"]);
}

#[test]
fn paths_limit_to_folders() {
    let repo = TestRepo::new();
    repo.write("apps/shop/a.yaml", &cm("a", "1"));
    repo.write("apps/shop2/b.yaml", &cm("b", "1"));
    repo.write("infra/c.yml", &cm("c", "1"));
    repo.write(
        "infra/d.json",
        r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "d"}}"#,
    );
    repo.write("README.md", "not yaml");
    repo.commit("layout");
    assert_eq!(
        keys(&load(&repo, "HEAD", &["apps/shop"], "default")),
        ["/ConfigMap/default/a"]
    );
    assert_eq!(
        keys(&load(&repo, "HEAD", &["./infra/", "apps/shop2"], "default")),
        [
            "/ConfigMap/default/b",
            "/ConfigMap/default/c",
            "/ConfigMap/default/d"
        ]
    );
    // What the paths leave out is still known to be in Git.
    let s = load(&repo, "HEAD", &["apps/shop"], "default");
    let outside: Vec<String> = s.outside_paths.iter().map(|o| o.key.to_string()).collect();
    assert_eq!(
        outside,
        [
            "/ConfigMap/default/b",
            "/ConfigMap/default/c",
            "/ConfigMap/default/d"
        ]
    );
    // A path that names nothing is an error, not an empty (clean) revision.
    let err = try_load(&repo, "HEAD", &["apps/shop3"], "default").unwrap_err();
    assert!(
        err.to_string()
            .contains("--path apps/shop3 matches no file"),
        "{err}"
    );
}

#[test]
fn namespaces_default_and_cluster_scope_ignores_them() {
    let repo = TestRepo::new();
    repo.write(
        "all.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n  namespace: explicit\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: reader\n  namespace: ignored\n---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\nspec:\n  group: example.com\n  scope: Cluster\n  names: {kind: Widget, plural: widgets}\n  versions: []\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: ignored\n---\napiVersion: example.com/v1\nkind: Gadget\nmetadata:\n  name: g\n",
    );
    repo.commit("scope");
    let s = load(&repo, "HEAD", &[], "team");
    assert_eq!(
        keys(&s),
        [
            "/ConfigMap/explicit/b",
            "/ConfigMap/team/a",
            "apiextensions.k8s.io/CustomResourceDefinition//widgets.example.com",
            "example.com/Gadget/team/g",
            "example.com/Widget//w",
            "rbac.authorization.k8s.io/ClusterRole//reader",
        ]
    );
    let role = s
        .objects
        .iter()
        .find(|o| o.key.kind == "ClusterRole")
        .unwrap();
    assert!(role.object.value()["metadata"].get("namespace").is_none());
}

#[test]
fn broken_input_becomes_invalid_rows_and_the_rest_loads() {
    let repo = TestRepo::new();
    repo.write(
        "broken.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: [1\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fine\n",
    );
    repo.write(
        "noname.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels: {a: b}\n",
    );
    repo.write("dup1.yaml", &cm("twice", "1"));
    repo.write("dup2.yaml", &format!("# comment\n{}", cm("twice", "2")));
    repo.write("values.yaml", "replicaCount: 2\nimage: {tag: latest}\n");
    repo.write(".github/workflows/ci.yml", "on: push\njobs: {}\n");
    std::fs::write(repo.path().join("binary.yaml"), b"kind: \xff\xfe\n").unwrap();
    repo.commit("mess");
    let s = load(&repo, "HEAD", &[], "default");
    assert_eq!(keys(&s), ["/ConfigMap/default/fine"]);
    assert_eq!(s.files.skipped.len(), 2, "{:?}", s.files.skipped);
    let find = |needle: &str| {
        s.invalid
            .iter()
            .find(|i| i.message.contains(needle) || i.source.file.contains(needle))
            .unwrap_or_else(|| panic!("no invalid row for {needle}: {:#?}", s.invalid))
    };
    let broken = find("broken.yaml");
    assert_eq!(
        broken.key.as_ref().unwrap().to_string(),
        "apps/Deployment/default/web"
    );
    assert!(broken.source.line.unwrap() >= 6, "{broken:?}");
    let noname = find("no metadata.name");
    assert_eq!(noname.source.file, "noname.yaml");
    let binary = find("binary.yaml");
    assert!(binary.message.contains("UTF-8"), "{}", binary.message);
    let dup = find("defined 2 times");
    assert!(
        dup.message.contains("dup1.yaml:1") && dup.message.contains("dup2.yaml:2"),
        "{}",
        dup.message
    );
    assert_eq!(
        dup.key.as_ref().unwrap().to_string(),
        "/ConfigMap/default/twice"
    );
}

#[test]
fn yaml_features_kubectl_accepts() {
    let repo = TestRepo::new();
    repo.write(
        "features.yaml",
        "--- # first\nbase: &labels\n  app: web\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: merged\n  labels:\n    <<: {app: web, tier: back}\n    tier: front\ndata:\n  mode: 0644\n...\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: s}\n  data: {k: dg==}\n",
    );
    repo.commit("features");
    let s = load(&repo, "HEAD", &[], "default");
    assert_eq!(keys(&s), ["/ConfigMap/default/merged", "/Secret/default/s"]);
    let merged = s.objects[0].object.value();
    assert_eq!(merged["metadata"]["labels"]["tier"], "front");
    assert_eq!(merged["metadata"]["labels"]["app"], "web");
    assert_eq!(merged["data"]["mode"], 420);
    assert_eq!(s.objects[0].source.line, Some(5));
    // The document without apiVersion/kind in a manifest file is reported, not silently lost.
    assert!(s
        .invalid
        .iter()
        .any(|i| i.source.file == "features.yaml" && i.source.line == Some(2)));
}

#[test]
fn kustomizations_are_rendered_and_their_files_not_read_twice() {
    let Some(kubectl) = support::kubectl() else {
        return;
    };
    let repo = TestRepo::new();
    repo.write("base/kustomization.yaml", "resources:\n- cm.yaml\n");
    repo.write("base/cm.yaml", &cm("settings", "base"));
    repo.write(
        "overlays/prod/kustomization.yaml",
        "namespace: prod\nnamePrefix: prod-\nresources:\n- ../../base\n",
    );
    repo.write("plain/other.yaml", &cm("other", "1"));
    repo.write("broken/kustomization.yaml", "resources:\n- missing.yaml\n");
    repo.commit("kustomize");
    let s = desired::load(&LoadOptions {
        kustomize_command: kubectl.display().to_string(),
        ..options(&repo)
    })
    .unwrap();
    assert_eq!(
        keys(&s),
        ["/ConfigMap/default/other", "/ConfigMap/prod/prod-settings"]
    );
    let rendered = s
        .objects
        .iter()
        .find(|o| o.key.name == "prod-settings")
        .unwrap();
    assert_eq!(rendered.source.file, "overlays/prod/kustomization.yaml");
    assert_eq!(s.invalid.len(), 1, "{:?}", s.invalid);
    assert_eq!(s.invalid[0].source.file, "broken/kustomization.yaml");
    assert!(
        s.invalid[0].message.contains("kustomize failed"),
        "{}",
        s.invalid[0].message
    );
}

#[test]
fn kustomization_without_a_renderer_is_one_invalid_row() {
    let repo = TestRepo::new();
    repo.write("app/kustomization.yaml", "resources:\n- cm.yaml\n");
    repo.write("app/cm.yaml", &cm("settings", "x"));
    repo.commit("kustomize");
    let s = desired::load(&LoadOptions {
        kustomize_command: repo.path().join("no-such-kubectl").display().to_string(),
        ..options(&repo)
    })
    .unwrap();
    assert!(s.objects.is_empty());
    assert_eq!(s.invalid.len(), 1);
    assert!(
        s.invalid[0].message.contains("cannot run"),
        "{}",
        s.invalid[0].message
    );
}

/// A repository (nothing committed yet) with `n` ConfigMaps, one per file `apps/cm-NN.yaml`.
fn repo_of_configmaps(n: usize) -> TestRepo {
    let repo = TestRepo::new();
    for i in 0..n {
        repo.write(
            &format!("apps/cm-{i:02}.yaml"),
            &cm(&format!("cm-{i:02}"), "v1"),
        );
    }
    repo
}

#[test]
fn a_new_commit_reparses_only_the_blobs_that_changed() {
    let repo = repo_of_configmaps(20);
    repo.write("apps/broken.yaml", "kind: ConfigMap\nmetadata: [\n");
    repo.commit("first");
    let opts = LoadOptions { ..options(&repo) };
    let mut cache = desired::ParseCache::default();
    let first = desired::load_cached(&opts, &mut cache).unwrap();
    assert_eq!(cache.last_parsed, 21);
    assert_eq!(keys(&first), keys(&desired::load(&opts).unwrap()));
    repo.write("apps/cm-03.yaml", &cm("cm-03", "v2"));
    repo.write("apps/cm-99.yaml", &cm("cm-99", "v1"));
    repo.commit("second");
    let second = desired::load_cached(&opts, &mut cache).unwrap();
    assert_eq!(cache.last_parsed, 2, "only the changed and the new file");
    let full = desired::load(&opts).unwrap();
    assert_eq!(keys(&second), keys(&full));
    assert_eq!(second.invalid.len(), full.invalid.len());
    let value = |s: &DesiredSnapshot| {
        s.objects
            .iter()
            .find(|o| o.key.name == "cm-03")
            .unwrap()
            .object
            .value()["data"]
            .clone()
    };
    assert_eq!(value(&second), value(&full));
    assert_eq!(second.revision.subject, "second");
}

/// A second start reads the parsed blobs of the first from the disk cache (none parsed again),
/// and gets the same snapshot; a Secret's document and a broken one are never written to it
/// (they are parsed again at every start, alone), a damaged file is not read, and a new
/// commit parses only what changed.
#[test]
fn a_second_start_parses_nothing_the_disk_cache_holds_and_never_a_secret() {
    let repo = repo_of_configmaps(20);
    repo.write(
        "apps/notes.yaml",
        "title: not an object
---
",
    );
    repo.write(
        "apps/secret.yaml",
        "# the database\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: db-settings\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: hunter2-plain\n---\n# done\n---\n{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"db-after\"}}\n",
    );
    repo.write("apps/broken.yaml", "kind: ConfigMap\nmetadata: [\n");
    repo.commit("first");
    let opts = options(&repo);
    let start = |parsed: usize, partly: usize, from_disk: usize| {
        let mut cache = desired::ParseCache::default();
        let s = desired::load_cached(&opts, &mut cache).unwrap();
        cache.wait_written();
        assert_eq!(
            (
                cache.last_parsed,
                cache.last_partly_parsed,
                cache.last_from_disk
            ),
            (parsed, partly, from_disk),
            "(parsed, parsed in part, from the disk cache)"
        );
        s
    };
    let first = start(23, 0, 0);
    // The Secret's file and the broken one are read again, and only their Secret's and
    // broken document parsed.
    let second = start(0, 2, 23);
    let full = desired::load(&opts).unwrap();
    let texts = |s: &DesiredSnapshot| {
        s.objects
            .iter()
            .map(|o| format!("{} {:?} {}", o.key, o.source, o.object.value()))
            .collect::<Vec<_>>()
    };
    assert_eq!(texts(&first), texts(&full));
    assert_eq!(texts(&second), texts(&full));
    assert!(
        texts(&full).iter().any(|t| t.contains("db-after")),
        "{:?}",
        texts(&full)
    );
    assert_eq!(second.invalid.len(), 1, "the broken file, parsed again");
    assert_eq!(second.files.skipped, full.files.skipped);
    let dir = repo.path().join(".git/kdrift-cache/parsed");
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    assert_eq!(files.len(), 1);
    let on_disk = std::fs::read(files[0].path()).unwrap();
    let on_disk = String::from_utf8_lossy(&on_disk);
    assert!(on_disk.contains("cm-07"));
    assert!(
        !on_disk.contains("hunter2") && !on_disk.contains("Secret"),
        "a Secret reached the disk cache"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = files[0].metadata().unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the cache is the user's alone: {mode:o}");
    }
    // A damaged file is not read: everything is parsed again, and the file written whole.
    std::fs::write(files[0].path(), on_disk.replace("cm-07", "cm-70")).unwrap();
    let damaged = start(23, 0, 0);
    assert_eq!(texts(&damaged), texts(&full));
    start(0, 2, 23);
    // A new commit: only the changed blob is parsed at the next start.
    repo.write("apps/cm-03.yaml", &cm("cm-03", "v2"));
    repo.commit("second");
    let third = start(1, 2, 22);
    assert_eq!(texts(&third), texts(&desired::load(&opts).unwrap()));
}

fn load_with_helm(repo: &TestRepo, helm: &std::path::Path) -> DesiredSnapshot {
    desired::load(&LoadOptions {
        default_namespace: "apps".into(),
        helm_command: helm.display().to_string(),
        ..options(repo)
    })
    .unwrap()
}

/// A chart whose templates take a name and a value from `.Values`, with a Service, a
/// Secret, a test hook and a vendored (unpacked) subchart.
fn write_chart(repo: &TestRepo, dir: &str) {
    repo.write(
        &format!("{dir}/Chart.yaml"),
        "apiVersion: v2\nname: shop\nversion: 0.1.0\ndependencies:\n- name: cache\n  version: 0.1.0\n  repository: https://charts.example.com\n",
    );
    repo.write(
        &format!("{dir}/values.yaml"),
        "replicas: 2\ngreeting: hello\ncache:\n  size: small\n",
    );
    repo.write(
        &format!("{dir}/templates/config.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-config\ndata:\n  greeting: {{ .Values.greeting | quote }}\n  namespace: {{ .Release.Namespace | quote }}\n",
    );
    repo.write(
        &format!("{dir}/templates/secret.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}-token\nstringData:\n  token: s3cr3t-from-values\n",
    );
    repo.write(
        &format!("{dir}/templates/tests/ping.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}-ping\n  annotations:\n    helm.sh/hook: test\n    helm.sh/hook-delete-policy: hook-succeeded\nspec:\n  containers:\n  - name: ping\n    image: busybox\n",
    );
    repo.write(
        &format!("{dir}/charts/cache/Chart.yaml"),
        "apiVersion: v2\nname: cache\nversion: 0.1.0\n",
    );
    repo.write(
        &format!("{dir}/charts/cache/templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cache\ndata:\n  size: {{ .Values.size | quote }}\n",
    );
}

#[test]
fn charts_render_as_helm_template_does_with_subcharts_and_hooks() {
    let Some(helm) = support::helm() else {
        return;
    };
    let repo = TestRepo::new();
    write_chart(&repo, "charts/shop");
    repo.write("plain/cm.yaml", &cm("plain", "1"));
    repo.commit("a chart");
    let s = load_with_helm(&repo, &helm);
    assert!(s.invalid.is_empty(), "{:?}", s.invalid);
    assert_eq!(s.files.charts, 1);
    // Release = the folder's name, namespace = the default namespace; templates are not
    // read as plain manifests (they are not YAML until rendered).
    assert_eq!(
        keys(&s),
        [
            "/ConfigMap/apps/plain",
            "/ConfigMap/apps/shop-cache",
            "/ConfigMap/apps/shop-config",
            "/Pod/apps/shop-ping",
            "/Secret/apps/shop-token",
        ]
    );
    let config = s
        .objects
        .iter()
        .find(|o| o.key.name == "shop-config")
        .unwrap();
    assert_eq!(config.source.file, "charts/shop/templates/config.yaml");
    assert_eq!(config.object.value()["data"]["greeting"], "hello");
    assert_eq!(config.object.value()["data"]["namespace"], "apps");
    let cache = s
        .objects
        .iter()
        .find(|o| o.key.name == "shop-cache")
        .unwrap();
    assert_eq!(
        cache.source.file,
        "charts/shop/charts/cache/templates/cm.yaml"
    );
    assert_eq!(cache.object.value()["data"]["size"], "small");
    // The same objects as helm template run by hand in the working tree.
    let by_hand = support::run_ok(
        std::process::Command::new(&helm)
            .args([
                "template",
                "shop",
                "charts/shop",
                "--namespace",
                "apps",
                "--include-crds",
            ])
            .current_dir(repo.path()),
    );
    let by_hand = desired::from_texts(&[("out.yaml".into(), support::stdout(&by_hand))], "apps");
    let ours: Vec<(String, serde_json::Value)> = s
        .objects
        .iter()
        .filter(|o| o.key.name != "plain")
        .map(|o| (o.key.to_string(), o.object.value()))
        .collect();
    let theirs: Vec<(String, serde_json::Value)> = by_hand
        .objects
        .iter()
        .map(|o| (o.key.to_string(), o.object.value()))
        .collect();
    assert_eq!(ours, theirs);
    // The hook is shown as a hook, never compared.
    let pod = s
        .objects
        .iter()
        .find(|o| o.key.name == "shop-ping")
        .unwrap();
    assert_eq!(
        kdrift::drift::hook_of(&pod.object.value()).as_deref(),
        Some("Helm hook test")
    );
    let report = kdrift::drift::build_report(
        &s.objects,
        &s.invalid,
        &Vec::<kdrift::model::LiveObject>::new(),
        &kdrift::drift::DriftOptions::default(),
    );
    let statuses: Vec<(String, kdrift::model::DriftStatus)> = report
        .entries
        .iter()
        .map(|e| (e.key.name.clone(), e.status))
        .collect();
    assert!(statuses.contains(&("shop-ping".into(), kdrift::model::DriftStatus::Hook)));
    assert!(statuses.contains(&("shop-config".into(), kdrift::model::DriftStatus::Missing)));
    // A render holding a Secret is cached in memory only, never on disk.
    let cached: Vec<String> = std::fs::read_dir(repo.path().join(".git/kdrift-cache/rendered"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(cached.is_empty(), "{cached:?}");
}

#[test]
fn a_chart_without_its_dependencies_or_without_helm_is_one_invalid_row() {
    let repo = TestRepo::new();
    write_chart(&repo, "web");
    repo.remove("web/charts/cache/Chart.yaml");
    repo.remove("web/charts/cache/templates/cm.yaml");
    repo.write("plain/cm.yaml", &cm("plain", "1"));
    repo.commit("a chart whose dependency is not vendored");
    let helm = support::helm().unwrap_or_else(|| repo.path().join("no-such-helm"));
    let s = load_with_helm(&repo, &helm);
    assert_eq!(keys(&s), ["/ConfigMap/apps/plain"]);
    assert_eq!(s.invalid.len(), 1, "{:?}", s.invalid);
    assert_eq!(s.invalid[0].source.file, "web/Chart.yaml");
    let message = &s.invalid[0].message;
    assert!(
        message.contains("cache (https://charts.example.com)")
            && message.contains("fetches nothing"),
        "{message}"
    );
    // Vendored now: without helm, the chart is one invalid row that says so.
    write_chart(&repo, "web");
    repo.commit("vendored");
    let s = load_with_helm(&repo, &repo.path().join("no-such-helm"));
    assert_eq!(keys(&s), ["/ConfigMap/apps/plain"]);
    assert_eq!(s.invalid.len(), 1, "{:?}", s.invalid);
    assert!(
        s.invalid[0].message.contains("helm"),
        "{}",
        s.invalid[0].message
    );
}

#[test]
fn a_chart_without_secrets_is_cached_on_disk_and_a_change_renders_again() {
    let Some(helm) = support::helm() else {
        return;
    };
    let repo = TestRepo::new();
    repo.write(
        "app/Chart.yaml",
        "apiVersion: v2\nname: app\nversion: 1.0.0\n",
    );
    repo.write("app/values.yaml", "color: blue\n");
    repo.write(
        "app/templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: color\ndata:\n  color: {{ .Values.color }}\n  kube: {{ .Capabilities.KubeVersion.Version | quote }}\n  {{- if .Capabilities.APIVersions.Has \"example.com/v1/Widget\" }}\n  widgets: \"yes\"\n  {{- end }}\n",
    );
    repo.commit("app");
    let s = load_with_helm(&repo, &helm);
    assert_eq!(s.objects[0].object.value()["data"]["color"], "blue");
    let dir = repo.path().join(".git/kdrift-cache/rendered");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    repo.write("app/values.yaml", "color: green\n");
    repo.commit("green");
    let s = load_with_helm(&repo, &helm);
    assert_eq!(s.objects[0].object.value()["data"]["color"], "green");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
    // The cluster's capabilities reach the templates.
    let s = desired::load(&LoadOptions {
        default_namespace: "apps".into(),
        helm_command: helm.display().to_string(),
        capabilities: Some(desired::helm::Capabilities {
            kube_version: "v1.31.4".into(),
            api_versions: vec!["example.com/v1".into(), "example.com/v1/Widget".into()],
        }),
        ..options(&repo)
    })
    .unwrap();
    assert_eq!(s.objects[0].object.value()["data"]["kube"], "v1.31.4");
    assert_eq!(s.objects[0].object.value()["data"]["widgets"], "yes");
}

/// A GitOps repository as Argo CD users keep one: a root Application (app-of-apps) whose
/// folder holds the Applications of a chart (with value files, values and parameters), a
/// kustomization (with overrides), a chart from a Helm repository, and another repository.
fn write_gitops(repo: &TestRepo) {
    repo.git(&[
        "remote",
        "add",
        "origin",
        "https://git.example.com/team/gitops.git",
    ]);
    let app = |name: &str, ns: &str, source: &str| {
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\n  namespace: argocd\nspec:\n  project: default\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: {ns}\n  source:\n{source}"
        )
    };
    repo.write(
        "argocd/root.yaml",
        &app(
            "root",
            "argocd",
            "    repoURL: https://git.example.com/team/gitops.git\n    path: argocd/apps\n    directory:\n      recurse: true\n",
        ),
    );
    repo.write(
        "argocd/apps/web.yaml",
        &app(
            "web",
            "prod",
            "    repoURL: git@git.example.com:team/gitops.git\n    path: charts/web\n    helm:\n      releaseName: shop-web\n      valueFiles:\n      - values-prod.yaml\n      values: |\n        replicas: 3\n      parameters:\n      - name: greeting\n        value: hi\n",
        ),
    );
    repo.write(
        "argocd/apps/api.yaml",
        &app(
            "api",
            "prod",
            "    repoURL: https://git.example.com/team/gitops\n    path: kustomize/api\n    kustomize:\n      namePrefix: prod-\n      images:\n      - nginx=nginx:1.27\n      commonLabels:\n        tier: api\n",
        ),
    );
    repo.write(
        "argocd/apps/redis.yaml",
        &app(
            "redis",
            "cache",
            "    repoURL: https://charts.example.com\n    chart: redis\n    targetRevision: 19.0.0\n",
        ),
    );
    repo.write(
        "argocd/apps/elsewhere.yaml",
        &app(
            "elsewhere",
            "other",
            "    repoURL: https://git.example.com/other/repo.git\n    path: deploy\n",
        ),
    );
    repo.write(
        "charts/web/Chart.yaml",
        "apiVersion: v2\nname: web\nversion: 1.0.0\n",
    );
    repo.write(
        "charts/web/values.yaml",
        "replicas: 1\ngreeting: hello\ncolor: blue\n",
    );
    repo.write("charts/web/values-prod.yaml", "color: red\n");
    repo.write(
        "charts/web/templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  replicas: {{ .Values.replicas | quote }}\n  greeting: {{ .Values.greeting | quote }}\n  color: {{ .Values.color | quote }}\n  namespace: {{ .Release.Namespace | quote }}\n",
    );
    repo.write(
        "kustomize/api/kustomization.yaml",
        "resources:\n- deploy.yaml\n",
    );
    repo.write(
        "kustomize/api/deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  selector:\n    matchLabels:\n      app: api\n  template:\n    metadata:\n      labels:\n        app: api\n    spec:\n      containers:\n      - name: api\n        image: nginx:1.25\n",
    );
}

#[test]
fn argo_cd_applications_render_their_folders_their_way_and_nest() {
    let (Some(helm), Some(kubectl)) = (support::helm(), support::kubectl()) else {
        return;
    };
    let repo = TestRepo::new();
    write_gitops(&repo);
    repo.commit("gitops");
    let s = desired::load(&LoadOptions {
        kustomize_command: kubectl.display().to_string(),
        helm_command: helm.display().to_string(),
        ..options(&repo)
    })
    .unwrap();
    let names: Vec<(&str, Option<&str>)> = s
        .apps
        .iter()
        .map(|a| {
            (
                a.name.as_str(),
                a.parent.map(|p| s.apps[p as usize].name.as_str()),
            )
        })
        .collect();
    // Found in file order within the root's folder; another repository's is no app.
    assert_eq!(
        names,
        [
            ("root", None),
            ("api", Some("root")),
            ("redis", Some("root")),
            ("web", Some("root")),
        ]
    );
    let app_of = |key: &str| {
        s.app_of
            .iter()
            .find(|(k, _)| k.to_string() == key)
            .map(|(_, i)| s.apps[*i as usize].name.as_str())
    };
    // The chart renders once, as the app says: release name, namespace, value files, then
    // values, then parameters. Its own rendering (release "web", namespace default) is gone.
    assert!(
        keys(&s).contains(&"/ConfigMap/prod/shop-web".to_string()),
        "{:?}",
        keys(&s)
    );
    assert!(!keys(&s)
        .iter()
        .any(|k| k.ends_with("/web") && k.contains("ConfigMap")));
    let cm = s.objects.iter().find(|o| o.key.name == "shop-web").unwrap();
    assert_eq!(cm.object.value()["data"]["replicas"], "3");
    assert_eq!(cm.object.value()["data"]["greeting"], "hi");
    assert_eq!(cm.object.value()["data"]["color"], "red");
    assert_eq!(cm.object.value()["data"]["namespace"], "prod");
    assert_eq!(app_of("/ConfigMap/prod/shop-web"), Some("web"));
    // The same object as helm template run by hand with the same settings.
    std::fs::write(repo.path().join("inline.yaml"), "replicas: 3\n").unwrap();
    let by_hand = support::run_ok(
        std::process::Command::new(&helm)
            .args([
                "template",
                "shop-web",
                "charts/web",
                "--namespace",
                "prod",
                "--values",
                "charts/web/values-prod.yaml",
                "--values",
                "inline.yaml",
                "--set",
                "greeting=hi",
            ])
            .current_dir(repo.path()),
    );
    let by_hand = desired::from_texts(&[("x.yaml".into(), support::stdout(&by_hand))], "prod");
    assert_eq!(by_hand.objects[0].object, cm.object);
    // The kustomization renders with the app's overrides, into its namespace.
    let api = s.objects.iter().find(|o| o.key.name == "prod-api").unwrap();
    assert_eq!(api.key.namespace, "prod");
    assert_eq!(
        api.object.value()["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.27"
    );
    assert_eq!(api.object.value()["metadata"]["labels"]["tier"], "api");
    assert!(!keys(&s)
        .iter()
        .any(|k| k.ends_with("/Deployment/default/api")));
    // The Applications belong to the root app; the root to none.
    assert_eq!(app_of("argoproj.io/Application/argocd/web"), Some("root"));
    assert_eq!(app_of("argoproj.io/Application/argocd/root"), None);
    // A chart from a Helm repository is one invalid row that says so.
    let redis: Vec<&kdrift::model::InvalidManifest> = s
        .invalid
        .iter()
        .filter(|i| i.message.contains("redis"))
        .collect();
    assert_eq!(redis.len(), 1, "{:?}", s.invalid);
    assert!(
        redis[0].message.contains("Helm repository"),
        "{}",
        redis[0].message
    );
    assert_eq!(s.invalid.len(), 1, "{:?}", s.invalid);

    // apps.discover: false reads the folders as before.
    let plain = desired::load(&LoadOptions {
        kustomize_command: kubectl.display().to_string(),
        helm_command: helm.display().to_string(),
        apps: desired::apps::AppsOptions {
            discover: false,
            repo_urls: vec![],
        },
        ..options(&repo)
    })
    .unwrap();
    assert!(plain.apps.is_empty());
    assert!(keys(&plain).contains(&"/ConfigMap/default/web".to_string()));
    assert!(keys(&plain).contains(&"apps/Deployment/default/api".to_string()));
}

#[test]
fn flux_kustomizations_render_their_paths_with_targets_and_substitution() {
    let Some(kubectl) = support::kubectl() else {
        return;
    };
    let repo = TestRepo::new();
    repo.git(&[
        "remote",
        "add",
        "origin",
        "ssh://git@git.example.com/team/fleet.git",
    ]);
    let ks = |name: &str, path: &str, extra: &str| {
        format!("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: {name}\n  namespace: flux-system\nspec:\n  interval: 10m\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n  path: {path}\n  prune: true\n{extra}")
    };
    repo.write(
        "clusters/prod/flux-system/gotk-sync.yaml",
        &format!(
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  interval: 1m\n  url: ssh://git@git.example.com/team/fleet\n  ref:\n    branch: main\n---\n{}",
            ks("flux-system", "./clusters/prod", "")
        ),
    );
    repo.write(
        "clusters/prod/flux-system/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- gotk-sync.yaml\n",
    );
    repo.write(
        "clusters/prod/infrastructure.yaml",
        &ks(
            "infrastructure",
            "./infrastructure",
            "  targetNamespace: infra\n  namePrefix: infra-\n  images:\n  - name: redis\n    newTag: \"7.2\"\n",
        ),
    );
    repo.write(
        "clusters/prod/apps.yaml",
        &ks(
            "apps",
            "./apps/prod",
            "  postBuild:\n    substitute:\n      REPLICAS: \"3\"\n    substituteFrom:\n    - kind: ConfigMap\n      name: cluster-vars\n",
        ),
    );
    repo.write(
        "clusters/prod/vars.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cluster-vars\n  namespace: flux-system\ndata:\n  REGION: eu-west-1\n",
    );
    repo.write("infrastructure/redis.yaml", &cm("redis", "6"));
    // No kustomization.yaml: Flux generates one (this file, the folder below whole) and
    // applies namePrefix and images to it.
    repo.write(
        "infrastructure/cache.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: cache\nspec:\n  selector:\n    matchLabels: {app: cache}\n  template:\n    metadata:\n      labels: {app: cache}\n    spec:\n      containers:\n      - name: redis\n        image: redis:6\n",
    );
    repo.write(
        "infrastructure/monitoring/kustomization.yaml",
        "resources:\n- cm.yaml\n",
    );
    repo.write("infrastructure/monitoring/cm.yaml", &cm("grafana", "1"));
    repo.write(
        "apps/base/kustomization.yaml",
        "resources:\n- deploy.yaml\n",
    );
    repo.write(
        "apps/base/deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  replicas: ${REPLICAS}\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: web:1\n        env:\n        - name: REGION\n          value: ${REGION:=us-east-1}\n        - name: ZONE\n          value: ${ZONE:=a}\n        - name: LITERAL\n          value: $${NOT_A_VAR}\n",
    );
    repo.write(
        "apps/prod/kustomization.yaml",
        "resources:\n- ../base\nnamePrefix: prod-\n",
    );
    repo.commit("flux");
    let s = desired::load(&LoadOptions {
        kustomize_command: kubectl.display().to_string(),
        ..options(&repo)
    })
    .unwrap();
    assert!(s.invalid.is_empty(), "{:?}", s.invalid);
    let apps: Vec<(&str, &str, Option<&str>)> = s
        .apps
        .iter()
        .map(|a| {
            (
                a.name.as_str(),
                a.kind,
                a.parent.map(|p| s.apps[p as usize].name.as_str()),
            )
        })
        .collect();
    assert_eq!(
        apps,
        [
            ("flux-system", "Kustomization", None),
            ("apps", "Kustomization", Some("flux-system")),
            ("infrastructure", "Kustomization", Some("flux-system")),
        ]
    );
    let app_of = |key: &str| {
        s.app_of
            .iter()
            .find(|(k, _)| k.to_string() == key)
            .map(|(_, i)| s.apps[*i as usize].name.as_str())
    };
    // targetNamespace moves the folder's objects, namePrefix and images apply to the
    // kustomization Flux generates; the folder alone renders nothing twice.
    assert_eq!(
        app_of("/ConfigMap/infra/infra-redis"),
        Some("infrastructure")
    );
    assert_eq!(
        app_of("/ConfigMap/infra/infra-grafana"),
        Some("infrastructure")
    );
    let cache = s
        .objects
        .iter()
        .find(|o| o.key.to_string() == "apps/Deployment/infra/infra-cache")
        .unwrap_or_else(|| panic!("{:?}", keys(&s)));
    assert_eq!(
        cache.object.value()["spec"]["template"]["spec"]["containers"][0]["image"],
        "redis:7.2"
    );
    assert_eq!(cache.source.file, "infrastructure");
    for gone in ["/ConfigMap/default/redis", "/ConfigMap/default/grafana"] {
        assert!(!keys(&s).contains(&gone.to_string()), "{:?}", keys(&s));
    }
    // postBuild: substitute over substituteFrom, defaults, numbers stay numbers, $$ escapes.
    let web = s.objects.iter().find(|o| o.key.name == "prod-web").unwrap();
    assert_eq!(app_of("apps/Deployment/shop/prod-web"), Some("apps"));
    assert_eq!(web.object.value()["spec"]["replicas"], 3);
    let env = &web.object.value()["spec"]["template"]["spec"]["containers"][0]["env"];
    assert_eq!(env[0]["value"], "eu-west-1");
    assert_eq!(env[1]["value"], "a");
    assert_eq!(env[2]["value"], "${NOT_A_VAR}");
    assert!(!keys(&s).iter().any(|k| k.ends_with("/Deployment/shop/web")));
    // The Kustomizations and the GitRepository belong to the root.
    assert_eq!(
        app_of("kustomize.toolkit.fluxcd.io/Kustomization/flux-system/apps"),
        Some("flux-system")
    );
}

#[test]
fn flux_helm_releases_render_in_repo_charts_and_name_remote_ones() {
    let Some(helm) = support::helm() else {
        return;
    };
    let repo = TestRepo::new();
    let hr = |name: &str, chart: &str, source: &str, extra: &str| {
        format!("apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: {name}\n  namespace: flux-system\nspec:\n  interval: 10m\n  chart:\n    spec:\n      chart: {chart}\n      sourceRef:\n        kind: {source}\n        name: flux-system\n{extra}")
    };
    repo.write(
        "releases/podinfo.yaml",
        &hr(
            "podinfo",
            "./charts/podinfo",
            "GitRepository",
            "  targetNamespace: web\n  values:\n    replicas: 3\n  valuesFrom:\n  - kind: ConfigMap\n    name: podinfo-values\n  - kind: ConfigMap\n    name: podinfo-values\n    valuesKey: color\n    targetPath: ui.color\n",
        ),
    );
    repo.write(
        "releases/redis.yaml",
        &hr("redis", "redis", "HelmRepository", ""),
    );
    // valuesFiles replace the chart's values.yaml, as Flux's HelmChart does.
    repo.write(
        "releases/tiny.yaml",
        &hr("tiny", "./charts/podinfo", "GitRepository", "").replace(
            "      sourceRef:",
            "      valuesFiles:\n        - charts/podinfo/values-small.yaml\n      sourceRef:",
        ),
    );
    repo.write(
        "charts/podinfo/values-small.yaml",
        "replicas: 5\nui:\n  color: red\n",
    );
    repo.write(
        "releases/values.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: podinfo-values\n  namespace: flux-system\ndata:\n  values.yaml: |\n    replicas: 2\n    message: from-configmap\n  color: teal\n",
    );
    repo.write(
        "charts/podinfo/Chart.yaml",
        "apiVersion: v2\nname: podinfo\nversion: 6.0.0\n",
    );
    repo.write(
        "charts/podinfo/values.yaml",
        "replicas: 1\nmessage: default\nui:\n  color: blue\n",
    );
    repo.write(
        "charts/podinfo/templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  replicas: {{ .Values.replicas | quote }}\n  message: {{ .Values.message | quote }}\n  color: {{ .Values.ui.color | quote }}\n  namespace: {{ .Release.Namespace | quote }}\n",
    );
    repo.commit("helm releases");
    let s = desired::load(&LoadOptions {
        helm_command: helm.display().to_string(),
        ..options(&repo)
    })
    .unwrap();
    let apps: Vec<(&str, &str)> = s.apps.iter().map(|a| (a.name.as_str(), a.kind)).collect();
    assert_eq!(
        apps,
        [
            ("podinfo", "HelmRelease"),
            ("redis", "HelmRelease"),
            ("tiny", "HelmRelease")
        ]
    );
    let tiny = s
        .objects
        .iter()
        .find(|o| o.key.to_string() == "/ConfigMap/flux-system/tiny")
        .unwrap_or_else(|| panic!("{:?}", keys(&s)));
    assert_eq!(tiny.object.value()["data"]["replicas"], "5");
    assert_eq!(tiny.object.value()["data"]["color"], "red");
    // Not the chart's "default": its values.yaml is not read.
    assert!(
        tiny.object.value()["data"]["message"].is_null(),
        "{:?}",
        tiny.object
    );
    // Release `[targetNamespace-]name`, into targetNamespace; the chart's values, then
    // valuesFrom (targetPath as --set), then values.
    let cm = s
        .objects
        .iter()
        .find(|o| o.key.to_string() == "/ConfigMap/web/web-podinfo")
        .unwrap_or_else(|| panic!("{:?}", keys(&s)));
    assert_eq!(cm.object.value()["data"]["replicas"], "3");
    assert_eq!(cm.object.value()["data"]["message"], "from-configmap");
    assert_eq!(cm.object.value()["data"]["color"], "teal");
    assert_eq!(cm.object.value()["data"]["namespace"], "web");
    // The chart's own rendering (release "podinfo", namespace default) gave way; the rest
    // of the repository stays.
    assert!(!keys(&s).contains(&"/ConfigMap/default/podinfo".to_string()));
    assert!(keys(&s).contains(&"/ConfigMap/flux-system/podinfo-values".to_string()));
    // A chart from a Helm repository: the HelmRelease's own row, invalid with why.
    assert_eq!(s.invalid.len(), 1, "{:?}", s.invalid);
    assert!(
        s.invalid[0].message.contains("HelmRepository"),
        "{}",
        s.invalid[0].message
    );
    assert_eq!(
        s.invalid[0].key.as_ref().map(|k| k.to_string()).as_deref(),
        Some("helm.toolkit.fluxcd.io/HelmRelease/flux-system/redis")
    );
}

/// An Argo CD Application's kustomize settings render as `kubectl kustomize` renders the
/// folder after the `kustomize edit` commands Argo CD runs, written here by hand.
#[test]
fn an_applications_kustomize_edits_render_as_kubectl_kustomize_by_hand() {
    let Some(kubectl) = support::kubectl() else {
        return;
    };
    let deploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels:\n    app: web\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n        - name: web\n          image: web:1.0\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector:\n    app: web\n  ports:\n    - port: 80\n";
    let repo = TestRepo::new();
    repo.write("app/base/deploy.yaml", deploy);
    repo.write(
        "app/base/kustomization.yaml",
        "resources:\n  - deploy.yaml\n",
    );
    repo.write(
        "app/prod/kustomization.yaml",
        "resources:\n  - ../base\nnamePrefix: prod-\n",
    );
    repo.write(
        "argocd/web.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: web\n  namespace: argocd\nspec:\n  destination:\n    namespace: shop\n  source:\n    repoURL: https://git.example.com/gitops.git\n    path: app/prod\n    kustomize:\n      namePrefix: argo-\n      nameSuffix: -v2\n      namespace: shop\n      images:\n        - web=registry.example.com/web:3.0\n      replicas:\n        - name: web\n          count: 4\n      commonLabels:\n        team: shop\n      commonAnnotations:\n        owner: payments\n",
    );
    repo.commit("an app with kustomize edits");
    let s = desired::load(&LoadOptions {
        kustomize_command: kubectl.display().to_string(),
        ..options(&repo)
    })
    .unwrap();
    // By hand: the folders copied, the root kustomization edited as Argo CD's `kustomize
    // edit set namePrefix/nameSuffix/namespace/image/replicas`, `add label/annotation` would.
    let hand = tempfile::tempdir().unwrap();
    for (file, text) in [
        ("app/base/deploy.yaml", deploy),
        ("app/base/kustomization.yaml", "resources:\n  - deploy.yaml\n"),
        (
            "app/prod/kustomization.yaml",
            "resources:\n  - ../base\nnamePrefix: argo-\nnameSuffix: -v2\nnamespace: shop\nimages:\n  - name: web\n    newName: registry.example.com/web\n    newTag: \"3.0\"\nreplicas:\n  - name: web\n    count: 4\ncommonLabels:\n  team: shop\ncommonAnnotations:\n  owner: payments\n",
        ),
    ] {
        let p = hand.path().join(file);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let out = std::process::Command::new(&kubectl)
        .arg("kustomize")
        .arg(hand.path().join("app/prod"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut by_hand: Vec<serde_json::Value> = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let v: serde_json::Value = serde::Deserialize::deserialize(doc).unwrap();
        by_hand.push(v);
    }
    assert_eq!(by_hand.len(), 2, "{text}");
    for want in by_hand {
        let name = want["metadata"]["name"].as_str().unwrap();
        let kind = want["kind"].as_str().unwrap();
        let got = s
            .objects
            .iter()
            .find(|o| o.key.kind == kind && o.key.name == name)
            .unwrap_or_else(|| panic!("no {kind} {name} in {:?}", keys(&s)));
        assert_eq!(got.object.value(), want, "{kind} {name}");
    }
}

/// Folders for different clusters often declare the same objects: with `--path`, only the
/// chosen folders' own duplicates conflict.
#[test]
fn the_same_object_in_two_clusters_folders_conflicts_only_when_both_are_read() {
    let repo = TestRepo::new();
    repo.write("clusters/dev/settings.yaml", &cm("settings", "dev"));
    repo.write("clusters/prod/settings.yaml", &cm("settings", "prod"));
    repo.commit("two clusters");
    let s = load(&repo, "HEAD", &["clusters/prod"], "default");
    assert!(s.invalid.is_empty(), "{:?}", s.invalid);
    assert_eq!(keys(&s), ["/ConfigMap/default/settings"]);
    assert_eq!(s.objects[0].object.value()["data"]["v"], "prod");
    // The other folder's object is still Git's (never extra).
    assert_eq!(s.outside_paths.len(), 1);
    let s = load(&repo, "HEAD", &[], "default");
    assert!(s.objects.is_empty());
    assert!(
        s.invalid[0].message.contains("defined 2 times"),
        "{:?}",
        s.invalid
    );
}
