//! The kdrift binary: parse the command line, run, map errors to exit status 2.

use clap::Parser;
use std::process::ExitCode;

// kdrift builds and drops many small JSON trees on several threads; mimalloc serves that
// pattern markedly faster than the system allocator (about a third off `diff` at 10,000
// resources, measured with benches/offline-diff.sh).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
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
