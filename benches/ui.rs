//! Criterion benchmarks of the explorer's frames on a 10,000-resource tree (generated
//! fixture, real drift report): one frame at 120x40 and at 80x24, a cursor move plus its
//! frame, a page down plus its frame, and a new report applied (selection kept); and, as
//! the baseline measured in the same run, one frame of a 100-resource tree. Goal: a frame
//! under 5 ms. Run with `cargo bench --bench ui`. With `KDRIFT_BENCH_100K=1`, also the keys
//! at 100,000 resources in 100 namespaces (j, G, a search, f; goal under 50 ms each).

use criterion::{criterion_group, criterion_main, Criterion};
use kdrift::app::{self, AppState, Header, LiveState, Look, Msg, ReportBody, ReportUpdate};
use kdrift::drift;
use kdrift::keymap::Key;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::hint::black_box;
use std::time::SystemTime;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod common;

fn state(report: drift::DriftReport, w: u16, h: u16) -> AppState {
    let mut s = AppState::new(
        kdrift::config::default_keymap(),
        Look {
            ascii: false,
            color: true,
            notify: kdrift::app::Notify::Off,
        },
        Header::default(),
        SystemTime::now(),
    );
    app::update(&mut s, Msg::Resize(w, h));
    app::update(
        &mut s,
        Msg::Report(Box::new(ReportUpdate {
            body: ReportBody::Full(report),
            revision: Default::default(),
            live: LiveState::Connected {
                freshest: SystemTime::now(),
            },
        })),
    );
    s
}

fn bench(c: &mut Criterion) {
    let big = common::objects(10_000);
    let report = drift::build_report(&big.desired, &[], &big.live, &big.opts);
    let small = common::objects(100);
    let small_report = drift::build_report(&small.desired, &[], &small.live, &small.opts);
    let mut group = c.benchmark_group("explorer-frames");
    group.sample_size(50);
    for (w, h) in [(120u16, 40u16), (80, 24)] {
        let s = state(report.clone(), w, h);
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        group.bench_function(format!("frame {w}x{h}, 10k resources"), |b| {
            b.iter(|| {
                terminal
                    .draw(|f| kdrift::ui::draw(f, black_box(&s)))
                    .unwrap();
            })
        });
    }
    let mut s = state(report.clone(), 120, 40);
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    group.bench_function("j + frame, 10k resources", |b| {
        b.iter(|| {
            app::update(&mut s, Msg::Key(Key::Char('j')));
            terminal.draw(|f| kdrift::ui::draw(f, &s)).unwrap();
        })
    });
    group.bench_function("page down + frame, 10k resources", |b| {
        b.iter(|| {
            app::update(&mut s, Msg::Key(Key::PageDown));
            if s.selected + 1 >= s.rows.len() {
                app::update(&mut s, Msg::Key(Key::Home));
            }
            terminal.draw(|f| kdrift::ui::draw(f, &s)).unwrap();
        })
    });
    group.bench_function("new report applied + frame, 10k resources", |b| {
        b.iter(|| {
            app::update(
                &mut s,
                Msg::Report(Box::new(ReportUpdate {
                    body: ReportBody::Full(report.clone()),
                    revision: Default::default(),
                    live: LiveState::Connected {
                        freshest: SystemTime::now(),
                    },
                })),
            );
            terminal.draw(|f| kdrift::ui::draw(f, &s)).unwrap();
        })
    });
    // A watch event: one resource turns out of sync, then back (the engine sends only its
    // entry), as the UI thread gets it.
    let mut flip = report
        .entries
        .iter()
        .find(|e| e.status == kdrift::model::DriftStatus::Synced)
        .cloned()
        .expect("a synced entry");
    let mut flop = flip.clone();
    std::sync::Arc::make_mut(&mut flop).status = kdrift::model::DriftStatus::OutOfSync;
    group.bench_function(
        "a watch event applied (one entry changed) + frame, 10k resources",
        |b| {
            b.iter_batched(
                || {
                    std::mem::swap(&mut flip, &mut flop);
                    ReportUpdate {
                        body: ReportBody::Changed {
                            keys: vec![flip.key.clone()],
                            entries: vec![flip.clone()],
                        },
                        revision: Default::default(),
                        live: LiveState::Connected {
                            freshest: SystemTime::now(),
                        },
                    }
                },
                |u| {
                    app::update(&mut s, Msg::Report(Box::new(u)));
                    terminal.draw(|f| kdrift::ui::draw(f, &s)).unwrap();
                },
                criterion::BatchSize::SmallInput,
            )
        },
    );
    let small_state = state(small_report, 120, 40);
    group.bench_function("baseline: frame 120x40, 100 resources", |b| {
        b.iter(|| {
            terminal
                .draw(|f| kdrift::ui::draw(f, black_box(&small_state)))
                .unwrap();
        })
    });
    group.finish();
    if std::env::var_os("KDRIFT_BENCH_100K").is_some() {
        keys_at_100k(c);
    }
}

/// The keys at 100,000 resources in 100 namespaces, each with its frame at 200x50.
fn keys_at_100k(c: &mut Criterion) {
    let huge = common::objects_in(100_000, 100);
    let report = drift::build_report(&huge.desired, &[], &huge.live, &huge.opts);
    drop(huge);
    let mut s = state(report, 200, 50);
    let mut terminal = Terminal::new(TestBackend::new(200, 50)).unwrap();
    let mut group = c.benchmark_group("explorer-keys-100k");
    group.sample_size(10);
    let mut press = |s: &mut AppState, keys: &[Key]| {
        for k in keys {
            app::update(s, Msg::Key(*k));
        }
        terminal.draw(|f| kdrift::ui::draw(f, s)).unwrap();
    };
    group.bench_function("j + frame, 100k resources", |b| {
        b.iter(|| press(&mut s, &[Key::Char('j')]))
    });
    let mut top = false;
    group.bench_function("G (or gg) + frame, 100k resources", |b| {
        b.iter(|| {
            top = !top;
            if top {
                press(&mut s, &[Key::Char('g'), Key::Char('g')])
            } else {
                press(&mut s, &[Key::Char('G')])
            }
        })
    });
    let search: Vec<Key> = std::iter::once(Key::Char('/'))
        .chain("app-09999".chars().map(Key::Char))
        .chain([Key::Enter, Key::Esc])
        .collect();
    group.bench_function(
        "/ app-09999 Enter Esc (12 keys, each drawn), 100k resources",
        |b| {
            b.iter(|| {
                for k in &search {
                    press(&mut s, std::slice::from_ref(k));
                }
            })
        },
    );
    group.bench_function("f (next filter) + frame, 100k resources", |b| {
        b.iter(|| press(&mut s, &[Key::Char('f')]))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
