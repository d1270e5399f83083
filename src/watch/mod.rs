//! `kdrift watch` without its I/O: what changed between two reports, as events (drifted,
//! converged, health changed, HEAD moved, connection lost and restored), and when a
//! resource has been out of sync or degraded for longer than `--for`, an alert (once per
//! episode) and, when it converges, its resolution. Time comes in as an argument; nothing
//! here reads a clock, a socket or a file. Metrics are in `metrics`.

pub mod metrics;

use crate::drift::health::HealthStatus;
use crate::drift::{DriftEntry, DriftReport};
use crate::model::{DriftStatus, ResourceKey};
use serde::Serialize;
use std::collections::HashMap;
use std::time::{Duration, SystemTime};

/// How the watcher decides to alert.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// How long a resource must stay out of sync or degraded before an alert.
    pub alert_after: Duration,
}

/// One drifted field in an event (values masked as in every report).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldEvent {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manager: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

/// Something that happened, as one JSON line.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum WatchEvent {
    /// A resource stopped being synced (or its status changed to another drift).
    Drifted {
        time: String,
        resource: String,
        status: DriftStatus,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        fields: Vec<FieldEvent>,
    },
    /// A resource is synced and healthy again.
    Converged {
        time: String,
        resource: String,
        /// How long it had not converged (as far as this run saw).
        seconds: u64,
    },
    #[serde(rename = "health-changed")]
    HealthChanged {
        time: String,
        resource: String,
        from: Option<HealthStatus>,
        to: Option<HealthStatus>,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    #[serde(rename = "head-moved")]
    HeadMoved {
        time: String,
        from: String,
        to: String,
        subject: String,
    },
    #[serde(rename = "connection-lost")]
    ConnectionLost { time: String, error: String },
    #[serde(rename = "connection-restored")]
    ConnectionRestored { time: String },
    /// Out of sync or degraded for longer than `--for`: notified once per episode.
    Alert {
        time: String,
        resource: String,
        status: DriftStatus,
        #[serde(skip_serializing_if = "Option::is_none")]
        health: Option<HealthStatus>,
        #[serde(skip_serializing_if = "Option::is_none")]
        why: Option<String>,
        /// Since when (RFC 3339) and for how long.
        since: String,
        seconds: u64,
        fields: Vec<FieldEvent>,
    },
    /// An alerted resource converged: the episode is over.
    Resolved {
        time: String,
        resource: String,
        seconds: u64,
    },
}

impl WatchEvent {
    /// Whether it is a notification (delivered to `--notify-exec` and `--notify-webhook`).
    pub fn is_notification(&self) -> bool {
        matches!(self, WatchEvent::Alert { .. } | WatchEvent::Resolved { .. })
    }

    /// The event's name, as in its JSON (`drifted`, `alert` …).
    pub fn name(&self) -> &'static str {
        match self {
            WatchEvent::Drifted { .. } => "drifted",
            WatchEvent::Converged { .. } => "converged",
            WatchEvent::HealthChanged { .. } => "health-changed",
            WatchEvent::HeadMoved { .. } => "head-moved",
            WatchEvent::ConnectionLost { .. } => "connection-lost",
            WatchEvent::ConnectionRestored { .. } => "connection-restored",
            WatchEvent::Alert { .. } => "alert",
            WatchEvent::Resolved { .. } => "resolved",
        }
    }

    /// One JSON line, control characters escaped.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// What the watcher remembers of one resource.
#[derive(Debug, Clone)]
struct Track {
    status: DriftStatus,
    health: Option<HealthStatus>,
    /// Since when it has needed attention (out of sync, or degraded), if it does.
    since: Option<SystemTime>,
    /// Whether this episode was alerted.
    alerted: bool,
}

fn rfc3339(t: SystemTime) -> String {
    crate::timefmt::rfc3339(
        t.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs() as i64,
    )
}

fn fields_of(e: &DriftEntry) -> Vec<FieldEvent> {
    e.fields
        .iter()
        .map(|f| FieldEvent {
            path: f.path.to_string(),
            git: f.desired.clone(),
            live: f.live.clone(),
            cause: f.cause.map(|c| c.to_string()),
            manager: f.owner.as_ref().map(|o| o.manager.clone()),
            commit: f.commit.as_ref().map(|c| c.id.chars().take(12).collect()),
        })
        .collect()
}

/// The watcher: reports in, events out.
#[derive(Debug)]
pub struct Watcher {
    opts: WatchOptions,
    tracks: HashMap<ResourceKey, Track>,
    /// The last report's entries that need attention, for alerts (key → entry).
    current: HashMap<ResourceKey, std::sync::Arc<DriftEntry>>,
    head: Option<String>,
    connected: Option<bool>,
    /// Whether a complete report has been seen (before it, verdicts are no baseline).
    baseline: bool,
    /// Open episodes an earlier run recorded (resource → since, alerted): they continue.
    resumed: HashMap<String, (SystemTime, bool)>,
}

impl Watcher {
    pub fn new(opts: WatchOptions) -> Watcher {
        Watcher {
            opts,
            tracks: HashMap::new(),
            current: HashMap::new(),
            head: None,
            connected: None,
            baseline: false,
            resumed: HashMap::new(),
        }
    }

    /// Continues the episodes an earlier run left open (resource → since, in seconds since
    /// the epoch, and whether it was alerted): a resource still out of sync counts from
    /// then, so a restart neither resets `--for` nor alerts the same episode twice.
    pub fn resume(&mut self, open: HashMap<String, (i64, bool)>) {
        self.resumed = open
            .into_iter()
            .map(|(k, (s, alerted))| {
                (
                    k,
                    (
                        SystemTime::UNIX_EPOCH + Duration::from_secs(s.max(0) as u64),
                        alerted,
                    ),
                )
            })
            .collect();
    }

    /// A new report, made from Git at `commit` (`subject`) and a live side that is complete
    /// (every kind listed) or not. Incomplete reports change nothing: a resource is not
    /// drifted because its kind has not been listed yet.
    pub fn on_report(
        &mut self,
        report: &DriftReport,
        commit: &str,
        subject: &str,
        complete: bool,
        now: SystemTime,
    ) -> Vec<WatchEvent> {
        let mut events = Vec::new();
        let time = rfc3339(now);
        match &self.head {
            Some(old) if old != commit && !commit.is_empty() => {
                events.push(WatchEvent::HeadMoved {
                    time: time.clone(),
                    from: old.clone(),
                    to: commit.to_string(),
                    subject: subject.to_string(),
                })
            }
            _ => {}
        }
        if !commit.is_empty() {
            self.head = Some(commit.to_string());
        }
        if !complete {
            return events;
        }
        self.baseline = true;
        let mut seen: HashMap<ResourceKey, ()> = HashMap::with_capacity(report.entries.len());
        self.current.clear();
        for e in &report.entries {
            seen.insert(e.key.clone(), ());
            let health = e.health.as_ref().map(|h| h.status);
            let attention = e.needs_attention();
            if attention {
                self.current.insert(e.key.clone(), e.clone());
            }
            let resource = e.key.to_string();
            let track = self.tracks.get(&e.key).cloned();
            match &track {
                None => {
                    // First sight (at start, or a resource that appeared): what needs
                    // attention is news.
                    if e.status != DriftStatus::Synced && e.status != DriftStatus::Unknown {
                        events.push(self.drifted(e, &time));
                    }
                    if health.is_some_and(|h| h != HealthStatus::Healthy) {
                        events.push(health_changed(e, None, &time));
                    }
                }
                Some(t) => {
                    if t.status != e.status
                        && e.status != DriftStatus::Synced
                        && e.status != DriftStatus::Unknown
                    {
                        events.push(self.drifted(e, &time));
                    }
                    if t.health != health && e.status != DriftStatus::Unknown {
                        events.push(health_changed(e, t.health, &time));
                    }
                }
            }
            let converged_now = e.converged();
            let mut next = track.unwrap_or(Track {
                status: e.status,
                health,
                since: None,
                alerted: false,
            });
            // An episode ends when the resource converges, or when it no longer needs
            // attention without converging (synced and progressing or suspended). Unknown
            // keeps it as it was: kdrift cannot tell.
            let ends = converged_now || (!attention && e.status != DriftStatus::Unknown);
            if ends {
                if let Some(since) = next.since.take() {
                    let seconds = now.duration_since(since).unwrap_or_default().as_secs();
                    if converged_now {
                        events.push(WatchEvent::Converged {
                            time: time.clone(),
                            resource: resource.clone(),
                            seconds,
                        });
                    }
                    if next.alerted {
                        events.push(WatchEvent::Resolved {
                            time: time.clone(),
                            resource: resource.clone(),
                            seconds,
                        });
                    }
                }
                next.alerted = false;
            } else if attention && next.since.is_none() {
                let (since, alerted) = self.resumed.remove(&resource).unwrap_or((now, false));
                next.since = Some(since);
                next.alerted = alerted;
            }
            next.status = e.status;
            next.health = health;
            self.tracks.insert(e.key.clone(), next);
        }
        // Resources gone from both Git and the cluster: their episodes end.
        let gone: Vec<ResourceKey> = self
            .tracks
            .keys()
            .filter(|k| !seen.contains_key(*k))
            .cloned()
            .collect();
        for k in gone {
            if let Some(t) = self.tracks.remove(&k) {
                if let (Some(since), true) = (t.since, t.alerted) {
                    events.push(WatchEvent::Resolved {
                        time: time.clone(),
                        resource: k.to_string(),
                        seconds: now.duration_since(since).unwrap_or_default().as_secs(),
                    });
                }
            }
        }
        events.extend(self.tick(now));
        events
    }

    fn drifted(&self, e: &DriftEntry, time: &str) -> WatchEvent {
        WatchEvent::Drifted {
            time: time.to_string(),
            resource: e.key.to_string(),
            status: e.status,
            reason: e.reason.clone(),
            fields: fields_of(e),
        }
    }

    /// The connection's state: connected, or lost with an error.
    pub fn on_connection(
        &mut self,
        connected: bool,
        error: &str,
        now: SystemTime,
    ) -> Vec<WatchEvent> {
        let was = self.connected.replace(connected);
        let time = rfc3339(now);
        match (was, connected) {
            (Some(true) | None, false) => vec![WatchEvent::ConnectionLost {
                time,
                error: error.to_string(),
            }],
            (Some(false), true) => vec![WatchEvent::ConnectionRestored { time }],
            _ => Vec::new(),
        }
    }

    /// Alerts for episodes that have now lasted `--for`: once each.
    pub fn tick(&mut self, now: SystemTime) -> Vec<WatchEvent> {
        let mut events = Vec::new();
        let time = rfc3339(now);
        let mut keys: Vec<&ResourceKey> = self.tracks.keys().collect();
        keys.sort();
        let mut due = Vec::new();
        for k in keys {
            let t = &self.tracks[k];
            let (Some(since), false) = (t.since, t.alerted) else {
                continue;
            };
            let lasted = now.duration_since(since).unwrap_or_default();
            if lasted < self.opts.alert_after {
                continue;
            }
            let Some(e) = self.current.get(k) else {
                continue;
            };
            due.push(k.clone());
            events.push(WatchEvent::Alert {
                time: time.clone(),
                resource: k.to_string(),
                status: e.status,
                health: e.health.as_ref().map(|h| h.status),
                why: e
                    .health
                    .as_ref()
                    .filter(|h| h.status == HealthStatus::Degraded)
                    .map(|h| h.to_string())
                    .or_else(|| e.reason.clone()),
                since: rfc3339(since),
                seconds: lasted.as_secs(),
                fields: fields_of(e),
            });
        }
        for k in due {
            if let Some(t) = self.tracks.get_mut(&k) {
                t.alerted = true;
            }
        }
        events
    }

    /// How long each resource has needed attention, at `now` (for the per-resource gauge).
    pub fn episodes(&self, now: SystemTime) -> Vec<(&ResourceKey, f64)> {
        let mut out: Vec<(&ResourceKey, f64)> = self
            .tracks
            .iter()
            .filter_map(|(k, t)| {
                t.since
                    .map(|s| (k, now.duration_since(s).unwrap_or_default().as_secs_f64()))
            })
            .collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
        out
    }

    /// When the next alert may fall due (for the loop's timer).
    pub fn next_due(&self) -> Option<SystemTime> {
        self.tracks
            .values()
            .filter(|t| !t.alerted)
            .filter_map(|t| t.since)
            .map(|s| s + self.opts.alert_after)
            .min()
    }
}

fn health_changed(e: &DriftEntry, from: Option<HealthStatus>, time: &str) -> WatchEvent {
    WatchEvent::HealthChanged {
        time: time.to_string(),
        resource: e.key.to_string(),
        from,
        to: e.health.as_ref().map(|h| h.status),
        reason: e.health.as_ref().and_then(|h| h.reason.clone()),
        message: e.health.as_ref().and_then(|h| h.message.clone()),
    }
}

#[cfg(test)]
mod tests;
