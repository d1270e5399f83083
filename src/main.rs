//! The kdrift binary: parse the command line, run, map errors to exit status 2.

use clap::Parser;
use std::process::ExitCode;

// kdrift builds and drops many small JSON trees on several threads; mimalloc serves that
// pattern markedly faster than the system allocator (about a third off `diff` at 10,000
// resources, measured with benches/offline-diff.sh).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `purge_delay` option (its index in mimalloc 3's `mi_option_t`; the crate's
/// constants are mimalloc 2's).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// No transparent huge pages for this process (Linux). Where the system backs memory with
/// them always, each 2 MiB region the allocator touches becomes resident whole: the
/// explorer at 10,000 resources was resident at 187 MB with them and 146 MB without, at the
/// same speed; `kdrift diff` against a cluster at 127 MB and 107 MB (benches/explorer.sh,
/// benches/offline-diff.sh `SIM=1`). Set first in `main`: only a few pages are touched before.
fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with integer arguments only; it changes this process's memory policy.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// For a command that runs once on one cluster (`kdrift diff`), memory freed goes back to the
/// system at once rather than after a second: its peak resident memory then follows what it
/// holds (110 MB instead of 125 MB against a cluster of 10,000 resources, at the same speed;
/// benches/offline-diff.sh `SIM=1`). The explorer, the fleet's matrix and a fleet's diff keep
/// the default: purging at once made the explorer's first screen 0.4 s slower, a diff of 20
/// clusters a quarter, and the matrix of 20 clusters about 0.5 s.
fn purge_at_once() {
    // SAFETY: plain calls into the allocator's option table, before any thread starts;
    // checked against this version's default first.
    unsafe {
        if libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) == 1000 {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
        }
    }
}

/// Memory this thread freed goes back to the system now: its free pages, and every page any
/// thread freed that waits for its purge delay.
fn release_now() {
    // SAFETY: a plain call into the allocator, from the thread it collects.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

fn main() -> ExitCode {
    no_huge_pages();
    kdrift::runtime::set_lean_memory_hook(purge_at_once);
    kdrift::runtime::set_release_memory_hook(release_now);
    let cli = kdrift::cli::Cli::parse();
    // Exec credential plugins of kubeconfigs run through this binary, with bounds.
    if let Ok(me) = std::env::current_exe() {
        kdrift::live::exec::set_wrapper(me);
    }
    match kdrift::runtime::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let text = format!("{e:#}");
            eprintln!("kdrift: error: {}", kdrift::text::visible_text(&text));
            ExitCode::from(kdrift::runtime::EXIT_ERROR)
        }
    }
}
