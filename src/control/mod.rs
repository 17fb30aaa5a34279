//! The local control socket (issue 21): a Unix socket beside the station's state, one JSON request a
//! line and one JSON answer a line, for `cellgate recipe` and `cellgate teach`. It is local, so it takes
//! no token: the file's permissions are the guard (0660 in the service's 0750 state folder: root and the
//! service's group). Every write is logged with the caller's uid and pid. The station page's writes and
//! this socket act through the same `StationControl`: one recipe switch, one teach.

pub mod client;
mod config;
mod server;
mod teach;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use config::{ControlConfig, SOCKET_NAME};
pub use server::{ControlError, ControlSocket};
pub use teach::{NoReferences, Refusal, Taught, Teach, TookOver};

use crate::inspect::active_recipe::ActiveRecipe;

/// The longest a teach may wait for its part.
pub const MAX_TEACH_WAIT: Duration = Duration::from_secs(600);

/// One request, one line of JSON.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "cmd", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Show the active recipe, or switch to `name` from the next part on.
    Recipe {
        name: Option<String>,
    },
    /// Keep the next good part of `recipe` (`force`: the next plausible frame) as its candidate.
    Teach {
        recipe: String,
        force: bool,
        timeout_ms: u64,
    },
    Confirm {
        recipe: String,
    },
    Discard {
        recipe: String,
    },
    Rollback {
        recipe: String,
    },
}

impl Request {
    /// A write (logged with its caller), rather than a read.
    pub fn writes(&self) -> bool {
        !matches!(self, Request::Recipe { name: None })
    }
}

/// One answer, one line of JSON.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum Answer {
    Recipe {
        active: String,
        previous: Option<String>,
        recipes: Vec<String>,
    },
    Taught(Taught),
    TookOver(TookOver),
    Discarded {
        path: PathBuf,
    },
    /// Refused, and why (the station's own error text: the client only shows it).
    Refused {
        reason: String,
    },
}

/// What the station's writers (this socket, the station page) may do to it.
pub struct StationControl {
    pub recipe: Arc<ActiveRecipe>,
    /// `None`: an inspection without references (electrode).
    pub teacher: Option<Arc<dyn Teach>>,
}

impl StationControl {
    pub fn teacher(&self) -> Result<&dyn Teach, Refusal> {
        self.teacher.as_deref().ok_or_else(|| NoReferences.into())
    }

    /// Does what `req` asks; `who` names the caller in the log.
    pub fn handle(&self, req: &Request, who: &str) -> Answer {
        if req.writes() {
            log::info!("control: {req:?} from {who}");
        }
        let answer = self.answer(req);
        if let (true, Answer::Refused { reason }) = (req.writes(), &answer) {
            log::warn!("control: {req:?} from {who} refused: {reason}");
        }
        answer
    }

    fn answer(&self, req: &Request) -> Answer {
        let refused = |e: &dyn std::fmt::Display| Answer::Refused { reason: e.to_string() };
        let recipes = || self.recipe.known().iter().cloned().collect::<Vec<_>>();
        match req {
            Request::Recipe { name: None } => {
                Answer::Recipe { active: self.recipe.get().to_string(), previous: None, recipes: recipes() }
            }
            Request::Recipe { name: Some(name) } => match self.recipe.switch(name) {
                Ok(previous) => Answer::Recipe {
                    active: self.recipe.get().to_string(),
                    previous: Some(previous.to_string()),
                    recipes: recipes(),
                },
                Err(e) => refused(&e),
            },
            Request::Teach { recipe, force, timeout_ms } => {
                let wait = Duration::from_millis(*timeout_ms).min(MAX_TEACH_WAIT);
                match self.teacher().and_then(|t| t.teach(recipe, *force, wait)) {
                    Ok(t) => Answer::Taught(t),
                    Err(e) => refused(&e),
                }
            }
            Request::Confirm { recipe } => match self.teacher().and_then(|t| t.confirm(recipe)) {
                Ok(t) => Answer::TookOver(t),
                Err(e) => refused(&e),
            },
            Request::Rollback { recipe } => match self.teacher().and_then(|t| t.rollback(recipe)) {
                Ok(t) => Answer::TookOver(t),
                Err(e) => refused(&e),
            },
            Request::Discard { recipe } => match self.teacher().and_then(|t| t.discard(recipe)) {
                Ok(path) => Answer::Discarded { path },
                Err(e) => refused(&e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_answers_are_one_json_object_each() {
        let r: Request = serde_json::from_str(r#"{"cmd": "recipe", "name": "b"}"#).expect("request");
        assert_eq!(r, Request::Recipe { name: Some("b".into()) });
        assert!(r.writes());
        let r: Request = serde_json::from_str(r#"{"cmd": "recipe"}"#).expect("request");
        assert!(!r.writes());
        assert!(serde_json::from_str::<Request>(r#"{"cmd": "format_disk"}"#).is_err());
        let control =
            StationControl { recipe: Arc::new(ActiveRecipe::new("a", ["a".into(), "b".into()])), teacher: None };
        let a = control.handle(&Request::Recipe { name: Some("b".into()) }, "test");
        assert_eq!(
            a,
            Answer::Recipe { active: "b".into(), previous: Some("a".into()), recipes: vec!["a".into(), "b".into()] }
        );
        let a = control.handle(&Request::Confirm { recipe: "b".into() }, "test");
        assert!(matches!(&a, Answer::Refused { reason } if reason.contains("only a seal station is taught")), "{a:?}");
        let line = serde_json::to_string(&a).expect("json");
        assert!(line.starts_with(r#"{"answer":"refused""#), "{line}");
    }
}
