use super::*;
use crate::app::Look;
use crate::drift::DriftEntry;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::time::{Duration, UNIX_EPOCH};

fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_790_000_000)
}

fn key(ns: &str, kind: &str, name: &str) -> ResourceKey {
    let group = if kind == "Deployment" { "apps" } else { "" };
    ResourceKey::new(group, kind, ns, name)
}

fn report(entries: &[(&str, &str, &str, DriftStatus)]) -> DriftReport {
    let mut r = DriftReport::default();
    for (ns, kind, name, s) in entries {
        r.entries
            .push(DriftEntry::new(key(ns, kind, name), "v1", *s).into());
    }
    // As every report is: sorted by key.
    r.entries.sort_by(|a, b| a.key.cmp(&b.key));
    r
}

/// staging and prod with the same resources, prod's web edited by hand, a flag only on
/// staging; dr (a third cluster) down.
fn state(w: u16, h: u16) -> FleetState {
    let look = Look {
        ascii: false,
        color: false,
        notify: Default::default(),
    };
    let mut s = FleetState::new(
        vec![
            Column::new("staging", "gke-staging", "https://10.0.0.1"),
            Column::new("prod", "gke-prod", "https://10.0.0.2"),
            Column::new("dr", "gke-dr", "https://10.0.0.3"),
        ],
        look,
        t0(),
    );
    s.update(FleetMsg::Resize(w, h));
    let live = LiveState::Connected { freshest: t0() };
    s.update(FleetMsg::Report(
        0,
        Box::new(report(&[
            ("shop", "Deployment", "web", DriftStatus::Synced),
            ("shop", "Deployment", "api", DriftStatus::Synced),
            ("shop", "ConfigMap", "flags", DriftStatus::Missing),
            ("", "Namespace", "shop", DriftStatus::Synced),
        ])),
        live.clone(),
    ));
    s.update(FleetMsg::Report(
        1,
        Box::new(report(&[
            ("shop", "Deployment", "web", DriftStatus::OutOfSync),
            ("shop", "Deployment", "api", DriftStatus::Synced),
            ("", "Namespace", "shop", DriftStatus::Synced),
        ])),
        live.clone(),
    ));
    s.update(FleetMsg::Report(
        2,
        Box::new(report(&[(
            "shop",
            "Deployment",
            "web",
            DriftStatus::Synced,
        )])),
        live,
    ));
    s.update(FleetMsg::Live(
        2,
        LiveState::Unreachable {
            error: "connection refused".into(),
        },
    ));
    s
}

fn screen(s: &FleetState) -> String {
    let mut t = Terminal::new(TestBackend::new(s.size.0, s.size.1)).unwrap();
    t.draw(|f| crate::ui::fleet::draw(f, s)).unwrap();
    t.backend().to_string()
}

fn row_index(s: &FleetState, name: &str) -> usize {
    s.rows
        .iter()
        .position(|r| r.key.as_ref().is_some_and(|k| k.name == name))
        .unwrap_or_else(|| panic!("no row {name}"))
}

fn row<'a>(s: &'a FleetState, name: &str) -> &'a FleetRow {
    s.rows
        .iter()
        .find(|r| r.key.as_ref().is_some_and(|k| k.name == name))
        .unwrap_or_else(|| panic!("no row {name}"))
}

#[test]
fn cells_say_each_targets_status_absent_or_no_verdict() {
    let s = state(80, 24);
    use Cell::*;
    assert_eq!(
        row(&s, "web").cells,
        [
            Status(DriftStatus::Synced),
            Status(DriftStatus::OutOfSync),
            NoVerdict
        ]
    );
    assert_eq!(
        row(&s, "flags").cells,
        [Status(DriftStatus::Missing), Absent, NoVerdict]
    );
    // A group shows each target's worst.
    let group = s
        .rows
        .iter()
        .find(|r| r.label == "shop · Deployment")
        .unwrap();
    assert_eq!(
        group.cells,
        [
            Status(DriftStatus::Synced),
            Status(DriftStatus::OutOfSync),
            NoVerdict
        ]
    );
}

#[test]
fn filters_drifted_anywhere_only_here_and_differs() {
    let mut s = state(80, 24);
    let names = |s: &FleetState| -> Vec<String> {
        s.rows
            .iter()
            .filter_map(|r| r.key.as_ref().map(|k| k.name.clone()))
            .collect()
    };
    assert_eq!(names(&s).len(), 4);
    s.update(FleetMsg::Key(Key::Char('f')));
    assert_eq!(s.filter, FleetFilter::DriftedAnywhere);
    assert_eq!(names(&s), ["flags", "web"]);
    // Drifted only in prod (the selected column).
    s.update(FleetMsg::Key(Key::Char('l')));
    s.update(FleetMsg::Key(Key::Char('f')));
    assert_eq!(s.filter, FleetFilter::DriftedOnlyHere);
    assert_eq!(names(&s), ["web"]);
    s.update(FleetMsg::Key(Key::Char('f')));
    assert_eq!(s.filter, FleetFilter::Differs);
    // Every row differs: dr has no verdict on any.
    assert_eq!(names(&s).len(), 4);
}

#[test]
fn a_target_going_down_changes_only_its_column() {
    let mut s = state(80, 24);
    let before: Vec<Vec<Cell>> = s.rows.iter().map(|r| r.cells[..1].to_vec()).collect();
    s.update(FleetMsg::Live(
        1,
        LiveState::Reconnecting {
            since: t0(),
            error: "EOF".into(),
        },
    ));
    assert!(s.rows.iter().all(|r| r.cells[1] == Cell::NoVerdict));
    let after: Vec<Vec<Cell>> = s.rows.iter().map(|r| r.cells[..1].to_vec()).collect();
    assert_eq!(before, after);
    // Back: its verdicts again.
    s.update(FleetMsg::Live(1, LiveState::Connected { freshest: t0() }));
    assert_eq!(
        row(&s, "web").cells[1],
        Cell::Status(DriftStatus::OutOfSync)
    );
}

#[test]
fn enter_opens_the_targets_view_of_the_resource() {
    let mut s = state(80, 24);
    let web = row_index(&s, "web");
    s.selected = web;
    s.update(FleetMsg::Key(Key::Char('l')));
    s.update(FleetMsg::Key(Key::Enter));
    let lines = s.view_lines();
    assert!(lines[0].starts_with("prod · context gke-prod"), "{lines:?}");
    assert!(
        lines[1].contains("Deployment web -n shop  out-of-sync"),
        "{lines:?}"
    );
    // Another target's view of the same resource; one that has no verdict says so.
    s.update(FleetMsg::Key(Key::Char('l')));
    assert!(
        s.view_lines()[1].contains("no verdict on dr now (unreachable"),
        "{:?}",
        s.view_lines()
    );
    s.update(FleetMsg::Key(Key::Esc));
    assert!(s.view.is_none());
    assert_eq!(s.update(FleetMsg::Key(Key::Char('q'))), [FleetEffect::Quit]);
}

#[test]
fn the_matrix_at_80x24_and_200x60() {
    insta::assert_snapshot!("fleet_80x24", screen(&state(80, 24)));
    insta::assert_snapshot!("fleet_200x60", screen(&state(200, 60)));
    let mut s = state(40, 10);
    s.update(FleetMsg::Key(Key::Char('j')));
    insta::assert_snapshot!("fleet_40x10", screen(&s));
}

#[test]
fn names_never_write_to_the_terminal_raw() {
    let c = Column::new("prod\u{1b}[2J", "ctx\u{7}", "https://x\u{1b}]0;t\u{7}");
    for s in [&c.name, &c.context, &c.server] {
        assert!(!s.chars().any(|ch| ch.is_control()), "{s:?}");
    }
}

#[test]
fn c_compares_two_targets_live_objects() {
    let mut s = state(80, 24);
    let web = row_index(&s, "web");
    s.selected = web;
    s.update(FleetMsg::Key(Key::Enter));
    let effects = s.update(FleetMsg::Key(Key::Char('c')));
    let k = key("shop", "Deployment", "web");
    assert_eq!(
        effects,
        [FleetEffect::Compare {
            key: k.clone(),
            columns: (0, 1)
        }]
    );
    assert!(s.view_lines().iter().any(|l| l == "reading both clusters…"));
    let obj = |replicas: u32| {
        Ok(Some(
            serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop"}, "spec": {"replicas": replicas}}),
        ))
    };
    s.update(FleetMsg::Compared {
        key: k.clone(),
        columns: (0, 1),
        objects: Box::new((obj(2), obj(5))),
    });
    let lines = s.view_lines();
    assert!(
        lines[0].starts_with("live on staging (-) and on prod (+)"),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"against its Git, prod: out-of-sync".to_string()),
        "{lines:?}"
    );
    assert!(lines.contains(&"-  replicas: 2".to_string()), "{lines:?}");
    assert!(lines.contains(&"+  replicas: 5".to_string()), "{lines:?}");
    // An answer for another pair is not this one's.
    s.update(FleetMsg::Key(Key::Char('c')));
    s.update(FleetMsg::Compared {
        key: k,
        columns: (0, 1),
        objects: Box::new((obj(1), obj(1))),
    });
    assert!(s.view_lines().iter().any(|l| l == "reading both clusters…"));
    // Esc leaves the comparison, then the view.
    s.update(FleetMsg::Key(Key::Esc));
    assert!(s.view.as_ref().is_some_and(|v| v.compare.is_none()));
    s.update(FleetMsg::Key(Key::Esc));
    assert!(s.view.is_none());
}

#[test]
fn marks_across_targets_sync_target_by_target() {
    let mut s = state(80, 24);
    let web = row_index(&s, "web");
    s.selected = web;
    s.update(FleetMsg::Key(Key::Char(' ')));
    s.selected = web;
    s.update(FleetMsg::Key(Key::Char('l')));
    s.update(FleetMsg::Key(Key::Char(' ')));
    assert!(screen(&s).contains("✓*"), "{}", screen(&s));
    let k = key("shop", "Deployment", "web");
    assert_eq!(
        s.update(FleetMsg::Key(Key::Char('s'))),
        [FleetEffect::Sync(vec![
            (0, vec![k.clone()]),
            (1, vec![k.clone()])
        ])]
    );
    assert!(s.marks.is_empty());
    // Without marks: the selected cell.
    s.selected = web;
    assert_eq!(
        s.update(FleetMsg::Key(Key::Char('s'))),
        [FleetEffect::Sync(vec![(1, vec![k])])]
    );
}

/// A report made while its target was still listing (every row waiting: unknown) is no
/// verdict, and stays none until the complete report comes with its own live state: no
/// frame shows the waiting rows as a connected target's verdicts.
#[test]
fn a_report_made_while_listing_is_no_verdict_until_the_complete_one() {
    use Cell::*;
    let mut s = state(80, 24);
    let waiting = report(&[("shop", "Deployment", "web", DriftStatus::Unknown)]);
    s.update(FleetMsg::Report(
        0,
        Box::new(waiting),
        LiveState::Connecting,
    ));
    assert_eq!(row(&s, "web").cells[0], NoVerdict);
    assert!(!screen(&s).contains('?'), "{}", screen(&s));
    let done = report(&[("shop", "Deployment", "web", DriftStatus::OutOfSync)]);
    let live = LiveState::Connected { freshest: t0() };
    s.update(FleetMsg::Report(0, Box::new(done), live));
    assert_eq!(row(&s, "web").cells[0], Status(DriftStatus::OutOfSync));
}
