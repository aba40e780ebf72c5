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

/// The process's exit codes (README §Exit codes): a script tells what went wrong from the code
/// alone, and reads the one line on standard error (a JSON object with `--json`) for the detail.
pub mod exit {
    pub const OK: i32 = 0;
    /// Anything else: I/O, a damaged or locked store, a verification that failed, a broker.
    pub const FAILED: i32 = 1;
    /// The command line is wrong (unknown flag, missing argument): one line saying what.
    pub const USAGE: i32 = 2;
    /// `relic freeze status`: deploys are frozen.
    pub const FROZEN: i32 = 3;
    /// Refused for lack of permission (the reference's 401 and 403).
    pub const DENIED: i32 = 4;
    /// What the command names does not exist (404).
    pub const NOT_FOUND: i32 = 5;
    /// It exists already, or conflicts with what does (409).
    pub const CONFLICT: i32 = 6;
    /// The input is not valid: a value, a key, a file's contents (400, 422).
    pub const INVALID: i32 = 7;
}

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
    /// A value given is not valid (a key's text, a file's contents, an option's value).
    #[error("{0}")]
    Invalid(String),
    /// The command line lacks what the command needs (as clap's own usage errors: exit 2).
    #[error("{0}")]
    Arguments(String),
    /// The rules (or a server) refused the command: the reference's status and error text.
    #[error("{message}")]
    Refused { status: u16, message: String },
    /// A domain command failed otherwise; the message says why.
    #[error("{0}")]
    Domain(String),
}

impl CliError {
    /// A refusal with the reference's status.
    pub fn refused(status: u16, message: impl Into<String>) -> Self {
        CliError::Refused { status, message: message.into() }
    }

    /// The exit code, and its name for `--json` errors.
    pub fn exit(&self) -> (i32, &'static str) {
        use relic_ledger::Error as L;
        match self {
            CliError::Refused { status: 401 | 403, .. } => (exit::DENIED, "denied"),
            CliError::Refused { status: 404, .. } | CliError::Ledger(L::OutOfRange(_)) => (exit::NOT_FOUND, "not_found"),
            CliError::Refused { status: 409, .. } | CliError::Ledger(L::Exists(_)) => (exit::CONFLICT, "conflict"),
            CliError::Refused { status: 400 | 422, .. }
            | CliError::Invalid(_)
            | CliError::Ledger(L::Record(_) | L::Refused(_) | L::ReservedKind(_) | L::Origin(_) | L::PathRefused { .. }) => (exit::INVALID, "invalid"),
            CliError::Arguments(_) => (exit::USAGE, "usage"),
            _ => (exit::FAILED, "failed"),
        }
    }
}

pub type Result<T> = std::result::Result<T, CliError>;

/// Runs relic with `args` (including the program name). Returns the process exit code
/// ([`exit`]): 0 success; on failure one line on `err` (with `--json`, one JSON object:
/// `{"message", "error", "exit_code"}`).
pub fn run<I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    let json = args.iter().skip(1).any(|a| a == "--json");
    let cli = match Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) if e.exit_code() == 0 => {
            // --help, --version: the whole text, on standard output.
            let _ = out.write_all(e.render().to_string().as_bytes());
            return exit::OK;
        }
        Err(e) => return fail(err, json, &CliError::Arguments(usage_line(&e)), exit::USAGE, "usage"),
    };
    relic_store::store::take_notes();
    let data = cli.data.clone();
    let result = commands::dispatch(cli, out, err);
    // A writer refused because `relic serve` owns the directory: say where to go instead.
    let result = match result {
        Err(CliError::Ledger(relic_ledger::Error::Store(relic_store::Error::Locked(_)))) if relic_server::serving_url(&data).is_some() => {
            let url = relic_server::serving_url(&data).unwrap_or_default();
            Err(CliError::Domain(format!("{} is owned by `relic serve` at {url}: write through its API (or stop it) instead", data.display())))
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
        Err(CliError::Io { source, .. }) if source.kind() == std::io::ErrorKind::BrokenPipe => exit::OK,
        Err(e) => {
            let (code, name) = e.exit();
            fail(err, json, &e, code, name)
        }
    }
}

/// clap's error as one line: what is wrong, and where the help is.
fn usage_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("invalid command line");
    let what = first.trim().strip_prefix("error: ").unwrap_or(first.trim());
    format!("{what} (relic --help, or relic <command> --help)")
}

fn fail(err: &mut dyn Write, json: bool, e: &CliError, code: i32, name: &str) -> i32 {
    let _ = if json {
        writeln!(err, "{}", serde_json::json!({"message": e.to_string(), "error": name, "exit_code": code}))
    } else {
        writeln!(err, "relic: error: {e}")
    };
    code
}
