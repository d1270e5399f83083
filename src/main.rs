//! The kdrift binary: parse the command line, run, map errors to exit status 2.

use clap::Parser;
use std::process::ExitCode;

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
