//! sim's HTTP face: routing Kubernetes API paths to the store, discovery (legacy and
//! aggregated, with the exact content types clients expect), OpenAPI v3 stubs enough for
//! `kubectl apply --server-side`, Table output for `kubectl get`, chunked watch streams with
//! bookmarks and 410 on expired resourceVersions, and the fault switches.

use super::registry::ResourceType;
use super::store::{ApiError, Selection, WriteOptions};
use super::Shared;
use crate::selector::LabelSelector;
use bytes::Bytes;
use futures::SinkExt;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

/// How often a watch that allows bookmarks gets one (the API server's `bookmarkFrequency`).
const BOOKMARK_EVERY: Duration = Duration::from_secs(60);

pub type Body = BoxBody<Bytes, Infallible>;

const AGGREGATED_V2: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
const AGGREGATED_V2BETA1: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

fn json_response(code: u16, v: &Value) -> Response<Body> {
    json_typed(code, v, "application/json")
}

fn json_typed(code: u16, v: &Value, content_type: &str) -> Response<Body> {
    let mut r = Response::new(full(serde_json::to_vec(v).unwrap_or_default()));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(h) = content_type.parse() {
        r.headers_mut().insert("content-type", h);
    }
    r
}

fn error_response(e: &ApiError) -> Response<Body> {
    json_response(e.code, &e.status())
}

/// Decodes `%XX` and `+` in a query component.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 3 <= bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Query parameters, read leniently (kube-rs starts its query strings with `?&`).
fn query(req: &Request<Incoming>) -> HashMap<String, String> {
    req.uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// A parsed resource URL.
#[derive(Debug)]
struct Target {
    group: String,
    version: String,
    namespace: Option<String>,
    plural: String,
    name: Option<String>,
    subresource: Option<String>,
}

fn parse_target(segs: &[&str]) -> Option<Target> {
    let (group, version, rest) = match segs {
        ["api", v, rest @ ..] => (String::new(), v.to_string(), rest),
        ["apis", g, v, rest @ ..] => (g.to_string(), v.to_string(), rest),
        _ => return None,
    };
    let t = |namespace: Option<&str>, plural: &str, name: Option<&str>, sub: Option<&str>| Target {
        group: group.clone(),
        version: version.clone(),
        namespace: namespace.map(str::to_string),
        plural: plural.to_string(),
        name: name.map(str::to_string),
        subresource: sub.map(str::to_string),
    };
    match rest {
        [] => None,
        ["namespaces", ns, sub @ ("status" | "finalize")] if group.is_empty() => {
            Some(t(None, "namespaces", Some(ns), Some(sub)))
        }
        ["namespaces", ns, plural] => Some(t(Some(ns), plural, None, None)),
        ["namespaces", ns, plural, name] => Some(t(Some(ns), plural, Some(name), None)),
        ["namespaces", ns, plural, name, sub] => Some(t(Some(ns), plural, Some(name), Some(sub))),
        [plural] => Some(t(None, plural, None, None)),
        [plural, name] => Some(t(None, plural, Some(name), None)),
        [plural, name, sub] => Some(t(None, plural, Some(name), Some(sub))),
        _ => None,
    }
}

/// Handles one request (after authentication and faults).
pub async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    if let Some(token) = &shared.token {
        let ok = req
            .headers()
            .get("authorization")
            .and_then(|h| h.to_str().ok())
            .is_some_and(|h| h == format!("Bearer {token}"));
        if !ok {
            return Ok(error_response(&ApiError::new(
                401,
                "Unauthorized",
                "Unauthorized",
            )));
        }
    }
    let path = req.uri().path().to_string();
    if shared.log_requests {
        eprintln!(
            "sim: {} {} content-type={:?} accept={:?}",
            req.method(),
            req.uri(),
            req.headers().get("content-type"),
            req.headers().get("accept")
        );
    }
    // sim speaks JSON only; client-go falls back to JSON on 415 for protobuf bodies.
    let sends_protobuf = req
        .headers()
        .get("content-type")
        .and_then(|h| h.to_str().ok())
        .is_some_and(|c| c.contains("protobuf"));
    if sends_protobuf {
        return Ok(error_response(&ApiError::new(
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml",
        )));
    }
    if !path.starts_with("/sim/") {
        if let Some(resp) = shared.faults.before_request().await {
            return Ok(resp);
        }
    }
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let accept = req
        .headers()
        .get("accept")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_string();
    let resp = match (req.method().clone(), segs.as_slice()) {
        (Method::GET, ["version"]) => json_response(
            200,
            &json!({"major": "1", "minor": "32", "gitVersion": "v1.32.0-kdrift-sim", "gitCommit": "sim", "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23", "compiler": "gc", "platform": "linux/amd64"}),
        ),
        (Method::GET, ["healthz"] | ["readyz"] | ["livez"]) => Response::new(full("ok")),
        (Method::GET, ["api"]) => discovery(&shared, true, &accept),
        (Method::GET, ["apis"]) => discovery(&shared, false, &accept),
        (Method::GET, ["api", v]) => group_version(&shared, "", v),
        (Method::GET, ["apis", g, v]) => group_version(&shared, g, v),
        (Method::GET, ["apis", g]) => api_group(&shared, g),
        (Method::GET, ["openapi", "v3"]) => openapi_index(&shared),
        (Method::GET, ["openapi", "v3", rest @ ..]) => openapi_doc(&shared, rest),
        (Method::GET, ["openapi", "v2"]) => openapi_v2(&shared, &accept),
        (Method::POST, ["sim", "faults"]) => {
            let body = read_json(req).await;
            match body {
                Ok(v) => match shared.apply_fault_spec(&v) {
                    Ok(()) => json_response(200, &json!({"ok": true})),
                    Err(e) => error_response(&ApiError::new(400, "BadRequest", e)),
                },
                Err(e) => error_response(&e),
            }
        }
        _ => match parse_target(&segs) {
            Some(t) => resource(shared, req, t, &accept).await,
            None => error_response(&ApiError::new(
                404,
                "NotFound",
                format!("the server could not find the requested resource ({path})"),
            )),
        },
    };
    Ok(resp)
}

fn discovery(shared: &Shared, core: bool, accept: &str) -> Response<Body> {
    let store = shared.store.lock().unwrap_or_else(|e| e.into_inner());
    for (marker, ct, api) in [
        ("v=v2;", AGGREGATED_V2, "apidiscovery.k8s.io/v2"),
        (
            "v=v2beta1;",
            AGGREGATED_V2BETA1,
            "apidiscovery.k8s.io/v2beta1",
        ),
    ] {
        // The first acceptable aggregated form in the client's list wins.
        if let Some(pos) = accept.find("as=APIGroupDiscoveryList") {
            let first = accept[..pos]
                .rfind(',')
                .map(|i| &accept[i..])
                .unwrap_or(accept);
            if first.contains(marker) || (accept.contains(marker) && !accept.contains("v=v2;")) {
                return json_typed(200, &store.registry.aggregated(core, api), ct);
            }
        }
    }
    if core {
        json_response(200, &store.registry.core_versions())
    } else {
        json_response(200, &store.registry.group_list())
    }
}

/// `/apis/G`: one group's versions, the preferred first.
fn api_group(shared: &Shared, group: &str) -> Response<Body> {
    let store = shared.store.lock().unwrap_or_else(|e| e.into_inner());
    let list = store.registry.group_list();
    let found = list["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|g| g["name"] == group)
        .cloned();
    match found {
        Some(mut g) => {
            g["kind"] = "APIGroup".into();
            g["apiVersion"] = "v1".into();
            json_response(200, &g)
        }
        None => error_response(&ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )),
    }
}

fn group_version(shared: &Shared, group: &str, version: &str) -> Response<Body> {
    let store = shared.store.lock().unwrap_or_else(|e| e.into_inner());
    match store.registry.resource_list(group, version) {
        Some(v) => json_response(200, &v),
        None => error_response(&ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )),
    }
}

/// `/openapi/v2`: JSON when asked for, else protobuf as kubectl asks.
fn openapi_v2(shared: &Shared, accept: &str) -> Response<Body> {
    let store = shared.store.lock().unwrap_or_else(|e| e.into_inner());
    let types = store.registry.types();
    if accept.contains("application/json") && !accept.contains("protobuf") {
        return json_response(200, &super::openapi::v2_json(types));
    }
    let mut r = Response::new(full(super::openapi::v2_protobuf(types)));
    if let Ok(h) = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf".parse() {
        r.headers_mut().insert("content-type", h);
    }
    r
}

fn openapi_index(shared: &Shared) -> Response<Body> {
    let store = shared.store.lock().unwrap_or_else(|e| e.into_inner());
    let mut paths = serde_json::Map::new();
    for t in store.registry.types() {
        let gv = if t.group.is_empty() {
            format!("api/{}", t.version)
        } else {
            format!("apis/{}/{}", t.group, t.version)
        };
        let hash = format!("{:x}", store.resource_version());
        paths.insert(
            gv.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{gv}?hash={hash}")}),
        );
    }
    json_response(200, &json!({"paths": paths}))
}

fn openapi_doc(shared: &Shared, rest: &[&str]) -> Response<Body> {
    let (group, version) = match rest {
        ["api", v] => ("", *v),
        ["apis", g, v] => (*g, *v),
        _ => return error_response(&ApiError::new(404, "NotFound", "no such OpenAPI document")),
    };
    let store = shared.store.lock().unwrap_or_else(|e| e.into_inner());
    let mut paths = serde_json::Map::new();
    let mut schemas = serde_json::Map::new();
    for t in store
        .registry
        .types()
        .iter()
        .filter(|t| t.group == group && t.version == version)
    {
        let gvk = json!({"group": t.group, "version": t.version, "kind": t.kind});
        let prefix = if t.group.is_empty() {
            format!("/api/{}", t.version)
        } else {
            format!("/apis/{}/{}", t.group, t.version)
        };
        let item = if t.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", t.plural)
        } else {
            format!("{prefix}/{}/{{name}}", t.plural)
        };
        let schema_name = format!(
            "{}.{}.{}",
            if t.group.is_empty() { "core" } else { &t.group },
            t.version,
            t.kind
        );
        let op = |verb: &str| {
            json!({"operationId": format!("{verb}{}", t.kind), "x-kubernetes-action": verb, "x-kubernetes-group-version-kind": gvk,
                   "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
                                  {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
                                  {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
                                  {"name": "force", "in": "query", "schema": {"type": "boolean"}}],
                   "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema_name}")}}}}}})
        };
        paths.insert(item, json!({"get": op("get"), "put": op("put"), "patch": op("patch"), "delete": op("delete")}));
        schemas.insert(schema_name.clone(), json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true, "x-kubernetes-group-version-kind": [gvk]}));
        let list_gvk =
            json!({"group": t.group, "version": t.version, "kind": format!("{}List", t.kind)});
        schemas.insert(format!("{schema_name}List"), json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true, "x-kubernetes-group-version-kind": [list_gvk]}));
    }
    json_response(
        200,
        &json!({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.34.4"}, "paths": paths, "components": {"schemas": schemas}}),
    )
}

async fn read_body(req: Request<Incoming>) -> Result<Bytes, ApiError> {
    req.into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| {
            ApiError::new(
                400,
                "BadRequest",
                format!("cannot read the request body: {e}"),
            )
        })
}

async fn read_json(req: Request<Incoming>) -> Result<Value, ApiError> {
    let bytes = read_body(req).await?;
    let text = String::from_utf8_lossy(&bytes);
    if text.trim().is_empty() {
        return Ok(json!({}));
    }
    // Apply patches are YAML by content type; JSON is YAML too.
    match serde_json::from_str(&text) {
        Ok(v) => Ok(v),
        Err(_) => crate::yaml::parse_document(&text, 1)
            .map(|v| v.unwrap_or(json!({})))
            .map_err(|e| {
                ApiError::new(
                    400,
                    "BadRequest",
                    format!("cannot read the request body: {e}"),
                )
            }),
    }
}

fn manager_of(q: &HashMap<String, String>, req: &Request<Incoming>) -> String {
    if let Some(m) = q.get("fieldManager").filter(|m| !m.is_empty()) {
        return m.clone();
    }
    req.headers()
        .get("user-agent")
        .and_then(|h| h.to_str().ok())
        .map(|ua| ua.split('/').next().unwrap_or("").to_string())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

fn selection(q: &HashMap<String, String>, ns: Option<&str>) -> Result<Selection, ApiError> {
    let labels = match q.get("labelSelector").filter(|s| !s.is_empty()) {
        Some(s) => Some(LabelSelector::parse(s).map_err(|e| ApiError::new(400, "BadRequest", e))?),
        None => None,
    };
    let mut fields = Vec::new();
    for part in q
        .get("fieldSelector")
        .map(String::as_str)
        .unwrap_or("")
        .split(',')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = if let Some((k, v)) = part.split_once("!=") {
            (k, format!("!{v}"))
        } else if let Some((k, v)) = part.split_once("==") {
            (k, v.to_string())
        } else if let Some((k, v)) = part.split_once('=') {
            (k, v.to_string())
        } else {
            return Err(ApiError::new(
                400,
                "BadRequest",
                format!("invalid field selector {part:?}"),
            ));
        };
        // The fields the API server selects on for every kind, and those of Events (what
        // `kubectl events --for` and kdrift's Events view ask for).
        let event_field = k.starts_with("involvedObject.")
            || k.starts_with("regarding.")
            || matches!(k, "reason" | "type" | "source" | "reportingController");
        if k != "metadata.name" && k != "metadata.namespace" && !event_field {
            return Err(ApiError::new(
                400,
                "BadRequest",
                format!("field label not supported: {k}"),
            ));
        }
        fields.push((k.to_string(), v));
    }
    Ok(Selection {
        namespace: ns.map(str::to_string),
        labels,
        fields,
    })
}

fn wants_table(accept: &str) -> bool {
    accept
        .split(',')
        .next()
        .is_some_and(|first| first.contains("as=Table"))
}

fn table(items: &[Value], rv: u64, include_object: bool) -> Value {
    let rows: Vec<Value> = items
        .iter()
        .map(|o| {
            let meta = o.get("metadata").cloned().unwrap_or(json!({}));
            let object = if include_object {
                o.clone()
            } else {
                json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta})
            };
            json!({"cells": [o.pointer("/metadata/name").cloned().unwrap_or(json!("")), super::clock::age(o.pointer("/metadata/creationTimestamp").and_then(Value::as_str).unwrap_or(""))], "object": object})
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": rv.to_string()},
           "columnDefinitions": [{"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0},
                                 {"name": "Age", "type": "string", "format": "", "description": "Age", "priority": 0}],
           "rows": rows})
}

async fn resource(
    shared: Arc<Shared>,
    req: Request<Incoming>,
    t: Target,
    accept: &str,
) -> Response<Body> {
    let rt = {
        let store = shared.store.lock().unwrap_or_else(|e| e.into_inner());
        store
            .registry
            .by_plural(&t.group, &t.version, &t.plural)
            .cloned()
    };
    let Some(rt) = rt else {
        return error_response(&ApiError::new(
            404,
            "NotFound",
            format!(
                "the server could not find the requested resource ({}/{} {})",
                t.group, t.version, t.plural
            ),
        ));
    };
    if let Some(reason) = shared.faults.forbidden(&rt, t.namespace.as_deref()) {
        let scope = t
            .namespace
            .as_deref()
            .map(|n| format!(" in the namespace \"{n}\""))
            .unwrap_or_else(|| " at the cluster scope".into());
        return error_response(&ApiError::new(403, "Forbidden", format!("{} is forbidden: User \"sim\" cannot {} resource \"{}\" in API group \"{}\"{scope} ({reason})", rt.plural_group(), req.method().as_str().to_lowercase(), rt.plural, rt.group)));
    }
    if !rt.namespaced && t.namespace.is_some() {
        return error_response(&ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        ));
    }
    let ns = if rt.namespaced {
        t.namespace.clone().unwrap_or_default()
    } else {
        String::new()
    };
    let q = query(&req);
    let dry_run = q.get("dryRun").is_some_and(|v| v == "All");
    let is_apply =
        req.method() == Method::PATCH && content_type(&req).starts_with("application/apply-patch");
    let opts = WriteOptions {
        // Apply needs an explicit manager; other writes fall back to the user agent.
        manager: if is_apply {
            q.get("fieldManager").cloned().unwrap_or_default()
        } else {
            manager_of(&q, &req)
        },
        dry_run,
        force: q.get("force").is_some_and(|v| v == "true"),
        subresource: t.subresource.clone(),
    };
    let method = req.method().clone();
    let result: Result<(u16, Value), ApiError> = match (&method, &t.name, t.subresource.as_deref())
    {
        (&Method::GET, None, _) => {
            if q.get("watch").is_some_and(|w| w == "true" || w == "1") {
                return watch(shared, rt, t.namespace.clone(), q, wants_table(accept)).await;
            }
            let sel = match selection(&q, t.namespace.as_deref()) {
                Ok(s) => s,
                Err(e) => return error_response(&e),
            };
            let limit = q
                .get("limit")
                .and_then(|l| l.parse().ok())
                .filter(|l| *l > 0);
            let after = q
                .get("continue")
                .filter(|c| !c.is_empty())
                .and_then(|c| decode_continue(c));
            let store = shared.store.lock().unwrap_or_else(|e| e.into_inner());
            if !wants_table(accept) {
                // Lists come straight from the serialised objects.
                let body = store.list_json(&rt, &sel, limit, after.as_ref(), encode_continue);
                drop(store);
                let mut r = Response::new(full(body));
                if let Ok(h) = "application/json".parse() {
                    r.headers_mut().insert("content-type", h);
                }
                return r;
            }
            let r = store.list(&rt, &sel, limit, after);
            if wants_table(accept) {
                Ok((
                    200,
                    table(
                        &r.items,
                        r.rv,
                        q.get("includeObject").is_some_and(|v| v == "Object"),
                    ),
                ))
            } else {
                let mut meta = json!({"resourceVersion": r.rv.to_string()});
                if let Some(c) = &r.continue_token {
                    meta["continue"] = json!(encode_continue(c));
                    if let Some(n) = r.remaining {
                        meta["remainingItemCount"] = json!(n);
                    }
                }
                Ok((
                    200,
                    json!({"kind": format!("{}List", rt.kind), "apiVersion": rt.api_version(), "metadata": meta, "items": r.items}),
                ))
            }
        }
        (&Method::GET, Some(name), None) => {
            let store = shared.store.lock().unwrap_or_else(|e| e.into_inner());
            store.get(&rt, &ns, name).map(|o| {
                if wants_table(accept) {
                    (
                        200,
                        table(
                            &[o],
                            store.resource_version(),
                            q.get("includeObject").is_some_and(|v| v == "Object"),
                        ),
                    )
                } else {
                    (200, o)
                }
            })
        }
        (&Method::GET, Some(name), Some("status")) => {
            let store = shared.store.lock().unwrap_or_else(|e| e.into_inner());
            store.get(&rt, &ns, name).map(|o| (200, o))
        }
        (&Method::GET, Some(name), Some("scale")) if rt.has_scale => {
            let store = shared.store.lock().unwrap_or_else(|e| e.into_inner());
            store.scale(&rt, &ns, name).map(|o| (200, o))
        }
        (&Method::POST, None, None) => match read_json(req).await {
            Ok(body) => {
                let body_ns = crate::model::meta_str(&body, "namespace").to_string();
                if rt.namespaced && !body_ns.is_empty() && body_ns != ns {
                    Err(ApiError::new(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request"))
                } else {
                    let mut store = shared.store.lock().unwrap_or_else(|e| e.into_inner());
                    store.create(&rt, &ns, body, &opts).map(|o| (201, o))
                }
            }
            Err(e) => Err(e),
        },
        (&Method::PUT, Some(name), sub) if sub.is_none() || sub == Some("status") => {
            match read_json(req).await {
                Ok(body) => {
                    let mut store = shared.store.lock().unwrap_or_else(|e| e.into_inner());
                    store.update(&rt, &ns, name, body, &opts).map(|o| (200, o))
                }
                Err(e) => Err(e),
            }
        }
        (&Method::PUT | &Method::PATCH, Some(name), Some("scale")) if rt.has_scale => {
            let ct = content_type(&req);
            match read_json(req).await {
                Ok(body) => {
                    let mut store = shared.store.lock().unwrap_or_else(|e| e.into_inner());
                    let mut scale = match store.scale(&rt, &ns, name) {
                        Ok(s) => s,
                        Err(e) => return error_response(&e),
                    };
                    if method == Method::PUT {
                        scale = body;
                    } else if ct.starts_with("application/json-patch") {
                        if let Err(e) = super::patch::json_patch(&mut scale, &body) {
                            return error_response(&ApiError::new(422, "Invalid", e.to_string()));
                        }
                    } else {
                        super::patch::merge_patch(&mut scale, &body);
                    }
                    match scale.pointer("/spec/replicas").and_then(Value::as_i64) {
                        Some(r) => store.set_scale(&rt, &ns, name, r, &opts).map(|o| (200, o)),
                        None => Err(ApiError::new(422, "Invalid", "spec.replicas is required")),
                    }
                }
                Err(e) => Err(e),
            }
        }
        (&Method::PATCH, Some(name), sub) if sub.is_none() || sub == Some("status") => {
            let ct = content_type(&req);
            match read_json(req).await {
                Ok(body) => {
                    let mut store = shared.store.lock().unwrap_or_else(|e| e.into_inner());
                    let existed = store.get(&rt, &ns, name).is_ok();
                    store
                        .patch(&rt, &ns, name, &ct, &body, &opts)
                        .map(|o| (if existed { 200 } else { 201 }, o))
                }
                Err(e) => Err(e),
            }
        }
        (&Method::DELETE, Some(name), None) => {
            // DeleteOptions may carry preconditions (resourceVersion, uid).
            let options = read_json(req).await.unwrap_or(Value::Null);
            let pre_rv = options
                .pointer("/preconditions/resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_string);
            let pre_uid = options
                .pointer("/preconditions/uid")
                .and_then(Value::as_str)
                .map(str::to_string);
            let mut store = shared.store.lock().unwrap_or_else(|e| e.into_inner());
            let current = store.get(&rt, &ns, name);
            let failed = current.as_ref().ok().and_then(|o| {
                let rv = crate::model::meta_str(o, "resourceVersion");
                let uid = crate::model::meta_str(o, "uid");
                if pre_rv.as_deref().is_some_and(|p| p != rv) {
                    Some(format!("Precondition failed: ResourceVersion in precondition: {}, ResourceVersion in object meta: {rv}", pre_rv.clone().unwrap_or_default()))
                } else if pre_uid.as_deref().is_some_and(|p| p != uid) {
                    Some(format!("Precondition failed: UID in precondition: {}, UID in object meta: {uid}", pre_uid.clone().unwrap_or_default()))
                } else {
                    None
                }
            });
            match failed {
                Some(message) => Err(ApiError::new(409, "Conflict", message)),
                None => store.delete(&rt, &ns, name, dry_run).map(|o| (200, o)),
            }
        }
        _ => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            format!("{method} is not supported on this resource"),
        )),
    };
    match result {
        Ok((code, v)) => json_response(code, &v),
        Err(e) => error_response(&e),
    }
}

fn content_type(req: &Request<Incoming>) -> String {
    req.headers()
        .get("content-type")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("application/json")
        .to_string()
}

fn encode_continue(key: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key)
}

fn decode_continue(token: &str) -> Option<(String, String)> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    let s = String::from_utf8(bytes).ok()?;
    let (ns, name) = s.split_once('\u{0}')?;
    Some((ns.to_string(), name.to_string()))
}

fn watch_event(kind: &str, object: &Value, as_table: bool, rv: u64) -> Bytes {
    let object = if as_table && kind != "BOOKMARK" && kind != "ERROR" {
        table(std::slice::from_ref(object), rv, false)
    } else {
        object.clone()
    };
    let mut line = serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

async fn watch(
    shared: Arc<Shared>,
    rt: ResourceType,
    ns: Option<String>,
    q: HashMap<String, String>,
    as_table: bool,
) -> Response<Body> {
    let sel = match selection(&q, ns.as_deref()) {
        Ok(s) => s,
        Err(e) => return error_response(&e),
    };
    let bookmarks = q.get("allowWatchBookmarks").is_some_and(|v| v == "true");
    let initial_events = q.get("sendInitialEvents").is_some_and(|v| v == "true");
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(Duration::from_secs);
    let requested_rv = q.get("resourceVersion").cloned().unwrap_or_default();
    let (mut tx, rx) = futures::channel::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(256);
    let mut drops = shared.faults.watch_drops();
    // Subscribe before reading the store so that nothing falls between the two.
    let (mut events, first, start_rv) = {
        let store = shared.store.lock().unwrap_or_else(|e| e.into_inner());
        let events = store.broadcast.subscribe();
        let current = store.resource_version();
        let mut first: Vec<Bytes> = Vec::new();
        let start_rv;
        if initial_events || requested_rv.is_empty() || requested_rv == "0" {
            for o in store.all(&rt, &sel) {
                first.push(watch_event("ADDED", &o, as_table, current));
            }
            if initial_events {
                let bm = json!({"kind": rt.kind, "apiVersion": rt.api_version(), "metadata": {"resourceVersion": current.to_string(), "annotations": {"k8s.io/initial-events-end": "true"}}});
                first.push(watch_event("BOOKMARK", &bm, false, current));
            }
            start_rv = current;
        } else {
            let rv: u64 = requested_rv.parse().unwrap_or(0);
            match store.events_since(&rt, rv) {
                Some(evs) => {
                    for e in evs.iter().filter(|e| sel.matches(&e.object)) {
                        first.push(watch_event(e.kind, &e.object, as_table, e.rv));
                    }
                    start_rv = evs.last().map(|e| e.rv).unwrap_or(rv).max(rv);
                }
                None => {
                    let status = ApiError::new(
                        410,
                        "Expired",
                        format!("too old resource version: {rv} ({})", store.oldest_rv),
                    )
                    .status();
                    first.push(watch_event("ERROR", &status, false, current));
                    start_rv = u64::MAX;
                }
            }
        }
        (events, first, start_rv)
    };
    let kind = rt.kind.clone();
    let api_version = rt.api_version();
    let store_key = rt.store_key();
    let shared2 = shared.clone();
    tokio::spawn(async move {
        for b in first {
            if tx.send(Ok(Frame::data(b))).await.is_err() {
                return;
            }
        }
        if start_rv == u64::MAX {
            return;
        }
        let mut last_rv = start_rv;
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        // Bookmarks about once a minute, as the API server's watch cache sends them.
        let mut next_bookmark = tokio::time::Instant::now() + BOOKMARK_EVERY;
        loop {
            let sleep_until = deadline
                .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(86_400));
            tokio::select! {
                _ = tokio::time::sleep_until(sleep_until) => return,
                _ = drops.changed() => return,
                _ = tick.tick() => {
                    if bookmarks && tokio::time::Instant::now() >= next_bookmark {
                        next_bookmark = tokio::time::Instant::now() + BOOKMARK_EVERY;
                        let rv = shared2.store.lock().unwrap_or_else(|e| e.into_inner()).resource_version();
                        let bm = json!({"kind": kind, "apiVersion": api_version, "metadata": {"resourceVersion": rv.to_string()}});
                        if tx.send(Ok(Frame::data(watch_event("BOOKMARK", &bm, false, rv)))).await.is_err() {
                            return;
                        }
                    } else if tx.is_closed() {
                        return;
                    }
                }
                ev = events.recv() => match ev {
                    Ok(e) => {
                        if e.store != store_key || e.rv <= last_rv || !sel.matches(&e.object) {
                            continue;
                        }
                        last_rv = e.rv;
                        if tx.send(Ok(Frame::data(watch_event(e.kind, &e.object, as_table, e.rv)))).await.is_err() {
                            return;
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        let status = ApiError::new(410, "Expired", "the watch fell behind; relist").status();
                        let _ = tx.send(Ok(Frame::data(watch_event("ERROR", &status, false, last_rv)))).await;
                        return;
                    }
                    Err(_) => return,
                }
            }
        }
    });
    let body = BodyExt::boxed(StreamBody::new(rx));
    let mut r = Response::new(body);
    if let Ok(h) = "application/json".parse() {
        r.headers_mut().insert("content-type", h);
    }
    r
}
