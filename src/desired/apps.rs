//! GitOps apps found in the repository: Argo CD `Application`s whose source is this
//! repository. Each takes over the folder it names, rendered as Argo CD renders it (Helm with
//! its release name, value files, values and parameters; kustomize with its name prefix and
//! suffix, images, labels, annotations, namespace and replicas; a directory with recurse,
//! include and exclude) into its destination namespace; the Applications an app renders are
//! apps in turn (app-of-apps). What an app cannot be rendered from (a chart from a Helm
//! repository, a plugin) is one invalid row that says why.

use super::origin;
use super::{
    default_chart_spec, helm, manifest::ManifestItem, normalize_root, render_chart_jobs,
    render_failure, render_kustomize_jobs, KustomizeJob, LoadOptions, RawItem, Revision,
};
use crate::model::{meta_str, SourceLocation};
use crate::path::{FieldPath, Segment};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// How apps are found.
#[derive(Debug, Clone)]
pub struct AppsOptions {
    /// Whether Applications in the repository are apps at all (config `apps.discover`).
    pub discover: bool,
    /// More URLs that name this repository (config `apps.repo_urls`), beside its remotes.
    pub repo_urls: Vec<String>,
}

impl Default for AppsOptions {
    fn default() -> Self {
        AppsOptions {
            discover: true,
            repo_urls: Vec::new(),
        }
    }
}

pub use crate::model::{App, AppPart};

/// An Application found: the app, its sources of this repository (folder, renderer), and the
/// folder whose rendering declared it (`None`: a plain file).
type Found = (App, Vec<(String, Renderer)>, Option<String>);

/// How deep app-of-apps may nest (an Application rendering itself stops here).
const MAX_DEPTH: usize = 10;

/// A repository URL reduced to host and path, so that `https://github.com/a/b.git`,
/// `git@github.com:a/b` and `ssh://git@github.com/a/b/` compare equal.
pub fn normalize_url(url: &str) -> String {
    let mut u = url.trim().to_ascii_lowercase();
    for scheme in [
        "https://",
        "http://",
        "ssh://",
        "git://",
        "git+ssh://",
        "file://",
    ] {
        if let Some(rest) = u.strip_prefix(scheme) {
            u = rest.to_string();
            break;
        }
    }
    if let Some((user, rest)) = u.split_once('@') {
        if !user.contains('/') {
            u = rest.to_string();
        }
    }
    // scp-like `host:path` (not `host:port/path`).
    if let Some((host, rest)) = u.split_once(':') {
        if !host.contains('/') && !rest.starts_with(|c: char| c.is_ascii_digit()) {
            u = format!("{host}/{rest}");
        }
    }
    let u = u.trim_end_matches('/');
    u.strip_suffix(".git").unwrap_or(u).to_string()
}

/// What an Application's source asks for.
#[derive(Debug, Clone)]
enum Renderer {
    /// The source's `helm` settings, and where the source sits in the Application.
    Helm(Value, FieldPath),
    /// The source's `kustomize` settings, and where the source sits in the Application.
    Kustomize(Value, FieldPath),
    Directory(Value),
    /// A Flux Kustomization's spec.
    Flux(Value),
    /// A Flux HelmRelease's spec, with its namespace.
    FluxHelm(Value, String),
    Unsupported(String),
}

/// Finds the apps among `raw` (and among what they render, app-of-apps), renders each in
/// place of what its folders rendered on their own, and tags every item with its app.
/// The plain files' objects as read, by file.
fn plain_items(raw: &[RawItem]) -> HashMap<String, Vec<ManifestItem>> {
    let mut m: HashMap<String, Vec<ManifestItem>> = HashMap::new();
    for r in raw.iter().filter(|r| r.root.is_none() && r.app.is_none()) {
        m.entry(r.source.file.clone())
            .or_default()
            .push(r.item.clone());
    }
    m
}

pub(super) fn resolve(rev: &Revision, raw: &mut Vec<RawItem>, opts: &LoadOptions) -> Vec<App> {
    let mut urls: HashSet<String> = rev
        .repo
        .remote_urls()
        .iter()
        .chain(&opts.apps.repo_urls)
        .map(|u| normalize_url(u))
        .collect();
    urls.remove("");
    let folders: HashSet<&str> = rev
        .files
        .iter()
        .flat_map(|f| {
            let mut dirs = Vec::new();
            let mut p = f.path.as_str();
            while let Some((d, _)) = p.rsplit_once('/') {
                dirs.push(d);
                p = d;
            }
            dirs
        })
        .collect();
    let is_this_repo = |url: &str, path: &str| {
        urls.contains(&normalize_url(url)) || (!path.is_empty() && folders.contains(path))
    };
    // Plain files as read, for directory apps (each app gets its own copies): copied only
    // once an app is found (a repository without apps keeps one copy of its objects).
    let mut plain_cache: Option<HashMap<String, Vec<ManifestItem>>> = None;
    let mut apps: Vec<App> = Vec::new();
    let mut seen: HashSet<(String, String)> = HashSet::new();
    let mut taken_roots: HashSet<String> = HashSet::new();
    let mut taken_files: HashSet<String> = HashSet::new();
    let mut scan_from = 0;
    for _depth in 0..MAX_DEPTH {
        // Flux's GitRepositories, by namespace and name: their URLs say which are this one.
        let git_repos: HashMap<(String, String), String> = raw
            .iter()
            .filter_map(|r| match &r.item {
                ManifestItem::Object { object, .. }
                    if is_kind(object.head(), "source.toolkit.fluxcd.io", "GitRepository") =>
                {
                    let object = object.tree();
                    Some((
                        (
                            meta_str(object, "namespace").to_string(),
                            meta_str(object, "name").to_string(),
                        ),
                        object
                            .pointer("/spec/url")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                    ))
                }
                _ => None,
            })
            .collect();
        let mut found: Vec<Found> = raw[scan_from..]
            .iter()
            .filter_map(|r| {
                let ManifestItem::Object { object, .. } = &r.item else {
                    return None;
                };
                // Most objects are none of these: their identity says so without their tree.
                let head = object.head();
                let found = if is_application(head) {
                    parse_application(object.tree(), &r.source, r.app, &is_this_repo)
                } else if is_flux_kustomization(head) {
                    parse_flux(object.tree(), &r.source, r.app, &is_this_repo, &git_repos)
                } else if is_helm_release(head) {
                    let object = object.tree();
                    parse_helm_release(object, &r.source, r.app, &is_this_repo, &git_repos)
                } else {
                    None
                };
                found.map(|(app, sources)| (app, sources, r.root.clone()))
            })
            .collect();
        if found.is_empty() {
            break;
        }
        let plain: &HashMap<String, Vec<ManifestItem>> =
            plain_cache.get_or_insert_with(|| plain_items(raw));
        if scan_from == 0 {
            // At the top, an Application that another one renders (its file in that one's
            // directory, or rendered by that one's chart or kustomization) is left for that
            // one to find: it is a child, not a root.
            let covers: Vec<(HashSet<String>, HashSet<String>)> = found
                .iter()
                .map(|(_, sources, _)| {
                    let mut roots = HashSet::new();
                    let mut files = HashSet::new();
                    for (path, renderer) in sources {
                        match detect(rev, path, renderer) {
                            Renderer::Directory(d) => {
                                files.extend(directory_files(plain, path, &d))
                            }
                            Renderer::Helm(..)
                            | Renderer::Kustomize(..)
                            | Renderer::FluxHelm(..) => {
                                roots.insert(path.clone());
                            }
                            Renderer::Flux(_) => {
                                if rev.plan.dirs.contains_key(path) {
                                    roots.insert(path.clone());
                                } else {
                                    let (f, r) = flux_generated(rev, raw, plain, path);
                                    files.extend(f);
                                    roots.extend(r);
                                }
                            }
                            Renderer::Unsupported(_) => {}
                        }
                    }
                    (roots, files)
                })
                .collect();
            let children: Vec<bool> = found
                .iter()
                .enumerate()
                .map(|(i, (app, _, root))| {
                    covers.iter().enumerate().any(|(j, (roots, files))| {
                        j != i
                            && match root {
                                Some(root) => roots.contains(root),
                                None => files.contains(&app.source.file),
                            }
                    })
                })
                .collect();
            let mut keep = children.iter().map(|c| !c);
            found.retain(|_| keep.next().unwrap_or(true));
        }
        if found.is_empty() {
            break;
        }
        prewarm(rev, raw, &found, opts);
        let mut added = Vec::new();
        for (mut app, sources, _) in found {
            if !seen.insert((
                app.kind.to_string(),
                format!("{}/{}", app.namespace, app.name),
            )) {
                continue;
            }
            let index = apps.len() as u32;
            let namespace = if app.destination_namespace.is_empty() {
                opts.default_namespace.clone()
            } else {
                app.destination_namespace.clone()
            };
            let mut items: Vec<RawItem> = Vec::new();
            for (path, renderer) in sources {
                let (name, mut rendered) = match &renderer {
                    Renderer::Flux(spec) => render_flux(rev, raw, &app, &path, spec, plain, opts),
                    Renderer::FluxHelm(spec, ns) => {
                        render_helm_release(rev, raw, &app, &path, spec, ns, opts)
                    }
                    _ => render_part(rev, &app, &path, &renderer, &namespace, plain, opts),
                };
                app.parts.push(AppPart {
                    path: path.clone(),
                    renderer: name,
                });
                match name {
                    "helm" | "kustomize" | "directory" | "flux" => {
                        // What the app renders, it takes from the folders' own renderings.
                        for r in &rendered {
                            match &r.root {
                                Some(root) => taken_roots.insert(root.clone()),
                                None => taken_files.insert(r.source.file.clone()),
                            };
                        }
                        if name != "directory" {
                            taken_roots.insert(path.clone());
                        }
                        if name == "flux" && !rev.plan.dirs.contains_key(&path) {
                            // What Flux's generated kustomization takes in.
                            let (files, roots) = flux_generated(rev, raw, plain, &path);
                            taken_files.extend(files);
                            taken_roots.extend(roots);
                        }
                    }
                    // What the app cannot render is not rendered another way either (but the
                    // repository root is everyone's, and the app's own file stays).
                    _ if !path.is_empty() => {
                        taken_roots.insert(path.clone());
                        taken_files.extend(
                            plain
                                .keys()
                                .filter(|f| relative(f, &path).is_some() && **f != app.source.file)
                                .cloned(),
                        );
                    }
                    _ => {}
                }
                for r in rendered.iter_mut().filter(|r| !r.replaces_object) {
                    r.app = Some(index);
                    // A failure row is the Application's own (its namespace), not a
                    // rendered object's.
                    r.app_namespace.get_or_insert_with(|| namespace.clone());
                }
                items.append(&mut rendered);
            }
            apps.push(app);
            added.append(&mut items);
        }
        // What the folders rendered on their own gives way to the apps' renderings.
        raw.retain(|r| {
            r.app.is_some()
                || match &r.root {
                    Some(root) => !taken_roots.contains(root),
                    None => !taken_files.contains(&r.source.file),
                }
        });
        let before = raw.len();
        raw.append(&mut added);
        scan_from = before;
    }
    apps
}

fn api_group(object: &Value) -> &str {
    object
        .get("apiVersion")
        .and_then(Value::as_str)
        .map(|a| crate::model::split_api_version(a).0)
        .unwrap_or("")
}

/// Whether an object is of this group and kind.
fn is_kind(object: &Value, group: &str, kind: &str) -> bool {
    object.get("kind").and_then(Value::as_str) == Some(kind) && api_group(object) == group
}

fn is_flux_kustomization(object: &Value) -> bool {
    is_kind(object, "kustomize.toolkit.fluxcd.io", "Kustomization")
}

/// The URL of the GitRepository a Flux source reference names (its namespace defaults to
/// `namespace`), as the repository declares it; empty when it does not.
fn git_repository_url(
    source_ref: Option<&Value>,
    namespace: &str,
    git_repos: &HashMap<(String, String), String>,
) -> String {
    let field = |f: &str| source_ref.and_then(|r| r.get(f)).and_then(Value::as_str);
    let key = (
        field("namespace").unwrap_or(namespace).to_string(),
        field("name").unwrap_or("").to_string(),
    );
    git_repos.get(&key).cloned().unwrap_or_default()
}

/// A Flux Kustomization as an app, when its GitRepository is this repository (its URL, or,
/// where the repository does not declare it, a path that exists here).
fn parse_flux(
    object: &Value,
    source: &SourceLocation,
    parent: Option<u32>,
    is_this_repo: &dyn Fn(&str, &str) -> bool,
    git_repos: &HashMap<(String, String), String>,
) -> Option<(App, Vec<(String, Renderer)>)> {
    let spec = object.get("spec")?;
    let source_ref = spec.get("sourceRef")?;
    if source_ref.get("kind").and_then(Value::as_str) != Some("GitRepository") {
        return None;
    }
    let namespace = meta_str(object, "namespace").to_string();
    let path = normalize_root(spec.get("path").and_then(Value::as_str).unwrap_or(""));
    let url = git_repository_url(Some(source_ref), &namespace, git_repos);
    // Its GitRepository's URL is this repository's, or (a clone under another URL, a
    // GitRepository the repository does not declare) its path is a folder here.
    if !is_this_repo(&url, &path) {
        return None;
    }
    let app = App {
        name: meta_str(object, "name").to_string(),
        kind: "Kustomization",
        namespace: namespace.clone(),
        source: source.clone(),
        parent,
        destination_namespace: spec
            .get("targetNamespace")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        destination: spec
            .pointer("/kubeConfig/secretRef/name")
            .and_then(Value::as_str)
            .map(|s| format!("kubeconfig {s}"))
            .unwrap_or_default(),
        parts: Vec::new(),
        release: String::new(),
    };
    Some((app, vec![(path, Renderer::Flux(spec.clone()))]))
}

/// What Flux renders for a folder without a kustomization (it generates one): the plain
/// files below it, and the kustomizations below it rendered whole (their roots).
fn flux_generated(
    rev: &Revision,
    raw: &[RawItem],
    plain: &HashMap<String, Vec<ManifestItem>>,
    path: &str,
) -> (Vec<String>, Vec<String>) {
    let files = directory_files(plain, path, &serde_json::json!({"recurse": true}));
    let roots: Vec<String> = rev
        .plan
        .roots
        .iter()
        .map(|(d, _)| d.clone())
        .filter(|d| relative(d, path).is_some() || d == path)
        .filter(|d| raw.iter().any(|r| r.root.as_deref() == Some(d.as_str())))
        .collect();
    (files, roots)
}

/// Renders a Flux Kustomization as kustomize-controller does: its folder's kustomization (or
/// the one Flux generates: every manifest below, kustomizations whole) with `targetNamespace`,
/// `namePrefix`, `nameSuffix`, `patches`, `images` and `commonMetadata`, then `postBuild`
/// variables substituted.
fn render_flux(
    rev: &Revision,
    raw: &[RawItem],
    app: &App,
    path: &str,
    spec: &Value,
    plain: &HashMap<String, Vec<ManifestItem>>,
    opts: &LoadOptions,
) -> (&'static str, Vec<RawItem>) {
    let fail = |message: String| ("unsupported", vec![app_failure(app, message)]);
    let edits = flux_edits(spec);
    let mut items = match rev.plan.dirs.get(path) {
        Some(kfile) => {
            let job = KustomizeJob {
                dir: path.to_string(),
                kfile: kfile.clone(),
                edits: (!edits.is_empty()).then_some(Value::Object(edits)),
                edits_at: Some(origin::Edits {
                    place: origin_at(app, FieldPath::root().field("spec")),
                    flux: true,
                }),
                generated: None,
            };
            render_kustomize_jobs(&rev.repo, &rev.files, &rev.plan.dirs, &[job], opts)
        }
        None if edits.keys().any(|k| k != "namespace") => {
            // Flux generates a kustomization (every manifest below, kustomizations whole)
            // and applies the Kustomization's settings to it: so does kdrift.
            let (files, roots) = flux_generated(rev, raw, plain, path);
            let resources: Vec<Value> = files
                .iter()
                .chain(&roots)
                .filter_map(|f| relative(f, path).or((f == path).then_some(".")))
                .map(|r| Value::String(r.to_string()))
                .collect();
            let generated = serde_json::json!({
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": resources,
            });
            let job = KustomizeJob {
                dir: path.to_string(),
                kfile: super::kustomize::join_normalized(path, "kustomization.yaml")
                    .unwrap_or_else(|| "kustomization.yaml".into()),
                edits: Some(Value::Object(edits)),
                edits_at: Some(origin::Edits {
                    place: origin_at(app, FieldPath::root().field("spec")),
                    flux: true,
                }),
                generated: Some(generated.to_string()),
            };
            render_kustomize_jobs(&rev.repo, &rev.files, &rev.plan.dirs, &[job], opts)
        }
        None => {
            let (files, roots) = flux_generated(rev, raw, plain, path);
            let mut out = Vec::new();
            for file in files {
                for item in &plain[&file] {
                    out.push(RawItem::new(
                        item.clone(),
                        SourceLocation {
                            file: file.clone(),
                            line: item_line(item),
                        },
                    ));
                }
            }
            for r in raw
                .iter()
                .filter(|r| r.root.as_ref().is_some_and(|root| roots.contains(root)))
            {
                let mut copy = RawItem::new(r.item.clone(), r.source.clone());
                copy.root = r.root.clone();
                copy.recipe = r.recipe.clone();
                out.push(copy);
            }
            if let Some(ns) = edits.get("namespace").and_then(Value::as_str) {
                // Kustomize's namespace transformer: every namespaced object, named or not.
                let scopes = crate::kinds::ScopeTable::default();
                for r in &mut out {
                    if let ManifestItem::Object { object, .. } = &mut r.item {
                        let namespaced = {
                            let head = object.head();
                            let kind = head.get("kind").and_then(Value::as_str).unwrap_or("");
                            scopes.is_namespaced(api_group(head), kind)
                        };
                        if namespaced {
                            object.make_mut()["metadata"]["namespace"] =
                                Value::String(ns.to_string());
                        }
                    }
                }
            }
            out
        }
    };
    if let Some(post) = spec.get("postBuild").filter(|v| v.is_object()) {
        match flux_vars(post, raw, &app.namespace) {
            Ok(vars) => {
                for r in &mut items {
                    if let ManifestItem::Object { object, .. } = &mut r.item {
                        let disabled = object
                            .head()
                            .pointer(
                                "/metadata/annotations/kustomize.toolkit.fluxcd.io~1substitute",
                            )
                            .and_then(Value::as_str)
                            == Some("disabled");
                        if !disabled {
                            substitute(object.make_mut(), &vars);
                        }
                    }
                }
            }
            Err(e) => return fail(e),
        }
    }
    ("flux", items)
}

/// The row of an app whose source cannot be rendered: the Application (or Kustomization)
/// itself, invalid with why (it takes the place of the object's own row).
fn app_failure(app: &App, message: String) -> RawItem {
    let api = match app.kind {
        "Kustomization" => "kustomize.toolkit.fluxcd.io/v1",
        "HelmRelease" => "helm.toolkit.fluxcd.io/v2",
        _ => "argoproj.io/v1alpha1",
    };
    let mut item = render_failure(
        app.kind,
        &app.name,
        &app.source.file,
        format!("cannot render its source: {message}"),
    );
    if let ManifestItem::Broken { salvage, .. } = &mut item.item {
        salvage.namespace = app.namespace.clone();
        salvage.api_version = api.to_string();
    }
    item.replaces_object = true;
    item.app = app.parent;
    item
}

/// What a Flux Kustomization changes in its kustomization: `targetNamespace`, `namePrefix`,
/// `nameSuffix`, `patches`, `images`, `commonMetadata` (labels without selectors).
fn flux_edits(spec: &Value) -> serde_json::Map<String, Value> {
    let mut edits = serde_json::Map::new();
    if let Some(ns) = spec.get("targetNamespace").filter(|v| v.is_string()) {
        edits.insert("namespace".into(), ns.clone());
    }
    for field in ["namePrefix", "nameSuffix", "patches", "images"] {
        if let Some(v) = spec.get(field).filter(|v| !v.is_null()) {
            edits.insert(field.into(), v.clone());
        }
    }
    if let Some(labels) = spec
        .pointer("/commonMetadata/labels")
        .filter(|v| v.is_object())
    {
        edits.insert(
            "labels".into(),
            serde_json::json!([{"pairs": labels, "includeSelectors": false}]),
        );
    }
    if let Some(a) = spec
        .pointer("/commonMetadata/annotations")
        .filter(|v| v.is_object())
    {
        edits.insert("commonAnnotations".into(), a.clone());
    }
    edits
}

fn is_helm_release(object: &Value) -> bool {
    is_kind(object, "helm.toolkit.fluxcd.io", "HelmRelease")
}

/// A Flux HelmRelease as an app: its chart comes from this repository (a GitRepository of
/// it, by URL or because the chart's folder is here), or from somewhere kdrift cannot
/// render offline (a HelmRepository, an OCIRepository, a HelmChart), which is an app whose
/// row says so.
fn parse_helm_release(
    object: &Value,
    source: &SourceLocation,
    parent: Option<u32>,
    is_this_repo: &dyn Fn(&str, &str) -> bool,
    git_repos: &HashMap<(String, String), String>,
) -> Option<(App, Vec<(String, Renderer)>)> {
    let spec = object.get("spec")?;
    let namespace = meta_str(object, "namespace").to_string();
    let name = meta_str(object, "name").to_string();
    let target = spec
        .get("targetNamespace")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    let release = spec
        .get("releaseName")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| match &target {
            Some(t) => format!("{t}-{name}"),
            None => name.clone(),
        });
    let app = App {
        name: name.clone(),
        kind: "HelmRelease",
        namespace: namespace.clone(),
        source: source.clone(),
        parent,
        destination_namespace: target.clone().unwrap_or_else(|| namespace.clone()),
        destination: spec
            .pointer("/kubeConfig/secretRef/name")
            .and_then(Value::as_str)
            .map(|s| format!("kubeconfig {s}"))
            .unwrap_or_default(),
        parts: Vec::new(),
        release,
    };
    let chart_spec = spec.pointer("/chart/spec");
    let source_ref = chart_spec
        .and_then(|c| c.get("sourceRef"))
        .or_else(|| spec.get("chartRef"));
    let kind = source_ref
        .and_then(|r| r.get("kind"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let ref_name = source_ref
        .and_then(|r| r.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let chart = chart_spec
        .and_then(|c| c.get("chart"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if kind != "GitRepository" {
        let why = format!(
            "its chart {} comes from the {kind} {}; kdrift renders only charts in this \
             repository, offline",
            crate::text::visible_line(chart),
            crate::text::visible_line(ref_name)
        );
        // Named as Argo CD's remote charts are: no folder of this repository.
        let place = format!("{chart}@{kind}/{ref_name}");
        return Some((app, vec![(place, Renderer::Unsupported(why))]));
    }
    let url = git_repository_url(source_ref, &namespace, git_repos);
    let path = normalize_root(chart);
    if !is_this_repo(&url, &path) {
        return None;
    }
    Some((
        app,
        vec![(path, Renderer::FluxHelm(spec.clone(), namespace))],
    ))
}

/// Renders a Flux HelmRelease's chart as helm-controller does: release name `releaseName`,
/// else `[targetNamespace-]name`; into `targetNamespace`, else the HelmRelease's namespace;
/// values: the chart's, `chart.spec.valuesFiles` (from the repository root), `valuesFrom`
/// (ConfigMaps and Secrets found in the repository; `targetPath` as `--set`), then `values`.
fn render_helm_release(
    rev: &Revision,
    raw: &[RawItem],
    app: &App,
    path: &str,
    spec: &Value,
    namespace: &str,
    opts: &LoadOptions,
) -> (&'static str, Vec<RawItem>) {
    let fail = |message: String| ("unsupported", vec![app_failure(app, message)]);
    match helm_release_spec(rev, raw, app, path, spec, namespace, opts) {
        Ok((chart, h)) => (
            "helm",
            render_chart_jobs(&rev.repo, &rev.files, &[(chart, h)], opts),
        ),
        Err(e) => fail(e),
    }
}

/// The chart and how helm-controller renders it for a HelmRelease (see
/// `render_helm_release`), or why it cannot.
#[allow(clippy::too_many_arguments)]
fn helm_release_spec(
    rev: &Revision,
    raw: &[RawItem],
    app: &App,
    path: &str,
    spec: &Value,
    namespace: &str,
    opts: &LoadOptions,
) -> Result<(helm::Chart, helm::RenderSpec), String> {
    let Some(chart) = helm::chart_at(&rev.repo, &rev.files, path) else {
        return Err(format!(
            "{path}/Chart.yaml does not exist; helm cannot render {path}"
        ));
    };
    let mut h = default_chart_spec(&chart, opts);
    let target = spec
        .get("targetNamespace")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty());
    h.namespace = target.unwrap_or(namespace).to_string();
    h.release = app.release.clone();
    let values_files = spec
        .pointer("/chart/spec/valuesFiles")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    // Flux's valuesFiles replace the chart's values.yaml (which counts only when listed).
    h.without_chart_values = !values_files.is_empty();
    for f in values_files.iter().filter_map(Value::as_str) {
        let file = super::kustomize::join_normalized("", f.trim_start_matches("./"))
            .and_then(|p| rev.files.iter().find(|t| t.path == p && !t.is_link));
        let Some(file) = file else {
            return Err(format!(
                "values file {} does not exist in the repository",
                crate::text::visible_line(f)
            ));
        };
        match rev
            .repo
            .read_blob_limited(file, super::git::MAX_MANIFEST_BYTES)
        {
            Ok(Ok(data)) => {
                h.values.push(String::from_utf8_lossy(&data).into_owned());
                h.origins.push(origin::Values::File(file.path.clone()));
            }
            Ok(Err(e)) => return Err(format!("values file {}: {e}", file.path)),
            Err(e) => return Err(e.to_string()),
        }
    }
    for from in spec
        .get("valuesFrom")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let kind = from.get("kind").and_then(Value::as_str).unwrap_or("");
        let name = from.get("name").and_then(Value::as_str).unwrap_or("");
        let key = from
            .get("valuesKey")
            .and_then(Value::as_str)
            .unwrap_or("values.yaml");
        let optional = from
            .get("optional")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let found = find_item(raw, kind, name, &app.namespace);
        let origin = match (found, kind, from.get("targetPath")) {
            (Some((_, source)), "ConfigMap", None) => origin::Values::Block(origin::At {
                file: source.file.clone(),
                doc_line: source.line.unwrap_or(1),
                at: FieldPath::root().field("data").field(key),
            }),
            _ => origin::Values::Opaque(format!(
                "valuesFrom {kind} {}",
                crate::text::visible_line(name)
            )),
        };
        let value = found.map(|(o, _)| o).and_then(|o| {
            let data = o.get("data").and_then(|d| d.get(key));
            match (kind, data) {
                ("Secret", Some(v)) => crate::drift::compare::decode_base64(v)
                    .map(|b| String::from_utf8_lossy(&b).into_owned()),
                (_, Some(v)) => v.as_str().map(str::to_string),
                _ => o
                    .get("stringData")
                    .and_then(|d| d.get(key))
                    .and_then(Value::as_str)
                    .map(str::to_string),
            }
        });
        match (value, from.get("targetPath").and_then(Value::as_str)) {
            (Some(v), Some(target)) => {
                h.set.push((target.to_string(), v, false));
                h.origins.push(origin);
            }
            (Some(v), None) => {
                h.values.push(v);
                h.origins.push(origin);
            }
            (None, _) if optional => {}
            (None, _) => {
                return Err(format!(
                    "valuesFrom names key {} of {kind} {} in {}, which is not in the repository",
                    crate::text::visible_line(key),
                    crate::text::visible_line(name),
                    app.namespace
                ))
            }
        }
    }
    if let Some(v) = spec.get("values").filter(|v| v.is_object()) {
        h.values.push(v.to_string());
        h.origins.push(origin::Values::Yaml(origin_at(
            app,
            FieldPath::root().field("spec").field("values"),
        )));
    }
    Ok((chart, h))
}

/// A ConfigMap or Secret (`kind`) named `name` in `namespace` among the items.
fn find_object<'a>(
    raw: &'a [RawItem],
    kind: &str,
    name: &str,
    namespace: &str,
) -> Option<&'a Value> {
    find_item(raw, kind, name, namespace).map(|(o, _)| o)
}

/// `find_object`, with where the object is written.
fn find_item<'a>(
    raw: &'a [RawItem],
    kind: &str,
    name: &str,
    namespace: &str,
) -> Option<(&'a Value, &'a SourceLocation)> {
    raw.iter().find_map(|r| match &r.item {
        ManifestItem::Object { object, .. }
            if {
                let head = object.head();
                head.get("kind").and_then(Value::as_str) == Some(kind)
                    && meta_str(head, "name") == name
                    && [namespace, ""].contains(&meta_str(head, "namespace"))
            } =>
        {
            Some((object.tree(), &r.source))
        }
        _ => None,
    })
}

fn item_line(item: &ManifestItem) -> Option<usize> {
    match item {
        ManifestItem::Object { line, .. }
        | ManifestItem::NotAnObject { line }
        | ManifestItem::Broken { line, .. } => Some(*line),
    }
}

/// The variables of a Flux `postBuild`: `substituteFrom` ConfigMaps and Secrets (found in the
/// repository, in the Kustomization's namespace), then `substitute` over them.
fn flux_vars(
    post: &Value,
    raw: &[RawItem],
    namespace: &str,
) -> Result<HashMap<String, String>, String> {
    let mut vars = HashMap::new();
    for from in post
        .get("substituteFrom")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let kind = from.get("kind").and_then(Value::as_str).unwrap_or("");
        let name = from.get("name").and_then(Value::as_str).unwrap_or("");
        let optional = from
            .get("optional")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let Some(object) = find_object(raw, kind, name, namespace) else {
            if optional {
                continue;
            }
            return Err(format!(
                "postBuild.substituteFrom names {kind} {} in {namespace}, which is not in the \
                 repository",
                crate::text::visible_line(name)
            ));
        };
        for (k, v) in object
            .get("data")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let text = v.as_str().unwrap_or("");
            let value = if kind == "Secret" {
                crate::drift::compare::decode_base64(v)
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default()
            } else {
                text.to_string()
            };
            vars.insert(k.clone(), value);
        }
        for (k, v) in object
            .get("stringData")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            vars.insert(k.clone(), v.as_str().unwrap_or("").to_string());
        }
    }
    for (k, v) in post
        .get("substitute")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let value = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        vars.insert(k.clone(), value);
    }
    Ok(vars)
}

/// Flux's variable substitution on every string of an object: `${var}`, `${var:=default}`,
/// `${var:-default}`; `$${var}` is a literal `${var}`; an unset variable without a default is
/// empty. A string that was one variable alone becomes the number or boolean its value reads
/// as (Flux substitutes the YAML text, so `replicas: ${n}` is a number).
pub(super) fn substitute(v: &mut Value, vars: &HashMap<String, String>) {
    match v {
        Value::String(s) => {
            if !s.contains('$') {
                return;
            }
            let whole = s.starts_with("${") && s.ends_with('}') && s.matches("${").count() == 1;
            let out = substitute_text(s, vars);
            *v = if whole {
                scalar(&out)
            } else {
                Value::String(out)
            };
        }
        Value::Array(items) => items.iter_mut().for_each(|i| substitute(i, vars)),
        Value::Object(map) => map.values_mut().for_each(|i| substitute(i, vars)),
        _ => {}
    }
}

fn scalar(text: &str) -> Value {
    match text {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => text
            .parse::<i64>()
            .map(Value::from)
            .ok()
            .or_else(|| {
                text.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite() && text.contains('.'))
                    .and_then(|f| serde_json::Number::from_f64(f).map(Value::Number))
            })
            .unwrap_or_else(|| Value::String(text.to_string())),
    }
}

fn substitute_text(s: &str, vars: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(lit) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = lit;
            continue;
        }
        let Some(body) = tail.strip_prefix("${") else {
            out.push('$');
            rest = &tail[1..];
            continue;
        };
        let Some(end) = body.find('}') else {
            out.push_str(tail);
            return out;
        };
        let expr = &body[..end];
        let (name, default) = match expr.find(":=").or_else(|| expr.find(":-")) {
            Some(i) => (&expr[..i], Some(&expr[i + 2..])),
            None => (expr, None),
        };
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
            && name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric());
        if !valid {
            out.push_str(&tail[..end + 3]);
        } else {
            match vars.get(name).filter(|v| !v.is_empty()) {
                Some(value) => out.push_str(value),
                None => out.push_str(default.unwrap_or("")),
            }
        }
        rest = &body[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Renders what this round's apps will render, all at once (charts a few at a time,
/// kustomizations together), into the rendered-output cache, so that rendering them one by
/// one below reads the cache: a repository seen for the first time waits for its slowest
/// render per round, not for the sum of them. What cannot render is left to that pass,
/// which says why.
fn prewarm(rev: &Revision, raw: &[RawItem], found: &[Found], opts: &LoadOptions) {
    let mut charts: Vec<(helm::Chart, helm::RenderSpec)> = Vec::new();
    let mut kustomizations: Vec<KustomizeJob> = Vec::new();
    for (app, sources, _) in found {
        let namespace = if app.destination_namespace.is_empty() {
            opts.default_namespace.clone()
        } else {
            app.destination_namespace.clone()
        };
        for (path, renderer) in sources {
            let kfile = rev.plan.dirs.get(path.as_str());
            // Rendered into the cache only: no recipes.
            let kustomize = |edits: Option<Value>| {
                kfile.map(|k| KustomizeJob {
                    dir: path.clone(),
                    kfile: k.clone(),
                    edits,
                    edits_at: None,
                    generated: None,
                })
            };
            match detect(rev, path, renderer) {
                Renderer::Helm(h, _) => {
                    if let Some(chart) = helm::chart_at(&rev.repo, &rev.files, path) {
                        if let Ok(spec) = helm_spec(rev, &chart, &h, app, None, &namespace, opts) {
                            charts.push((chart, spec));
                        }
                    }
                }
                Renderer::FluxHelm(spec, ns) => {
                    if let Ok(job) = helm_release_spec(rev, raw, app, path, &spec, &ns, opts) {
                        charts.push(job);
                    }
                }
                Renderer::Kustomize(k, _) => kustomizations.extend(kustomize(kustomize_edits(&k))),
                Renderer::Flux(spec) => {
                    let edits = flux_edits(&spec);
                    kustomizations.extend(kustomize(
                        (!edits.is_empty()).then_some(Value::Object(edits)),
                    ))
                }
                Renderer::Directory(_) | Renderer::Unsupported(_) => {}
            }
        }
    }
    if charts.len() > 1 {
        render_chart_jobs(&rev.repo, &rev.files, &charts, opts);
    }
    if kustomizations.len() > 1 {
        // A renderer process per job: a few at a time.
        for part in kustomizations.chunks(8) {
            render_kustomize_jobs(&rev.repo, &rev.files, &rev.plan.dirs, part, opts);
        }
    }
}

fn is_application(object: &Value) -> bool {
    is_kind(object, "argoproj.io", "Application")
}

/// An Application as an app with the sources of this repository it renders, or `None` when
/// none of its sources is this repository.
fn parse_application(
    object: &Value,
    source: &SourceLocation,
    parent: Option<u32>,
    is_this_repo: &dyn Fn(&str, &str) -> bool,
) -> Option<(App, Vec<(String, Renderer)>)> {
    let spec = object.get("spec")?;
    let sources: Vec<&Value> = match spec.get("sources").and_then(Value::as_array) {
        Some(list) if !list.is_empty() => list.iter().collect(),
        _ => vec![spec.get("source")?],
    };
    let text = |v: &Value, field: &str| {
        v.get(field)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    // `ref` sources of this repository name the repository root for `$ref/…` value files.
    let refs: HashMap<String, String> = sources
        .iter()
        .filter(|s| is_this_repo(&text(s, "repoURL"), &normalize_root(&text(s, "path"))))
        .filter_map(|s| Some((s.get("ref")?.as_str()?.to_string(), String::new())))
        .collect();
    let mut parts = Vec::new();
    for (i, s) in sources.iter().enumerate() {
        let at = if spec
            .get("sources")
            .and_then(Value::as_array)
            .is_some_and(|l| !l.is_empty())
        {
            FieldPath(vec![
                Segment::Field("spec".into()),
                Segment::Field("sources".into()),
                Segment::Index(i),
            ])
        } else {
            FieldPath(vec![
                Segment::Field("spec".into()),
                Segment::Field("source".into()),
            ])
        };
        let url = text(s, "repoURL");
        let path = normalize_root(&text(s, "path"));
        let chart = text(s, "chart");
        if !chart.is_empty() {
            parts.push((
                format!("{chart}@{url}"),
                Renderer::Unsupported(format!(
                    "the chart {} {} comes from the Helm repository {}; kdrift renders only \
                     charts in this repository, offline",
                    crate::text::visible_line(&chart),
                    crate::text::visible_line(&text(s, "targetRevision")),
                    crate::text::visible_line(&url)
                )),
            ));
            continue;
        }
        if s.get("path").is_none() || !is_this_repo(&url, &path) {
            // A `ref`-only source, or another repository's.
            continue;
        }
        let renderer = if s.get("plugin").is_some() {
            Renderer::Unsupported(
                "a config management plugin renders it; plugins run arbitrary programs and \
                 kdrift does not run them"
                    .into(),
            )
        } else if let Some(h) = s.get("helm") {
            let mut h = h.clone();
            resolve_value_refs(&mut h, &refs);
            Renderer::Helm(h, at.field("helm"))
        } else if let Some(k) = s.get("kustomize") {
            Renderer::Kustomize(k.clone(), at.field("kustomize"))
        } else if let Some(d) = s.get("directory") {
            Renderer::Directory(d.clone())
        } else {
            // Detected from the folder when rendering (Argo CD's order: Helm, kustomize,
            // directory).
            Renderer::Directory(Value::Null)
        };
        parts.push((path, renderer));
    }
    if parts.is_empty() {
        return None;
    }
    let dest = spec.get("destination").cloned().unwrap_or(Value::Null);
    let app = App {
        name: meta_str(object, "name").to_string(),
        kind: "Application",
        namespace: meta_str(object, "namespace").to_string(),
        source: source.clone(),
        parent,
        destination_namespace: text(&dest, "namespace"),
        destination: {
            let server = text(&dest, "server");
            if server.is_empty() {
                text(&dest, "name")
            } else {
                server
            }
        },
        parts: Vec::new(),
        release: String::new(),
    };
    Some((app, parts))
}

/// Rewrites `$ref/path` value files of a Helm source into `/path` (from the repository
/// root) where `ref` is a source of this repository.
fn resolve_value_refs(helm: &mut Value, refs: &HashMap<String, String>) {
    let Some(files) = helm.get_mut("valueFiles").and_then(Value::as_array_mut) else {
        return;
    };
    for f in files {
        let Some(s) = f.as_str() else { continue };
        if let Some(rest) = s.strip_prefix('$') {
            let (name, path) = rest.split_once('/').unwrap_or((rest, ""));
            if refs.contains_key(name) {
                *f = Value::String(format!("/{path}"));
            }
        }
    }
}

/// Renders one source of an app: what it renders as (a renderer's name) and the items.
fn render_part(
    rev: &Revision,
    app: &App,
    path: &str,
    renderer: &Renderer,
    namespace: &str,
    plain: &HashMap<String, Vec<ManifestItem>>,
    opts: &LoadOptions,
) -> (&'static str, Vec<RawItem>) {
    let fail = |message: String| vec![app_failure(app, message)];
    let kfile = rev.plan.dirs.get(path);
    let chart = helm::chart_at(&rev.repo, &rev.files, path);
    match detect(rev, path, renderer) {
        Renderer::Unsupported(why) => ("unsupported", fail(why)),
        // Rendered by `render_flux` and `render_helm_release`.
        Renderer::Flux(_) | Renderer::FluxHelm(..) => ("flux", Vec::new()),
        Renderer::Helm(h, at) => {
            let Some(chart) = chart else {
                return (
                    "helm",
                    fail(format!(
                        "{path}/Chart.yaml does not exist; helm cannot render {path}"
                    )),
                );
            };
            match helm_spec(rev, &chart, &h, app, Some(at), namespace, opts) {
                Ok(spec) => (
                    "helm",
                    render_chart_jobs(&rev.repo, &rev.files, &[(chart, spec)], opts),
                ),
                Err(e) => ("helm", fail(e)),
            }
        }
        Renderer::Kustomize(k, at) => {
            let Some(kfile) = kfile else {
                return (
                    "kustomize",
                    fail(format!("{path} has no kustomization.yaml to render")),
                );
            };
            let job = KustomizeJob {
                dir: path.to_string(),
                kfile: kfile.clone(),
                edits: kustomize_edits(&k),
                edits_at: Some(origin::Edits {
                    place: origin_at(app, at),
                    flux: false,
                }),
                generated: None,
            };
            (
                "kustomize",
                render_kustomize_jobs(&rev.repo, &rev.files, &rev.plan.dirs, &[job], opts),
            )
        }
        Renderer::Directory(d) => {
            if d.get("jsonnet").is_some_and(|j| !j.is_null())
                || rev.files.iter().any(|f| {
                    relative(&f.path, path).is_some_and(|rel| {
                        !rel.contains('/')
                            && (rel.ends_with(".jsonnet") || rel.ends_with(".libsonnet"))
                    })
                })
            {
                return (
                    "unsupported",
                    fail(format!(
                        "{path} holds Jsonnet, which kdrift does not render (Argo CD would)"
                    )),
                );
            }
            let mut out = Vec::new();
            for file in directory_files(plain, path, &d) {
                for item in &plain[&file] {
                    let line = match item {
                        ManifestItem::Object { line, .. }
                        | ManifestItem::NotAnObject { line }
                        | ManifestItem::Broken { line, .. } => *line,
                    };
                    out.push(RawItem::new(
                        item.clone(),
                        SourceLocation {
                            file: file.clone(),
                            line: Some(line),
                        },
                    ));
                }
            }
            ("directory", out)
        }
    }
}

/// How a source renders: as the Application says, else (Argo CD's detection from the folder)
/// Helm where there is a `Chart.yaml`, kustomize where there is a kustomization, else as a
/// directory.
fn detect(rev: &Revision, path: &str, renderer: &Renderer) -> Renderer {
    match renderer {
        Renderer::Directory(Value::Null) => {
            if rev.files.iter().any(|f| {
                f.path == super::kustomize::join_normalized(path, "Chart.yaml").unwrap_or_default()
            }) {
                Renderer::Helm(Value::Null, FieldPath::root())
            } else if rev.plan.dirs.contains_key(path) {
                Renderer::Kustomize(Value::Null, FieldPath::root())
            } else {
                Renderer::Directory(Value::Null)
            }
        }
        other => other.clone(),
    }
}

/// The plain manifest files a directory source takes: in its folder (and below with
/// `recurse`), as `include` and `exclude` say; sorted.
fn directory_files(
    plain: &HashMap<String, Vec<ManifestItem>>,
    path: &str,
    d: &Value,
) -> Vec<String> {
    let recurse = d.get("recurse").and_then(Value::as_bool).unwrap_or(false);
    let include = d.get("include").and_then(Value::as_str).unwrap_or("");
    let exclude = d.get("exclude").and_then(Value::as_str).unwrap_or("");
    let mut files: Vec<String> = plain
        .keys()
        .filter(|file| {
            let Some(rel) = relative(file, path) else {
                return false;
            };
            (recurse || !rel.contains('/'))
                && (include.is_empty() || directory_glob(include, rel))
                && (exclude.is_empty() || !directory_glob(exclude, rel))
        })
        .cloned()
        .collect();
    files.sort();
    files
}

/// `file` relative to folder `dir`, if it is inside it.
fn relative<'a>(file: &'a str, dir: &str) -> Option<&'a str> {
    if dir.is_empty() {
        Some(file)
    } else {
        file.strip_prefix(dir)?.strip_prefix('/')
    }
}

/// Argo CD's directory include/exclude: a glob, `{a,b}` for alternatives, matched against
/// the path inside the app's folder and against the file's name.
fn directory_glob(pattern: &str, rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    expand_braces(pattern)
        .iter()
        .any(|p| crate::glob::glob_match(p, rel) || crate::glob::glob_match(p, name))
}

fn expand_braces(pattern: &str) -> Vec<String> {
    let (Some(open), Some(close)) = (pattern.find('{'), pattern.find('}')) else {
        return vec![pattern.to_string()];
    };
    if close < open {
        return vec![pattern.to_string()];
    }
    let (head, tail) = (&pattern[..open], &pattern[close + 1..]);
    pattern[open + 1..close]
        .split(',')
        .flat_map(|alt| expand_braces(&format!("{head}{alt}{tail}")))
        .collect()
}

/// How Argo CD runs `helm template` for an app: release name (the app's name unless set),
/// value files (from the chart's folder, or the repository root for `$ref/…`), then
/// `values`/`valuesObject`, then parameters.
/// Where `at` (a path in the app's manifest) is written, for attribution.
fn origin_at(app: &App, at: FieldPath) -> origin::At {
    origin::At {
        file: app.source.file.clone(),
        doc_line: app.source.line.unwrap_or(1),
        at,
    }
}

/// How Argo CD renders a chart for the app, from the source's `helm` settings `h` (written
/// at `at` of the Application, when known: the origins of its values are recorded).
fn helm_spec(
    rev: &Revision,
    chart: &helm::Chart,
    h: &Value,
    app: &App,
    at: Option<FieldPath>,
    namespace: &str,
    opts: &LoadOptions,
) -> Result<helm::RenderSpec, String> {
    let place = |sub: &str| at.clone().map(|a| origin_at(app, a.field(sub)));
    let mut spec = default_chart_spec(chart, opts);
    spec.namespace = h
        .get("namespace")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .unwrap_or(namespace)
        .to_string();
    spec.release = h
        .get("releaseName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .unwrap_or(&app.name)
        .to_string();
    let ignore_missing = h
        .get("ignoreMissingValueFiles")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    for f in h
        .get("valueFiles")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if f.contains("://") {
            return Err(format!(
                "value file {} is fetched over the network; kdrift reads value files from this \
                 repository only",
                crate::text::visible_line(f)
            ));
        }
        let path = match f.strip_prefix('/') {
            Some(from_root) => super::kustomize::join_normalized("", from_root),
            None => super::kustomize::join_normalized(&chart.dir, f),
        };
        let file = path
            .as_deref()
            .and_then(|p| rev.files.iter().find(|t| t.path == p && !t.is_link));
        match file {
            Some(file) => {
                let data = rev
                    .repo
                    .read_blob_limited(file, super::git::MAX_MANIFEST_BYTES)
                    .map_err(|e| e.to_string())?
                    .map_err(|e| format!("value file {}: {e}", file.path))?;
                spec.values
                    .push(String::from_utf8_lossy(&data).into_owned());
                spec.origins.push(origin::Values::File(file.path.clone()));
            }
            None if ignore_missing => {}
            None => {
                return Err(format!(
                    "value file {} does not exist in {}",
                    crate::text::visible_line(f),
                    if chart.dir.is_empty() {
                        "the repository"
                    } else {
                        &chart.dir
                    }
                ))
            }
        }
    }
    if let Some(v) = h.get("values").and_then(Value::as_str) {
        spec.values.push(v.to_string());
        spec.origins
            .extend(place("values").map(origin::Values::Block));
    }
    if let Some(v) = h.get("valuesObject").filter(|v| v.is_object()) {
        spec.values.push(v.to_string());
        spec.origins
            .extend(place("valuesObject").map(origin::Values::Yaml));
    }
    spec.origins
        .extend(place("parameters").map(origin::Values::Parameters));
    for p in h
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(name) = p.get("name").and_then(Value::as_str) else {
            continue;
        };
        let value = match p.get("value") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        let string = p
            .get("forceString")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        spec.set.push((name.to_string(), value, string));
    }
    if h.get("fileParameters")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
    {
        return Err("helm fileParameters are not supported yet".into());
    }
    Ok(spec)
}

/// What Argo CD's `kustomize edit` commands would change in the app's kustomization: name
/// prefix and suffix, namespace (set), images and replicas (set by name), common labels and
/// annotations (added), patches and components (appended). `None` when nothing.
fn kustomize_edits(k: &Value) -> Option<Value> {
    let mut edits = serde_json::Map::new();
    for field in [
        "namePrefix",
        "nameSuffix",
        "namespace",
        "commonLabels",
        "commonAnnotations",
        "patches",
        "components",
    ] {
        if let Some(v) = k.get(field).filter(|v| !v.is_null()) {
            edits.insert(field.into(), v.clone());
        }
    }
    if let Some(images) = k.get("images").and_then(Value::as_array) {
        let parsed: Vec<Value> = images
            .iter()
            .filter_map(Value::as_str)
            .map(parse_image)
            .collect();
        edits.insert("images".into(), Value::Array(parsed));
    }
    if let Some(replicas) = k.get("replicas").filter(|v| v.is_array()) {
        edits.insert("replicas".into(), replicas.clone());
    }
    (!edits.is_empty()).then_some(Value::Object(edits))
}

/// An Argo CD kustomize image override (`name=new:tag`, `name:tag`, `name@digest`) as a
/// kustomization `images:` entry.
fn parse_image(s: &str) -> Value {
    let (name, target) = match s.split_once('=') {
        Some((n, t)) => (n.to_string(), t.to_string()),
        None => {
            let bare = split_image(s).0;
            (bare.to_string(), s.to_string())
        }
    };
    let (new_name, tag, digest) = split_image(&target);
    let mut entry = serde_json::Map::new();
    entry.insert("name".into(), Value::String(name.clone()));
    if new_name != name {
        entry.insert("newName".into(), Value::String(new_name.to_string()));
    }
    if let Some(t) = tag {
        entry.insert("newTag".into(), Value::String(t.to_string()));
    }
    if let Some(d) = digest {
        entry.insert("digest".into(), Value::String(d.to_string()));
    }
    Value::Object(entry)
}

/// `repo/name:tag@digest` → (`repo/name`, tag, digest); a `:` in the registry's port is
/// not a tag.
fn split_image(s: &str) -> (&str, Option<&str>, Option<&str>) {
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (s, None),
    };
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[last_slash..].rfind(':') {
        Some(i) => (
            &rest[..last_slash + i],
            Some(&rest[last_slash + i + 1..]),
            digest,
        ),
        None => (rest, None, digest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_urls_compare_by_host_and_path() {
        let one = normalize_url("https://github.com/argoproj/argocd-example-apps.git");
        for other in [
            "git@github.com:argoproj/argocd-example-apps.git",
            "ssh://git@github.com/argoproj/argocd-example-apps",
            "https://GitHub.com/argoproj/argocd-example-apps/",
            "http://github.com/argoproj/argocd-example-apps",
        ] {
            assert_eq!(normalize_url(other), one, "{other}");
        }
        assert_eq!(
            normalize_url("ssh://git@git.example.com:2222/a/b.git"),
            "git.example.com:2222/a/b"
        );
        assert_ne!(normalize_url("https://github.com/argoproj/other"), one);
    }

    #[test]
    fn image_overrides_read_as_kustomize_edit_set_image() {
        assert_eq!(
            parse_image("nginx=registry:5000/nginx:1.25"),
            serde_json::json!({"name": "nginx", "newName": "registry:5000/nginx", "newTag": "1.25"})
        );
        assert_eq!(
            parse_image("gcr.io/heptio-images/ks-guestbook-demo:0.2"),
            serde_json::json!({"name": "gcr.io/heptio-images/ks-guestbook-demo", "newTag": "0.2"})
        );
        assert_eq!(
            parse_image("app@sha256:abc"),
            serde_json::json!({"name": "app", "digest": "sha256:abc"})
        );
    }

    #[test]
    fn flux_substitution_reads_as_envsubst() {
        let vars: HashMap<String, String> = [
            ("A".to_string(), "1".to_string()),
            ("E".to_string(), String::new()),
        ]
        .into_iter()
        .collect();
        for (text, want) in [
            ("x-${A}-y", "x-1-y"),
            ("${B:=two}", "two"),
            ("${B:-two}", "two"),
            ("${E:=d}", "d"),
            ("$${A}", "${A}"),
            ("${1bad}", "${1bad}"),
            ("$HOME", "$HOME"),
            ("${unclosed", "${unclosed"),
            ("${B}", ""),
        ] {
            assert_eq!(substitute_text(text, &vars), want, "{text}");
        }
        let mut v = serde_json::json!({"n": "${A}", "s": "v${A}", "b": "${T:=true}"});
        substitute(&mut v, &vars);
        assert_eq!(v, serde_json::json!({"n": 1, "s": "v1", "b": true}));
    }

    #[test]
    fn directory_globs_take_alternatives() {
        assert!(directory_glob(
            "{config.json,env-usw2/*}",
            "env-usw2/a.yaml"
        ));
        assert!(directory_glob("{config.json,env-usw2/*}", "config.json"));
        assert!(!directory_glob("{config.json,env-usw2/*}", "other.yaml"));
        assert!(directory_glob("*.yaml", "sub/x.yaml"));
    }
}
