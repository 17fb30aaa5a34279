//! `records`: the record sinks a config asks for (the results log, the NG archive), checked against the
//! file system as well as for ranges, so that a config that would fail at start fails `check-config`
//! first, naming the key. A new record sink adds its key here and its line in `build`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use super::{RecordSink, SinkError};
use crate::key_problem::{bad, KeyProblem};
use crate::metrics::StationMetrics;
pub use crate::sinks::ng_archive::ArchiveConfig;
use crate::sinks::results_log::ResultsLog;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordsConfig {
    /// Results log, one JSON line per part.
    pub results: PathBuf,
    #[serde(default)]
    pub archive: Option<ArchiveConfig>,
}

/// A path with its folder resolved through links, so two spellings of one file compare equal.
fn canonical(p: &Path) -> PathBuf {
    match (p.parent().and_then(|d| d.canonicalize().ok()), p.file_name()) {
        (Some(dir), Some(name)) => dir.join(name),
        _ => p.to_path_buf(),
    }
}

impl RecordsConfig {
    /// Is `path` (from the config, relative to `base_dir`) the results log, however it is spelled?
    pub fn is_results_log(&self, base_dir: &Path, path: &Path) -> bool {
        canonical(&base_dir.join(path)) == canonical(&base_dir.join(&self.results))
    }

    /// Checks the section; relative paths are taken from `base_dir` (the config file's folder).
    pub fn validate(&self, base_dir: &Path) -> Result<(), KeyProblem> {
        let results = base_dir.join(&self.results);
        if results.is_dir() {
            return bad("records.results", format!("{} is a folder; it must name a file", results.display()));
        }
        if let Some(arch) = &self.archive {
            arch.validate(base_dir)?;
            if self.is_results_log(base_dir, &arch.dir) {
                let dir = base_dir.join(&arch.dir);
                return bad("records.archive.dir", format!("{} is also records.results", dir.display()));
            }
        }
        Ok(())
    }

    /// Checks the section, then opens the record sinks, in the order each part is handed to them: the
    /// results log first, then the NG archive; their counters go to `metrics`.
    pub fn build(&self, base_dir: &Path, metrics: &Arc<StationMetrics>) -> Result<Vec<Box<dyn RecordSink>>, SinkError> {
        self.validate(base_dir)?;
        let path = base_dir.join(&self.results);
        let log = ResultsLog::open(&path, metrics.clone()).map_err(|source| SinkError::ResultsLog { path, source })?;
        let mut sinks: Vec<Box<dyn RecordSink>> = vec![Box::new(log)];
        if let Some(a) = &self.archive {
            sinks.push(Box::new(a.build(base_dir, metrics.clone())?));
        }
        Ok(sinks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_results_log_comes_first_then_the_archive() {
        let dir = tempfile::tempdir().expect("tempdir");
        let both: RecordsConfig =
            serde_json::from_str(r#"{"results": "log/results.jsonl", "archive": {"dir": "ng"}}"#).expect("records");
        assert_eq!(both.validate(dir.path()), Ok(()));
        let sinks = both.build(dir.path(), &Arc::default()).expect("sinks");
        assert_eq!(sinks.iter().map(|s| s.name()).collect::<Vec<_>>(), ["results log", "NG archive"]);
        assert!(dir.path().join("log/results.jsonl").is_file() && dir.path().join("ng").is_dir());
        let log_only: RecordsConfig = serde_json::from_str(r#"{"results": "r.jsonl"}"#).expect("records");
        assert_eq!(log_only.build(dir.path(), &Arc::default()).expect("sinks").len(), 1);
    }

    #[test]
    fn a_results_log_that_cannot_be_opened_names_its_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a-file"), b"x").expect("write");
        let under_a_file: RecordsConfig = serde_json::from_str(r#"{"results": "a-file/r.jsonl"}"#).expect("records");
        assert_eq!(under_a_file.validate(dir.path()), Ok(()), "only opening it finds this");
        let err = under_a_file.build(dir.path(), &Arc::default()).err().expect("a folder that is a file");
        assert!(err.to_string().starts_with("records.results "), "{err}");
    }

    #[test]
    fn build_refuses_a_section_that_fails_its_checks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let folder: RecordsConfig = serde_json::from_str(r#"{"results": "."}"#).expect("records");
        match folder.build(dir.path(), &Arc::default()) {
            Err(SinkError::Config(p)) => assert_eq!(p.key, "records.results", "{p}"),
            Err(e) => panic!("refused for another reason: {e}"),
            Ok(_) => panic!("a folder was opened as the results log"),
        }
    }

    #[test]
    fn a_folder_or_a_shared_path_is_refused_by_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let parse = |json: &str| serde_json::from_str::<RecordsConfig>(json).expect("records");
        let key = |json: &str| parse(json).validate(dir.path()).map_err(|p| p.key);
        assert_eq!(key(r#"{"results": "."}"#), Err("records.results".into()));
        assert_eq!(
            key(r#"{"results": "r.jsonl", "archive": {"dir": "./r.jsonl"}}"#),
            Err("records.archive.dir".into())
        );
    }
}
