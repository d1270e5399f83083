use super::*;
use crate::drift::health::{Health, HealthStatus};
use crate::drift::DriftEntry;
use std::time::{Duration, SystemTime};

fn t(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
}

fn entry(name: &str, status: DriftStatus, health: Option<HealthStatus>) -> DriftEntry {
    DriftEntry {
        health: health.map(|status| Health {
            status,
            reason: (status == HealthStatus::Degraded).then(|| "ProgressDeadlineExceeded".into()),
            message: None,
        }),
        ..DriftEntry::new(
            ResourceKey::new("apps", "Deployment", "shop", name),
            "apps/v1",
            status,
        )
    }
}

fn report(entries: Vec<DriftEntry>) -> DriftReport {
    let mut entries = entries;
    entries.sort_by(|a, b| a.key.cmp(&b.key));
    DriftReport::from(entries)
}

fn names(events: &[WatchEvent]) -> Vec<&'static str> {
    events.iter().map(WatchEvent::name).collect()
}

fn watcher() -> Watcher {
    Watcher::new(WatchOptions {
        alert_after: Duration::from_secs(60),
    })
}

use DriftStatus::*;
use HealthStatus::{Degraded, Healthy, Progressing};

#[test]
fn an_episode_alerts_once_after_for_and_resolves_when_it_converges() {
    let mut w = watcher();
    let healthy = report(vec![entry("web", Synced, Some(Healthy))]);
    let drifted = report(vec![entry("web", OutOfSync, Some(Healthy))]);
    assert!(w.on_report(&healthy, "a", "one", true, t(0)).is_empty());
    assert_eq!(
        names(&w.on_report(&drifted, "a", "one", true, t(10))),
        ["drifted"]
    );
    // Not yet: 59 s is under `--for`.
    assert!(w.tick(t(69)).is_empty());
    let alert = w.tick(t(70));
    assert_eq!(names(&alert), ["alert"]);
    match &alert[0] {
        WatchEvent::Alert {
            seconds, status, ..
        } => {
            assert_eq!(*seconds, 60);
            assert_eq!(*status, OutOfSync);
        }
        other => panic!("{other:?}"),
    }
    // Once per episode: later ticks and reports say nothing more.
    assert!(w.tick(t(500)).is_empty());
    assert!(w.on_report(&drifted, "a", "one", true, t(600)).is_empty());
    // It converges: converged, and the alert is resolved.
    assert_eq!(
        names(&w.on_report(&healthy, "a", "one", true, t(700))),
        ["converged", "resolved"]
    );
    // A new episode alerts again, after `--for` again.
    w.on_report(&drifted, "a", "one", true, t(800));
    assert!(w.tick(t(859)).is_empty());
    assert_eq!(names(&w.tick(t(860))), ["alert"]);
}

#[test]
fn flapping_within_for_never_alerts() {
    let mut w = watcher();
    let healthy = report(vec![entry("web", Synced, Some(Healthy))]);
    let drifted = report(vec![entry("web", OutOfSync, Some(Healthy))]);
    w.on_report(&healthy, "a", "", true, t(0));
    for i in 0..10 {
        w.on_report(&drifted, "a", "", true, t(i * 40));
        let events = w.on_report(&healthy, "a", "", true, t(i * 40 + 30));
        // Converged, never resolved: nothing was alerted.
        assert_eq!(names(&events), ["converged"]);
        assert!(w.tick(t(i * 40 + 35)).is_empty());
    }
}

#[test]
fn a_synced_degraded_rollout_alerts_and_progressing_does_not() {
    let mut w = watcher();
    w.on_report(
        &report(vec![entry("web", Synced, Some(Healthy))]),
        "a",
        "",
        true,
        t(0),
    );
    let progressing = report(vec![entry("web", Synced, Some(Progressing))]);
    assert_eq!(
        names(&w.on_report(&progressing, "a", "", true, t(5))),
        ["health-changed"]
    );
    assert!(w.tick(t(500)).is_empty());
    let degraded = report(vec![entry("web", Synced, Some(Degraded))]);
    assert_eq!(
        names(&w.on_report(&degraded, "a", "", true, t(600))),
        ["health-changed"]
    );
    let alert = w.tick(t(660));
    match alert.as_slice() {
        [WatchEvent::Alert { health, why, .. }] => {
            assert_eq!(*health, Some(Degraded));
            assert!(why.as_deref().unwrap().contains("ProgressDeadlineExceeded"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn incomplete_reports_are_no_news_and_head_and_connection_are() {
    let mut w = watcher();
    let missing = report(vec![entry("web", Missing, None)]);
    // Before every kind is listed, a missing row is not news.
    assert!(w.on_report(&missing, "a", "one", false, t(0)).is_empty());
    assert_eq!(
        names(&w.on_report(&missing, "a", "one", true, t(1))),
        ["drifted"]
    );
    assert_eq!(
        names(&w.on_report(&missing, "b", "two", true, t(2))),
        ["head-moved"]
    );
    assert_eq!(
        names(&w.on_connection(false, "EOF", t(3))),
        ["connection-lost"]
    );
    assert!(w.on_connection(false, "EOF", t(4)).is_empty());
    assert_eq!(
        names(&w.on_connection(true, "", t(5))),
        ["connection-restored"]
    );
    // Unknown (the kind cannot be read) is not drift and alerts nothing, but keeps the
    // episode: once it can be read again, the alert counts from the first sight.
    let unknown = report(vec![entry("web", DriftStatus::Unknown, None)]);
    assert!(w.on_report(&unknown, "b", "two", true, t(6)).is_empty());
    assert!(w.tick(t(61)).is_empty());
    let alert = w.on_report(&missing, "b", "two", true, t(70));
    assert_eq!(names(&alert), ["drifted", "alert"]);
    match &alert[1] {
        WatchEvent::Alert { seconds, .. } => assert_eq!(*seconds, 69),
        other => panic!("{other:?}"),
    }
}

#[test]
fn events_are_json_lines_with_masked_values_as_reported() {
    let mut e = entry("web", OutOfSync, Some(Healthy));
    e.fields.push(crate::drift::FieldDrift {
        path: crate::path::FieldPath::parse("data.password").unwrap(),
        desired: Some(serde_json::json!("<secret sha256:1a2b3c4d>")),
        live: Some(serde_json::json!("<secret sha256:5e6f7a8b>")),
        owner: None,
        owner_is_applier: false,
        commit: None,
        cause: None,
        git_note: None,
    });
    let mut w = watcher();
    let events = w.on_report(&report(vec![e]), "a", "", true, t(0));
    let line = events[0].to_line();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["event"], "drifted");
    assert_eq!(v["resource"], "apps/Deployment/shop/web");
    assert_eq!(v["fields"][0]["live"], "<secret sha256:5e6f7a8b>");
    assert!(!line.contains('\n'));
}

#[test]
fn metrics_render_every_family_and_bound_the_per_resource_series() {
    let mut w = watcher();
    let entries: Vec<DriftEntry> = (0..5)
        .map(|i| entry(&format!("web-{i}"), OutOfSync, Some(Healthy)))
        .collect();
    let r = report(entries);
    w.on_report(&r, "abc", "", true, t(0));
    let m = metrics::Metrics::new(3);
    m.observe(&r, &w, "abc", t(30));
    m.connection(true);
    let text = m.render();
    for want in [
        "kdrift_resources{status=\"out-of-sync\"} 5",
        "kdrift_resources_health{health=\"healthy\"} 5",
        "kdrift_resource_series_dropped 2",
        "kdrift_cluster_connected 1",
        "kdrift_git_head{revision=\"abc\"} 1",
        "# TYPE kdrift_resource_unconverged_seconds gauge",
    ] {
        assert!(text.contains(want), "{want} not in\n{text}");
    }
    assert_eq!(
        text.matches("kdrift_resource_unconverged_seconds{").count(),
        3
    );
    let off = metrics::Metrics::new(0);
    off.observe(&r, &w, "abc", t(30));
    assert_eq!(
        off.render()
            .matches("kdrift_resource_unconverged_seconds{")
            .count(),
        0
    );
}

#[test]
fn a_restart_continues_open_episodes_and_does_not_alert_them_twice() {
    let drifted = report(vec![
        entry("web", OutOfSync, Some(Healthy)),
        entry("api", OutOfSync, Some(Healthy)),
    ]);
    let mut w = watcher();
    // An earlier run saw web drift at t(0) and alerted it; api at t(100), not alerted yet.
    let since = |s: SystemTime| s.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() as i64;
    w.resume(
        [
            ("apps/Deployment/shop/web".to_string(), (since(t(0)), true)),
            (
                "apps/Deployment/shop/api".to_string(),
                (since(t(100)), false),
            ),
        ]
        .into_iter()
        .collect(),
    );
    let events = w.on_report(&drifted, "a", "", true, t(150));
    // api's episode lasted 50 s of 60: not yet; web was alerted already.
    assert_eq!(names(&events), ["drifted", "drifted"]);
    let alert = w.tick(t(160));
    match alert.as_slice() {
        [WatchEvent::Alert {
            resource, seconds, ..
        }] => {
            assert_eq!(resource, "apps/Deployment/shop/api");
            assert_eq!(*seconds, 60);
        }
        other => panic!("{other:?}"),
    }
    let episodes = w.episodes(t(160));
    assert_eq!(episodes[0].1, 160.0);
}
