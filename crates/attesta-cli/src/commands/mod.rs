//! One module per command group.

mod approvals;
mod audit;
mod demo;
mod demo_server;
mod domains;
mod init;
mod mcp;
mod mcp_pins;
mod risk;
mod server;
mod trust;
mod wrap;

use std::process::ExitCode;

use anyhow::Context as _;

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

/// The runtime the long-running commands use: two workers, so a prompt
/// that blocks one (the terminal) never stops the other (the relay, the
/// HTTP server).
pub(crate) fn two_worker_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}
