//! One module per command group.

mod approvals;
mod audit;
mod demo;
mod domains;
mod init;
mod mcp;
mod mcp_pins;
mod risk;
mod server;
mod trust;
mod wrap;

use std::process::ExitCode;

use crate::cli::{Cli, Command, McpCommand, RiskCommand};

pub(crate) fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Risk(RiskCommand::Score(args)) => risk::score(&args),
        Command::Domains(command) => domains::run(&command),
        Command::Demo(args) => demo::run(&args),
        Command::Init(args) => init::run(&args),
        Command::Audit(args) => audit::run(&args),
        Command::Trust(args) => trust::run(&args),
        Command::Mcp(McpCommand::Wrap(args)) => mcp::wrap(&args),
        Command::Mcp(McpCommand::Pins(args)) => mcp_pins::run(&args),
        Command::Serve(args) => server::serve(&args),
        Command::Server(args) => server::run(&args),
        Command::Approvals(args) => approvals::run(&args),
        Command::Version => {
            println!("attesta {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
    }
}
