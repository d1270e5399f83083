//! The fleet matrix: one row per resource of any target (grouped by namespace and kind),
//! one column per target, each cell that resource's status on that cluster. Each target's
//! reports and connection state arrive on their own (`FleetMsg`); a target that is down
//! greys its own column and nothing else. Pure: messages and keys in, state out.

use super::LiveState;
use crate::drift::{DriftEntry, DriftReport};
use crate::keymap::Key;
use crate::model::{DriftStatus, ResourceKey};
use std::collections::BTreeMap;
use std::time::SystemTime;

/// One target's column.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub context: String,
    pub server: String,
    pub live: LiveState,
    /// The last report (`None` until the first).
    pub report: Option<DriftReport>,
    /// Why Git cannot be read for it, when so.
    pub git_problem: Option<String>,
}

impl Column {
    /// A column; names from the command line and the kubeconfig are made visible (control
    /// characters escaped), as everything drawn is.
    pub fn new(name: &str, context: &str, server: &str) -> Column {
        let shown = |s: &str| crate::text::visible_line(s).into_owned();
        Column {
            name: shown(name),
            context: shown(context),
            server: shown(server),
            live: LiveState::Connecting,
            report: None,
            git_problem: None,
        }
    }

    /// Whether its verdicts stand: a complete report from a reachable cluster.
    pub fn is_current(&self) -> bool {
        self.report.is_some()
            && matches!(
                self.live,
                LiveState::Connected { .. } | LiveState::File { .. }
            )
    }
}

/// What one cell shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    Status(DriftStatus),
    /// Neither that target's Git paths nor its cluster have it.
    Absent,
    /// No verdict: no report yet, or the cluster is not reachable now.
    NoVerdict,
}

/// Which rows show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FleetFilter {
    All,
    /// Drifted on at least one target.
    DriftedAnywhere,
    /// Drifted on the selected column's target and on no other.
    DriftedOnlyHere,
    /// Not the same on every target.
    Differs,
}

impl FleetFilter {
    fn next(self) -> FleetFilter {
        match self {
            FleetFilter::All => FleetFilter::DriftedAnywhere,
            FleetFilter::DriftedAnywhere => FleetFilter::DriftedOnlyHere,
            FleetFilter::DriftedOnlyHere => FleetFilter::Differs,
            FleetFilter::Differs => FleetFilter::All,
        }
    }

    pub fn label(self, column: &str) -> String {
        match self {
            FleetFilter::All => "all".into(),
            FleetFilter::DriftedAnywhere => "drifted anywhere".into(),
            FleetFilter::DriftedOnlyHere => format!("drifted only in {column}"),
            FleetFilter::Differs => "differs across targets".into(),
        }
    }
}

/// One line of the matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetRow {
    /// `None` for a group (namespace · kind).
    pub key: Option<ResourceKey>,
    pub label: String,
    pub cells: Vec<Cell>,
}

/// A cell opened (`Enter`): that target's view of that resource.
#[derive(Debug, Clone, PartialEq)]
pub struct CellView {
    pub column: usize,
    pub key: ResourceKey,
    pub scroll: usize,
    /// `c`: this target's live object beside another's.
    pub compare: Option<Compare>,
}

/// Two targets' live objects of one resource, read from both clusters (normalised: no
/// status or server-set metadata; Secrets masked).
#[derive(Debug, Clone, PartialEq)]
pub struct Compare {
    pub other: usize,
    /// `None` while both are read.
    pub objects: Option<(LiveSide, LiveSide)>,
}

/// One cluster's answer: its object, none, or why it cannot be read.
pub type LiveSide = Result<Option<serde_json::Value>, String>;

/// Messages of the fleet explorer.
#[derive(Debug, Clone)]
pub enum FleetMsg {
    Key(Key),
    Resize(u16, u16),
    Tick(SystemTime),
    /// A target's report with the live state it was made with: one message, so that no
    /// frame shows a report under a live state that is not its own (an incomplete report's
    /// unknown rows as a complete one's).
    Report(usize, Box<DriftReport>, LiveState),
    Live(usize, LiveState),
    GitProblem(usize, Option<String>),
    /// The live objects of `key` on two targets, as `FleetEffect::Compare` asked.
    Compared {
        key: ResourceKey,
        columns: (usize, usize),
        objects: Box<(LiveSide, LiveSide)>,
    },
}

/// What the runtime must do.
#[derive(Debug, Clone, PartialEq)]
pub enum FleetEffect {
    Quit,
    /// Re-read every target.
    Refresh,
    /// Open the explorer on this target alone (the whole explorer: diffs, sync with its
    /// confirmation naming that cluster); quitting it comes back to the matrix.
    Open(usize),
    /// Sync these resources, target by target (each its own preview and confirmation, in
    /// the explorer on that target), then come back to the matrix.
    Sync(Vec<(usize, Vec<ResourceKey>)>),
    /// Read `key`'s live object on both targets (`FleetMsg::Compared` answers).
    Compare {
        key: ResourceKey,
        columns: (usize, usize),
    },
}

/// The whole fleet explorer.
#[derive(Debug, Clone)]
pub struct FleetState {
    pub columns: Vec<Column>,
    pub rows: Vec<FleetRow>,
    pub selected: usize,
    pub offset: usize,
    /// The selected column.
    pub column: usize,
    pub filter: FleetFilter,
    pub view: Option<CellView>,
    pub size: (u16, u16),
    pub now: SystemTime,
    pub look: super::Look,
    /// Cells marked for a sync: (column, resource).
    pub marks: std::collections::BTreeSet<(usize, ResourceKey)>,
}

/// Whether a status is drift (what the matrix's filters look for).
fn drifted(s: DriftStatus) -> bool {
    !matches!(s, DriftStatus::Synced | DriftStatus::Hook)
}

impl FleetState {
    pub fn new(columns: Vec<Column>, look: super::Look, now: SystemTime) -> FleetState {
        FleetState {
            columns,
            rows: Vec::new(),
            selected: 0,
            offset: 0,
            column: 0,
            filter: FleetFilter::All,
            view: None,
            size: (80, 24),
            now,
            look,
            marks: Default::default(),
        }
    }

    /// The cells of one resource: its status on each target.
    fn cells_of(&self, key: &ResourceKey) -> Vec<Cell> {
        self.columns
            .iter()
            .map(|c| match &c.report {
                _ if !c.is_current() => Cell::NoVerdict,
                Some(r) => r
                    .entry(key)
                    .map(|e| Cell::Status(e.status))
                    .unwrap_or(Cell::Absent),
                None => Cell::NoVerdict,
            })
            .collect()
    }

    fn admits(&self, cells: &[Cell]) -> bool {
        let drift = |c: &Cell| matches!(c, Cell::Status(s) if drifted(*s));
        match self.filter {
            FleetFilter::All => true,
            FleetFilter::DriftedAnywhere => cells.iter().any(drift),
            FleetFilter::DriftedOnlyHere => cells.iter().enumerate().all(|(i, c)| {
                if i == self.column {
                    drift(c)
                } else {
                    !drift(c)
                }
            }),
            FleetFilter::Differs => cells.windows(2).any(|w| w[0] != w[1]),
        }
    }

    /// Rebuilds the rows from the columns' reports, keeping the selection on its key.
    pub fn rebuild(&mut self) {
        let keep = self.rows.get(self.selected).and_then(|r| r.key.clone());
        // Every key of every report, by namespace · kind (borrowed: twenty reports of a
        // thousand keys are read again at every report).
        let mut keys: BTreeMap<(&str, &str), Vec<&ResourceKey>> = BTreeMap::new();
        for c in &self.columns {
            for e in c.report.iter().flat_map(|r| r.entries.iter()) {
                let ns = if e.key.namespace.is_empty() {
                    "(cluster)"
                } else {
                    e.key.namespace.as_str()
                };
                keys.entry((ns, e.key.kind.as_str()))
                    .or_default()
                    .push(&e.key);
            }
        }
        let mut rows = Vec::new();
        for ((ns, kind), mut list) in keys {
            list.sort();
            list.dedup();
            let members: Vec<(&ResourceKey, Vec<Cell>)> = list
                .into_iter()
                .map(|k| (k, self.cells_of(k)))
                .filter(|(_, cells)| self.admits(cells))
                .collect();
            if members.is_empty() {
                continue;
            }
            // A group's cell: the worst status of its resources on that target.
            let cells = (0..self.columns.len())
                .map(|i| {
                    members
                        .iter()
                        .map(|(_, c)| c[i])
                        .fold(Cell::Absent, |acc, c| match (acc, c) {
                            (Cell::NoVerdict, _) | (_, Cell::NoVerdict) => Cell::NoVerdict,
                            (Cell::Absent, x) | (x, Cell::Absent) => x,
                            (Cell::Status(a), Cell::Status(b)) => {
                                Cell::Status(if b.severity() > a.severity() { b } else { a })
                            }
                        })
                })
                .collect();
            rows.push(FleetRow {
                key: None,
                label: format!("{ns} · {kind}"),
                cells,
            });
            for (k, cells) in members {
                rows.push(FleetRow {
                    label: k.name.clone(),
                    key: Some(k.clone()),
                    cells,
                });
            }
        }
        self.rows = rows;
        self.selected = keep
            .and_then(|k| self.rows.iter().position(|r| r.key.as_ref() == Some(&k)))
            .unwrap_or(self.selected)
            .min(self.rows.len().saturating_sub(1));
        self.scroll_to_selection();
    }

    /// Rows of the matrix on screen (below the status line and the column header, above the
    /// hint line).
    pub fn body_height(&self) -> usize {
        usize::from(self.size.1.saturating_sub(3)).max(1)
    }

    fn scroll_to_selection(&mut self) {
        let h = self.body_height();
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + h {
            self.offset = self.selected + 1 - h;
        }
    }

    /// The entry of a cell, when that target has the resource.
    pub fn entry(&self, column: usize, key: &ResourceKey) -> Option<&DriftEntry> {
        self.columns.get(column)?.report.as_ref()?.entry(key)
    }

    pub fn update(&mut self, msg: FleetMsg) -> Vec<FleetEffect> {
        match msg {
            FleetMsg::Resize(w, h) => {
                self.size = (w, h);
                self.scroll_to_selection();
            }
            FleetMsg::Tick(now) => self.now = now,
            FleetMsg::Report(i, r, live) => {
                if let Some(c) = self.columns.get_mut(i) {
                    c.report = Some(*r);
                    c.live = live;
                }
                self.rebuild();
            }
            FleetMsg::Live(i, l) => {
                // Rows read a column's live state only as whether its verdicts stand.
                if let Some(c) = self.columns.get_mut(i) {
                    let was = c.is_current();
                    c.live = l;
                    if c.is_current() != was {
                        self.rebuild();
                    }
                }
            }
            FleetMsg::GitProblem(i, p) => {
                if let Some(c) = self.columns.get_mut(i) {
                    c.git_problem = p;
                }
            }
            FleetMsg::Compared {
                key,
                columns,
                objects,
            } => {
                if let Some(v) = &mut self.view {
                    if let Some(c) = &mut v.compare {
                        if v.key == key && (v.column, c.other) == columns {
                            c.objects = Some(*objects);
                        }
                    }
                }
            }
            FleetMsg::Key(k) => return self.key(k),
        }
        Vec::new()
    }

    fn key(&mut self, k: Key) -> Vec<FleetEffect> {
        let n = self.columns.len();
        if let Some(v) = &mut self.view {
            match k {
                Key::Esc | Key::Char('q') if v.compare.is_some() => {
                    v.compare = None;
                    v.scroll = 0;
                }
                Key::Char('c') if n > 1 => {
                    // The next other target each time.
                    let mut other = v.compare.as_ref().map(|c| c.other).unwrap_or(v.column);
                    other = (other + 1) % n;
                    if other == v.column {
                        other = (other + 1) % n;
                    }
                    v.compare = Some(Compare {
                        other,
                        objects: None,
                    });
                    v.scroll = 0;
                    return vec![FleetEffect::Compare {
                        key: v.key.clone(),
                        columns: (v.column, other),
                    }];
                }
                Key::Char('o') => return vec![FleetEffect::Open(v.column)],
                Key::Esc | Key::Char('q') | Key::Enter => self.view = None,
                Key::Char('j') | Key::Down => v.scroll += 1,
                Key::Char('k') | Key::Up => v.scroll = v.scroll.saturating_sub(1),
                Key::PageDown | Key::Char(' ') => v.scroll += 10,
                Key::PageUp => v.scroll = v.scroll.saturating_sub(10),
                Key::Char('h') | Key::Left => {
                    v.column = v.column.saturating_sub(1);
                    v.scroll = 0;
                    v.compare = None;
                }
                Key::Char('l') | Key::Right => {
                    v.column = (v.column + 1).min(n.saturating_sub(1));
                    v.scroll = 0;
                    v.compare = None;
                }
                _ => {}
            }
            if let Some(v) = &self.view {
                self.column = v.column;
            }
            return Vec::new();
        }
        let last = self.rows.len().saturating_sub(1);
        match k {
            Key::Char('q') | Key::Ctrl('c') => return vec![FleetEffect::Quit],
            Key::Char('j') | Key::Down => self.selected = (self.selected + 1).min(last),
            Key::Char('k') | Key::Up => self.selected = self.selected.saturating_sub(1),
            Key::PageDown => self.selected = (self.selected + self.body_height()).min(last),
            Key::PageUp => self.selected = self.selected.saturating_sub(self.body_height()),
            Key::Char('g') | Key::Home => self.selected = 0,
            Key::Char('G') | Key::End => self.selected = last,
            Key::Char('h') | Key::Left => self.column = self.column.saturating_sub(1),
            Key::Char('l') | Key::Right | Key::Tab => {
                self.column = (self.column + 1).min(self.columns.len().saturating_sub(1))
            }
            Key::Char('f') => {
                self.filter = self.filter.next();
                self.rebuild();
            }
            Key::Char('r') => return vec![FleetEffect::Refresh],
            Key::Char('o') if !self.columns.is_empty() => {
                return vec![FleetEffect::Open(self.column)]
            }
            Key::Char(' ') => {
                if let Some(key) = self.rows.get(self.selected).and_then(|r| r.key.clone()) {
                    let cell = (self.column, key);
                    if !self.marks.remove(&cell) {
                        self.marks.insert(cell);
                    }
                    self.selected = (self.selected + 1).min(last);
                }
            }
            Key::Char('s') => {
                let mut by_target: BTreeMap<usize, Vec<ResourceKey>> = BTreeMap::new();
                if self.marks.is_empty() {
                    if let Some(key) = self.rows.get(self.selected).and_then(|r| r.key.clone()) {
                        by_target.entry(self.column).or_default().push(key);
                    }
                }
                for (c, k) in &self.marks {
                    by_target.entry(*c).or_default().push(k.clone());
                }
                if !by_target.is_empty() {
                    self.marks.clear();
                    return vec![FleetEffect::Sync(by_target.into_iter().collect())];
                }
            }
            Key::Enter => {
                if let Some(key) = self.rows.get(self.selected).and_then(|r| r.key.clone()) {
                    self.view = Some(CellView {
                        column: self.column,
                        key,
                        scroll: 0,
                        compare: None,
                    });
                }
            }
            _ => {}
        }
        self.scroll_to_selection();
        Vec::new()
    }

    /// The lines of an opened cell: the target, the status, each drifted field with both
    /// values, then the unified diff (live `-`, Git `+`, as kubectl diff).
    pub fn view_lines(&self) -> Vec<String> {
        let Some(v) = &self.view else {
            return Vec::new();
        };
        let col = &self.columns[v.column];
        if let Some(c) = &v.compare {
            return self.compare_lines(v, c);
        }
        let mut out = vec![format!(
            "{} · context {} · {}",
            col.name, col.context, col.server
        )];
        let name = format!("{} {}", v.key.kind, v.key.name);
        if !col.is_current() {
            // Its last report is no verdict now: never shown as one.
            out.push(format!(
                "{name}: no verdict on {} now ({})",
                col.name,
                live_words(&col.live)
            ));
            return out;
        }
        let Some(e) = self.entry(v.column, &v.key) else {
            out.push(format!(
                "{name}: not on {}: neither its Git paths nor its cluster have it",
                col.name
            ));
            return out;
        };
        out.push(format!(
            "{name}{}  {}",
            if v.key.namespace.is_empty() {
                String::new()
            } else {
                format!(" -n {}", v.key.namespace)
            },
            e.status
        ));
        if let Some(src) = &e.source {
            out.push(format!("Git: {src}"));
        }
        if let Some(r) = &e.reason {
            out.push(r.clone());
        }
        for f in &e.fields {
            let show = |v: &Option<serde_json::Value>| match v {
                Some(v) => crate::sync::short_value(v, 60),
                None => "(absent)".into(),
            };
            out.push(format!(
                "~ {}: git {} | live {}",
                f.path,
                show(&f.desired),
                show(&f.live)
            ));
        }
        let live = crate::diff::to_yaml(e.live_value().as_ref());
        let git = crate::diff::to_yaml(e.desired_value().as_ref());
        let diff = crate::diff::unified(&live, &git, "live", "git", 3);
        if !diff.is_empty() {
            out.push(String::new());
            out.extend(diff.lines().map(str::to_string));
        }
        out
    }
}

impl FleetState {
    /// Two targets' live objects of one resource: `-` the opened target's, `+` the other's,
    /// with each one's verdict against its Git.
    fn compare_lines(&self, v: &CellView, c: &Compare) -> Vec<String> {
        let (a, b) = (&self.columns[v.column], &self.columns[c.other]);
        let mut out = vec![format!(
            "live on {} (-) and on {} (+): {} {}{}",
            a.name,
            b.name,
            v.key.kind,
            v.key.name,
            if v.key.namespace.is_empty() {
                String::new()
            } else {
                format!(" -n {}", v.key.namespace)
            }
        )];
        for (i, col) in [(v.column, a), (c.other, b)] {
            let verdict = match self.entry(i, &v.key) {
                _ if !col.is_current() => "no verdict now".to_string(),
                Some(e) if e.fields.is_empty() => e.status.to_string(),
                Some(e) => match e.fields.len() {
                    1 => format!("{} (1 drifted field)", e.status),
                    n => format!("{} ({n} drifted fields)", e.status),
                },
                None => "not in its Git paths".to_string(),
            };
            out.push(format!("against its Git, {}: {verdict}", col.name));
        }
        let Some((left, right)) = &c.objects else {
            out.push("reading both clusters…".into());
            return out;
        };
        let side = |s: &LiveSide, name: &str, out: &mut Vec<String>| match s {
            Ok(Some(v)) => crate::diff::to_yaml(Some(v)),
            Ok(None) => {
                out.push(format!("{name}'s cluster has no such object"));
                String::new()
            }
            Err(e) => {
                out.push(format!("{name}: cannot read it: {e}"));
                String::new()
            }
        };
        let l = side(left, &a.name, &mut out);
        let r = side(right, &b.name, &mut out);
        let diff = crate::diff::unified(&l, &r, &a.name, &b.name, 3);
        if diff.is_empty() {
            if left.as_ref().is_ok_and(Option::is_some) {
                out.push(
                    "the two clusters hold the same object (status and server-set metadata aside)"
                        .into(),
                );
            }
        } else {
            out.push(String::new());
            out.extend(diff.lines().map(str::to_string));
        }
        out
    }
}

/// A target's connection in a few words.
pub fn live_words(l: &LiveState) -> String {
    match l {
        LiveState::File { .. } => "a file".into(),
        LiveState::Connecting | LiveState::Waiting { .. } => "connecting".into(),
        LiveState::Connected { .. } => "live".into(),
        LiveState::Reconnecting { error, .. } => format!("reconnecting: {error}"),
        LiveState::Unreachable { error } => format!("unreachable: {error}"),
    }
}

#[cfg(test)]
mod tests;
