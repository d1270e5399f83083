//! The explorer's state and its one way of changing: `update(&mut AppState, Msg) ->
//! Vec<Effect>` (The Elm Architecture). Messages are key presses, mouse events, new reports
//! from the sources, connection news and clock ticks; effects are what the runtime must do
//! (quit, refresh, preview or apply a sync). No I/O, no terminal, no clock of its own: time
//! arrives in messages, so every screen can be reproduced in a test.

pub mod ages;
pub mod diffview;
pub mod fleet;
pub mod layout;
pub mod sync_dialog;
pub mod tree;
pub mod wrap;

use crate::desired::git::RevisionInfo;
use crate::drift::{DriftEntry, DriftReport};
use crate::keymap::{Action, Key, KeyMap, KeyMode, Resolution};
use crate::model::{DriftStatus, ResourceKey};
use diffview::DiffDoc;
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tree::{Filter, Grouping, Row, RowKind};

/// How long a key that starts a longer binding waits for the next key.
pub const SEQUENCE_TIMEOUT: Duration = Duration::from_millis(500);
/// How long an announcement stays in the hint bar.
pub const TOAST_FOR: Duration = Duration::from_secs(4);
const LOG_CAPACITY: usize = 2000;

/// Where the data comes from, for the status bar.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Header {
    /// The kube context, or `(offline)` for a live file.
    pub context: String,
    /// The API server URL, or the live file's path.
    pub server: String,
    pub repo: String,
    pub revision: RevisionInfo,
    /// `--diff-mode server`: verdicts are the API server's dry runs where they could be made.
    pub server_mode: bool,
}

/// How fresh the live side is.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveState {
    /// Read from a file at that time; no watches.
    File {
        read_at: SystemTime,
    },
    Connecting,
    /// The cluster has given no answer yet since `since` (connecting, discovering): the Git
    /// side is shown, every row waiting.
    Waiting {
        since: SystemTime,
    },
    /// Watching; `freshest` is the time of the newest event or list.
    Connected {
        freshest: SystemTime,
    },
    /// Some watches failed at `since` and are being retried.
    Reconnecting {
        since: SystemTime,
        error: String,
    },
    /// The cluster cannot be reached at all.
    Unreachable {
        error: String,
    },
}

impl LiveState {
    /// Whether every kind has been listed once: verdicts made now are a baseline (before,
    /// waiting for the cluster or still listing, they are not).
    pub fn is_complete(&self) -> bool {
        matches!(
            self,
            LiveState::Connected { .. } | LiveState::File { .. } | LiveState::Reconnecting { .. }
        )
    }
}

/// A new report from the engine, with what it was computed from.
#[derive(Debug, Clone)]
pub struct ReportUpdate {
    pub body: ReportBody,
    pub revision: RevisionInfo,
    pub live: LiveState,
}

/// A report: whole, or only what changed since the last one the engine sent (a watch event
/// touches a few keys; sending and applying 10,000 entries for it would cost the UI thread
/// tens of milliseconds).
#[derive(Debug, Clone)]
pub enum ReportBody {
    Full(DriftReport),
    /// Only the entries of `keys` changed (same revision): `entries` are the new entries of
    /// those still reported, sorted; the other keys are gone.
    Changed {
        keys: Vec<ResourceKey>,
        entries: Vec<Arc<DriftEntry>>,
    },
}

impl ReportBody {
    /// Brings the last report received up to this one.
    pub fn apply(self, report: &mut DriftReport) {
        match self {
            ReportBody::Full(r) => *report = r,
            ReportBody::Changed { keys, entries } => report.patch(&keys, entries),
        }
    }
}

/// Mouse input, already in cell coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MouseMsg {
    ScrollUp,
    ScrollDown,
    Click { column: u16, row: u16 },
}

/// Everything that can happen to the explorer.
#[derive(Debug, Clone)]
pub enum Msg {
    Key(Key),
    Mouse(MouseMsg),
    Resize(u16, u16),
    Report(Box<ReportUpdate>),
    Live(LiveState),
    /// Something worth a line in the event log (and a brief announcement).
    Notice(String),
    /// Git cannot be read (no repository, no such revision, an unreadable object), with what
    /// to do; `None` once it can be again. Shown in the main area until then.
    GitProblem(Option<String>),
    Tick(SystemTime),
    Sync(sync_dialog::SyncMsg),
    /// A resource's Events (newest first), or why they cannot be read.
    Events(ResourceKey, Result<Vec<EventLine>, String>),
    /// The open episodes of the drift history (resource key → since, seconds since the
    /// epoch): what needed attention before this run started.
    HistorySince(HashMap<String, i64>),
}

/// What the runtime must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Quit,
    /// Re-read Git and the live state now.
    Refresh,
    Sync(sync_dialog::SyncEffect),
    /// Put this text on the terminal's clipboard (OSC 52).
    Copy(String),
    /// Open a file of the repository's working tree at a line in `$EDITOR`.
    Edit {
        file: String,
        line: Option<usize>,
    },
    /// Show this text in `$PAGER`.
    Page {
        title: String,
        text: String,
    },
    /// Capture the mouse (or let the terminal select text).
    Mouse(bool),
    /// Switch to another kube context.
    SwitchContext(String),
    /// Show another Git revision.
    SwitchRevision(String),
    /// Read a resource's Events and keep them current (answer `Msg::Events`); `None` stops.
    WatchEvents(Option<ResourceKey>),
    /// Ring (config `ui.notify`): something drifted while you watched.
    Ring(Notify, String),
}

/// Which screen fills the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Tree,
    Diff,
    Help,
    Log,
    /// The Events of one resource.
    Events,
}

/// The open diff.
#[derive(Debug, Clone)]
pub struct DiffState {
    pub key: ResourceKey,
    pub doc: DiffDoc,
    pub scroll: usize,
    pub hscroll: usize,
}

/// Display preferences of the diff view, kept across resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiffPrefs {
    pub unified: bool,
    /// Whether the user chose side by side or unified (else it follows the width: unified
    /// below 100 columns, where two halves would cut the changed words off).
    pub unified_chosen: bool,
    pub compact: bool,
    pub wrap: bool,
}

/// A line of the event log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    pub time: SystemTime,
    pub text: String,
}

/// The search box.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Search {
    pub query: String,
    /// Typing into the box.
    pub editing: bool,
}

/// How the screen looks, from flags and config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Look {
    pub ascii: bool,
    pub color: bool,
    pub notify: Notify,
}

pub use crate::config::Notify;

/// The explorer's whole state.
#[derive(Debug, Clone)]
pub struct AppState {
    pub keymap: KeyMap,
    pub look: Look,
    pub read_only: bool,
    pub header: Header,
    pub live: LiveState,
    pub report: DriftReport,
    /// Whether the first report has arrived.
    pub loaded: bool,
    pub rows: Vec<Row>,
    pub selected: usize,
    /// First visible row of the tree.
    pub offset: usize,
    pub collapsed: HashSet<String>,
    pub grouping: Grouping,
    pub filter: Filter,
    pub search: Search,
    pub screen: Screen,
    /// The screen Help and Log return to.
    pub previous: Screen,
    pub diff: Option<DiffState>,
    pub prefs: DiffPrefs,
    pub list_scroll: usize,
    pub log: VecDeque<LogLine>,
    pub toast: Option<(String, SystemTime)>,
    pub now: SystemTime,
    pub size: (u16, u16),
    pending: Vec<Key>,
    pending_fallback: Option<Action>,
    pending_since: Option<SystemTime>,
    /// Resources marked for a sync.
    pub marks: BTreeSet<ResourceKey>,
    pub sync: sync_dialog::SyncState,
    /// Shown in the hint bar until the first key press.
    pub first_run_hint: Option<String>,
    /// Why Git cannot be read now, with what to do (stays on screen until it can).
    pub git_problem: Option<String>,
    /// When each out-of-sync resource first drifted during this run, and when its drift
    /// last changed.
    pub timeline: HashMap<ResourceKey, Timeline>,
    /// Whether the detail pane shows, when the user chose (`i`); else it shows on wide
    /// terminals only.
    pub detail: Option<bool>,
    /// Whether the hint bar has said once that a key is unbound.
    unbound_told: bool,
    /// The `:` command being typed.
    pub command: Option<String>,
    /// The namespace the view is limited to (`:ns NAME`).
    pub namespace: Option<String>,
    /// The kube contexts `:ctx` can switch to.
    pub contexts: Vec<String>,
    /// Whether the mouse is captured (off: the terminal selects text).
    pub mouse: bool,
    /// The Events view's resource and what it shows.
    pub events: Option<EventsView>,
    /// Whether `:ctx` and `:rev` can switch (not in the demo).
    pub can_switch: bool,
    /// Since when each resource has needed attention, from the drift history (across
    /// restarts); empty without one.
    pub history_since: HashMap<String, i64>,
    /// Open the sync preview of the marks once the first complete report is in (a sync the
    /// fleet matrix asked for).
    pub sync_on_load: bool,
    /// Counts the changes to `report`.
    report_generation: u64,
    /// Counts the changes to the report's shape: its keys, and the apps and files of its
    /// entries (what rows are grouped by, and searched for). A watch event changes statuses
    /// and objects, seldom the shape.
    shape_generation: u64,
    /// The rows' layout of the report (shape, entries, grouping, namespace): built
    /// again only when one of those changed.
    layout: Option<(LayoutKey, Arc<tree::Layout>)>,
    /// The last count of matches, by what it counted (query, filter, namespace, report
    /// generation): every frame shows it, and counting reads every entry.
    matched: std::cell::RefCell<Option<(MatchKey, usize)>>,
    /// The report's searched text, by the report's (shape, entries).
    search_text: std::cell::RefCell<Option<(ShapeKey, Arc<tree::SearchText>)>>,
}

type MatchKey = (String, Filter, Option<String>, u64, usize);
type ShapeKey = (u64, usize);

type LayoutKey = (u64, usize, Grouping, Option<String>);

/// The Events of one resource, newest first, as the runtime last read them.
#[derive(Debug, Clone, PartialEq)]
pub struct EventsView {
    pub key: ResourceKey,
    /// `None` until the first answer.
    pub events: Option<Vec<EventLine>>,
    /// Why they cannot be read, when so.
    pub error: Option<String>,
}

/// One Event as the Events view shows it.
pub type EventLine = crate::model::ClusterEvent;

/// The drift history of one resource during this run.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    pub first_drift: SystemTime,
    pub last_change: SystemTime,
    /// The drifted paths and live values, to notice when the drift changes.
    fingerprint: String,
}

impl AppState {
    pub fn new(keymap: KeyMap, look: Look, header: Header, now: SystemTime) -> AppState {
        AppState {
            keymap,
            look,
            read_only: false,
            header,
            live: LiveState::Connecting,
            report: DriftReport::default(),
            loaded: false,
            rows: Vec::new(),
            selected: 0,
            offset: 0,
            collapsed: HashSet::new(),
            grouping: Grouping::Namespace,
            filter: Filter::All,
            search: Search::default(),
            screen: Screen::Tree,
            previous: Screen::Tree,
            diff: None,
            prefs: DiffPrefs {
                unified: false,
                unified_chosen: false,
                compact: true,
                wrap: false,
            },
            list_scroll: 0,
            log: VecDeque::new(),
            toast: None,
            now,
            size: (80, 24),
            pending: Vec::new(),
            pending_fallback: None,
            pending_since: None,
            marks: BTreeSet::new(),
            sync: sync_dialog::SyncState::default(),
            first_run_hint: None,
            git_problem: None,
            timeline: HashMap::new(),
            detail: None,
            unbound_told: false,
            command: None,
            namespace: None,
            contexts: Vec::new(),
            mouse: true,
            events: None,
            can_switch: false,
            history_since: HashMap::new(),
            sync_on_load: false,
            report_generation: 0,
            shape_generation: 0,
            layout: None,
            matched: Default::default(),
            search_text: Default::default(),
        }
    }

    /// Starts over on another context or revision (`:ctx`, `:rev`): nothing of the old
    /// cluster or revision stays on screen (no report, rows, diff, marks, dialog or Events),
    /// while the view (filter, grouping, namespace, search, folds, diff preferences, detail)
    /// and the event log carry on.
    pub fn restart(&mut self, header: Header) {
        self.header = header;
        self.live = LiveState::Connecting;
        self.report = DriftReport::default();
        self.report_generation += 1;
        self.shape_generation += 1;
        self.loaded = false;
        self.rows.clear();
        self.selected = 0;
        self.offset = 0;
        self.screen = Screen::Tree;
        self.previous = Screen::Tree;
        self.diff = None;
        self.marks.clear();
        self.sync = sync_dialog::SyncState::default();
        self.git_problem = None;
        self.timeline.clear();
        self.events = None;
        self.history_since.clear();
        self.command = None;
        self.pending.clear();
        self.pending_fallback = None;
        self.pending_since = None;
        self.toast = None;
        self.log(format!(
            "now on context {} ({})",
            self.header.context, self.header.server
        ));
    }

    /// The tree's rows under a filter, within the `:ns` namespace when one is chosen.
    fn rows_for(&mut self, filter: Filter, collapsed: &HashSet<String>) -> Vec<Row> {
        self.layout()
            .rows(&self.report, self.grouping, filter, collapsed)
    }

    /// The layout of the report's rows under the grouping and namespace, built again only
    /// when one of them changed.
    fn layout(&mut self) -> Arc<tree::Layout> {
        let key = (
            self.shape_generation,
            self.report.entries.len(),
            self.grouping,
            self.namespace.clone(),
        );
        match &self.layout {
            Some((k, layout)) if *k == key => layout.clone(),
            _ => {
                let layout = Arc::new(tree::Layout::new(
                    &self.report,
                    self.grouping,
                    self.namespace.as_deref(),
                ));
                self.layout = Some((key, layout.clone()));
                layout
            }
        }
    }

    /// Whether the detail pane shows: as chosen with `i`, else on wide terminals.
    pub fn detail_shown(&self) -> bool {
        self.detail.unwrap_or(self.size.0 >= layout::WIDE)
    }

    /// The tree's rows on screen.
    fn tree_height(&self) -> usize {
        usize::from(layout::areas_of(self).tree.height)
    }

    /// The breadcrumb of the selected row (namespace › kind › name, or folder › file › name),
    /// from its groups' labels.
    pub fn breadcrumb(&self) -> Vec<String> {
        let mut chain = Vec::new();
        let mut at = self.selected_row();
        while let Some(row) = at {
            chain.push(match row.kind {
                RowKind::Resource { index } => self.report.entries[index].key.name.clone(),
                RowKind::Group { .. } => row.label.clone(),
            });
            at = row
                .parent
                .as_ref()
                .and_then(|p| self.rows.iter().find(|r| &r.id == p));
        }
        chain.reverse();
        chain
    }

    /// The row under the cursor.
    pub fn selected_row(&self) -> Option<&Row> {
        self.rows.get(self.selected)
    }

    /// The entry under the cursor, when it is a resource.
    pub fn selected_entry(&self) -> Option<&DriftEntry> {
        match self.selected_row()?.kind {
            RowKind::Resource { index } => self.report.entries.get(index).map(|e| &**e),
            RowKind::Group { .. } => None,
        }
    }

    /// When the runtime must wake up to resolve a pending key sequence.
    pub fn pending_deadline(&self) -> Option<SystemTime> {
        self.pending_since.map(|t| t + SEQUENCE_TIMEOUT)
    }

    /// The current announcement, if still fresh.
    pub fn current_toast(&self) -> Option<&str> {
        self.toast
            .as_ref()
            .filter(|(_, at)| self.now.duration_since(*at).unwrap_or_default() < TOAST_FOR)
            .map(|(t, _)| t.as_str())
    }

    fn key_mode(&self) -> KeyMode {
        match self.screen {
            Screen::Tree => KeyMode::Tree,
            Screen::Diff => KeyMode::Diff,
            Screen::Help | Screen::Log | Screen::Events => KeyMode::List,
        }
    }

    /// Adds a line to the event log.
    pub fn log(&mut self, text: impl Into<String>) {
        if self.log.len() >= LOG_CAPACITY {
            self.log.pop_front();
        }
        self.log.push_back(LogLine {
            time: self.now,
            text: text.into(),
        });
    }

    /// Logs and announces.
    pub fn announce(&mut self, text: impl Into<String>) {
        let text = text.into();
        self.log(text.clone());
        self.toast = Some((text, self.now));
    }

    fn body_height(&self) -> usize {
        layout::body_height(self.size) as usize
    }

    fn page(&self) -> usize {
        match self.screen {
            Screen::Diff => layout::diff_rows_height(self).max(1),
            Screen::Tree => self.tree_height().max(1),
            _ => self.body_height().max(1),
        }
    }

    /// Rebuilds the rows from the report, keeping the selected row (by id) and the scroll
    /// position; when the selected row is gone, the cursor stays at the same height.
    pub fn rebuild(&mut self) {
        let selected_id = self.selected_row().map(|r| r.id.clone());
        let screen_pos = self.selected.saturating_sub(self.offset);
        let collapsed = std::mem::take(&mut self.collapsed);
        self.rows = self.rows_for(self.filter, &collapsed);
        self.collapsed = collapsed;
        if let Some(id) = selected_id {
            let at = self
                .rows
                .iter()
                .position(|r| r.id == id)
                .or_else(|| self.nearest_visible(&id));
            if let Some(i) = at {
                self.selected = i;
                // Keep the row where it was on screen.
                self.offset = i.saturating_sub(screen_pos);
            }
        }
        self.clamp_selection();
    }

    /// The row nearest to the row `id` that is no longer shown (a filter hid it), in the
    /// order of every row: the next one shown after it, else the one before.
    fn nearest_visible(&mut self, id: &str) -> Option<usize> {
        let near = self
            .layout()
            .nearest_shown(&self.report, id, self.filter, &self.collapsed)?;
        self.rows.iter().position(|r| r.id == near)
    }

    fn clamp_selection(&mut self) {
        let n = self.rows.len();
        if n == 0 {
            self.selected = 0;
            self.offset = 0;
            return;
        }
        self.selected = self.selected.min(n - 1);
        let h = self.tree_height().max(1);
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + h {
            self.offset = self.selected + 1 - h;
        }
        self.offset = self.offset.min(n.saturating_sub(h));
    }

    fn select(&mut self, index: usize) {
        self.selected = index;
        self.clamp_selection();
    }

    fn select_id(&mut self, id: &str) -> bool {
        match self.rows.iter().position(|r| r.id == id) {
            Some(i) => {
                self.select(i);
                true
            }
            None => false,
        }
    }

    /// Opens the diff of an entry.
    fn open_diff(&mut self, key: ResourceKey) {
        let doc = self
            .entry(&key)
            .map(|e| diffview::build(e, self.prefs.unified, self.prefs.compact))
            .unwrap_or_default();
        self.diff = Some(DiffState {
            key,
            doc,
            scroll: 0,
            hscroll: 0,
        });
        self.screen = Screen::Diff;
    }

    /// The resource the user is looking at: the diff's, else the tree's selection.
    pub fn current_entry(&self) -> Option<&DriftEntry> {
        match (&self.diff, self.screen) {
            (Some(d), Screen::Diff) => self.entry(&d.key),
            _ => self.selected_entry(),
        }
    }

    /// The entry of a key.
    pub fn entry(&self, key: &ResourceKey) -> Option<&DriftEntry> {
        self.report
            .entries
            .binary_search_by(|e| e.key.cmp(key))
            .ok()
            .map(|i| &*self.report.entries[i])
    }

    fn rebuild_diff(&mut self) {
        let Some(d) = &self.diff else { return };
        let doc = self
            .entry(&d.key)
            .map(|e| diffview::build(e, self.prefs.unified, self.prefs.compact))
            .unwrap_or_else(|| DiffDoc {
                note: Some("this resource is no longer in Git or the cluster".into()),
                ..DiffDoc::default()
            });
        let max = doc.rows.len().saturating_sub(1);
        if let Some(d) = &mut self.diff {
            d.doc = doc;
            d.scroll = d.scroll.min(max);
        }
    }

    /// Moves to the next (or previous) resource matching the search, unfolding its groups.
    fn jump_to_match(&mut self, forward: bool, include_current: bool) {
        let matcher = tree::Matcher::new(&self.search.query);
        if matcher.is_empty() {
            return;
        }
        // Every row the filter admits, in order: the rows shown when nothing is folded.
        let folded = !self.collapsed.is_empty();
        let unfolded = folded.then(|| self.rows_for(self.filter, &HashSet::new()));
        let all = unfolded.as_deref().unwrap_or(&self.rows);
        let n = all.len();
        let entry_at = |p: usize| match all[p].kind {
            RowKind::Resource { index } => Some(index),
            RowKind::Group { .. } => None,
        };
        let current = match self.selected_row().map(|r| &r.kind) {
            Some(RowKind::Resource { index }) => Some(*index),
            _ => None,
        };
        let start = current.and_then(|c| {
            if folded {
                (0..n).find(|&p| entry_at(p) == Some(c))
            } else {
                Some(self.selected)
            }
        });
        let step = |o: usize| match (start, forward) {
            (Some(s), true) => (s + o + usize::from(!include_current)) % n,
            (Some(s), false) => (s + n - o - 1) % n,
            (None, true) => o,
            (None, false) => n - 1 - o,
        };
        let text = self.search_text();
        let found = (0..n).map(step).find_map(|p| {
            let i = entry_at(p)?;
            text.matches(i, &matcher).then_some((p, i))
        });
        drop(unfolded);
        match found {
            Some((p, i)) => {
                // Say so when `n`/`N` went past the end (or the start) and came round
                // (back to the current match itself included).
                let wrapped = !include_current
                    && start.is_some_and(|s| if forward { p <= s } else { p >= s });
                if wrapped {
                    self.toast = Some((
                        if forward {
                            "search wrapped to the top".to_string()
                        } else {
                            "search wrapped to the bottom".to_string()
                        },
                        self.now,
                    ));
                }
                if !folded {
                    self.select(p);
                    return;
                }
                let entry = &self.report.entries[i];
                let id = tree::resource_id(&entry.key);
                let mut unfolded = false;
                for g in tree::ancestors(entry, self.grouping) {
                    unfolded |= self.collapsed.remove(&g);
                }
                if unfolded {
                    self.rebuild();
                }
                self.select_id(&id);
            }
            None => {
                let query = &self.search.query;
                self.toast = Some((format!("no match for {query:?}"), self.now));
            }
        }
    }

    /// The report's searched text, built again when the report changed.
    fn search_text(&self) -> Arc<tree::SearchText> {
        let key = (self.shape_generation, self.report.entries.len());
        let mut cached = self.search_text.borrow_mut();
        match &*cached {
            Some((k, text)) if *k == key => text.clone(),
            _ => {
                let text = Arc::new(tree::SearchText::new(&self.report));
                *cached = Some((key, text.clone()));
                text
            }
        }
    }

    /// How many entries match the search.
    pub fn match_count(&self) -> usize {
        let matcher = tree::Matcher::new(&self.search.query);
        if matcher.is_empty() {
            return 0;
        }
        let key = (
            self.search.query.clone(),
            self.filter,
            self.namespace.clone(),
            self.report_generation,
            self.report.entries.len(),
        );
        if let Some((k, n)) = &*self.matched.borrow() {
            if *k == key {
                return *n;
            }
        }
        let text = self.search_text();
        let n = (0..self.report.entries.len())
            .filter(|&i| {
                let e = &self.report.entries[i];
                text.matches(i, &matcher)
                    && self.filter.admits(e)
                    && self
                        .namespace
                        .as_ref()
                        .is_none_or(|ns| e.key.namespace == *ns)
            })
            .count();
        *self.matched.borrow_mut() = Some((key, n));
        n
    }
}

/// One turn of the explorer's loop, folded without I/O: the clock (`now`) reaches the state
/// first (resolving a key sequence that timed out, ageing announcements), then `msg` unless
/// it is itself a tick. `second` says a whole second has passed since the last redraw for
/// ages. The screen needs redrawing after anything but an idle tick.
pub fn fold(state: &mut AppState, msg: Msg, now: SystemTime, second: bool) -> Folded {
    let is_tick = matches!(msg, Msg::Tick(_));
    let was_pending = state.pending_deadline().is_some();
    let mut effects = update(state, Msg::Tick(now));
    if !is_tick {
        effects.extend(update(state, msg));
    }
    let redraw = !is_tick || second || was_pending || !effects.is_empty();
    Folded { effects, redraw }
}

/// What one turn of the loop leaves to do.
#[derive(Debug, PartialEq)]
pub struct Folded {
    pub effects: Vec<Effect>,
    /// Whether the screen must be drawn again.
    pub redraw: bool,
}

/// Applies a message; returns what the runtime must do.
pub fn update(state: &mut AppState, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Tick(now) => {
            state.now = now;
            if let Some(deadline) = state.pending_deadline() {
                if now >= deadline {
                    let fallback = state.pending_fallback.take();
                    state.pending.clear();
                    state.pending_since = None;
                    if let Some(a) = fallback {
                        return run_action(state, a);
                    }
                }
            }
            Vec::new()
        }
        Msg::Resize(w, h) => {
            state.size = (w, h);
            if !state.prefs.unified_chosen {
                let unified = w < layout::WIDE;
                if unified != state.prefs.unified {
                    state.prefs.unified = unified;
                    state.rebuild_diff();
                }
            }
            state.clamp_selection();
            sync_dialog::clamp_scroll(state);
            Vec::new()
        }
        Msg::Notice(text) => {
            state.announce(text);
            Vec::new()
        }
        Msg::GitProblem(problem) => {
            if let Some(p) = &problem {
                state.announce(format!("Git: {p}"));
            } else if state.git_problem.is_some() {
                state.announce("Git can be read again".to_string());
            }
            state.git_problem = problem;
            Vec::new()
        }
        Msg::Live(live) => {
            note_live_change(state, &live);
            state.live = live;
            Vec::new()
        }
        Msg::Report(update) => apply_report(state, *update),
        Msg::Mouse(m) => on_mouse(state, m),
        Msg::Key(key) => on_key(state, key),
        Msg::Sync(m) => sync_dialog::on_msg(state, m),
        Msg::HistorySince(map) => {
            state.history_since = map;
            Vec::new()
        }
        Msg::Events(key, events) => {
            if let Some(v) = state.events.as_mut().filter(|v| v.key == key) {
                match events {
                    Ok(list) => {
                        v.events = Some(list);
                        v.error = None;
                    }
                    Err(e) => v.error = Some(e),
                }
            }
            Vec::new()
        }
    }
}

fn note_live_change(state: &mut AppState, new: &LiveState) {
    let line = match (&state.live, new) {
        (LiveState::Reconnecting { .. }, LiveState::Reconnecting { .. }) => None,
        (_, LiveState::Reconnecting { error, .. }) => Some(format!("connection lost: {error}")),
        (LiveState::Reconnecting { .. }, LiveState::Connected { .. }) => {
            Some("reconnected".to_string())
        }
        (LiveState::Unreachable { .. }, LiveState::Unreachable { .. }) => None,
        (_, LiveState::Unreachable { error }) => Some(format!("cluster unreachable: {error}")),
        _ => None,
    };
    if let Some(line) = line {
        state.announce(line);
    }
}

fn apply_report(state: &mut AppState, update: ReportUpdate) -> Vec<Effect> {
    let ReportUpdate {
        body,
        revision,
        live,
    } = update;
    match body {
        ReportBody::Changed { keys, entries }
            if state.loaded && revision.commit == state.header.revision.commit =>
        {
            apply_changed(state, keys, entries, revision, live)
        }
        ReportBody::Changed { keys, entries } => {
            let mut report = state.report.clone();
            report.patch(&keys, entries);
            apply_full(state, report, revision, live)
        }
        ReportBody::Full(report) => apply_full(state, report, revision, live),
    }
}

/// Status changes between two reports, told as the log, a toast and a ring say them.
#[derive(Default)]
struct Transitions {
    /// The first 50, as lines.
    changes: Vec<String>,
    count: usize,
    /// What newly needs attention (drifted, or degraded): worth a ring.
    news: Vec<String>,
}

impl Transitions {
    /// One key: its status and whether it needed attention before, its entry now.
    fn see(
        &mut self,
        key: &ResourceKey,
        before: Option<(DriftStatus, bool)>,
        now: Option<&DriftEntry>,
    ) {
        match now {
            Some(e) => {
                if before.map(|b| b.0) != Some(e.status) {
                    self.count += 1;
                    if self.changes.len() < 50 {
                        self.changes
                            .push(format!("{}: now {}", key.short_name(), e.status));
                    }
                }
                if e.needs_attention() && before.map(|b| b.1) != Some(true) {
                    self.news.push(key.short_name());
                }
            }
            None if before.is_some() => {
                self.count += 1;
                if self.changes.len() < 50 {
                    self.changes.push(format!("{}: gone", key.short_name()));
                }
            }
            None => {}
        }
    }

    fn tell(self, state: &mut AppState, effects: &mut Vec<Effect>) {
        if state.look.notify != Notify::Off && !self.news.is_empty() {
            effects.push(Effect::Ring(
                state.look.notify,
                match self.news.len() {
                    1 => format!("{} drifted", self.news[0]),
                    n => format!("{} and {} more drifted", self.news[0], n - 1),
                },
            ));
        }
        for c in &self.changes {
            state.log(c.clone());
        }
        if self.count > self.changes.len() {
            state.log(format!(
                "… and {} more status changes",
                self.count - self.changes.len()
            ));
        }
        match self.count {
            0 => {}
            1 => state.toast = Some((self.changes[0].clone(), state.now)),
            n => {
                state.toast = Some((
                    format!("{} (and {} more)", self.changes[0], n - 1),
                    state.now,
                ))
            }
        }
    }
}

fn log_first_report(state: &mut AppState, report: &DriftReport) {
    let s = report.summary();
    state.log(format!(
        "first report: {} resources, {} drifted",
        report.entries.len(),
        report.entries.len() - s.synced
    ));
}

fn apply_full(
    state: &mut AppState,
    report: DriftReport,
    revision: RevisionInfo,
    live: LiveState,
) -> Vec<Effect> {
    let mut effects = Vec::new();
    let old_rev = state.header.revision.commit.clone();
    if state.loaded && !old_rev.is_empty() && old_rev != revision.commit {
        state.announce(format!(
            "HEAD {} → {} {}",
            state.header.revision.short, revision.short, revision.subject
        ));
    }
    // Verdicts made before every kind was listed once (waiting for the cluster, still
    // listing) are no baseline: the first complete report is, and only changes after it
    // are news.
    let had_baseline = state.loaded && state.live.is_complete();
    if had_baseline {
        let old: HashMap<&ResourceKey, (DriftStatus, bool)> = state
            .report
            .entries
            .iter()
            .map(|e| (&e.key, (e.status, e.needs_attention())))
            .collect();
        let mut seen = Transitions::default();
        for e in &report.entries {
            seen.see(&e.key, old.get(&e.key).copied(), Some(e));
        }
        let new_keys: HashSet<&ResourceKey> = report.entries.iter().map(|e| &e.key).collect();
        for (k, before) in old.iter().filter(|(k, _)| !new_keys.contains(*k)) {
            seen.see(k, Some(*before), None);
        }
        seen.tell(state, &mut effects);
    } else if live.is_complete() {
        log_first_report(state, &report);
    }
    note_live_change(state, &live);
    update_timeline(state, &report);
    state.header.revision = revision;
    state.live = live;
    state.report = report;
    state.report_generation += 1;
    state.shape_generation += 1;
    state.loaded = true;
    state.marks.retain(|k| {
        state
            .report
            .entries
            .binary_search_by(|e| e.key.cmp(k))
            .is_ok()
    });
    state.rebuild();
    state.rebuild_diff();
    after_report(state, &mut effects);
    effects
}

/// A report that changed at a few keys only (a watch event): statuses compared, the
/// timeline kept and rows updated for those keys alone, in place where no row appears,
/// disappears or moves.
fn apply_changed(
    state: &mut AppState,
    keys: Vec<ResourceKey>,
    entries: Vec<Arc<DriftEntry>>,
    revision: RevisionInfo,
    live: LiveState,
) -> Vec<Effect> {
    let mut effects = Vec::new();
    let had_baseline = state.live.is_complete();
    let old: Vec<Option<(usize, Arc<DriftEntry>)>> = keys
        .iter()
        .map(|k| {
            let i = state
                .report
                .entries
                .binary_search_by(|e| e.key.cmp(k))
                .ok()?;
            Some((i, state.report.entries[i].clone()))
        })
        .collect();
    let now_of = |k: &ResourceKey| {
        entries
            .binary_search_by(|e| e.key.cmp(k))
            .ok()
            .map(|i| &*entries[i])
    };
    if had_baseline {
        let mut seen = Transitions::default();
        for (k, before) in keys.iter().zip(&old) {
            let before = before
                .as_ref()
                .map(|(_, e)| (e.status, e.needs_attention()));
            seen.see(k, before, now_of(k));
        }
        seen.tell(state, &mut effects);
    }
    // Every key was reported and still is: no row comes or goes.
    let same_keys = old.iter().all(Option::is_some) && keys.iter().all(|k| now_of(k).is_some());
    note_live_change(state, &live);
    state.header.revision = revision;
    state.live = live;
    state.report.patch(&keys, entries);
    state.report_generation += 1;
    let same_shape = same_keys
        && old.iter().flatten().all(|(i, before)| {
            let now = &state.report.entries[*i];
            fn file(e: &DriftEntry) -> Option<&str> {
                e.source.as_ref().map(|s| s.file.as_str())
            }
            now.key == before.key && now.app == before.app && file(now) == file(before)
        });
    if !same_shape {
        state.shape_generation += 1;
    }
    if !had_baseline && state.live.is_complete() {
        let report = std::mem::take(&mut state.report);
        log_first_report(state, &report);
        state.report = report;
    }
    update_timeline_keys(state, &keys);
    let old: Vec<(usize, Arc<DriftEntry>)> = old.into_iter().flatten().collect();
    let in_place = same_keys
        && tree::patch_rows(
            &mut state.rows,
            &state.report,
            &old,
            state.grouping,
            state.filter,
            state.namespace.as_deref(),
        );
    if !in_place {
        let report = &state.report;
        state
            .marks
            .retain(|k| report.entries.binary_search_by(|e| e.key.cmp(k)).is_ok());
        state.rebuild();
    }
    if state.diff.as_ref().is_some_and(|d| keys.contains(&d.key)) {
        state.rebuild_diff();
    }
    after_report(state, &mut effects);
    effects
}

/// What follows any report: a sync the fleet matrix asked for opens its preview, once every
/// kind is listed.
fn after_report(state: &mut AppState, effects: &mut Vec<Effect>) {
    if state.sync_on_load
        && state.live.is_complete()
        && matches!(state.sync.dialog, sync_dialog::Dialog::Closed)
    {
        state.sync_on_load = false;
        if !state.marks.is_empty() {
            effects.extend(sync_dialog::on_action(state, Action::Sync));
        }
    }
}

/// The drift timeline over a whole report: when each drift began and last changed.
fn update_timeline(state: &mut AppState, report: &DriftReport) {
    let now = state.now;
    let loaded = state.loaded;
    let mut seen = HashSet::new();
    let mut lines = Vec::new();
    for e in report
        .entries
        .iter()
        .filter(|e| e.status == DriftStatus::OutOfSync)
    {
        seen.insert(e.key.clone());
        see_drift(&mut state.timeline, e, now, loaded, &mut lines);
    }
    state.timeline.retain(|k, _| seen.contains(k));
    for l in lines.into_iter().take(50) {
        state.log(l);
    }
}

/// The drift timeline where only `keys` changed.
fn update_timeline_keys(state: &mut AppState, keys: &[ResourceKey]) {
    let now = state.now;
    let loaded = state.loaded;
    let mut lines = Vec::new();
    for k in keys {
        match state
            .report
            .entry(k)
            .filter(|e| e.status == DriftStatus::OutOfSync)
        {
            Some(e) => see_drift(&mut state.timeline, e, now, loaded, &mut lines),
            None => {
                state.timeline.remove(k);
            }
        }
    }
    for l in lines.into_iter().take(50) {
        state.log(l);
    }
}

/// One drifted entry into the timeline: new drift, or drift that changed, is a line.
fn see_drift(
    timeline: &mut HashMap<ResourceKey, Timeline>,
    e: &DriftEntry,
    now: SystemTime,
    loaded: bool,
    lines: &mut Vec<String>,
) {
    let fingerprint: String = e
        .fields
        .iter()
        .map(|f| {
            format!(
                "{}={};",
                f.path,
                f.live.as_ref().map(|v| v.to_string()).unwrap_or_default()
            )
        })
        .collect();
    let paths = || -> String {
        e.fields
            .iter()
            .take(3)
            .map(|f| f.path.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match timeline.get_mut(&e.key) {
        None => {
            timeline.insert(
                e.key.clone(),
                Timeline {
                    first_drift: now,
                    last_change: now,
                    fingerprint,
                },
            );
            if loaded {
                lines.push(format!("{}: drifted ({})", e.key.short_name(), paths()));
            }
        }
        Some(t) if t.fingerprint != fingerprint => {
            t.fingerprint = fingerprint;
            t.last_change = now;
            lines.push(format!(
                "{}: drift changed ({})",
                e.key.short_name(),
                paths()
            ));
        }
        Some(_) => {}
    }
}

fn on_mouse(state: &mut AppState, m: MouseMsg) -> Vec<Effect> {
    match m {
        MouseMsg::ScrollUp => {
            for _ in 0..3 {
                move_by(state, -1);
            }
        }
        MouseMsg::ScrollDown => {
            for _ in 0..3 {
                move_by(state, 1);
            }
        }
        MouseMsg::Click { column, row } => {
            if state.screen == Screen::Tree {
                let area = layout::tree_area(state);
                if column >= area.x
                    && column < area.x + area.width
                    && row >= area.y
                    && row < area.y + area.height
                {
                    let i = state.offset + usize::from(row - area.y);
                    if i < state.rows.len() {
                        state.select(i);
                    }
                }
            }
        }
    }
    Vec::new()
}

fn on_key(state: &mut AppState, key: Key) -> Vec<Effect> {
    state.first_run_hint = None;
    if state.sync.is_open() {
        return sync_dialog::on_key(state, key);
    }
    if let Some(cmd) = state.command.as_mut() {
        match key {
            Key::Esc => state.command = None,
            Key::Enter => {
                let text = std::mem::take(cmd);
                state.command = None;
                return run_command(state, &text);
            }
            Key::Backspace if cmd.pop().is_none() => state.command = None,
            Key::Backspace => {}
            Key::Tab => complete_command(state),
            Key::Char(c) => cmd.push(c),
            _ => {}
        }
        return Vec::new();
    }
    if state.search.editing {
        match key {
            Key::Esc => {
                state.search = Search::default();
            }
            Key::Enter => {
                state.search.editing = false;
            }
            Key::Backspace => {
                state.search.query.pop();
                state.jump_to_match(true, true);
            }
            Key::Char(c) => {
                state.search.query.push(c);
                state.jump_to_match(true, true);
            }
            Key::Down | Key::Up => {
                state.search.editing = false;
                return on_key(state, key);
            }
            _ => {}
        }
        return Vec::new();
    }
    let mut keys = std::mem::take(&mut state.pending);
    keys.push(key);
    let mode = state.key_mode();
    match state.keymap.resolve(mode, &keys) {
        Resolution::Action(a) => {
            state.pending_fallback = None;
            state.pending_since = None;
            run_action(state, a)
        }
        Resolution::Pending { fallback } => {
            state.pending = keys;
            state.pending_fallback = fallback;
            state.pending_since = Some(state.now);
            Vec::new()
        }
        Resolution::Unbound if keys.len() > 1 => {
            // The sequence broke off: the first key acts alone, the new one starts afresh.
            let fallback = state.pending_fallback.take();
            state.pending_since = None;
            let mut effects = Vec::new();
            if let Some(a) = fallback {
                effects.extend(run_action(state, a));
            }
            effects.extend(on_key(state, key));
            effects
        }
        Resolution::Unbound => {
            state.pending_since = None;
            if !state.unbound_told {
                state.unbound_told = true;
                state.toast = Some((format!("{key} is unbound: press ? for keys"), state.now));
            }
            Vec::new()
        }
    }
}

/// The `:` commands, for completion and help.
pub const COMMANDS: [(&str, &str); 4] = [
    (
        "ns",
        "limit the view to a namespace; alone, show every namespace",
    ),
    ("ctx", "switch to another kube context"),
    ("rev", "show another Git revision (a commit, branch or tag)"),
    ("q", "quit"),
];

/// The namespaces of the report's resources.
fn namespaces(state: &AppState) -> Vec<String> {
    let set: BTreeSet<&str> = state
        .report
        .entries
        .iter()
        .map(|e| e.key.namespace.as_str())
        .filter(|n| !n.is_empty())
        .collect();
    set.into_iter().map(str::to_string).collect()
}

/// Tab in the command line: completes the command, then its argument (namespaces of the
/// report, contexts of the kubeconfig), to the longest common prefix; lists the choices
/// when there are several.
fn complete_command(state: &mut AppState) {
    let Some(cmd) = state.command.clone() else {
        return;
    };
    let (head, arg) = match cmd.split_once(' ') {
        Some((h, a)) => (h.to_string(), Some(a.trim_start().to_string())),
        None => (cmd.clone(), None),
    };
    let (prefix, choices): (String, Vec<String>) = match &arg {
        None => (
            head.clone(),
            COMMANDS.iter().map(|(c, _)| c.to_string()).collect(),
        ),
        Some(a) => (
            a.clone(),
            match head.as_str() {
                "ns" => namespaces(state),
                "ctx" => state.contexts.clone(),
                "rev" => vec!["HEAD".to_string()],
                _ => Vec::new(),
            },
        ),
    };
    let matching: Vec<&String> = choices.iter().filter(|c| c.starts_with(&prefix)).collect();
    let Some(first) = matching.first() else {
        state.toast = Some((format!("nothing to complete for {prefix:?}"), state.now));
        return;
    };
    let mut common = first.to_string();
    for m in &matching[1..] {
        while !m.starts_with(&common) {
            common.pop();
        }
    }
    let done = matching.len() == 1;
    let completed = match &arg {
        None if done => format!("{common} "),
        None => common,
        Some(_) => format!("{head} {common}"),
    };
    state.command = Some(completed);
    if !done {
        let shown: Vec<&str> = matching.iter().take(12).map(|s| s.as_str()).collect();
        state.toast = Some((
            format!(
                "{}{}",
                shown.join("  "),
                if matching.len() > 12 { "  …" } else { "" }
            ),
            state.now,
        ));
    }
}

/// Runs a `:` command.
fn run_command(state: &mut AppState, text: &str) -> Vec<Effect> {
    let mut words = text.split_whitespace();
    let head = words.next().unwrap_or("");
    let arg = words.next();
    match (head, arg) {
        ("", _) => {}
        ("q" | "quit" | "q!", _) => return vec![Effect::Quit],
        ("ns", None) => {
            state.namespace = None;
            state.rebuild();
            state.toast = Some(("every namespace".into(), state.now));
        }
        ("ns", Some(ns)) => {
            if namespaces(state).iter().any(|n| n == ns) {
                state.namespace = Some(ns.to_string());
                state.rebuild();
                state.toast = Some((format!("namespace {ns} (:ns alone shows all)"), state.now));
            } else {
                state.toast = Some((
                    format!("no resource in namespace {ns:?} (tab lists them)"),
                    state.now,
                ));
            }
        }
        ("ctx" | "rev", Some(_)) if !state.can_switch => {
            state.toast = Some((format!(":{head} is not available here"), state.now));
        }
        ("ctx", Some(ctx)) => {
            if !state.contexts.is_empty() && !state.contexts.iter().any(|c| c == ctx) {
                state.toast = Some((
                    format!("no context {ctx:?} in the kubeconfig (tab lists them)"),
                    state.now,
                ));
            } else if ctx == state.header.context {
                state.toast = Some((format!("already on {ctx}"), state.now));
            } else {
                state.announce(format!("switching to context {ctx}…"));
                return vec![Effect::SwitchContext(ctx.to_string())];
            }
        }
        ("rev", Some(rev)) => {
            state.announce(format!("switching to revision {rev}…"));
            return vec![Effect::SwitchRevision(rev.to_string())];
        }
        ("ctx" | "rev", None) => {
            state.toast = Some((format!(":{head} needs a name (tab completes)"), state.now));
        }
        _ => {
            state.toast = Some((
                format!("unknown command :{head} (:ns, :ctx, :rev, :q)"),
                state.now,
            ));
        }
    }
    Vec::new()
}

/// The diff of the next (or previous) resource of the tree that is not synced, in the tree's
/// order (collapsed groups included), from the open diff or, in the tree, from the selected
/// row; the tree's selection follows.
fn step_drifted(state: &mut AppState, forward: bool) {
    let all = state.rows_for(state.filter, &HashSet::new());
    let from_diff = state
        .diff
        .as_ref()
        .filter(|_| state.screen == Screen::Diff)
        .map(|d| d.key.clone());
    // Where to start: the diff's resource, else the selected row (a group starts before its
    // first resource).
    let start_id = match &from_diff {
        Some(k) => Some(tree::resource_id(k)),
        None => state.selected_row().map(|r| r.id.clone()),
    };
    let at = start_id.and_then(|id| all.iter().position(|r| r.id == id));
    let drifted = |r: &Row| match r.kind {
        RowKind::Resource { index } => state.report.entries[index].status != DriftStatus::Synced,
        RowKind::Group { .. } => false,
    };
    let found = match (forward, at) {
        (true, Some(a)) => all[a + 1..].iter().find(|r| drifted(r)),
        (true, None) => all.iter().find(|r| drifted(r)),
        (false, Some(a)) => all[..a].iter().rev().find(|r| drifted(r)),
        (false, None) => None,
    };
    let key = found.and_then(|r| match r.kind {
        RowKind::Resource { index } => Some(state.report.entries[index].key.clone()),
        RowKind::Group { .. } => None,
    });
    let Some(key) = key else {
        state.toast = Some((
            if forward {
                "no drifted resource after this one".to_string()
            } else {
                "no drifted resource before this one".to_string()
            },
            state.now,
        ));
        return;
    };
    let entry = state.entry(&key).cloned();
    if let Some(e) = entry {
        for g in tree::ancestors(&e, state.grouping) {
            state.collapsed.remove(&g);
        }
    }
    state.rebuild();
    state.select_id(&tree::resource_id(&key));
    state.open_diff(key);
}

fn move_by(state: &mut AppState, delta: isize) {
    match state.screen {
        Screen::Tree => {
            if state.rows.is_empty() {
                return;
            }
            let max = state.rows.len() - 1;
            let i = (state.selected as isize + delta).clamp(0, max as isize) as usize;
            state.select(i);
        }
        Screen::Diff => {
            let page = state.page();
            if let Some(d) = &mut state.diff {
                let max = d.doc.rows.len().saturating_sub(page);
                d.scroll = (d.scroll as isize + delta).clamp(0, max as isize) as usize;
            }
        }
        Screen::Help | Screen::Log | Screen::Events => {
            let n = list_len(state);
            let max = n.saturating_sub(state.body_height());
            state.list_scroll =
                (state.list_scroll as isize + delta).clamp(0, max as isize) as usize;
        }
    }
}

/// Lines of the help or log screen.
pub fn list_len(state: &AppState) -> usize {
    match state.screen {
        Screen::Help => layout::help_rows(state).len(),
        Screen::Events => layout::events_rows(state).len(),
        _ => layout::log_rows(state).len(),
    }
}

fn run_action(state: &mut AppState, action: Action) -> Vec<Effect> {
    if action.is_write() && state.read_only {
        state.toast = Some((
            "READ-ONLY: writes are off (--read-only, read_only or read_only_contexts)".into(),
            state.now,
        ));
        return Vec::new();
    }
    let page = state.page() as isize;
    match action {
        Action::Exit => return vec![Effect::Quit],
        // As in `less`: a sub-view's `q` goes back; only the tree's quits.
        Action::Quit if state.screen != Screen::Tree => return run_action(state, Action::Back),
        Action::Quit => return vec![Effect::Quit],
        Action::Help => {
            if state.screen != Screen::Help {
                state.previous = if state.screen == Screen::Log {
                    state.previous
                } else {
                    state.screen
                };
                state.screen = Screen::Help;
                state.list_scroll = 0;
            }
        }
        Action::Log => {
            if state.screen != Screen::Log {
                state.previous = if state.screen == Screen::Help {
                    state.previous
                } else {
                    state.screen
                };
                state.screen = Screen::Log;
                state.list_scroll = layout::log_rows(state)
                    .len()
                    .saturating_sub(state.body_height());
            }
        }
        Action::Refresh => {
            state.toast = Some(("refreshing Git and the live state…".into(), state.now));
            return vec![Effect::Refresh];
        }
        Action::Back => match state.screen {
            Screen::Diff => state.screen = Screen::Tree,
            Screen::Help | Screen::Log => state.screen = state.previous,
            Screen::Events => {
                state.screen = state.previous;
                state.events = None;
                return vec![Effect::WatchEvents(None)];
            }
            Screen::Tree => {
                if !state.search.query.is_empty() {
                    state.search = Search::default();
                } else if !state.marks.is_empty() {
                    state.marks.clear();
                    state.toast = Some(("marks cleared".into(), state.now));
                }
            }
        },
        Action::Up => move_by(state, -1),
        Action::Down => move_by(state, 1),
        Action::PageUp => move_by(state, -page),
        Action::PageDown => move_by(state, page),
        Action::Top => move_by(state, isize::MIN / 2),
        Action::Bottom => move_by(state, isize::MAX / 2),
        Action::Expand => {
            if let Some(row) = state.selected_row().cloned() {
                if let RowKind::Group {
                    collapsed: true, ..
                } = row.kind
                {
                    state.collapsed.remove(&row.id);
                    state.rebuild();
                }
            }
        }
        Action::Collapse => {
            if let Some(row) = state.selected_row().cloned() {
                match row.kind {
                    RowKind::Group {
                        collapsed: false, ..
                    } => {
                        state.collapsed.insert(row.id.clone());
                        state.rebuild();
                    }
                    _ => {
                        if let Some(p) = &row.parent {
                            state.select_id(p);
                        }
                    }
                }
            }
        }
        Action::Open => {
            if let Some(row) = state.selected_row().cloned() {
                match row.kind {
                    RowKind::Group { collapsed, .. } => {
                        if collapsed {
                            state.collapsed.remove(&row.id);
                        } else {
                            state.collapsed.insert(row.id.clone());
                        }
                        state.rebuild();
                    }
                    RowKind::Resource { index } => {
                        let key = state.report.entries[index].key.clone();
                        state.open_diff(key);
                    }
                }
            }
        }
        Action::NextDrifted | Action::PrevDrifted => {
            step_drifted(state, action == Action::NextDrifted)
        }
        Action::ToggleGrouping => {
            // By app only where the repository has apps.
            let has_apps = state.report.entries.iter().any(|e| e.app.is_some());
            state.grouping = match state.grouping {
                Grouping::Namespace => Grouping::Folder,
                Grouping::Folder if has_apps => Grouping::App,
                Grouping::Folder | Grouping::App => Grouping::Namespace,
            };
            state.rebuild();
        }
        Action::CycleFilter => {
            state.filter = state.filter.next();
            state.rebuild();
        }
        Action::Search => {
            if state.screen == Screen::Tree {
                state.search = Search {
                    query: String::new(),
                    editing: true,
                };
            }
        }
        Action::NextMatch => state.jump_to_match(true, false),
        Action::PrevMatch => state.jump_to_match(false, false),
        Action::ScrollLeft => {
            if let Some(d) = &mut state.diff {
                d.hscroll = d.hscroll.saturating_sub(8);
            }
        }
        Action::ScrollRight => {
            if let Some(d) = &mut state.diff {
                if d.hscroll + 8 < d.doc.width {
                    d.hscroll += 8;
                }
            }
        }
        Action::ToggleUnified => {
            state.prefs.unified = !state.prefs.unified;
            state.prefs.unified_chosen = true;
            state.rebuild_diff();
        }
        Action::ToggleCompact => {
            state.prefs.compact = !state.prefs.compact;
            if let Some(d) = &mut state.diff {
                d.scroll = 0;
            }
            state.rebuild_diff();
        }
        Action::ToggleWrap => state.prefs.wrap = !state.prefs.wrap,
        Action::NextHunk | Action::PrevHunk => {
            let page = state.page();
            if let Some(d) = &mut state.diff {
                let target = if action == Action::NextHunk {
                    d.doc.hunks.iter().find(|&&h| h > d.scroll + 1)
                } else {
                    d.doc.hunks.iter().rev().find(|&&h| h + 1 < d.scroll)
                };
                if let Some(&h) = target {
                    let max = d.doc.rows.len().saturating_sub(page);
                    d.scroll = h.saturating_sub(1).min(max);
                }
            }
        }
        Action::Sync | Action::Mark | Action::MarkGroup | Action::Delete => {
            return sync_dialog::on_action(state, action)
        }
        Action::ToggleDetail => {
            if state.screen == Screen::Diff {
                state.screen = Screen::Tree;
                state.detail = Some(true);
            } else {
                state.detail = Some(!state.detail_shown());
            }
            state.clamp_selection();
        }
        Action::Command => state.command = Some(String::new()),
        Action::ToggleMouse => {
            state.mouse = !state.mouse;
            state.toast = Some((
                if state.mouse {
                    "mouse on: wheel scrolls, click selects (M turns it off)".into()
                } else {
                    "mouse off: the terminal selects text (M turns it on)".into()
                },
                state.now,
            ));
            return vec![Effect::Mouse(state.mouse)];
        }
        Action::Copy => {
            let text = if state.screen == Screen::Diff {
                diffview::path_at_top(state)
            } else {
                state.selected_entry().map(|e| e.key.short_name())
            };
            match text {
                Some(t) => {
                    state.toast = Some((format!("copied: {t}"), state.now));
                    return vec![Effect::Copy(t)];
                }
                None => state.toast = Some(("nothing to copy here".into(), state.now)),
            }
        }
        Action::Edit => match state.current_entry().map(|e| e.source.clone()) {
            Some(Some(src)) => {
                return vec![Effect::Edit {
                    file: src.file,
                    line: src.line,
                }]
            }
            Some(None) => {
                state.toast = Some(("not in Git: there is no file to open".into(), state.now))
            }
            None => state.toast = Some(("select a resource to open its file".into(), state.now)),
        },
        Action::ViewLive => match state.current_entry() {
            Some(e) => match &e.live {
                Some(live) => {
                    let title = format!("{} (live)", e.key.short_name());
                    return vec![Effect::Page {
                        title,
                        text: crate::diff::to_yaml(Some(&live.value())),
                    }];
                }
                None => {
                    state.toast = Some((
                        format!("{} is not in the cluster", e.key.short_name()),
                        state.now,
                    ))
                }
            },
            None => state.toast = Some(("select a resource to view it".into(), state.now)),
        },
        Action::Events => {
            let Some(key) = state.current_entry().map(|e| e.key.clone()) else {
                state.toast = Some(("select a resource to see its Events".into(), state.now));
                return Vec::new();
            };
            if state.screen != Screen::Events {
                state.previous = state.screen;
            }
            state.screen = Screen::Events;
            state.list_scroll = 0;
            state.events = Some(EventsView {
                key: key.clone(),
                events: None,
                error: None,
            });
            return vec![Effect::WatchEvents(Some(key))];
        }
        Action::None => {}
    }
    Vec::new()
}

#[cfg(test)]
mod tests;
