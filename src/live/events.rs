//! A resource's recent Events, newest first: from core/v1 (`involvedObject`), else from
//! `events.k8s.io/v1` (`regarding`) where only that is served (both serve the same Events
//! on a real API server), selected by the server on the
//! object's kind and name and checked again here. Events of a cluster-scoped object live in
//! `default`, as the API server records them.

use crate::model::{ClusterEvent, ResourceKey};
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use kube::core::GroupVersionKind;
use serde_json::Value;

/// Reads the Events about `key` (at most `limit`, newest first).
pub async fn read(
    client: &kube::Client,
    key: &ResourceKey,
    limit: usize,
) -> Result<Vec<ClusterEvent>, String> {
    let ns = if key.namespace.is_empty() {
        "default"
    } else {
        key.namespace.as_str()
    };
    let new_api = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("events.k8s.io", "v1", "Event"),
        "events",
    );
    let core_api =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("", "v1", "Event"), "events");
    // The two APIs serve the same Events; core/v1 is served everywhere.
    let attempts = [
        (core_api, "involvedObject", "v1"),
        (new_api, "regarding", "events.k8s.io/v1"),
    ];
    let mut last_error = String::new();
    for (ar, field, api_name) in attempts {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &ar);
        let lp = ListParams::default().fields(&format!(
            "{field}.kind={},{field}.name={}",
            key.kind, key.name
        ));
        match api.list(&lp).await {
            Ok(list) => {
                let mut events: Vec<ClusterEvent> = list
                    .items
                    .iter()
                    .filter_map(|o| serde_json::to_value(o).ok())
                    .filter(|v| about(v, field, key))
                    .map(|v| event_of(&v))
                    .collect();
                events.sort_by_key(|e| std::cmp::Reverse(e.time));
                events.truncate(limit);
                return Ok(events);
            }
            Err(kube::Error::Api(e)) if e.code == 404 => {
                last_error = format!("{api_name} Events are not served");
            }
            Err(e) => {
                return Err(format!(
                    "reading Events: {}",
                    crate::text::visible_line(&e.to_string())
                ))
            }
        }
    }
    Err(last_error)
}

/// Whether an Event is about the object (the server's selection, checked again: a server
/// that ignores a field selector must not show other objects' Events).
fn about(v: &Value, field: &str, key: &ResourceKey) -> bool {
    let Some(o) = v.get(field) else { return false };
    let s = |k: &str| o.get(k).and_then(Value::as_str).unwrap_or("");
    s("kind") == key.kind
        && s("name") == key.name
        && (key.namespace.is_empty()
            || s("namespace").is_empty()
            || s("namespace") == key.namespace)
}

/// The newest time an Event names, in seconds since the epoch.
fn time_of(v: &Value) -> i64 {
    [
        "/series/lastObservedTime",
        "/lastTimestamp",
        "/deprecatedLastTimestamp",
        "/eventTime",
        "/metadata/creationTimestamp",
    ]
    .iter()
    .filter_map(|p| v.pointer(p).and_then(Value::as_str))
    .filter_map(crate::timefmt::parse_rfc3339)
    .max()
    .unwrap_or(0)
}

fn event_of(v: &Value) -> ClusterEvent {
    let s = |p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let message = [s("/note"), s("/message")]
        .into_iter()
        .find(|m| !m.is_empty())
        .unwrap_or_default();
    let source = [
        s("/reportingController"),
        s("/source/component"),
        s("/deprecatedSource/component"),
    ]
    .into_iter()
    .find(|m| !m.is_empty())
    .unwrap_or_default();
    let count = v
        .pointer("/series/count")
        .or_else(|| v.get("count"))
        .or_else(|| v.get("deprecatedCount"))
        .and_then(Value::as_u64)
        .unwrap_or(1)
        .min(u64::from(u32::MAX)) as u32;
    ClusterEvent {
        time: time_of(v),
        kind: s("/type"),
        reason: s("/reason"),
        message,
        count,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn core_and_new_events_read_alike() {
        let core = json!({
            "type": "Warning", "reason": "BackOff", "message": "Back-off pulling image",
            "count": 7, "source": {"component": "kubelet"},
            "lastTimestamp": "2026-11-30T10:00:00Z",
            "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": "shop"}
        });
        let new = json!({
            "type": "Warning", "reason": "BackOff", "note": "Back-off pulling image",
            "series": {"count": 7, "lastObservedTime": "2026-11-30T10:00:00.000000Z"},
            "reportingController": "kubelet",
            "eventTime": "2026-11-30T09:00:00.000000Z",
            "regarding": {"kind": "Pod", "name": "web-1", "namespace": "shop"}
        });
        let a = event_of(&core);
        let b = event_of(&new);
        assert_eq!(a, b);
        assert_eq!(a.count, 7);
        let key = ResourceKey::new("", "Pod", "shop", "web-1");
        assert!(about(&core, "involvedObject", &key));
        assert!(about(&new, "regarding", &key));
        let other = ResourceKey::new("", "Pod", "shop", "web-2");
        assert!(!about(&core, "involvedObject", &other));
    }
}
