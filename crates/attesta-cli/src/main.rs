//! `attesta`: the operator CLI. Parses arguments, calls the library, formats
//! the result, and picks the exit code; nothing else lives here.
#![forbid(unsafe_code)]

mod cli;
mod commands;
mod config;

use std::io;
use std::process::ExitCode;

use clap::Parser;

/// Exit code for bad input, bad configuration or a usage error.
const EXIT_INVALID: u8 = 2;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match commands::run(args) {
        Ok(code) => code,
        Err(err) => {
            // A closed pipe (`attesta ... | head`) is not an error.
            if err
                .chain()
                .filter_map(|e| e.downcast_ref::<io::Error>())
                .any(|e| e.kind() == io::ErrorKind::BrokenPipe)
            {
                return ExitCode::SUCCESS;
            }
            eprintln!("attesta: error: {err:#}");
            ExitCode::from(EXIT_INVALID)
        }
    }
}
