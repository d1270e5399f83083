//! sim's in-memory object store: objects by type and namespaced name, one global
//! resourceVersion counter, server metadata, defaults, field ownership, and the event history
//! that watches replay (compactable, so old resourceVersions expire with 410). All writes go
//! through here; the HTTP layer only translates requests.

use super::apply::{self, record_update, write_managed};
use super::defaults::{self, Allocator};
use super::fieldset::Shape;
use super::patch;
use super::registry::{Registry, ResourceType};
use crate::selector::LabelSelector;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

/// An error as the API server reports it (a `Status` with an HTTP code).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    pub fn not_found(rt: &ResourceType, name: &str) -> Self {
        let mut e = ApiError::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", rt.plural_group()),
        );
        e.details = Some(json!({"name": name, "group": rt.group, "kind": rt.plural}));
        e
    }

    /// The `Status` object.
    pub fn status(&self) -> Value {
        let mut v = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                           "message": self.message, "reason": self.reason, "code": self.code});
        if let Some(d) = &self.details {
            v["details"] = d.clone();
        }
        v
    }
}

impl ResourceType {
    /// `deployments.apps` or `configmaps`, as messages name a resource.
    pub fn plural_group(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    fn shape(&self) -> Shape<'_> {
        Shape {
            kind: &self.kind,
            builtin: self.crd.is_none(),
            schema: self.schema.as_deref(),
        }
    }
}

/// A change, as watches deliver it.
#[derive(Debug, Clone)]
pub struct Event {
    pub rv: u64,
    pub store: (String, String),
    pub kind: &'static str,
    pub object: Arc<Value>,
}

type StoreKey = (String, String);

/// A stored object and its JSON, kept serialised so that large lists cost a copy.
struct Stored {
    value: Value,
    json: bytes::Bytes,
}

impl Stored {
    fn new(value: Value) -> Self {
        let json = bytes::Bytes::from(serde_json::to_vec(&value).unwrap_or_default());
        Stored { value, json }
    }
}

/// Everything the cluster holds.
pub struct Store {
    pub registry: Registry,
    objects: HashMap<StoreKey, BTreeMap<(String, String), Stored>>,
    rv: u64,
    history: VecDeque<Event>,
    /// The oldest resourceVersion watches can still start from.
    pub oldest_rv: u64,
    history_limit: usize,
    alloc: Allocator,
    uid_counter: u64,
    pub broadcast: tokio::sync::broadcast::Sender<Event>,
}

/// How a write is made.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    pub manager: String,
    pub dry_run: bool,
    pub force: bool,
    pub subresource: Option<String>,
}

/// The objects of a type in key order after `after` that `sel` selects: a range of the map,
/// not a walk from its start (a page costs about its own size, as on the real server), and
/// only the keys of one namespace when the selection names one.
fn selected<'a>(
    objs: &'a BTreeMap<(String, String), Stored>,
    sel: &'a Selection,
    after: Option<&(String, String)>,
) -> impl Iterator<Item = (&'a (String, String), &'a Stored)> + 'a {
    use std::ops::Bound;
    let start = match (after, &sel.namespace) {
        (Some(a), Some(ns)) if a.0 < *ns => Bound::Included((ns.clone(), String::new())),
        (Some(a), _) => Bound::Excluded(a.clone()),
        (None, Some(ns)) => Bound::Included((ns.clone(), String::new())),
        (None, None) => Bound::Unbounded,
    };
    objs.range((start, Bound::Unbounded))
        .take_while(move |(k, _)| sel.namespace.as_ref().is_none_or(|ns| k.0 == *ns))
        // The key holds the namespace: only labels and fields need the object read.
        .filter(move |(_, o)| sel.counts_remaining() || sel.matches(&o.value))
}

/// What a list returns.
pub struct ListResult {
    pub items: Vec<Value>,
    pub rv: u64,
    pub continue_token: Option<String>,
    /// How many more items follow, when the list has more pages and no label or field
    /// selector (the real server leaves it out otherwise: it would have to match them all).
    pub remaining: Option<usize>,
}

/// Selection of a list or watch.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub namespace: Option<String>,
    pub labels: Option<LabelSelector>,
    /// Field equalities (`!` prefix on the value: not equal): `metadata.name`,
    /// `metadata.namespace`, and Events' `involvedObject.*`, `regarding.*`, `reason`, `type`.
    pub fields: Vec<(String, String)>,
}

impl Selection {
    /// Whether a list says how many items remain: not with a label or field selector (the
    /// real server would have to match every remaining item to know).
    pub fn counts_remaining(&self) -> bool {
        self.labels.is_none() && self.fields.is_empty()
    }

    pub fn matches(&self, obj: &Value) -> bool {
        let ns = obj
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("");
        if let Some(want) = &self.namespace {
            if ns != want {
                return false;
            }
        }
        if let Some(l) = &self.labels {
            if !l.matches(obj) {
                return false;
            }
        }
        self.fields.iter().all(|(field, want)| {
            let pointer = format!("/{}", field.replace('.', "/"));
            let got = match field.as_str() {
                "metadata.namespace" => ns,
                _ => obj.pointer(&pointer).and_then(Value::as_str).unwrap_or(""),
            };
            match want.strip_prefix('!') {
                Some(w) => got != w,
                None => got == want,
            }
        })
    }
}

impl Default for Store {
    fn default() -> Self {
        Store {
            registry: Registry::default(),
            objects: HashMap::new(),
            rv: 1000,
            history: VecDeque::new(),
            oldest_rv: 1000,
            history_limit: 200_000,
            alloc: Allocator::default(),
            uid_counter: 0,
            broadcast: tokio::sync::broadcast::channel(65_536).0,
        }
    }
}

fn meta_str<'a>(v: &'a Value, f: &str) -> &'a str {
    crate::model::meta_str(v, f)
}

impl Store {
    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    fn next_uid(&mut self) -> String {
        self.uid_counter += 1;
        let r = self.uid_counter.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            (r >> 32) as u32,
            (r >> 16) as u16,
            r as u16 & 0xfff,
            self.uid_counter as u16 & 0xfff,
            self.uid_counter
        )
    }

    /// Drops the event history: watches from an older resourceVersion get 410 Gone.
    pub fn compact(&mut self) {
        self.history.clear();
        self.oldest_rv = self.rv;
    }

    fn record(&mut self, rt: &ResourceType, kind: &'static str, object: Value) {
        let ev = Event {
            rv: self.rv,
            store: rt.store_key(),
            kind,
            object: Arc::new(object),
        };
        self.history.push_back(ev.clone());
        while self.history.len() > self.history_limit {
            if let Some(old) = self.history.pop_front() {
                self.oldest_rv = old.rv;
            }
        }
        let _ = self.broadcast.send(ev);
    }

    /// Events of a type after `rv`, or `None` when `rv` is older than the kept history.
    pub fn events_since(&self, rt: &ResourceType, rv: u64) -> Option<Vec<Event>> {
        if rv < self.oldest_rv {
            return None;
        }
        let key = rt.store_key();
        Some(
            self.history
                .iter()
                .filter(|e| e.rv > rv && e.store == key)
                .cloned()
                .collect(),
        )
    }

    fn with_type(rt: &ResourceType, mut obj: Value) -> Value {
        if let Some(m) = obj.as_object_mut() {
            m.insert("apiVersion".into(), json!(rt.api_version()));
            m.insert("kind".into(), json!(rt.kind));
        }
        obj
    }

    /// Every stored object by `group/plural/namespace/name` (for tests that compare the
    /// whole cluster before and after).
    pub fn all_objects(&self) -> std::collections::BTreeMap<String, Value> {
        let mut out = std::collections::BTreeMap::new();
        for ((group, plural), objects) in &self.objects {
            for ((ns, name), stored) in objects {
                out.insert(
                    format!("{group}/{plural}/{ns}/{name}"),
                    stored.value.clone(),
                );
            }
        }
        out
    }

    pub fn get(&self, rt: &ResourceType, ns: &str, name: &str) -> Result<Value, ApiError> {
        self.objects
            .get(&rt.store_key())
            .and_then(|m| m.get(&(ns.to_string(), name.to_string())))
            .map(|o| Self::with_type(rt, o.value.clone()))
            .ok_or_else(|| ApiError::not_found(rt, name))
    }

    /// Lists objects in key order, `limit` at a time after the `continue` key.
    pub fn list(
        &self,
        rt: &ResourceType,
        sel: &Selection,
        limit: Option<usize>,
        after: Option<(String, String)>,
    ) -> ListResult {
        let mut items = Vec::new();
        let mut continue_token = None;
        let mut remaining = None;
        if let Some(objs) = self.objects.get(&rt.store_key()) {
            let mut iter = selected(objs, sel, after.as_ref()).peekable();
            while let Some((k, o)) = iter.next() {
                items.push(Self::with_type(rt, o.value.clone()));
                if limit.is_some_and(|l| items.len() >= l) {
                    if iter.peek().is_some() {
                        continue_token = Some(format!("{}\u{0}{}", k.0, k.1));
                        remaining = sel.counts_remaining().then(|| iter.count());
                    }
                    break;
                }
            }
        }
        ListResult {
            items,
            rv: self.rv,
            continue_token,
            remaining,
        }
    }

    /// A list page as JSON, copied from the serialised objects: at most `limit` items after
    /// the `after` key, with the continue token (already encoded by `encode`) and the count
    /// of remaining items when there are more (and no selector but a namespace).
    pub fn list_json(
        &self,
        rt: &ResourceType,
        sel: &Selection,
        limit: Option<usize>,
        after: Option<&(String, String)>,
        encode: impl Fn(&str) -> String,
    ) -> Vec<u8> {
        let api_version = rt.api_version();
        let mut items = Vec::new();
        let mut count = 0usize;
        let mut last_key: Option<&(String, String)> = None;
        let mut more = String::new();
        if let Some(objs) = self.objects.get(&rt.store_key()) {
            let mut iter = selected(objs, sel, after).peekable();
            for (k, o) in iter.by_ref() {
                if count > 0 {
                    items.push(b',');
                }
                count += 1;
                last_key = Some(k);
                if o.value.get("apiVersion").and_then(Value::as_str) == Some(api_version.as_str()) {
                    items.extend_from_slice(&o.json);
                } else {
                    items.extend_from_slice(
                        &serde_json::to_vec(&Self::with_type(rt, o.value.clone()))
                            .unwrap_or_default(),
                    );
                }
                if limit.is_some_and(|l| count >= l) {
                    break;
                }
            }
            if let (Some(k), true) = (last_key, iter.peek().is_some()) {
                let token = encode(&format!("{}\u{0}{}", k.0, k.1));
                more = if sel.counts_remaining() {
                    format!(
                        ",\"continue\":\"{token}\",\"remainingItemCount\":{}",
                        iter.count()
                    )
                } else {
                    format!(",\"continue\":\"{token}\"")
                };
            }
        }
        let mut out = format!(
            "{{\"kind\":\"{}List\",\"apiVersion\":\"{api_version}\",\"metadata\":{{\"resourceVersion\":\"{}\"{more}}},\"items\":[",
            rt.kind, self.rv
        )
        .into_bytes();
        out.extend_from_slice(&items);
        out.extend_from_slice(b"]}");
        out
    }

    /// Every object of a type (for watches' initial events).
    pub fn all(&self, rt: &ResourceType, sel: &Selection) -> Vec<Value> {
        self.list(rt, sel, None, None).items
    }

    fn namespace_exists(&self, ns: &str) -> bool {
        self.objects
            .get(&(String::new(), "namespaces".into()))
            .is_some_and(|m| m.contains_key(&(String::new(), ns.to_string())))
    }

    /// Stores an object exactly as given (keeping its metadata and managedFields), for
    /// `--load`. Missing server metadata is filled in.
    pub fn load(&mut self, obj: Value) -> Result<(), ApiError> {
        let api = obj["apiVersion"].as_str().unwrap_or("").to_string();
        let kind = obj["kind"].as_str().unwrap_or("").to_string();
        let rt = self
            .registry
            .by_kind(&api, &kind)
            .or_else(|| {
                self.registry
                    .by_group_kind(crate::model::split_api_version(&api).0, &kind)
            })
            .cloned()
            .ok_or_else(|| {
                ApiError::new(
                    404,
                    "NotFound",
                    format!("the server does not serve {kind} ({api})"),
                )
            })?;
        let mut obj = obj;
        self.rv += 1;
        let ns = if rt.namespaced {
            meta_str(&obj, "namespace").to_string()
        } else {
            String::new()
        };
        let ns = if rt.namespaced && ns.is_empty() {
            "default".to_string()
        } else {
            ns
        };
        let name = meta_str(&obj, "name").to_string();
        let uid = self.next_uid();
        let rv = self.rv;
        if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            m.entry("uid").or_insert(json!(uid));
            m.insert("resourceVersion".into(), json!(rv.to_string()));
            m.entry("creationTimestamp")
                .or_insert(json!(super::clock::now()));
            if rt.namespaced {
                m.insert("namespace".into(), json!(ns));
            }
        }
        if rt.kind == "CustomResourceDefinition" && rt.group == "apiextensions.k8s.io" {
            self.registry.add_crd(&obj);
        }
        let obj = Self::with_type(&rt, obj);
        self.objects
            .entry(rt.store_key())
            .or_default()
            .insert((ns, name), Stored::new(obj.clone()));
        self.record(&rt, "ADDED", obj);
        Ok(())
    }

    /// The common end of every write: server metadata, defaults, ownership, storage, events.
    /// Stores a write. `update` records it as an Update operation by the writer (through
    /// that subresource), after the server's defaults, as the API server's field manager does;
    /// `None` for writes whose managedFields are already written (apply, load).
    fn commit(
        &mut self,
        rt: &ResourceType,
        (ns, name): (&str, &str),
        mut obj: Value,
        old: Option<&Value>,
        opts: &WriteOptions,
        update: Option<Option<&str>>,
    ) -> Result<Value, ApiError> {
        let now = super::clock::now();
        obj = Self::with_type(rt, obj);
        check_annotations(rt, name, &obj)?;
        {
            let meta = obj
                .get_mut("metadata")
                .and_then(Value::as_object_mut)
                .ok_or_else(|| ApiError::new(400, "BadRequest", "the object has no metadata"))?;
            meta.insert("name".into(), json!(name));
            if rt.namespaced {
                meta.insert("namespace".into(), json!(ns));
            } else {
                meta.remove("namespace");
            }
            for f in [
                "uid",
                "creationTimestamp",
                "generation",
                "resourceVersion",
                "selfLink",
            ] {
                meta.remove(f);
            }
        }
        let uid = match old {
            Some(o) => o["metadata"]["uid"].clone(),
            None => json!(self.next_uid()),
        };
        let created = old
            .map(|o| o["metadata"]["creationTimestamp"].clone())
            .unwrap_or(json!(now));
        let generation = match old {
            Some(o) => {
                let g = o["metadata"]["generation"].as_i64().unwrap_or(1);
                let spec = if rt.kind.ends_with("WebhookConfiguration") {
                    "webhooks"
                } else {
                    "spec"
                };
                let spec_changed =
                    o.get(spec) != obj.get(spec) && opts.subresource.as_deref() != Some("status");
                if spec_changed {
                    g + 1
                } else {
                    g
                }
            }
            None => 1,
        };
        {
            let meta = obj["metadata"].as_object_mut().expect("checked above");
            meta.insert("uid".into(), uid);
            meta.insert("creationTimestamp".into(), created);
            if has_generation(rt, &obj) {
                obj["metadata"]["generation"] = json!(generation);
            }
        }
        if opts.subresource.as_deref() != Some("status") {
            if let Some(o) = old {
                if obj.get("status").is_none() {
                    if let Some(s) = o.get("status") {
                        obj["status"] = s.clone();
                    }
                }
            }
            if rt.crd.is_none() {
                defaults::apply(&rt.group, &rt.kind, &mut obj);
            }
            if let Some(o) = old {
                keep_condition_times(o, &mut obj);
                if opts.dry_run {
                    // A dry run runs no controller: the status stays what it was.
                    match o.get("status") {
                        Some(s) => obj["status"] = s.clone(),
                        None => {
                            if let Some(m) = obj.as_object_mut() {
                                m.remove("status");
                            }
                        }
                    }
                }
            }
        }
        if let Some(subresource) = update {
            record_update(old, &mut obj, &opts.manager, subresource, rt.shape(), &now);
        }
        if rt.crd.is_none() && opts.subresource.as_deref() != Some("status") {
            defaults::server_set(&rt.group, &rt.kind, &mut obj, &mut self.alloc);
        }
        if rt.kind == "CustomResourceDefinition" && rt.group == "apiextensions.k8s.io" {
            validate_crd(&obj)?;
        }
        if let Some(o) = old {
            immutable_fields(rt, o, &obj)?;
        }
        selector_matches_template(rt, &obj)?;
        if opts.dry_run {
            let mut shown = obj;
            shown["metadata"]["resourceVersion"] = json!(old
                .map(|o| o["metadata"]["resourceVersion"].clone())
                .unwrap_or(json!("")));
            return Ok(shown);
        }
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        if rt.kind == "CustomResourceDefinition" && rt.group == "apiextensions.k8s.io" {
            self.registry.add_crd(&obj);
        }
        self.objects
            .entry(rt.store_key())
            .or_default()
            .insert((ns.to_string(), name.to_string()), Stored::new(obj.clone()));
        self.record(
            rt,
            if old.is_some() { "MODIFIED" } else { "ADDED" },
            obj.clone(),
        );
        Ok(obj)
    }

    fn check_namespace(&self, rt: &ResourceType, ns: &str) -> Result<(), ApiError> {
        if rt.namespaced && !self.namespace_exists(ns) {
            let mut e = ApiError::new(404, "NotFound", format!("namespaces \"{ns}\" not found"));
            e.details = Some(json!({"name": ns, "kind": "namespaces"}));
            return Err(e);
        }
        Ok(())
    }

    pub fn create(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        obj: Value,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        self.check_namespace(rt, ns)?;
        let name = meta_str(&obj, "name").to_string();
        if name.is_empty() {
            return Err(ApiError::new(
                422,
                "Invalid",
                format!(
                    "{} is invalid: metadata.name: Required value: name is required",
                    rt.kind
                ),
            ));
        }
        if self.get(rt, ns, &name).is_ok() {
            let mut e = ApiError::new(
                409,
                "AlreadyExists",
                format!("{} \"{name}\" already exists", rt.plural_group()),
            );
            e.details = Some(json!({"name": name, "group": rt.group, "kind": rt.plural}));
            return Err(e);
        }
        self.commit(rt, (ns, &name), obj, None, opts, Some(None))
    }

    pub fn update(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        obj: Value,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        if !obj.get("metadata").is_some_and(Value::is_object) {
            return Err(ApiError::new(
                400,
                "BadRequest",
                "the object has no metadata",
            ));
        }
        let old = self.get(rt, ns, name)?;
        let sent_rv = meta_str(&obj, "resourceVersion");
        if !sent_rv.is_empty() && sent_rv != meta_str(&old, "resourceVersion") {
            return Err(ApiError::new(
                409,
                "Conflict",
                format!("Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again", rt.plural_group()),
            ));
        }
        let new = match opts.subresource.as_deref() {
            Some("status") => {
                let mut o = old.clone();
                o["status"] = obj.get("status").cloned().unwrap_or(Value::Null);
                o
            }
            _ => {
                let mut o = obj;
                if o.get("status").is_none() {
                    if let Some(s) = old.get("status") {
                        o["status"] = s.clone();
                    }
                }
                // Updates keep the ownership record unless the client sends one.
                if o.pointer("/metadata/managedFields").is_none() {
                    if let Some(mf) = old.pointer("/metadata/managedFields") {
                        o["metadata"]["managedFields"] = mf.clone();
                    }
                }
                o
            }
        };
        self.commit_update(rt, ns, name, new, &old, opts)
    }

    /// Stores a non-apply write of `old` as `new`: the writer takes the fields it changed.
    fn commit_update(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        new: Value,
        old: &Value,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        let subresource = opts.subresource.as_deref();
        self.commit(rt, (ns, name), new, Some(old), opts, Some(subresource))
    }

    /// A patch of any kind; `apply` is server-side apply (create when absent).
    pub fn patch(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        content_type: &str,
        body: &Value,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        let old = self.get(rt, ns, name).ok();
        if content_type.starts_with("application/apply-patch") {
            if opts.manager.is_empty() {
                return Err(ApiError::new(422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"));
            }
            if old.is_none() {
                self.check_namespace(rt, ns)?;
            }
            // A resourceVersion in the applied configuration is a precondition, and is not a
            // field anyone owns.
            let sent_rv = meta_str(body, "resourceVersion");
            if !sent_rv.is_empty() {
                let current = old.as_ref().map(|o| meta_str(o, "resourceVersion"));
                if current != Some(sent_rv) {
                    return Err(ApiError::new(
                        409,
                        "Conflict",
                        format!("Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again", rt.plural_group()),
                    ));
                }
            }
            let stripped;
            let body = if sent_rv.is_empty() {
                body
            } else {
                let mut b = body.clone();
                if let Some(m) = b.get_mut("metadata").and_then(Value::as_object_mut) {
                    m.remove("resourceVersion");
                }
                stripped = b;
                &stripped
            };
            let now = super::clock::now();
            let result = apply::apply(old.as_ref(), body, &opts.manager, opts.force, rt.shape(), &now).map_err(|conflicts| {
                let causes: Vec<Value> = conflicts
                    .iter()
                    .map(|c| json!({"reason": "FieldManagerConflict", "message": format!("conflict with \"{}\"", c.manager), "field": c.field}))
                    .collect();
                let list: Vec<String> = conflicts.iter().map(|c| format!("conflict with \"{}\": {}", c.manager, c.field)).collect();
                let mut e = ApiError::new(409, "Conflict", format!("Apply failed with {} conflict{}: {}", conflicts.len(), if conflicts.len() == 1 { "" } else { "s" }, list.join(", ")));
                // As the API server: the causes only, no name, group or kind.
                e.details = Some(json!({"causes": causes}));
                e
            })?;
            let mut obj = result.object;
            if obj.get("metadata").is_none() {
                obj["metadata"] = json!({});
            }
            write_managed(&mut obj, &result.managed);
            return self.commit(rt, (ns, name), obj, old.as_ref(), opts, None);
        }
        let Some(old) = old else {
            return Err(ApiError::not_found(rt, name));
        };
        let mut new = old.clone();
        let target = &mut new;
        if content_type.starts_with("application/merge-patch+json") {
            patch::merge_patch(target, body);
        } else if content_type.starts_with("application/strategic-merge-patch+json") {
            if rt.crd.is_some() {
                return Err(ApiError::new(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"));
            }
            patch::strategic_merge(target, body, rt.shape());
        } else if content_type.starts_with("application/json-patch+json") {
            patch::json_patch(target, body)
                .map_err(|e| ApiError::new(422, "Invalid", e.to_string()))?;
        } else {
            return Err(ApiError::new(
                415,
                "UnsupportedMediaType",
                format!("unsupported patch type {content_type:?}"),
            ));
        }
        if opts.subresource.as_deref() == Some("status") {
            // Through the status subresource only the status changes.
            let status = new.get("status").cloned();
            new = old.clone();
            match status {
                Some(s) => new["status"] = s,
                None => {
                    if let Some(m) = new.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
        } else if let Some(s) = old.get("status") {
            // Through the main resource the status does not change.
            new["status"] = s.clone();
        }
        self.commit_update(rt, ns, name, new, &old, opts)
    }

    pub fn delete(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let old = self.get(rt, ns, name)?;
        if dry_run {
            return Ok(old);
        }
        if let Some(m) = self.objects.get_mut(&rt.store_key()) {
            m.remove(&(ns.to_string(), name.to_string()));
        }
        self.rv += 1;
        let mut gone = old.clone();
        gone["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.record(rt, "DELETED", gone);
        if rt.kind == "Namespace" && rt.group.is_empty() {
            self.delete_namespace_contents(name);
        }
        if rt.kind == "CustomResourceDefinition" && rt.group == "apiextensions.k8s.io" {
            let served: Vec<ResourceType> = self
                .registry
                .types()
                .iter()
                .filter(|t| t.crd.as_deref() == Some(name))
                .cloned()
                .collect();
            for t in &served {
                let keys: Vec<(String, String)> = self
                    .objects
                    .get(&t.store_key())
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default();
                for (ons, oname) in keys {
                    let _ = self.delete(t, &ons, &oname, false);
                }
            }
            self.registry.remove_crd(name);
        }
        Ok(old)
    }

    fn delete_namespace_contents(&mut self, ns: &str) {
        let types: Vec<ResourceType> = self
            .registry
            .types()
            .iter()
            .filter(|t| t.namespaced)
            .cloned()
            .collect();
        for t in types {
            let keys: Vec<(String, String)> = self
                .objects
                .get(&t.store_key())
                .map(|m| m.keys().filter(|(n, _)| n == ns).cloned().collect())
                .unwrap_or_default();
            for (n, name) in keys {
                let _ = self.delete(&t, &n, &name, false);
            }
        }
    }

    /// The Scale subresource of a scalable object.
    pub fn scale(&self, rt: &ResourceType, ns: &str, name: &str) -> Result<Value, ApiError> {
        let o = self.get(rt, ns, name)?;
        let selector = o
            .pointer("/spec/selector/matchLabels")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                    .collect::<Vec<_>>()
                    .join(",")
            });
        Ok(json!({"kind": "Scale", "apiVersion": "autoscaling/v1",
                  "metadata": {"name": name, "namespace": ns, "uid": o["metadata"]["uid"], "resourceVersion": o["metadata"]["resourceVersion"], "creationTimestamp": o["metadata"]["creationTimestamp"]},
                  "spec": {"replicas": o.pointer("/spec/replicas").cloned().unwrap_or(json!(1))},
                  "status": {"replicas": o.pointer("/status/replicas").cloned().unwrap_or(json!(0)), "selector": selector.unwrap_or_default()}}))
    }

    /// Writes `spec.replicas` through the Scale subresource (an Update by `manager`).
    pub fn set_scale(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        replicas: i64,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        let old = self.get(rt, ns, name)?;
        let mut new = old.clone();
        if !new.get("spec").is_some_and(Value::is_object) {
            return Err(ApiError::new(
                422,
                "Invalid",
                "the object has no spec to scale",
            ));
        }
        new["spec"]["replicas"] = json!(replicas);
        self.commit(rt, (ns, name), new, Some(&old), opts, Some(Some("scale")))?;
        self.scale(rt, ns, name)
    }
}

/// The fields the API server will not change on an update, as its validation says it: a
/// workload's and a Job's `spec.selector`.
fn immutable_fields(rt: &ResourceType, old: &Value, new: &Value) -> Result<(), ApiError> {
    let paths: &[&str] = match (rt.group.as_str(), rt.kind.as_str()) {
        ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet") => &["/spec/selector"],
        ("batch", "Job") => &["/spec/selector"],
        _ => &[],
    };
    let name = new
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    for p in paths {
        let (before, after) = (old.pointer(p), new.pointer(p));
        if before.is_some() && before != after {
            let field = p.trim_start_matches('/').replace('/', ".");
            let group = if rt.group.is_empty() {
                String::new()
            } else {
                format!(".{}", rt.group)
            };
            return Err(ApiError::new(
                422,
                "Invalid",
                format!(
                    "{}{group} \"{name}\" is invalid: {field}: Invalid value: {}: field is immutable",
                    rt.kind,
                    after.map(|v| v.to_string()).unwrap_or_else(|| "null".into())
                ),
            ));
        }
    }
    Ok(())
}

/// A workload's `spec.selector.matchLabels` must select its own pod template, as the API
/// server's validation requires.
fn selector_matches_template(rt: &ResourceType, obj: &Value) -> Result<(), ApiError> {
    if rt.group != "apps"
        || !matches!(
            rt.kind.as_str(),
            "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet"
        )
    {
        return Ok(());
    }
    let Some(wanted) = obj
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
    else {
        return Ok(());
    };
    let labels = obj
        .pointer("/spec/template/metadata/labels")
        .and_then(Value::as_object);
    let selects = wanted
        .iter()
        .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v));
    if selects {
        return Ok(());
    }
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    Err(ApiError::new(
        422,
        "Invalid",
        format!(
            "{}.apps \"{name}\" is invalid: spec.template.metadata.labels: Invalid value: {}: `selector` does not match template `labels`",
            rt.kind,
            labels.map(|l| Value::Object(l.clone()).to_string()).unwrap_or_else(|| "null".into())
        ),
    ))
}

fn validate_crd(obj: &Value) -> Result<(), ApiError> {
    let spec = &obj["spec"];
    let group = spec["group"].as_str().unwrap_or("");
    let plural = spec
        .pointer("/names/plural")
        .and_then(Value::as_str)
        .unwrap_or("");
    let name = meta_str(obj, "name");
    if name != format!("{plural}.{group}") {
        return Err(ApiError::new(422, "Invalid", format!("CustomResourceDefinition.apiextensions.k8s.io \"{name}\" is invalid: metadata.name: Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group")));
    }
    Ok(())
}

/// Conditions whose status did not change keep their times, as controllers leave them.
fn keep_condition_times(old: &Value, new: &mut Value) {
    let Some(old_conds) = old.pointer("/status/conditions").and_then(Value::as_array) else {
        return;
    };
    for c in new
        .pointer_mut("/status/conditions")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        let same = old_conds
            .iter()
            .find(|o| o["type"] == c["type"] && o["status"] == c["status"]);
        if let Some(o) = same {
            for f in ["lastTransitionTime", "lastUpdateTime"] {
                if let Some(t) = o.get(f) {
                    c[f] = t.clone();
                }
            }
        }
    }
}

/// Built-in kinds whose objects carry no `metadata.generation` although they have a spec.
const GENERATIONLESS: &[&str] = &[
    "Namespace",
    "Service",
    "PersistentVolumeClaim",
    "HorizontalPodAutoscaler",
];

/// Whether the API server keeps `metadata.generation` for an object: custom resources always,
/// built-in kinds with a spec (except the generationless ones) and webhook configurations.
fn has_generation(rt: &ResourceType, obj: &Value) -> bool {
    rt.crd.is_some()
        || rt.kind.ends_with("WebhookConfiguration")
        || (obj.get("spec").is_some() && !GENERATIONLESS.contains(&rt.kind.as_str()))
}

/// The most the annotations of an object may hold, keys and values together.
const ANNOTATIONS_LIMIT: usize = 256 * 1024;

/// Refuses annotations over the API server's total size limit.
fn check_annotations(rt: &ResourceType, name: &str, obj: &Value) -> Result<(), ApiError> {
    let total: usize = obj
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
        .sum();
    if total <= ANNOTATIONS_LIMIT {
        return Ok(());
    }
    let why = format!("Too long: may not be more than {ANNOTATIONS_LIMIT} bytes");
    let mut e = ApiError::new(
        422,
        "Invalid",
        format!(
            "{} \"{name}\" is invalid: metadata.annotations: {why}",
            rt.kind
        ),
    );
    e.details = Some(json!({"name": name, "group": rt.group, "kind": rt.kind,
        "causes": [{"reason": "FieldValueTooLong", "message": why, "field": "metadata.annotations"}]}));
    Err(e)
}
