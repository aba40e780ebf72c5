//! The command line grammar (clap). Nothing here does any work.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "relic", version, about = "A signed, append-only, verifiable ledger of release events")]
pub struct Cli {
    /// The ledger's data directory.
    #[arg(long, global = true, env = "RELIC_DATA", default_value = "./relic-data")]
    pub data: PathBuf,
    /// Print the outcome as JSON (one object, or one per line for lists) for scripts.
    #[arg(long, global = true)]
    pub json: bool,
    /// Act through a `relic serve` at this URL instead of a data directory (the domain commands
    /// become its API requests; the actor is the token's user).
    #[arg(long, global = true, env = "RELIC_SERVER", visible_alias = "server-url")]
    pub server: Option<String>,
    /// The API token for `--server` (`relic token create`).
    #[arg(long, global = true, env = "RELIC_TOKEN", visible_alias = "job-token", alias = "private-token", hide_env_values = true)]
    pub token: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a ledger and its signing key.
    Init {
        /// The log's name: appears in every checkpoint and names its key (e.g. relic.example.com/releases).
        #[arg(long)]
        origin: String,
    },
    /// API tokens for `relic serve`: issue one to a user (printed once), list them, revoke one.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Print the verifier key, or rotate the signing key.
    Key {
        /// Print every key the log has had, with the first record each signs.
        #[arg(long)]
        all: bool,
        #[command(subcommand)]
        action: Option<KeyAction>,
    },
    /// Append one record of a kind without rules of its own (`relic kinds` lists them), checked
    /// against its schema; the actor's role comes from the subject's project membership.
    Append {
        /// Event kind, e.g. deployment.recorded; kinds with rules are written by their command.
        #[arg(long)]
        kind: String,
        /// What the event is about: `<project>` or `<project>@<tag>`.
        #[arg(long)]
        subject: String,
        /// File holding the JSON object payload, or `-` for standard input.
        #[arg(long)]
        payload: String,
        #[command(flatten)]
        who: crate::domain_args::Who,
        /// Not accepted: refused with a line saying where roles come from (kept so that an old
        /// script's `--role` gets that line rather than a usage screen).
        #[arg(long, hide = true)]
        role: Option<String>,
    },
    /// List records.
    Log {
        /// First sequence number to show.
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Show at most this many records.
        #[arg(long)]
        limit: Option<u64>,
    },
    /// Show one record.
    Record {
        /// The record's sequence number, from 0.
        seq: u64,
        /// Write exactly the record's bytes (the Merkle leaf) to standard output.
        #[arg(long)]
        raw: bool,
    },
    /// Print the signed checkpoint (the latest, or at a given size).
    Checkpoint {
        /// The tree size; default: the latest (with a witness policy, a cosigned one).
        #[arg(long)]
        size: Option<u64>,
    },
    /// Write the log as static C2SP tlog-tiles files (schemas/tiles-v1.md): the latest signed
    /// checkpoint and every tile and entry bundle it implies, for any web server or bucket to
    /// serve. Incremental: a second run writes only what is new. Reads only.
    Export {
        /// The directory to write (`DIR/checkpoint`, `DIR/tile/…`).
        #[arg(long, value_name = "DIR")]
        tiles: std::path::PathBuf,
    },
    /// Produce inclusion or consistency proofs.
    Prove {
        #[command(subcommand)]
        what: ProveWhat,
    },
    /// Convert a store of an older format to the current one (readers never convert; they say to
    /// run this), or finish a conversion that was interrupted.
    Migrate,
    /// Verify the whole log: signatures, links, sequence, tree hashes and checkpoints.
    Verify {
        /// A checkpoint saved earlier: prove the log only grew since.
        #[arg(long)]
        trusted: Option<PathBuf>,
        /// Check each signature alone, with RFC 8032's cofactorless equation, instead of in batches.
        #[arg(long)]
        strict: bool,
        /// A verifier key obtained out of band (text or file): it must be in the log's key history.
        #[arg(long)]
        key: Vec<String>,
        /// With `--witness`: the trusted checkpoint must carry the witnesses' cosignatures.
        #[command(flatten)]
        witnesses: WitnessPolicy,
    },
    /// Check an inclusion proof offline, with the verifier key alone.
    VerifyProof {
        /// Verifier key (`<name>+<id>+<base64>`) or a file holding one; repeat for rotated keys.
        #[arg(long, required = true)]
        key: Vec<String>,
        /// The tlog-proof file.
        #[arg(long)]
        proof: PathBuf,
        /// The record's exact bytes (as written by `relic record SEQ --raw`).
        #[arg(long)]
        record: PathBuf,
        #[command(flatten)]
        witnesses: WitnessPolicy,
    },
    /// Check a consistency proof between two checkpoints offline, with the verifier key alone.
    VerifyConsistency {
        /// The log's verifier key (text or a file holding it); repeat for every key the checkpoints need.
        #[arg(long, required = true)]
        key: Vec<String>,
        /// The older signed checkpoint.
        #[arg(long)]
        old: PathBuf,
        /// The newer signed checkpoint.
        #[arg(long)]
        new: PathBuf,
        /// The proof, as printed by `relic prove consistency`.
        #[arg(long)]
        proof: PathBuf,
        #[command(flatten)]
        witnesses: WitnessPolicy,
    },
    /// List the event kinds the log accepts.
    Kinds,
    /// Serve the GitLab Releases API v4 over HTTP (authenticated by `relic token`), owning the
    /// data directory until stopped (SIGTERM or Ctrl-C).
    Serve {
        /// The address to listen on (port 0: any free port; the URL is printed).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// The largest request body accepted, in bytes.
        #[arg(long, default_value_t = 1 << 20)]
        max_body: usize,
    },
    /// A C2SP tlog-witness: cosigns the checkpoints of the logs it trusts, refusing any that is not
    /// consistent with the last one it cosigned (a forked log is refused).
    Witness {
        #[command(subcommand)]
        action: WitnessAction,
    },
    /// The log's witness policy: the witnesses (URL and cosigner key) that must cosign its
    /// checkpoints, and how many of them (K of N). With a policy, `relic checkpoint`,
    /// `/tlog/checkpoint` and `relic publish` give out only checkpoints a quorum cosigned.
    Witnesses {
        #[command(subcommand)]
        action: Option<WitnessesAction>,
    },
    /// Ask a witness to cosign the log's latest checkpoint (C2SP tlog-witness add-checkpoint, with
    /// the consistency proof from the last size it cosigned); prints the cosigned checkpoint.
    Cosign {
        /// The witness's URL prefix (its `/add-checkpoint` is under it).
        #[arg(long)]
        witness: String,
    },
    /// Projects: register, members and roles, protected tags.
    #[command(subcommand)]
    Project(crate::domain_args::ProjectCmd),
    /// Tags as they exist in the repository.
    #[command(subcommand)]
    Tag(crate::domain_args::TagCmd),
    /// Milestones with their issues.
    #[command(subcommand)]
    Milestone(crate::domain_args::MilestoneCmd),
    /// Create, update and delete releases.
    #[command(subcommand)]
    Release(crate::domain_args::ReleaseCmd),
    /// Release asset links.
    #[command(subcommand)]
    Link(crate::domain_args::LinkCmd),
    /// Release evidence: collect, verify, show.
    #[command(subcommand)]
    Evidence(crate::domain_args::EvidenceCmd),
    /// Deploy freeze periods, and whether deploys are frozen now.
    #[command(subcommand)]
    Freeze(crate::domain_args::FreezeCmd),
    /// Internal releases through their phases.
    #[command(subcommand)]
    Internal(crate::domain_args::InternalCmd),
    /// Reports derived from the log.
    #[command(subcommand)]
    Report(crate::domain_args::ReportCmd),
    /// Record what existed before the log: an existing GitLab project's releases.
    #[command(subcommand)]
    Import(crate::domain_args::ImportCmd),
    /// The incremental view store.
    #[command(subcommand)]
    Projections(crate::domain_args::ProjectionsCmd),
    /// Record a realistic release history into the data directory, then checkpoint and verify it.
    Demo,
    /// Publish every record to Kafka, in order, advancing a durable cursor on the broker's acknowledgement.
    Publish(crate::relay_args::PublishArgs),
    /// Build a verified, read-only copy (a mirror) in --data of a log published to Kafka.
    Mirror(crate::relay_args::MirrorArgs),
    /// Print verified events published to Kafka as JSON lines, resuming from a stored position.
    Subscribe(crate::relay_args::SubscribeArgs),
    /// Collect the evidence of upcoming releases when their released_at arrives (exactly once).
    Scheduler {
        /// One pass, then exit.
        #[arg(long)]
        once: bool,
        /// Seconds between passes.
        #[arg(long, default_value_t = 30)]
        interval: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyAction {
    /// Introduce a new signing key, recorded in the log and signed by the outgoing key.
    Rotate {
        /// Who rotates it (recorded with the role `system`: key rotation is the operator's act on
        /// the data directory, not a project role).
        #[arg(long, env = "RELIC_ACTOR")]
        actor: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum WitnessAction {
    /// Create a witness in DIR: a new cosigner key (mode 0600); prints its verifier key.
    Init {
        /// The witness's directory: its private key (0600), the logs it trusts and what it cosigned.
        #[arg(long)]
        dir: PathBuf,
        /// The witness's name, e.g. witness.example.com/w1.
        #[arg(long)]
        name: String,
    },
    /// Trust a log: the witness cosigns checkpoints signed by this log key.
    Trust {
        /// The witness's directory: its private key (0600), the logs it trusts and what it cosigned.
        #[arg(long)]
        dir: PathBuf,
        /// The log's verifier key (`relic key`).
        #[arg(long)]
        key: String,
    },
    /// Serve `POST /add-checkpoint` until SIGTERM or Ctrl-C (the URL is printed).
    Serve {
        /// The witness's directory: its private key (0600), the logs it trusts and what it cosigned.
        #[arg(long)]
        dir: PathBuf,
        /// The address to listen on (port 0: any free port; the URL is printed).
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: String,
        /// A Kafka mirror's data directory (`relic mirror`): its origin's checkpoints are cosigned
        /// only at a size the mirror verified, with the mirror's root there.
        #[arg(long, value_name = "DATA")]
        mirror: Option<PathBuf>,
        /// With --mirror, how long a checkpoint waits for the mirror to reach its size.
        #[arg(long, default_value_t = 10, value_name = "SECONDS")]
        mirror_wait: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum WitnessesAction {
    /// Add a witness (the quorum stays as it was; a first witness makes it 1).
    Add {
        /// The witness's URL prefix (its `/add-checkpoint` is under it).
        #[arg(long)]
        url: String,
        /// The witness's cosigner key (`relic witness init` prints it), as text or a file.
        #[arg(long)]
        key: String,
    },
    /// Remove a witness by its name (the quorum is lowered if it would exceed the witnesses left).
    Remove {
        /// The witness's name (the name in its key).
        name: String,
    },
    /// How many of the witnesses must cosign a checkpoint before it is published.
    Quorum {
        /// How many of the witnesses must cosign (0: none; at most the number of witnesses).
        k: usize,
    },
    /// Print the policy (the default).
    List,
}

#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Issue a token to USER: the secret is printed once and never kept (only its hash, in a
    /// 0600 file beside the log); the issue is recorded (id, user, name, expiry), with the role
    /// `system`. While `relic serve` owns the directory, through it (no restart needed).
    Create {
        /// The user the token authenticates as (their role comes from project membership).
        #[arg(long)]
        user: String,
        /// What the token is for (GitLab's token name), e.g. "release pipeline".
        #[arg(long)]
        name: Option<String>,
        /// When it stops being accepted (RFC 3339, e.g. 2027-01-01T00:00:00Z); default: never.
        #[arg(long)]
        expires: Option<String>,
        /// Who issues it (the operator).
        #[arg(long, env = "RELIC_ACTOR")]
        actor: String,
    },
    /// Every token the log records: id, user, issued, expires, revoked (never a secret); with
    /// `--server`, the token's user's own.
    List,
    /// Revoke a token by its id: refused from the next request on; recorded. With `--server`, a
    /// user revokes their own (`self`: the token given).
    Revoke {
        /// The token's id (`relic token list`); with --server, `self` is the token given.
        id: String,
        /// Who revokes it (the operator; with `--server`, the token's user).
        #[arg(long, env = "RELIC_ACTOR")]
        actor: Option<String>,
    },
    /// Replace a token: it is revoked and a new one for the same user and name is issued and
    /// printed once, in one record group. With `--server`, `self` rotates the token given.
    Rotate {
        /// The token's id (`relic token list`); with --server, `self` is the token given.
        id: String,
        /// When the new one stops being accepted (RFC 3339); default: in a week, as GitLab.
        #[arg(long)]
        expires: Option<String>,
        /// Who rotates it (the operator; with `--server`, the token's user).
        #[arg(long, env = "RELIC_ACTOR")]
        actor: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProveWhat {
    /// A C2SP tlog-proof that record SEQ is in the tree of the given size.
    Inclusion {
        /// The record's sequence number, from 0.
        seq: u64,
        /// The tree size of the checkpoint to prove against; default: the latest.
        #[arg(long)]
        size: Option<u64>,
    },
    /// The consistency proof from tree size OLD to tree size NEW, one base64 hash per line.
    Consistency {
        /// The older tree size.
        old: u64,
        /// The newer tree size.
        new: u64,
    },
}

/// Which witnesses' cosignatures a checkpoint must carry (C2SP tlog-cosignature).
#[derive(Debug, Clone, clap::Args)]
pub struct WitnessPolicy {
    /// A witness's cosigner key (`<name>+<id>+<base64>`, type 0x04) or a file holding one; repeat.
    #[arg(long = "witness")]
    pub witness: Vec<String>,
    /// How many of the given witnesses must have cosigned the checkpoint (default: all given).
    #[arg(long)]
    pub quorum: Option<usize>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    fn walk(c: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for a in c.get_arguments() {
            let id = a.get_id().as_str();
            if a.is_hide_set() || id == "help" || id == "version" || a.is_global_set() && path != "relic" {
                continue;
            }
            if a.get_help().is_none() && a.get_long_help().is_none() {
                missing.push(format!("{path} {}", a.get_long().map_or_else(|| format!("<{id}>"), |l| format!("--{l}"))));
            }
        }
        for s in c.get_subcommands().filter(|s| s.get_name() != "help") {
            let sub = format!("{path} {}", s.get_name());
            if s.get_about().is_none() && s.get_long_about().is_none() {
                missing.push(format!("{sub} (the command)"));
            }
            walk(s, &sub, missing);
        }
    }

    /// `relic <command> --help` describes every command and every flag.
    #[test]
    fn every_command_and_flag_has_a_help_text() {
        let mut missing = Vec::new();
        walk(&super::Cli::command(), "relic", &mut missing);
        assert!(missing.is_empty(), "{} without a help text:\n{}", missing.len(), missing.join("\n"));
    }
}
