//! What each URL answers. Reads only; anything else is 404 or 405, and no path from a URL reaches the
//! file system (images are looked up by name among the station's own).

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use serde::Serialize;

use super::conn::{self, Request};
use super::files;
use super::live::SseStream;
use super::StationView;
use crate::metrics::prometheus::{self, ModelLabels};
use crate::model::store::ModelStore;
use crate::sinks::station_status;

const PAGE: &str = include_str!("page.html");

/// Reads one request on `conn` and answers it: a Live stream (while a stream slot is free), or one short
/// answer. The connection closes after either.
pub fn serve_connection(
    mut conn: TcpStream,
    view: &StationView,
    streams: &AtomicUsize,
    max_streams: usize,
    stop: Arc<AtomicBool>,
) {
    let req = match conn::read_request(&conn) {
        Ok(r) => r,
        Err(e) => {
            if let Some(status) = e.status() {
                let _ = conn::respond(&mut conn, status, "text/plain", e.to_string().as_bytes());
                conn::linger(&mut conn);
            }
            return;
        }
    };
    if req.method == "GET" && req.path == "/events" {
        if streams.fetch_add(1, Ordering::SeqCst) < max_streams {
            stream(&mut conn, view.live.subscribe(stop));
        } else {
            let _ = conn::respond(&mut conn, 503, "text/plain", b"busy: too many live pages");
        }
        streams.fetch_sub(1, Ordering::SeqCst);
        return;
    }
    let peer = conn.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    let (status, kind, body) = if req.method == "POST" { write(&req, view, &peer) } else { answer(&req, view) };
    // A client that went away is no fault of the station's.
    let _ = conn::respond(&mut conn, status, kind, &body);
}

/// One short request's answer: status, content type, body.
fn answer(req: &Request, view: &StationView) -> (u16, &'static str, Vec<u8>) {
    if req.method != "GET" {
        return (405, "text/plain", b"only GET, and the POST writes (/api/recipe/NAME, /api/teach/NAME)".to_vec());
    }
    match req.path.as_str() {
        "/" => (200, "text/html; charset=utf-8", PAGE.as_bytes().to_vec()),
        "/api/status" => {
            let (model, stuck, recipe) = ((view.model)(), (view.stuck)(), view.recipe.get().to_string());
            let status = station_status::status(&view.station, &view.metrics, model, stuck, &view.state_dir, recipe);
            (200, "application/json", json(&status))
        }
        "/api/parts" => (200, "application/json", view.live.parts_json().into_bytes()),
        "/api/rate" => (200, "application/json", json(&view.live.last_hour())),
        "/api/ng" => (200, "application/json", json(&view.archive.as_deref().map(files::archived).unwrap_or_default())),
        "/api/recipes" => (200, "application/json", json(&Recipes::of(view))),
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
    }
}

/// The writes: `POST /api/recipe/NAME` switches the active recipe from the next part on; `POST
/// /api/teach/NAME` keeps the recipe's next good part as its candidate (the page then shows it),
/// `.../confirm` makes it the reference, `.../discard` drops it. Each needs the token; every attempt is
/// logged with the client's address.
fn write(req: &Request, view: &StationView, peer: &str) -> (u16, &'static str, Vec<u8>) {
    let what = match (req.path.strip_prefix("/api/recipe/"), req.path.strip_prefix("/api/teach/")) {
        (Some(name), _) => PageWrite::Switch(name),
        (_, Some(rest)) => match (rest.rsplit_once('/'), rest) {
            (Some((name, "confirm")), _) => PageWrite::Confirm(name),
            (Some((name, "discard")), _) => PageWrite::Discard(name),
            (Some((name, "force")), _) => PageWrite::Teach { name, force: true },
            (_, name) => PageWrite::Teach { name, force: false },
        },
        _ => {
            return (
                405,
                "text/plain",
                b"the writes are POST /api/recipe/NAME and /api/teach/NAME[/confirm|/discard]".to_vec(),
            )
        }
    };
    let Some(token) = &view.token else {
        log::warn!("station page: {what:?} from {peer} refused: writes are off (no http.token_file)");
        return (403, "text/plain", b"writes are off: this station has no http.token_file".to_vec());
    };
    if !req.bearer.as_deref().is_some_and(|b| same(b.as_bytes(), token.as_bytes())) {
        log::warn!("station page: {what:?} from {peer} refused: no or wrong token");
        return (401, "text/plain", b"a write needs the station's token (Authorization: Bearer ...)".to_vec());
    }
    log::info!("station page: {what:?} by {peer}");
    let refused = |e: &dyn std::fmt::Display| {
        log::warn!("station page: {what:?} by {peer} refused: {e}");
        (409, "text/plain", e.to_string().into_bytes())
    };
    let teacher = view.control.teacher();
    match what {
        PageWrite::Switch(name) => match view.recipe.switch(name) {
            Ok(previous) => {
                log::info!("station page: recipe switched {previous} -> {name} by {peer}");
                (200, "application/json", json(&Recipes::of(view)))
            }
            Err(e) => (404, "text/plain", e.to_string().into_bytes()),
        },
        PageWrite::Teach { name, force } => {
            // Waits for a part on a thread of its own; the page looks for the candidate meanwhile. Forced:
            // the next plausible frame, whatever the model says of it (a recipe whose look changed).
            let (control, recipe, peer) = (view.control.clone(), name.to_string(), peer.to_string());
            let spawned = std::thread::Builder::new().name("teach".into()).spawn(move || {
                let taught = control.teacher().and_then(|t| t.teach(&recipe, force, PAGE_TEACH_WAIT));
                if let Err(e) = taught {
                    log::warn!("station page: teach of recipe '{recipe}' by {peer}: {e}");
                }
            });
            match (teacher, spawned) {
                (Err(e), _) => refused(&e),
                (_, Err(e)) => refused(&e),
                (Ok(_), Ok(_)) => (202, "application/json", json(&serde_json::json!({ "waiting": name }))),
            }
        }
        PageWrite::Confirm(name) => match teacher.and_then(|t| t.confirm(name)) {
            Ok(took) => (200, "application/json", json(&took)),
            Err(e) => refused(&e),
        },
        PageWrite::Discard(name) => match teacher.and_then(|t| t.discard(name)) {
            Ok(path) => (200, "application/json", json(&serde_json::json!({ "discarded": path }))),
            Err(e) => refused(&e),
        },
    }
}

/// How long a teach from the page waits for a good part.
const PAGE_TEACH_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// A write the page may ask for, by recipe name.
#[derive(Debug, Clone, Copy)]
enum PageWrite<'a> {
    Switch(&'a str),
    Teach { name: &'a str, force: bool },
    Confirm(&'a str),
    Discard(&'a str),
}

/// Equal, in a time that does not depend on where they first differ (the token is a secret).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Serialize)]
struct Recipes {
    active: String,
    names: Vec<String>,
    /// References can be taught (a seal station).
    teach: bool,
    /// Recipes with a taught candidate waiting for confirm or discard.
    candidates: Vec<String>,
}

impl Recipes {
    fn of(view: &StationView) -> Self {
        let teacher = view.control.teacher().ok();
        Self {
            active: view.recipe.get().to_string(),
            names: view.recipes.keys().cloned().collect(),
            teach: teacher.is_some(),
            candidates: view
                .recipes
                .keys()
                .filter(|r| teacher.is_some_and(|t| t.candidate(r).is_some()))
                .cloned()
                .collect(),
        }
    }
}

/// `/ng/<archived name>` and `/recipes/<recipe>/reference` (names already percent-decoded).
fn image(view: &StationView, p: &str) -> Option<(&'static str, Vec<u8>)> {
    if let Some(name) = p.strip_prefix("/ng/") {
        return Some(("image/png", files::archived_image(view.archive.as_deref()?, name)?));
    }
    let rest = p.strip_prefix("/recipes/")?;
    if let Some(recipe) = rest.strip_suffix("/candidate") {
        let path = view.control.teacher().ok()?.candidate(recipe)?;
        return Some(("image/png", files::read_image(&path, true)?));
    }
    let path = view.recipes.get(rest.strip_suffix("/reference")?)?;
    Some((files::image_type(path), files::read_image(path, true)?))
}

/// Writes the Live page's events until the station stops or the page goes away (a write that cannot
/// go out within the timeout: the page stopped reading).
fn stream(conn: &mut TcpStream, mut sse: SseStream) {
    if conn::start_stream(conn).is_err() {
        return;
    }
    while let Some(chunk) = sse.next_chunk() {
        if conn.write_all(&chunk).and_then(|()| conn.flush()).is_err() {
            return;
        }
    }
}

/// An answer as JSON (serializing these types cannot fail; if it did, the page would say so).
fn json(v: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}").into_bytes())
}
