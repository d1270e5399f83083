//! The vocabulary shared by every module: resource keys, statuses, source locations and the
//! objects the sources produce. Depends on nothing else in the crate and does no I/O.

use serde::Serialize;
use serde_json::Value;
use std::fmt;

/// Identity of a resource: `group/kind/namespace/name`. The API version is deliberately not
/// part of it (the same object read through `apps/v1` or `extensions/v1beta1` is one
/// resource). The core group is `""`; cluster-scoped resources have namespace `""`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ResourceKey {
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl ResourceKey {
    /// kubectl's way of naming it, as messages do: `Deployment/web -n shop`, or
    /// `Namespace/shop` for a cluster-scoped resource.
    pub fn short_name(&self) -> String {
        if self.namespace.is_empty() {
            format!("{}/{}", self.kind, self.name)
        } else {
            format!("{}/{} -n {}", self.kind, self.name, self.namespace)
        }
    }

    pub fn new(group: &str, kind: &str, namespace: &str, name: &str) -> Self {
        ResourceKey {
            group: group.to_string(),
            kind: kind.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }

    /// Parses `group/kind/namespace/name` (exactly four parts; group and namespace may be
    /// empty). Names cannot hold `/` in Kubernetes, so the split is unambiguous.
    pub fn parse(text: &str) -> Option<Self> {
        let parts: Vec<&str> = text.split('/').collect();
        match parts.as_slice() {
            [g, k, ns, n] if !k.is_empty() && !n.is_empty() => Some(Self::new(g, k, ns, n)),
            _ => None,
        }
    }
}

impl fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}/{}",
            self.group, self.kind, self.namespace, self.name
        )
    }
}

/// Splits an `apiVersion` into group and version (`apps/v1` → (`apps`, `v1`), `v1` → (`""`, `v1`)).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

/// The verdict for one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DriftStatus {
    Synced,
    OutOfSync,
    /// In Git, not in the cluster.
    Missing,
    /// In the cluster, tracked as belonging to this repository, not in Git.
    Extra,
    /// Cannot be read: forbidden, kind not served, cluster unreachable.
    Unknown,
    /// The Git manifest is broken: parse error, no name, duplicate.
    Invalid,
    /// The API server would refuse the manifest (its dry run in server mode): validation,
    /// admission, an immutable field. The reason is the server's words.
    Refused,
    /// A hook (`helm.sh/hook`, `argocd.argoproj.io/hook`): run by Helm or Argo CD around an
    /// install, upgrade or sync, often deleted afterwards; shown, never compared or synced.
    Hook,
}

impl DriftStatus {
    pub const ALL: [DriftStatus; 8] = [
        DriftStatus::Synced,
        DriftStatus::OutOfSync,
        DriftStatus::Missing,
        DriftStatus::Extra,
        DriftStatus::Unknown,
        DriftStatus::Invalid,
        DriftStatus::Refused,
        DriftStatus::Hook,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DriftStatus::Synced => "synced",
            DriftStatus::OutOfSync => "out-of-sync",
            DriftStatus::Missing => "missing",
            DriftStatus::Extra => "extra",
            DriftStatus::Unknown => "unknown",
            DriftStatus::Invalid => "invalid",
            DriftStatus::Refused => "refused",
            DriftStatus::Hook => "hook",
        }
    }

    /// Whether counts of this status show only when there is one: refused exists only in
    /// server mode, hooks only in repositories with Helm or Argo CD hooks.
    pub fn is_occasional(self) -> bool {
        matches!(self, DriftStatus::Refused | DriftStatus::Hook)
    }

    /// How bad a status is, for roll-ups (higher is worse): a group shows its worst.
    pub fn severity(self) -> u8 {
        match self {
            DriftStatus::Hook => 0,
            DriftStatus::Synced => 1,
            DriftStatus::Unknown => 2,
            DriftStatus::Extra => 3,
            DriftStatus::OutOfSync => 4,
            DriftStatus::Missing => 5,
            DriftStatus::Invalid => 6,
            DriftStatus::Refused => 7,
        }
    }

    pub fn is_synced(self) -> bool {
        self == DriftStatus::Synced
    }
}

impl fmt::Display for DriftStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The cluster's version and served API versions, as Helm templates see them
/// (`.Capabilities`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Capabilities {
    /// `v1.34.1`.
    pub kube_version: String,
    /// `apps/v1`, `v1`, and `group/version/Kind` for each served kind, sorted.
    pub api_versions: Vec<String>,
}

/// A GitOps app found in the repository: an Argo CD Application or a Flux Kustomization
/// whose source is the repository.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct App {
    pub name: String,
    /// `Application` (Argo CD) or `Kustomization` (Flux).
    pub kind: &'static str,
    /// The Application's own namespace (where Argo CD runs).
    pub namespace: String,
    /// Where the Application is declared.
    pub source: SourceLocation,
    /// The app whose rendering declared this one (app-of-apps), by index.
    pub parent: Option<u32>,
    /// The destination namespace (empty: the default namespace).
    pub destination_namespace: String,
    /// The destination cluster: a server URL or a cluster name.
    pub destination: String,
    /// The folders it renders, and how.
    pub parts: Vec<AppPart>,
    /// The Helm release a Flux HelmRelease installs (empty for other apps).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub release: String,
}

/// One source of an app in the repository.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppPart {
    /// The folder (`""`: the repository root).
    pub path: String,
    /// `helm`, `kustomize`, `directory`, or `unsupported`.
    pub renderer: &'static str,
}

/// Where something came from in the repository: a path relative to the repository root and,
/// when known, the 1-based line of the document.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct SourceLocation {
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

impl fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}", self.file, line),
            None => f.write_str(&self.file),
        }
    }
}

/// One object Git declares, with the namespace already defaulted (or cleared for
/// cluster-scoped kinds) and its origin.
#[derive(Debug, Clone)]
pub struct DesiredObject {
    pub key: ResourceKey,
    pub api_version: String,
    /// Packed like a live object (a tenth of a tree's memory); the report's entries share
    /// the text where the manifest is already normal.
    pub object: Packed,
    pub source: SourceLocation,
}

/// A Git manifest that could not become an object. The key is as much of the identity as
/// could be salvaged from the broken text; `None` when nothing could.
#[derive(Debug, Clone)]
pub struct InvalidManifest {
    pub key: Option<ResourceKey>,
    pub api_version: String,
    pub source: SourceLocation,
    pub message: String,
}

/// One object as the cluster (or a dump of it) returns it, kept packed (`Packed`): a
/// cluster's objects are most of kdrift's memory, and only a comparison reads one whole.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveObject {
    pub key: ResourceKey,
    pub api_version: String,
    pub object: Packed,
}

impl LiveObject {
    /// Packs `object` (its managedFields' field sets as text, `compact_managed_fields`).
    pub fn new(key: ResourceKey, api_version: impl Into<String>, mut object: Value) -> Self {
        compact_managed_fields(&mut object);
        LiveObject {
            key,
            api_version: api_version.into(),
            object: Packed::new(&object),
        }
    }

    /// Packs `object` exactly as it is.
    pub fn as_written(key: ResourceKey, api_version: impl Into<String>, object: &Value) -> Self {
        LiveObject {
            key,
            api_version: api_version.into(),
            object: Packed::new(object),
        }
    }

    /// The object as a tree (read from its packed text: each call costs a parse).
    pub fn value(&self) -> Value {
        self.object.value()
    }

    /// `metadata.resourceVersion`, `""` when absent.
    pub fn resource_version(&self) -> String {
        self.object.meta_str("resourceVersion")
    }
}

/// A JSON object kept as its compact text: a tenth of the memory of a `serde_json::Value`
/// tree (whose every map is a B-tree of 632-byte leaves and every key its own allocation),
/// read back whole with `value` when something compares or shows it. Two packed objects are
/// equal when their values are (the text of a `Value` is canonical: keys sorted, compact).
/// A copy shares the text.
#[derive(Clone, PartialEq, Eq)]
pub struct Packed(std::sync::Arc<str>);

impl Packed {
    pub fn new(value: &Value) -> Self {
        Packed(value.to_string().into())
    }

    /// A packed object again from the text `as_str` gave (a cache of packed objects read
    /// back); `None` for text that cannot be a JSON object's.
    pub fn from_packed_text(text: &str) -> Option<Self> {
        (text.starts_with('{') && text.ends_with('}')).then(|| Packed(text.into()))
    }

    /// Whether `other` is this very text (a copy of it), not only an equal one.
    pub fn same(&self, other: &Packed) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }

    /// The tree again (`Null` is unreachable: the text was written from a value).
    pub fn value(&self) -> Value {
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }

    /// The compact JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The object's apiVersion, kind and metadata only (labels, annotations, owners …), read
    /// without building the rest: enough to decide whether it is tracked, or whose it is.
    pub fn head(&self) -> Value {
        #[derive(serde::Deserialize)]
        struct Head {
            #[serde(default, rename = "apiVersion")]
            api_version: Option<Value>,
            #[serde(default)]
            kind: Option<Value>,
            #[serde(default)]
            metadata: Option<Value>,
        }
        let Ok(h) = serde_json::from_str::<Head>(&self.0) else {
            return Value::Null;
        };
        let mut m = serde_json::Map::new();
        for (k, v) in [
            ("apiVersion", h.api_version),
            ("kind", h.kind),
            ("metadata", h.metadata),
        ] {
            if let Some(v) = v {
                m.insert(k.to_string(), v);
            }
        }
        Value::Object(m)
    }

    /// `metadata.<field>` as a string (`""` when absent or not one), read without building
    /// the tree.
    pub fn meta_str(&self, field: &str) -> String {
        // The metadata is small: read it as a tree, the rest of the object is skipped.
        #[derive(serde::Deserialize)]
        struct Meta {
            #[serde(default)]
            metadata: Option<Value>,
        }
        serde_json::from_str::<Meta>(&self.0)
            .ok()
            .and_then(|m| m.metadata)
            .and_then(|m| m.get(field).and_then(Value::as_str).map(str::to_string))
            .unwrap_or_default()
    }
}

impl fmt::Debug for Packed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Keeps each `metadata.managedFields[].fieldsV1` of a live object as its JSON text instead of
/// a tree. A field set is a tree of small maps (a third of a typical live object, and most of
/// its maps) that only ownership reads, and only while comparing: as text it takes a tenth of
/// the memory, and `fields_v1` reads it back. Idempotent.
pub fn compact_managed_fields(object: &mut Value) {
    let Some(entries) = object
        .get_mut("metadata")
        .and_then(|m| m.get_mut("managedFields"))
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for e in entries {
        if let Some(fields) = e.get_mut("fieldsV1") {
            if fields.is_object() {
                *fields = Value::String(fields.to_string());
            }
        }
    }
}

/// A managedFields entry's field set, whether kept as a tree or as text
/// (`compact_managed_fields`); `None` when absent or unreadable.
pub fn fields_v1(entry: &Value) -> Option<std::borrow::Cow<'_, Value>> {
    match entry.get("fieldsV1")? {
        Value::String(text) => serde_json::from_str(text).ok().map(std::borrow::Cow::Owned),
        v => Some(std::borrow::Cow::Borrowed(v)),
    }
}

/// Reads `metadata.<field>` as a string, `""` when absent or not a string.
pub fn meta_str<'a>(object: &'a Value, field: &str) -> &'a str {
    object
        .get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// One Kubernetes Event about a resource, as kdrift shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterEvent {
    /// Seconds since the epoch of its last occurrence.
    pub time: i64,
    /// `Normal` or `Warning`.
    pub kind: String,
    pub reason: String,
    pub message: String,
    pub count: u32,
    /// Who reported it (controller or component).
    pub source: String,
}
