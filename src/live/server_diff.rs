//! Server mode: a server-side apply dry run of each Git manifest with kdrift's field manager
//! (forced, so that conflicts do not hide the result; nothing is written), with bounded
//! concurrency and a cache keyed by (manifest hash, live resourceVersion), so that an
//! unchanged pair is never asked twice. The comparison of the results with the live objects
//! is pure and lives in `drift::compare_server`.

use super::cluster::{explain, ClusterTarget, Served};
use super::limit;
use crate::model::{DesiredObject, Packed, ResourceKey};
use futures::StreamExt;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::Value;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

/// Dry-run results by (manifest hash, live resourceVersion). A new commit changes the hash, a
/// live change the resourceVersion: either asks again. One result per resource (the newest),
/// packed: an hour of changes does not grow it, and 10,000 results are not 10,000 trees.
#[derive(Default)]
pub struct DryRunCache {
    entries: Mutex<HashMap<ResourceKey, (CacheKey, Packed)>>,
}

/// (manifest hash, live resourceVersion).
type CacheKey = (u64, String);

impl DryRunCache {
    fn key(d: &DesiredObject, live_rv: &str) -> CacheKey {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        d.key.hash(&mut h);
        d.object.as_str().hash(&mut h);
        (h.finish(), live_rv.to_string())
    }

    fn get(&self, d: &DesiredObject, key: &CacheKey) -> Option<Value> {
        let entries = self.entries.lock().ok()?;
        let (k, v) = entries.get(&d.key)?;
        (k == key).then(|| v.value())
    }

    /// Forgets the resources not in `keep` (gone from Git).
    pub fn retain(&self, keep: impl Fn(&ResourceKey) -> bool) {
        if let Ok(mut e) = self.entries.lock() {
            e.retain(|k, _| keep(k));
        }
    }

    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why a dry run gave no object.
#[derive(Debug, Clone, PartialEq)]
pub struct DryRunError {
    /// The server refuses the manifest itself (validation, admission, an immutable field):
    /// applying it would fail the same way. Otherwise the dry run could not be made
    /// (forbidden to the user, the namespace not there yet, a timeout, the server down).
    pub refused: bool,
    /// The server's words.
    pub message: String,
}

/// Whether an API error refuses the manifest itself: 400 (bad request: unknown fields,
/// wrong types), 422 (invalid: validation, immutable fields), or 403 from an admission
/// webhook or policy (not RBAC: a user who may not write has not been told anything about
/// the manifest).
fn refuses(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => match s.code {
            400 | 422 => true,
            403 => {
                let m = s.message.to_ascii_lowercase();
                m.contains("admission webhook")
                    || m.contains("denied the request")
                    || m.contains("validatingadmissionpolicy")
            }
            _ => false,
        },
        _ => false,
    }
}

/// Runs the dry runs; each result is the object as the server would store it, or why not.
/// `desired` pairs each manifest with the resourceVersion of its live object. At most
/// `concurrency` are in flight; the server's 429s halve that and are asked again after its
/// `retryAfterSeconds` (`limit::Limiter`).
pub async fn dry_run_all(
    target: &ClusterTarget,
    served: &Served,
    desired: &[(&DesiredObject, String)],
    field_manager: &str,
    concurrency: usize,
    cache: &DryRunCache,
) -> HashMap<ResourceKey, Result<Value, DryRunError>> {
    let limiter = limit::Limiter::new(concurrency);
    let limiter = &limiter;
    futures::stream::iter(desired.iter())
        .map(|(d, live_rv)| {
            let client = target.client.clone();
            let fm = field_manager.to_string();
            async move {
                let cache_key = DryRunCache::key(d, live_rv);
                if let Some(hit) = cache.get(d, &cache_key) {
                    return (d.key.clone(), Ok(hit));
                }
                let result = match served.get(&d.key.group, &d.key.kind) {
                    None => Err(DryRunError {
                        refused: false,
                        message: "kind not served".to_string(),
                    }),
                    Some((ar, namespaced)) => {
                        let api: Api<DynamicObject> = if *namespaced {
                            Api::namespaced_with(client, &d.key.namespace, ar)
                        } else {
                            Api::all_with(client, ar)
                        };
                        dry_run_one(&api, d, &fm, limiter).await
                    }
                };
                if let (Ok(v), Ok(mut entries)) = (&result, cache.entries.lock()) {
                    entries.insert(d.key.clone(), (cache_key, Packed::new(v)));
                }
                (d.key.clone(), result)
            }
        })
        // The limiter decides how many are in flight; this only bounds the queued futures.
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await
}

async fn dry_run_one(
    api: &Api<DynamicObject>,
    d: &DesiredObject,
    field_manager: &str,
    limiter: &limit::Limiter,
) -> Result<Value, DryRunError> {
    let mut pp = PatchParams::apply(field_manager).force();
    pp.dry_run = true;
    let mut attempt = 0;
    loop {
        let answer = {
            let _permit = limiter.acquire().await;
            api.patch(&d.key.name, &pp, &Patch::Apply(d.object.value()))
                .await
        };
        match answer {
            Ok(obj) => {
                limiter.answered();
                return serde_json::to_value(obj).map_err(|e| DryRunError {
                    refused: false,
                    message: e.to_string(),
                });
            }
            Err(kube::Error::Api(s)) if s.code == 429 && attempt < limit::OVERLOAD_RETRIES => {
                limiter.overloaded();
                tokio::time::sleep(limit::backoff(attempt, limit::retry_after(&s))).await;
                attempt += 1;
            }
            Err(e) => {
                limiter.answered();
                return Err(DryRunError {
                    refused: refuses(&e),
                    message: explain(&e),
                });
            }
        }
    }
}
