//! Server mode: a server-side apply dry run of each Git manifest with kdrift's field manager
//! (forced, so that conflicts do not hide the result; nothing is written), with bounded
//! concurrency. The comparison of the results with the live objects is pure and lives in
//! `drift::compare_server`.

use super::cluster::{explain, ClusterTarget, Served};
use crate::model::{DesiredObject, ResourceKey};
use futures::StreamExt;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::Value;
use std::collections::HashMap;

/// Runs the dry runs; each result is the object as the server would store it, or why not.
pub async fn dry_run_all(
    target: &ClusterTarget,
    served: &Served,
    desired: &[&DesiredObject],
    field_manager: &str,
    concurrency: usize,
) -> HashMap<ResourceKey, Result<Value, String>> {
    futures::stream::iter(desired.iter().copied())
        .map(|d| {
            let client = target.client.clone();
            let fm = field_manager.to_string();
            async move {
                let result = match served.get(&d.key.group, &d.key.kind) {
                    None => Err("kind not served".to_string()),
                    Some((ar, namespaced)) => {
                        let api: Api<DynamicObject> = if *namespaced {
                            Api::namespaced_with(client, &d.key.namespace, ar)
                        } else {
                            Api::all_with(client, ar)
                        };
                        let mut pp = PatchParams::apply(&fm).force();
                        pp.dry_run = true;
                        match api.patch(&d.key.name, &pp, &Patch::Apply(&d.object)).await {
                            Ok(obj) => serde_json::to_value(obj).map_err(|e| e.to_string()),
                            Err(e) => Err(explain(&e)),
                        }
                    }
                };
                (d.key.clone(), result)
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await
}
