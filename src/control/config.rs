//! `control`: the local control socket. Absent: on, at `model_updates.state_dir/control.sock`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The socket's file name in the state folder, when `control.socket` names none.
pub const SOCKET_NAME: &str = "control.sock";

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ControlConfig {
    /// Serve the control socket (`cellgate recipe`, `cellgate teach`).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The socket's path; default `model_updates.state_dir/control.sock` (the state folder is the
    /// service's, 0750, so only root and the service's group reach it; the socket itself is 0660).
    #[serde(default)]
    pub socket: Option<PathBuf>,
}

fn yes() -> bool {
    true
}

impl Default for ControlConfig {
    fn default() -> Self {
        Self { enabled: true, socket: None }
    }
}

impl ControlConfig {
    /// The socket's path: `socket`, or `control.sock` in `state_dir` (both already resolved).
    pub fn path(&self, socket: Option<PathBuf>, state_dir: &Path) -> PathBuf {
        socket.unwrap_or_else(|| state_dir.join(SOCKET_NAME))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_by_default_in_the_state_folder_and_unknown_keys_are_refused() {
        let c: ControlConfig = serde_json::from_str("{}").expect("config");
        assert_eq!(c, ControlConfig::default());
        assert_eq!(
            c.path(c.socket.clone(), Path::new("/var/lib/cellgate")),
            Path::new("/var/lib/cellgate/control.sock")
        );
        let c: ControlConfig = serde_json::from_str(r#"{"socket": "/run/cellgate/c.sock"}"#).expect("config");
        assert_eq!(c.path(c.socket.clone(), Path::new("/x")), Path::new("/run/cellgate/c.sock"));
        assert!(serde_json::from_str::<ControlConfig>(r#"{"sockets": "x"}"#).is_err());
    }
}
