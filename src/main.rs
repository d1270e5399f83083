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
    match kdrift::runtime::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("kdrift: error: {e:#}");
            ExitCode::from(kdrift::runtime::EXIT_ERROR)
        }
    }
}
