//! What the station's writers (this socket, the station page) may ask of its teach step: the `Teach`
//! trait, which the station's `Teacher` implements, and what it answers. Defined here, beside the
//! writers, so that neither the socket nor the page depends on the station.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Why the teach step refused a request: its own typed error, kept whole (the writers show it).
pub type Refusal = Box<dyn std::error::Error + Send + Sync>;

pub trait Teach: Send + Sync {
    /// Waits (at most `wait`) for the next good part of `recipe` (`force`: the next plausible frame) and
    /// keeps it as the recipe's candidate.
    fn teach(&self, recipe: &str, force: bool, wait: Duration) -> Result<Taught, Refusal>;
    /// The candidate becomes the reference, the reference `previous`; takes over between two parts.
    fn confirm(&self, recipe: &str) -> Result<TookOver, Refusal>;
    /// The previous reference and the current one trade places; takes over between two parts.
    fn rollback(&self, recipe: &str) -> Result<TookOver, Refusal>;
    /// Drops the candidate; returns where it was.
    fn discard(&self, recipe: &str) -> Result<PathBuf, Refusal>;
    /// The candidate image, when there is one.
    fn candidate(&self, recipe: &str) -> Option<PathBuf>;
}

/// A station whose inspection judges against no reference (electrode) has nothing to teach.
#[derive(Debug, thiserror::Error)]
#[error("this station's inspection has no reference images: only a seal station is taught")]
pub struct NoReferences;

/// A candidate kept from the camera: what `cellgate teach` prints.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Taught {
    pub path: PathBuf,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
}

/// What a confirm or rollback put in place: the reference judged against from the next batch on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TookOver {
    pub recipe: String,
    pub reference: PathBuf,
    pub previous: PathBuf,
    /// SHA-256 of the new reference file: every part judged against it names this in its record.
    pub sha256: String,
}
