//! What each URL answers. Reads only; anything else is 404 or 405, and no path from a URL reaches the
//! file system (images are looked up by name among the station's own).

use std::io::Write;

use serde::Serialize;
use tiny_http::{Header, Method, Request, Response, StatusCode};

use super::files;
use super::live::SseStream;
use super::StationView;
use crate::metrics::file::Stuck;
use crate::metrics::prometheus::{self, ModelLabels};
use crate::metrics::LiveSnapshot;
use crate::model::store::{ModelEvent, ModelStore};

const PAGE: &str = include_str!("page.html");

/// The Live page's event stream, served on a thread of its own.
pub fn is_stream(req: &Request) -> bool {
    *req.method() == Method::Get && path(req) == "/events"
}

fn path(req: &Request) -> &str {
    req.url().split(['?', '#']).next().unwrap_or("")
}

/// Too many requests at once: answered at once, never queued.
pub fn busy(req: Request) {
    reply(req, 503, "text/plain", b"busy: try again".to_vec());
}

/// One short request.
pub fn answer(req: Request, view: &StationView) {
    if *req.method() != Method::Get {
        return reply(req, 405, "text/plain", b"the station page only reads".to_vec());
    }
    let p = path(&req).to_string();
    let (status, kind, body) = match p.as_str() {
        "/" => (200, "text/html; charset=utf-8", PAGE.as_bytes().to_vec()),
        "/api/status" => (200, "application/json", json(&status(view))),
        "/api/parts" => (200, "application/json", view.live.parts_json().into_bytes()),
        "/api/ng" => (200, "application/json", json(&view.archive.as_deref().map(files::archived).unwrap_or_default())),
        "/api/recipes" => (200, "application/json", json(&view.recipes.keys().collect::<Vec<_>>())),
        "/metrics" => {
            let labels = ModelStore::read_status(&view.state_dir).and_then(|s| s.active).map(|a| ModelLabels {
                name: a.name,
                version: a.version,
                provider: a.provider,
                sha256: a.sha256,
            });
            let text = prometheus::render(&view.station, &view.metrics.live(), labels.as_ref());
            (200, "text/plain; version=0.0.4; charset=utf-8", text.into_bytes())
        }
        other => match image(view, other) {
            Some((kind, bytes)) => (200, kind, bytes),
            None => (404, "text/plain", b"not found".to_vec()),
        },
    };
    reply(req, status, kind, body)
}

/// `/ng/<archived name>` and `/recipes/<recipe>/reference`.
fn image(view: &StationView, p: &str) -> Option<(&'static str, Vec<u8>)> {
    if let Some(name) = p.strip_prefix("/ng/") {
        return Some(("image/png", files::archived_image(view.archive.as_deref()?, name)?));
    }
    let recipe = p.strip_prefix("/recipes/")?.strip_suffix("/reference")?;
    let path = view.recipes.get(recipe)?;
    Some((files::image_type(path), files::read_image(path, true)?))
}

fn reply(req: Request, status: u16, kind: &str, body: Vec<u8>) {
    let mut r = Response::from_data(body).with_status_code(StatusCode(status));
    for (k, v) in [("Content-Type", kind), ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff")] {
        if let Ok(h) = Header::from_bytes(k, v) {
            r.add_header(h);
        }
    }
    // A client that went away is no fault of the station's.
    let _ = req.respond(r);
}

/// Writes the Live page's events until the station stops or the page goes away.
pub fn stream(req: Request, mut sse: SseStream) {
    let mut w = req.into_writer();
    let head =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n";
    if w.write_all(head.as_bytes()).and_then(|()| w.flush()).is_err() {
        return;
    }
    while let Some(chunk) = sse.next_chunk() {
        if w.write_all(&chunk).and_then(|()| w.flush()).is_err() {
            return;
        }
    }
}

/// What the Station page shows.
#[derive(Serialize)]
struct Status {
    station: String,
    /// `ready`, `fault` (with `reason`) or `not ready` (starting, stopping, or a fault being retried).
    state: &'static str,
    reason: Option<String>,
    model: String,
    model_status: Option<ModelSummary>,
    stuck: Option<Stuck>,
    #[serde(flatten)]
    live: LiveSnapshot,
}

#[derive(Serialize)]
struct ModelSummary {
    active: Option<crate::model::store::ActiveModel>,
    swaps: u64,
    refusals: u64,
    /// The last events, newest last.
    events: Vec<ModelEvent>,
}

fn status(view: &StationView) -> Status {
    let live = view.metrics.live();
    let stuck = (view.stuck)();
    let (state, reason) = match (&stuck, live.alarm, live.ready) {
        (Some(s), _, _) => ("fault", Some(format!("{} stuck for {} ms", s.step, s.for_ms))),
        (None, true, _) => ("fault", Some("alarm on (see the journal for its cause)".to_string())),
        (None, false, true) => ("ready", None),
        (None, false, false) => ("not ready", None),
    };
    let model_status = ModelStore::read_status(&view.state_dir).map(|s| ModelSummary {
        active: s.active,
        swaps: s.swaps,
        refusals: s.refusals,
        events: s.events.into_iter().rev().take(20).rev().collect(),
    });
    Status { station: view.station.clone(), state, reason, model: (view.model)(), model_status, stuck, live }
}

/// An answer as JSON (serializing these types cannot fail; if it did, the page would say so).
fn json(v: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}").into_bytes())
}
