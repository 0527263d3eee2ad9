//! `vigil`: the binary. Parses the command line, wires the stage crates together and maps
//! errors to the exit codes of SPEC.md (0 ok, 1 runtime failure, 2 bad usage or config).

mod admin_api;
mod audit_cmd;
mod audit_export;
mod cli;
mod commands;
mod config_print;
mod context;
mod corrections;
mod dashboard;
mod deletions;
mod demo;
mod detail_api;
mod finetune;
mod health;
mod http;
mod insights;
mod mailcatcher;
mod openapi;
mod pipeline;
mod raw_cmd;
mod search;
mod sentiment_eval;
mod train;
mod train_head;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

/// An error that is the user's to fix (bad argument, bad config): exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let chatty = matches!(
        cli.command,
        Command::Run | Command::Demo(_) | Command::Crawl(_) | Command::Mailcatcher(_)
    );
    init_logging(
        cli.log
            .as_deref()
            .unwrap_or(if chatty { "info" } else { "warn" }),
    );
    let result = run(cli);
    match result {
        Ok(code) => code,
        Err(error) => {
            if let Some(config_errors) = error.downcast_ref::<vigil_config::ConfigErrors>() {
                eprint!("error: {config_errors}");
                return ExitCode::from(2);
            }
            eprintln!("error: {error:#}");
            if error.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
    };
    match cli.command {
        Command::CheckConfig(args) => commands::check_config(&cli.config, args),
        Command::Run => runtime()?.block_on(pipeline::run_daemon(&cli.config)),
        Command::Demo(args) => runtime()?.block_on(demo::run(args)),
        Command::Crawl(args) => runtime()?.block_on(commands::crawl_once(&cli.config, args)),
        Command::Search(args) => commands::search(&cli.config, *args),
        Command::Import(args) => runtime()?.block_on(commands::import(&cli.config, args)),
        Command::Classify(args) => commands::classify(&cli.config, args),
        Command::Classifier(command) => commands::classifier(&cli.config, command),
        Command::Label(args) => corrections::label(&cli.config, args),
        Command::Incidents(command) => commands::incidents(&cli.config, command),
        Command::Audit(command) => audit_cmd::audit(&cli.config, command),
        Command::Reindex => commands::reindex(&cli.config),
        Command::Erase(args) => commands::erase(&cli.config, args),
        Command::Privacy(command) => commands::privacy(&cli.config, command),
        Command::Export(args) => commands::export_author(&cli.config, args),
        Command::Hold(command) => commands::hold(&cli.config, command),
        Command::Raw(args) => raw_cmd::raw(&cli.config, args),
        Command::Mailcatcher(args) => mailcatcher::run_forever(args),
    }
}
