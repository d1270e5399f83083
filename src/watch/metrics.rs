//! The Prometheus metrics of `kdrift watch`, through the prometheus-client crate: resources
//! by status, by health and drifted fields by cause; how long each resource has been out
//! of sync or degraded (bounded in series, or off); the last report's time; whether the
//! cluster is connected and which kinds cannot be read; the revision of HEAD; events and
//! notifications sent. Updated from each report; rendered in the text exposition format.

use super::{WatchEvent, Watcher};
use crate::drift::health::HealthStatus;
use crate::drift::DriftReport;
use crate::model::DriftStatus;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::time::SystemTime;

type Labels = Vec<(String, String)>;
type FloatGauge = Gauge<f64, AtomicU64>;

/// Every metric, registered once.
pub struct Metrics {
    registry: Registry,
    resources: Family<Labels, Gauge>,
    health: Family<Labels, Gauge>,
    causes: Family<Labels, Gauge>,
    out_of_sync: Family<Labels, FloatGauge>,
    series_dropped: Gauge,
    last_report: FloatGauge,
    connected: Gauge,
    unreadable: Family<Labels, Gauge>,
    head: Family<Labels, Gauge>,
    events: Family<Labels, Counter>,
    notifications: Family<Labels, Counter>,
    /// At most this many per-resource series (0: none).
    resource_series: usize,
}

fn label(k: &str, v: impl Into<String>) -> (String, String) {
    (k.to_string(), v.into())
}

impl Metrics {
    /// The metrics, with at most `resource_series` per-resource gauges (0 turns them off).
    pub fn new(resource_series: usize) -> Metrics {
        let mut registry = Registry::with_prefix("kdrift");
        let m = Metrics {
            resources: Family::default(),
            health: Family::default(),
            causes: Family::default(),
            out_of_sync: Family::default(),
            series_dropped: Gauge::default(),
            last_report: FloatGauge::default(),
            connected: Gauge::default(),
            unreadable: Family::default(),
            head: Family::default(),
            events: Family::default(),
            notifications: Family::default(),
            resource_series,
            registry: Registry::default(),
        };
        registry.register(
            "resources",
            "Resources by drift status",
            m.resources.clone(),
        );
        registry.register(
            "resources_health",
            "Resources with a live object, by health",
            m.health.clone(),
        );
        registry.register(
            "drifted_fields",
            "Drifted fields by cause",
            m.causes.clone(),
        );
        registry.register(
            "resource_unconverged_seconds",
            "How long a resource has been out of sync or degraded",
            m.out_of_sync.clone(),
        );
        registry.register(
            "resource_series_dropped",
            "Resources out of sync or degraded left out of the per-resource gauge (cardinality limit)",
            m.series_dropped.clone(),
        );
        registry.register(
            "last_report_timestamp_seconds",
            "When the last complete report was made",
            m.last_report.clone(),
        );
        registry.register(
            "cluster_connected",
            "Whether every watch of the cluster is up (1) or not (0)",
            m.connected.clone(),
        );
        registry.register(
            "kind_unreadable_resources",
            "Resources of a kind that cannot be read (forbidden, not served, disconnected)",
            m.unreadable.clone(),
        );
        registry.register(
            "git_head",
            "The revision of HEAD the desired state comes from (1 for the current one)",
            m.head.clone(),
        );
        registry.register("events", "Events written", m.events.clone());
        registry.register(
            "notifications",
            "Notifications delivered, by channel and result",
            m.notifications.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Sets every gauge from a complete report and the watcher's episodes.
    pub fn observe(&self, report: &DriftReport, watcher: &Watcher, commit: &str, now: SystemTime) {
        let summary = report.summary();
        for s in DriftStatus::ALL {
            self.resources
                .get_or_create(&vec![label("status", s.to_string())])
                .set(summary.count(s) as i64);
        }
        let mut health: BTreeMap<HealthStatus, i64> =
            HealthStatus::ALL.iter().map(|h| (*h, 0)).collect();
        let mut causes: BTreeMap<String, i64> = BTreeMap::new();
        let mut unreadable: BTreeMap<(String, String), i64> = BTreeMap::new();
        for e in &report.entries {
            if let Some(h) = &e.health {
                *health.entry(h.status).or_default() += 1;
            }
            for f in &e.fields {
                let cause = f
                    .cause
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "unknown".to_string());
                *causes.entry(cause).or_default() += 1;
            }
            if e.status == DriftStatus::Unknown {
                *unreadable
                    .entry((e.key.group.clone(), e.key.kind.clone()))
                    .or_default() += 1;
            }
        }
        for (h, n) in health {
            self.health
                .get_or_create(&vec![label("health", h.as_str())])
                .set(n);
        }
        self.causes.clear();
        for (c, n) in causes {
            self.causes.get_or_create(&vec![label("cause", c)]).set(n);
        }
        self.unreadable.clear();
        for ((g, k), n) in unreadable {
            self.unreadable
                .get_or_create(&vec![label("group", g), label("kind", k)])
                .set(n);
        }
        self.out_of_sync.clear();
        let episodes = watcher.episodes(now);
        let kept = episodes.len().min(self.resource_series);
        for (key, secs) in &episodes[..kept] {
            self.out_of_sync
                .get_or_create(&vec![
                    label("group", key.group.clone()),
                    label("kind", key.kind.clone()),
                    label("namespace", key.namespace.clone()),
                    label("name", key.name.clone()),
                ])
                .set(*secs);
        }
        self.series_dropped.set(if self.resource_series == 0 {
            0
        } else {
            (episodes.len() - kept) as i64
        });
        self.last_report.set(
            now.duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs_f64(),
        );
        self.head.clear();
        if !commit.is_empty() {
            self.head
                .get_or_create(&vec![label("revision", commit)])
                .set(1);
        }
    }

    /// The connection's state.
    pub fn connection(&self, up: bool) {
        self.connected.set(i64::from(up));
    }

    /// An event written.
    pub fn event(&self, e: &WatchEvent) {
        self.events
            .get_or_create(&vec![label("event", e.name())])
            .inc();
    }

    /// A notification delivered (or not).
    pub fn notification(&self, channel: &str, ok: bool) {
        self.notifications
            .get_or_create(&vec![
                label("channel", channel),
                label("result", if ok { "delivered" } else { "failed" }),
            ])
            .inc();
    }

    /// The text exposition format (OpenMetrics text, which Prometheus reads).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = encode(&mut out, &self.registry);
        out
    }
}
