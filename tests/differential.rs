//! sim against a real kube-apiserver: the same requests go to both, and the answers are
//! compared after normalising what differs between any two servers (uids, resourceVersions,
//! timestamps, allocated IPs). Every difference must be listed in `KNOWN` with its reason (the
//! README's "What sim does differently" lists the same); a new difference fails the suite, and
//! so does a listed one that no longer occurs, so the list stays true.
//!
//! Covered: server-side apply (ownership, removal of fields and keyed items, conflicts and
//! their causes, force, dry run), strategic merge, merge and JSON patch, the defaults of every
//! built-in kind sim serves, quantity canonicalisation, managedFields for Apply and Update,
//! generation, discovery (with a CRD group's preferred version), the OpenAPI kubectl
//! validates against, watch with an expired resourceVersion, the annotation size limit,
//! PodDisruptionBudget and APIService.

mod support;

use http_body_util::BodyExt;
use kdrift::sim::{self, SimOptions};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Differences accepted, by scenario and JSON pointer prefix of the answer, with the reason,
/// and whether it must show on every run (one that must and does not is stale, and fails).
/// A scenario of "" matches all. The README's "What sim still does differently" says the same.
const KNOWN: &[(&str, &str, &str, bool)] = &[
    (
        "",
        "/status",
        "sim plays the controllers (workload, Job and HPA status as they would leave it); the \
         test server runs none",
        true,
    ),
    (
        "watch / expired resourceVersion",
        "",
        "sim answers 410 for any resourceVersion before its event window; a real server \
         replays etcd's history until etcd compacts it (every 5 minutes by default), and \
         answers 410 as sim does after that",
        false,
    ),
];

struct Step {
    what: String,
    method: &'static str,
    path: String,
    content_type: &'static str,
    body: Option<Value>,
    /// Compare only these pointers of the answer (all of it when empty).
    only: Vec<&'static str>,
}

fn step(what: &str, method: &'static str, path: String) -> Step {
    Step {
        what: what.to_string(),
        method,
        path,
        content_type: "application/json",
        body: None,
        only: Vec::new(),
    }
}

impl Step {
    fn body(mut self, content_type: &'static str, body: Value) -> Step {
        self.content_type = content_type;
        self.body = Some(body);
        self
    }
    fn only(mut self, pointers: &[&'static str]) -> Step {
        self.only = pointers.to_vec();
        self
    }
}

const APPLY: &str = "application/apply-patch+yaml";
const SMP: &str = "application/strategic-merge-patch+json";
const MERGE: &str = "application/merge-patch+json";
const JSONPATCH: &str = "application/json-patch+json";

async fn call(client: &kube::Client, s: &Step) -> (u16, Value) {
    let mut req = http::Request::builder()
        .method(s.method)
        .uri(&s.path)
        .header("Accept", "application/json");
    let body = match &s.body {
        Some(b) => {
            req = req.header("Content-Type", s.content_type);
            serde_json::to_vec(b).unwrap()
        }
        None => Vec::new(),
    };
    let resp = client
        .send(req.body(body).unwrap().map(kube::client::Body::from))
        .await
        .unwrap_or_else(|e| panic!("{} {}: {e}", s.method, s.path));
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes);
    if s.path.contains("watch=true") {
        // One JSON event per line: each reduced to what any two servers share.
        let events: Vec<Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .map(|e| {
                let o = &e["object"];
                let mut r = Map::new();
                r.insert("type".into(), e["type"].clone());
                for (k, v) in [
                    ("kind", &o["kind"]),
                    ("name", &o["metadata"]["name"]),
                    ("code", &o["code"]),
                    ("reason", &o["reason"]),
                    (
                        "initialEventsEnd",
                        &o["metadata"]["annotations"]["k8s.io/initial-events-end"],
                    ),
                ] {
                    if !v.is_null() {
                        r.insert(k.into(), v.clone());
                    }
                }
                Value::Object(r)
            })
            .collect();
        return (status, json!({"events": events}));
    }
    let value = serde_json::from_str(&text).unwrap_or_else(|_| json!({"<text>": text.trim()}));
    (status, value)
}

/// Drops what differs between any two servers: identities (and values copied from the
/// object's uid, as a Job's controller-uid labels), versions, times, allocated IPs.
fn normalise(v: &mut Value) {
    if let Some(uid) = v
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .map(str::to_string)
    {
        replace_string(v, &uid, "<uid>");
    }
    normalise_fields(v);
}

fn replace_string(v: &mut Value, from: &str, to: &str) {
    match v {
        Value::String(s) if s == from => *s = to.to_string(),
        Value::Object(m) => m.values_mut().for_each(|x| replace_string(x, from, to)),
        Value::Array(a) => a.iter_mut().for_each(|x| replace_string(x, from, to)),
        _ => {}
    }
}

fn normalise_fields(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for k in [
                "uid",
                "resourceVersion",
                "creationTimestamp",
                "time",
                "selfLink",
                "clusterIP",
                "clusterIPs",
                "continue",
            ] {
                if m.contains_key(k) {
                    m.insert(k.to_string(), json!("<server>"));
                }
            }
            if let Some(Value::String(s)) = m.get_mut("message") {
                // Messages carry names and versions; the reason and causes are compared.
                *s = "<message>".into();
            }
            for (_, x) in m.iter_mut() {
                normalise_fields(x);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(normalise_fields),
        _ => {}
    }
}

/// Every pointer at which `a` and `b` differ.
fn differences(ptr: &str, a: &Value, b: &Value, out: &mut Vec<(String, Value, Value)>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let p = format!("{ptr}/{}", k.replace('~', "~0").replace('/', "~1"));
                match (x.get(k), y.get(k)) {
                    (Some(xa), Some(yb)) => differences(&p, xa, yb, out),
                    (xa, yb) => out.push((
                        p,
                        xa.cloned().unwrap_or(json!("<absent>")),
                        yb.cloned().unwrap_or(json!("<absent>")),
                    )),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (xa, yb)) in x.iter().zip(y).enumerate() {
                differences(&format!("{ptr}/{i}"), xa, yb, out);
            }
        }
        _ if a == b => {}
        _ => out.push((ptr.to_string(), a.clone(), b.clone())),
    }
}

fn deployment(ns: &str, env: Value, replicas: i64) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": ns},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{
                "name": "app", "image": "nginx:1.27", "env": env,
                "ports": [{"containerPort": 8080}],
                "resources": {"requests": {"cpu": "0.2", "memory": "0.5Gi"}, "limits": {"cpu": "1000m", "memory": "1073741824"}}}]}}}})
}

/// A minimal object of each built-in kind sim serves, namespaced ones in `ns`.
fn minimal_objects(ns: &str, unique: &str) -> Vec<(String, Value)> {
    let pod_spec = json!({"containers": [{"name": "c", "image": "busybox"}]});
    let template = json!({"metadata": {"labels": {"app": "x"}}, "spec": pod_spec});
    let sel = json!({"matchLabels": {"app": "x"}});
    let o = |api: &str, kind: &str, plural: &str, spec: Value| -> (String, Value) {
        let mut obj =
            json!({"apiVersion": api, "kind": kind, "metadata": {"name": "x", "namespace": ns}});
        if let Value::Object(extra) = spec {
            obj.as_object_mut().unwrap().extend(extra);
        }
        let prefix = if api.contains('/') {
            format!("/apis/{api}")
        } else {
            format!("/api/{api}")
        };
        (format!("{prefix}/namespaces/{ns}/{plural}"), obj)
    };
    let c = |api: &str, kind: &str, plural: &str, spec: Value| -> (String, Value) {
        let mut obj = json!({"apiVersion": api, "kind": kind, "metadata": {"name": unique}});
        if let Value::Object(extra) = spec {
            obj.as_object_mut().unwrap().extend(extra);
        }
        (format!("/apis/{api}/{plural}"), obj)
    };
    vec![
        o("v1", "ConfigMap", "configmaps", json!({"data": {"a": "1"}})),
        o("v1", "Secret", "secrets", json!({"stringData": {"a": "1"}})),
        o(
            "v1",
            "Service",
            "services",
            json!({"spec": {"selector": {"app": "x"}, "ports": [{"port": 80}]}}),
        ),
        o("v1", "ServiceAccount", "serviceaccounts", json!({})),
        o(
            "v1",
            "PersistentVolumeClaim",
            "persistentvolumeclaims",
            json!({"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}),
        ),
        o(
            "apps/v1",
            "Deployment",
            "deployments",
            json!({"spec": {"selector": sel, "template": template}}),
        ),
        o(
            "apps/v1",
            "StatefulSet",
            "statefulsets",
            json!({"spec": {"selector": sel, "template": template, "serviceName": "x"}}),
        ),
        o(
            "apps/v1",
            "DaemonSet",
            "daemonsets",
            json!({"spec": {"selector": sel, "template": template}}),
        ),
        o(
            "apps/v1",
            "ReplicaSet",
            "replicasets",
            json!({"spec": {"selector": sel, "template": template}}),
        ),
        o(
            "batch/v1",
            "Job",
            "jobs",
            json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}], "restartPolicy": "Never"}}}}),
        ),
        o(
            "batch/v1",
            "CronJob",
            "cronjobs",
            json!({"spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}], "restartPolicy": "OnFailure"}}}}}}),
        ),
        o(
            "networking.k8s.io/v1",
            "Ingress",
            "ingresses",
            json!({"spec": {"rules": [{"host": "x.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "x", "port": {"number": 80}}}}]}}]}}),
        ),
        o(
            "networking.k8s.io/v1",
            "NetworkPolicy",
            "networkpolicies",
            json!({"spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": []}}),
        ),
        o(
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
            json!({"spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "x"}, "maxReplicas": 3}}),
        ),
        o(
            "rbac.authorization.k8s.io/v1",
            "Role",
            "roles",
            json!({"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}),
        ),
        o(
            "rbac.authorization.k8s.io/v1",
            "RoleBinding",
            "rolebindings",
            json!({"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "x"}, "subjects": [{"kind": "ServiceAccount", "name": "x"}]}),
        ),
        o(
            "policy/v1",
            "PodDisruptionBudget",
            "poddisruptionbudgets",
            json!({"spec": {"selector": sel, "maxUnavailable": 1}}),
        ),
        c(
            "networking.k8s.io/v1",
            "IngressClass",
            "ingressclasses",
            json!({"spec": {"controller": "example.com/x"}}),
        ),
        c(
            "rbac.authorization.k8s.io/v1",
            "ClusterRole",
            "clusterroles",
            json!({"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}),
        ),
        c(
            "rbac.authorization.k8s.io/v1",
            "ClusterRoleBinding",
            "clusterrolebindings",
            json!({"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": unique}, "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "x"}]}),
        ),
        c(
            "admissionregistration.k8s.io/v1",
            "ValidatingWebhookConfiguration",
            "validatingwebhookconfigurations",
            json!({"webhooks": [{"name": "x.example.com", "clientConfig": {"url": "https://x.example.com/"}, "sideEffects": "None", "admissionReviewVersions": ["v1"]}]}),
        ),
        c(
            "admissionregistration.k8s.io/v1",
            "MutatingWebhookConfiguration",
            "mutatingwebhookconfigurations",
            json!({"webhooks": [{"name": "x.example.com", "clientConfig": {"url": "https://x.example.com/"}, "sideEffects": "None", "admissionReviewVersions": ["v1"]}]}),
        ),
    ]
}

/// The scenarios, each a list of steps, for namespace `ns` (and cluster-scoped name `unique`).
fn scenarios(ns: &str, unique: &str) -> Vec<(&'static str, Vec<Step>)> {
    let deploy = format!("/apis/apps/v1/namespaces/{ns}/deployments/web");
    let apply = |mgr: &str, force: bool, dry: bool| {
        let mut q = format!("{deploy}?fieldManager={mgr}");
        if force {
            q.push_str("&force=true");
        }
        if dry {
            q.push_str("&dryRun=All");
        }
        q
    };
    let two_env = json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]);
    let one_env = json!([{"name": "A", "value": "1"}]);
    let cm = format!("/api/v1/namespaces/{ns}/configmaps");
    let crd_group = format!("{unique}.example.com");
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("widgets.{crd_group}")},
        "spec": {"group": crd_group, "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [
                {"name": "v1alpha1", "served": true, "storage": false, "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}},
                {"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}});
    let mut defaults = Vec::new();
    for (path, obj) in minimal_objects(ns, unique) {
        let kind = obj["kind"].as_str().unwrap().to_string();
        defaults.push(
            step(
                &format!("create {kind}"),
                "POST",
                format!("{path}?fieldManager=t"),
            )
            .body("application/json", obj),
        );
    }
    vec![
        (
            "server-side apply",
            vec![
                step("apply as a", "PATCH", apply("a", false, false))
                    .body(APPLY, deployment(ns, two_env.clone(), 2)),
                step("a drops env B", "PATCH", apply("a", false, false))
                    .body(APPLY, deployment(ns, one_env.clone(), 2)),
                step("b conflicts on replicas", "PATCH", apply("b", false, false)).body(
                    APPLY,
                    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": ns}, "spec": {"replicas": 5}}),
                ),
                step("b forces", "PATCH", apply("b", true, false)).body(
                    APPLY,
                    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": ns}, "spec": {"replicas": 5}}),
                ),
                step("dry run as c", "PATCH", apply("c", true, true)).body(
                    APPLY,
                    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": ns, "labels": {"dry": "run"}}}),
                ),
                step("after", "GET", deploy.clone()),
            ],
        ),
        (
            "patches",
            vec![
                step("create", "POST", format!("{cm}?fieldManager=t")).body(
                    "application/json",
                    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "p", "labels": {"a": "1"}}, "data": {"x": "1", "y": "2"}}),
                ),
                step("merge patch", "PATCH", format!("{cm}/p?fieldManager=m"))
                    .body(MERGE, json!({"data": {"x": null, "z": "3"}})),
                step("json patch", "PATCH", format!("{cm}/p?fieldManager=j")).body(
                    JSONPATCH,
                    json!([{"op": "add", "path": "/metadata/labels/b", "value": "2"}, {"op": "replace", "path": "/data/y", "value": "20"}]),
                ),
                step("apply the deployment", "PATCH", apply("a", false, false))
                    .body(APPLY, deployment(ns, two_env.clone(), 2)),
                step("strategic merge", "PATCH", format!("{deploy}?fieldManager=s")).body(
                    SMP,
                    json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:1.28", "env": [{"name": "C", "value": "3"}]}]}}}}),
                ),
                step("strategic delete", "PATCH", format!("{deploy}?fieldManager=s")).body(
                    SMP,
                    json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "env": [{"name": "A", "$patch": "delete"}]}]}}}}),
                ),
            ],
        ),
        ("defaults of the built-in kinds", defaults),
        (
            "generation",
            vec![
                step("apply", "PATCH", apply("a", false, false))
                    .body(APPLY, deployment(ns, one_env.clone(), 1))
                    .only(&["/metadata/generation"]),
                step("label only", "PATCH", format!("{deploy}?fieldManager=m"))
                    .body(MERGE, json!({"metadata": {"labels": {"l": "1"}}}))
                    .only(&["/metadata/generation"]),
                step("spec", "PATCH", format!("{deploy}?fieldManager=m"))
                    .body(MERGE, json!({"spec": {"replicas": 3}}))
                    .only(&["/metadata/generation"]),
                step("namespace label", "PATCH", format!("/api/v1/namespaces/{ns}?fieldManager=m"))
                    .body(MERGE, json!({"metadata": {"labels": {"l": "1"}}}))
                    .only(&["/metadata/generation"]),
            ],
        ),
        (
            "annotation size limit",
            vec![step("300 KB annotation", "POST", format!("{cm}?fieldManager=t"))
                .body(
                    "application/json",
                    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "x".repeat(300_000)}}}),
                )
                .only(&["/code", "/reason", "/kind"])],
        ),
        (
            "discovery",
            vec![
                step("crd", "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions".into())
                    .body("application/json", crd)
                    .only(&["/spec/versions/0/name", "/spec/versions/1/name"]),
                step("crd group", "GET", format!("/apis/{crd_group}"))
                    .only(&["/preferredVersion", "/versions"]),
                step("pdb group", "GET", "/apis/policy".into()).only(&["/preferredVersion"]),
                step("apiservices", "GET", "/apis/apiregistration.k8s.io/v1/apiservices/v1.apps".into())
                    .only(&["/kind", "/spec/group", "/spec/version"]),
            ],
        ),
        (
            "custom resources",
            vec![
                step("crd with list and map types", "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions".into())
                    .body("application/json", json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                        "metadata": {"name": format!("gadgets.{crd_group}")},
                        "spec": {"group": crd_group, "scope": "Namespaced",
                            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget", "listKind": "GadgetList"},
                            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                "spec": {"type": "object", "properties": {
                                    "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                                        "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}}},
                                    "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                                    "args": {"type": "array", "items": {"type": "string"}},
                                    "selector": {"type": "object", "x-kubernetes-map-type": "atomic", "additionalProperties": {"type": "string"}},
                                    "labels": {"type": "object", "additionalProperties": {"type": "string"}}}}}}}}]}}))
                    .only(&["/kind"]),
                step("apply as a", "PATCH", format!("/apis/{crd_group}/v1/namespaces/{ns}/gadgets/g?fieldManager=a"))
                    .body(APPLY, json!({"apiVersion": format!("{crd_group}/v1"), "kind": "Gadget", "metadata": {"name": "g", "namespace": ns},
                        "spec": {"ports": [{"name": "http", "port": 80}, {"name": "grpc", "port": 90}], "tags": ["x", "y"], "args": ["-v"],
                                 "selector": {"app": "g"}, "labels": {"team": "a"}}})),
                step("b applies one port", "PATCH", format!("/apis/{crd_group}/v1/namespaces/{ns}/gadgets/g?fieldManager=b"))
                    .body(APPLY, json!({"apiVersion": format!("{crd_group}/v1"), "kind": "Gadget", "metadata": {"name": "g", "namespace": ns},
                        "spec": {"ports": [{"name": "admin", "port": 70}], "tags": ["z"]}})),
                step("a drops grpc", "PATCH", format!("/apis/{crd_group}/v1/namespaces/{ns}/gadgets/g?fieldManager=a"))
                    .body(APPLY, json!({"apiVersion": format!("{crd_group}/v1"), "kind": "Gadget", "metadata": {"name": "g", "namespace": ns},
                        "spec": {"ports": [{"name": "http", "port": 80}], "tags": ["x", "y"], "args": ["-v"],
                                 "selector": {"app": "g"}, "labels": {"team": "a"}}})),
            ],
        ),
        (
            "openapi",
            vec![step("v2", "GET", "/openapi/v2".into()).only(&[
                "/swagger",
                "/definitions/io.k8s.api.core.v1.ConfigMapList/type",
                "/definitions/io.k8s.api.core.v1.List/type",
                "/definitions/io.k8s.api.apps.v1.Deployment/x-kubernetes-group-version-kind",
            ])],
        ),
        (
            "watch",
            vec![
                step(
                    "initial events and their end bookmark",
                    "GET",
                    format!("{cm}?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&fieldSelector=metadata.name%3Dp&timeoutSeconds=1"),
                ),
                step(
                    "expired resourceVersion",
                    "GET",
                    format!("{cm}?watch=true&resourceVersion=1&timeoutSeconds=1"),
                )
                .only(&["/events/0"]),
            ],
        ),
    ]
}

type Answers = BTreeMap<String, (u16, Value)>;

async fn run_all(client: &kube::Client, ns: &str, unique: &str) -> Answers {
    let mut out = Answers::new();
    let mk = step("namespace", "POST", "/api/v1/namespaces".into()).body(
        "application/json",
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
    );
    let (code, _) = call(client, &mk).await;
    assert!(code == 201 || code == 409, "the namespace: {code}");
    for (scenario, steps) in scenarios(ns, unique) {
        for s in steps {
            // Give a CRD time to be served before its group is read.
            if s.what == "crd group" || s.what == "apply as a" && s.path.contains("/gadgets/") {
                for _ in 0..50 {
                    // The collection, once its kind is served.
                    let probe_path = match s.path.rsplit_once('/') {
                        Some((collection, _)) if s.path.contains("/gadgets/") => {
                            collection.to_string()
                        }
                        _ => s.path.clone(),
                    };
                    let probe = step("probe", "GET", probe_path);
                    let (code, body) = call(client, &probe).await;
                    // A group is served once one version is; the real server adds the
                    // CRD's other served version a moment later.
                    let whole = s.what != "crd group"
                        || body["versions"].as_array().is_some_and(|v| v.len() >= 2);
                    if code == 200 && whole {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
            let (code, mut body) = call(client, &s).await;
            normalise(&mut body);
            if !s.only.is_empty() {
                let mut kept = Map::new();
                for p in &s.only {
                    kept.insert(
                        p.to_string(),
                        body.pointer(p).cloned().unwrap_or(json!("<absent>")),
                    );
                }
                body = Value::Object(kept);
            }
            out.insert(format!("{scenario} / {}", s.what), (code, body));
        }
    }
    out
}

fn known(key: &str, ptr: &str) -> Option<&'static str> {
    KNOWN
        .iter()
        .find(|(s, p, _, _)| key.starts_with(s) && ptr.starts_with(p))
        .map(|(_, _, why, _)| *why)
}

#[tokio::test(flavor = "multi_thread")]
async fn sim_answers_as_the_real_api_server_does() {
    let Some(real) = support::real_server() else {
        return;
    };
    let handle = sim::start(SimOptions::default()).await.expect("sim starts");
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("sim-kubeconfig");
    handle.write_kubeconfig(&kc).unwrap();
    let sim_client = support::client_of(&kc).await;
    let real_client = support::client_of(&real.kubeconfig).await;
    let ns = support::unique_name("diff");
    let unique = ns.clone();
    let sim_answers = run_all(&sim_client, &ns, &unique).await;
    let real_answers = run_all(&real_client, &ns, &unique).await;

    let mut unknown = Vec::new();
    let mut seen_known = std::collections::BTreeSet::new();
    for (key, (real_code, real_body)) in &real_answers {
        let (sim_code, sim_body) = &sim_answers[key];
        let mut diffs = Vec::new();
        if sim_code != real_code {
            diffs.push(("/<status>".to_string(), json!(sim_code), json!(real_code)));
        }
        differences("", sim_body, real_body, &mut diffs);
        for (ptr, s, r) in diffs {
            match known(key, &ptr) {
                Some(why) => {
                    eprintln!("known: {key} {ptr}: sim {s} real {r} ({why})");
                    seen_known.insert(KNOWN.iter().position(|k| k.2 == why).unwrap());
                }
                None => unknown.push(format!("{key} {ptr}:\n    sim  {s}\n    real {r}")),
            }
        }
    }
    let stale: Vec<_> = KNOWN
        .iter()
        .enumerate()
        .filter(|(i, k)| k.3 && !seen_known.contains(i))
        .map(|(_, k)| format!("{} {}", k.0, k.1))
        .collect();
    assert!(
        unknown.is_empty() && stale.is_empty(),
        "sim answers differently from the real server:\n{}\nlisted as known but no longer different: {stale:?}",
        unknown.join("\n")
    );
}
