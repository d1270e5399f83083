//! Keeping the live state current: one watcher per kind (all namespaces; one per namespace
//! where that is forbidden), reconnecting with backoff, relisting on 410, and an exclusive
//! writer that applies their events and publishes cheap read-only snapshots (kube-rs's
//! reflector split). Each view carries the connection state per kind, so a reader can say
//! how fresh its data is, and what changed since the view before (the objects of those
//! keys): the reader keeps its own map. Views are published at most every `coalesce`
//! interval, on a channel that loses none (a lost view would lose its changes).

use super::cluster::{explain, ClusterTarget};
use crate::model::{LiveObject, ResourceKey};
use futures::StreamExt;
use kube::api::Api;
use kube::api::WatchEvent;
use kube::core::{ObjectMeta, Resource};
use kube::discovery::ApiResource;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How one kind's watch is doing.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectionState {
    /// Listing for the first time.
    Connecting,
    /// Watching; the last event (or list) arrived at `last_event`.
    Connected { last_event: SystemTime },
    /// The watch failed at `since` and is being retried with backoff.
    Reconnecting { since: SystemTime, error: String },
    /// Cannot be read (forbidden, not served); nothing will change that without a restart.
    Unreadable { reason: String },
}

/// A kind and its connection state.
#[derive(Debug, Clone)]
pub struct KindState {
    pub group: String,
    pub kind: String,
    /// The namespace of a per-namespace watch (`""`: all namespaces).
    pub namespace: String,
    pub state: ConnectionState,
}

/// What changed in the live state since the view before, with the state of every kind.
#[derive(Debug, Clone, Default)]
pub struct LiveView {
    /// Increases with every published change.
    pub generation: u64,
    /// The first view of a set of watches: the reader drops every object it held (a new
    /// set of watches starts from nothing; its lists bring the objects again).
    pub whole: bool,
    pub kinds: Vec<KindState>,
    /// Each key changed since the view before (sorted, once each), with its object now
    /// (`None`: gone, or not readable).
    pub changes: Vec<(ResourceKey, Option<Arc<LiveObject>>)>,
    /// How many objects the writer holds with this view.
    pub len: usize,
    /// Objects the cluster sent that cannot be read (malformed metadata), with why: each is
    /// one `unknown` row, and its neighbours keep their verdicts.
    pub undecodable: Arc<HashMap<ResourceKey, String>>,
}

impl LiveView {
    /// Whether every kind has finished its first list.
    pub fn is_ready(&self) -> bool {
        all_listed(&self.kinds)
    }

    /// Brings a reader's objects to this view (they were at the view before); returns the
    /// keys that changed.
    pub fn apply_to(self, objects: &mut HashMap<ResourceKey, Arc<LiveObject>>) -> Vec<ResourceKey> {
        if self.whole {
            objects.clear();
        }
        let mut keys = Vec::with_capacity(self.changes.len());
        for (k, o) in self.changes {
            match o {
                Some(o) => {
                    objects.insert(k.clone(), o);
                }
                None => {
                    objects.remove(&k);
                }
            }
            keys.push(k);
        }
        keys
    }
}

/// Whether every one of these kinds has finished its first list.
pub fn all_listed(kinds: &[KindState]) -> bool {
    kinds
        .iter()
        .all(|k| !matches!(k.state, ConnectionState::Connecting))
}

/// What a watch task tells the writer; `usize` is the index of the watch's kind.
#[derive(Debug)]
pub enum Update {
    /// The watch's connection changed.
    State(usize, ConnectionState),
    /// A (re)list began: its objects are collected apart until `InitDone`.
    Init(usize),
    InitApply(usize, LiveObject),
    /// The list is complete: it replaces what the kind held.
    InitDone(usize),
    Apply(LiveObject),
    Delete(ResourceKey),
    /// An object the cluster sent that cannot be read, with why.
    Undecodable(ResourceKey, String),
}

/// The exclusive writer of the live view: it applies the watches' updates to the objects it
/// holds and publishes a view when something changed. No I/O, no clock of its own (the
/// caller gives the time), so it is tested with plain values, as kube-runtime's reflector
/// store is.
#[derive(Debug, Default)]
pub struct ViewWriter {
    states: Vec<KindState>,
    objects: HashMap<ResourceKey, Arc<LiveObject>>,
    /// The objects of (re)lists under way, by kind.
    buffers: HashMap<usize, HashMap<ResourceKey, Arc<LiveObject>>>,
    changed: Vec<ResourceKey>,
    undecodable: HashMap<ResourceKey, String>,
    generation: u64,
    dirty: bool,
    /// Whether a view was published: the first one is `whole`.
    published: bool,
}

impl ViewWriter {
    /// A writer for these kinds, holding nothing yet.
    pub fn new(states: Vec<KindState>) -> ViewWriter {
        ViewWriter {
            states,
            ..ViewWriter::default()
        }
    }

    /// Whether a key is of the kind (and namespace) watch `i` covers.
    fn owns(&self, i: usize, key: &ResourceKey) -> bool {
        let s = &self.states[i];
        key.group == s.group
            && key.kind == s.kind
            && (s.namespace.is_empty() || key.namespace == s.namespace)
    }

    /// Applies one update; `now` is when a completed list counts as the last event.
    pub fn apply(&mut self, u: Update, now: SystemTime) {
        match u {
            Update::State(i, st) => {
                // Keep "Connected" timestamps fresh without a republish per event.
                let was_connected =
                    matches!(self.states[i].state, ConnectionState::Connected { .. });
                let is_connected = matches!(st, ConnectionState::Connected { .. });
                self.states[i].state = st;
                if !(was_connected && is_connected) {
                    self.dirty = true;
                }
            }
            Update::Init(i) => {
                self.buffers.insert(i, HashMap::new());
            }
            Update::InitApply(i, o) => {
                self.buffers
                    .entry(i)
                    .or_default()
                    .insert(o.key.clone(), Arc::new(o));
            }
            Update::InitDone(i) => {
                let fresh = self.buffers.remove(&i).unwrap_or_default();
                let gone: Vec<ResourceKey> = self
                    .objects
                    .keys()
                    .filter(|k| self.owns(i, k) && !fresh.contains_key(*k))
                    .cloned()
                    .collect();
                for k in gone {
                    self.objects.remove(&k);
                    self.changed.push(k);
                }
                for (k, o) in fresh {
                    let same = self
                        .objects
                        .get(&k)
                        .is_some_and(|old| old.object == o.object);
                    if !same {
                        self.changed.push(k.clone());
                        self.objects.insert(k, o);
                    }
                }
                self.states[i].state = ConnectionState::Connected { last_event: now };
                self.dirty = true;
            }
            Update::Apply(o) => {
                self.undecodable.remove(&o.key);
                self.changed.push(o.key.clone());
                self.objects.insert(o.key.clone(), Arc::new(o));
                self.dirty = true;
            }
            Update::Delete(k) => {
                self.objects.remove(&k);
                self.undecodable.remove(&k);
                self.changed.push(k);
                self.dirty = true;
            }
            Update::Undecodable(k, why) => {
                self.objects.remove(&k);
                self.undecodable.insert(k.clone(), why);
                self.changed.push(k);
                self.dirty = true;
            }
        }
    }

    /// The view to publish, if anything changed since the last one.
    pub fn publish(&mut self) -> Option<LiveView> {
        if !self.dirty {
            return None;
        }
        Some(self.view())
    }

    /// The view now (the first one is whole), with the changes since the view before.
    fn view(&mut self) -> LiveView {
        self.dirty = false;
        self.generation += 1;
        let mut keys = std::mem::take(&mut self.changed);
        keys.sort();
        keys.dedup();
        let changes = keys
            .into_iter()
            .map(|k| {
                let o = self.objects.get(&k).cloned();
                (k, o)
            })
            .collect();
        LiveView {
            generation: self.generation,
            whole: !std::mem::replace(&mut self.published, true),
            kinds: self.states.clone(),
            changes,
            len: self.objects.len(),
            undecodable: Arc::new(self.undecodable.clone()),
        }
    }
}

/// A running set of watches.
pub struct LiveWatch {
    /// The views, in order, none lost; the first is whole (and holds no object yet).
    pub views: tokio::sync::mpsc::UnboundedReceiver<LiveView>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for LiveWatch {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// An object as a watch delivers it, read leniently: the whole JSON is kept, and metadata
/// that does not decode (a malformed managedFields, say) does not fail the list it came in
/// (kube-rs would fail every object of the kind, and log the body); the object is marked
/// with why instead.
#[derive(Clone, Debug)]
pub struct LenientObject {
    metadata: ObjectMeta,
    raw: serde_json::Value,
    broken: Option<String>,
}

impl<'de> serde::Deserialize<'de> for LenientObject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(LenientObject::read(serde_json::Value::deserialize(d)?))
    }
}

impl LenientObject {
    /// Reads an object's metadata leniently, keeping the whole JSON.
    fn read(mut raw: serde_json::Value) -> LenientObject {
        // managedFields' field sets (any JSON is a valid `fieldsV1`, and they are most of
        // the metadata) are set aside while the metadata is checked, not copied.
        let sets = take_field_sets(&mut raw);
        let meta = raw.get("metadata").unwrap_or(&serde_json::Value::Null);
        let decoded = <ObjectMeta as serde::Deserialize>::deserialize(meta);
        put_field_sets(&mut raw, sets);
        let (metadata, broken) = match decoded {
            Ok(m) => (m, None),
            Err(e) => {
                let text = |f: &str| {
                    raw.pointer(&format!("/metadata/{f}"))
                        .and_then(|v| v.as_str())
                        .map(str::to_string)
                };
                (
                    ObjectMeta {
                        name: text("name"),
                        namespace: text("namespace"),
                        resource_version: text("resourceVersion"),
                        uid: text("uid"),
                        ..ObjectMeta::default()
                    },
                    Some(format!("the cluster sent metadata kdrift cannot read: {e}")),
                )
            }
        };
        LenientObject {
            metadata,
            raw,
            broken,
        }
    }
}

/// The `fieldsV1` of each managedFields entry, taken out (an empty object left in place).
fn take_field_sets(raw: &mut serde_json::Value) -> Vec<(usize, serde_json::Value)> {
    let Some(entries) = raw
        .pointer_mut("/metadata/managedFields")
        .and_then(serde_json::Value::as_array_mut)
    else {
        return Vec::new();
    };
    entries
        .iter_mut()
        .enumerate()
        .filter_map(|(i, e)| {
            let set = e.as_object_mut()?.get_mut("fieldsV1")?;
            Some((
                i,
                std::mem::replace(set, serde_json::Value::Object(Default::default())),
            ))
        })
        .collect()
}

/// Puts back what `take_field_sets` took.
fn put_field_sets(raw: &mut serde_json::Value, sets: Vec<(usize, serde_json::Value)>) {
    let Some(entries) = raw
        .pointer_mut("/metadata/managedFields")
        .and_then(serde_json::Value::as_array_mut)
    else {
        return;
    };
    for (i, set) in sets {
        if let Some(slot) = entries.get_mut(i).and_then(|e| e.get_mut("fieldsV1")) {
            *slot = set;
        }
    }
}

impl Resource for LenientObject {
    type DynamicType = ApiResource;
    type Scope = kube::core::DynamicResourceScope;

    fn group(dt: &ApiResource) -> std::borrow::Cow<'_, str> {
        dt.group.as_str().into()
    }
    fn version(dt: &ApiResource) -> std::borrow::Cow<'_, str> {
        dt.version.as_str().into()
    }
    fn kind(dt: &ApiResource) -> std::borrow::Cow<'_, str> {
        dt.kind.as_str().into()
    }
    fn api_version(dt: &ApiResource) -> std::borrow::Cow<'_, str> {
        dt.api_version.as_str().into()
    }
    fn plural(dt: &ApiResource) -> std::borrow::Cow<'_, str> {
        dt.plural.as_str().into()
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

fn to_live(ar: &ApiResource, obj: LenientObject) -> Option<LiveObject> {
    super::cluster::to_live(ar, obj.raw)
}

/// An applied object as an update: the object, or why it cannot be read.
fn applied(ar: &ApiResource, obj: LenientObject, init: Option<usize>) -> Option<Update> {
    if let Some(why) = obj.broken.clone() {
        let key = ResourceKey::new(
            &ar.group,
            &ar.kind,
            obj.metadata.namespace.as_deref().unwrap_or(""),
            obj.metadata.name.as_deref()?,
        );
        return Some(Update::Undecodable(key, why));
    }
    let live = to_live(ar, obj)?;
    Some(match init {
        Some(i) => Update::InitApply(i, live),
        None => Update::Apply(live),
    })
}

fn obj_key(ar: &ApiResource, o: &LenientObject) -> Option<ResourceKey> {
    Some(ResourceKey::new(
        &ar.group,
        &ar.kind,
        o.metadata.namespace.as_deref().unwrap_or(""),
        o.metadata.name.as_deref().filter(|n| !n.is_empty())?,
    ))
}

fn spawn_watch(
    target: &ClusterTarget,
    ar: ApiResource,
    namespace: Option<String>,
    index: usize,
    tx: tokio::sync::mpsc::UnboundedSender<Update>,
) -> tokio::task::JoinHandle<()> {
    let api: Api<LenientObject> = match &namespace {
        Some(ns) => Api::namespaced_with(target.client.clone(), ns, &ar),
        None => Api::all_with(target.client.clone(), &ar),
    };
    let client = target.client.clone();
    let seconds = target.watch_seconds;
    tokio::spawn(async move {
        // After any error the watch starts over with a fresh list, after a backoff: resuming
        // from a resourceVersion is only right against the same store, and a server that came
        // back on the same address (restarted, restored) may answer such a watch with
        // silence. The list ends in `InitDone`, which alone makes the kind connected again.
        let mut backoff = WATCH_BACKOFF_MIN;
        // When the kind was last known good: reconnecting counts from the first failure.
        let mut down_since: Option<SystemTime> = None;
        loop {
            // Listing: the kind stays as it was (connecting, or reconnecting) until the list
            // is complete; the writer then marks it connected.
            if tx.send(Update::Init(index)).is_err() {
                return;
            }
            let failure = match list_kind(&client, &api, &ar, index, &tx).await {
                Err(Failure::Closed) => return,
                Err(Failure::Text(text)) => text,
                Ok(version) => {
                    if tx.send(Update::InitDone(index)).is_err() {
                        return;
                    }
                    backoff = WATCH_BACKOFF_MIN;
                    down_since = None;
                    match watch_kind(&api, &ar, version, seconds, index, &tx).await {
                        Failure::Closed => return,
                        Failure::Text(text) => text,
                    }
                }
            };
            let forbidden = failure.starts_with("forbidden")
                || failure.contains("(403)")
                || failure.contains("(404)");
            let state = if forbidden {
                ConnectionState::Unreadable { reason: failure }
            } else {
                ConnectionState::Reconnecting {
                    since: *down_since.get_or_insert_with(SystemTime::now),
                    error: failure,
                }
            };
            if tx.send(Update::State(index, state)).is_err() || forbidden {
                return;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(WATCH_BACKOFF_MAX);
        }
    })
}

/// Why a kind's list or watch stopped.
enum Failure {
    /// The reader is gone: nothing more to do.
    Closed,
    /// The list or watch failed, in words.
    Text(String),
}

/// Lists one kind (or one namespace of it) page by page, each object sent as `InitApply`;
/// the resourceVersion the list was read at, for the watch that follows.
///
/// A page is decoded on a blocking thread while the next one is asked for: the server
/// serves page n+1 while kdrift reads page n (a list of one large kind was the two taking
/// turns, half of two cores idle). The next page's token comes from a scan of the page,
/// which builds no tree. One page is decoded at a time, in order.
async fn list_kind(
    client: &kube::Client,
    api: &Api<LenientObject>,
    ar: &ApiResource,
    index: usize,
    tx: &tokio::sync::mpsc::UnboundedSender<Update>,
) -> Result<String, Failure> {
    let request = kube::core::Request::new(api.resource_url());
    let mut lp = kube::api::ListParams::default().limit(LIST_PAGE);
    let mut decoding: Option<tokio::task::JoinHandle<Result<bool, String>>> = None;
    let finish = |h: Option<tokio::task::JoinHandle<Result<bool, String>>>| async move {
        match h {
            None => Ok(()),
            Some(h) => match h.await {
                Ok(Ok(true)) => Ok(()),
                Ok(Ok(false)) => Err(Failure::Closed),
                Ok(Err(why)) => Err(Failure::Text(why)),
                Err(e) => Err(Failure::Text(format!(
                    "reading a page of the list failed: {e}"
                ))),
            },
        }
    };
    let unreadable =
        |e: serde_json::Error| format!("the cluster sent a list kdrift cannot read: {e}");
    let version = loop {
        let fetched = async {
            let text = super::limit::retry_overloaded(|| async {
                let req = request.list(&lp).map_err(kube::Error::BuildRequest)?;
                client.request_text(req).await
            })
            .await
            .map_err(|e| Failure::Text(explain(&e)))?;
            let meta =
                super::cluster::page_meta(&text).map_err(|e| Failure::Text(unreadable(e)))?;
            Ok::<_, Failure>((text, meta))
        }
        .await;
        let (text, meta) = match fetched {
            Ok(page) => page,
            Err(failure) => {
                // The page still being read sends all it sends before this list is given
                // up: the next list's objects are never mixed with a late one of this list.
                if let Some(h) = decoding.take() {
                    let _ = h.await;
                }
                return Err(failure);
            }
        };
        finish(decoding.take()).await?;
        let (ar_page, tx_page) = (ar.clone(), tx.clone());
        decoding = Some(tokio::task::spawn_blocking(move || {
            let mut open = true;
            super::cluster::read_items(&text, |item| {
                if open {
                    if let Some(u) = applied(&ar_page, LenientObject::read(item), Some(index)) {
                        open = tx_page.send(u).is_ok();
                    }
                }
            })
            .map_err(unreadable)?;
            Ok(open)
        }));
        match meta.cont {
            Some(c) => {
                lp = kube::api::ListParams::default()
                    .limit(LIST_PAGE)
                    .continue_token(&c)
            }
            None => {
                break meta.resource_version.ok_or_else(|| {
                    Failure::Text(
                    "the list has no resourceVersion to watch from (does the kind support watch?)"
                        .to_string(),
                )
                })?
            }
        }
    };
    finish(decoding).await?;
    Ok(version)
}

/// How many objects a page of a list holds.
const LIST_PAGE: u32 = 500;

/// Watches one kind from `version`, sending each change, until the watch fails. A watch the
/// server ends (its timeout) is started again from the last version seen, as is one silent
/// for longer than its timeout and a margin (a connection dropped without a word).
async fn watch_kind(
    api: &Api<LenientObject>,
    ar: &ApiResource,
    mut version: String,
    seconds: u32,
    index: usize,
    tx: &tokio::sync::mpsc::UnboundedSender<Update>,
) -> Failure {
    let params = kube::api::WatchParams::default().timeout(seconds);
    let idle = Duration::from_secs(u64::from(seconds)) + WATCH_IDLE_MARGIN;
    loop {
        let stream = match api.watch(&params, &version).await {
            Ok(s) => s,
            Err(e) => return Failure::Text(explain(&e)),
        };
        let mut stream = Box::pin(stream);
        loop {
            let event = match tokio::time::timeout(idle, stream.next()).await {
                Ok(Some(event)) => event,
                // Ended, or silent too long: watch again from the last version.
                Ok(None) | Err(_) => break,
            };
            let now = SystemTime::now();
            let (update, seen) = match event {
                Ok(WatchEvent::Added(o) | WatchEvent::Modified(o)) => {
                    let seen = o.metadata.resource_version.clone();
                    (applied(ar, o, None), seen)
                }
                Ok(WatchEvent::Deleted(o)) => {
                    let seen = o.metadata.resource_version.clone();
                    (obj_key(ar, &o).map(Update::Delete), seen)
                }
                Ok(WatchEvent::Bookmark(b)) => (None, Some(b.metadata.resource_version)),
                // 410 Gone among them: the version is too old, so the kind is listed again.
                Ok(WatchEvent::Error(status)) => {
                    return Failure::Text(explain(&kube::Error::Api(status)))
                }
                Err(e) => return Failure::Text(explain(&e)),
            };
            match seen.filter(|v| !v.is_empty()) {
                Some(v) => version = v,
                None => {
                    return Failure::Text(
                        "a watch event has no resourceVersion to resume from".to_string(),
                    )
                }
            }
            let Some(update) = update else { continue };
            if tx
                .send(Update::State(
                    index,
                    ConnectionState::Connected { last_event: now },
                ))
                .is_err()
                || tx.send(update).is_err()
            {
                return Failure::Closed;
            }
        }
    }
}

/// How much longer than its timeout a watch may be silent before it counts as dropped.
const WATCH_IDLE_MARGIN: Duration = Duration::from_secs(5);

/// The first wait before a failed watch starts over, doubled after each failure up to the
/// most; a complete list resets it.
const WATCH_BACKOFF_MIN: Duration = Duration::from_millis(500);
const WATCH_BACKOFF_MAX: Duration = Duration::from_secs(8);

/// Starts watching `kinds` (all namespaces; per namespace of `namespaces` for kinds whose
/// cluster-wide list is forbidden, found by a first probe). Publishes views at most every
/// `coalesce`.
pub async fn start(
    target: &ClusterTarget,
    kinds: &[(ApiResource, bool)],
    namespaces: &BTreeSet<String>,
    coalesce: Duration,
) -> LiveWatch {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Update>();
    let mut states = Vec::new();
    let mut resources = Vec::new();
    let mut tasks = Vec::new();
    for (ar, namespaced) in kinds {
        // A cheap probe decides between one watch and one per namespace.
        let all: Api<kube::api::DynamicObject> = Api::all_with(target.client.clone(), ar);
        let forbidden_all = matches!(all.list_metadata(&kube::api::ListParams::default().limit(1)).await, Err(kube::Error::Api(ref s)) if s.code == 403);
        let scopes: Vec<Option<String>> = if forbidden_all && *namespaced {
            namespaces.iter().cloned().map(Some).collect()
        } else {
            vec![None]
        };
        for ns in scopes {
            let index = states.len();
            states.push(KindState {
                group: ar.group.clone(),
                kind: ar.kind.clone(),
                namespace: ns.clone().unwrap_or_default(),
                state: ConnectionState::Connecting,
            });
            resources.push(ar.clone());
            tasks.push(spawn_watch(target, ar.clone(), ns, index, tx.clone()));
        }
    }
    drop(tx);
    let (view_tx, view_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut writer = ViewWriter::new(states);
    // The first view, at once: every kind connecting (or, with no kind, the complete answer).
    let _ = view_tx.send(writer.view());
    tasks.push(tokio::spawn(async move {
        let mut tick = tokio::time::interval(coalesce.max(Duration::from_millis(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                u = rx.recv() => {
                    let Some(u) = u else { return };
                    writer.apply(u, SystemTime::now());
                }
                _ = tick.tick() => {
                    if let Some(view) = writer.publish() {
                        if view_tx.send(view).is_err() {
                            return;
                        }
                    }
                }
            }
        }
    }));
    LiveWatch {
        views: view_rx,
        tasks,
    }
}

#[cfg(test)]
mod writer_tests {
    use super::*;

    /// The field sets set aside while the metadata is checked come back whole, and metadata
    /// that does not decode (managedFields, or a field set's entry) still marks the object.
    #[test]
    fn lenient_objects_keep_their_field_sets_and_tell_broken_metadata() {
        let read = |v: serde_json::Value| -> LenientObject {
            serde_json::from_value(v).expect("any object reads leniently")
        };
        let whole = serde_json::json!({"metadata": {"name": "a", "resourceVersion": "7",
            "managedFields": [
                {"manager": "kubectl", "operation": "Apply", "fieldsType": "FieldsV1",
                 "fieldsV1": {"f:data": {"f:a": {}}}},
                {"manager": "other", "operation": "Update"},
                {"manager": "odd", "operation": "Update", "fieldsV1": [1, "x"]}
            ]}, "data": {"a": "1"}});
        let o = read(whole.clone());
        assert_eq!(o.raw, whole);
        assert!(o.broken.is_none(), "{:?}", o.broken);
        assert_eq!(o.metadata.resource_version.as_deref(), Some("7"));
        assert_eq!(o.metadata.managed_fields.as_ref().map(Vec::len), Some(3));
        for bad in [
            serde_json::json!({"metadata": {"name": "b", "managedFields": "garbage"}}),
            serde_json::json!({"metadata": {"name": "b", "managedFields": [{"manager": 3, "fieldsV1": {}}]}}),
            serde_json::json!({"metadata": {"name": "b", "labels": {"x": 1}}}),
        ] {
            let o = read(bad.clone());
            assert!(o.broken.is_some(), "{bad}");
            assert_eq!(o.raw, bad);
            assert_eq!(o.metadata.name.as_deref(), Some("b"));
        }
    }

    fn kind(kind: &str, namespace: &str) -> KindState {
        KindState {
            group: String::new(),
            kind: kind.into(),
            namespace: namespace.into(),
            state: ConnectionState::Connecting,
        }
    }

    fn cm(ns: &str, name: &str, v: &str) -> LiveObject {
        LiveObject::new(
            ResourceKey::new("", "ConfigMap", ns, name),
            "v1",
            serde_json::json!({"metadata": {"name": name, "namespace": ns}, "data": {"v": v}}),
        )
    }

    fn list(w: &mut ViewWriter, i: usize, objects: Vec<LiveObject>, at: SystemTime) {
        w.apply(Update::Init(i), at);
        for o in objects {
            w.apply(Update::InitApply(i, o), at);
        }
        w.apply(Update::InitDone(i), at);
    }

    type Objects = HashMap<ResourceKey, Arc<LiveObject>>;

    /// Publishes a view and brings a reader's objects to it; the view and its changed keys.
    fn read(w: &mut ViewWriter, objects: &mut Objects) -> Option<(LiveView, Vec<ResourceKey>)> {
        let v = w.publish()?;
        let keys = v.clone().apply_to(objects);
        Some((v, keys))
    }

    fn names(objects: &Objects) -> Vec<String> {
        let mut n: Vec<String> = objects
            .keys()
            .map(|k| format!("{}/{}", k.namespace, k.name))
            .collect();
        n.sort();
        n
    }

    #[test]
    fn a_list_is_published_whole_and_marks_its_kind_connected() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        let mut w = ViewWriter::new(vec![kind("ConfigMap", "")]);
        assert!(
            w.publish().is_none(),
            "nothing to publish before anything happened"
        );
        w.apply(Update::Init(0), t);
        w.apply(Update::InitApply(0, cm("a", "x", "1")), t);
        assert!(
            w.publish().is_none(),
            "a list under way is not published in part"
        );
        w.apply(Update::InitDone(0), t);
        let mut objects = Objects::new();
        let (v, _) = read(&mut w, &mut objects).expect("the completed list");
        assert!(v.whole, "the first view");
        assert_eq!(names(&objects), ["a/x"]);
        assert_eq!(
            v.kinds[0].state,
            ConnectionState::Connected { last_event: t }
        );
        assert_eq!(v.generation, 1);
        assert!(v.is_ready());
        assert!(w.publish().is_none(), "published once");
    }

    #[test]
    fn a_relist_removes_what_is_gone_from_its_own_kind_only() {
        let t = SystemTime::UNIX_EPOCH;
        // Two per-namespace watches of the same kind.
        let mut w = ViewWriter::new(vec![kind("ConfigMap", "a"), kind("ConfigMap", "b")]);
        list(&mut w, 0, vec![cm("a", "x", "1"), cm("a", "y", "1")], t);
        list(&mut w, 1, vec![cm("b", "z", "1")], t);
        let mut objects = Objects::new();
        read(&mut w, &mut objects);
        // a relists without y (deleted while the watch was down), and with x changed.
        list(&mut w, 0, vec![cm("a", "x", "2")], t);
        let (v, keys) = read(&mut w, &mut objects).unwrap();
        assert!(!v.whole);
        assert_eq!(names(&objects), ["a/x", "b/z"]);
        let changed: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(changed, ["x", "y"], "only what differs is recomputed");
    }

    #[test]
    fn events_apply_delete_and_mark_undecodable_objects() {
        let t = SystemTime::UNIX_EPOCH;
        let mut w = ViewWriter::new(vec![kind("ConfigMap", "")]);
        list(&mut w, 0, vec![cm("a", "x", "1")], t);
        let mut objects = Objects::new();
        read(&mut w, &mut objects);
        w.apply(Update::Apply(cm("a", "y", "1")), t);
        w.apply(
            Update::Undecodable(
                ResourceKey::new("", "ConfigMap", "a", "x"),
                "bad managedFields".into(),
            ),
            t,
        );
        let (v, _) = read(&mut w, &mut objects).unwrap();
        assert_eq!(names(&objects), ["a/y"]);
        assert_eq!(v.undecodable.len(), 1);
        w.apply(Update::Apply(cm("a", "x", "3")), t);
        w.apply(
            Update::Delete(ResourceKey::new("", "ConfigMap", "a", "y")),
            t,
        );
        let (v, _) = read(&mut w, &mut objects).unwrap();
        assert_eq!(names(&objects), ["a/x"]);
        assert!(
            v.undecodable.is_empty(),
            "a readable version replaces the unreadable one"
        );
        assert_eq!(v.generation, 3);
    }

    #[test]
    fn connected_heartbeats_do_not_republish_but_state_changes_do() {
        let t = SystemTime::UNIX_EPOCH;
        let mut w = ViewWriter::new(vec![kind("ConfigMap", "")]);
        list(&mut w, 0, vec![], t);
        w.publish();
        let later = t + Duration::from_secs(5);
        w.apply(
            Update::State(0, ConnectionState::Connected { last_event: later }),
            later,
        );
        assert!(w.publish().is_none());
        w.apply(
            Update::State(
                0,
                ConnectionState::Reconnecting {
                    since: later,
                    error: "reset".into(),
                },
            ),
            later,
        );
        let v = w.publish().unwrap();
        assert!(matches!(
            v.kinds[0].state,
            ConnectionState::Reconnecting { .. }
        ));
        assert!(!v.is_ready() || matches!(v.kinds[0].state, ConnectionState::Reconnecting { .. }));
    }

    /// Views carry changes, not whole maps: a reader that applies every view, in order,
    /// holds exactly what the writer holds, whatever happened between two views (an object
    /// changed and deleted in one interval, a relist, an event during a list).
    #[test]
    fn a_reader_applying_every_view_holds_what_the_writer_holds() {
        let t = SystemTime::UNIX_EPOCH;
        let mut w = ViewWriter::new(vec![kind("ConfigMap", "a"), kind("ConfigMap", "b")]);
        let mut objects = Objects::new();
        type Step<'a> = Box<dyn Fn(&mut ViewWriter) + 'a>;
        let steps: Vec<Step> = vec![
            Box::new(|w| list(w, 0, vec![cm("a", "x", "1"), cm("a", "y", "1")], t)),
            Box::new(|w| w.apply(Update::Apply(cm("a", "x", "2")), t)),
            Box::new(|w| {
                w.apply(Update::Apply(cm("a", "z", "1")), t);
                w.apply(
                    Update::Delete(ResourceKey::new("", "ConfigMap", "a", "z")),
                    t,
                );
            }),
            Box::new(|w| {
                w.apply(Update::Init(1), t);
                w.apply(Update::InitApply(1, cm("b", "q", "1")), t);
                w.apply(Update::Apply(cm("a", "y", "9")), t);
            }),
            Box::new(|w| w.apply(Update::InitDone(1), t)),
            Box::new(|w| list(w, 0, vec![cm("a", "y", "9")], t)),
            Box::new(|w| {
                w.apply(
                    Update::Undecodable(ResourceKey::new("", "ConfigMap", "b", "q"), "bad".into()),
                    t,
                )
            }),
        ];
        for (i, step) in steps.iter().enumerate() {
            step(&mut w);
            read(&mut w, &mut objects);
            assert_eq!(
                names(&objects),
                names(&w.objects),
                "after step {i}, the reader differs from the writer"
            );
            for (k, o) in &objects {
                assert_eq!(o.object, w.objects[k].object, "after step {i}: {k}");
            }
        }
        assert_eq!(names(&objects), ["a/y"]);
    }
}
