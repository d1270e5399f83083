//! A generator of realistic fixtures for tests, benchmarks and demos: a Git repository of
//! manifests, the live objects as an API server returns them (server metadata, managedFields,
//! defaults, status) and `expected.json` with the right verdict and drifted paths for every
//! resource. Drift of every kind kdrift knows is planted (hand edits, removals the applier
//! would make), and so is noise that must not count (defaults, respelled quantities, fields of
//! other managers, stringData). Deterministic for a seed. Uses the `git` CLI to commit.

use anyhow::{bail, Context, Result};
use base64::Engine;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

/// What to generate.
#[derive(Debug, Clone)]
pub struct FixtureOptions {
    pub out: PathBuf,
    pub resources: usize,
    pub namespaces: usize,
    pub seed: u64,
}

/// The expected verdict of one resource (the format of `expected.json`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Expected {
    pub status: String,
    #[serde(default)]
    pub fields: Vec<String>,
}

/// The verdicts of a JSON report (`kdrift diff -o json`), keyed like `expected.json`.
pub fn verdicts_of_json(report: &Value) -> BTreeMap<String, Expected> {
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    report["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let key = format!(
                "{}/{}/{}/{}",
                s(&r["group"]),
                s(&r["kind"]),
                s(&r["namespace"]),
                s(&r["name"])
            );
            let mut fields: Vec<String> = r["fields"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| s(&f["path"]))
                .collect();
            fields.sort();
            (
                key,
                Expected {
                    status: s(&r["status"]),
                    fields,
                },
            )
        })
        .collect()
}

/// A generated fixture in memory.
#[derive(Debug, Clone, Default)]
pub struct Fixture {
    /// Files of the repository: path → objects.
    pub files: BTreeMap<String, Vec<Value>>,
    pub live: Vec<Value>,
    pub expected: BTreeMap<String, Expected>,
}

/// The label every object of the repository carries (select with `-l`).
pub const PART_OF: (&str, &str) = ("app.kubernetes.io/part-of", "fixture");
const T0: &str = "2026-01-01T00:00:00Z";
const T1: &str = "2026-01-02T03:04:05Z";

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    fn percent(&mut self) -> u64 {
        self.below(100)
    }
}

fn meta(name: &str, ns: Option<&str>, app: Option<&str>) -> Value {
    let mut labels = Map::new();
    labels.insert(PART_OF.0.into(), PART_OF.1.into());
    if let Some(app) = app {
        labels.insert("app".into(), app.into());
    }
    let mut m = Map::new();
    m.insert("name".into(), name.into());
    if let Some(ns) = ns {
        m.insert("namespace".into(), ns.into());
    }
    m.insert("labels".into(), Value::Object(labels));
    Value::Object(m)
}

fn key_of(obj: &Value) -> String {
    let api = obj["apiVersion"].as_str().unwrap_or("");
    let group = api.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
    format!(
        "{group}/{}/{}/{}",
        obj["kind"].as_str().unwrap_or(""),
        obj["metadata"]["namespace"].as_str().unwrap_or(""),
        obj["metadata"]["name"].as_str().unwrap_or("")
    )
}

fn deployment(rng: &mut Rng, ns: &str, app: &str) -> Value {
    let env: Vec<Value> = (0..1 + rng.below(5))
        .map(|i| json!({"name": format!("VAR_{i}"), "value": format!("value-{}", rng.below(1000))}))
        .collect();
    // A request never above its limit: the API server refuses such a Deployment.
    let memory_request = *rng.pick(&["128Mi", "256Mi", "1024Mi"]);
    let memory_limit = if memory_request == "1024Mi" {
        *rng.pick(&["1Gi", "2Gi"])
    } else {
        *rng.pick(&["512Mi", "1Gi", "2Gi"])
    };
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(app, Some(ns), Some(app)),
        "spec": {
            "replicas": *rng.pick(&[1, 2, 3, 5]),
            "selector": {"matchLabels": {"app": app}},
            "template": {
                "metadata": {"labels": {"app": app}},
                "spec": {"containers": [{
                    "name": app,
                    "image": format!("registry.example.com/{app}:{}.{}.{}", 1 + rng.below(9), rng.below(20), rng.below(9)),
                    "ports": [{"containerPort": 8080, "name": "http"}],
                    "env": env,
                    "resources": {
                        "requests": {"cpu": *rng.pick(&["100m", "250m", "500m", "1000m"]), "memory": memory_request},
                        "limits": {"cpu": *rng.pick(&["1", "2"]), "memory": memory_limit}
                    }
                }]}
            }
        }
    })
}

fn service(app: &str, ns: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": meta(app, Some(ns), Some(app)),
           "spec": {"selector": {"app": app}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}})
}

fn configmap(rng: &mut Rng, ns: &str, name: &str, app: &str) -> Value {
    let mut data = Map::new();
    for i in 0..1 + rng.below(6) {
        data.insert(
            format!("key{i}"),
            format!("value-{}", rng.below(1_000_000)).into(),
        );
    }
    let props: Vec<String> = (0..2 + rng.below(8))
        .map(|i| format!("setting.{i}={}", rng.below(100)))
        .collect();
    data.insert("app.properties".into(), (props.join("\n") + "\n").into());
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(name, Some(ns), Some(app)), "data": data})
}

fn secret(rng: &mut Rng, ns: &str, app: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta(&format!("{app}-secret"), Some(ns), Some(app)),
           "type": "Opaque", "stringData": {"password": format!("s3cr3t-{}", rng.below(1_000_000_000)), "username": app}})
}

fn service_account(ns: &str, app: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(app, Some(ns), Some(app))})
}

/// FieldsV1 for every map key the applied object sets (lists owned whole).
fn fields_v1(obj: &Value) -> Value {
    fn walk(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                Value::Object(m.iter().map(|(k, x)| (format!("f:{k}"), walk(x))).collect())
            }
            _ => json!({}),
        }
    }
    let mut body = obj.clone();
    if let Some(m) = body.as_object_mut() {
        m.remove("apiVersion");
        m.remove("kind");
        let meta = m.get("metadata").cloned().unwrap_or(json!({}));
        let mut kept = Map::new();
        for k in ["labels", "annotations"] {
            if let Some(v) = meta.get(k) {
                kept.insert(k.into(), v.clone());
            }
        }
        m.insert("metadata".into(), Value::Object(kept));
    }
    walk(&body)
}

/// The object as the API server returns it after an apply by `kdrift`.
fn server_view(obj: &Value, counter: &mut u64) -> Value {
    let mut live = obj.clone();
    *counter += 1;
    let kind = obj["kind"].as_str().unwrap_or("").to_string();
    let m = live["metadata"]
        .as_object_mut()
        .expect("generated objects have metadata");
    m.insert(
        "uid".into(),
        format!("00000000-0000-4000-8000-{:012x}", counter).into(),
    );
    m.insert(
        "resourceVersion".into(),
        (1000 + *counter).to_string().into(),
    );
    m.insert("creationTimestamp".into(), T0.into());
    m.insert(
        "managedFields".into(),
        json!([{"manager": "kdrift", "operation": "Apply", "apiVersion": obj["apiVersion"], "time": T0,
                "fieldsType": "FieldsV1", "fieldsV1": fields_v1(obj)}]),
    );
    match kind.as_str() {
        "Deployment" => {
            m.insert("generation".into(), 1.into());
            m.insert(
                "annotations".into(),
                json!({"deployment.kubernetes.io/revision": "1"}),
            );
            let spec = &mut live["spec"];
            spec["strategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}});
            spec["revisionHistoryLimit"] = 10.into();
            spec["progressDeadlineSeconds"] = 600.into();
            let pod = &mut spec["template"]["spec"];
            pod["restartPolicy"] = "Always".into();
            pod["terminationGracePeriodSeconds"] = 30.into();
            pod["dnsPolicy"] = "ClusterFirst".into();
            pod["securityContext"] = json!({});
            pod["schedulerName"] = "default-scheduler".into();
            spec["template"]["metadata"]["creationTimestamp"] = Value::Null;
            if let Some(cs) = live["spec"]["template"]["spec"]["containers"].as_array_mut() {
                for c in cs {
                    c["imagePullPolicy"] = "IfNotPresent".into();
                    c["terminationMessagePath"] = "/dev/termination-log".into();
                    c["terminationMessagePolicy"] = "File".into();
                    for p in c["ports"].as_array_mut().into_iter().flatten() {
                        p["protocol"] = "TCP".into();
                    }
                    // The server keeps quantities in canonical form.
                    for (section, res) in [
                        ("requests", "cpu"),
                        ("requests", "memory"),
                        ("limits", "cpu"),
                        ("limits", "memory"),
                    ] {
                        let v = &mut c["resources"][section][res];
                        if let Some(s) = v.as_str() {
                            *v = canonical_quantity(s).into();
                        }
                    }
                }
            }
            let r = live["spec"]["replicas"].clone();
            live["status"] = json!({"observedGeneration": 1, "replicas": r, "readyReplicas": r, "availableReplicas": r, "updatedReplicas": r});
        }
        "Service" => {
            let ip = format!("10.96.{}.{}", *counter % 250, 1 + *counter % 253);
            let spec = live["spec"].as_object_mut().expect("services have a spec");
            for (k, v) in [
                ("clusterIP", json!(ip)),
                ("clusterIPs", json!([ip])),
                ("type", json!("ClusterIP")),
                ("sessionAffinity", json!("None")),
                ("ipFamilies", json!(["IPv4"])),
                ("ipFamilyPolicy", json!("SingleStack")),
                ("internalTrafficPolicy", json!("Cluster")),
            ] {
                spec.insert(k.into(), v);
            }
            for p in live["spec"]["ports"].as_array_mut().into_iter().flatten() {
                p["protocol"] = "TCP".into();
            }
            live["status"] = json!({"loadBalancer": {}});
        }
        "Secret" => {
            if let Some(Value::Object(sd)) =
                live.as_object_mut().and_then(|o| o.remove("stringData"))
            {
                let data: Map<String, Value> = sd
                    .into_iter()
                    .map(|(k, v)| {
                        (
                            k,
                            base64::engine::general_purpose::STANDARD
                                .encode(v.as_str().unwrap_or(""))
                                .into(),
                        )
                    })
                    .collect();
                live["data"] = Value::Object(data);
            }
        }
        "Namespace" => {
            let name = obj["metadata"]["name"].clone();
            live["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
            live["spec"] = json!({"finalizers": ["kubernetes"]});
            live["status"] = json!({"phase": "Active"});
        }
        _ => {}
    }
    live
}

fn canonical_quantity(s: &str) -> String {
    match s {
        "1000m" => "1".into(),
        "1024Mi" => "1Gi".into(),
        other => other.into(),
    }
}

fn record_edit(live: &mut Value, manager: &str, fields: Value) {
    let api_version = live["apiVersion"].clone();
    if let Some(mf) = live["metadata"]["managedFields"].as_array_mut() {
        mf.push(
            json!({"manager": manager, "operation": "Update", "apiVersion": api_version,
                       "time": T1, "fieldsType": "FieldsV1", "fieldsV1": fields}),
        );
    }
}

/// Plants one drift a person or the applier's history would cause; returns its path.
fn plant_drift(live: &mut Value, rng: &mut Rng) -> String {
    let kind = live["kind"].as_str().unwrap_or("").to_string();
    match kind.as_str() {
        "Deployment" => {
            let name = live["spec"]["template"]["spec"]["containers"][0]["name"]
                .as_str()
                .unwrap_or("")
                .to_string();
            let c = format!("spec.template.spec.containers[name={name}]");
            match rng.below(5) {
                0 => {
                    let r = live["spec"]["replicas"].as_i64().unwrap_or(1) + 2;
                    live["spec"]["replicas"] = r.into();
                    // The controller has scaled: the status says so (the rollout is done).
                    for k in [
                        "replicas",
                        "readyReplicas",
                        "availableReplicas",
                        "updatedReplicas",
                    ] {
                        live["status"][k] = r.into();
                    }
                    record_edit(live, "kubectl-scale", json!({"f:spec": {"f:replicas": {}}}));
                    "spec.replicas".into()
                }
                1 => {
                    let img = live["spec"]["template"]["spec"]["containers"][0]["image"]
                        .as_str()
                        .unwrap_or("")
                        .to_string();
                    let base = img
                        .rsplit_once(':')
                        .map(|(b, _)| b)
                        .unwrap_or(&img)
                        .to_string();
                    live["spec"]["template"]["spec"]["containers"][0]["image"] =
                        format!("{base}:hotfix").into();
                    record_edit(live, "kubectl-edit", json!({}));
                    format!("{c}.image")
                }
                2 => {
                    let env_name = live["spec"]["template"]["spec"]["containers"][0]["env"][0]
                        ["name"]
                        .as_str()
                        .unwrap_or("")
                        .to_string();
                    let v =
                        &mut live["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"];
                    *v = format!("{}-edited", v.as_str().unwrap_or("")).into();
                    record_edit(live, "kubectl-edit", json!({}));
                    format!("{c}.env[name={env_name}].value")
                }
                3 => {
                    live["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
                        ["memory"] = "3Gi".into();
                    record_edit(live, "kubectl-set", json!({}));
                    format!("{c}.resources.limits.memory")
                }
                _ => {
                    // A label Git no longer sets, owned by the applier alone: the next apply
                    // removes it.
                    live["metadata"]["labels"]["legacy"] = "true".into();
                    live["metadata"]["managedFields"][0]["fieldsV1"]["f:metadata"]["f:labels"]
                        ["f:legacy"] = json!({});
                    "metadata.labels.legacy".into()
                }
            }
        }
        "Service" => {
            live["spec"]["ports"][0]["targetPort"] = 9090.into();
            record_edit(live, "kubectl-edit", json!({}));
            "spec.ports[port=80,protocol=TCP].targetPort".into()
        }
        "ConfigMap" => {
            if rng.below(2) == 0 {
                let v = &mut live["data"]["app.properties"];
                *v = format!("{}edited=1\n", v.as_str().unwrap_or("")).into();
                record_edit(live, "kubectl-edit", json!({}));
                "data['app.properties']".into()
            } else {
                live["data"]["stale.key"] = "old".into();
                live["metadata"]["managedFields"][0]["fieldsV1"]["f:data"]["f:stale.key"] =
                    json!({});
                "data['stale.key']".into()
            }
        }
        "Secret" => {
            live["data"]["password"] = base64::engine::general_purpose::STANDARD
                .encode("rotated-by-hand")
                .into();
            record_edit(live, "kubectl-edit", json!({}));
            "data.password".into()
        }
        "ServiceAccount" => {
            live["metadata"]["labels"]["app"] = "renamed".into();
            record_edit(live, "kubectl-label", json!({}));
            "metadata.labels.app".into()
        }
        other => panic!("no drift planted for {other}"),
    }
}

/// Adds changes that must not count: fields of other managers, injected containers.
fn plant_noise(live: &mut Value, rng: &mut Rng) {
    match live["kind"].as_str().unwrap_or("") {
        "Deployment" if rng.below(2) == 0 => {
            if let Some(cs) = live["spec"]["template"]["spec"]["containers"].as_array_mut() {
                cs.push(json!({"name": "istio-proxy", "image": "istio/proxyv2:1.20", "imagePullPolicy": "IfNotPresent",
                               "resources": {}, "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}));
            }
            live["spec"]["template"]["metadata"]["annotations"] =
                json!({"sidecar.istio.io/status": "injected"});
            record_edit(
                live,
                "istio-sidecar-injector",
                json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"istio-proxy\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}}),
            );
        }
        _ => {
            live["metadata"]["labels"]["team"] = "platform".into();
            record_edit(
                live,
                "kubectl-label",
                json!({"f:metadata": {"f:labels": {"f:team": {}}}}),
            );
        }
    }
}

pub fn generate(resources: usize, namespaces: usize, seed: u64) -> Fixture {
    let mut rng = Rng(seed);
    let namespaces: Vec<String> = (0..namespaces.max(1))
        .map(|i| format!("team-{i:03}"))
        .collect();
    let mut desired: Vec<(String, Value)> = namespaces
        .iter()
        .take(resources)
        .map(|ns| {
            (
                "cluster/namespaces.yaml".to_string(),
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": meta(ns, None, None)}),
            )
        })
        .collect();
    let mut i = 0usize;
    while desired.len() < resources {
        let ns = &namespaces[i % namespaces.len()];
        let app = format!("app-{i:05}");
        let file = format!("{ns}/{app}.yaml");
        type Maker<'a> = Box<dyn Fn(&mut Rng) -> Value + 'a>;
        let makers: [Maker; 5] = [
            Box::new(|r| deployment(r, ns, &app)),
            Box::new(|_| service(&app, ns)),
            Box::new(|r| configmap(r, ns, &format!("{app}-config"), &app)),
            Box::new(|r| secret(r, ns, &app)),
            Box::new(|_| service_account(ns, &app)),
        ];
        for make in makers.iter() {
            if desired.len() < resources {
                let obj = make(&mut rng);
                desired.push((file.clone(), obj));
            }
        }
        i += 1;
    }
    let mut fx = Fixture::default();
    let mut counter = 0u64;
    for (file, obj) in desired {
        let key = key_of(&obj);
        let roll = rng.percent();
        let is_ns = obj["kind"] == "Namespace";
        fx.files.entry(file).or_default().push(obj.clone());
        if !is_ns && roll < 2 {
            fx.expected.insert(
                key,
                Expected {
                    status: "missing".into(),
                    fields: vec![],
                },
            );
            continue;
        }
        let mut live = server_view(&obj, &mut counter);
        if !is_ns && roll < 9 {
            let path = plant_drift(&mut live, &mut rng);
            fx.expected.insert(
                key,
                Expected {
                    status: "out-of-sync".into(),
                    fields: vec![path],
                },
            );
        } else {
            if !is_ns && roll < 20 {
                plant_noise(&mut live, &mut rng);
            }
            fx.expected.insert(
                key,
                Expected {
                    status: "synced".into(),
                    fields: vec![],
                },
            );
        }
        fx.live.push(live);
    }
    for j in 0..resources / 100 {
        let ns = &namespaces[j % namespaces.len()];
        let orphan = configmap(&mut rng, ns, &format!("orphan-{j:04}"), "orphan");
        fx.expected.insert(
            key_of(&orphan),
            Expected {
                status: "extra".into(),
                fields: vec![],
            },
        );
        fx.live.push(server_view(&orphan, &mut counter));
        // A child made by a controller: tracked label, but owned, so never extra.
        let mut child = configmap(&mut rng, ns, &format!("child-{j:04}"), "child");
        child["metadata"]["ownerReferences"] =
            json!([{"apiVersion": "apps/v1", "kind": "Deployment", "name": "x", "uid": "1"}]);
        fx.live.push(server_view(&child, &mut counter));
    }
    fx
}

/// Writes a fixture to disk: `repo/` (a Git repository with one commit), `live.json`,
/// `live.yaml` and `expected.json`. Returns a one-line summary.
pub fn write(opts: &FixtureOptions) -> Result<String> {
    if opts.out.join("repo").join(".git").exists() {
        bail!("{} already holds a fixture", opts.out.display());
    }
    let fx = generate(opts.resources, opts.namespaces, opts.seed);
    let repo = opts.out.join("repo");
    for (file, objs) in &fx.files {
        let path = repo.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let mut text = String::new();
        for o in objs {
            text.push_str("---\n");
            text.push_str(&serde_yaml::to_string(o)?);
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    git(&repo, &["init", "-q", "-b", "main"])?;
    git(&repo, &["add", "-A"])?;
    git(
        &repo,
        &[
            "commit",
            "-q",
            "-m",
            &format!("fixture: {} resources", opts.resources),
        ],
    )?;
    let list = json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": fx.live});
    std::fs::write(opts.out.join("live.json"), serde_json::to_string(&list)?)?;
    let mut yaml = String::new();
    for o in &fx.live {
        yaml.push_str("---\n");
        yaml.push_str(&serde_yaml::to_string(o)?);
    }
    std::fs::write(opts.out.join("live.yaml"), yaml)?;
    std::fs::write(
        opts.out.join("expected.json"),
        serde_json::to_string_pretty(&fx.expected)?,
    )?;
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for e in fx.expected.values() {
        *counts.entry(e.status.as_str()).or_default() += 1;
    }
    Ok(format!(
        "wrote {}: {} live objects, {:?}",
        opts.out.display(),
        fx.live.len(),
        counts
    ))
}

/// Runs git in a folder with a fixed identity and date, so fixtures are reproducible.
pub fn git(dir: &std::path::Path, args: &[&str]) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=kdrift fixture",
            "-c",
            "user.email=fixture@example.com",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .env("GIT_AUTHOR_DATE", T0)
        .env("GIT_COMMITTER_DATE", T0)
        .output()
        .context("running git (is it installed?)")?;
    if !out.status.success() {
        bail!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}
