//! `http`: the technician's station page. Absent (the shipped config): no port is opened.

use std::net::SocketAddr;

use serde::Deserialize;

use crate::key_problem::KeyProblem;

/// Parts the Live page keeps (and sends to a page that opens), at most.
pub const LIVE_PARTS: std::ops::RangeInclusive<usize> = 1..=10_000;
/// Live streams served at once, at most.
pub const STREAMS: std::ops::RangeInclusive<usize> = 1..=64;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Address and port the page listens on: `127.0.0.1:8080` for this box only, `0.0.0.0:8080` for the
    /// plant network (the systemd unit then needs the network drop-in, README "Station page").
    pub listen: SocketAddr,
    /// The last parts the Live page shows (1..=10000).
    #[serde(default = "default_live_parts")]
    pub live_parts: usize,
    /// Live pages (Server-Sent Events streams) served at once (1..=64); one more is answered 503.
    #[serde(default = "default_max_streams")]
    pub max_streams: usize,
    /// File holding the token that write actions (switching the recipe, teaching) must carry as
    /// `Authorization: Bearer TOKEN` (at least 16 characters; on a station `/etc/cellgate/http.token`,
    /// readable by the service only). Absent: the page only reads.
    #[serde(default)]
    pub token_file: Option<std::path::PathBuf>,
}

fn default_live_parts() -> usize {
    200
}

fn default_max_streams() -> usize {
    8
}

impl HttpConfig {
    /// Its bounds; the key is inside the section (`max_streams`).
    pub fn validate(&self) -> Result<(), KeyProblem> {
        let out = |key, v: usize, r: &std::ops::RangeInclusive<usize>| {
            (!r.contains(&v)).then(|| KeyProblem::new(key, format!("{v} is outside {}..={}", r.start(), r.end())))
        };
        match out("live_parts", self.live_parts, &LIVE_PARTS).or(out("max_streams", self.max_streams, &STREAMS)) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listen_is_needed_and_bounds_name_their_key() {
        let c: HttpConfig = serde_json::from_str(r#"{"listen": "127.0.0.1:0"}"#).expect("config");
        assert_eq!((c.live_parts, c.max_streams, c.token_file.as_deref()), (200, 8, None));
        assert_eq!(c.validate(), Ok(()));
        let c = HttpConfig { max_streams: 0, ..c.clone() };
        assert_eq!(
            c.validate().map_err(|e| e.under("http").to_string()),
            Err("http.max_streams: 0 is outside 1..=64".into())
        );
        assert!(serde_json::from_str::<HttpConfig>(r#"{"listen": "127.0.0.1:0", "port": 1}"#).is_err());
        assert!(serde_json::from_str::<HttpConfig>(r#"{"listen": "localhost"}"#).is_err());
    }
}
