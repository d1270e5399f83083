//! The resource tree as rows: grouping (namespace → kind → resource, or Git folder → file →
//! resource), roll-ups of counts and the worst status per group, the status filter, folding,
//! and search matching. Pure: built from a report, drawn by `ui`, with stable row ids so the
//! selection survives rebuilds.

use crate::drift::health::HealthStatus;
use crate::drift::{DriftEntry, DriftReport, Summary};
use crate::model::DriftStatus;
use std::collections::{BTreeMap, HashMap, HashSet};

/// How resources are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Grouping {
    /// Namespace → kind → name.
    #[default]
    Namespace,
    /// Git folder → file → resource.
    Folder,
    /// App → namespace and kind → name (resources of no app under "(no app)").
    App,
}

/// Which resources are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Filter {
    #[default]
    All,
    /// Everything not synced.
    Drifted,
    /// Everything not both synced and healthy.
    NotConverged,
    Only(DriftStatus),
}

impl Filter {
    /// The next filter of the `f` cycle: all, drifted, then each status.
    pub fn next(self) -> Filter {
        use DriftStatus::*;
        match self {
            Filter::All => Filter::Drifted,
            Filter::Drifted => Filter::NotConverged,
            Filter::NotConverged => Filter::Only(OutOfSync),
            Filter::Only(OutOfSync) => Filter::Only(Missing),
            Filter::Only(Missing) => Filter::Only(Extra),
            Filter::Only(Extra) => Filter::Only(Invalid),
            Filter::Only(Invalid) => Filter::Only(Unknown),
            Filter::Only(Unknown) => Filter::Only(Refused),
            Filter::Only(Refused) => Filter::Only(Hook),
            Filter::Only(Hook) => Filter::Only(Synced),
            Filter::Only(Synced) => Filter::All,
        }
    }

    pub fn admits(self, entry: &DriftEntry) -> bool {
        match self {
            Filter::All => true,
            Filter::Drifted => !matches!(entry.status, DriftStatus::Synced | DriftStatus::Hook),
            Filter::NotConverged => !entry.converged(),
            Filter::Only(s) => s == entry.status,
        }
    }

    /// Parses `--filter`: `all`, `drifted`, or a status name.
    pub fn parse(text: &str) -> Option<Filter> {
        use DriftStatus::*;
        Some(match text {
            "all" => Filter::All,
            "drifted" => Filter::Drifted,
            "not-converged" | "unconverged" => Filter::NotConverged,
            "synced" => Filter::Only(Synced),
            "out-of-sync" | "outofsync" | "out_of_sync" => Filter::Only(OutOfSync),
            "missing" => Filter::Only(Missing),
            "extra" => Filter::Only(Extra),
            "unknown" => Filter::Only(Unknown),
            "invalid" => Filter::Only(Invalid),
            "refused" => Filter::Only(Refused),
            "hook" | "hooks" => Filter::Only(Hook),
            _ => return None,
        })
    }

    pub fn label(self) -> String {
        match self {
            Filter::All => "all".into(),
            Filter::Drifted => "drifted".into(),
            Filter::NotConverged => "not converged".into(),
            Filter::Only(s) => s.to_string(),
        }
    }
}

/// How bad a status is, for roll-ups (higher is worse).
pub fn severity(status: DriftStatus) -> u8 {
    status.severity()
}

/// What a row shows.
#[derive(Debug, Clone, PartialEq)]
pub enum RowKind {
    Group {
        counts: Summary,
        worst: DriftStatus,
        /// The worst health of its resources (`None`: none has a live object).
        health: Option<HealthStatus>,
        collapsed: bool,
    },
    /// Index into the report's entries.
    Resource { index: usize },
}

/// One visible line of the tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Stable across rebuilds: `ns:<ns>`, `ns:<ns>/<group>/<kind>`, `dir:<dir>`,
    /// `dir:<dir>/<file>`, `res:<key>`.
    pub id: String,
    pub parent: Option<String>,
    pub depth: u8,
    pub label: String,
    pub kind: RowKind,
}

/// The two group levels of an entry under a grouping: (id, label) of each.
fn groups_of(entry: &DriftEntry, grouping: Grouping) -> [(String, String); 2] {
    let k = &entry.key;
    match grouping {
        Grouping::Namespace => {
            let ns_label = if k.namespace.is_empty() {
                "(cluster-scoped)".to_string()
            } else {
                k.namespace.clone()
            };
            let ns_id = format!("ns:{}", k.namespace);
            let kind_label = if k.kind.is_empty() {
                "(unidentified)".to_string()
            } else {
                k.kind.clone()
            };
            let kind_id = format!("{ns_id}/{}/{}", k.group, k.kind);
            [(ns_id, ns_label), (kind_id, kind_label)]
        }
        Grouping::App => {
            let (app_id, app_label) = match entry.app.as_deref() {
                Some(app) => (format!("app:{app}"), app.to_string()),
                None => ("app:".to_string(), "(no app)".to_string()),
            };
            let ns = if k.namespace.is_empty() {
                "(cluster)"
            } else {
                &k.namespace
            };
            let kind = if k.kind.is_empty() {
                "(unidentified)"
            } else {
                &k.kind
            };
            let inner_id = format!("{app_id}\u{0}{}/{}/{}", k.namespace, k.group, k.kind);
            [(app_id, app_label), (inner_id, format!("{ns} · {kind}"))]
        }
        Grouping::Folder => match &entry.source {
            Some(src) => {
                let (dir, file) = match src.file.rsplit_once('/') {
                    Some((d, f)) => (d.to_string(), f.to_string()),
                    None => (".".to_string(), src.file.clone()),
                };
                let dir_id = format!("dir:{dir}");
                let file_id = format!("{dir_id}/{file}");
                [(dir_id, format!("{dir}/")), (file_id, file)]
            }
            None => [
                ("dir:".to_string(), "(not in Git)".to_string()),
                ("dir:/".to_string(), "live only".to_string()),
            ],
        },
    }
}

/// The label of a resource row under a grouping.
fn resource_label(entry: &DriftEntry, grouping: Grouping) -> String {
    let k = &entry.key;
    match grouping {
        Grouping::Namespace | Grouping::App => k.name.clone(),
        Grouping::Folder => {
            if k.kind.is_empty() {
                k.name.clone()
            } else if k.namespace.is_empty() {
                format!("{}/{}", k.kind, k.name)
            } else {
                format!("{}/{} -n {}", k.kind, k.name, k.namespace)
            }
        }
    }
}

/// Builds the visible rows: groups in name order with their roll-ups (over the resources
/// the filter admits), resources under expanded groups. Groups with nothing admitted are
/// left out.
pub fn build_rows(
    report: &DriftReport,
    grouping: Grouping,
    filter: Filter,
    collapsed: &HashSet<String>,
) -> Vec<Row> {
    build_rows_in(report, grouping, filter, None, collapsed)
}

/// [`build_rows`] limited to one namespace (`:ns`), when given.
pub fn build_rows_in(
    report: &DriftReport,
    grouping: Grouping,
    filter: Filter,
    namespace: Option<&str>,
    collapsed: &HashSet<String>,
) -> Vec<Row> {
    Layout::new(report, grouping, namespace).rows(report, grouping, filter, collapsed)
}

/// Every group and resource of a report under a grouping (within one namespace, when
/// given) in the order rows show them, before any filter or fold. Grouping and sorting are
/// most of the cost of rows at 100,000 resources; a layout does them once per report, and
/// the rows under each filter and fold (`f`, folding, search) are read from it.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    outer: Vec<Outer>,
    /// Every row's place when nothing is filtered or folded: (outer, inner, member), with
    /// `NONE` below the row's own level.
    flat: Vec<(u32, u32, u32)>,
}

#[derive(Debug, Clone)]
struct Outer {
    id: String,
    label: String,
    inner: Vec<Inner>,
}

#[derive(Debug, Clone)]
struct Inner {
    id: String,
    label: String,
    /// Indices into the report's entries.
    members: Vec<usize>,
}

const NONE: u32 = u32::MAX;

impl Layout {
    pub fn new(report: &DriftReport, grouping: Grouping, namespace: Option<&str>) -> Layout {
        // Groups sort by what they show (then by id, for kinds of the same name).
        type Inners = BTreeMap<(String, String), Vec<usize>>;
        let mut tree: BTreeMap<(String, String), Inners> = BTreeMap::new();
        for (i, e) in report.entries.iter().enumerate() {
            if namespace.is_some_and(|ns| e.key.namespace != ns) {
                continue;
            }
            let [(gid, glabel), (sid, slabel)] = groups_of(e, grouping);
            let g = tree.entry((glabel, gid)).or_default();
            g.entry((slabel, sid)).or_default().push(i);
        }
        let mut flat = Vec::with_capacity(report.entries.len() + 2 * tree.len());
        let outer: Vec<Outer> = tree
            .into_iter()
            .enumerate()
            .map(|(o, ((label, id), inner))| {
                flat.push((o as u32, NONE, NONE));
                let inner = inner
                    .into_iter()
                    .enumerate()
                    .map(|(n, ((label, id), members))| {
                        flat.push((o as u32, n as u32, NONE));
                        flat.extend((0..members.len()).map(|m| (o as u32, n as u32, m as u32)));
                        Inner { id, label, members }
                    })
                    .collect();
                Outer { id, label, inner }
            })
            .collect();
        Layout { outer, flat }
    }

    /// The visible rows: groups with their roll-ups over the resources the filter admits,
    /// resources under expanded groups; groups with nothing admitted are left out.
    pub fn rows(
        &self,
        report: &DriftReport,
        grouping: Grouping,
        filter: Filter,
        collapsed: &HashSet<String>,
    ) -> Vec<Row> {
        let admitted = |idx: &[usize]| -> Vec<usize> {
            idx.iter()
                .copied()
                .filter(|&i| filter.admits(&report.entries[i]))
                .collect()
        };
        let mut rows = Vec::new();
        for o in &self.outer {
            let inner: Vec<(&Inner, Vec<usize>)> = o
                .inner
                .iter()
                .map(|n| (n, admitted(&n.members)))
                .filter(|(_, idx)| !idx.is_empty())
                .collect();
            if inner.is_empty() {
                continue;
            }
            let all = inner.iter().flat_map(|(_, idx)| idx.iter().copied());
            rows.push(group_row(
                report,
                &o.id,
                None,
                0,
                o.label.clone(),
                all,
                collapsed,
            ));
            if collapsed.contains(&o.id) {
                continue;
            }
            for (n, idx) in inner {
                rows.push(group_row(
                    report,
                    &n.id,
                    Some(&o.id),
                    1,
                    n.label.clone(),
                    idx.iter().copied(),
                    collapsed,
                ));
                if collapsed.contains(&n.id) {
                    continue;
                }
                rows.extend(idx.into_iter().map(|i| {
                    let e = &report.entries[i];
                    Row {
                        id: resource_id(&e.key),
                        parent: Some(n.id.clone()),
                        depth: 2,
                        label: resource_label(e, grouping),
                        kind: RowKind::Resource { index: i },
                    }
                }));
            }
        }
        rows
    }

    /// The id of the row nearest to the row `id` among those shown under `filter` and
    /// `collapsed`, in the order of every row: itself or the next one shown after it, else
    /// the one before. `None` when `id` is not in the layout or nothing is shown.
    pub fn nearest_shown(
        &self,
        report: &DriftReport,
        id: &str,
        filter: Filter,
        collapsed: &HashSet<String>,
    ) -> Option<String> {
        let mut text = String::new();
        let p = self.flat.iter().position(|&(o, n, m)| {
            let outer = &self.outer[o as usize];
            if n == NONE {
                return outer.id == id;
            }
            let inner = &outer.inner[n as usize];
            if m == NONE {
                return inner.id == id;
            }
            let key = &report.entries[inner.members[m as usize]].key;
            // Formatting every key would cost as much as the rows: the name first.
            id.ends_with(key.name.as_str()) && {
                use std::fmt::Write;
                text.clear();
                let _ = write!(text, "res:{key}");
                text == id
            }
        })?;
        let any_admitted = |n: &Inner| n.members.iter().any(|&i| filter.admits(&report.entries[i]));
        let shown = |&(o, n, m): &(u32, u32, u32)| -> Option<String> {
            let outer = &self.outer[o as usize];
            if n == NONE {
                return outer
                    .inner
                    .iter()
                    .any(any_admitted)
                    .then(|| outer.id.clone());
            }
            if collapsed.contains(&outer.id) {
                return None;
            }
            let inner = &outer.inner[n as usize];
            if m == NONE {
                return any_admitted(inner).then(|| inner.id.clone());
            }
            let e = &report.entries[inner.members[m as usize]];
            (!collapsed.contains(&inner.id) && filter.admits(e)).then(|| resource_id(&e.key))
        };
        self.flat[p..]
            .iter()
            .chain(self.flat[..p].iter().rev())
            .find_map(shown)
    }
}

/// Brings `rows` (built by `build_rows_in` from the report before) up to date in place after
/// the entries at the given indices changed from the `old` ones (same keys, same places):
/// each group above a changed resource recounts it. `false`, leaving `rows` unusable, when
/// the change would add, hide or move a row (the filter admits it differently, its group or
/// label changed) or a group's health could only be known by reading every member again:
/// then rows are built again.
pub fn patch_rows(
    rows: &mut [Row],
    report: &DriftReport,
    old: &[(usize, std::sync::Arc<DriftEntry>)],
    grouping: Grouping,
    filter: Filter,
    namespace: Option<&str>,
) -> bool {
    let mut at: HashMap<&str, usize> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        if matches!(r.kind, RowKind::Group { .. }) {
            at.insert(r.id.as_str(), i);
        }
    }
    // (group row, status before and now, health before and now)
    type Update = (
        usize,
        DriftStatus,
        DriftStatus,
        Option<HealthStatus>,
        Option<HealthStatus>,
    );
    let mut updates: Vec<Update> = Vec::new();
    // What places an entry in the tree: its key, app and file. Entries that agree on them
    // (but the name) sit under the same groups: those are looked up once per run of them
    // (a list's first answer patches tens of thousands of entries).
    fn file(e: &DriftEntry) -> Option<&str> {
        e.source.as_ref().map(|s| s.file.as_str())
    }
    let same_groups = |a: &DriftEntry, b: &DriftEntry| {
        a.key.group == b.key.group
            && a.key.kind == b.key.kind
            && a.key.namespace == b.key.namespace
            && a.app == b.app
            && file(a) == file(b)
    };
    let mut last: Option<(&DriftEntry, [usize; 2])> = None;
    for (i, before) in old {
        let Some(now) = report.entries.get(*i) else {
            return false;
        };
        if now.key != before.key {
            return false;
        }
        let shown =
            |e: &DriftEntry| filter.admits(e) && namespace.is_none_or(|ns| e.key.namespace == ns);
        if shown(before) != shown(now) {
            return false;
        }
        if !shown(now) {
            continue;
        }
        let placed_alike = now.app == before.app && file(now) == file(before);
        if !placed_alike
            && (groups_of(before, grouping) != groups_of(now, grouping)
                || resource_label(before, grouping) != resource_label(now, grouping))
        {
            return false;
        }
        let rows = match last {
            Some((prev, rows)) if same_groups(prev, now) => rows,
            _ => {
                let [a, b] = ancestors(now, grouping);
                let (Some(&a), Some(&b)) = (at.get(a.as_str()), at.get(b.as_str())) else {
                    return false;
                };
                [a, b]
            }
        };
        last = Some((now, rows));
        let health = |e: &DriftEntry| e.health.as_ref().map(|h| h.status);
        for row in rows {
            updates.push((row, before.status, now.status, health(before), health(now)));
        }
    }
    for (row, was, is, was_health, is_health) in updates {
        let RowKind::Group {
            counts,
            worst,
            health,
            ..
        } = &mut rows[row].kind
        else {
            return false;
        };
        counts.remove(was);
        counts.add(is);
        *worst = DriftStatus::ALL
            .iter()
            .copied()
            .filter(|s| counts.count(*s) > 0)
            .fold(DriftStatus::Hook, |w, s| {
                if severity(s) > severity(w) {
                    s
                } else {
                    w
                }
            });
        if was_health != is_health {
            match (was_health, is_health, *health) {
                // A member got worse (or gained a live object): the group is at least that bad.
                (_, Some(h), g) if g.is_none_or(|g| h >= g) => *health = Some(h),
                // A member that was not the group's worst changed below it.
                (w, _, Some(g)) if w.is_none_or(|w| w < g) => {}
                _ => return false,
            }
        }
    }
    true
}

/// A group's row: its counts and worst status over the resources at `indices`.
fn group_row(
    report: &DriftReport,
    id: &str,
    parent: Option<&str>,
    depth: u8,
    label: String,
    indices: impl Iterator<Item = usize>,
    collapsed: &HashSet<String>,
) -> Row {
    let mut counts = Summary::default();
    let mut worst = DriftStatus::Hook;
    let mut health: Option<HealthStatus> = None;
    for i in indices {
        let e = &report.entries[i];
        let s = e.status;
        counts.add(s);
        if severity(s) > severity(worst) {
            worst = s;
        }
        if let Some(h) = &e.health {
            health = Some(health.map_or(h.status, |w| w.max(h.status)));
        }
    }
    Row {
        id: id.to_string(),
        parent: parent.map(str::to_string),
        depth,
        label,
        kind: RowKind::Group {
            counts,
            worst,
            health,
            collapsed: collapsed.contains(id),
        },
    }
}

/// The row id of a resource.
pub fn resource_id(key: &crate::model::ResourceKey) -> String {
    format!("res:{key}")
}

/// The group ids that contain an entry under a grouping (outer first).
pub fn ancestors(entry: &DriftEntry, grouping: Grouping) -> [String; 2] {
    let [(a, _), (b, _)] = groups_of(entry, grouping);
    [a, b]
}

/// Whether an entry matches a search query: every word of the query appears in its kind,
/// namespace or name (case-insensitive).
pub fn matches(entry: &DriftEntry, query: &str) -> bool {
    Matcher::new(query).matches(entry)
}

/// A search query ready for many entries (every row is asked while a search is typed at
/// 100,000 resources): its words, lower-cased once.
#[derive(Debug, Clone)]
pub struct Matcher {
    words: Vec<String>,
}

impl Matcher {
    pub fn new(query: &str) -> Matcher {
        Matcher {
            words: query.split_whitespace().map(str::to_lowercase).collect(),
        }
    }

    /// No words: nothing matches.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Every word appears within one of the entry's kind, namespace, name or group.
    pub fn matches(&self, entry: &DriftEntry) -> bool {
        let k = &entry.key;
        let fields = [&k.kind, &k.namespace, &k.name, &k.group];
        !self.words.is_empty()
            && self
                .words
                .iter()
                .all(|w| fields.iter().any(|f| contains_folded(f, w)))
    }
}

/// The searched text of a report's entries side by side in one buffer: each entry's kind,
/// namespace, name and group, lower-cased, each ended by NUL. Typing a search at 100,000
/// resources then reads a few megabytes in order, not 400,000 strings scattered over the
/// heap (28 ms a key before, for the count of matches alone).
#[derive(Debug, Clone, Default)]
pub struct SearchText {
    text: String,
    /// Where each entry's text ends.
    ends: Vec<usize>,
}

impl SearchText {
    pub fn new(report: &DriftReport) -> SearchText {
        let mut text = String::new();
        let mut ends = Vec::with_capacity(report.entries.len());
        for e in &report.entries {
            let k = &e.key;
            for f in [&k.kind, &k.namespace, &k.name, &k.group] {
                if f.is_ascii() {
                    text.extend(f.chars().map(|c| c.to_ascii_lowercase()));
                } else {
                    text.push_str(&f.to_lowercase());
                }
                text.push('\0');
            }
            ends.push(text.len());
        }
        SearchText { text, ends }
    }

    /// Whether the entry at `index` matches: as [`Matcher::matches`].
    pub fn matches(&self, index: usize, matcher: &Matcher) -> bool {
        let start = index.checked_sub(1).map_or(0, |i| self.ends[i]);
        let fields = &self.text[start..self.ends[index]];
        !matcher.words.is_empty()
            && matcher.words.iter().all(|w| {
                fields
                    .split_terminator('\0')
                    .any(|f| f.contains(w.as_str()))
            })
    }
}

/// Whether `text` contains `lower` (lower-cased), ignoring case; without allocating for
/// ASCII.
fn contains_folded(text: &str, lower: &str) -> bool {
    if !(lower.is_ascii() && text.is_ascii()) {
        return text.to_lowercase().contains(lower);
    }
    let (t, w) = (text.as_bytes(), lower.as_bytes());
    let Some((&first, rest)) = w.split_first() else {
        return true;
    };
    t.len() >= w.len()
        && (0..=t.len() - w.len()).any(|i| {
            t[i].to_ascii_lowercase() == first && t[i + 1..i + w.len()].eq_ignore_ascii_case(rest)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ResourceKey, SourceLocation};

    fn entry(ns: &str, kind: &str, name: &str, status: DriftStatus, file: &str) -> DriftEntry {
        let group = if kind == "Deployment" { "apps" } else { "" };
        DriftEntry {
            source: (!file.is_empty()).then(|| SourceLocation {
                file: file.into(),
                line: Some(1),
            }),
            ..DriftEntry::new(ResourceKey::new(group, kind, ns, name), "v1", status)
        }
    }

    fn report() -> DriftReport {
        let mut entries = vec![
            entry(
                "shop",
                "Deployment",
                "web",
                DriftStatus::OutOfSync,
                "apps/shop/web.yaml",
            ),
            entry(
                "shop",
                "Service",
                "web",
                DriftStatus::Synced,
                "apps/shop/web.yaml",
            ),
            entry("shop", "ConfigMap", "old", DriftStatus::Extra, ""),
            entry(
                "db",
                "Service",
                "pg",
                DriftStatus::Missing,
                "apps/db/pg.yaml",
            ),
        ];
        entries.sort_by(|a, b| a.key.cmp(&b.key));
        DriftReport::from(entries)
    }

    #[test]
    fn groups_roll_up_counts_and_the_worst_status() {
        let rows = build_rows(&report(), Grouping::Namespace, Filter::All, &HashSet::new());
        let shop = rows.iter().find(|r| r.id == "ns:shop").unwrap();
        match &shop.kind {
            RowKind::Group { counts, worst, .. } => {
                assert_eq!((counts.synced, counts.out_of_sync, counts.extra), (1, 1, 1));
                assert_eq!(*worst, DriftStatus::OutOfSync);
            }
            other => panic!("{other:?}"),
        }
        // db before shop, and every resource visible.
        assert_eq!(rows[0].id, "ns:db");
        assert_eq!(
            rows.iter()
                .filter(|r| matches!(r.kind, RowKind::Resource { .. }))
                .count(),
            4
        );
    }

    #[test]
    fn filter_hides_groups_with_nothing_admitted() {
        let rows = build_rows(
            &report(),
            Grouping::Namespace,
            Filter::Only(DriftStatus::Missing),
            &HashSet::new(),
        );
        assert!(
            rows.iter().all(|r| !r.id.starts_with("ns:shop")),
            "{rows:#?}"
        );
        assert_eq!(rows.len(), 3);
        let drifted = build_rows(
            &report(),
            Grouping::Namespace,
            Filter::Drifted,
            &HashSet::new(),
        );
        assert!(!drifted.iter().any(|r| r.id.contains("/Service/shop/web")));
    }

    #[test]
    fn collapsed_groups_hide_their_children_but_keep_counts() {
        let collapsed: HashSet<String> = ["ns:shop".to_string()].into_iter().collect();
        let rows = build_rows(&report(), Grouping::Namespace, Filter::All, &collapsed);
        assert!(!rows.iter().any(|r| r.parent.as_deref() == Some("ns:shop")));
        assert!(rows.iter().any(|r| r.id == "ns:shop"));
    }

    #[test]
    fn folder_grouping_puts_extras_under_not_in_git() {
        let rows = build_rows(&report(), Grouping::Folder, Filter::All, &HashSet::new());
        let labels: Vec<&str> = rows.iter().map(|r| r.label.as_str()).collect();
        assert!(labels.contains(&"(not in Git)"), "{labels:?}");
        assert!(labels.contains(&"apps/shop/"), "{labels:?}");
        assert!(labels.contains(&"Deployment/web -n shop"), "{labels:?}");
    }

    #[test]
    fn search_needs_every_word() {
        let r = report();
        let web = r
            .entries
            .iter()
            .find(|e| e.key.kind == "Deployment")
            .unwrap();
        assert!(matches(web, "deploy web"));
        assert!(matches(web, "SHOP"));
        assert!(!matches(web, "deploy pg"));
        assert!(!matches(web, "  "));
    }

    #[test]
    fn apps_group_their_resources_and_roll_up_like_an_app_list() {
        let mut r = report();
        for e in &mut r.entries {
            if e.key.namespace == "shop" {
                std::sync::Arc::make_mut(e).app = Some("shop".into());
            }
        }
        let rows = build_rows(&r, Grouping::App, Filter::All, &HashSet::new());
        let labels: Vec<(u8, &str)> = rows.iter().map(|r| (r.depth, r.label.as_str())).collect();
        assert_eq!(
            labels,
            [
                (0, "(no app)"),
                (1, "db · Service"),
                (2, "pg"),
                (0, "shop"),
                (1, "shop · ConfigMap"),
                (2, "old"),
                (1, "shop · Deployment"),
                (2, "web"),
                (1, "shop · Service"),
                (2, "web"),
            ]
        );
        let shop = rows.iter().find(|r| r.id == "app:shop").unwrap();
        match &shop.kind {
            RowKind::Group { worst, counts, .. } => {
                assert_eq!(*worst, DriftStatus::OutOfSync);
                assert_eq!(counts.extra, 1);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_filter_cycle_visits_every_status_and_returns() {
        let mut f = Filter::All;
        let mut seen = Vec::new();
        for _ in 0..11 {
            f = f.next();
            seen.push(f);
        }
        assert_eq!(f, Filter::All);
        for s in DriftStatus::ALL {
            assert!(seen.contains(&Filter::Only(s)), "{s} is not in the cycle");
        }
        for s in [
            "all",
            "drifted",
            "not-converged",
            "missing",
            "out-of-sync",
            "hook",
        ] {
            assert!(Filter::parse(s).is_some());
        }
    }

    #[test]
    fn the_nearest_shown_row_is_the_next_shown_in_the_order_of_every_row_else_the_one_before() {
        let r = report();
        for grouping in [Grouping::Namespace, Grouping::Folder, Grouping::App] {
            let layout = Layout::new(&r, grouping, None);
            let every = layout.rows(&r, grouping, Filter::All, &HashSet::new());
            let folds: Vec<HashSet<String>> = vec![
                HashSet::new(),
                every
                    .iter()
                    .filter(|row| row.depth == 0)
                    .map(|row| row.id.clone())
                    .take(1)
                    .collect(),
                every
                    .iter()
                    .filter(|row| row.depth == 1)
                    .map(|row| row.id.clone())
                    .collect(),
            ];
            let mut filter = Filter::All;
            loop {
                for collapsed in &folds {
                    let shown = layout.rows(&r, grouping, filter, collapsed);
                    assert_eq!(shown, build_rows(&r, grouping, filter, collapsed));
                    for (p, row) in every.iter().enumerate() {
                        let expected = every[p..]
                            .iter()
                            .chain(every[..p].iter().rev())
                            .find(|x| shown.iter().any(|s| s.id == x.id))
                            .map(|x| x.id.clone());
                        assert_eq!(
                            layout.nearest_shown(&r, &row.id, filter, collapsed),
                            expected,
                            "{grouping:?} {filter:?} {collapsed:?} from {}",
                            row.id
                        );
                    }
                }
                filter = filter.next();
                if filter == Filter::All {
                    break;
                }
            }
        }
    }

    #[test]
    fn the_searched_text_matches_as_the_entries_do() {
        let mut r = report();
        r.entries
            .push(entry("straße", "ConfigMap", "ÉTÉ-Web", DriftStatus::Synced, "").into());
        r.entries.sort_by(|a, b| a.key.cmp(&b.key));
        let text = SearchText::new(&r);
        for q in [
            "web",
            "WEB",
            "shop web",
            "deploy",
            "apps",
            "ps/",
            "été",
            "STRASSE",
            "straße",
            "ß",
            "map été",
            "",
            " ",
            "pg db",
            "p g",
            "old shop x",
        ] {
            let m = Matcher::new(q);
            for (i, e) in r.entries.iter().enumerate() {
                assert_eq!(text.matches(i, &m), m.matches(e), "{q:?} on {}", e.key);
                assert_eq!(m.matches(e), matches(e, q));
            }
        }
    }
}
