//! The explorer driven through `update`, drawn with ratatui's `TestBackend`, and compared
//! with insta snapshots at 80x24 and 120x40: the screens an operator sees.

use super::sync_dialog::{Dialog, SyncMsg};
use super::*;
use crate::desired::git::RevisionInfo;
use crate::drift::attribution::{Cause, CommitRef, FieldOwner};
use crate::drift::{DriftEntry, DriftReport, FieldDrift};
use crate::keymap::Key;
use crate::model::{DriftStatus, ResourceKey, SourceLocation};
use crate::path::FieldPath;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000)
}

// A table row of a test report: every field is a column.
#[allow(clippy::too_many_arguments)]
fn entry(
    group: &str,
    kind: &str,
    ns: &str,
    name: &str,
    status: DriftStatus,
    file: Option<&str>,
    desired: Option<serde_json::Value>,
    live: Option<serde_json::Value>,
) -> DriftEntry {
    let api_version = if group.is_empty() {
        "v1".into()
    } else {
        format!("{group}/v1")
    };
    DriftEntry {
        source: file.map(|f| SourceLocation {
            file: f.into(),
            line: Some(1),
        }),
        health: live.as_ref().map(|_| crate::drift::health::Health {
            status: crate::drift::health::HealthStatus::Healthy,
            reason: None,
            message: None,
        }),
        desired: desired.as_ref().map(crate::model::Packed::new),
        live: live.as_ref().map(crate::model::Packed::new),
        ..DriftEntry::new(ResourceKey::new(group, kind, ns, name), api_version, status)
    }
}

fn deployment(image: &str, replicas: i64) -> serde_json::Value {
    let mut env = serde_json::Map::new();
    for i in 0..8 {
        env.insert(format!("VAR_{i}"), json!(format!("value-{i}")));
    }
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": env}, "spec": {"containers": [{"name": "web", "image": image}]}}}})
}

/// A report with every status.
fn report() -> DriftReport {
    let mut web = entry(
        "apps",
        "Deployment",
        "shop",
        "web",
        DriftStatus::OutOfSync,
        Some("apps/shop/web.yaml"),
        Some(deployment("ghcr.io/example/web:2.3.1", 2)),
        Some(deployment("ghcr.io/example/web:2.3.1-hotfix1", 5)),
    );
    web.fields = vec![
        FieldDrift {
            path: FieldPath::parse("spec.replicas").unwrap(),
            desired: Some(json!(2)),
            live: Some(json!(5)),
            owner: Some(FieldOwner {
                manager: "kubectl-scale".into(),
                operation: "Update".into(),
                time: Some(crate::timefmt::rfc3339(1_790_000_000 - 300)),
            }),
            owner_is_applier: false,
            commit: None,
            cause: Some(Cause::ManualEdit),
            git_note: None,
        },
        FieldDrift {
            path: FieldPath::parse("spec.template.spec.containers[name=web].image").unwrap(),
            desired: Some(json!("ghcr.io/example/web:2.3.1")),
            live: Some(json!("ghcr.io/example/web:2.3.1-hotfix1")),
            owner: Some(FieldOwner {
                manager: "kdrift".into(),
                operation: "Apply".into(),
                time: Some(crate::timefmt::rfc3339(1_790_000_000 - 7200)),
            }),
            owner_is_applier: true,
            commit: Some(CommitRef {
                id: "e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d".into(),
                author: "Bob Dev".into(),
                time: 1_790_000_000 - 600,
                summary: "web: release 2.3.1".into(),
                file: "apps/shop/web.yaml".into(),
                line: 21,
            }),
            cause: Some(Cause::NotYetApplied),
            git_note: None,
        },
    ];
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"}, "spec": {"ports": [{"port": 80}]}});
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "flags", "namespace": "shop"}, "data": {"OLD": "true"}});
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "data"}, "data": {"password": "<secret sha256:1a2b3c4d>"}});
    let mut invalid = entry(
        "",
        "ConfigMap",
        "data",
        "broken",
        DriftStatus::Invalid,
        Some("apps/data/broken.yaml"),
        None,
        None,
    );
    invalid.reason = Some("apps/data/broken.yaml:3: mapping values are not allowed here".into());
    let mut unknown = entry(
        "example.com",
        "Widget",
        "data",
        "w1",
        DriftStatus::Unknown,
        Some("apps/data/widget.yaml"),
        Some(json!({"kind": "Widget"})),
        None,
    );
    unknown.reason = Some("kind not served by the cluster".into());
    let mut entries = vec![
        web,
        entry(
            "",
            "Service",
            "shop",
            "web",
            DriftStatus::Synced,
            Some("apps/shop/web.yaml"),
            Some(svc.clone()),
            Some(svc),
        ),
        entry(
            "",
            "ConfigMap",
            "shop",
            "flags",
            DriftStatus::Extra,
            None,
            None,
            Some(cm),
        ),
        entry(
            "",
            "Secret",
            "data",
            "db",
            DriftStatus::Missing,
            Some("apps/data/db.yaml"),
            Some(secret),
            None,
        ),
        invalid,
        unknown,
        entry(
            "",
            "Namespace",
            "",
            "shop",
            DriftStatus::Synced,
            Some("namespaces.yaml"),
            Some(json!({"kind": "Namespace"})),
            Some(json!({"kind": "Namespace"})),
        ),
    ];
    entries.sort_by(|a, b| a.key.cmp(&b.key));
    DriftReport::from(entries)
}

/// An explorer of `w`x`h` before any report, on repository `repo`.
fn unloaded_at(w: u16, h: u16, repo: &str) -> AppState {
    let header = Header {
        context: "kind-staging".into(),
        server: "https://127.0.0.1:6443".into(),
        repo: repo.into(),
        revision: RevisionInfo::default(),
        server_mode: false,
    };
    let mut s = AppState::new(
        crate::config::default_keymap(),
        Look {
            ascii: false,
            color: true,
            notify: Notify::Off,
        },
        header,
        t0(),
    );
    update(&mut s, Msg::Resize(w, h));
    s
}

fn state(w: u16, h: u16) -> AppState {
    with_report(unloaded_at(w, h, "/src/gitops"), report())
}

/// `s` after a report of `report` at the test commit, connected.
fn with_report(mut s: AppState, report: DriftReport) -> AppState {
    update(
        &mut s,
        Msg::Report(Box::new(ReportUpdate {
            body: ReportBody::Full(report),
            revision: RevisionInfo {
                spec: "HEAD".into(),
                commit: "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678".into(),
                short: "a1b2c3d".into(),
                subject: "shop: raise web memory".into(),
                branch: Some("main".into()),
                ..RevisionInfo::default()
            },
            live: LiveState::Connected {
                freshest: t0() - Duration::from_secs(3),
            },
        })),
    );
    s
}

/// A new report, from the same revision and live state as the last.
fn push_report(s: &mut AppState, report: DriftReport) -> Vec<Effect> {
    let revision = s.header.revision.clone();
    let live = s.live.clone();
    update(
        s,
        Msg::Report(Box::new(ReportUpdate {
            body: ReportBody::Full(report),
            revision,
            live,
        })),
    )
}

fn keys(s: &mut AppState, keys: &[Key]) -> Vec<Effect> {
    let mut effects = Vec::new();
    for k in keys {
        effects.extend(update(s, Msg::Key(*k)));
    }
    effects
}

fn chars(text: &str) -> Vec<Key> {
    text.chars().map(Key::Char).collect()
}

fn screen(s: &AppState) -> String {
    let mut terminal = Terminal::new(TestBackend::new(s.size.0, s.size.1)).unwrap();
    terminal.draw(|f| crate::ui::draw(f, s)).unwrap();
    terminal.backend().to_string()
}

fn find_row(s: &AppState, id: &str) -> usize {
    s.rows
        .iter()
        .position(|r| r.id == id)
        .unwrap_or_else(|| panic!("no row {id}"))
}

fn select_resource(s: &mut AppState, key: &str) {
    let i = find_row(s, &format!("res:{key}"));
    s.select(i);
}

#[test]
fn tree_80x24() {
    let s = state(80, 24);
    insta::assert_snapshot!(screen(&s));
}

#[test]
fn tree_120x40_with_detail_of_a_drifted_resource() {
    let mut s = state(120, 40);
    select_resource(&mut s, "apps/Deployment/shop/web");
    insta::assert_snapshot!(screen(&s));
}

#[test]
fn tree_grouped_by_folder() {
    let mut s = state(80, 24);
    // `g` alone waits for a second key, then toggles grouping when none comes.
    keys(&mut s, &[Key::Char('g')]);
    assert_eq!(s.grouping, tree::Grouping::Namespace);
    update(&mut s, Msg::Tick(t0() + Duration::from_secs(1)));
    assert_eq!(s.grouping, tree::Grouping::Folder);
    insta::assert_snapshot!(screen(&s));
}

/// The report of `state` with apps (shop's resources are app `shop`, the rest none) and a
/// hook, grouped by app with `g` twice (each after a pause).
fn apps_state(w: u16, h: u16) -> AppState {
    let s = unloaded_at(w, h, "/src/gitops");
    let mut r = report();
    for e in &mut r.entries {
        if e.key.namespace == "shop" {
            Arc::make_mut(e).app = Some("shop".into());
        }
    }
    let mut hook = entry(
        "batch",
        "Job",
        "shop",
        "migrate",
        DriftStatus::Hook,
        Some("charts/shop/templates/migrate.yaml"),
        Some(json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate"}})),
        None,
    );
    hook.app = Some("shop".into());
    hook.reason =
        Some("Helm hook pre-upgrade: run around an install, upgrade or sync, not compared".into());
    r.entries.push(hook.into());
    r.entries.sort_by(|a, b| a.key.cmp(&b.key));
    let mut s = with_report(s, r);
    for second in 1..=2 {
        keys(&mut s, &[Key::Char('g')]);
        update(&mut s, Msg::Tick(t0() + Duration::from_secs(second)));
    }
    assert_eq!(s.grouping, tree::Grouping::App);
    s
}

#[test]
fn tree_grouped_by_app_80x24_and_40x10() {
    let s = apps_state(80, 24);
    insta::assert_snapshot!("tree_by_app_80x24", screen(&s));
    let s = apps_state(40, 10);
    insta::assert_snapshot!("tree_by_app_40x10", screen(&s));
    // A third `g` goes back to namespaces.
    let mut s = apps_state(80, 24);
    keys(&mut s, &[Key::Char('g')]);
    update(&mut s, Msg::Tick(t0() + Duration::from_secs(3)));
    assert_eq!(s.grouping, tree::Grouping::Namespace);
}

#[test]
fn gg_goes_to_the_top_and_g_after_a_pause_does_not() {
    let mut s = state(80, 24);
    keys(&mut s, &[Key::Char('G')]);
    assert_eq!(s.selected, s.rows.len() - 1);
    keys(&mut s, &[Key::Char('g'), Key::Char('g')]);
    assert_eq!(s.selected, 0);
    assert_eq!(s.grouping, tree::Grouping::Namespace);
    // `g` then `j`: grouping toggles, then the cursor moves.
    keys(&mut s, &[Key::Char('g'), Key::Char('j')]);
    assert_eq!(s.grouping, tree::Grouping::Folder);
    assert_eq!(s.selected, 1);
}

#[test]
fn filtered_drifted_then_one_status() {
    let mut s = state(80, 24);
    keys(&mut s, &[Key::Char('f')]);
    assert_eq!(s.filter, tree::Filter::Drifted);
    insta::assert_snapshot!("filter_drifted", screen(&s));
    keys(&mut s, &[Key::Char('f')]);
    assert_eq!(s.filter, tree::Filter::NotConverged);
    keys(&mut s, &[Key::Char('f')]);
    assert_eq!(s.filter, tree::Filter::Only(DriftStatus::OutOfSync));
    insta::assert_snapshot!("filter_out_of_sync", screen(&s));
}

#[test]
fn search_jumps_and_highlights_and_esc_clears() {
    let mut s = state(80, 24);
    let mut input = vec![Key::Char('/')];
    input.extend(chars("flags"));
    keys(&mut s, &input);
    assert_eq!(s.selected_entry().unwrap().key.name, "flags");
    insta::assert_snapshot!("search_typing", screen(&s));
    keys(&mut s, &[Key::Enter]);
    assert!(!s.search.editing);
    // `n` wraps round to the only match again; a query for "web" has two.
    keys(&mut s, &[Key::Char('/')]);
    keys(&mut s, &chars("web"));
    keys(&mut s, &[Key::Enter]);
    let first = s.selected_entry().unwrap().key.clone();
    keys(&mut s, &[Key::Char('n')]);
    let second = s.selected_entry().unwrap().key.clone();
    assert_ne!(first, second);
    keys(&mut s, &[Key::Char('N')]);
    assert_eq!(s.selected_entry().unwrap().key, first);
    keys(&mut s, &[Key::Esc]);
    assert!(s.search.query.is_empty());
}

#[test]
fn search_unfolds_collapsed_groups() {
    let mut s = state(80, 24);
    let shop = find_row(&s, "ns:shop");
    s.select(shop);
    keys(&mut s, &[Key::Char('h')]);
    assert!(s.collapsed.contains("ns:shop"));
    keys(&mut s, &[Key::Char('/')]);
    keys(&mut s, &chars("flags"));
    assert!(!s.collapsed.contains("ns:shop"));
    assert_eq!(s.selected_entry().unwrap().key.name, "flags");
}

#[test]
fn diff_side_by_side_unified_and_whole() {
    let mut s = state(120, 40);
    select_resource(&mut s, "apps/Deployment/shop/web");
    keys(&mut s, &[Key::Enter]);
    assert_eq!(s.screen, Screen::Diff);
    insta::assert_snapshot!("diff_side_by_side", screen(&s));
    keys(&mut s, &[Key::Char('u')]);
    insta::assert_snapshot!("diff_unified", screen(&s));
    keys(&mut s, &[Key::Char('u'), Key::Char('c')]);
    insta::assert_snapshot!("diff_whole", screen(&s));
    // `]` moves to the next hunk in compact mode (on a screen too short for all of it).
    keys(&mut s, &[Key::Char('c')]);
    update(&mut s, Msg::Resize(80, 12));
    let before = s.diff.as_ref().unwrap().scroll;
    keys(&mut s, &[Key::Char(']')]);
    assert!(s.diff.as_ref().unwrap().scroll > before);
    keys(&mut s, &[Key::Esc]);
    assert_eq!(s.screen, Screen::Tree);
}

#[test]
fn diff_80x24_wraps_and_scrolls_horizontally() {
    let mut s = state(80, 24);
    select_resource(&mut s, "apps/Deployment/shop/web");
    keys(&mut s, &[Key::Enter]);
    insta::assert_snapshot!("diff_80", screen(&s));
    keys(&mut s, &[Key::Char('l')]);
    assert_eq!(s.diff.as_ref().unwrap().hscroll, 8);
    keys(&mut s, &[Key::Char('h'), Key::Char('w')]);
    insta::assert_snapshot!("diff_80_wrapped", screen(&s));
}

#[test]
fn every_status_has_its_diff() {
    for (key, name) in [
        ("/Secret/data/db", "diff_missing_secret_masked"),
        ("/ConfigMap/shop/flags", "diff_extra"),
        ("/ConfigMap/data/broken", "diff_invalid"),
        ("example.com/Widget/data/w1", "diff_unknown"),
        ("/Service/shop/web", "diff_synced"),
    ] {
        let mut s = state(80, 24);
        select_resource(&mut s, key);
        keys(&mut s, &[Key::Enter]);
        insta::assert_snapshot!(name, screen(&s));
    }
}

#[test]
fn help_is_generated_from_the_key_map() {
    let mut s = state(80, 40);
    keys(&mut s, &[Key::Char('?')]);
    let text = screen(&s);
    assert!(
        !text.contains("toggle_grouping") && text.contains("group by namespace"),
        "{text}"
    );
    insta::assert_snapshot!("help", text);
    keys(&mut s, &[Key::Esc]);
    assert_eq!(s.screen, Screen::Tree);
}

#[test]
fn status_colours_carry_meaning() {
    let s = state(80, 24);
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal.draw(|f| crate::ui::draw(f, &s)).unwrap();
    let buf = terminal.backend().buffer().clone();
    let row = find_row(&s, "res:apps/Deployment/shop/web") - s.offset + 2;
    let glyph = (0..80)
        .map(|x| &buf[(x, row as u16)])
        .find(|c| c.symbol() == "≠")
        .expect("glyph");
    assert_eq!(glyph.fg, ratatui::style::Color::Yellow);
    // NO_COLOR: no colours, and the glyphs still tell.
    let mut plain = state(80, 24);
    plain.look.color = false;
    terminal.draw(|f| crate::ui::draw(f, &plain)).unwrap();
    let buf = terminal.backend().buffer().clone();
    assert!(buf
        .content()
        .iter()
        .all(|c| c.fg == ratatui::style::Color::Reset));
}

#[test]
fn ascii_glyphs() {
    let mut s = state(80, 24);
    s.look.ascii = true;
    let text = screen(&s);
    assert!(
        !text.contains('≠') && !text.contains('✓') && text.contains('~'),
        "{text}"
    );
}

#[test]
fn live_updates_keep_selection_and_announce() {
    let mut s = state(80, 24);
    select_resource(&mut s, "/Service/shop/web");
    let offset = s.offset;
    let mut r = report();
    for e in &mut r.entries {
        if e.key.kind == "Service" {
            Arc::make_mut(e).status = DriftStatus::OutOfSync;
        }
    }
    update(
        &mut s,
        Msg::Report(Box::new(ReportUpdate {
            body: ReportBody::Full(r),
            revision: RevisionInfo {
                commit: "e4f5a6b7".into(),
                short: "e4f5a6b".into(),
                subject: "bump".into(),
                ..RevisionInfo::default()
            },
            live: LiveState::Connected { freshest: t0() },
        })),
    );
    assert_eq!(s.selected_entry().unwrap().key.kind, "Service");
    assert_eq!(s.offset, offset);
    assert!(
        s.log
            .iter()
            .any(|l| l.text == "HEAD a1b2c3d → e4f5a6b bump"),
        "{:?}",
        s.log
    );
    assert!(
        s.log
            .iter()
            .any(|l| l.text == "Service/web -n shop: now out-of-sync"),
        "{:?}",
        s.log
    );
    keys(&mut s, &[Key::Char('L')]);
    insta::assert_snapshot!("event_log", screen(&s));
}

#[test]
fn mouse_click_selects_and_wheel_scrolls() {
    let mut s = state(80, 24);
    update(&mut s, Msg::Mouse(MouseMsg::Click { column: 10, row: 5 }));
    assert_eq!(s.selected, 3);
    update(&mut s, Msg::Mouse(MouseMsg::ScrollDown));
    assert_eq!(s.selected, 6);
}

#[test]
fn marks_survive_filtering_and_s_previews_them() {
    let mut s = state(80, 24);
    select_resource(&mut s, "apps/Deployment/shop/web");
    keys(&mut s, &[Key::Char(' ')]);
    assert_eq!(s.marks.len(), 1);
    keys(&mut s, &[Key::Char('f'), Key::Char('f'), Key::Char('f')]);
    assert_eq!(s.marks.len(), 1);
    let effects = keys(&mut s, &[Key::Char('s')]);
    assert_eq!(
        effects,
        vec![Effect::Sync(sync_dialog::SyncEffect::Preview(vec![
            ResourceKey::new("apps", "Deployment", "shop", "web")
        ]))]
    );
}

#[test]
fn mark_group_marks_only_that_groups_drifted_resources() {
    let mut s = state(80, 24);
    let shop = find_row(&s, "ns:shop");
    s.select(shop);
    keys(&mut s, &[Key::Char('S')]);
    // web (out-of-sync) only: the extra ConfigMap is not synced, the Service is synced.
    assert_eq!(
        s.marks.iter().cloned().collect::<Vec<_>>(),
        vec![ResourceKey::new("apps", "Deployment", "shop", "web")]
    );
}

fn plan() -> crate::sync::SyncPlan {
    use crate::sync::*;
    SyncPlan {
        context: "kind-staging".into(),
        server: "https://127.0.0.1:6443".into(),
        revision: "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678".into(),
        items: vec![
            PlanItem {
                key: ResourceKey::new("apps", "Deployment", "shop", "web"),
                api_version: "apps/v1".into(),
                action: PlanAction::Update,
                manifest: json!({}),
                live_version: Some("41".into()),
                changes: vec![FieldChange {
                    path: "spec.replicas".into(),
                    before: Some("5".into()),
                    after: Some("2".into()),
                }],
                conflicts: vec![Conflict {
                    manager: "kubectl-scale".into(),
                    fields: vec![".spec.replicas".into()],
                }],
                error: None,
                note: None,
                after_crd: None,
            },
            PlanItem {
                key: ResourceKey::new("", "ConfigMap", "shop", "web-config"),
                api_version: "v1".into(),
                action: PlanAction::Update,
                manifest: json!({}),
                live_version: Some("42".into()),
                changes: vec![FieldChange {
                    path: "data.LOG_LEVEL".into(),
                    before: Some("debug".into()),
                    after: Some("info".into()),
                }],
                conflicts: vec![],
                error: None,
                note: None,
                after_crd: None,
            },
        ],
    }
}

/// A plan of `n` updates, each changing a few fields.
fn long_plan(n: usize) -> crate::sync::SyncPlan {
    let mut p = plan();
    let template = p.items[1].clone();
    p.items = (0..n)
        .map(|i| {
            let mut item = template.clone();
            item.key = ResourceKey::new("", "ConfigMap", "shop", &format!("config-{i:02}"));
            item.changes = (0..3)
                .map(|f| crate::sync::FieldChange {
                    path: format!("data.KEY_{f}"),
                    before: Some(format!("old value {f} of config {i}")),
                    after: Some(format!("new value {f} of config {i}")),
                })
                .collect();
            item
        })
        .collect();
    p
}

#[test]
fn the_confirmation_states_each_outcome_and_counts_match() {
    let mut s = state(100, 30);
    previewed(&mut s);
    let text = screen(&s);
    // The conflicting resource is not counted as a write, and says so before `y`.
    assert!(text.contains("confirm sync: 1 to write"), "{text}");
    assert!(
        text.contains("1 to update, 1 will not be written"),
        "{text}"
    );
    assert!(
        text.contains("WILL NOT BE WRITTEN Deployment/web -n shop"),
        "{text}"
    );
    assert!(text.contains("y: apply 1 to kind-staging"), "{text}");
    // Force writes both, and its dialog lists both.
    keys(&mut s, &[Key::Char('f')]);
    let text = screen(&s);
    assert!(text.contains("confirm force: 2 to write"), "{text}");
    assert!(text.contains("2 to update"), "{text}");
    assert!(text.contains("y: force-apply 2 to kind-staging"), "{text}");
    // Only conflicting resources: nothing to apply without force, and `y` writes nothing.
    let mut only = plan();
    only.items.truncate(1);
    s.sync.dialog = Dialog::Working("previewing…".into());
    update(&mut s, Msg::Sync(SyncMsg::Previewed(only)));
    let text = screen(&s);
    assert!(text.contains("confirm sync: 0 to write"), "{text}");
    assert!(
        text.contains("nothing can be written without force"),
        "{text}"
    );
    assert!(keys(&mut s, &[Key::Char('y')]).is_empty());
    assert_eq!(s.sync.dialog, Dialog::Closed);
}

#[test]
fn long_confirmations_wrap_scroll_and_say_what_is_hidden() {
    for (w, h) in [(80, 24), (40, 10), (200, 60)] {
        let mut s = state(w, h);
        s.sync.dialog = Dialog::Working("previewing…".into());
        update(&mut s, Msg::Sync(SyncMsg::Previewed(long_plan(20))));
        let first = screen(&s);
        // The question and the context show at every size, and the rest is announced.
        assert!(first.contains("kind-staging"), "{w}x{h}\n{first}");
        assert!(first.contains("y: apply 20"), "{w}x{h}\n{first}");
        assert!(first.contains("more lines"), "{w}x{h}\n{first}");
        // Scrolling reaches every line: the last resource's last change, whole.
        for _ in 0..500 {
            keys(&mut s, &[Key::Char('j')]);
        }
        let last = screen(&s);
        assert!(last.contains("config 19"), "{w}x{h}\n{last}");
        assert!(last.contains("new value 2 of"), "{w}x{h}\n{last}");
        assert!(!last.contains("more lines"), "{w}x{h}\n{last}");
        assert!(last.contains("above"), "{w}x{h}\n{last}");
        // The scroll stops at the end: one `k` shows one more line at the top.
        keys(&mut s, &[Key::Char('k')]);
        assert!(
            screen(&s).contains("↓1 more lines"),
            "{w}x{h}\n{}",
            screen(&s)
        );
        if (w, h) == (80, 24) {
            insta::assert_snapshot!("sync_long_80x24_end", last);
        }
        if (w, h) == (40, 10) {
            insta::assert_snapshot!("sync_long_40x10", first);
        }
    }
}

#[test]
fn confirmation_wraps_long_values_instead_of_cutting_them() {
    let mut p = plan();
    p.items[1].changes[0].after = Some(format!("{}END", "x".repeat(150)));
    let mut s = state(200, 40);
    s.sync.dialog = Dialog::Working("previewing…".into());
    update(&mut s, Msg::Sync(SyncMsg::Previewed(p)));
    let text = screen(&s);
    assert!(text.contains("END"), "{text}");
}

#[test]
fn results_name_what_was_not_written() {
    use crate::sync::{ItemResult, SyncOutcome};
    let mut s = state(80, 24);
    s.sync.dialog = Dialog::Working("applying…".into());
    update(
        &mut s,
        Msg::Sync(SyncMsg::Applied(vec![
            SyncOutcome {
                key: ResourceKey::new("apps", "Deployment", "shop", "web"),
                action: "update".into(),
                result: ItemResult::Conflict("kubectl-scale owns .spec.replicas".into()),
            },
            SyncOutcome {
                key: ResourceKey::new("", "ConfigMap", "shop", "web-config"),
                action: "update".into(),
                result: ItemResult::Applied,
            },
        ])),
    );
    let text = screen(&s);
    assert!(
        text.contains("sync result: 1 NOT WRITTEN, 1 updated"),
        "{text}"
    );
    assert!(
        text.contains("NOT WRITTEN Deployment/web -n shop"),
        "{text}"
    );
    assert!(!text.contains("update      Deployment/web"), "{text}");
    insta::assert_snapshot!("sync_results_80x24", text);
}

/// The dialog as it is while kdrift waits for the dry run.
fn previewed(s: &mut AppState) {
    s.sync.dialog = Dialog::Working("previewing…".into());
    update(s, Msg::Sync(SyncMsg::Previewed(plan())));
}

#[test]
fn esc_stops_waiting_and_a_late_preview_is_dropped() {
    let mut s = state(100, 30);
    select_resource(&mut s, "apps/Deployment/shop/web");
    keys(&mut s, &[Key::Char('s')]);
    assert!(matches!(s.sync.dialog, Dialog::Working(_)));
    keys(&mut s, &[Key::Esc]);
    assert_eq!(s.sync.dialog, Dialog::Closed);
    update(&mut s, Msg::Sync(SyncMsg::Previewed(plan())));
    assert_eq!(s.sync.dialog, Dialog::Closed);
}

#[test]
fn confirm_dialog_names_the_context_and_needs_y() {
    let mut s = state(100, 30);
    previewed(&mut s);
    insta::assert_snapshot!("sync_confirm", screen(&s));
    // Anything else cancels.
    keys(&mut s, &[Key::Char('x')]);
    assert_eq!(s.sync.dialog, Dialog::Closed);
    previewed(&mut s);
    let effects = keys(&mut s, &[Key::Char('y')]);
    assert_eq!(
        effects,
        vec![Effect::Sync(sync_dialog::SyncEffect::Apply {
            plan: plan(),
            force: false
        })]
    );
}

#[test]
fn force_is_a_second_confirmation() {
    let mut s = state(100, 30);
    previewed(&mut s);
    assert!(keys(&mut s, &[Key::Char('f')]).is_empty());
    insta::assert_snapshot!("sync_force", screen(&s));
    let effects = keys(&mut s, &[Key::Char('y')]);
    assert_eq!(
        effects,
        vec![Effect::Sync(sync_dialog::SyncEffect::Apply {
            plan: plan(),
            force: true
        })]
    );
}

#[test]
fn protected_contexts_need_the_typed_name() {
    let mut s = state(100, 30);
    s.sync.protected = true;
    previewed(&mut s);
    // `y` is just a letter of the name here: nothing is applied, and Enter with a wrong
    // name cancels.
    assert!(keys(&mut s, &[Key::Char('y')]).is_empty());
    assert!(matches!(&s.sync.dialog, Dialog::Confirm { typed, .. } if typed == "y"));
    assert!(keys(&mut s, &[Key::Enter]).is_empty());
    assert_eq!(s.sync.dialog, Dialog::Closed);
    previewed(&mut s);
    let mut input = chars("kind-staging");
    input.push(Key::Enter);
    let effects = keys(&mut s, &input);
    assert_eq!(
        effects,
        vec![Effect::Sync(sync_dialog::SyncEffect::Apply {
            plan: plan(),
            force: false
        })]
    );
}

#[test]
fn read_only_hides_and_refuses_writes() {
    let mut s = state(80, 24);
    s.read_only = true;
    select_resource(&mut s, "apps/Deployment/shop/web");
    assert!(keys(&mut s, &[Key::Char('s'), Key::Char(' '), Key::Char('D')]).is_empty());
    assert!(s.marks.is_empty());
    let text = screen(&s);
    assert!(text.contains("READ-ONLY"), "{text}");
    insta::assert_snapshot!("read_only", text);
}

#[test]
fn prune_needs_the_typed_name() {
    let mut s = state(80, 24);
    select_resource(&mut s, "/ConfigMap/shop/flags");
    let effects = keys(&mut s, &[Key::Char('D')]);
    assert_eq!(
        effects,
        vec![Effect::Sync(sync_dialog::SyncEffect::PrepareDelete(
            ResourceKey::new("", "ConfigMap", "shop", "flags")
        ))]
    );
    update(
        &mut s,
        Msg::Sync(SyncMsg::DeleteReady {
            key: ResourceKey::new("", "ConfigMap", "shop", "flags"),
            version: "7".into(),
        }),
    );
    let mut input = chars("flags");
    input.push(Key::Enter);
    let effects = keys(&mut s, &input);
    assert_eq!(
        effects,
        vec![Effect::Sync(sync_dialog::SyncEffect::Delete {
            key: ResourceKey::new("", "ConfigMap", "shop", "flags"),
            version: "7".into()
        })]
    );
    // D on a resource in Git is refused at once.
    select_resource(&mut s, "apps/Deployment/shop/web");
    s.sync.dialog = Dialog::Closed;
    assert!(keys(&mut s, &[Key::Char('D')]).is_empty());
}

#[test]
fn a_10000_resource_tree_renders_only_what_shows() {
    let mut entries = Vec::new();
    for i in 0..10_000 {
        entries.push(entry(
            "",
            "ConfigMap",
            &format!("ns-{:02}", i % 20),
            &format!("cm-{i:05}"),
            if i % 7 == 0 {
                DriftStatus::OutOfSync
            } else {
                DriftStatus::Synced
            },
            Some("x.yaml"),
            None,
            None,
        ));
    }
    entries.sort_by(|a, b| a.key.cmp(&b.key));
    let mut s = state(80, 24);
    let revision = s.header.revision.clone();
    update(
        &mut s,
        Msg::Report(Box::new(ReportUpdate {
            body: ReportBody::Full(DriftReport::from(entries)),
            revision,
            live: LiveState::Connected { freshest: t0() },
        })),
    );
    keys(&mut s, &[Key::Char('G')]);
    assert_eq!(s.selected, s.rows.len() - 1);
    let text = screen(&s);
    assert!(text.contains("cm-09999"), "{text}");
}

#[test]
fn a_git_problem_stays_in_the_main_area_until_git_can_be_read() {
    for (w, h) in [(80, 24), (40, 10)] {
        let mut s = unloaded_at(w, h, "/src/not-a-repo");
        update(
            &mut s,
            Msg::GitProblem(Some(
                "no Git repository at /src/not-a-repo: not found. run kdrift inside a Git \
                 repository, or name one with --repo PATH"
                    .into(),
            )),
        );
        // Long after the announcement has faded, the problem is still on screen.
        update(&mut s, Msg::Tick(t0() + Duration::from_secs(60)));
        insta::assert_snapshot!(format!("git_problem_{w}x{h}"), screen(&s));
        assert!(screen(&s).contains("--repo"), "{}", screen(&s));
        update(&mut s, Msg::GitProblem(None));
        assert!(!screen(&s).contains("--repo"));
    }
    // Above the rows of the last revision read, when there is one.
    let mut s = state(80, 24);
    update(
        &mut s,
        Msg::GitProblem(Some("cannot read revision \"nope\": not found. name a revision that exists with --rev (a branch, tag, commit or HEAD~N)".into())),
    );
    insta::assert_snapshot!("git_problem_above_rows", screen(&s));
}

#[test]
fn q_goes_back_from_a_sub_view_and_quits_from_the_tree_ctrl_c_quits_anywhere() {
    let mut s = state(80, 24);
    select_resource(&mut s, "apps/Deployment/shop/web");
    keys(&mut s, &[Key::Enter]);
    assert_eq!(s.screen, Screen::Diff);
    assert!(keys(&mut s, &[Key::Char('q')]).is_empty());
    assert_eq!(s.screen, Screen::Tree);
    keys(&mut s, &[Key::Char('?')]);
    assert_eq!(s.screen, Screen::Help);
    assert!(keys(&mut s, &[Key::Char('q')]).is_empty());
    assert_eq!(s.screen, Screen::Tree);
    keys(&mut s, &[Key::Char('L')]);
    assert_eq!(keys(&mut s, &[Key::Ctrl('c')]), vec![Effect::Quit]);
    assert!(keys(&mut s, &[Key::Char('q')]).is_empty());
    assert_eq!(s.screen, Screen::Tree);
    assert_eq!(keys(&mut s, &[Key::Char('q')]), vec![Effect::Quit]);
}

#[test]
fn ascii_draws_only_ascii_and_folds_unlike_statuses() {
    for (w, h) in [(80, 24), (40, 10)] {
        let mut s = state(w, h);
        s.look.ascii = true;
        let tree = screen(&s);
        assert!(tree.is_ascii(), "{tree}");
        assert!(tree.contains("v =h (cluster-scoped)"), "{tree}");
        select_resource(&mut s, "apps/Deployment/shop/web");
        keys(&mut s, &[Key::Enter]);
        let diff = screen(&s);
        assert!(diff.is_ascii(), "{diff}");
        // The detail below, the help with its legend, a long dialog, the Events view.
        keys(&mut s, &[Key::Char('i')]);
        let detail = screen(&s);
        assert!(detail.is_ascii(), "{detail}");
        keys(&mut s, &[Key::Char('?'), Key::Char('G')]);
        let help = screen(&s);
        assert!(help.is_ascii(), "{help}");
        keys(&mut s, &[Key::Char('q')]);
        s.sync.dialog = Dialog::Working("previewing…".into());
        update(&mut s, Msg::Sync(SyncMsg::Previewed(long_plan(20))));
        keys(&mut s, &[Key::Char('j')]);
        let dialog = screen(&s);
        assert!(dialog.is_ascii(), "{dialog}");
        s.sync.dialog = Dialog::Closed;
        if w == 80 {
            insta::assert_snapshot!("ascii_tree_80x24", tree);
        }
    }
}

#[test]
fn a_filter_keeps_the_selection_on_the_same_or_the_nearest_resource() {
    let mut s = state(80, 24);
    select_resource(&mut s, "/Service/shop/web");
    keys(&mut s, &[Key::Char('f')]);
    assert_eq!(s.filter, tree::Filter::Drifted);
    // The Service is hidden; the selection is on its nearest shown neighbour, not on
    // whatever resource now stands on its screen row.
    let row = s.selected_row().map(|r| r.id.clone()).unwrap();
    assert_eq!(
        row,
        tree::resource_id(&ResourceKey::new("apps", "Deployment", "shop", "web"))
    );
    // A resource the filter still shows keeps the selection.
    let mut s = state(80, 24);
    select_resource(&mut s, "apps/Deployment/shop/web");
    keys(&mut s, &[Key::Char('f')]);
    let row = s.selected_row().map(|r| r.id.clone()).unwrap();
    assert_eq!(
        row,
        tree::resource_id(&ResourceKey::new("apps", "Deployment", "shop", "web"))
    );
}

#[test]
fn n_says_when_the_search_wraps_around() {
    let mut s = state(80, 24);
    keys(&mut s, &[Key::Char('/')]);
    keys(&mut s, &chars("web"));
    keys(&mut s, &[Key::Enter]);
    let first = s.selected_row().unwrap().id.clone();
    keys(&mut s, &[Key::Char('n')]);
    assert!(s.toast.is_none() || !s.toast.as_ref().unwrap().0.contains("wrapped"));
    keys(&mut s, &[Key::Char('n')]);
    assert_eq!(s.selected_row().unwrap().id, first);
    let toast = s.toast.as_ref().map(|t| t.0.clone()).unwrap_or_default();
    assert!(toast.contains("wrapped to the top"), "{toast}");
}

#[test]
fn j_and_k_in_the_diff_step_through_drifted_resources_without_leaving() {
    let mut s = state(80, 24);
    select_resource(&mut s, "apps/Deployment/shop/web");
    keys(&mut s, &[Key::Enter]);
    keys(&mut s, &[Key::Char('K')]);
    assert_eq!(s.screen, Screen::Diff);
    let key = s.diff.as_ref().unwrap().key.to_string();
    assert_eq!(key, "/ConfigMap/shop/flags");
    assert_eq!(
        s.selected_row().unwrap().id,
        tree::resource_id(&ResourceKey::new("", "ConfigMap", "shop", "flags"))
    );
    keys(&mut s, &[Key::Char('J')]);
    assert_eq!(
        s.diff.as_ref().unwrap().key.to_string(),
        "apps/Deployment/shop/web"
    );
    // The Service after it is synced: nothing further, and the diff stays.
    keys(&mut s, &[Key::Char('J')]);
    assert_eq!(
        s.diff.as_ref().unwrap().key.to_string(),
        "apps/Deployment/shop/web"
    );
    assert!(s
        .toast
        .as_ref()
        .unwrap()
        .0
        .contains("no drifted resource after"));
}

#[test]
fn folding_redraws_after_input_and_on_the_second_but_not_for_an_idle_tick() {
    let mut s = unloaded_at(80, 24, "repo");
    let half = t0() + Duration::from_millis(500);
    let idle = fold(&mut s, Msg::Tick(half), half, false);
    assert_eq!(
        idle,
        Folded {
            effects: vec![],
            redraw: false
        }
    );
    assert!(
        fold(&mut s, Msg::Tick(half), half, true).redraw,
        "ages move once a second"
    );
    assert!(fold(&mut s, Msg::Key(Key::Char('j')), half, false).redraw);
}

#[test]
fn folding_resolves_a_timed_out_key_sequence_with_the_clock_it_is_given() {
    let mut s = unloaded_at(80, 24, "repo");
    // `g` waits for a second `g`.
    fold(&mut s, Msg::Key(Key::Char('g')), t0(), false);
    assert!(s.pending_deadline().is_some());
    // Before the deadline nothing resolves; after it, the tick resolves it and redraws.
    let before = t0() + SEQUENCE_TIMEOUT / 2;
    fold(&mut s, Msg::Tick(before), before, false);
    assert!(s.pending_deadline().is_some());
    let after = t0() + SEQUENCE_TIMEOUT * 2;
    let f = fold(&mut s, Msg::Tick(after), after, false);
    assert!(f.redraw);
    assert!(s.pending_deadline().is_none());
}

#[test]
fn i_shows_the_detail_below_the_tree_at_80x24_and_40x10() {
    for (w, h, name) in [
        (80, 24, "detail_below_80x24"),
        (40, 10, "detail_below_40x10"),
    ] {
        let mut s = state(w, h);
        select_resource(&mut s, "apps/Deployment/shop/web");
        assert!(!screen(&s).contains("drifted field"), "{w}x{h}");
        keys(&mut s, &[Key::Char('i')]);
        let text = screen(&s);
        assert!(text.contains("detail (i hides)"), "{w}x{h}\n{text}");
        if (w, h) == (80, 24) {
            // Who changed what, with which commit, without a resize.
            assert!(text.contains("kubectl-scale"), "{text}");
            assert!(text.contains("e4f5a6b Bob Dev"), "{text}");
        }
        // The selection stays visible in the smaller tree.
        let tree_rows = usize::from(layout::areas_of(&s).tree.height);
        assert!(s.selected >= s.offset && s.selected < s.offset + tree_rows);
        insta::assert_snapshot!(name, text);
        keys(&mut s, &[Key::Char('i')]);
        assert!(!screen(&s).contains("detail (i hides)"));
    }
}

#[test]
fn the_breadcrumb_names_where_the_cursor_is() {
    let mut s = state(80, 24);
    select_resource(&mut s, "apps/Deployment/shop/web");
    let text = screen(&s);
    let n = s.rows.len();
    assert!(
        text.contains("shop › Deployment › web")
            && text.contains(&format!(" {}/{n} ", s.selected + 1)),
        "{text}"
    );
}

#[test]
fn the_status_bar_marks_what_it_cuts() {
    let mut s = state(60, 20);
    s.header.server = "http://127.0.0.1:18471".into();
    let text = screen(&s);
    let first = text.lines().next().unwrap();
    assert!(
        first.contains("http://127.0.0.1:18471") || first.contains('…'),
        "{first}"
    );
    assert!(!first.contains("…:1847\""), "{first}");
    let mut s = state(40, 10);
    s.header.server = "http://127.0.0.1:18471".into();
    let first = screen(&s).lines().next().unwrap().to_string();
    assert!(first.contains('…'), "{first}");
}

#[test]
fn command_mode_limits_the_namespace_completes_and_quits() {
    let mut s = state(80, 24);
    keys(&mut s, &[Key::Char(':'), Key::Char('n'), Key::Tab]);
    assert_eq!(s.command.as_deref(), Some("ns "));
    keys(&mut s, &[Key::Char('s'), Key::Tab]);
    assert_eq!(s.command.as_deref(), Some("ns shop"));
    assert!(screen(&s).contains(":ns shop"));
    keys(&mut s, &[Key::Enter]);
    assert_eq!(s.namespace.as_deref(), Some("shop"));
    assert!(s
        .rows
        .iter()
        .all(|r| !r.id.contains("/data/") && r.id != "ns:data"));
    let text = screen(&s);
    assert!(text.contains("[:ns shop]"), "{text}");
    // `:ns` alone shows every namespace again.
    keys(
        &mut s,
        &[Key::Char(':'), Key::Char('n'), Key::Char('s'), Key::Enter],
    );
    assert_eq!(s.namespace, None);
    // A namespace with nothing in it is refused, and says so.
    keys(&mut s, &chars(":ns nope"));
    keys(&mut s, &[Key::Enter]);
    assert_eq!(s.namespace, None);
    assert!(s
        .current_toast()
        .unwrap()
        .contains("no resource in namespace"));
    // Esc leaves the command line without running it; :q quits.
    keys(&mut s, &chars(":q"));
    keys(&mut s, &[Key::Esc]);
    assert_eq!(s.command, None);
    keys(&mut s, &chars(":q"));
    assert_eq!(keys(&mut s, &[Key::Enter]), vec![Effect::Quit]);
}

#[test]
fn ctx_and_rev_switch_only_where_they_can() {
    let mut s = state(80, 24);
    keys(&mut s, &chars(":ctx prod"));
    assert!(keys(&mut s, &[Key::Enter]).is_empty());
    assert!(s.current_toast().unwrap().contains("not available"));
    s.can_switch = true;
    s.contexts = vec!["kind-staging".into(), "prod-eu".into(), "prod-us".into()];
    keys(&mut s, &chars(":ctx p"));
    keys(&mut s, &[Key::Tab]);
    assert_eq!(s.command.as_deref(), Some("ctx prod-"));
    assert!(s.current_toast().unwrap().contains("prod-eu  prod-us"));
    keys(&mut s, &chars("eu"));
    assert_eq!(
        keys(&mut s, &[Key::Enter]),
        vec![Effect::SwitchContext("prod-eu".into())]
    );
    keys(&mut s, &chars(":ctx nowhere"));
    assert!(keys(&mut s, &[Key::Enter]).is_empty());
    assert!(s.current_toast().unwrap().contains("no context"));
    keys(&mut s, &chars(":rev v1.2"));
    assert_eq!(
        keys(&mut s, &[Key::Enter]),
        vec![Effect::SwitchRevision("v1.2".into())]
    );
}

#[test]
fn a_restart_keeps_the_view_and_shows_nothing_of_the_old_cluster() {
    let mut s = state(80, 24);
    s.namespace = Some("shop".into());
    s.filter = Filter::Drifted;
    select_resource(&mut s, "apps/Deployment/shop/web");
    keys(&mut s, &[Key::Char(' ')]);
    s.restart(Header {
        context: "prod-eu".into(),
        server: "https://prod".into(),
        repo: "/src/gitops".into(),
        revision: RevisionInfo::default(),
        server_mode: false,
    });
    assert!(!s.loaded && s.rows.is_empty() && s.marks.is_empty());
    assert_eq!(s.filter, Filter::Drifted);
    assert_eq!(s.namespace.as_deref(), Some("shop"));
    let text = screen(&s);
    assert!(
        text.contains("prod-eu") && !text.contains("kind-staging"),
        "{text}"
    );
    assert!(!text.contains("web"), "{text}");
}

#[test]
fn y_copies_the_key_and_in_the_diff_the_field_path() {
    let mut s = state(80, 24);
    select_resource(&mut s, "apps/Deployment/shop/web");
    assert_eq!(
        keys(&mut s, &[Key::Char('y')]),
        vec![Effect::Copy("Deployment/web -n shop".into())]
    );
    keys(&mut s, &[Key::Enter]);
    // Scroll to the first change: the field path there is spec.replicas.
    keys(&mut s, &[Key::Char(']')]);
    let effects = keys(&mut s, &[Key::Char('y')]);
    let Some(Effect::Copy(path)) = effects.first() else {
        panic!("{effects:?}")
    };
    assert!(
        path.starts_with("spec") || path.starts_with("metadata"),
        "{path}"
    );
    assert!(s.current_toast().unwrap().starts_with("copied: "));
}

#[test]
fn o_opens_the_git_file_and_v_pages_the_live_object() {
    let mut s = state(80, 24);
    select_resource(&mut s, "apps/Deployment/shop/web");
    assert_eq!(
        keys(&mut s, &[Key::Char('o')]),
        vec![Effect::Edit {
            file: "apps/shop/web.yaml".into(),
            line: Some(1)
        }]
    );
    let effects = keys(&mut s, &[Key::Char('v')]);
    match effects.as_slice() {
        [Effect::Page { title, text }] => {
            assert!(title.contains("Deployment/web"));
            assert!(text.contains("hotfix1"), "{text}");
        }
        other => panic!("{other:?}"),
    }
    // An extra resource has no file; a missing one has no live object.
    select_resource(&mut s, "/ConfigMap/shop/flags");
    assert!(keys(&mut s, &[Key::Char('o')]).is_empty());
    assert!(s.current_toast().unwrap().contains("not in Git"));
    select_resource(&mut s, "/Secret/data/db");
    assert!(keys(&mut s, &[Key::Char('v')]).is_empty());
    assert!(s.current_toast().unwrap().contains("not in the cluster"));
}

#[test]
fn e_shows_the_events_newest_first_and_stops_on_the_way_back() {
    let mut s = state(80, 24);
    select_resource(&mut s, "apps/Deployment/shop/web");
    let key = ResourceKey::new("apps", "Deployment", "shop", "web");
    assert_eq!(
        keys(&mut s, &[Key::Char('E')]),
        vec![Effect::WatchEvents(Some(key.clone()))]
    );
    assert!(screen(&s).contains("reading…"));
    let now = 1_790_000_000;
    update(
        &mut s,
        Msg::Events(
            key.clone(),
            Ok(vec![
                crate::model::ClusterEvent {
                    time: now - 30,
                    kind: "Warning".into(),
                    reason: "BackOff".into(),
                    message: "Back-off pulling image \"ghcr.io/example/web:2.3.1-hotfix1\": the tag does not exist in the registry".into(),
                    count: 7,
                    source: "kubelet".into(),
                },
                crate::model::ClusterEvent {
                    time: now - 300,
                    kind: "Normal".into(),
                    reason: "ScalingReplicaSet".into(),
                    message: "Scaled up replica set web-7d4b9 to 5".into(),
                    count: 1,
                    source: "deployment-controller".into(),
                },
            ]),
        ),
    );
    let text = screen(&s);
    assert!(text.contains("Events of Deployment/web -n shop"), "{text}");
    assert!(text.contains("the tag does not exist"), "{text}");
    assert!(text.find("BackOff").unwrap() < text.find("ScalingReplicaSet").unwrap());
    insta::assert_snapshot!("events_80x24", text);
    // Events of another resource that arrive late are not shown here.
    update(
        &mut s,
        Msg::Events(
            ResourceKey::new("", "ConfigMap", "shop", "flags"),
            Ok(vec![]),
        ),
    );
    assert!(screen(&s).contains("BackOff"));
    assert_eq!(
        keys(&mut s, &[Key::Char('q')]),
        vec![Effect::WatchEvents(None)]
    );
    assert_eq!(s.screen, Screen::Tree);
}

#[test]
fn an_unbound_key_says_so_once() {
    let mut s = state(80, 24);
    keys(&mut s, &[Key::Char('Z')]);
    assert_eq!(s.current_toast(), Some("Z is unbound: press ? for keys"));
    s.toast = None;
    keys(&mut s, &[Key::Char('Z')]);
    assert_eq!(s.current_toast(), None);
}

#[test]
fn the_log_wraps_long_lines() {
    let mut s = state(40, 10);
    s.log("sync Deployment/web -n shop: update rejected: admission webhook \"policy.example.com\" denied the request: END");
    keys(&mut s, &[Key::Char('L')]);
    let text = screen(&s);
    assert!(text.contains("END"), "{text}");
}

#[test]
fn help_has_a_legend_of_glyphs_and_wraps() {
    let mut s = state(40, 10);
    keys(&mut s, &[Key::Char('?')]);
    for _ in 0..400 {
        keys(&mut s, &[Key::Char('j')]);
    }
    let text = screen(&s);
    assert!(
        text.contains("Git (as kubectl") || text.contains("field manager"),
        "{text}"
    );
    let rows = layout::help_rows(&s);
    let all: String = rows
        .iter()
        .map(|r| r.iter().map(|(_, t)| t.as_str()).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(all.contains("legend") && all.contains("out of sync: fields differ"));
    assert!(rows
        .iter()
        .all(|r| r.iter().map(|(_, t)| wrap::width(t)).sum::<usize>() <= 39));
}

#[test]
fn j_from_the_tree_opens_each_drifted_resource_in_turn() {
    let mut s = state(80, 24);
    let mut seen = Vec::new();
    for _ in 0..5 {
        keys(&mut s, &[Key::Char('J')]);
        assert_eq!(s.screen, Screen::Diff);
        seen.push(s.diff.as_ref().unwrap().key.name.clone());
    }
    assert_eq!(seen, ["broken", "db", "w1", "flags", "web"]);
    keys(&mut s, &[Key::Char('J')]);
    assert_eq!(s.diff.as_ref().unwrap().key.name, "web");
    assert!(s
        .current_toast()
        .unwrap()
        .contains("no drifted resource after"));
    // Back in the tree, K opens the one before the selection.
    keys(&mut s, &[Key::Char('q'), Key::Char('K')]);
    assert_eq!(s.diff.as_ref().unwrap().key.name, "flags");
}

#[test]
fn health_shows_in_the_tree_rolls_up_and_filters_what_has_not_converged() {
    use crate::drift::health::{Health, HealthStatus};
    let mut s = state(120, 30);
    let mut report = s.report.clone();
    // The Service is synced but its load balancer has no address; nothing else changes.
    let i = report
        .entries
        .iter()
        .position(|e| e.key.kind == "Service")
        .unwrap();
    report.entry_mut(i).health = Some(Health {
        status: HealthStatus::Degraded,
        reason: Some("ProgressDeadlineExceeded".into()),
        message: Some("ReplicaSet \"web-7f\" has timed out progressing.".into()),
    });
    push_report(&mut s, report);
    select_resource(&mut s, "/Service/shop/web");
    let text = screen(&s);
    assert!(text.contains("✓▼ web"), "{text}");
    // The shop group rolls the worst health up.
    assert!(text.contains("▾ ≠▼ shop"), "{text}");
    assert!(
        text.contains("health ▼ degraded (ProgressDeadlineExceeded: ReplicaSet"),
        "{text}"
    );
    insta::assert_snapshot!("health_degraded_120x30", text);
    // "Not converged" shows it although it is synced; "drifted" does not.
    s.filter = Filter::Drifted;
    s.rebuild();
    assert!(!s.rows.iter().any(|r| r.id == "res:/Service/shop/web"));
    s.filter = Filter::NotConverged;
    s.rebuild();
    assert!(s.rows.iter().any(|r| r.id == "res:/Service/shop/web"));
    assert!(!s.rows.iter().any(|r| r.id == "res:/Namespace//shop"));
}

#[test]
fn the_detail_says_since_when_across_restarts_from_the_history() {
    let mut s = state(120, 30);
    select_resource(&mut s, "apps/Deployment/shop/web");
    // This run saw it drift just now; the history saw it two hours ago.
    let two_hours_ago = t0()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        - 7200;
    update(
        &mut s,
        Msg::HistorySince(
            [("apps/Deployment/shop/web".to_string(), two_hours_ago)]
                .into_iter()
                .collect(),
        ),
    );
    let text = screen(&s);
    assert!(text.contains("out of sync since"), "{text}");
    assert!(text.contains("(2h ago)"), "{text}");
}

#[test]
fn the_explorer_rings_when_something_drifts_only_if_asked() {
    for notify in [Notify::Off, Notify::Bell, Notify::Desktop] {
        let mut s = state(80, 24);
        s.look.notify = notify;
        let mut report = s.report.clone();
        let i = report
            .entries
            .iter()
            .position(|e| e.key.kind == "Service")
            .unwrap();
        report.entry_mut(i).status = DriftStatus::OutOfSync;
        let effects = push_report(&mut s, report.clone());
        if notify == Notify::Off {
            assert!(effects.is_empty(), "{effects:?}");
        } else {
            assert_eq!(
                effects,
                vec![Effect::Ring(notify, "Service/web -n shop drifted".into())]
            );
        }
        // The same drift again is no news.
        let again = push_report(&mut s, report);
        assert!(again.is_empty());
    }
}

#[test]
fn the_sync_result_follows_the_rollout() {
    use crate::drift::health::{Health, HealthStatus};
    use crate::sync::{ItemResult, SyncOutcome};
    let mut s = state(100, 30);
    s.sync.dialog = Dialog::Working("applying…".into());
    let key = ResourceKey::new("apps", "Deployment", "shop", "web");
    update(
        &mut s,
        Msg::Sync(SyncMsg::Applied(vec![SyncOutcome {
            key: key.clone(),
            action: "update".into(),
            result: ItemResult::Applied,
        }])),
    );
    assert!(screen(&s).contains("health healthy"), "{}", screen(&s));
    // The next report says the rollout is under way: the open result says so.
    let mut report = s.report.clone();
    let i = report.entries.iter().position(|e| e.key == key).unwrap();
    report.entry_mut(i).health = Some(Health {
        status: HealthStatus::Progressing,
        reason: Some("RollingOut".into()),
        message: Some("1 of 3 replicas updated".into()),
    });
    push_report(&mut s, report);
    let text = screen(&s);
    assert!(
        text.contains("health progressing (RollingOut: 1 of 3 replicas updated)"),
        "{text}"
    );
}

/// A chart's Deployment: its image was set by a values file (named, with its line), its
/// replicas by a template expression kdrift cannot follow (said, not left blank).
#[test]
fn the_detail_of_a_rendered_resource_names_the_values_line_or_why_not() {
    for (w, h, name) in [
        (80, 24, "detail_rendered_80x24"),
        (40, 10, "detail_rendered_40x10"),
    ] {
        let mut r = report();
        let web = r
            .entries
            .iter_mut()
            .find(|e| e.key.name == "web" && e.key.kind == "Deployment")
            .map(Arc::make_mut)
            .unwrap();
        web.source = Some(SourceLocation {
            file: "charts/web/templates/deployment.yaml".into(),
            line: None,
        });
        web.fields[0].commit = None;
        web.fields[0].git_note =
            Some("the template computes it (charts/web/templates/deployment.yaml:8)".into());
        let c = web.fields[1].commit.as_mut().unwrap();
        c.file = "charts/web/values-prod.yaml".into();
        c.line = 3;
        let mut s = with_report(unloaded_at(w, h, "/src/gitops"), r);
        select_resource(&mut s, "apps/Deployment/shop/web");
        keys(&mut s, &[Key::Char('i')]);
        let text = screen(&s);
        if w == 80 {
            assert!(text.contains("charts/web/values-prod.yaml:3"), "{text}");
            assert!(
                text.contains("source unknown: the template computes it"),
                "{text}"
            );
        }
        insta::assert_snapshot!(name, text);
    }
}

/// What a watch event sends (only the entries that changed) leaves the explorer exactly as
/// the whole report would: rows (patched in place or rebuilt), statuses, log, toast, marks.
#[test]
fn a_changed_body_leaves_the_state_a_whole_report_would() {
    use crate::drift::health::{Health, HealthStatus};
    let base = report();
    let keys: Vec<ResourceKey> = base.entries.iter().map(|e| e.key.clone()).collect();
    let health = |s: HealthStatus| {
        Some(Health {
            status: s,
            reason: None,
            message: None,
        })
    };
    // Each case: the entries that change (`None`: the key is gone) and a filter to view with.
    type Change = (usize, Option<Box<dyn Fn(&mut DriftEntry)>>);
    let cases: Vec<(&str, Vec<Change>, Option<char>)> = vec![
        (
            "nothing shown changes",
            vec![(0, Some(Box::new(|_e: &mut DriftEntry| {})))],
            None,
        ),
        (
            "a status changes",
            vec![(
                0,
                Some(Box::new(|e: &mut DriftEntry| {
                    e.status = DriftStatus::Synced
                })),
            )],
            None,
        ),
        (
            "a status changes under the drifted filter (a row goes)",
            vec![(
                0,
                Some(Box::new(|e: &mut DriftEntry| {
                    e.status = DriftStatus::Synced
                })),
            )],
            Some('d'),
        ),
        (
            "health gets worse",
            vec![(
                1,
                Some(Box::new(move |e: &mut DriftEntry| {
                    e.health = health(HealthStatus::Degraded)
                })),
            )],
            None,
        ),
        (
            "health gets better",
            vec![(
                1,
                Some(Box::new(move |e: &mut DriftEntry| {
                    e.health = health(HealthStatus::Healthy)
                })),
            )],
            None,
        ),
        (
            "a resource moves to another file",
            vec![(
                1,
                Some(Box::new(|e: &mut DriftEntry| {
                    e.source = Some(SourceLocation {
                        file: "elsewhere/moved.yaml".into(),
                        line: Some(3),
                    })
                })),
            )],
            None,
        ),
        (
            "a resource joins an app",
            vec![(
                0,
                Some(Box::new(|e: &mut DriftEntry| e.app = Some("shop".into()))),
            )],
            None,
        ),
        ("a resource is gone", vec![(2, None)], None),
        (
            "a new resource",
            vec![(usize::MAX, Some(Box::new(|_e: &mut DriftEntry| {})))],
            None,
        ),
    ];
    let groupings = [Grouping::Namespace, Grouping::Folder, Grouping::App];
    let cases = cases
        .iter()
        .flat_map(|c| groupings.iter().map(move |g| (c, *g)));
    for ((name, changes, filter), grouping) in cases {
        let filter = *filter;
        let mut next = base.clone();
        let mut changed_keys = Vec::new();
        for (i, change) in changes {
            match (i, change) {
                (&usize::MAX, _) => {
                    let e = entry(
                        "",
                        "ConfigMap",
                        "shop",
                        "zz-new",
                        DriftStatus::Missing,
                        Some("new.yaml"),
                        None,
                        None,
                    );
                    changed_keys.push(e.key.clone());
                    next.patch(&[], vec![e.into()]);
                }
                (i, Some(f)) => {
                    let k = keys[*i].clone();
                    let pos = next.entries.iter().position(|e| e.key == k).unwrap();
                    f(next.entry_mut(pos));
                    changed_keys.push(k);
                }
                (i, None) => {
                    changed_keys.push(keys[*i].clone());
                    next.patch(&[keys[*i].clone()], vec![]);
                }
            }
        }
        changed_keys.sort();
        let entries: Vec<Arc<DriftEntry>> = changed_keys
            .iter()
            .filter_map(|k| next.shared(k).cloned())
            .collect();
        let mut whole = state(100, 30);
        let mut delta = state(100, 30);
        for s in [&mut whole, &mut delta] {
            s.grouping = grouping;
            s.rebuild();
            if let Some(c) = filter {
                update(s, Msg::Key(Key::Char('f')));
                update(s, Msg::Key(Key::Char(c)));
            }
            update(s, Msg::Key(Key::Char('j')));
            update(s, Msg::Key(Key::Char(' ')));
        }
        push_report(&mut whole, next.clone());
        let revision = delta.header.revision.clone();
        let live = delta.live.clone();
        update(
            &mut delta,
            Msg::Report(Box::new(ReportUpdate {
                body: ReportBody::Changed {
                    keys: changed_keys,
                    entries,
                },
                revision,
                live,
            })),
        );
        assert_eq!(
            delta.report.entries.len(),
            whole.report.entries.len(),
            "{name}"
        );
        for (a, b) in delta.report.entries.iter().zip(&whole.report.entries) {
            assert_eq!((&a.key, a.status), (&b.key, b.status), "{name}");
        }
        assert_eq!(delta.rows, whole.rows, "{name}");
        assert_eq!(delta.selected, whole.selected, "{name}");
        assert_eq!(delta.toast, whole.toast, "{name}");
        assert_eq!(delta.marks, whole.marks, "{name}");
        assert_eq!(delta.timeline.len(), whole.timeline.len(), "{name}");
        // And so does everything read from the report's shape after it: every grouping,
        // filter and search.
        for s in [&mut whole, &mut delta] {
            update(s, Msg::Key(Key::Char('/')));
            for c in "web".chars() {
                update(s, Msg::Key(Key::Char(c)));
            }
            update(s, Msg::Key(Key::Enter));
        }
        assert_eq!(delta.match_count(), whole.match_count(), "{name}");
        let mut then = groupings.to_vec();
        then.rotate_left(groupings.iter().position(|g| *g == grouping).unwrap());
        for grouping in then {
            for _ in 0..11 {
                for s in [&mut whole, &mut delta] {
                    s.grouping = grouping;
                    update(s, Msg::Key(Key::Char('f')));
                }
                let view = format!("{name}, {grouping:?}, {:?}", whole.filter);
                assert_eq!(delta.rows, whole.rows, "{view}");
                assert_eq!(delta.selected, whole.selected, "{view}");
                assert_eq!(delta.match_count(), whole.match_count(), "{view}");
            }
        }
    }
}

/// Rows are patched in place (not built again) when a status or health changes without a
/// row appearing or moving, and the patched rows are the rows built from scratch.
#[test]
fn rows_are_patched_in_place_when_nothing_moves() {
    use crate::drift::health::{Health, HealthStatus};
    let before = report();
    let rows = tree::build_rows_in(
        &before,
        Grouping::Namespace,
        Filter::All,
        None,
        &HashSet::new(),
    );
    for (i, change) in [
        (0usize, DriftStatus::Synced, None),
        (1, DriftStatus::OutOfSync, Some(HealthStatus::Degraded)),
        (0, DriftStatus::Unknown, None),
    ]
    .into_iter()
    .map(|(i, s, h)| (i, (s, h)))
    {
        let mut after = before.clone();
        after.entry_mut(i).status = change.0;
        if let Some(h) = change.1 {
            after.entry_mut(i).health = Some(Health {
                status: h,
                reason: None,
                message: None,
            });
        }
        let mut patched = rows.clone();
        assert!(tree::patch_rows(
            &mut patched,
            &after,
            &[(i, before.entries[i].clone())],
            Grouping::Namespace,
            Filter::All,
            None,
        ));
        let built = tree::build_rows_in(
            &after,
            Grouping::Namespace,
            Filter::All,
            None,
            &HashSet::new(),
        );
        assert_eq!(patched, built, "entry {i} → {:?}", change);
    }
}
