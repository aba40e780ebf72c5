//! Importing an existing GitLab project's releases (`relic import releases`): the JSON its
//! Releases API returns (`GET /projects/:id/releases`, one array per page) read into one
//! `release.imported` event per release, with the release's original `created_at`, `released_at`
//! and author, recorded by the importing actor.
//!
//! What this is: [`from_gitlab`], which reads a page into [`ImportedRelease`]s (pure). What it
//! keeps: tag, name, description, commit, times, author, milestone titles and asset links (the
//! permanent path taken from `direct_asset_url`). What it leaves: GitLab's `evidences`, whose
//! salted digests nobody outside that instance can recompute, and the source archives, which every
//! release has.
//!
//! What this is not: the rules (`crate::decide`, `Command::ImportRelease`: a developer or above,
//! a valid tag, a release not already in the log), or reading files (the CLI).

use serde_json::Value;

use crate::decide::LinkInput;

/// One release as read from GitLab's JSON, before the rules check it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedRelease {
    pub tag_name: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub commit: Option<String>,
    pub created_at: String,
    pub released_at: String,
    pub author: Option<String>,
    pub milestones: Vec<String>,
    pub links: Vec<LinkInput>,
}

/// Reads one page of GitLab's Releases API JSON (an array of releases). Each release needs
/// `tag_name`, `created_at` and `released_at`; the rest is taken when present.
pub fn from_gitlab(page: &Value) -> Result<Vec<ImportedRelease>, String> {
    let items = page.as_array().ok_or("expected a JSON array of releases (one page of GET /projects/:id/releases)")?;
    items
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let at = |why: String| format!("release {i}: {why}");
            let s = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_string);
            let tag_name = s("tag_name").ok_or_else(|| at("tag_name is missing".into()))?;
            let created_at = s("created_at").ok_or_else(|| at(format!("{tag_name}: created_at is missing")))?;
            let released_at = s("released_at").ok_or_else(|| at(format!("{tag_name}: released_at is missing")))?;
            let milestones = r.get("milestones").and_then(Value::as_array).into_iter().flatten().filter_map(|m| m.get("title").and_then(Value::as_str).map(str::to_string)).collect();
            let links = r["assets"]["links"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|l| {
                    let text = |k: &str| l.get(k).and_then(Value::as_str).map(str::to_string);
                    // The permanent link is `<project URL>/-/releases/<tag>/downloads<path>`.
                    let path = text("direct_asset_path").or_else(|| text("filepath")).or_else(|| {
                        text("direct_asset_url").and_then(|u| u.split_once(&format!("/-/releases/{tag_name}/downloads")).map(|(_, p)| p.to_string())).filter(|p| p.starts_with('/'))
                    });
                    LinkInput { name: text("name"), url: text("url"), direct_asset_path: path, link_type: text("link_type") }
                })
                .collect();
            Ok(ImportedRelease {
                name: s("name"),
                description: s("description"),
                commit: r["commit"]["id"].as_str().map(str::to_string),
                author: r["author"]["username"].as_str().map(str::to_string),
                created_at,
                released_at,
                milestones,
                links,
                tag_name,
            })
        })
        .collect()
}
