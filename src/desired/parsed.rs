//! The disk cache of parsed manifests: for each plain manifest blob of the last revision the
//! explorer read in a repository, its units (YAML documents, or a whole JSON file; see
//! `manifest::read_units`) as the parse cache keeps them: objects as packed JSON with their
//! line, and the lines of documents that are not objects. A blob id is its content's hash, so
//! an entry holds as long as this build of kdrift parses the same way: the file names the
//! build (version, size and modification time of the program), and a file of another build,
//! or one whose checksum does not add up, is not read. The next start then reads only the
//! blobs that changed, and parses none of the others.
//!
//! A unit with a Secret in it (or that does not parse) is never written, only marked: the
//! next start reads its blob again and parses that unit alone. Files are written whole (0600)
//! by a thread of their own, and the newest `FILES` repositories are kept.

use super::CachedItem;
use crate::model::Packed;
use std::collections::{HashMap, HashSet};
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// How many repositories' files are kept (the oldest go first).
const FILES: usize = 16;
/// The format, in each file's first line.
const FORMAT: &str = "kdrift-parsed 1";

/// What a blob parsed into, unit by unit, as the cache holds it.
pub(super) type Entry = (gix::ObjectId, Vec<Vec<CachedItem>>);

/// A blob's units as read from disk: `None` for a unit to parse again from the blob.
pub(super) type Units = Vec<Option<Vec<CachedItem>>>;

/// The file of the repository at `location`.
fn file_of(cache_dir: &Path, location: &Path) -> PathBuf {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(location.as_os_str().as_encoded_bytes());
    let name: String = hash[..16].iter().map(|b| format!("{b:02x}")).collect();
    cache_dir.join("parsed").join(name)
}

/// The program that parses: entries written by another build are not read.
fn build() -> &'static str {
    static BUILD: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BUILD.get_or_init(|| {
        let mut id = format!("{} {}", FORMAT, env!("CARGO_PKG_VERSION"));
        let meta = std::env::current_exe().and_then(std::fs::metadata);
        if let Ok(meta) = meta {
            let modified = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            id.push_str(&format!(" {} {modified}", meta.len()));
        }
        id
    })
}

/// The entries of `wanted` blobs in the file of the repository at `location`; none when the
/// file is missing, from another build, or damaged (a checksum covers every line).
pub(super) fn read(
    cache_dir: &Path,
    location: &Path,
    wanted: &HashSet<gix::ObjectId>,
) -> HashMap<gix::ObjectId, Units> {
    let Ok(file) = std::fs::File::open(file_of(cache_dir, location)) else {
        return HashMap::new();
    };
    read_from(std::io::BufReader::with_capacity(1 << 16, file), wanted).unwrap_or_default()
}

fn read_from(
    mut r: impl BufRead,
    wanted: &HashSet<gix::ObjectId>,
) -> Option<HashMap<gix::ObjectId, Units>> {
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    if line.strip_suffix('\n')? != build() {
        return None;
    }
    let mut crc = crc32fast::Hasher::new();
    let mut out: HashMap<gix::ObjectId, Units> = HashMap::new();
    // The units of the blob being read, when it is wanted.
    let mut current: Option<&mut Units> = None;
    loop {
        line.clear();
        if r.read_line(&mut line).ok()? == 0 {
            // The end line is missing: the file was cut.
            return None;
        }
        let text = line.strip_suffix('\n')?;
        if let Some(sum) = text.strip_prefix("E ") {
            return (u32::from_str_radix(sum, 16).ok()? == crc.finalize()).then_some(out);
        }
        crc.update(line.as_bytes());
        let (tag, rest) = text.split_at(text.find(' ').unwrap_or(text.len()));
        let rest = rest.strip_prefix(' ').unwrap_or(rest);
        let item = match tag {
            "B" => {
                let id = gix::ObjectId::from_hex(rest.as_bytes()).ok()?;
                current = wanted.contains(&id).then(|| out.entry(id).or_default());
                continue;
            }
            "D" | "S" if rest.is_empty() => {
                if let Some(units) = current.as_deref_mut() {
                    units.push((tag == "D").then(Vec::new));
                }
                continue;
            }
            "O" => {
                let (at, json) = rest.split_once(' ')?;
                CachedItem::Object {
                    object: Packed::from_packed_text(json)?,
                    line: at.parse().ok()?,
                }
            }
            "N" => CachedItem::Other(super::ManifestItem::NotAnObject {
                line: rest.parse().ok()?,
            }),
            _ => return None,
        };
        if let Some(units) = current.as_deref_mut() {
            // An item belongs to the unit its blob's last `D` opened.
            units.last_mut()?.as_mut()?.push(item);
        }
    }
}

/// Whether a unit may go to disk: every item an object that is not a Secret, or a document
/// that is not an object (a unit with a document that does not parse is read again).
fn writable(items: &[CachedItem]) -> bool {
    items.iter().all(|i| match i {
        CachedItem::Object { object, .. } => !super::rendered::renders_secret(object.as_str()),
        CachedItem::Other(super::ManifestItem::NotAnObject { .. }) => true,
        CachedItem::Other(_) => false,
    })
}

/// Writes the file's text for `entries` to `out`: units that may not go to disk are marked
/// to be read again.
fn write_text(entries: &[Entry], out: &mut dyn std::io::Write) -> std::io::Result<()> {
    use std::io::Write;
    /// Everything written after the first line goes through the checksum.
    struct Summed<'a> {
        out: &'a mut dyn std::io::Write,
        crc: crc32fast::Hasher,
    }
    impl std::io::Write for Summed<'_> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let n = self.out.write(buf)?;
            self.crc.update(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.out.flush()
        }
    }
    writeln!(out, "{}", build())?;
    let mut w = Summed {
        out,
        crc: crc32fast::Hasher::new(),
    };
    for (id, units) in entries {
        writeln!(w, "B {id}")?;
        for items in units {
            if !writable(items) {
                writeln!(w, "S")?;
                continue;
            }
            writeln!(w, "D")?;
            for item in items {
                match item {
                    CachedItem::Object { object, line } => {
                        writeln!(w, "O {line} {}", object.as_str())?
                    }
                    CachedItem::Other(super::ManifestItem::NotAnObject { line }) => {
                        writeln!(w, "N {line}")?
                    }
                    CachedItem::Other(_) => {}
                }
            }
        }
    }
    let sum = w.crc.finalize();
    writeln!(w.out, "E {sum:08x}")?;
    w.out.flush()
}

#[cfg(test)]
fn text_of(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    write_text(entries, &mut out).expect("writes to memory");
    out
}

/// How long a write waits, so that it does not take the cores from the first screen or a
/// new commit's (writing 100,000 objects is about a second of one core): a newer write
/// before then replaces it.
const WRITE_AFTER: std::time::Duration = std::time::Duration::from_secs(10);

/// A write of the disk cache, waiting (`WRITE_AFTER`) or under way.
pub(super) struct Pending {
    /// `true`: write now; `false`: a newer write replaces this one.
    go: std::sync::mpsc::Sender<bool>,
    thread: std::thread::JoinHandle<()>,
}

impl Pending {
    /// Writes now, and returns once written.
    pub(super) fn finish(self) {
        let _ = self.go.send(true);
        let _ = self.thread.join();
    }
}

/// Writes the file of the repository at `location` for `entries`, on a thread of its own,
/// after `WRITE_AFTER` unless told sooner; `previous`, the write before, is called off (or
/// waited for, when it is under way), so that writes land in order.
pub(super) fn write(
    cache_dir: &Path,
    location: &Path,
    entries: Vec<Entry>,
    previous: Option<Pending>,
) -> Option<Pending> {
    let file = file_of(cache_dir, location);
    let previous = previous.map(|p| {
        let _ = p.go.send(false);
        p.thread
    });
    let (go, wait) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("parse-cache".into())
        .spawn(move || {
            // Called off by a newer write: nothing is written (the process ending first
            // writes nothing either; a cache only costs time when missing).
            if let Ok(false) = wait.recv_timeout(WRITE_AFTER) {
                return;
            }
            if let Some(p) = previous {
                let _ = p.join();
            }
            crate::cachefile::write_with(&file, |out| write_text(&entries, out));
            if let Some(dir) = file.parent() {
                crate::cachefile::prune(dir, FILES);
            }
        })
        .ok()?;
    Some(Pending { go, thread })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id(n: u8) -> gix::ObjectId {
        gix::ObjectId::from_bytes_or_panic(&[n; 20])
    }

    fn object(v: serde_json::Value, line: usize) -> CachedItem {
        CachedItem::Object {
            object: Packed::new(&v),
            line,
        }
    }

    fn cm() -> CachedItem {
        object(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "line\nnext"}}),
            1,
        )
    }

    fn entries() -> Vec<Entry> {
        vec![
            (
                id(1),
                vec![
                    vec![cm()],
                    vec![CachedItem::Other(
                        crate::desired::ManifestItem::NotAnObject { line: 7 },
                    )],
                    vec![],
                ],
            ),
            (
                id(2),
                vec![
                    vec![object(
                        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"p": "c2VjcmV0"}}),
                        1,
                    )],
                    vec![cm()],
                    vec![CachedItem::Other(crate::desired::ManifestItem::Broken {
                        line: 2,
                        message: "bad".into(),
                        salvage: Default::default(),
                    })],
                ],
            ),
        ]
    }

    fn all() -> HashSet<gix::ObjectId> {
        (0..5).map(id).collect()
    }

    fn texts(units: &Units) -> Vec<Option<Vec<String>>> {
        units
            .iter()
            .map(|u| {
                u.as_ref().map(|items| {
                    items
                        .iter()
                        .map(|i| match i {
                            CachedItem::Object { object, line } => {
                                format!("{line} {}", object.as_str())
                            }
                            CachedItem::Other(o) => format!("{o:?}"),
                        })
                        .collect()
                })
            })
            .collect()
    }

    fn whole(units: &[Vec<CachedItem>]) -> Units {
        units.iter().map(|u| Some(u.clone())).collect()
    }

    #[test]
    fn units_come_back_as_written_and_secrets_and_broken_units_are_read_again() {
        let text = text_of(&entries());
        let shown = String::from_utf8_lossy(&text);
        assert!(
            !shown.contains("Secret") && !shown.contains("c2VjcmV0"),
            "{shown}"
        );
        let back = read_from(&text[..], &all()).expect("a whole file reads");
        assert_eq!(texts(&back[&id(1)]), texts(&whole(&entries()[0].1)));
        let mut second = whole(&entries()[1].1);
        second[0] = None;
        second[2] = None;
        assert_eq!(texts(&back[&id(2)]), texts(&second));
    }

    #[test]
    fn only_wanted_blobs_are_kept() {
        let text = text_of(&entries());
        let back = read_from(&text[..], &[id(2)].into_iter().collect()).expect("reads");
        assert_eq!(back.keys().collect::<Vec<_>>(), [&id(2)]);
    }

    #[test]
    fn a_damaged_cut_or_foreign_file_is_not_read() {
        let text = text_of(&entries());
        // Every byte changed in turn (a flip within the checksum's reach or the framing),
        // and every cut: none reads as something else.
        for at in 0..text.len() {
            let mut bad = text.clone();
            bad[at] ^= 0x04;
            if let Some(back) = read_from(&bad[..], &all()) {
                assert_eq!(
                    back.get(&id(1)).map(texts),
                    Some(texts(&whole(&entries()[0].1))),
                    "a flip at {at} read as something else"
                );
            }
            assert!(
                read_from(&text[..at], &all()).is_none(),
                "a cut at {at} read"
            );
        }
        let foreign = String::from_utf8_lossy(&text).replacen(FORMAT, "kdrift-parsed 0", 1);
        assert!(read_from(foreign.as_bytes(), &all()).is_none());
    }
}
