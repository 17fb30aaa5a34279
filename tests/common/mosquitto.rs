//! Debian's mosquitto as the tests' broker: started on a free loopback port with a config generated in a
//! temp folder (persistence on, so a subscriber's session outlives a broker restart), stopped and started
//! again on the same port, killed with the test. And a subscriber that keeps every message it gets.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

/// The mosquitto binary, or `None` on a machine set up by hand without it (scripts/setup.sh installs
/// it; in CI its absence is a failure).
pub fn binary() -> Option<PathBuf> {
    let found = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file());
    assert!(
        found.is_some() || std::env::var_os("CI").is_none(),
        "mosquitto is missing (Debian mosquitto, scripts/setup.sh)"
    );
    if found.is_none() {
        eprintln!("mosquitto is not installed (bash scripts/setup.sh): MQTT test skipped");
    }
    found
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

/// Files of a TLS listener.
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub struct Broker {
    exe: PathBuf,
    conf: PathBuf,
    /// Plain MQTT.
    pub port: u16,
    /// TLS, when the broker has a TLS listener.
    pub tls_port: Option<u16>,
    child: Option<Child>,
}

impl Broker {
    pub fn start(exe: &Path, dir: &Path, tls: Option<&TlsFiles>) -> Self {
        let (port, tls_port) = (free_port(), tls.map(|_| free_port()));
        let data = dir.join("mosquitto");
        std::fs::create_dir_all(&data).expect("mkdir");
        let mut conf = format!(
            "per_listener_settings false\nallow_anonymous true\npersistence true\npersistence_location {}/\n\
             log_dest file {}/mosquitto.log\nlog_type all\nlistener {port} 127.0.0.1\n",
            data.display(),
            data.display()
        );
        // The folder we just made is ours: its owner is who we run as.
        if std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&data).expect("stat")) == 0 {
            // Else it drops to the `mosquitto` user, which cannot write the temp folder.
            conf.push_str("user root\n");
        }
        if let (Some(t), Some(p)) = (tls, tls_port) {
            conf.push_str(&format!(
                "listener {p} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\n",
                t.ca.display(),
                t.cert.display(),
                t.key.display()
            ));
        }
        let path = data.join("mosquitto.conf");
        std::fs::write(&path, conf).expect("write mosquitto.conf");
        let mut b = Self { exe: exe.to_path_buf(), conf: path, port, tls_port, child: None };
        b.resume();
        b
    }

    /// Starts it (again, on the same ports, with the sessions it saved) and waits until it listens.
    pub fn resume(&mut self) {
        let child = Command::new(&self.exe)
            .arg("-c")
            .arg(&self.conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto");
        self.child = Some(child);
        let t0 = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(t0.elapsed() < Duration::from_secs(20), "mosquitto does not listen; see {}", self.conf.display());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops it the way systemd would (SIGTERM: it saves its sessions and closes every connection).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(c.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let _ = c.wait();
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// One message as a subscriber got it.
#[derive(Debug, Clone)]
pub struct Msg {
    pub topic: String,
    pub payload: Vec<u8>,
    pub retain: bool,
    pub dup: bool,
}

impl Msg {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.payload).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }
}

/// A subscriber to `filter`; with `persistent`, its session (and the messages queued for it) outlives
/// its connection and a broker restart.
pub struct Subscriber {
    pub client: Client,
    msgs: Arc<Mutex<Vec<Msg>>>,
    subscribed: Arc<AtomicBool>,
}

impl Subscriber {
    pub fn new(port: u16, id: &str, filter: &str, persistent: bool) -> Self {
        let mut o = MqttOptions::new(id, "127.0.0.1", port);
        o.set_clean_session(!persistent).set_keep_alive(Duration::from_secs(5)).set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut conn) = Client::new(o, 64);
        client.subscribe(filter, QoS::AtLeastOnce).expect("subscribe");
        let (msgs, subscribed) = (Arc::new(Mutex::new(Vec::new())), Arc::new(AtomicBool::new(false)));
        let (m, s) = (msgs.clone(), subscribed.clone());
        std::thread::spawn(move || {
            for ev in conn.iter() {
                match ev {
                    Ok(Event::Incoming(Packet::Publish(p))) => m
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(Msg { topic: p.topic, payload: p.payload.to_vec(), retain: p.retain, dup: p.dup }),
                    Ok(Event::Incoming(Packet::SubAck(_))) => s.store(true, Ordering::SeqCst),
                    Ok(_) => {}
                    // The broker is away: the client connects again on the next poll.
                    Err(_) => std::thread::sleep(Duration::from_millis(100)),
                }
            }
        });
        let t0 = Instant::now();
        while !subscribed.load(Ordering::SeqCst) {
            assert!(t0.elapsed() < Duration::from_secs(20), "no SUBACK from the broker");
            std::thread::sleep(Duration::from_millis(10));
        }
        Self { client, msgs, subscribed }
    }

    pub fn messages(&self) -> Vec<Msg> {
        self.msgs.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Those on `topic`.
    pub fn on(&self, topic: &str) -> Vec<Msg> {
        self.messages().into_iter().filter(|m| m.topic == topic).collect()
    }

    /// Waits (at most 60 s) until `pred` holds for the messages so far; returns them.
    pub fn wait_for(&self, what: &str, pred: impl Fn(&[Msg]) -> bool) -> Vec<Msg> {
        let t0 = Instant::now();
        loop {
            let m = self.messages();
            if pred(&m) {
                return m;
            }
            assert!(t0.elapsed() < Duration::from_secs(60), "never got {what}: {m:#?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.client.disconnect();
    }
}

/// A test CA and a server certificate for 127.0.0.1 signed by it (openssl CLI), and a second CA that
/// signed nothing; keys only in `dir` (a temp folder).
pub fn test_pki(dir: &Path) -> (TlsFiles, PathBuf) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    for ca in ["ca", "other-ca"] {
        let (key, pem, subj) = (format!("{ca}.key"), format!("{ca}.pem"), format!("/CN=cellgate test {ca}"));
        let mut args = vec!["req", "-x509", "-days", "2", "-subj", &subj, "-keyout", &key, "-out", &pem];
        args.extend(ec);
        run(&args);
    }
    let mut args = vec!["req", "-subj", "/CN=127.0.0.1", "-keyout", "server.key", "-out", "server.csr"];
    args.extend(ec);
    run(&args);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write");
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "server.ext",
        "-out",
        "server.pem",
    ]);
    let files = TlsFiles { ca: dir.join("ca.pem"), cert: dir.join("server.pem"), key: dir.join("server.key") };
    (files, dir.join("other-ca.pem"))
}
