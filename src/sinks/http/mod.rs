//! The technician's station page (issue 21): an embedded HTTP server that only reads the station (its
//! metrics registry, health marks, model status, the NG archive and the recipes' references) and a
//! record sink that feeds the Live page. It is a component beside the line, not in it: requests are
//! served on its own threads, a slow or hostile client never reaches the inspection threads, and every
//! asset is compiled into the binary (no CDN, works with no internet).
//!
//! Threads: one accepts (tiny_http reads each connection on its own thread), `WORKERS` answer the
//! short requests from a bounded queue (full: 503 at once), and each open Live page has a thread of its
//! own, at most `http.max_streams`.

mod config;
mod files;
mod live;
mod routes;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

pub use config::HttpConfig;
pub use live::{Live, LiveFeed};

use crate::metrics::file::Stuck;
use crate::metrics::StationMetrics;

/// Threads answering short requests.
const WORKERS: usize = 2;
/// Requests queued for them before the next one is answered 503.
const QUEUE: usize = 64;
/// How often the accepting thread looks at the stop flag.
const POLL: Duration = Duration::from_millis(100);

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("http.listen: cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: Box<dyn std::error::Error + Send + Sync> },
    #[error("http: cannot start its thread: {0}")]
    Thread(#[source] std::io::Error),
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
    pub live: Arc<Live>,
}

/// The page, listening, not yet serving.
pub struct HttpPage {
    server: Arc<tiny_http::Server>,
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
        let server =
            tiny_http::Server::http(cfg.listen).map_err(|source| HttpError::Listen { addr: cfg.listen, source })?;
        let live = Arc::new(Live::new(cfg.live_parts, metrics));
        let page = Self { server: Arc::new(server), view: Arc::new(view(live.clone())), max_streams: cfg.max_streams };
        Ok((page, LiveFeed(live)))
    }

    /// Where it listens (the port the system chose for `:0`).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.server.server_addr().to_ip()
    }

    /// Serves until `stop`; the returned handle ends soon after it is set.
    pub fn spawn(self, stop: Arc<AtomicBool>) -> Result<JoinHandle<()>, HttpError> {
        std::thread::Builder::new().name("http".into()).spawn(move || self.serve(&stop)).map_err(HttpError::Thread)
    }

    fn serve(self, stop: &Arc<AtomicBool>) {
        let (tx, rx) = crossbeam_channel::bounded::<tiny_http::Request>(QUEUE);
        let workers: Vec<JoinHandle<()>> = (0..WORKERS)
            .filter_map(|i| {
                let (rx, view) = (rx.clone(), self.view.clone());
                std::thread::Builder::new()
                    .name(format!("http-{i}"))
                    .spawn(move || {
                        for req in rx {
                            routes::answer(req, &view);
                        }
                    })
                    .map_err(|e| log::error!("http: worker thread: {e}"))
                    .ok()
            })
            .collect();
        let streams = Arc::new(AtomicUsize::new(0));
        while !stop.load(Ordering::Relaxed) {
            let req = match self.server.recv_timeout(POLL) {
                Ok(Some(r)) => r,
                Ok(None) => continue,
                Err(e) => {
                    log::warn!("http: {e}");
                    continue;
                }
            };
            if routes::is_stream(&req) {
                self.open_stream(req, &streams, stop);
            } else if let Err(crossbeam_channel::TrySendError::Full(req)) = tx.try_send(req) {
                routes::busy(req);
            }
        }
        drop(tx);
        for w in workers {
            let _ = w.join();
        }
    }

    fn open_stream(&self, req: tiny_http::Request, streams: &Arc<AtomicUsize>, stop: &Arc<AtomicBool>) {
        if streams.fetch_add(1, Ordering::SeqCst) >= self.max_streams {
            streams.fetch_sub(1, Ordering::SeqCst);
            return routes::busy(req);
        }
        let (sse, count) = (self.view.live.subscribe(stop.clone()), streams.clone());
        let spawned = std::thread::Builder::new().name("http-live".into()).spawn(move || {
            routes::stream(req, sse);
            count.fetch_sub(1, Ordering::SeqCst);
        });
        if let Err(e) = spawned {
            streams.fetch_sub(1, Ordering::SeqCst);
            log::warn!("http: live stream thread: {e}");
        }
    }
}
