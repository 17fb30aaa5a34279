//! Reading a config file: JSON syntax errors by line and column, serde's errors by key path, then
//! `StationConfig::validate`.

use std::path::{Path, PathBuf};

use super::{
    ChardevConfig, ConfigError, ElectrodeConfig, GpioTriggerConfig, KeyProblem, SealConfig, StationConfig, V4l2Config,
};

impl StationConfig {
    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
        Self::parse(&text, path, &base)
    }

    /// `load` for the model tools (`models status`, `models rollback`): they are needed exactly when the
    /// model file is missing or broken, so only its path is taken from the config, not its presence.
    pub fn load_for_model_tools(path: &Path) -> Result<Self, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
        Self::parse_with(&text, path, &base, false)
    }

    /// Parses and validates config text; `file` is only used in messages.
    pub fn parse(text: &str, file: &Path, base_dir: &Path) -> Result<Self, ConfigError> {
        Self::parse_with(text, file, base_dir, true)
    }

    pub(super) fn parse_with(
        text: &str,
        file: &Path,
        base_dir: &Path,
        model_required: bool,
    ) -> Result<Self, ConfigError> {
        let syntax = |e: &serde_json::Error| ConfigError::Syntax {
            file: file.to_path_buf(),
            line: e.line(),
            column: e.column(),
            problem: strip_position(&e.to_string()),
        };
        let de = &mut serde_json::Deserializer::from_str(text);
        let mut cfg: StationConfig = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
            if !e.inner().is_data() {
                return syntax(e.inner());
            }
            let key = e.path().to_string();
            let problem = strip_position(&e.into_inner().to_string());
            let (key, problem) = inside_section(text, &key).unwrap_or((key, problem));
            ConfigError::Invalid {
                file: file.to_path_buf(),
                // An unknown blank key (`{"": 1}`) makes a blank path: name the level it is in.
                key: if key == "." || key.trim().is_empty() { "(top level)".into() } else { key },
                problem,
            }
        })?;
        // Anything after the one JSON value (a second config pasted below, a stray brace) is refused.
        de.end().map_err(|e| syntax(&e))?;
        cfg.base_dir = base_dir.to_path_buf();
        cfg.validate(model_required).map_err(|KeyProblem { key, problem }| ConfigError::Invalid {
            file: file.to_path_buf(),
            key,
            problem,
        })?;
        cfg.runtime.resolve_paths(base_dir);
        Ok(cfg)
    }
}

/// serde loses the key path inside a section chosen by its `kind` (or `backend`): the error says only
/// `source`. This reads that section again as the chosen kind's own struct to name the key inside it.
fn inside_section(text: &str, section: &str) -> Option<(String, String)> {
    fn find<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Option<(String, String)> {
        serde_path_to_error::deserialize::<_, T>(v)
            .err()
            .map(|e| (e.path().to_string(), strip_position(&e.into_inner().to_string())))
    }
    let root: serde_json::Value = serde_json::from_str(text).ok()?;
    let mut v = root.get(section)?.clone();
    let tag = v.as_object_mut()?.remove(if section == "gpio" { "backend" } else { "kind" })?;
    let (key, problem) = match (section, tag.as_str()?) {
        ("source", "v4l2") => find::<V4l2Config>(v),
        ("trigger", "gpio") => find::<GpioTriggerConfig>(v),
        ("gpio", "chardev") => find::<ChardevConfig>(v),
        ("inspection", "seal") => find::<SealConfig>(v),
        ("inspection", "electrode") => find::<ElectrodeConfig>(v),
        _ => None,
    }?;
    Some((format!("{section}.{key}"), problem))
}

/// serde_json appends " at line L column C"; the key path already says where.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}
