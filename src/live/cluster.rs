//! Reading a cluster the way kubectl does: kubeconfig (`--kubeconfig`, `KUBECONFIG` with
//! several files merged, `~/.kube/config`, exec plugins, tokens, client certificates) or the
//! in-cluster service account; discovery (aggregated, with a fallback to the legacy
//! endpoints); and one consistent list per kind, across namespaces, falling back to one list
//! per namespace where cluster-wide listing is forbidden. Errors name the context and the
//! server and say what to check. Nothing here knows which cluster it talks to.

use crate::model::{LiveObject, ResourceKey};
use futures::StreamExt;
use kube::api::{Api, DynamicObject, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::{ApiResource, Discovery, Scope};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// Why a cluster cannot be used at all.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No kubeconfig and not in a cluster.
    #[error("no cluster configured: {0} (point kdrift at one with --kubeconfig/--context, or read a dump with --live-file)")]
    NoConfig(String),
    /// The kubeconfig cannot be read or has no such context.
    #[error("kubeconfig: {0}")]
    Kubeconfig(String),
    /// The cluster answered badly or not at all.
    #[error("context {context:?} (server {server}): {message}")]
    Cluster {
        context: String,
        server: String,
        message: String,
    },
}

/// A connection to one cluster.
#[derive(Clone)]
pub struct ClusterTarget {
    pub context: String,
    pub server: String,
    /// The namespace of the context (or `default`).
    pub namespace: String,
    pub client: kube::Client,
    /// How long a watch asks the server to keep it open: shorter than the deadline for an
    /// answer, so that an idle watch ends by the server's choice, not as a timeout.
    pub watch_seconds: u32,
}

impl ClusterTarget {
    fn error(&self, e: &kube::Error) -> ClusterError {
        ClusterError::Cluster {
            context: self.context.clone(),
            server: self.server.clone(),
            message: explain(e),
        }
    }
}

/// A kube error in words an operator can act on.
pub fn explain(e: &kube::Error) -> String {
    crate::text::visible_line(&explain_raw(e)).into_owned()
}

/// An exec plugin's failure, wherever it sits in an error's chain, in kdrift's words:
/// kube-rs's own words for it print the plugin's environment, secrets included.
fn exec_failure(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(text) = err
            .downcast_ref::<kube::client::AuthError>()
            .and_then(super::exec::explain_auth)
        {
            return Some(text);
        }
        if let Some(kube::Error::Auth(a)) = err.downcast_ref::<kube::Error>() {
            if let Some(text) = super::exec::explain_auth(a) {
                return Some(text);
            }
        }
        cur = err.source();
    }
    None
}

/// An error's chain in words, an exec plugin's failure told without its environment.
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    exec_failure(e).unwrap_or_else(|| error_chain(e))
}

fn explain_raw(e: &kube::Error) -> String {
    if let Some(text) = exec_failure(e) {
        return text;
    }
    match e {
        kube::Error::Api(s) if s.code == 401 => format!("unauthorized (401): {}; check the credentials of the context (token, client certificate or exec plugin)", s.message),
        kube::Error::Api(s) if s.code == 403 => format!("forbidden (403): {}", s.message),
        kube::Error::Api(s) => format!("{} ({}): {}", s.reason, s.code, s.message),
        other => {
            let text = format!("{other}");
            let chain = error_chain(other);
            if chain.contains("certificate") || chain.contains("tls") || chain.contains("TLS") {
                format!("TLS handshake failed: {chain}; check certificate-authority(-data) and the server name")
            } else if chain.contains("onnection refused") || chain.contains("dns error") || chain.contains("timed out") || chain.contains("Connect") {
                format!("unreachable: {chain}; check that the server address is right and the cluster is up")
            } else if chain.is_empty() {
                text
            } else {
                chain
            }
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let t = s.to_string();
        if !parts.contains(&t) {
            parts.push(t);
        }
        cur = s.source();
    }
    parts.join(": ")
}

/// Connects like kubectl: an explicit kubeconfig, else `KUBECONFIG` (merged), else
/// `~/.kube/config`, else the in-cluster service account. Requests have no deadline but the
/// watcher's; see `connect_with`.
pub async fn connect(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> Result<ClusterTarget, ClusterError> {
    connect_with(kubeconfig, context, None).await
}

/// Like `connect`, with a deadline for connecting and for each answer (`None`: none), an
/// exec credential plugin run with the same deadline, and no retries behind kdrift's back
/// (kube-rs would otherwise honour any `Retry-After`, minutes of silence): a 429 or 503 is an
/// answer that kdrift shows, and the watchers retry with backoff.
pub async fn connect_with(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
    request_timeout: Option<std::time::Duration>,
) -> Result<ClusterTarget, ClusterError> {
    let from_file = match kubeconfig {
        Some(p) => Some(
            Kubeconfig::read_from(p)
                .map_err(|e| ClusterError::Kubeconfig(format!("{}: {e}", p.display())))?,
        ),
        None => match Kubeconfig::read() {
            Ok(kc) => Some(kc),
            Err(e) => {
                let any_file = std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty())
                    || super::kubeconfig::files(None).iter().any(|f| f.exists());
                if any_file {
                    return Err(ClusterError::Kubeconfig(e.to_string()));
                }
                None
            }
        },
    };
    let (config, context_name) = match from_file {
        Some(kc) => {
            let name = context
                .map(str::to_string)
                .or_else(|| kc.current_context.clone())
                .unwrap_or_default();
            if !name.is_empty() && !kc.contexts.iter().any(|c| c.name == name) {
                let known: Vec<&str> = kc.contexts.iter().map(|c| c.name.as_str()).collect();
                return Err(ClusterError::Kubeconfig(format!(
                    "no context {name:?} (contexts: {})",
                    known.join(", ")
                )));
            }
            let opts = KubeConfigOptions {
                context: context.map(str::to_string),
                ..Default::default()
            };
            let config = kube::Config::from_custom_kubeconfig(kc, &opts)
                .await
                .map_err(|e| {
                    ClusterError::Kubeconfig(format!("context {name:?}: {}", describe(&e)))
                })?;
            (config, name)
        }
        None => {
            let config = kube::Config::incluster().map_err(|e| {
                ClusterError::NoConfig(format!(
                    "no kubeconfig found and not running in a cluster ({e})"
                ))
            })?;
            (config, "in-cluster".to_string())
        }
    };
    let server = config
        .cluster_url
        .to_string()
        .trim_end_matches('/')
        .to_string();
    let namespace = config.default_namespace.clone();
    let mut config = config;
    config.default_retry = false;
    if let Some(t) = request_timeout {
        config.connect_timeout = Some(t);
        config.read_timeout = Some(t);
        config.write_timeout = Some(t);
        config.reset_reader_on_write = true;
        // A login that asks the user gets more time than one answer of the server.
        super::exec::wrap(&mut config, t * 2);
    }
    if config.cluster_url.scheme_str() == Some("http") && config.root_cert.is_none() {
        // No TLS is ever negotiated with a plain-HTTP server (`kubectl proxy`, sim): an
        // empty trust store spares loading every certificate of the system's store, which
        // is otherwise a tenth of a short `kdrift diff`.
        config.root_cert = Some(Vec::new());
    }
    let client = kube::Client::try_from(config).map_err(|e| ClusterError::Cluster {
        context: context_name.clone(),
        server: server.clone(),
        message: crate::text::visible_line(&describe(&e)).into_owned(),
    })?;
    Ok(ClusterTarget {
        context: context_name,
        server,
        namespace,
        client,
        watch_seconds: request_timeout.map_or(290, |t| {
            (t.as_secs().saturating_sub(2)).clamp(1, 290) as u32
        }),
    })
}

/// What the cluster serves, by group and kind.
#[derive(Clone)]
pub struct Served {
    kinds: HashMap<(String, String), (ApiResource, bool)>,
    /// Every served `group/version` and `group/version/Kind`, sorted (Helm's
    /// `.Capabilities.APIVersions`).
    api_versions: Vec<String>,
    /// The server's version (`v1.34.5`, a vendor's suffix such as `-eks-…` cut off, as
    /// charts' `kubeVersion` constraints expect); empty when it did not say.
    kube_version: String,
}

impl Served {
    /// The cluster as Helm templates see it (`.Capabilities`).
    pub fn capabilities(&self) -> crate::model::Capabilities {
        crate::model::Capabilities {
            kube_version: self.kube_version.clone(),
            api_versions: self.api_versions.clone(),
        }
    }

    /// The resource and whether it is namespaced.
    pub fn get(&self, group: &str, kind: &str) -> Option<&(ApiResource, bool)> {
        self.kinds.get(&(group.to_string(), kind.to_string()))
    }

    pub fn scopes(&self) -> impl Iterator<Item = (&str, &str, bool)> {
        self.kinds
            .iter()
            .map(|((g, k), (_, ns))| (g.as_str(), k.as_str(), *ns))
    }
}

/// How long a cached discovery is used, as kubectl's disk cache (6 hours). It only lets the
/// lists start before discovery answers: the caller asks discovery beside them
/// (`discover_fresh`) and lists again what it guessed wrong, so the cache saves a round trip
/// and never decides a verdict.
pub const DISCOVERY_TTL: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

#[derive(serde::Serialize, serde::Deserialize)]
struct CachedDiscovery {
    server: String,
    /// Seconds since the epoch when it was discovered.
    at: u64,
    kinds: Vec<(ApiResource, bool)>,
    #[serde(default)]
    api_versions: Vec<String>,
    #[serde(default)]
    kube_version: String,
}

/// Where the discovery of `server` is cached under `cache_dir`.
pub fn discovery_file(cache_dir: &Path, server: &str) -> std::path::PathBuf {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(server.as_bytes());
    let name: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    cache_dir.join("discovery").join(format!("{name}.json"))
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A cached discovery of this server younger than `DISCOVERY_TTL`, if there is one.
pub fn cached_discovery(cache_dir: &Path, server: &str) -> Option<Served> {
    let file = discovery_file(cache_dir, server);
    let meta = std::fs::metadata(&file).ok()?;
    if meta.len() > 8 << 20 {
        return None;
    }
    let cached: CachedDiscovery = serde_json::from_slice(&std::fs::read(&file).ok()?).ok()?;
    let age = now_secs().checked_sub(cached.at)?;
    if cached.server != server || age > DISCOVERY_TTL.as_secs() || cached.kinds.is_empty() {
        return None;
    }
    let kinds = cached
        .kinds
        .into_iter()
        .map(|(ar, ns)| ((ar.group.clone(), ar.kind.clone()), (ar, ns)))
        .collect();
    Some(Served {
        kinds,
        api_versions: cached.api_versions,
        kube_version: cached.kube_version,
    })
}

/// Writes a discovery for the next run (best effort: a cache that cannot be written only
/// costs the round trips next time).
fn write_cached(cache_dir: &Path, server: &str, served: &Served) {
    let mut kinds: Vec<(ApiResource, bool)> = served.kinds.values().cloned().collect();
    kinds.sort_by(|a, b| (&a.0.group, &a.0.kind).cmp(&(&b.0.group, &b.0.kind)));
    let doc = CachedDiscovery {
        server: server.to_string(),
        at: now_secs(),
        kinds,
        api_versions: served.api_versions.clone(),
        kube_version: served.kube_version.clone(),
    };
    if let Ok(bytes) = serde_json::to_vec(&doc) {
        crate::cachefile::write(&discovery_file(cache_dir, server), &bytes);
    }
}

/// Discovery asked of the server, then cached in `cache_dir` for the next run.
pub async fn discover_fresh(
    target: &ClusterTarget,
    cache_dir: &Path,
) -> Result<Served, ClusterError> {
    let served = discover(target).await?;
    write_cached(cache_dir, &target.server, &served);
    Ok(served)
}

/// Discovery: aggregated where served, else (or when it comes back empty) the legacy endpoints.
pub async fn discover(target: &ClusterTarget) -> Result<Served, ClusterError> {
    // A 429 (the server's flow control) is asked again after the wait it names. The version
    // is asked beside (a server that does not say has an empty one).
    let version = {
        let client = target.client.clone();
        tokio::spawn(async move { client.apiserver_version().await })
    };
    let aggregated =
        super::limit::retry_overloaded(|| Discovery::new(target.client.clone()).run_aggregated())
            .await;
    let discovery = match aggregated {
        Ok(d)
            if d.groups()
                .any(|g| g.name().is_empty() || !g.recommended_resources().is_empty())
                && d.groups().count() > 1 =>
        {
            d
        }
        _ => super::limit::retry_overloaded(|| Discovery::new(target.client.clone()).run())
            .await
            .map_err(|e| target.error(&e))?,
    };
    let mut kinds = HashMap::new();
    let mut api_versions = std::collections::BTreeSet::new();
    for group in discovery.groups() {
        for version in group.versions() {
            let gv = if group.name().is_empty() {
                version.to_string()
            } else {
                format!("{}/{version}", group.name())
            };
            for (ar, _) in group.versioned_resources(version) {
                if !ar.plural.contains('/') {
                    api_versions.insert(format!("{gv}/{}", ar.kind));
                }
            }
            api_versions.insert(gv);
        }
        // The group's preferred version first; a kind served only at another version (a
        // v1alpha1-only kind of a group that prefers v1) at its most stable one. Identity
        // is group and kind, whatever the version.
        for (ar, caps) in group
            .recommended_resources()
            .into_iter()
            .chain(group.resources_by_stability())
        {
            kinds
                .entry((ar.group.clone(), ar.kind.clone()))
                .or_insert_with(|| (ar.clone(), caps.scope == Scope::Namespaced));
        }
    }
    let kube_version = match version.await {
        Ok(Ok(info)) => kube_version(&info.git_version, &info.major, &info.minor),
        _ => String::new(),
    };
    Ok(Served {
        kinds,
        api_versions: api_versions.into_iter().collect(),
        kube_version,
    })
}

/// The server's version for charts: its `gitVersion`'s release (`semver_core`), else (a
/// server built without version stamps says `v0.0.0-master+$Format:%H$`) `v<major>.<minor>.0`
/// (GKE's minor `27+` read as 27).
pub fn kube_version(git_version: &str, major: &str, minor: &str) -> String {
    let core = semver_core(git_version);
    if !core.is_empty() && !core.starts_with("v0.") {
        return core;
    }
    let digits = |s: &str| -> String { s.chars().take_while(char::is_ascii_digit).collect() };
    let (major, minor) = (digits(major), digits(minor));
    if major.is_empty() || minor.is_empty() {
        core
    } else {
        format!("v{major}.{minor}.0")
    }
}

/// `v1.34.5` of `v1.34.5-eks-1234+abc` (a vendor's pre-release or build suffix fails charts'
/// `kubeVersion: ">=1.20.0"` constraints, which mean the release); empty unless it starts as
/// a version.
pub fn semver_core(git_version: &str) -> String {
    let v = git_version.trim().trim_start_matches('v');
    let core: String = v
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let core = core.trim_end_matches('.');
    if core.split('.').count() >= 2 && core.split('.').all(|p| !p.is_empty()) {
        format!("v{core}")
    } else {
        String::new()
    }
}

/// What one listing produced.
#[derive(Default)]
pub struct Listing {
    pub objects: Vec<LiveObject>,
    /// (group, kind, namespace or "" for all) → why it could not be read.
    pub unreadable: HashMap<(String, String, String), String>,
}

/// A listed or watched object as a `LiveObject` (list items carry no apiVersion and kind:
/// they are set from the resource); `None` for an object without a name.
pub fn to_live(ar: &ApiResource, mut v: Value) -> Option<LiveObject> {
    if let Some(m) = v.as_object_mut() {
        m.insert("apiVersion".into(), Value::String(ar.api_version.clone()));
        m.insert("kind".into(), Value::String(ar.kind.clone()));
    }
    let name = crate::model::meta_str(&v, "name").to_string();
    if name.is_empty() {
        return None;
    }
    let key = ResourceKey::new(
        &ar.group,
        &ar.kind,
        crate::model::meta_str(&v, "namespace"),
        &name,
    );
    Some(LiveObject::new(key, ar.api_version.clone(), v))
}

/// Lists every object of one resource URL, page by page, as raw JSON (no typed decoding).
/// Each item is packed as it is read: a page's trees are never in memory all at once.
async fn list_all(
    api: Api<DynamicObject>,
    ar: &ApiResource,
) -> Result<Vec<LiveObject>, kube::Error> {
    let client: kube::Client = api.clone().into_client();
    let request = kube::core::Request::new(api.resource_url());
    let mut out = Vec::new();
    let mut lp = ListParams::default().limit(500);
    loop {
        // A 429 (the server's flow control) is asked again after the wait it names.
        let text = super::limit::retry_overloaded(|| async {
            let req = request.list(&lp).map_err(kube::Error::BuildRequest)?;
            client.request_text(req).await
        })
        .await?;
        let cont = read_page(&text, ar, &mut out).map_err(kube::Error::SerdeError)?;
        match cont {
            Some(c) => lp = ListParams::default().limit(500).continue_token(&c),
            None => break,
        }
    }
    Ok(out)
}

/// Reads one page of a list into `out`, item by item; its continue token, when more pages
/// follow.
fn read_page(
    text: &str,
    ar: &ApiResource,
    out: &mut Vec<LiveObject>,
) -> Result<Option<String>, serde_json::Error> {
    Ok(read_items(text, |item| out.extend(to_live(ar, item)))?.cont)
}

/// What a page of a list says of itself: its continue token (when more pages follow) and
/// the resourceVersion the list was read at.
#[derive(Debug, Default, serde::Deserialize)]
pub(super) struct PageMeta {
    #[serde(rename = "continue", default)]
    pub cont: Option<String>,
    #[serde(rename = "resourceVersion", default)]
    pub resource_version: Option<String>,
}

impl PageMeta {
    fn cleaned(self) -> PageMeta {
        PageMeta {
            cont: self.cont.filter(|c| !c.is_empty()),
            resource_version: self.resource_version.filter(|v| !v.is_empty()),
        }
    }
}

/// A page's own metadata, its items skipped unread (a scan, no tree is built): enough to ask
/// for the next page while this one is decoded.
pub(super) fn page_meta(text: &str) -> Result<PageMeta, serde_json::Error> {
    #[derive(serde::Deserialize)]
    struct Page {
        #[serde(default)]
        metadata: PageMeta,
    }
    Ok(serde_json::from_str::<Page>(text)?.metadata.cleaned())
}

/// Reads one page of a list item by item, handing each to `each` as it is read (a page's
/// trees are never in memory all at once); the page's metadata.
pub(super) fn read_items(
    text: &str,
    mut each: impl FnMut(Value),
) -> Result<PageMeta, serde_json::Error> {
    use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
    use std::fmt;

    struct Page<'a, F>(&'a mut F);
    struct Items<'a, F>(&'a mut F);

    impl<'de, F: FnMut(Value)> DeserializeSeed<'de> for Page<'_, F> {
        type Value = PageMeta;
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_map(self)
        }
    }
    impl<'de, F: FnMut(Value)> Visitor<'de> for Page<'_, F> {
        type Value = PageMeta;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut meta = PageMeta::default();
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                match key.as_ref() {
                    "items" => map.next_value_seed(Items(&mut *self.0))?,
                    "metadata" => meta = map.next_value::<PageMeta>()?,
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(meta.cleaned())
        }
    }
    impl<'de, F: FnMut(Value)> DeserializeSeed<'de> for Items<'_, F> {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de, F: FnMut(Value)> Visitor<'de> for Items<'_, F> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of objects")
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(()) // `items: null`: an empty list
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while let Some(item) = seq.next_element::<Value>()? {
                (self.0)(item);
            }
            Ok(())
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let meta = Page(&mut each).deserialize(&mut de)?;
    de.end()?;
    Ok(meta)
}

/// Lists every kind in `kinds` (across namespaces; per namespace in `namespaces` where that
/// is forbidden), `concurrency` kinds at a time.
pub async fn list_kinds(
    target: &ClusterTarget,
    kinds: &[(ApiResource, bool)],
    namespaces: &BTreeSet<String>,
    concurrency: usize,
) -> Result<Listing, ClusterError> {
    type KindResult = (ApiResource, Vec<LiveObject>, Vec<(String, kube::Error)>);
    let results: Vec<KindResult> = futures::stream::iter(kinds.iter().cloned())
        .map(|(ar, namespaced)| {
            let client = target.client.clone();
            let namespaces = namespaces.clone();
            async move {
                let all: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
                match list_all(all, &ar).await {
                    Ok(objs) => (ar, objs, Vec::new()),
                    Err(kube::Error::Api(s))
                        if s.code == 403 && namespaced && !namespaces.is_empty() =>
                    {
                        // Per namespace, where the cluster-wide list is forbidden.
                        let mut objs = Vec::new();
                        let mut errors = Vec::new();
                        for ns in &namespaces {
                            let api: Api<DynamicObject> =
                                Api::namespaced_with(client.clone(), ns, &ar);
                            match list_all(api, &ar).await {
                                Ok(o) => objs.extend(o),
                                Err(e) => errors.push((ns.clone(), e)),
                            }
                        }
                        (ar, objs, errors)
                    }
                    Err(e) => (ar, Vec::new(), vec![(String::new(), e)]),
                }
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut listing = Listing::default();
    for (ar, objs, errors) in results {
        listing.objects.extend(objs);
        for (ns, e) in errors {
            match e {
                kube::Error::Api(s) if s.code == 403 || s.code == 404 => {
                    let why = if s.code == 403 {
                        format!("forbidden: {}", s.message)
                    } else {
                        format!("kind not served: {}", s.message)
                    };
                    listing
                        .unreadable
                        .insert((ar.group.clone(), ar.kind.clone(), ns), why);
                }
                other => return Err(target.error(&other)),
            }
        }
    }
    Ok(listing)
}

#[cfg(test)]
mod tests {
    use super::{kube_version, page_meta, read_items, read_page, semver_core};
    use kube::core::{ApiResource, GroupVersionKind};

    #[test]
    fn a_page_is_read_item_by_item_with_its_continue_token() {
        let ar = ApiResource::from_gvk(&GroupVersionKind::gvk("apps", "v1", "Deployment"));
        let cases = [
            // (page, names read, continue token)
            (
                r#"{"kind":"DeploymentList","items":[{"metadata":{"name":"a","namespace":"x"}},
                   {"metadata":{"namespace":"x"}},{"metadata":{"name":"b"},"spec":{"replicas":2}}],
                   "metadata":{"continue":"next","resourceVersion":"7"}}"#,
                vec!["a", "b"],
                Some("next"),
            ),
            (r#"{"metadata":{"continue":""},"items":[]}"#, vec![], None),
            (
                r#"{"apiVersion":"v1","items":null,"metadata":{}}"#,
                vec![],
                None,
            ),
            (r#"{"kind":"DeploymentList"}"#, vec![], None),
        ];
        for (page, names, cont) in cases {
            // The scan that asks for the next page finds what the full read finds.
            let scanned = page_meta(page).unwrap();
            let read = read_items(page, |_| {}).unwrap();
            assert_eq!(scanned.cont, read.cont, "{page}");
            assert_eq!(scanned.resource_version, read.resource_version, "{page}");
            assert_eq!(scanned.cont.as_deref(), cont, "{page}");
            let mut out = Vec::new();
            let got = read_page(page, &ar, &mut out).unwrap();
            assert_eq!(got.as_deref(), cont, "{page}");
            let read: Vec<&str> = out.iter().map(|o| o.key.name.as_str()).collect();
            assert_eq!(read, names, "{page}");
            for o in &out {
                let v = o.object.value();
                assert_eq!(v["apiVersion"], "apps/v1");
                assert_eq!(v["kind"], "Deployment");
            }
        }
        assert_eq!(
            out_of(
                r#"{"items":[{"metadata":{"name":"b"}, "spec":{"replicas":2}}]}"#,
                &ar
            )["spec"]["replicas"],
            2
        );
        assert_eq!(
            page_meta(r#"{"metadata":{"resourceVersion":"7","continue":"c"},"items":[1]}"#)
                .unwrap()
                .resource_version
                .as_deref(),
            Some("7")
        );
        for broken in [
            "",
            "{",
            r#"{"items":[{"metadata":}]}"#,
            "[]",
            r#"{"items":{}} x"#,
        ] {
            assert!(
                read_page(broken, &ar, &mut Vec::new()).is_err(),
                "{broken:?}"
            );
        }
    }

    fn out_of(page: &str, ar: &ApiResource) -> serde_json::Value {
        let mut out = Vec::new();
        read_page(page, ar, &mut out).unwrap();
        out[0].object.value()
    }

    #[test]
    fn server_versions_lose_vendor_suffixes_for_charts() {
        for (given, want) in [
            ("v1.34.5", "v1.34.5"),
            ("v1.28.15-eks-7f5a1b2", "v1.28.15"),
            ("v1.30.2+k3s1", "v1.30.2"),
            ("v1.32.0-kdrift-sim", "v1.32.0"),
            ("1.29", "v1.29"),
            ("", ""),
            ("vX", ""),
        ] {
            assert_eq!(semver_core(given), want, "{given}");
        }
        assert_eq!(kube_version("v1.30.2+k3s1", "1", "30"), "v1.30.2");
        assert_eq!(
            kube_version("v0.0.0-master+$Format:%H$", "1", "34"),
            "v1.34.0"
        );
        assert_eq!(kube_version("", "1", "27+"), "v1.27.0");
        assert_eq!(kube_version("", "", ""), "");
    }
}
