//! The grammar of the domain commands (`relic release …`, `relic link …`, …). Flags follow the
//! reference release tool where it has one: `--tag-name`, `--name`, `--description`, `--ref`,
//! `--released-at`, `--milestone` (repeatable), `--assets-link` (a JSON object or array).

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct Who {
    /// Who acts (their role comes from their project membership). Not used with `--server`: the
    /// token's user acts.
    #[arg(long, env = "RELIC_ACTOR")]
    pub actor: Option<String>,
}

impl Who {
    /// The actor, required when acting on a data directory.
    pub fn actor(&self) -> crate::Result<&str> {
        self.actor.as_deref().ok_or_else(|| crate::CliError::Arguments("--actor (or RELIC_ACTOR) is required: who acts?".into()))
    }
}

#[derive(Debug, Subcommand)]
pub enum ProjectCmd {
    /// Register a project; whoever registers it becomes its owner.
    Register {
        #[arg(long, visible_alias = "project-id")]
        project: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        description: Option<String>,
        #[command(flatten)]
        who: Who,
    },
    /// Give a user a role in the project (guest, reporter, developer, maintainer, owner).
    Member {
        #[arg(long, visible_alias = "project-id")]
        project: String,
        #[arg(long)]
        user: String,
        #[arg(long)]
        role: String,
        #[command(flatten)]
        who: Who,
    },
    /// Protect a tag pattern (`v*`, `*`): only the given role and above may create its releases.
    ProtectTag {
        #[arg(long, visible_alias = "project-id")]
        project: String,
        #[arg(long)]
        pattern: String,
        /// The lowest role allowed to create matching tags.
        #[arg(long, default_value = "maintainer")]
        allowed: String,
        #[command(flatten)]
        who: Who,
    },
    UnprotectTag {
        #[arg(long, visible_alias = "project-id")]
        project: String,
        #[arg(long)]
        pattern: String,
        #[command(flatten)]
        who: Who,
    },
}

#[derive(Debug, Subcommand)]
pub enum TagCmd {
    /// Record a tag that exists in the repository (name, ref, commit SHA).
    Record {
        #[arg(long, visible_alias = "project-id")]
        project: String,
        #[arg(long = "tag-name")]
        tag_name: String,
        #[arg(long = "ref")]
        git_ref: String,
        #[arg(long)]
        commit: Option<String>,
        #[arg(long = "tag-message")]
        message: Option<String>,
        #[command(flatten)]
        who: Who,
    },
}

#[derive(Debug, Subcommand)]
pub enum MilestoneCmd {
    /// Record a milestone with its issues, as the source system knows it now (a JSON file or `-`).
    Record {
        #[arg(long, visible_alias = "project-id")]
        project: String,
        /// JSON object: id, iid, title, description, state, created_at, due_date, issues[].
        #[arg(long)]
        file: String,
        #[command(flatten)]
        who: Who,
    },
}

/// Which point of the log a view reflects.
#[derive(Debug, Args)]
pub struct ViewArgs {
    /// Show the state as it was after this many records (`120`) or at this time (RFC 3339).
    #[arg(long = "as-of")]
    pub as_of: Option<String>,
    /// Show what this user may see (a guest sees redacted releases); default: everything.
    #[arg(long)]
    pub viewer: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ReleaseCmd {
    /// A project's releases in the reference API's shape, sorted and paginated.
    List {
        #[arg(long, visible_alias = "project-id")]
        project: String,
        /// released_at or created_at.
        #[arg(long = "order-by", default_value = "released_at")]
        order_by: String,
        /// desc or asc.
        #[arg(long, default_value = "desc")]
        sort: String,
        #[arg(long, default_value_t = 1)]
        page: u64,
        #[arg(long = "per-page", default_value_t = 20)]
        per_page: u64,
        #[command(flatten)]
        view: ViewArgs,
    },
    /// One release (`--tag-name`), or the latest one.
    Get {
        #[arg(long, visible_alias = "project-id")]
        project: String,
        #[arg(long = "tag-name")]
        tag_name: Option<String>,
        #[command(flatten)]
        view: ViewArgs,
    },
    /// Every record that touched a release: who, when, which fields changed from what to what.
    History {
        tag: String,
        #[arg(long, visible_alias = "project-id")]
        project: String,
        #[arg(long = "as-of")]
        as_of: Option<String>,
    },
    Create {
        #[arg(long, visible_alias = "project-id")]
        project: String,
        #[arg(long = "tag-name")]
        tag_name: String,
        #[arg(long, short = 'n')]
        name: Option<String>,
        #[arg(long, short = 'N', alias = "notes")]
        description: Option<String>,
        /// Read the description from a file.
        #[arg(long = "notes-file", short = 'F', conflicts_with = "description")]
        notes_file: Option<String>,
        /// Branch, tag or commit the tag is created from, when the tag does not exist yet.
        #[arg(long = "ref", short = 'r')]
        git_ref: Option<String>,
        #[arg(long = "tag-message")]
        tag_message: Option<String>,
        /// RFC 3339; defaults to now. In the future: an upcoming release.
        #[arg(long = "released-at")]
        released_at: Option<String>,
        #[arg(long, short = 'm')]
        milestone: Vec<String>,
        /// A JSON object or array: {"name": …, "url": …, "direct_asset_path": …, "link_type": …}.
        #[arg(long = "assets-link", short = 'a', alias = "assets-links")]
        assets_link: Vec<String>,
        /// A report artifact file (e.g. a JUnit XML) kept with the release's evidence.
        #[arg(long = "report-artifact")]
        report_artifact: Vec<String>,
        #[command(flatten)]
        who: Who,
    },
    Update {
        #[arg(long, visible_alias = "project-id")]
        project: String,
        #[arg(long = "tag-name")]
        tag_name: String,
        #[arg(long, short = 'n')]
        name: Option<String>,
        #[arg(long, short = 'N', alias = "notes")]
        description: Option<String>,
        #[arg(long = "released-at")]
        released_at: Option<String>,
        #[arg(long, short = 'm')]
        milestone: Vec<String>,
        /// Remove every milestone (the reference's `milestones: []`).
        #[arg(long = "clear-milestones", conflicts_with = "milestone")]
        clear_milestones: bool,
        #[command(flatten)]
        who: Who,
    },
    Delete {
        #[arg(long, visible_alias = "project-id")]
        project: String,
        #[arg(long = "tag-name")]
        tag_name: String,
        #[command(flatten)]
        who: Who,
    },
}

#[derive(Debug, Args)]
pub struct LinkFields {
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub url: Option<String>,
    #[arg(long = "direct-asset-path", alias = "filepath")]
    pub direct_asset_path: Option<String>,
    /// other, runbook, package or image.
    #[arg(long = "link-type")]
    pub link_type: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum LinkCmd {
    Add {
        #[arg(long, visible_alias = "project-id")]
        project: String,
        #[arg(long = "tag-name")]
        tag_name: String,
        #[command(flatten)]
        fields: LinkFields,
        #[command(flatten)]
        who: Who,
    },
    Update {
        #[arg(long, visible_alias = "project-id")]
        project: String,
        #[arg(long = "tag-name")]
        tag_name: String,
        #[arg(long)]
        id: u64,
        #[command(flatten)]
        fields: LinkFields,
        #[command(flatten)]
        who: Who,
    },
    Delete {
        #[arg(long, visible_alias = "project-id")]
        project: String,
        #[arg(long = "tag-name")]
        tag_name: String,
        #[arg(long)]
        id: u64,
        #[command(flatten)]
        who: Who,
    },
}

#[derive(Debug, Subcommand)]
pub enum EvidenceCmd {
    /// Collect evidence now (any number of times).
    Collect {
        #[arg(long, visible_alias = "project-id")]
        project: String,
        #[arg(long = "tag-name")]
        tag_name: String,
        #[command(flatten)]
        who: Who,
    },
    /// Recompute the digest of every evidence document of a release (or one, by --sha) and of the
    /// report artifacts they reference; or, with --bundle, check an evidence bundle offline.
    Verify {
        #[arg(long, visible_alias = "project-id", required_unless_present = "bundle")]
        project: Option<String>,
        #[arg(long = "tag-name", required_unless_present = "bundle")]
        tag_name: Option<String>,
        #[arg(long, conflicts_with = "bundle")]
        sha: Option<String>,
        /// An evidence bundle (`relic evidence bundle`) to check offline, without a data directory
        /// (schemas/evidence-bundle-v1.md).
        #[arg(long, value_name = "FILE", conflicts_with_all = ["project", "tag_name"])]
        bundle: Option<std::path::PathBuf>,
        /// With --bundle: the log's verifier key (text or file; repeat for every key the
        /// checkpoint and the record need, `relic key --all`).
        #[arg(long, requires = "bundle")]
        key: Vec<String>,
        /// With --bundle: the checkpoint must carry these witnesses' cosignatures.
        #[command(flatten)]
        witnesses: crate::args::WitnessPolicy,
    },
    /// Write one file that proves a release's evidence offline: the document, its report
    /// artifacts, the signed record that names them and its tlog-proof against the (cosigned)
    /// checkpoint (schemas/evidence-bundle-v1.md).
    Bundle {
        #[arg(long, visible_alias = "project-id")]
        project: String,
        #[arg(long = "tag-name")]
        tag_name: String,
        /// Which evidence (default: the latest).
        #[arg(long)]
        sha: Option<String>,
        /// Where to write the bundle (outside the data directory).
        #[arg(long, value_name = "FILE")]
        output: std::path::PathBuf,
        /// Carry the artifacts' digests and sizes only, not their bytes.
        #[arg(long)]
        without_artifacts: bool,
    },
    /// Print a stored evidence document.
    Show {
        #[arg(long)]
        sha: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum FreezeCmd {
    Create {
        #[arg(long, visible_alias = "project-id")]
        project: String,
        #[arg(long = "freeze-start")]
        freeze_start: String,
        #[arg(long = "freeze-end")]
        freeze_end: String,
        #[arg(long = "cron-timezone")]
        cron_timezone: Option<String>,
        #[command(flatten)]
        who: Who,
    },
    Update {
        #[arg(long, visible_alias = "project-id")]
        project: String,
        #[arg(long)]
        id: u64,
        #[arg(long = "freeze-start")]
        freeze_start: Option<String>,
        #[arg(long = "freeze-end")]
        freeze_end: Option<String>,
        #[arg(long = "cron-timezone")]
        cron_timezone: Option<String>,
        #[command(flatten)]
        who: Who,
    },
    Delete {
        #[arg(long, visible_alias = "project-id")]
        project: String,
        #[arg(long)]
        id: u64,
        #[command(flatten)]
        who: Who,
    },
    /// Whether deploys are frozen (exit 3 and `CI_DEPLOY_FREEZE=true` when they are, exit 0 when not).
    Status {
        #[arg(long, visible_alias = "project-id")]
        project: String,
        /// RFC 3339; defaults to now.
        #[arg(long)]
        at: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum InternalCmd {
    /// The phase timeline, durations and deadlines of an internal release.
    Status {
        id: String,
        #[arg(long = "as-of")]
        as_of: Option<String>,
    },
    /// Phase 1: an S1 issue (vulnerability or bug) is identified.
    Detect {
        #[arg(long)]
        id: String,
        #[arg(long, visible_alias = "project-id")]
        project: String,
        /// vulnerability or bug.
        #[arg(long)]
        kind: String,
        #[arg(long)]
        severity: u8,
        #[arg(long)]
        title: String,
        /// The team that triaged it (security incident team, single-tenant team).
        #[arg(long = "reported-by")]
        reported_by: String,
        /// When the issue was detected (RFC 3339; not later than now); default: now.
        #[arg(long = "detected-at")]
        detected_at: Option<String>,
        #[command(flatten)]
        who: Who,
    },
    /// Phase 2: release issue opened, stakeholders notified, N-1 and N-2 targets set.
    Prepare {
        #[arg(long)]
        id: String,
        #[arg(long = "release-issue")]
        release_issue: String,
        #[arg(long)]
        notify: Vec<String>,
        /// A minor version (X.Y); give N-1 and N-2.
        #[arg(long)]
        target: Vec<String>,
        #[command(flatten)]
        who: Who,
    },
    /// Phase 3: merged to the default branch, deployed to the multi-tenant site, verified.
    Remediate {
        #[arg(long)]
        id: String,
        #[arg(long = "default-branch-commit")]
        commit: String,
        /// When the fix reached the multi-tenant site (RFC 3339): after Prepare was recorded, and
        /// not later than now.
        #[arg(long = "deployed-at")]
        deployed_at: String,
        /// For a vulnerability: who in the security team verified the fix on the multi-tenant site.
        #[arg(long = "verified-by")]
        verified_by: Option<String>,
        #[command(flatten)]
        who: Who,
    },
    /// Phase 4: one backport (run once for N-1 and once for N-2).
    Backport {
        #[arg(long)]
        id: String,
        #[arg(long)]
        target: String,
        #[arg(long = "merge-request")]
        merge_request: String,
        #[arg(long)]
        approved: bool,
        /// The pipeline status; only `success` counts.
        #[arg(long)]
        pipeline: String,
        #[arg(long = "merged-commit")]
        merged_commit: String,
        #[command(flatten)]
        who: Who,
    },
    /// Phase 5: internal packages built and uploaded. `--package VERSION,NAME,DIGEST`, repeatable.
    Release {
        #[arg(long)]
        id: String,
        #[arg(long)]
        package: Vec<String>,
        /// The internal version scheme; `{patch}` is the next public patch of the minor.
        #[arg(long = "version-scheme", default_value = relic_domain::internal::DEFAULT_SCHEME)]
        version_scheme: Option<String>,
        #[command(flatten)]
        who: Who,
    },
    /// Phase 6: rolled out, group notified, emergency maintenance started.
    Finalize {
        #[arg(long)]
        id: String,
        /// When the rollout to the single-tenant instances completed (RFC 3339): after Release was
        /// recorded, and not later than now.
        #[arg(long = "rollout-completed-at")]
        rollout_completed_at: String,
        #[arg(long)]
        notify: Vec<String>,
        #[arg(long = "emergency-maintenance")]
        emergency_maintenance: String,
        #[command(flatten)]
        who: Who,
    },
    /// Closing: the public patch is out and the fix is disclosed.
    Disclose {
        #[arg(long)]
        id: String,
        #[arg(long = "public-version")]
        public_version: Vec<String>,
        #[command(flatten)]
        who: Who,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReportCmd {
    /// Evidence, freezes, internal releases, access and integrity, for a period.
    Compliance {
        #[arg(long)]
        project: Option<String>,
        /// Start of the period (RFC 3339).
        #[arg(long)]
        from: Option<String>,
        /// End of the period (RFC 3339).
        #[arg(long)]
        to: Option<String>,
        /// Report on the log as it was after this many records, or at this time.
        #[arg(long = "as-of")]
        as_of: Option<String>,
        /// json, md or html (one self-contained, printable file).
        #[arg(long, default_value = "md")]
        format: String,
        /// Write the report here instead of to standard output.
        #[arg(long)]
        output: Option<String>,
        /// Verify the whole log from record 0, instead of the records appended since the position
        /// the last report saved (after checking the log still has the tree head verified there).
        #[arg(long = "full-verify")]
        full_verify: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProjectionsCmd {
    /// Rebuild every view from record 0.
    Rebuild,
    /// How many records the stored views reflect.
    Status,
}
