//! Glyphs and colours: one place decides how a status looks, in Unicode or ASCII, with
//! colour or without (`NO_COLOR`). Without colour, meaning is still carried by the glyphs
//! and by bold/reverse.

use crate::app::wrap::{Piece, Tone};
use crate::app::Look;
use crate::drift::health::HealthStatus;
use crate::model::DriftStatus;
use crate::sync::Fate;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

pub struct Theme {
    ascii: bool,
    color: bool,
}

impl Theme {
    pub fn new(look: Look) -> Theme {
        Theme {
            ascii: look.ascii,
            color: look.color,
        }
    }

    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }

    pub fn glyph(&self, s: DriftStatus) -> &'static str {
        match (s, self.ascii) {
            (DriftStatus::Synced, false) => "✓",
            (DriftStatus::OutOfSync, false) => "≠",
            (DriftStatus::Missing, false) => "∅",
            (DriftStatus::Extra, false) => "+",
            (DriftStatus::Unknown, false) => "?",
            (DriftStatus::Invalid, false) => "✗",
            (DriftStatus::Synced, true) => "=",
            (DriftStatus::OutOfSync, true) => "~",
            (DriftStatus::Missing, true) => "-",
            (DriftStatus::Extra, true) => "+",
            (DriftStatus::Unknown, true) => "?",
            (DriftStatus::Invalid, true) => "!",
            (DriftStatus::Refused, false) => "⊘",
            (DriftStatus::Refused, true) => "x",
            (DriftStatus::Hook, false) => "↻",
            (DriftStatus::Hook, true) => "^",
        }
    }

    pub fn status(&self, s: DriftStatus) -> Style {
        match s {
            DriftStatus::Synced => self.fg(Color::Green),
            DriftStatus::OutOfSync => self.fg(Color::Yellow).add_modifier(Modifier::BOLD),
            DriftStatus::Missing => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            DriftStatus::Extra => self.fg(Color::Magenta).add_modifier(Modifier::BOLD),
            DriftStatus::Unknown => self.fg(Color::DarkGray),
            DriftStatus::Invalid => self.fg(Color::LightRed).add_modifier(Modifier::BOLD),
            DriftStatus::Refused => self.fg(Color::LightRed).add_modifier(Modifier::BOLD),
            DriftStatus::Hook => self.fg(Color::Cyan),
        }
    }

    /// A health's glyph: one cell, unlike every status glyph and fold marker (ASCII:
    /// lowercase letters).
    pub fn health_glyph(&self, h: HealthStatus) -> &'static str {
        match (h, self.ascii) {
            (HealthStatus::Healthy, false) => "♥",
            (HealthStatus::Progressing, false) => "◐",
            (HealthStatus::Degraded, false) => "▼",
            (HealthStatus::Suspended, false) => "‖",
            (HealthStatus::Unknown, false) => "◌",
            (HealthStatus::Healthy, true) => "h",
            (HealthStatus::Progressing, true) => "p",
            (HealthStatus::Degraded, true) => "d",
            (HealthStatus::Suspended, true) => "s",
            (HealthStatus::Unknown, true) => "u",
        }
    }

    /// A health's colour: healthy quiet green, progressing cyan, degraded bold red,
    /// suspended blue, unknown grey.
    pub fn health(&self, h: HealthStatus) -> Style {
        match h {
            HealthStatus::Healthy => self.fg(Color::Green),
            HealthStatus::Progressing => self.fg(Color::Cyan).add_modifier(Modifier::BOLD),
            HealthStatus::Degraded => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            HealthStatus::Suspended => self.fg(Color::Blue),
            HealthStatus::Unknown => self.fg(Color::DarkGray),
        }
    }

    /// The health glyph of an optional health (a blank where there is none).
    pub fn health_span(&self, h: Option<HealthStatus>) -> Span<'static> {
        match h {
            Some(h) => Span::styled(self.health_glyph(h), self.health(h)),
            None => Span::raw(" "),
        }
    }

    pub fn fold(&self, collapsed: bool) -> &'static str {
        match (collapsed, self.ascii) {
            (true, false) => "▸",
            (false, false) => "▾",
            // Not `+` and `-`: those are status glyphs (extra, missing).
            (true, true) => ">",
            (false, true) => "v",
        }
    }

    pub fn mark(&self) -> &'static str {
        if self.ascii {
            "* "
        } else {
            "● "
        }
    }

    pub fn dot(&self) -> &'static str {
        if self.ascii {
            "*"
        } else {
            "●"
        }
    }

    pub fn vbar(&self) -> &'static str {
        if self.ascii {
            "|"
        } else {
            "│"
        }
    }

    /// Words rather than symbols: many terminal fonts lack the Kubernetes and branch glyphs.
    pub fn cluster_glyph(&self) -> &'static str {
        "ctx"
    }

    pub fn branch_glyph(&self) -> &'static str {
        "git"
    }

    pub fn dim(&self) -> Style {
        if self.color {
            Style::default().fg(Color::DarkGray)
        } else {
            Style::default().add_modifier(Modifier::DIM)
        }
    }

    pub fn good(&self) -> Style {
        self.fg(Color::Green)
    }

    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow)
    }

    pub fn bad(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub fn accent(&self) -> Style {
        self.fg(Color::Cyan)
    }

    pub fn matched(&self) -> Style {
        self.fg(Color::Cyan)
            .add_modifier(Modifier::UNDERLINED | Modifier::BOLD)
    }

    /// The cursor row: a dark blue band that keeps the status colours readable (reverse
    /// video without colours).
    pub fn selected(&self) -> Style {
        if self.color {
            Style::default()
                .bg(Color::Indexed(24))
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::REVERSED)
        }
    }

    pub fn bar(&self) -> Style {
        Style::default()
    }

    pub fn toast(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn read_only(&self) -> Style {
        if self.color {
            Style::default()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        }
    }

    /// Git's side: the `+` lines (kubectl diff's convention, as everywhere in kdrift).
    pub fn git_side(&self) -> Style {
        self.fg(Color::Green)
    }

    /// The live side: the `-` lines.
    pub fn live_side(&self) -> Style {
        self.fg(Color::Red)
    }

    /// The changed words inside a changed line.
    pub fn emphasis(&self) -> Style {
        if self.color {
            Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::REVERSED)
        }
    }

    /// The style of a tone the explorer's state chose.
    pub fn tone(&self, tone: Tone) -> Style {
        let bold = Style::default().add_modifier(Modifier::BOLD);
        match tone {
            Tone::Plain => Style::default(),
            Tone::Strong => bold,
            Tone::Dim => self.dim(),
            Tone::Good => self.good(),
            Tone::Warn => self.warn(),
            Tone::Bad => self.bad(),
            Tone::Accent => self.accent(),
            Tone::Target => bold.patch(self.warn()),
            Tone::Fate(f) => match f {
                Fate::Create => self.status(DriftStatus::Missing),
                Fate::Update => self.status(DriftStatus::OutOfSync),
                Fate::Unchanged => self.dim(),
                Fate::NotWritten => bold.patch(self.warn()),
                Fate::Refused => self.bad(),
            },
            Tone::Status(s) | Tone::Glyph(s) => self.status(s),
            Tone::Health(h) => self.health(h),
        }
    }

    /// Toned rows as terminal lines.
    pub fn lines(&self, rows: &[Vec<Piece<Tone>>]) -> Vec<Line<'static>> {
        rows.iter()
            .map(|r| {
                Line::from(
                    r.iter()
                        .map(|(tone, text)| match tone {
                            Tone::Glyph(s) => Span::styled(self.glyph(*s), self.tone(*tone)),
                            _ => Span::styled(text.clone(), self.tone(*tone)),
                        })
                        .collect::<Vec<_>>(),
                )
            })
            .collect()
    }
}
