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
        /// The project's path, e.g. acme/app (`--project-id`, as the reference release tool calls it).
        #[arg(long, visible_alias = "project-id")]
        project: String,
        /// The project's display name.
        #[arg(long)]
        name: String,
        /// What the project is (optional).
        #[arg(long)]
        description: Option<String>,
        #[command(flatten)]
        who: Who,
    },
    /// Give a user a role in the project (guest, reporter, developer, maintainer, owner).
    Member {
        /// The project's path, e.g. acme/app (`--project-id`, as the reference release tool calls it).
        #[arg(long, visible_alias = "project-id")]
        project: String,
        /// The user who gets the role.
        #[arg(long)]
        user: String,
        /// guest, reporter, developer, maintainer or owner.
        #[arg(long)]
        role: String,
        #[command(flatten)]
        who: Who,
    },
    /// Protect a tag pattern (`v*`, `*`): only the given role and above may create its releases.
    ProtectTag {
        /// The project's path, e.g. acme/app (`--project-id`, as the reference release tool calls it).
        #[arg(long, visible_alias = "project-id")]
        project: String,
        /// A tag name or wildcard pattern, e.g. `v*` or `*`.
        #[arg(long)]
        pattern: String,
        /// The lowest role allowed to create matching tags.
        #[arg(long, default_value = "maintainer")]
        allowed: String,
        #[command(flatten)]
        who: Who,
    },
    /// Remove a tag pattern's protection.
    UnprotectTag {
        /// The project's path, e.g. acme/app (`--project-id`, as the reference release tool calls it).
        #[arg(long, visible_alias = "project-id")]
        project: String,
        /// A tag name or wildcard pattern, e.g. `v*` or `*`.
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
        /// The project's path, e.g. acme/app (`--project-id`, as the reference release tool calls it).
        #[arg(long, visible_alias = "project-id")]
        project: String,
        /// The release's tag, e.g. v1.2.0.
        #[arg(long = "tag-name")]
        tag_name: String,
        /// The branch or commit the tag was created from.
        #[arg(long = "ref")]
        git_ref: String,
        /// The commit SHA the tag points at.
        #[arg(long)]
        commit: Option<String>,
        /// The annotated tag's message, if it has one.
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
        /// The project's path, e.g. acme/app (`--project-id`, as the reference release tool calls it).
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
        /// The project's path, e.g. acme/app (`--project-id`, as the reference release tool calls it).
        #[arg(long, visible_alias = "project-id")]
        project: String,
        /// released_at or created_at.
        #[arg(long = "order-by", default_value = "released_at")]
        order_by: String,
        /// desc or asc.
        #[arg(long, default_value = "desc")]
        sort: String,
        /// The page to show, from 1.
        #[arg(long, default_value_t = 1)]
        page: u64,
        /// Releases per page (at most 100).
        #[arg(long = "per-page", default_value_t = 20)]
        per_page: u64,
        #[command(flatten)]
        view: ViewArgs,
    },
    /// One release (`--tag-name`), or the latest one.
    Get {
        /// The project's path, e.g. acme/app (`--project-id`, as the reference release tool calls it).
        #[arg(long, visible_alias = "project-id")]
        project: String,
        /// The release's tag; default: the latest release.
        #[arg(long = "tag-name")]
        tag_name: Option<String>,
        #[command(flatten)]
        view: ViewArgs,
    },
    /// Every record that touched a release: who, when, which fields changed from what to what.
    History {
        /// The release's tag.
        tag: String,
        /// The project's path, e.g. acme/app (`--project-id`, as the reference release tool calls it).
        #[arg(long, visible_alias = "project-id")]
        project: String,
        /// The history up to this many records (`120`) or this time (RFC 3339).
        #[arg(long = "as-of")]
        as_of: Option<String>,
    },
    /// Create a release, and its tag from --ref if the tag does not exist yet; its evidence is collected at once unless it is upcoming or historical.
    Create {
        /// The project's path, e.g. acme/app (`--project-id`, as the reference release tool calls it).
        #[arg(long, visible_alias = "project-id")]
        project: String,
        /// The release's tag, e.g. v1.2.0.
        #[arg(long = "tag-name")]
        tag_name: String,
        /// The release's title; default: the tag name.
        #[arg(long, short = 'n')]
        name: Option<String>,
        /// The release notes (Markdown; `--notes`, as glab calls it).
        #[arg(long, short = 'N', alias = "notes")]
        description: Option<String>,
        /// Read the description from a file.
        #[arg(long = "notes-file", short = 'F', conflicts_with = "description")]
        notes_file: Option<String>,
        /// Branch, tag or commit the tag is created from, when the tag does not exist yet.
        #[arg(long = "ref", short = 'r')]
        git_ref: Option<String>,
        /// The message of the annotated tag created with the release (with --ref).
        #[arg(long = "tag-message")]
        tag_message: Option<String>,
        /// RFC 3339; defaults to now. In the future: an upcoming release.
        #[arg(long = "released-at")]
        released_at: Option<String>,
        /// A milestone title to link the release to; repeat for several.
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
    /// Change a release's title, notes, release time or milestones.
    Update {
        /// The project's path, e.g. acme/app (`--project-id`, as the reference release tool calls it).
        #[arg(long, visible_alias = "project-id")]
        project: String,
        /// The release's tag, e.g. v1.2.0.
        #[arg(long = "tag-name")]
        tag_name: String,
        /// A new title.
        #[arg(long, short = 'n')]
        name: Option<String>,
        /// New release notes (Markdown).
        #[arg(long, short = 'N', alias = "notes")]
        description: Option<String>,
        /// A new release time (RFC 3339); in the future, the release becomes upcoming.
        #[arg(long = "released-at")]
        released_at: Option<String>,
        /// A milestone title to link the release to; repeat for several.
        #[arg(long, short = 'm')]
        milestone: Vec<String>,
        /// Remove every milestone (the reference's `milestones: []`).
        #[arg(long = "clear-milestones", conflicts_with = "milestone")]
        clear_milestones: bool,
        #[command(flatten)]
        who: Who,
    },
    /// Delete a release (the tag stays).
    Delete {
        /// The project's path, e.g. acme/app (`--project-id`, as the reference release tool calls it).
        #[arg(long, visible_alias = "project-id")]
        project: String,
        /// The release's tag, e.g. v1.2.0.
        #[arg(long = "tag-name")]
        tag_name: String,
        #[command(flatten)]
        who: Who,
    },
}

#[derive(Debug, Args)]
pub struct LinkFields {
    /// The link's name, unique within the release.
    #[arg(long)]
    pub name: Option<String>,
    /// The link's URL (http, https or ftp), unique within the release.
    #[arg(long)]
    pub url: Option<String>,
    /// The link's permanent path under /<project>/-/releases/<tag>/downloads, e.g. /binaries/app (`--filepath`, its older name).
    #[arg(long = "direct-asset-path", alias = "filepath")]
    pub direct_asset_path: Option<String>,
    /// other, runbook, package or image.
    #[arg(long = "link-type")]
    pub link_type: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum LinkCmd {
    /// Add an asset link to a release.
    Add {
        /// The project's path, e.g. acme/app (`--project-id`, as the reference release tool calls it).
        #[arg(long, visible_alias = "project-id")]
        project: String,
        /// The release's tag, e.g. v1.2.0.
        #[arg(long = "tag-name")]
        tag_name: String,
        #[command(flatten)]
        fields: LinkFields,
        #[command(flatten)]
        who: Who,
    },
    /// Change an asset link of a release.
    Update {
        /// The project's path, e.g. acme/app (`--project-id`, as the reference release tool calls it).
        #[arg(long, visible_alias = "project-id")]
        project: String,
        /// The release's tag, e.g. v1.2.0.
        #[arg(long = "tag-name")]
        tag_name: String,
        /// The link's id (`relic release get` lists it).
        #[arg(long)]
        id: u64,
        #[command(flatten)]
        fields: LinkFields,
        #[command(flatten)]
        who: Who,
    },
    /// Delete an asset link of a release.
    Delete {
        /// The project's path, e.g. acme/app (`--project-id`, as the reference release tool calls it).
        #[arg(long, visible_alias = "project-id")]
        project: String,
        /// The release's tag, e.g. v1.2.0.
        #[arg(long = "tag-name")]
        tag_name: String,
        /// The link's id (`relic release get` lists it).
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
        /// The project's path, e.g. acme/app (`--project-id`, as the reference release tool calls it).
        #[arg(long, visible_alias = "project-id")]
        project: String,
        /// The release's tag, e.g. v1.2.0.
        #[arg(long = "tag-name")]
        tag_name: String,
        #[command(flatten)]
        who: Who,
    },
    /// Recompute the digest of every evidence document of a release (or one, by --sha), of a
    /// project, or of the whole ledger, and of the report artifacts they reference, and prove the
    /// records that name them; or, with --bundle, check an evidence bundle offline.
    Verify {
        /// The project's path, e.g. acme/app (`--project-id`, as the reference release tool calls it).
        #[arg(long, visible_alias = "project-id")]
        project: Option<String>,
        /// The release's tag, e.g. v1.2.0.
        #[arg(long = "tag-name", requires = "project")]
        tag_name: Option<String>,
        /// Only the evidence document with this digest (BLAKE3, hex).
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
        /// The project's path, e.g. acme/app (`--project-id`, as the reference release tool calls it).
        #[arg(long, visible_alias = "project-id")]
        project: String,
        /// The release's tag, e.g. v1.2.0.
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
        /// The evidence document's digest (BLAKE3, hex).
        #[arg(long)]
        sha: String,
        /// relic: the stored bytes exactly (the digest is theirs); gitlab: the same document in
        /// GitLab's evidence shape (without relic's additions: collection time, redaction, the
        /// artifacts' names, digests and sizes).
        #[arg(long, default_value = "relic", value_parser = ["relic", "gitlab"])]
        format: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum FreezeCmd {
    /// Create a deploy freeze period (maintainer and above).
    Create {
        /// The project's path, e.g. acme/app (`--project-id`, as the reference release tool calls it).
        #[arg(long, visible_alias = "project-id")]
        project: String,
        /// When the freeze starts: a 5-field cron expression, e.g. '0 23 * * 5'.
        #[arg(long = "freeze-start")]
        freeze_start: String,
        /// When the freeze ends: a 5-field cron expression, e.g. '0 7 * * 1'.
        #[arg(long = "freeze-end")]
        freeze_end: String,
        /// The IANA time zone the cron expressions are read in, e.g. Europe/Berlin; default: UTC.
        #[arg(long = "cron-timezone")]
        cron_timezone: Option<String>,
        #[command(flatten)]
        who: Who,
    },
    /// Change a deploy freeze period (maintainer and above).
    Update {
        /// The project's path, e.g. acme/app (`--project-id`, as the reference release tool calls it).
        #[arg(long, visible_alias = "project-id")]
        project: String,
        /// The freeze period's id (printed when it was created).
        #[arg(long)]
        id: u64,
        /// When the freeze starts: a 5-field cron expression, e.g. '0 23 * * 5'.
        #[arg(long = "freeze-start")]
        freeze_start: Option<String>,
        /// When the freeze ends: a 5-field cron expression, e.g. '0 7 * * 1'.
        #[arg(long = "freeze-end")]
        freeze_end: Option<String>,
        /// The IANA time zone the cron expressions are read in, e.g. Europe/Berlin; default: UTC.
        #[arg(long = "cron-timezone")]
        cron_timezone: Option<String>,
        #[command(flatten)]
        who: Who,
    },
    /// Delete a deploy freeze period (maintainer and above).
    Delete {
        /// The project's path, e.g. acme/app (`--project-id`, as the reference release tool calls it).
        #[arg(long, visible_alias = "project-id")]
        project: String,
        /// The freeze period's id (printed when it was created).
        #[arg(long)]
        id: u64,
        #[command(flatten)]
        who: Who,
    },
    /// Whether deploys are frozen (exit 3 and `CI_DEPLOY_FREEZE=true` when they are, exit 0 when not).
    Status {
        /// The project's path, e.g. acme/app.
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
        /// The internal release's id, e.g. IR-1.
        id: String,
        /// As the log stood after this many records (`120`) or at this time (RFC 3339).
        #[arg(long = "as-of")]
        as_of: Option<String>,
        /// Show what this user may see: before disclosure the title only to maintainers and above
        /// of the project (read from the store beside the log); default: everything this data
        /// directory holds.
        #[arg(long)]
        viewer: Option<String>,
    },
    /// Check that the title an internal release disclosed is the one its detection committed to
    /// (schemas/confidential-v1.md): from the log alone, so on a mirror too.
    VerifyDisclosure {
        /// The internal release's id, e.g. IR-1.
        #[arg(long)]
        id: String,
    },
    /// Phase 1: an S1 issue (vulnerability or bug) is identified. Its title is confidential until
    /// disclosure: the log records a commitment to it, the title itself stays in a 0600 store
    /// beside the log.
    Detect {
        /// The internal release's id, e.g. IR-1.
        #[arg(long)]
        id: String,
        /// The project's path, e.g. acme/app (`--project-id`, as the reference release tool calls it).
        #[arg(long, visible_alias = "project-id")]
        project: String,
        /// vulnerability or bug.
        #[arg(long)]
        kind: String,
        /// The severity: 1 (S1); only S1 issues are eligible for an internal release.
        #[arg(long)]
        severity: u8,
        /// The issue's title.
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
        /// The internal release's id, e.g. IR-1.
        #[arg(long)]
        id: String,
        /// The release issue's URL.
        #[arg(long = "release-issue")]
        release_issue: String,
        /// A stakeholder group notified (the single-tenant group); repeat for several.
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
        /// The internal release's id, e.g. IR-1.
        #[arg(long)]
        id: String,
        /// The commit of the fix merged to the default branch.
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
        /// The internal release's id, e.g. IR-1.
        #[arg(long)]
        id: String,
        /// The minor version backported to (N-1 or N-2), e.g. 17.2.
        #[arg(long)]
        target: String,
        /// The backport's merge request, e.g. !4521.
        #[arg(long = "merge-request")]
        merge_request: String,
        /// The merge request is approved (a backport needs it).
        #[arg(long)]
        approved: bool,
        /// The pipeline status; only `success` counts.
        #[arg(long)]
        pipeline: String,
        /// The commit the release managers merged to the stable branch.
        #[arg(long = "merged-commit")]
        merged_commit: String,
        #[command(flatten)]
        who: Who,
    },
    /// Phase 5: internal packages built and uploaded. `--package VERSION,NAME,DIGEST`, repeatable.
    Release {
        /// The internal release's id, e.g. IR-1.
        #[arg(long)]
        id: String,
        /// An internal package as VERSION,NAME,DIGEST (DIGEST: sha256:<64 hex> or blake3:<64 hex>); repeat for each target.
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
        /// The internal release's id, e.g. IR-1.
        #[arg(long)]
        id: String,
        /// When the rollout to the single-tenant instances completed (RFC 3339): after Release was
        /// recorded, and not later than now.
        #[arg(long = "rollout-completed-at")]
        rollout_completed_at: String,
        /// A group notified of the rollout; repeat for several.
        #[arg(long)]
        notify: Vec<String>,
        /// The emergency maintenance's reference, e.g. EM-2026-017.
        #[arg(long = "emergency-maintenance")]
        emergency_maintenance: String,
        #[command(flatten)]
        who: Who,
    },
    /// Closing: the public patch is out and the fix is disclosed.
    Disclose {
        /// The internal release's id, e.g. IR-1.
        #[arg(long)]
        id: String,
        /// A public patch version that carries the fix, e.g. 17.2.3; repeat for each. Each must be released (its released_at passed).
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
        /// Only this project; default: every project.
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
        /// json, md or html (one self-contained, printable file); `--json` means json.
        #[arg(long, default_value = "md")]
        format: String,
        /// Issue the report: write it here (instead of to standard output) and record its BLAKE3
        /// digest in the log (`report.issued`), so that `relic report verify FILE` proves it later.
        #[arg(long)]
        output: Option<String>,
        /// Verify the whole log from record 0, instead of the records appended since the position
        /// the last report saved (after checking the log still has the tree head verified there).
        #[arg(long = "full-verify")]
        full_verify: bool,
        /// Who generates the report (named on its first page, and with --output the issuer
        /// recorded in the log); default: the system user.
        #[arg(long, env = "RELIC_ACTOR")]
        actor: Option<String>,
    },
    /// Prove that a report file is one that was issued (`relic report compliance --output`): its
    /// BLAKE3 digest is in a `report.issued` record; says by whom, when and at which log position.
    Verify {
        /// The report file, exactly as it was issued.
        file: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProjectionsCmd {
    /// Rebuild every view from record 0.
    Rebuild,
    /// How many records the stored views reflect.
    Status,
}

#[derive(Debug, Subcommand)]
pub enum ImportCmd {
    /// Record a GitLab project's existing releases, as its Releases API returns them (one JSON
    /// array per page: `GET /projects/:id/releases`), with their original created_at, released_at
    /// and author, as `release.imported` records by the importing actor. A release whose tag the
    /// log already has is skipped, so running it again adds nothing.
    Releases {
        /// The project's path, e.g. acme/app (`--project-id`, as the reference release tool calls it).
        #[arg(long, visible_alias = "project-id")]
        project: String,
        /// A page of the API's JSON (a file, or `-` for standard input); repeat for every page.
        #[arg(long, required = true)]
        file: Vec<String>,
        #[command(flatten)]
        who: Who,
    },
}
