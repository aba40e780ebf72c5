//! The `relic` command line. [`run`] is the whole program; `main.rs` only hands it the process's
//! arguments and streams, so tests drive exactly what users run.

mod args;
mod commands;
mod demo;
mod domain_args;
mod domain_cmds;
mod relay_args;
mod relay_cmds;
mod remote;
mod scheduler;
mod session;
mod witness_cmds;

use std::io::Write;

use clap::Parser as _;

pub use args::Cli;

/// Everything a command can fail with; each prints as one line.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Ledger(#[from] relic_ledger::Error),
    #[error("verification failed: {0}")]
    Verify(#[from] relic_ledger::verify::VerifyError),
    #[error(transparent)]
    Checkpoint(#[from] relic_ledger::checkpoint::CheckpointError),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{0}")]
    Usage(String),
    /// The command line lacks what the command needs (as clap's own usage errors: exit 2).
    #[error("{0}")]
    Arguments(String),
    /// A domain command was refused or failed; the message is the reference's error text.
    #[error("{0}")]
    Domain(String),
}

pub type Result<T> = std::result::Result<T, CliError>;

/// Runs relic with `args` (including the program name). Returns the process exit code:
/// 0 success, 1 failure (one line on `err`), 2 bad usage.
pub fn run<I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = e.exit_code();
            let text = e.render().to_string();
            let _ = if code == 0 { out.write_all(text.as_bytes()) } else { err.write_all(text.as_bytes()) };
            return code;
        }
    };
    relic_store::store::take_notes();
    let data = cli.data.clone();
    let result = commands::dispatch(cli, out, err);
    // A writer refused because `relic serve` owns the directory: say where to go instead.
    let result = match result {
        Err(CliError::Ledger(relic_ledger::Error::Store(relic_store::Error::Locked(_)))) if relic_server::serving_url(&data).is_some() => {
            let url = relic_server::serving_url(&data).unwrap_or_default();
            Err(CliError::Usage(format!("{} is owned by `relic serve` at {url}: write through its API (or stop it) instead", data.display())))
        }
        other => other,
    };
    // What opening the log found and did (a write that was never acknowledged cut off, a derived
    // file rebuilt): said once, before the outcome.
    for note in relic_store::store::take_notes() {
        let _ = writeln!(err, "relic: note: {note}");
    }
    match result {
        Ok(code) => code,
        // A reader that stopped reading (`relic log | head`) is not a failure.
        Err(CliError::Io { source, .. }) if source.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(e @ CliError::Arguments(_)) => {
            let _ = writeln!(err, "relic: error: {e}");
            2
        }
        Err(e) => {
            let _ = writeln!(err, "relic: error: {e}");
            1
        }
    }
}
