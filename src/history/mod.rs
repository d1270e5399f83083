//! Drift history that survives restarts: each episode (a resource out of sync or degraded,
//! from when kdrift first saw it until it converged) with its drifted fields, cause, owner
//! and commit, in SQLite under the state directory.
//!
//! Why SQLite (rusqlite, bundled): `kdrift watch` runs as a service while people open the
//! explorer on the same machine, and both read and write the history. SQLite in WAL mode lets
//! several processes do that safely (redb, the other candidate, locks its file to one
//! process), and `kdrift history` is a query. The bundled build needs no system library.
//!
//! Retention is bounded: closed episodes older than 90 days go, and at most 20,000 episodes
//! are kept (the oldest closed ones go first).

use crate::drift::DriftReport;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Closed episodes older than this are forgotten.
const KEEP_SECONDS: i64 = 90 * 86400;
/// At most this many episodes are kept.
const KEEP_EPISODES: i64 = 20_000;

/// One episode.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Episode {
    pub context: String,
    pub resource: String,
    /// Seconds since the epoch.
    pub start: i64,
    /// When it converged (`None`: still open).
    pub end: Option<i64>,
    /// The drift status when last seen (`out-of-sync`, `missing` …).
    pub status: String,
    /// The health when last seen, if any.
    pub health: Option<String>,
    /// The drifted field paths when last seen.
    pub fields: Vec<String>,
    pub cause: Option<String>,
    /// The field manager that changed a drifted field.
    pub owner: Option<String>,
    /// The commit that set a drifted field's Git value.
    pub commit: Option<String>,
}

/// What a report says about episodes: the resources that need attention, as the history
/// keeps them, and those that cannot be read (their episodes stay as they are). Small: made
/// on the thread that has the report, recorded on another.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sightings {
    pub attention: Vec<Sighting>,
    pub unknown: Vec<String>,
}

/// One resource that needs attention.
#[derive(Debug, Clone, PartialEq)]
pub struct Sighting {
    pub resource: String,
    pub status: String,
    pub health: Option<String>,
    pub fields: Vec<String>,
    pub cause: Option<String>,
    pub owner: Option<String>,
    pub commit: Option<String>,
}

impl Sightings {
    pub fn of(report: &DriftReport) -> Sightings {
        let mut out = Sightings::default();
        for e in &report.entries {
            if e.status == crate::model::DriftStatus::Unknown {
                out.unknown.push(e.key.to_string());
            } else if e.needs_attention() {
                out.attention.push(Sighting {
                    resource: e.key.to_string(),
                    status: e.status.to_string(),
                    health: e.health.as_ref().map(|h| h.status.to_string()),
                    fields: e.fields.iter().map(|f| f.path.to_string()).collect(),
                    cause: e.fields.iter().find_map(|f| f.cause).map(|c| c.to_string()),
                    owner: e
                        .fields
                        .iter()
                        .find_map(|f| f.owner.as_ref())
                        .map(|o| o.manager.clone()),
                    commit: e
                        .fields
                        .iter()
                        .find_map(|f| f.commit.as_ref())
                        .map(|c| c.id.clone()),
                });
            }
        }
        out
    }
}

/// The history of one kube context (or live file).
pub struct History {
    conn: Connection,
    context: String,
    /// What this process recorded last: a report that sees the same is not written again,
    /// and of one that changed only the rows that changed are (a watch event at 100,000
    /// resources rewrote thousands of rows).
    last: Option<Sightings>,
}

/// Where the history lives: the platform state directory, `history.sqlite`.
pub fn default_path() -> PathBuf {
    directories::ProjectDirs::from("", "", "kdrift")
        .map(|d| d.state_dir().unwrap_or(d.cache_dir()).to_path_buf())
        .unwrap_or_else(std::env::temp_dir)
        .join("history.sqlite")
}

fn err(e: rusqlite::Error) -> String {
    e.to_string()
}

impl History {
    /// Opens (creating) the history at `path` for `context`, and applies retention.
    pub fn open(path: &Path, context: &str, now: i64) -> Result<History, String> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let conn = Connection::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // Field paths and managers are not secret, but they are nobody else's business.
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS episodes (
                id INTEGER PRIMARY KEY,
                context TEXT NOT NULL,
                resource TEXT NOT NULL,
                start INTEGER NOT NULL,
                end_time INTEGER,
                status TEXT NOT NULL,
                health TEXT,
                fields TEXT NOT NULL,
                cause TEXT,
                owner TEXT,
                git_commit TEXT,
                alerted INTEGER NOT NULL DEFAULT 0
            );
            CREATE INDEX IF NOT EXISTS episodes_open ON episodes (context, resource, end_time);
            CREATE INDEX IF NOT EXISTS episodes_start ON episodes (start);",
        )
        .map_err(err)?;
        let h = History {
            conn,
            context: context.to_string(),
            last: None,
        };
        h.prune(now)?;
        Ok(h)
    }

    fn prune(&self, now: i64) -> Result<(), String> {
        self.conn
            .execute(
                "DELETE FROM episodes WHERE end_time IS NOT NULL AND end_time < ?1",
                params![now - KEEP_SECONDS],
            )
            .map_err(err)?;
        self.conn
            .execute(
                "DELETE FROM episodes WHERE id IN (
                    SELECT id FROM episodes WHERE end_time IS NOT NULL ORDER BY start ASC
                    LIMIT max(0, (SELECT count(*) FROM episodes) - ?1))",
                params![KEEP_EPISODES],
            )
            .map_err(err)?;
        Ok(())
    }

    /// The open episodes of this context: resource → (start, whether it was alerted).
    pub fn open_episodes(&self) -> Result<HashMap<String, (i64, bool)>, String> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT resource, start, alerted FROM episodes WHERE context = ?1 AND end_time IS NULL",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map(params![self.context], |r| {
                Ok((r.get(0)?, (r.get(1)?, r.get::<_, i64>(2)? != 0)))
            })
            .map_err(err)?;
        rows.collect::<Result<HashMap<String, (i64, bool)>, _>>()
            .map_err(err)
    }

    /// Notes that a resource's open episode was alerted (a restart does not alert again).
    pub fn mark_alerted(&self, resource: &str) -> Result<(), String> {
        self.conn
            .execute(
                "UPDATE episodes SET alerted = 1 WHERE context = ?1 AND resource = ?2 AND end_time IS NULL",
                params![self.context, resource],
            )
            .map(|_| ())
            .map_err(err)
    }

    /// Records a complete report at `now` (see [`Sightings`]): opens an episode for each
    /// resource that needs attention and has none, updates open ones, and closes those that
    /// converged or are gone. Unknown rows change nothing (kdrift cannot tell).
    /// Returns whether anything was written.
    pub fn record(&mut self, report: &Sightings, now: i64) -> Result<bool, String> {
        if self.last.as_ref() == Some(report) {
            return Ok(false);
        }
        let open = self.open_episodes()?;
        let seen_before: HashMap<&str, &Sighting> = self
            .last
            .iter()
            .flat_map(|l| &l.attention)
            .map(|s| (s.resource.as_str(), s))
            .collect();
        let tx = self.conn.transaction().map_err(err)?;
        for s in &report.attention {
            // Recorded as it is, and its episode still open.
            if seen_before.get(s.resource.as_str()) == Some(&s) && open.contains_key(&s.resource) {
                continue;
            }
            let fields = serde_json::to_string(&s.fields).unwrap_or_default();
            if open.contains_key(&s.resource) {
                tx.execute(
                    "UPDATE episodes SET status = ?3, health = ?4, fields = ?5, cause = ?6, owner = ?7, git_commit = ?8
                     WHERE context = ?1 AND resource = ?2 AND end_time IS NULL",
                    params![self.context, s.resource, s.status, s.health, fields, s.cause, s.owner, s.commit],
                )
                .map_err(err)?;
            } else {
                tx.execute(
                    "INSERT INTO episodes (context, resource, start, status, health, fields, cause, owner, git_commit)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![self.context, s.resource, now, s.status, s.health, fields, s.cause, s.owner, s.commit],
                )
                .map_err(err)?;
            }
        }
        let keep: std::collections::HashSet<&str> = report
            .attention
            .iter()
            .map(|s| s.resource.as_str())
            .chain(report.unknown.iter().map(String::as_str))
            .collect();
        for resource in open.keys().filter(|r| !keep.contains(r.as_str())) {
            tx.execute(
                "UPDATE episodes SET end_time = ?3 WHERE context = ?1 AND resource = ?2 AND end_time IS NULL",
                params![self.context, resource, now],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)?;
        self.last = Some(report.clone());
        Ok(true)
    }

    /// Since when a resource's open episode runs, if it has one.
    pub fn since(&self, resource: &str) -> Result<Option<i64>, String> {
        self.conn
            .query_row(
                "SELECT start FROM episodes WHERE context = ?1 AND resource = ?2 AND end_time IS NULL",
                params![self.context, resource],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)
    }

    /// Episodes of this context, newest first; only those of resources containing `filter`
    /// when given; at most `limit`.
    pub fn list(&self, filter: Option<&str>, limit: usize) -> Result<Vec<Episode>, String> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT context, resource, start, end_time, status, health, fields, cause, owner, git_commit
                 FROM episodes WHERE context = ?1 AND instr(resource, ?2) > 0
                 ORDER BY start DESC, id DESC LIMIT ?3",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map(
                params![self.context, filter.unwrap_or(""), limit as i64],
                |r| {
                    let fields: String = r.get(6)?;
                    Ok(Episode {
                        context: r.get(0)?,
                        resource: r.get(1)?,
                        start: r.get(2)?,
                        end: r.get(3)?,
                        status: r.get(4)?,
                        health: r.get(5)?,
                        fields: serde_json::from_str(&fields).unwrap_or_default(),
                        cause: r.get(7)?,
                        owner: r.get(8)?,
                        commit: r.get(9)?,
                    })
                },
            )
            .map_err(err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::DriftEntry;
    use crate::model::{DriftStatus, ResourceKey};

    fn report(statuses: &[(&str, DriftStatus)]) -> Sightings {
        Sightings::of(&DriftReport {
            entries: statuses
                .iter()
                .map(|(n, s)| {
                    DriftEntry::new(ResourceKey::new("", "ConfigMap", "shop", n), "v1", *s).into()
                })
                .collect(),
        })
    }

    #[test]
    fn episodes_open_update_close_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state").join("history.sqlite");
        let mut h = History::open(&path, "prod", 1000).unwrap();
        h.record(
            &report(&[("a", DriftStatus::OutOfSync), ("b", DriftStatus::Synced)]),
            1000,
        )
        .unwrap();
        h.record(
            &report(&[("a", DriftStatus::Missing), ("b", DriftStatus::Synced)]),
            1100,
        )
        .unwrap();
        assert_eq!(h.since("/ConfigMap/shop/a").unwrap(), Some(1000));
        assert_eq!(h.since("/ConfigMap/shop/b").unwrap(), None);
        // The same sightings again write nothing; a changed one is written.
        let same = report(&[("a", DriftStatus::Missing), ("b", DriftStatus::Synced)]);
        assert!(!h.record(&same, 1150).unwrap(), "nothing changed");
        let changed = report(&[("a", DriftStatus::OutOfSync), ("b", DriftStatus::Synced)]);
        assert!(h.record(&changed, 1160).unwrap());
        assert_eq!(h.list(Some("shop/a"), 10).unwrap()[0].status, "out-of-sync");
        h.record(
            &report(&[("a", DriftStatus::Missing), ("b", DriftStatus::Synced)]),
            1170,
        )
        .unwrap();
        drop(h);
        // A restart: the open episode is still open, since the first sight.
        let mut h = History::open(&path, "prod", 2000).unwrap();
        assert_eq!(h.since("/ConfigMap/shop/a").unwrap(), Some(1000));
        // Another context's history is its own.
        let other = History::open(&path, "dev", 2000).unwrap();
        assert_eq!(other.since("/ConfigMap/shop/a").unwrap(), None);
        // Unknown changes nothing; synced closes it.
        h.record(&report(&[("a", DriftStatus::Unknown)]), 2100)
            .unwrap();
        assert_eq!(h.since("/ConfigMap/shop/a").unwrap(), Some(1000));
        h.record(&report(&[("a", DriftStatus::Synced)]), 2200)
            .unwrap();
        assert_eq!(h.since("/ConfigMap/shop/a").unwrap(), None);
        let list = h.list(Some("shop/a"), 10).unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!((list[0].start, list[0].end), (1000, Some(2200)));
        assert_eq!(list[0].status, "missing");
        // A new episode is a new row, listed first.
        h.record(&report(&[("a", DriftStatus::Extra)]), 3000)
            .unwrap();
        let list = h.list(None, 10).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].start, 3000);
        // Retention: closed episodes older than 90 days go at the next open.
        drop(h);
        let h = History::open(&path, "prod", 2200 + KEEP_SECONDS + 1).unwrap();
        let list = h.list(None, 10).unwrap();
        assert_eq!(list.len(), 1, "{list:?}");
        assert_eq!(list[0].end, None);
    }
}
