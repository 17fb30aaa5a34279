//! One connection to the broker: the client options made from the `mqtt` section (Last Will, TLS with
//! the configured CA, credentials), and a thread that drives the client's event loop and hands each
//! event to the publisher, tagged with its session.
//!
//! A session ends at its first error and is never resumed: the publisher starts a new one after a
//! backoff, with a clean session, and sends again whatever the broker had not acknowledged. Requests
//! left in an ended session's queue die with it, so nothing is sent twice by the client on its own and
//! the publisher's bookkeeping of packet ids never meets a stale one.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::Sender;
use rumqttc::{Client, ConnectReturnCode, ConnectionError, Event, LastWill, MqttOptions, QoS, Transport};

use super::config::MqttConfig;
use super::MqttError;

/// Largest message either way: a part record with many defects is a few KB; a recipe command is short.
const MAX_PACKET: usize = 1 << 20;
/// Requests queued in the client, more than the publisher ever has in flight.
pub const CLIENT_QUEUE: usize = 256;
/// TCP connect plus TLS handshake plus the broker's CONNACK.
const CONNECT_TIMEOUT_S: u64 = 5;

/// What a session's thread reports.
#[derive(Debug)]
pub enum SessionEvent {
    Mqtt(u64, Event),
    /// The session ended with this error; `fatal`: a configuration problem (TLS, credentials), not the
    /// network.
    Lost {
        session: u64,
        error: String,
        fatal: bool,
    },
}

/// The client options of every session of this station.
pub fn options(cfg: &MqttConfig, base_dir: &Path, station: &str, availability: &str) -> Result<MqttOptions, MqttError> {
    let mut o = MqttOptions::new(station, cfg.host.trim(), cfg.port());
    o.set_keep_alive(Duration::from_secs(cfg.keep_alive_s))
        .set_clean_session(true)
        .set_max_packet_size(MAX_PACKET, MAX_PACKET)
        .set_inflight(CLIENT_QUEUE as u16)
        .set_last_will(LastWill::new(availability, "offline", QoS::AtLeastOnce, true));
    if let (Some(user), Some(file)) = (&cfg.username, &cfg.password_file) {
        o.set_credentials(user, read_password(&base_dir.join(file))?);
    } else if let Some(user) = &cfg.username {
        o.set_credentials(user, "");
    }
    if let Some(tls) = &cfg.tls {
        let resolve = |p: &PathBuf| base_dir.join(p);
        let client_auth = match (&tls.cert_file, &tls.key_file) {
            (Some(c), Some(k)) => Some((resolve(c), resolve(k))),
            _ => None,
        };
        let config = tls_config(&resolve(&tls.ca_file), client_auth)?;
        o.set_transport(Transport::tls_with_config(rumqttc::TlsConfiguration::Rustls(Arc::new(config))));
    }
    Ok(o)
}

fn read_password(path: &Path) -> Result<String, MqttError> {
    let text = crate::model::file::read_sidecar(path)
        .map_err(|e| MqttError::Password { path: path.to_path_buf(), problem: e.to_string() })?;
    Ok(text.trim_end_matches(['\r', '\n']).to_string())
}

/// A rustls client configuration that trusts only the CA file's certificates (ring as the crypto).
fn tls_config(ca: &Path, client_auth: Option<(PathBuf, PathBuf)>) -> Result<rustls::ClientConfig, MqttError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad =
        |key: &'static str, path: &Path, problem: String| MqttError::Tls { key, path: path.to_path_buf(), problem };
    let mut roots = rustls::RootCertStore::empty();
    let cas = CertificateDer::pem_file_iter(ca).map_err(|e| bad("tls.ca_file", ca, e.to_string()))?;
    for cert in cas {
        let cert = cert.map_err(|e| bad("tls.ca_file", ca, e.to_string()))?;
        roots.add(cert).map_err(|e| bad("tls.ca_file", ca, e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(bad("tls.ca_file", ca, "holds no PEM certificate".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("tls.ca_file", ca, e.to_string()))?
        .with_root_certificates(roots);
    match client_auth {
        None => Ok(builder.with_no_client_auth()),
        Some((cert, key)) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert)
                .and_then(|it| it.collect::<Result<_, _>>())
                .map_err(|e| bad("tls.cert_file", &cert, e.to_string()))?;
            let secret = PrivateKeyDer::from_pem_file(&key).map_err(|e| bad("tls.key_file", &key, e.to_string()))?;
            builder.with_client_auth_cert(chain, secret).map_err(|e| bad("tls.key_file", &key, e.to_string()))
        }
    }
}

/// A session: its client (requests) and the thread driving its connection.
pub struct Session {
    pub id: u64,
    pub client: Client,
}

impl Session {
    /// Starts connecting now; events (CONNACK first, or `Lost`) come on `events`.
    pub fn start(opts: &MqttOptions, id: u64, events: Sender<SessionEvent>) -> Result<Self, MqttError> {
        let (client, mut conn) = Client::new(opts.clone(), CLIENT_QUEUE);
        let mut net = conn.eventloop.network_options();
        net.set_connection_timeout(CONNECT_TIMEOUT_S);
        conn.eventloop.set_network_options(net);
        std::thread::Builder::new()
            .name("mqtt-net".into())
            .spawn(move || {
                // Ends at the first error (reported), or when the publisher let go of the client.
                while let Ok(event) = conn.recv() {
                    let sent = match event {
                        Ok(e) => events.send(SessionEvent::Mqtt(id, e)),
                        Err(e) => {
                            let fatal = is_configuration(&e);
                            let _ = events.send(SessionEvent::Lost { session: id, error: describe(&e), fatal });
                            return;
                        }
                    };
                    if sent.is_err() {
                        return;
                    }
                }
            })
            .map_err(MqttError::Thread)?;
        Ok(Self { id, client })
    }
}

/// Errors that another try will not mend: the broker's certificate refused, or the broker refusing
/// this client (credentials, identifier).
fn is_configuration(e: &ConnectionError) -> bool {
    if sandboxed(e) {
        return true;
    }
    match e {
        ConnectionError::ConnectionRefused(code) => !matches!(code, ConnectReturnCode::ServiceUnavailable),
        // A connection cut during the handshake is the network; a certificate refused is not.
        ConnectionError::Tls(rumqttc::TlsError::Io(_)) => rustls_error(e).is_some(),
        ConnectionError::Tls(_) => true,
        _ => rustls_error(e).is_some(),
    }
}

/// The TLS error inside `e`, however deep (a handshake error comes wrapped in an I/O error).
fn rustls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut cur: Option<&'a (dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        if let Some(r) = err.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            if let Some(r) = r.downcast_ref::<rustls::Error>() {
                return Some(r);
            }
        }
        cur = err.source();
    }
    None
}

/// The systemd unit's sandbox refused the socket (no network allowed without the drop-in).
fn sandboxed(e: &ConnectionError) -> bool {
    matches!(e, ConnectionError::Io(io) if io.raw_os_error() == Some(nix::libc::EAFNOSUPPORT))
}

/// The error as a person reads it: the TLS reason when there is one, the drop-in the sandbox needs.
fn describe(e: &ConnectionError) -> String {
    if let Some(tls) = rustls_error(e) {
        return format!("TLS: {tls} (mqtt.tls.ca_file, mqtt.tls.cert_file)");
    }
    match e {
        ConnectionError::ConnectionRefused(code) => {
            format!("the broker refused this client: {code:?} (mqtt.username, mqtt.password_file; the client id is the name)")
        }
        e if sandboxed(e) => "this service may use no network; install the drop-in \
             /usr/share/cellgate/examples/mqtt.conf as /etc/systemd/system/cellgate.service.d/mqtt.conf \
             (README \"Fleet connection\")"
            .into(),
        e => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sandbox_without_network_names_the_drop_in_and_a_broker_away_is_not_fatal() {
        let no_net = ConnectionError::Io(std::io::Error::from_raw_os_error(nix::libc::EAFNOSUPPORT));
        assert!(is_configuration(&no_net) && describe(&no_net).contains("cellgate.service.d/mqtt.conf"));
        let away = ConnectionError::Io(std::io::Error::from_raw_os_error(nix::libc::ECONNREFUSED));
        assert!(!is_configuration(&away), "{}", describe(&away));
        let bad_ca = ConnectionError::Tls(rumqttc::TlsError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        )));
        assert!(is_configuration(&bad_ca) && describe(&bad_ca).starts_with("TLS: invalid peer certificate"));
        let cut = ConnectionError::Tls(rumqttc::TlsError::Io(std::io::ErrorKind::ConnectionReset.into()));
        assert!(!is_configuration(&cut));
    }
}
