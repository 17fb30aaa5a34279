//! The technician's station page (issue 21): an embedded HTTP server that only reads the station (its
//! metrics registry, health marks, model status, the NG archive and the recipes' references) and a
//! record sink that feeds the Live page. It is a component beside the line, not in it: requests are
//! served on its own threads, a slow or hostile client never reaches the inspection threads, and every
//! asset is compiled into the binary (no CDN, works with no internet).
//!
//! Threads: one accepts; each connection is served on a thread of its own (kept and reused: `workers`),
//! at most `http.max_streams` Live pages (one more is answered 503 at once) plus `SHORT_SLOTS` others at
//! once. While every slot is taken, new connections wait in the kernel's listen queue for one to free,
//! for `QUEUE_WAIT` at most (then they are answered 503); every connection is bounded in size and time
//! (`conn`), so a slow, huge or silent client ends and frees its slot.

mod config;
mod conn;
mod files;
mod live;
mod rate;
mod routes;
mod workers;

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use config::HttpConfig;
pub use live::{Live, LiveFeed};

use crate::inspect::active_recipe::ActiveRecipe;
use crate::metrics::file::Stuck;
use crate::metrics::StationMetrics;

/// Connections other than Live streams served at once.
const SHORT_SLOTS: usize = 16;

/// How often the accepting thread looks for a free slot while every one is taken.
const SLOT_WAIT: Duration = Duration::from_millis(2);
/// How long every slot may stay taken before newcomers are answered 503 again, one at a time: a burst of
/// pages is served, a client holding every slot does not leave the page hanging.
const QUEUE_WAIT: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("http.listen: cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    /// The systemd unit's sandbox allows no network: the page needs its drop-in.
    #[error(
        "http.listen: cannot listen on {addr}: this service may use no network; install the drop-in \
         /usr/share/cellgate/examples/http.conf as /etc/systemd/system/cellgate.service.d/http.conf \
         (README \"Station page\")"
    )]
    NoNetwork { addr: SocketAddr },
    #[error("http: cannot start its thread: {0}")]
    Thread(#[source] std::io::Error),
    #[error("http.token_file: {path}: {problem}")]
    Token { path: PathBuf, problem: String },
}

/// What the page reads of the station; every field is the station's own handle or path.
pub struct StationView {
    pub station: String,
    pub metrics: Arc<StationMetrics>,
    /// The model judging parts, "name version on provider".
    pub model: Box<dyn Fn() -> String + Send + Sync>,
    /// A step stuck inside a call (the station's health marks).
    pub stuck: Box<dyn Fn() -> Option<Stuck> + Send + Sync>,
    /// `model_updates.state_dir`: the model status with its swaps and refusals.
    pub state_dir: PathBuf,
    /// `records.archive.dir`, when NG images are archived.
    pub archive: Option<PathBuf>,
    /// Recipe name -> its reference image (seal).
    pub recipes: std::collections::BTreeMap<String, PathBuf>,
    /// The recipe parts are judged against now; the page may switch it (with the token).
    pub recipe: Arc<ActiveRecipe>,
    /// The station's writers' surface: teaching references (the switch is `recipe`'s, the same one).
    pub control: Arc<crate::control::StationControl>,
    /// What a write must carry (`http.token_file`); `None`: the page only reads.
    pub token: Option<String>,
    pub live: Arc<Live>,
}

/// The page, listening, not yet serving.
pub struct HttpPage {
    listener: TcpListener,
    view: Arc<StationView>,
    max_streams: usize,
}

impl HttpPage {
    /// Opens the port now (a port in use fails the start, naming the key) and makes the Live feed.
    pub fn bind(
        cfg: &HttpConfig,
        view: impl FnOnce(Arc<Live>) -> StationView,
        metrics: &StationMetrics,
    ) -> Result<(Self, LiveFeed), HttpError> {
        let listen = |source| listen_error(cfg.listen, source);
        let listener = TcpListener::bind(cfg.listen).map_err(listen)?;
        // Accepted without blocking, so the accepting thread sees the stop flag.
        listener.set_nonblocking(true).map_err(listen)?;
        let live = Arc::new(Live::new(cfg.live_parts, metrics));
        let page = Self { listener, view: Arc::new(view(live.clone())), max_streams: cfg.max_streams };
        Ok((page, LiveFeed(live)))
    }

    /// Where it listens (the port the system chose for `:0`).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Serves until `stop`; the returned handle ends within `listener::POLL` after it is set. Connections still
    /// open then end on their own: a short answer within its timeouts, a Live stream at its `end` event.
    pub fn spawn(self, stop: Arc<AtomicBool>) -> Result<JoinHandle<()>, HttpError> {
        std::thread::Builder::new().name("http".into()).spawn(move || self.serve(&stop)).map_err(HttpError::Thread)
    }

    fn serve(self, stop: &Arc<AtomicBool>) {
        // Its connection threads inherit it: 20 pages polling must not move the reject timing.
        crate::listener::stand_beside_the_line("http");
        let slots = Arc::new(Slots { open: AtomicUsize::new(0), streams: AtomicUsize::new(0) });
        let max_open = self.max_streams + SHORT_SLOTS;
        let mut workers = workers::Workers::new("http-conn", max_open);
        let mut full_since: Option<Instant> = None;
        while !stop.load(Ordering::Relaxed) {
            // Twenty pages asking in the same second outnumber the slots for a moment. Told "busy", a page
            // shows its technician "station not answering"; left in the listen queue, it waits a
            // millisecond or two. Only this thread takes slots, so a free one is still free at accept.
            let full = slots.open.load(Ordering::SeqCst) >= max_open;
            if !full {
                full_since = None;
            } else if full_since.get_or_insert_with(Instant::now).elapsed() < QUEUE_WAIT {
                std::thread::sleep(SLOT_WAIT);
                continue;
            }
            let Some(mut conn) = crate::listener::connection(self.listener.accept().map(|(c, _)| c), "http") else {
                continue;
            };
            if conn.set_nonblocking(false).is_err() {
                continue;
            }
            if full {
                let _ = conn::respond(&mut conn, 503, "text/plain", b"busy: try again");
                conn::linger(&mut conn);
                continue;
            }
            slots.open.fetch_add(1, Ordering::SeqCst);
            let (view, slots2, stop2, max_streams) = (self.view.clone(), slots.clone(), stop.clone(), self.max_streams);
            let spawned = workers.run(Box::new(move || {
                routes::serve_connection(conn, &view, &slots2.streams, max_streams, stop2);
                slots2.open.fetch_sub(1, Ordering::SeqCst);
            }));
            if let Err(e) = spawned {
                slots.open.fetch_sub(1, Ordering::SeqCst);
                log::warn!("http: connection thread: {e}");
            }
        }
    }
}

/// The write token from `http.token_file`: a regular file of at most 4 KiB, at least 16 characters once
/// trimmed.
pub fn read_token(path: &std::path::Path) -> Result<String, HttpError> {
    let bad = |problem: String| HttpError::Token { path: path.to_path_buf(), problem };
    let text = crate::model::file::read_sidecar(path).map_err(|e| bad(e.to_string()))?;
    let token = text.trim();
    if token.len() < 16 || token.chars().any(char::is_whitespace) {
        return Err(bad("a token is one word of at least 16 characters".into()));
    }
    Ok(token.to_string())
}

/// Why the port could not be opened; the unit's sandbox refusing the address family gets its remedy.
fn listen_error(addr: SocketAddr, source: std::io::Error) -> HttpError {
    match source.raw_os_error() {
        Some(nix::libc::EAFNOSUPPORT) => HttpError::NoNetwork { addr },
        _ => HttpError::Listen { addr, source },
    }
}

/// Connections open now, and how many of them are Live streams.
struct Slots {
    open: AtomicUsize,
    streams: AtomicUsize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sandbox_without_network_names_the_drop_in() {
        let addr: SocketAddr = "0.0.0.0:8080".parse().expect("addr");
        let e = listen_error(addr, std::io::Error::from_raw_os_error(nix::libc::EAFNOSUPPORT));
        assert!(e.to_string().contains("cellgate.service.d/http.conf"), "{e}");
        let e = listen_error(addr, std::io::Error::from_raw_os_error(nix::libc::EADDRINUSE));
        assert!(matches!(e, HttpError::Listen { .. }), "{e}");
    }
}
