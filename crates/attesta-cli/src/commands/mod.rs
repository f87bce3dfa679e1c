//! One module per command group.

mod audit;
mod demo;
mod risk;

use std::process::ExitCode;

use crate::cli::{Cli, Command, RiskCommand};

pub(crate) fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Risk(RiskCommand::Score(args)) => risk::score(&args),
        Command::Audit(args) => audit::run(&args),
        Command::Demo(args) => demo::run(&args),
        Command::Version => {
            println!("attesta {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
    }
}
