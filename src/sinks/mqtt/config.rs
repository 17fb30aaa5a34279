//! `mqtt`: the fleet connection (results, health and recipe commands through a plant's MQTT broker).
//! Absent (the shipped config): no connection is made.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::key_problem::{bad, KeyProblem};

/// Spool size bounds, bytes: at least a few parts, at most what a station's state partition holds.
pub const SPOOL_BYTES: std::ops::RangeInclusive<u64> = 4096..=(4 << 30);
/// Keep-alive bounds, seconds.
pub const KEEP_ALIVE_S: std::ops::RangeInclusive<u64> = 5..=3600;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MqttConfig {
    /// The broker's host name or address (with `tls`, the name its certificate carries).
    pub host: String,
    /// The broker's port: 1883, or 8883 with `tls`.
    #[serde(default)]
    pub port: Option<u16>,
    /// Topics are `<topic_prefix>/<station name>/...`.
    #[serde(default = "default_prefix")]
    pub topic_prefix: String,
    /// QoS of the part messages: 1 (at least once) or 2. Retained state messages go at QoS 1.
    #[serde(default = "default_qos")]
    pub qos: u8,
    /// TLS to the broker; absent: plain TCP.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// User name given to the broker; its password is in `password_file`.
    #[serde(default)]
    pub username: Option<String>,
    /// File holding the password (one line; on a station mode 0640 root:cellgate).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Size limit of the on-disk spool of part messages not yet acknowledged (under
    /// `model_updates.state_dir`); beyond it the oldest are dropped and counted (`mqtt_dropped`).
    #[serde(default = "default_spool_bytes")]
    pub spool_bytes: u64,
    /// Keep-alive interval, seconds: a broker that went silent is noticed within 1.5 times this.
    #[serde(default = "default_keep_alive")]
    pub keep_alive_s: u64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file of the CA(s) the broker's certificate must chain to (the system's store is not used).
    pub ca_file: PathBuf,
    /// Client certificate (PEM) for brokers that ask for one; with `key_file`.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// The client certificate's private key (PEM, PKCS#8, PKCS#1 or SEC1).
    #[serde(default)]
    pub key_file: Option<PathBuf>,
}

fn default_prefix() -> String {
    "cellgate".into()
}

fn default_qos() -> u8 {
    1
}

fn default_spool_bytes() -> u64 {
    64 << 20
}

fn default_keep_alive() -> u64 {
    30
}

impl MqttConfig {
    /// The port in effect.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(if self.tls.is_some() { 8883 } else { 1883 })
    }

    /// Its checks, files included (relative to `base_dir`); the key is inside the section (`qos`).
    pub fn validate(&self, base_dir: &Path) -> Result<(), KeyProblem> {
        if self.host.trim().is_empty() {
            return bad("host", "must not be empty");
        }
        if self.port == Some(0) {
            return bad("port", "0 is not a port");
        }
        let level_ok = |s: &str| !s.is_empty() && !s.contains(['+', '#', '\0']);
        if !self.topic_prefix.split('/').all(level_ok) {
            return bad("topic_prefix", format!("{:?}: topic levels, not empty, without + or #", self.topic_prefix));
        }
        if !(1..=2).contains(&self.qos) {
            return bad("qos", format!("{}: part messages need 1 (at least once) or 2", self.qos));
        }
        if !SPOOL_BYTES.contains(&self.spool_bytes) {
            let (lo, hi) = (SPOOL_BYTES.start(), SPOOL_BYTES.end());
            return bad("spool_bytes", format!("{} is outside {lo}..={hi}", self.spool_bytes));
        }
        if !KEEP_ALIVE_S.contains(&self.keep_alive_s) {
            let (lo, hi) = (KEEP_ALIVE_S.start(), KEEP_ALIVE_S.end());
            return bad("keep_alive_s", format!("{} is outside {lo}..={hi}", self.keep_alive_s));
        }
        if self.password_file.is_some() && self.username.is_none() {
            return bad("password_file", "needs a username");
        }
        let file = |key: &str, p: &Path| match base_dir.join(p).is_file() {
            true => Ok(()),
            false => bad(key, format!("{}: no such file", base_dir.join(p).display())),
        };
        if let Some(p) = &self.password_file {
            file("password_file", p)?;
        }
        if let Some(t) = &self.tls {
            file("tls.ca_file", &t.ca_file)?;
            match (&t.cert_file, &t.key_file) {
                (Some(c), Some(k)) => {
                    file("tls.cert_file", c)?;
                    file("tls.key_file", k)?;
                }
                (None, None) => {}
                (Some(_), None) => return bad("tls.key_file", "a client certificate needs its key"),
                (None, Some(_)) => return bad("tls.cert_file", "a client key needs its certificate"),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> MqttConfig {
        serde_json::from_str(json).expect("mqtt section")
    }

    #[test]
    fn only_host_is_needed_and_the_defaults_are_the_documented_ones() {
        let c = parse(r#"{"host": "broker"}"#);
        assert_eq!((c.port(), c.topic_prefix.as_str(), c.qos), (1883, "cellgate", 1));
        assert_eq!((c.spool_bytes, c.keep_alive_s, c.tls.is_none()), (64 << 20, 30, true));
        assert_eq!(c.validate(Path::new("/")), Ok(()));
        assert!(serde_json::from_str::<MqttConfig>(r#"{"host": "b", "client_id": "x"}"#).is_err());
    }

    #[test]
    fn tls_moves_the_default_port_and_its_files_must_exist() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("ca.pem"), "x").expect("write");
        let c = parse(r#"{"host": "b", "tls": {"ca_file": "ca.pem"}}"#);
        assert_eq!((c.port(), c.validate(dir.path())), (8883, Ok(())));
        let key = |json: &str| parse(json).validate(dir.path()).map_err(|p| p.under("mqtt").key);
        assert_eq!(key(r#"{"host": "b", "tls": {"ca_file": "none.pem"}}"#), Err("mqtt.tls.ca_file".into()));
        assert_eq!(
            key(r#"{"host": "b", "tls": {"ca_file": "ca.pem", "cert_file": "ca.pem"}}"#),
            Err("mqtt.tls.key_file".into())
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        let key = |json: &str| parse(json).validate(Path::new("/")).map_err(|p| p.under("mqtt").to_string());
        assert_eq!(
            key(r#"{"host": "b", "qos": 0}"#),
            Err("mqtt.qos: 0: part messages need 1 (at least once) or 2".into())
        );
        assert_eq!(key(r#"{"host": "b", "spool_bytes": 10}"#).map_err(|e| e.contains("mqtt.spool_bytes")), Err(true));
        assert_eq!(key(r#"{"host": "b", "topic_prefix": "a/#"}"#).map_err(|e| e.contains("topic_prefix")), Err(true));
        assert_eq!(key(r#"{"host": " "}"#), Err("mqtt.host: must not be empty".into()));
        assert_eq!(key(r#"{"host": "b", "password_file": "p"}"#), Err("mqtt.password_file: needs a username".into()));
    }
}
