//! Helm charts: finding the charts of a commit and rendering each with `helm template`, as
//! Argo CD does for a chart in Git. A folder with a `Chart.yaml` is a chart (its `charts/`
//! subcharts belong to it); the chart folder is written into a private temporary folder
//! (0700) and rendered there with the chart's own values, release name = the folder's name,
//! namespace = the default namespace, CRDs included. A repository is not trusted: helm runs
//! with its config, cache, data and plugin folders pointed into that temporary folder (no
//! repositories, no plugins, no credentials), no stdin, bounded in time and output; nothing is
//! ever fetched: a dependency that is not vendored under `charts/` is an error naming it.
//!
//! Output is cached (`rendered`) by the chart's files, the values, the release, namespace,
//! capabilities and the helm binary.

use super::git::{GitRepo, TreeFile};
use super::kustomize::{find_on_path, materialize};
use serde_json::Value;
use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The cluster's version and served API versions, passed to `helm template` so that
/// templates reading `.Capabilities` render as they would on the server.
pub use crate::model::Capabilities;

/// One chart of a tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// The chart's folder (`""` for the repository root).
    pub dir: String,
    /// The path of its `Chart.yaml`.
    pub chart_file: String,
    /// `name:` of its `Chart.yaml` (the folder's name when absent).
    pub name: String,
    /// Dependencies `Chart.yaml` (or `requirements.yaml`) lists that are not vendored under
    /// `charts/`: (name, repository).
    pub missing: Vec<(String, String)>,
}

/// The charts of a tree and the files they claim.
#[derive(Debug, Default)]
pub struct ChartPlan {
    pub charts: Vec<Chart>,
    /// Every file under a chart's folder: not read as a plain manifest (templates are not
    /// YAML until rendered).
    pub claimed: HashSet<String>,
}

fn parent_dir(path: &str) -> &str {
    path.rsplit_once('/').map(|(d, _)| d).unwrap_or("")
}

fn is_under(path: &str, dir: &str) -> bool {
    dir.is_empty() || path == dir || path.starts_with(&format!("{dir}/"))
}

fn base_name(dir: &str) -> &str {
    dir.rsplit('/').next().unwrap_or(dir)
}

/// Finds the charts among `files`: every folder with a `Chart.yaml` that is not inside
/// another chart (a subchart) nor inside one of `skip` (folders another renderer claims,
/// kustomizations).
pub fn plan(repo: &GitRepo, files: &[TreeFile], skip: &dyn Fn(&str) -> bool) -> ChartPlan {
    let mut dirs: Vec<(String, &TreeFile)> = files
        .iter()
        .filter(|f| !f.is_link && (f.path == "Chart.yaml" || f.path.ends_with("/Chart.yaml")))
        .map(|f| (parent_dir(&f.path).to_string(), f))
        .collect();
    if dirs.is_empty() {
        return ChartPlan::default();
    }
    // Outer charts first: a folder under a chart already found is its subchart.
    dirs.sort_by(|a, b| a.0.len().cmp(&b.0.len()).then(a.0.cmp(&b.0)));
    let mut charts: Vec<Chart> = Vec::new();
    for (dir, file) in dirs {
        if charts.iter().any(|c| is_under(&dir, &c.dir)) || skip(&dir) {
            continue;
        }
        charts.push(chart_of(repo, files, dir, file));
    }
    let claimed = files
        .iter()
        .filter(|f| charts.iter().any(|c| is_under(&f.path, &c.dir)))
        .map(|f| f.path.clone())
        .collect();
    charts.sort_by(|a, b| a.dir.cmp(&b.dir));
    ChartPlan { charts, claimed }
}

/// The chart whose `Chart.yaml` is in folder `dir`, if there is one.
pub fn chart_at(repo: &GitRepo, files: &[TreeFile], dir: &str) -> Option<Chart> {
    let file = join(dir, "Chart.yaml");
    let f = files.iter().find(|f| f.path == file && !f.is_link)?;
    Some(chart_of(repo, files, dir.to_string(), f))
}

fn chart_of(repo: &GitRepo, files: &[TreeFile], dir: String, file: &TreeFile) -> Chart {
    {
        let meta = read_yaml(repo, file);
        let name = meta
            .as_ref()
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| base_name(&dir).to_string());
        let mut deps: Vec<(String, String)> = dependencies(meta.as_ref());
        if deps.is_empty() {
            // Helm 2 charts (apiVersion v1) list them in requirements.yaml.
            let req = join(&dir, "requirements.yaml");
            if let Some(f) = files.iter().find(|f| f.path == req) {
                deps = dependencies(read_yaml(repo, f).as_ref());
            }
        }
        let vendored = |dep: &str| {
            let charts_dir = join(&dir, "charts");
            files.iter().any(|f| {
                f.path == join(&charts_dir, &format!("{dep}/Chart.yaml"))
                    || (parent_dir(&f.path) == charts_dir
                        && f.path.ends_with(".tgz")
                        && base_name(&f.path)
                            .strip_prefix(dep)
                            .is_some_and(|rest| rest.starts_with('-')))
            })
        };
        let missing = deps.into_iter().filter(|(n, _)| !vendored(n)).collect();
        Chart {
            chart_file: file.path.clone(),
            dir,
            name,
            missing,
        }
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

fn read_yaml(repo: &GitRepo, file: &TreeFile) -> Option<Value> {
    let data = repo
        .read_blob_limited(file, super::git::MAX_MANIFEST_BYTES)
        .ok()?
        .ok()?;
    crate::yaml::parse_document(&String::from_utf8_lossy(&data), 1)
        .ok()
        .flatten()
}

/// `dependencies:` of a `Chart.yaml` or `requirements.yaml`: (name, repository).
fn dependencies(meta: Option<&Value>) -> Vec<(String, String)> {
    meta.and_then(|m| m.get("dependencies"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| {
            let name = d.get("name")?.as_str()?.to_string();
            let repo = d
                .get("repository")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            Some((name, repo))
        })
        .collect()
}

/// How one chart is rendered.
#[derive(Debug, Clone, Default)]
pub struct RenderSpec {
    pub release: String,
    pub namespace: String,
    /// Extra values files, as text (after the chart's own values.yaml), in order.
    pub values: Vec<String>,
    /// `--set` (or `--set-string` when true) parameters, after the values, in order.
    pub set: Vec<(String, String, bool)>,
    pub capabilities: Option<Capabilities>,
    /// Where each of `values` and `set` is written, in the order helm applies them (for
    /// attribution; not part of how the chart renders).
    pub origins: Vec<super::origin::Values>,
    /// Whether the chart's own `values.yaml` is left out (a Flux HelmRelease that names
    /// `valuesFiles`: they replace it).
    pub without_chart_values: bool,
}

/// The command that renders charts: the configured one, else `helm` on PATH.
pub fn renderer(configured: &str) -> Option<PathBuf> {
    if !configured.is_empty() {
        return Some(PathBuf::from(configured));
    }
    find_on_path("helm")
}

/// The cache key of one render: the chart's files, how it is rendered, and which helm
/// renders it.
pub fn cache_key(files: &[TreeFile], chart: &Chart, spec: &RenderSpec, helm: &Path) -> String {
    let mut key = super::rendered::Key::new("helm");
    for f in files.iter().filter(|f| is_under(&f.path, &chart.dir)) {
        key.file(f);
    }
    key.text(&spec.release);
    key.text(&spec.namespace);
    key.text(if spec.without_chart_values {
        "without-chart-values"
    } else {
        "with-chart-values"
    });
    for v in &spec.values {
        key.text(v);
    }
    for (name, value, string) in &spec.set {
        key.text(if *string { "set-string" } else { "set" });
        key.text(name);
        key.text(value);
    }
    if let Some(c) = &spec.capabilities {
        key.text(&c.kube_version);
        for a in &c.api_versions {
            key.text(a);
        }
    }
    key.program(helm);
    key.finish()
}

/// Why a chart cannot be rendered before trying: dependencies that are not vendored.
pub fn unrenderable(chart: &Chart) -> Option<String> {
    if chart.missing.is_empty() {
        return None;
    }
    let names: Vec<String> = chart
        .missing
        .iter()
        .map(|(n, r)| {
            if r.is_empty() {
                crate::text::visible_line(n).into_owned()
            } else {
                format!(
                    "{} ({})",
                    crate::text::visible_line(n),
                    crate::text::visible_line(r)
                )
            }
        })
        .collect();
    Some(format!(
        "the chart's dependencies {} are not vendored under {}; kdrift fetches nothing \
         (run `helm dependency build` and commit charts/)",
        names.join(", "),
        join(&chart.dir, "charts/")
    ))
}

/// A chart written out, ready to render: removed from disk when dropped.
pub struct PreparedChart {
    tmp: tempfile::TempDir,
    chart_dir: PathBuf,
    values: Vec<PathBuf>,
    spec: RenderSpec,
}

/// Writes the chart's folder and the values files into a private temporary folder (0700).
pub fn prepare(
    repo: &GitRepo,
    files: &[TreeFile],
    chart: &Chart,
    spec: &RenderSpec,
) -> Result<PreparedChart, String> {
    let tmp = tempfile::Builder::new()
        .prefix("kdrift-helm-")
        .tempdir()
        .map_err(|e| format!("cannot create a private temporary folder: {e}"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("cannot make {} private: {e}", tmp.path().display()))?;
    }
    let tree = tmp.path().join("tree");
    let paths: BTreeSet<String> = files
        .iter()
        .filter(|f| is_under(&f.path, &chart.dir))
        .map(|f| f.path.clone())
        .collect();
    materialize(repo, files, &paths, &tree)?;
    let chart_dir = if chart.dir.is_empty() {
        tree
    } else {
        tree.join(&chart.dir)
    };
    if spec.without_chart_values && chart_dir.join("values.yaml").is_file() {
        let path = chart_dir.join("values.yaml");
        std::fs::write(&path, "{}\n")
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    let home = tmp.path().join("helm");
    for sub in ["config", "cache", "data", "plugins"] {
        std::fs::create_dir_all(home.join(sub))
            .map_err(|e| format!("cannot create {}: {e}", home.join(sub).display()))?;
    }
    let mut values = Vec::new();
    for (i, text) in spec.values.iter().enumerate() {
        let path = tmp.path().join(format!("values-{i}.yaml"));
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        values.push(path);
    }
    Ok(PreparedChart {
        tmp,
        chart_dir,
        values,
        spec: spec.clone(),
    })
}

impl PreparedChart {
    /// Runs `helm template` on the chart (with no repositories, plugins or cluster).
    pub fn render(&self, helm: &Path) -> Result<String, String> {
        let home = self.tmp.path().join("helm");
        let spec = &self.spec;
        let mut cmd = Command::new(helm);
        cmd.arg("template")
            .arg(&spec.release)
            .arg(&self.chart_dir)
            .arg("--namespace")
            .arg(&spec.namespace)
            .arg("--include-crds")
            .current_dir(self.tmp.path())
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_DATA_HOME", home.join("data"))
            .env("HELM_PLUGINS", home.join("plugins"))
            .env(
                "HELM_REPOSITORY_CONFIG",
                home.join("config/repositories.yaml"),
            )
            .env("HELM_REPOSITORY_CACHE", home.join("cache/repository"))
            .env("HELM_REGISTRY_CONFIG", home.join("config/registry.json"))
            .env("KUBECONFIG", home.join("config/no-kubeconfig"))
            .env_remove("HELM_KUBECONTEXT")
            .env_remove("HELM_KUBETOKEN")
            .env_remove("HELM_KUBEAPISERVER")
            .env("HELM_NAMESPACE", &spec.namespace);
        for path in &self.values {
            cmd.arg("--values").arg(path);
        }
        for (name, value, string) in &spec.set {
            cmd.arg(if *string { "--set-string" } else { "--set" })
                .arg(format!("{name}={value}"));
        }
        if let Some(c) = &spec.capabilities {
            if !c.kube_version.is_empty() {
                cmd.arg("--kube-version").arg(&c.kube_version);
            }
            for a in &c.api_versions {
                cmd.arg("--api-versions").arg(a);
            }
        }
        // Paths in helm's words name the temporary copy: name the repository's instead.
        let tree = self.tmp.path().join("tree");
        let tmp = self.tmp.path().display().to_string();
        super::kustomize::run_renderer(cmd, &|err| {
            err.replace(&format!("{}/", tree.display()), "")
                .replace(&tree.display().to_string(), ".")
                .replace(&tmp, "…")
        })
    }
}

/// Splits `helm template` output into its documents, each with the repository file its
/// `# Source:` comment names (`<chart name>/templates/x.yaml` is `<chart dir>/templates/x.yaml`;
/// a subchart's `<chart name>/charts/<sub>/…` the same below `charts/`), when that file is in
/// `files`; the chart's `Chart.yaml` otherwise.
pub fn split_sources<'a>(
    text: &'a str,
    chart: &Chart,
    files: &HashSet<&str>,
) -> Vec<(String, &'a str)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut offsets: Vec<usize> = Vec::new();
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_end() == "---" || line.starts_with("--- ") {
            offsets.push(pos);
        }
        pos += line.len();
    }
    offsets.push(text.len());
    for end in offsets {
        let doc = &text[start..end];
        start = end;
        if doc.trim().is_empty() {
            continue;
        }
        let source = doc
            .lines()
            .find_map(|l| l.strip_prefix("# Source: "))
            .and_then(|s| s.trim().strip_prefix(&format!("{}/", chart.name)))
            .map(|rel| join(&chart.dir, rel))
            .filter(|p| files.contains(p.as_str()))
            .unwrap_or_else(|| chart.chart_file.clone());
        out.push((source, doc));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart() -> Chart {
        Chart {
            dir: "charts/web".into(),
            chart_file: "charts/web/Chart.yaml".into(),
            name: "webapp".into(),
            missing: vec![],
        }
    }

    #[test]
    fn sources_name_the_template_in_the_repository() {
        let text = "---\n# Source: webapp/templates/svc.yaml\napiVersion: v1\nkind: Service\n---\n# Source: webapp/charts/redis/templates/x.yaml\napiVersion: v1\nkind: ConfigMap\n---\n# Source: webapp/templates/gone.yaml\napiVersion: v1\nkind: Pod\n";
        let files: HashSet<&str> = [
            "charts/web/templates/svc.yaml",
            "charts/web/charts/redis/templates/x.yaml",
        ]
        .into_iter()
        .collect();
        let docs = split_sources(text, &chart(), &files);
        let sources: Vec<&str> = docs.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(
            sources,
            [
                "charts/web/templates/svc.yaml",
                "charts/web/charts/redis/templates/x.yaml",
                "charts/web/Chart.yaml"
            ]
        );
        assert!(docs[0].1.contains("kind: Service"));
        assert!(!docs[0].1.contains("ConfigMap"));
    }
}
