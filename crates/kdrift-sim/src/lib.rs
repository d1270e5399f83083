//! sim: an in-memory Kubernetes API server over real HTTP (or HTTPS with a bearer token),
//! good enough for kubectl 1.32 and kube-rs: discovery, CRUD, patches, server-side apply
//! with managed fields, watches, defaults and status, and injectable faults. It powers
//! `kdrift demo`, the integration tests and the benchmarks; it stands in for a cluster and is
//! never a reason for code that talks to clusters to behave differently.

// kdrift's vocabulary, under the names the modules below use (`crate::model` …).
use kdrift_core::{model, path, quantity, selector, timefmt, yaml};

pub mod fixture;

pub mod apply;
pub mod clock;
pub mod defaults;
pub mod fieldset;
pub mod lists;
pub mod openapi;
pub mod patch;
pub mod registry;
pub mod server;
pub mod store;
mod tls;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::Response;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use server::Body;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::{ApiError, Store};

/// Why sim could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// A `--load` file cannot be read or holds objects sim cannot store.
    #[error("cannot load {path}: {message}")]
    Load { path: String, message: String },
    /// The TLS certificate cannot be made.
    #[error("cannot set up TLS: {0}")]
    Tls(String),
    /// The kubeconfig cannot be written.
    #[error("cannot write kubeconfig {path}: {source}")]
    Kubeconfig {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// How to start sim.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// `127.0.0.1:0` picks a free port.
    pub listen: SocketAddr,
    pub tls: bool,
    /// Files of objects to preload (YAML or JSON, Lists, `kubectl get -o yaml` output),
    /// kept with their metadata and managedFields.
    pub load: Vec<PathBuf>,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: false,
            load: Vec::new(),
        }
    }
}

#[derive(Debug, Default)]
struct FaultState {
    refuse_until: Option<Instant>,
    error_rate: f64,
    error_code: u16,
    retry_after: Option<u64>,
    latency: Duration,
    forbidden_resources: HashSet<String>,
    forbidden_namespaces: HashSet<String>,
    rng: u64,
}

/// Faults to inject, switched from tests (`SimHandle::faults`) or over HTTP
/// (`POST /sim/faults`).
pub struct Faults {
    state: Mutex<FaultState>,
    drops: tokio::sync::watch::Sender<u64>,
}

impl Faults {
    fn new() -> Self {
        Faults {
            state: Mutex::new(FaultState {
                error_code: 503,
                rng: 0x2545_F491_4F6C_DD1D,
                ..FaultState::default()
            }),
            drops: tokio::sync::watch::channel(0).0,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FaultState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ends every open watch stream (clients see the connection close).
    pub fn drop_watches(&self) {
        self.drops.send_modify(|g| *g += 1);
    }

    pub(crate) fn watch_drops(&self) -> tokio::sync::watch::Receiver<u64> {
        self.drops.subscribe()
    }

    /// Refuses new connections (closes them at once) for a while; also drops watches.
    pub fn refuse_connections(&self, for_how_long: Duration) {
        self.lock().refuse_until = Some(Instant::now() + for_how_long);
        self.drop_watches();
    }

    fn is_refusing(&self) -> bool {
        self.lock().refuse_until.is_some_and(|t| Instant::now() < t)
    }

    /// Answers a fraction of requests with `code` (500, 503 or 429), with `Retry-After`.
    pub fn set_errors(&self, rate: f64, code: u16, retry_after: Option<u64>) {
        let mut s = self.lock();
        s.error_rate = rate.clamp(0.0, 1.0);
        s.error_code = code;
        s.retry_after = retry_after;
    }

    /// Delays every request.
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    /// Forbids (403) a resource (`secrets`, `deployments.apps`) everywhere.
    pub fn forbid_resource(&self, plural_group: &str) {
        self.lock()
            .forbidden_resources
            .insert(plural_group.to_string());
    }

    /// Forbids (403) everything in a namespace, and listing across namespaces.
    pub fn forbid_namespace(&self, ns: &str) {
        self.lock().forbidden_namespaces.insert(ns.to_string());
    }

    /// Back to normal (open watches are not restored).
    pub fn clear(&self) {
        let mut s = self.lock();
        let rng = s.rng;
        *s = FaultState {
            error_code: 503,
            rng,
            ..FaultState::default()
        };
    }

    pub(crate) fn forbidden(
        &self,
        rt: &registry::ResourceType,
        ns: Option<&str>,
    ) -> Option<&'static str> {
        let s = self.lock();
        if s.forbidden_resources.contains(&rt.plural_group()) {
            return Some("resource forbidden by a sim fault");
        }
        if rt.namespaced && !s.forbidden_namespaces.is_empty() {
            match ns {
                None => return Some("listing across namespaces forbidden by a sim fault"),
                Some(n) if s.forbidden_namespaces.contains(n) => {
                    return Some("namespace forbidden by a sim fault")
                }
                _ => {}
            }
        }
        None
    }

    /// Latency and random errors, before a request is served.
    pub(crate) async fn before_request(&self) -> Option<Response<Body>> {
        let (latency, fail) = {
            let mut s = self.lock();
            s.rng ^= s.rng << 13;
            s.rng ^= s.rng >> 7;
            s.rng ^= s.rng << 17;
            let roll = (s.rng % 10_000) as f64 / 10_000.0;
            let fail = (roll < s.error_rate).then_some((s.error_code, s.retry_after));
            (s.latency, fail)
        };
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let (code, retry_after) = fail?;
        let reason = match code {
            429 => "TooManyRequests",
            503 => "ServiceUnavailable",
            _ => "InternalError",
        };
        let status =
            ApiError::new(code, reason, format!("injected by a sim fault ({code})")).status();
        let mut r = Response::new(http_body_util::BodyExt::boxed(http_body_util::Full::new(
            bytes::Bytes::from(serde_json::to_vec(&status).unwrap_or_default()),
        )));
        *r.status_mut() =
            hyper::StatusCode::from_u16(code).unwrap_or(hyper::StatusCode::SERVICE_UNAVAILABLE);
        r.headers_mut().insert(
            "content-type",
            hyper::header::HeaderValue::from_static("application/json"),
        );
        if let Some(secs) = retry_after {
            if let Ok(v) = secs.to_string().parse() {
                r.headers_mut().insert("retry-after", v);
            }
        }
        Some(r)
    }
}

/// State shared by every connection.
pub struct Shared {
    pub store: Mutex<Store>,
    pub faults: Faults,
    pub token: Option<String>,
    /// Log every request to stderr (`KDRIFT_SIM_LOG=1`).
    pub log_requests: bool,
}

impl Shared {
    /// Applies a fault switch sent over HTTP:
    /// `{"dropWatches", "refuseForMs", "errorRate", "errorCode", "retryAfter", "latencyMs",
    /// "forbid": ["secrets", "namespace:team-1"], "compact", "clear"}`.
    pub fn apply_fault_spec(&self, v: &Value) -> Result<(), String> {
        let obj = v.as_object().ok_or("a fault switch is a JSON object")?;
        for k in obj.keys() {
            if ![
                "dropWatches",
                "refuseForMs",
                "errorRate",
                "errorCode",
                "retryAfter",
                "latencyMs",
                "forbid",
                "compact",
                "clear",
            ]
            .contains(&k.as_str())
            {
                return Err(format!("unknown fault {k:?}"));
            }
        }
        if v["clear"].as_bool() == Some(true) {
            self.faults.clear();
        }
        if let Some(ms) = v["latencyMs"].as_u64() {
            self.faults.set_latency(Duration::from_millis(ms));
        }
        if let Some(rate) = v["errorRate"].as_f64() {
            let code = v["errorCode"].as_u64().unwrap_or(503) as u16;
            self.faults.set_errors(rate, code, v["retryAfter"].as_u64());
        }
        for f in v["forbid"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            match f.strip_prefix("namespace:") {
                Some(ns) => self.faults.forbid_namespace(ns),
                None => self.faults.forbid_resource(f),
            }
        }
        if v["compact"].as_bool() == Some(true) {
            self.store
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .compact();
        }
        if v["dropWatches"].as_bool() == Some(true) {
            self.faults.drop_watches();
        }
        if let Some(ms) = v["refuseForMs"].as_u64() {
            self.faults.refuse_connections(Duration::from_millis(ms));
        }
        Ok(())
    }
}

/// A running sim.
pub struct SimHandle {
    pub addr: SocketAddr,
    pub url: String,
    /// A kubeconfig (YAML) that points kubectl and kube-rs at this server.
    pub kubeconfig: String,
    shared: Arc<Shared>,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl SimHandle {
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Runs `f` with the store locked (tests read and seed state this way).
    pub fn with_store<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        f(&mut self.shared.store.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Drops the event history: watches from older resourceVersions get 410.
    pub fn compact(&self) {
        self.with_store(Store::compact);
    }

    /// Writes the kubeconfig to a file.
    pub fn write_kubeconfig(&self, path: &Path) -> Result<(), SimError> {
        std::fs::write(path, &self.kubeconfig).map_err(|source| SimError::Kubeconfig {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Stops accepting connections and ends open ones.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        self.shared.faults.drop_watches();
        let _ = self.task.await;
    }

    /// The state, to start another server on the same data (a "restart").
    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }
}

/// Reads objects to preload.
fn load_files(store: &mut Store, files: &[PathBuf]) -> Result<(), SimError> {
    for path in files {
        let snap = kdrift_core::dump::load_as_written(path).map_err(|e| SimError::Load {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        // CRDs and namespaces first, so that what depends on them finds them.
        let mut objects: Vec<Value> = snap.objects.iter().map(|o| o.value()).collect();
        objects.sort_by_key(|o| match o["kind"].as_str() {
            Some("CustomResourceDefinition") => 0,
            Some("Namespace") => 1,
            _ => 2,
        });
        for o in objects {
            store.load(o).map_err(|e| SimError::Load {
                path: path.display().to_string(),
                message: e.message,
            })?;
        }
    }
    Ok(())
}

/// Starts sim on the current tokio runtime.
pub async fn start(opts: SimOptions) -> Result<SimHandle, SimError> {
    let mut store = Store::default();
    // The namespaces every cluster starts with.
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let _ = store.load(serde_json::json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}));
    }
    // The local APIServices the aggregator registers for every built-in group version.
    let mut local: Vec<(String, String)> = store
        .registry
        .types()
        .iter()
        .filter(|t| t.crd.is_none())
        .map(|t| (t.group.clone(), t.version.clone()))
        .collect();
    local.sort();
    local.dedup();
    for (group, version) in local {
        let _ = store.load(serde_json::json!({"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
            "metadata": {"name": format!("{version}.{group}"), "labels": {"kube-aggregator.kubernetes.io/automanaged": "onstart"}},
            "spec": {"group": group, "version": version, "groupPriorityMinimum": 17800, "versionPriority": 15},
            "status": {"conditions": [{"type": "Available", "status": "True", "reason": "Local",
                "message": "Local APIServices are always available"}]}}));
    }
    load_files(&mut store, &opts.load)?;
    let token = opts.tls.then(|| {
        format!(
            "sim-{:016x}",
            std::process::id() as u64 * 0x9E37_79B9 + store.resource_version()
        )
    });
    let log_requests = std::env::var("KDRIFT_SIM_LOG").is_ok_and(|v| !v.is_empty() && v != "0");
    let shared = Arc::new(Shared {
        store: Mutex::new(store),
        faults: Faults::new(),
        token,
        log_requests,
    });
    start_with(opts, shared).await
}

/// Starts a server on existing state (to restart sim without losing its objects).
pub async fn start_with(opts: SimOptions, shared: Arc<Shared>) -> Result<SimHandle, SimError> {
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|source| SimError::Bind {
            addr: opts.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| SimError::Bind {
        addr: opts.listen,
        source,
    })?;
    let (tls_acceptor, ca_pem) = if opts.tls {
        let (acceptor, ca) = tls::acceptor().map_err(SimError::Tls)?;
        (Some(acceptor), Some(ca))
    } else {
        (None, None)
    };
    let url = format!("{}://{}", if opts.tls { "https" } else { "http" }, addr);
    let kubeconfig = kubeconfig_yaml(&url, ca_pem.as_deref(), shared.token.as_deref());
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let task_shared = shared.clone();
    let task = tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = stop_rx.changed() => return,
                a = listener.accept() => a,
            };
            let Ok((stream, _)) = accepted else { continue };
            if task_shared.faults.is_refusing() {
                drop(stream);
                continue;
            }
            let _ = stream.set_nodelay(true);
            let conn_shared = task_shared.clone();
            let acceptor = tls_acceptor.clone();
            let mut conn_stop = stop_rx.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| server::handle(conn_shared.clone(), req));
                match acceptor {
                    Some(acceptor) => {
                        let Ok(tls_stream) = acceptor.accept(stream).await else {
                            return;
                        };
                        let conn = http1::Builder::new()
                            .serve_connection(TokioIo::new(tls_stream), service);
                        tokio::select! { _ = conn => {}, _ = conn_stop.changed() => {} }
                    }
                    None => {
                        let conn =
                            http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                        tokio::select! { _ = conn => {}, _ = conn_stop.changed() => {} }
                    }
                }
            });
        }
    });
    Ok(SimHandle {
        addr,
        url,
        kubeconfig,
        shared,
        stop: stop_tx,
        task,
    })
}

fn kubeconfig_yaml(url: &str, ca_pem: Option<&str>, token: Option<&str>) -> String {
    use base64::Engine;
    let ca = ca_pem
        .map(|pem| {
            format!(
                "\n    certificate-authority-data: {}",
                base64::engine::general_purpose::STANDARD.encode(pem)
            )
        })
        .unwrap_or_default();
    let user = token
        .map(|t| format!("\n    token: {t}"))
        .unwrap_or_else(|| " {}".to_string());
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: sim\n  cluster:\n    server: {url}{ca}\ncontexts:\n- name: sim\n  context:\n    cluster: sim\n    user: sim\n    namespace: default\ncurrent-context: sim\nusers:\n- name: sim\n  user:{user}\n"
    )
}
