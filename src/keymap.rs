//! Key bindings as data: for each mode, key sequences mapped to actions, read from the
//! `keys` section of the configuration (defaults in `config/default.yaml`). Resolves key
//! presses (including two-key sequences such as `g g`) to actions and lists the bindings
//! for the help screen. Knows nothing of terminals: keys arrive as `Key` values.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

/// A key press, independent of the terminal library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    Char(char),
    Ctrl(char),
    Up,
    Down,
    Left,
    Right,
    Enter,
    Esc,
    Tab,
    BackTab,
    Backspace,
    PageUp,
    PageDown,
    Home,
    End,
    Delete,
}

impl Key {
    /// Parses one key of a binding: a character (`j`, `G`, `?`), a name (`up`, `enter`,
    /// `esc`, `space`, `pgup` …) or `ctrl-x`.
    pub fn parse(text: &str) -> Option<Key> {
        let mut chars = text.chars();
        if let (Some(c), None) = (chars.next(), chars.next()) {
            return Some(Key::Char(c));
        }
        let lower = text.to_ascii_lowercase();
        if let Some(rest) = lower.strip_prefix("ctrl-") {
            let mut cs = rest.chars();
            return match (cs.next(), cs.next()) {
                (Some(c), None) => Some(Key::Ctrl(c)),
                _ => None,
            };
        }
        Some(match lower.as_str() {
            "up" => Key::Up,
            "down" => Key::Down,
            "left" => Key::Left,
            "right" => Key::Right,
            "enter" => Key::Enter,
            "esc" => Key::Esc,
            "tab" => Key::Tab,
            "backtab" => Key::BackTab,
            "backspace" => Key::Backspace,
            "space" => Key::Char(' '),
            "pgup" | "pageup" => Key::PageUp,
            "pgdn" | "pagedown" => Key::PageDown,
            "home" => Key::Home,
            "end" => Key::End,
            "delete" | "del" => Key::Delete,
            _ => return None,
        })
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Char(' ') => f.write_str("space"),
            Key::Char(c) => write!(f, "{c}"),
            Key::Ctrl(c) => write!(f, "ctrl-{c}"),
            Key::Up => f.write_str("↑"),
            Key::Down => f.write_str("↓"),
            Key::Left => f.write_str("←"),
            Key::Right => f.write_str("→"),
            Key::Enter => f.write_str("enter"),
            Key::Esc => f.write_str("esc"),
            Key::Tab => f.write_str("tab"),
            Key::BackTab => f.write_str("shift-tab"),
            Key::Backspace => f.write_str("backspace"),
            Key::PageUp => f.write_str("pgup"),
            Key::PageDown => f.write_str("pgdn"),
            Key::Home => f.write_str("home"),
            Key::End => f.write_str("end"),
            Key::Delete => f.write_str("del"),
        }
    }
}

/// What a key can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Back from a sub-view (diff, help, log), as in `less`; quits from the tree.
    Quit,
    /// Quits from any screen.
    Exit,
    Help,
    Log,
    Refresh,
    Back,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Expand,
    Collapse,
    Open,
    ToggleGrouping,
    CycleFilter,
    Search,
    NextMatch,
    PrevMatch,
    ScrollLeft,
    ScrollRight,
    ToggleUnified,
    ToggleCompact,
    ToggleWrap,
    NextHunk,
    PrevHunk,
    /// In the diff: the next (previous) drifted resource of the tree, without leaving.
    NextDrifted,
    PrevDrifted,
    Sync,
    Mark,
    MarkGroup,
    Delete,
    /// The detail pane: below the tree on narrow terminals, beside it on wide ones.
    ToggleDetail,
    /// `:` commands (`:ns`, `:ctx`, `:rev`, `:q`).
    Command,
    /// Copies the resource's key (in the diff, the field path at the top) with OSC 52.
    Copy,
    /// Opens the Git file at the resource's line in `$EDITOR`.
    Edit,
    /// Shows the live object's YAML in `$PAGER`.
    ViewLive,
    /// The resource's recent Events, live.
    Events,
    /// Turns mouse capture off (so the terminal selects text) and on.
    ToggleMouse,
    /// Unbinds a key the defaults bind.
    None,
}

impl Action {
    /// The sentence the help screen shows.
    pub fn description(self) -> &'static str {
        match self {
            Action::Quit => "back to the tree; quit from the tree",
            Action::Exit => "quit from any screen",
            Action::Help => "this help",
            Action::Log => "event log of this run",
            Action::Refresh => "re-read Git and the live state now",
            Action::Back => "back / clear the search",
            Action::Up => "up",
            Action::Down => "down",
            Action::PageUp => "page up",
            Action::PageDown => "page down",
            Action::Top => "first line",
            Action::Bottom => "last line",
            Action::Expand => "expand the group",
            Action::Collapse => "collapse the group (or go to its parent)",
            Action::Open => "open the diff, or fold a group",
            Action::ToggleGrouping => "group by namespace/kind or by Git folder/file",
            Action::CycleFilter => "filter: all, drifted, then one status at a time",
            Action::Search => "search kind, namespace and name",
            Action::NextMatch => "next match",
            Action::PrevMatch => "previous match",
            Action::ScrollLeft => "scroll left",
            Action::ScrollRight => "scroll right",
            Action::ToggleUnified => "side by side / unified",
            Action::ToggleCompact => "changed hunks only / whole objects",
            Action::ToggleWrap => "wrap long lines",
            Action::NextHunk => "next change",
            Action::PrevHunk => "previous change",
            Action::NextDrifted => "the next drifted resource's diff (from the tree or a diff)",
            Action::PrevDrifted => "the previous drifted resource's diff",
            Action::Sync => "sync the selected (or marked) resources, after a preview",
            Action::Mark => "mark / unmark for sync",
            Action::MarkGroup => "mark every drifted resource of the group",
            Action::Delete => "delete an extra resource (prune), after typing its name",
            Action::ToggleDetail => "show / hide the detail pane (who changed what, with which commit)",
            Action::Command => "command: :ns NAME, :ns, :ctx NAME, :rev REV, :q (tab completes)",
            Action::Copy => "copy the resource's key (in the diff: the field path at the top) to the clipboard (OSC 52)",
            Action::Edit => "open the Git file at the resource's line in $EDITOR",
            Action::ViewLive => "the live object's YAML in $PAGER (Secrets masked)",
            Action::Events => "the resource's recent Events, newest first, live",
            Action::ToggleMouse => "mouse capture off / on (off: the terminal selects text)",
            Action::None => "nothing",
        }
    }

    /// Whether the action writes to the cluster (hidden in read-only mode).
    pub fn is_write(self) -> bool {
        matches!(
            self,
            Action::Sync | Action::MarkGroup | Action::Mark | Action::Delete
        )
    }
}

/// Screens with their own bindings; `global` applies everywhere it is not overridden.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyMode {
    Global,
    Tree,
    Diff,
    List,
}

impl KeyMode {
    pub fn name(self) -> &'static str {
        match self {
            KeyMode::Global => "everywhere",
            KeyMode::Tree => "resource tree",
            KeyMode::Diff => "diff view",
            KeyMode::List => "help and event log",
        }
    }
}

/// The `keys` section as written: mode → key sequence (`"g g"`) → action.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct KeysConfig {
    #[serde(default)]
    pub global: BTreeMap<String, Action>,
    #[serde(default)]
    pub tree: BTreeMap<String, Action>,
    #[serde(default)]
    pub diff: BTreeMap<String, Action>,
    #[serde(default)]
    pub list: BTreeMap<String, Action>,
}

/// The resolved key map.
#[derive(Debug, Clone, Default)]
pub struct KeyMap {
    bindings: BTreeMap<KeyMode, Vec<(Vec<Key>, Action)>>,
}

/// What a key press means, given the keys pressed before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    Action(Action),
    /// The keys so far start a longer binding: wait for the next key (or the timeout, which
    /// resolves to `fallback`).
    Pending {
        fallback: Option<Action>,
    },
    Unbound,
}

impl KeyMap {
    /// Builds the map; errors name the mode and the key that cannot be parsed.
    pub fn from_config(cfg: &KeysConfig) -> Result<KeyMap, String> {
        let mut bindings = BTreeMap::new();
        for (mode, map) in [
            (KeyMode::Global, &cfg.global),
            (KeyMode::Tree, &cfg.tree),
            (KeyMode::Diff, &cfg.diff),
            (KeyMode::List, &cfg.list),
        ] {
            let mut list = Vec::new();
            for (spec, action) in map {
                let keys: Option<Vec<Key>> = spec.split_whitespace().map(Key::parse).collect();
                match keys {
                    Some(keys) if !keys.is_empty() && keys.len() <= 2 => list.push((keys, *action)),
                    _ => {
                        return Err(format!(
                            "keys.{}: cannot read the key {spec:?} (a character, a name such as \
                             up/enter/esc/space/pgdn, ctrl-x, or two of them separated by a space)",
                            match mode {
                                KeyMode::Global => "global",
                                KeyMode::Tree => "tree",
                                KeyMode::Diff => "diff",
                                KeyMode::List => "list",
                            }
                        ))
                    }
                }
            }
            bindings.insert(mode, list);
        }
        Ok(KeyMap { bindings })
    }

    /// Resolves `keys` (earlier presses, then this one) in `mode`, falling back to global.
    pub fn resolve(&self, mode: KeyMode, keys: &[Key]) -> Resolution {
        for m in [mode, KeyMode::Global] {
            let Some(list) = self.bindings.get(&m) else {
                continue;
            };
            let exact = list
                .iter()
                .find(|(k, _)| k.as_slice() == keys)
                .map(|(_, a)| *a);
            let longer = list
                .iter()
                .any(|(k, a)| k.len() > keys.len() && k.starts_with(keys) && *a != Action::None);
            if longer {
                return Resolution::Pending {
                    fallback: exact.filter(|a| *a != Action::None),
                };
            }
            match exact {
                Some(Action::None) => return Resolution::Unbound,
                Some(a) => return Resolution::Action(a),
                None => {}
            }
        }
        Resolution::Unbound
    }

    /// The bindings of a mode for the help screen: action → its keys, in action order.
    pub fn help(&self, mode: KeyMode) -> Vec<(Action, Vec<String>)> {
        let mut by_action: BTreeMap<Action, Vec<String>> = BTreeMap::new();
        for (keys, action) in self.bindings.get(&mode).into_iter().flatten() {
            if *action == Action::None {
                continue;
            }
            let text: Vec<String> = keys.iter().map(Key::to_string).collect();
            by_action.entry(*action).or_default().push(text.join(""));
        }
        by_action.into_iter().collect()
    }

    /// The first key bound to `action` in `mode` (or globally), for hints.
    pub fn key_for(&self, mode: KeyMode, action: Action) -> Option<String> {
        for m in [mode, KeyMode::Global] {
            let found = self
                .bindings
                .get(&m)
                .into_iter()
                .flatten()
                .filter(|(_, a)| *a == action)
                .map(|(k, _)| k.iter().map(Key::to_string).collect::<String>())
                .min_by_key(|s| (s.chars().count() != 1, s.clone()));
            if found.is_some() {
                return found;
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_key_is_named() {
        let cfg = KeysConfig {
            tree: [("ctrl-xy".to_string(), Action::Down)]
                .into_iter()
                .collect(),
            ..KeysConfig::default()
        };
        let err = KeyMap::from_config(&cfg).unwrap_err();
        assert!(
            err.contains("keys.tree") && err.contains("ctrl-xy"),
            "{err}"
        );
    }
}
