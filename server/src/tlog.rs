//! The log itself over HTTP, as a C2SP tlog-tiles log (`schemas/tiles-v1.md`), under `/tlog/`:
//! `/tlog/checkpoint`, `/tlog/tile/<L>/<N>[.p/<W>]` and `/tlog/tile/entries/<N>[.p/<W>]`, with the
//! content types and caching the specification asks for, so that tools that are not relic's (Go's
//! `sumdb/tlog` tile reader, witnesses, monitors) read and check it.
//!
//! Who may read what: the checkpoint and the hash tiles say nothing but sizes and hashes, and are
//! public. The entries are the records themselves (every project's tags, descriptions, actors), so
//! an entry bundle needs a token whose user is a reporter or above in every project of the log:
//! someone who may read all of it anyway.
//!
//! The checkpoint is the log's signed checkpoint at the durable size, signed at most once a
//! second however often it is asked for (each one is kept, `Ledger::checkpoint`); with a witness
//! policy, only ever one that a quorum of witnesses cosigned (`relic_ledger::witnesses`).
//!
//! What this is not: the tree math or the tile layout (`relic_formats::tiles`), or proofs
//! (clients compute them from the tiles).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use relic_domain::event::Role;
use relic_ledger::tiles::{self, Resource};
use relic_ledger::witnesses;

use crate::app::Shared;
use crate::error::{self, ApiError};

/// The last checkpoint served, and when it was signed.
#[derive(Default)]
pub struct Latest(Mutex<Option<(Instant, u64, String)>>);

/// How long a checkpoint is served before the log's growth is signed again.
const FRESH: Duration = Duration::from_secs(1);

fn body(status: StatusCode, content_type: &'static str, cache: &'static str, bytes: Vec<u8>) -> Response {
    let mut r = (status, bytes).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    r
}

/// `GET /tlog/checkpoint`: `text/plain; charset=utf-8`, cached for at most a few seconds. With a
/// witness policy (`relic witnesses`), the checkpoint a quorum cosigned: when the witnesses do
/// not cosign the log's growth, the last one they did (the refusals are logged); 503 if none.
pub async fn checkpoint(State(app): State<Shared>) -> Result<Response, ApiError> {
    let ledger = app.ledger();
    let latest = app.tlog.clone();
    let note = tokio::task::spawn_blocking(move || {
        let mut last = latest.0.lock().unwrap_or_else(|p| p.into_inner());
        let size = ledger.size();
        if let Some((at, n, note)) = last.as_ref() {
            if *n == size || at.elapsed() < FRESH {
                return Ok(note.clone());
            }
        }
        let signed = match witnesses::publishable(&ledger, &crate::witness::Http::default(), size) {
            Ok(w) => {
                for (name, why) in &w.refusals {
                    tracing::warn!(witness = %name, size, "the witness did not cosign: {why}");
                }
                w.note
            }
            Err(e @ relic_ledger::Error::Unwitnessed { .. }) => {
                tracing::warn!(size, "{e}");
                let Some((n, note)) = witnesses::latest_cosigned(ledger.dir(), Some(size)).map_err(error::internal)? else {
                    return Err(error::message(StatusCode::SERVICE_UNAVAILABLE, &format!("no checkpoint is published yet: {e}")));
                };
                // Served until the witnesses cosign the growth; asked again after FRESH.
                *last = Some((Instant::now(), n, note.clone()));
                return Ok(note);
            }
            Err(e) => return Err(error::internal(e)),
        };
        *last = Some((Instant::now(), size, signed.clone()));
        Ok::<_, ApiError>(signed)
    })
    .await
    .map_err(error::internal)??;
    Ok(body(StatusCode::OK, "text/plain; charset=utf-8", "no-cache, max-age=2", note.into_bytes()))
}

/// `GET /tlog/tile/*`: a hash tile (public) or an entry bundle (a reader of every project), as
/// `application/octet-stream`, immutable.
pub async fn tile(State(app): State<Shared>, headers: HeaderMap, Path(path): Path<String>) -> Result<Response, ApiError> {
    let resource = tiles::parse(&path).map_err(|_| error::not_found(""))?;
    if matches!(resource, Resource::Entries { .. }) {
        reader_of_everything(&app, &headers).await?;
    }
    let ledger = app.ledger();
    let bytes = tokio::task::spawn_blocking(move || match resource {
        Resource::Hashes(t) => ledger.tile(&t),
        Resource::Entries { index, width } => ledger.entry_bundle(index, width),
    })
    .await
    .map_err(error::internal)?;
    match bytes {
        Ok(b) => {
            let cache = if matches!(resource, Resource::Hashes(_)) { "public, max-age=31536000, immutable" } else { "private, max-age=31536000, immutable" };
            Ok(body(StatusCode::OK, "application/octet-stream", cache, b))
        }
        // Not (yet) part of the tree: as for any resource that does not exist.
        Err(relic_ledger::Error::OutOfRange(_)) => Err(error::not_found("")),
        Err(e @ relic_ledger::Error::Tiles(_)) => Err(error::message(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string())),
        Err(e) => Err(error::internal(e)),
    }
}

/// 401 without a valid token; 403 unless its user is a reporter or above in every project.
async fn reader_of_everything(app: &Shared, headers: &HeaderMap) -> Result<(), ApiError> {
    let user = app.authenticate(headers).await?;
    let (all, _) = app.read(move |pt| pt.state.projects.values().all(|p| p.members.get(&user).is_some_and(|r| *r >= Role::Reporter))).await?;
    if all {
        Ok(())
    } else {
        Err(error::forbidden())
    }
}
