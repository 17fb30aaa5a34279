use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use cellgate::config::{Provider, RuntimeConfig, StationConfig};
use cellgate::model::integrity;
use cellgate::model::store::ModelStore;
use cellgate::model::{vet, FilePolicy, LoadedModel, ModelError};
use cellgate::runtime::Runtime;
use cellgate::station::Station;

use super::CliError;

pub fn inspect(file: &Path, config: Option<&Path>) -> Result<(), CliError> {
    // With the station's config: its runtime and its file rules (size, signature key); without: the
    // default size limit and no integrity check (there is no key to check a signature with).
    let (rt_cfg, files) = match config {
        Some(c) => {
            let cfg = StationConfig::load(c)?;
            let files = Station::file_policy(&cfg)?;
            (cfg.runtime, files)
        }
        None => (RuntimeConfig::default(), FilePolicy { integrity: None, ..FilePolicy::default() }),
    };
    let rt = Runtime::load(&rt_cfg, None)?.with_file_policy(files);
    let m = LoadedModel::open(&rt, file)?;
    let contract = m.manifest.check_contract(cellgate::inspect::contract(m.manifest.task), m.manifest.graph);
    println!("file      {}", file.display());
    println!("sha256    {}", m.sha256);
    println!(
        "integrity {}",
        match &m.integrity {
            Some(i) => format!(
                "checked with the station's rules: .sha256 sidecar {}, signature {}",
                if i.sha256_sidecar { "matches" } else { "absent" },
                if i.signed { "verified" } else { "absent" }
            ),
            None => "not checked (give --config to check with the station's key)".into(),
        }
    );
    println!("task      {} ({:?} graph)", m.manifest.task, m.manifest.graph);
    println!("model     {}", m.label());
    println!("provider  {} (runtime {})", m.provider, rt.library.display());
    println!(
        "contract  {}",
        match &contract {
            Ok(()) => "ok".to_string(),
            Err(e) => format!("BROKEN: {e}"),
        }
    );
    println!("graph inputs:");
    for t in &m.inputs {
        println!("  {:<22} {:?}{}", t.name, t.shape, if t.is_f32 { " f32" } else { " (not f32)" });
    }
    println!("graph outputs:");
    for t in &m.outputs {
        println!("  {:<22} {:?}{}", t.name, t.shape, if t.is_f32 { " f32" } else { " (not f32)" });
    }
    println!("manifest:");
    let json = serde_json::to_string_pretty(&m.manifest)?;
    println!("{json}");
    contract.map_err(|source| CliError::Model(cellgate::model::ModelError::Manifest { path: file.into(), source }))
}

/// `models vet`: what a station runs in a child process before it loads a file (and a technician can run
/// by hand): builds the file's session on the CPU with one thread and checks its manifest against its
/// graph. Prints `vetted <sha256>` or `refused <reason>` on stdout.
pub fn vet(file: &Path, library: Option<&Path>, max_bytes: u64) -> Result<(), CliError> {
    // A file that makes ONNX Runtime work hard must not slow the line on a 2-core box, and one that makes
    // it allocate without end must be the one the kernel's OOM killer takes (the unit's OOMPolicy=continue
    // keeps the station running then). Both only lower this process's own standing: no privilege needed.
    // SAFETY: nice(2) takes an integer and touches no memory of this process.
    if unsafe { nix::libc::nice(19) } == -1 {
        log::debug!("vetting at normal priority: {}", std::io::Error::last_os_error());
    }
    if let Err(e) = std::fs::write("/proc/self/oom_score_adj", "1000") {
        log::debug!("oom_score_adj: {e}");
    }
    let outcome = (|| -> Result<String, CliError> {
        let cfg = RuntimeConfig { providers: vec![Provider::Cpu], intra_threads: 1, ..RuntimeConfig::default() };
        let rt =
            Runtime::load(&cfg, library)?.with_file_policy(FilePolicy { integrity: None, max_bytes, vetted: None });
        let m = LoadedModel::open(&rt, file)?;
        m.manifest
            .check_contract(cellgate::inspect::contract(m.manifest.task), m.manifest.graph)
            .map_err(|source| ModelError::Manifest { path: file.into(), source })?;
        Ok(m.sha256)
    })();
    match outcome {
        Ok(sha) => {
            println!("{} {sha}", vet::PASSED);
            Ok(())
        }
        Err(e) => {
            println!("{} {e}", vet::REFUSED);
            Err(e)
        }
    }
}

pub fn status(config: &Path) -> Result<(), CliError> {
    let cfg = StationConfig::load_for_model_tools(config)?;
    let dir = cfg.resolve(&cfg.model_updates.state_dir);
    let st = ModelStore::read_status(&dir)
        .ok_or_else(|| CliError::Usage(format!("{}: no model status yet (has the station run?)", dir.display())))?;
    match &st.active {
        Some(a) => println!(
            "active    {} {} ({} graph on {}) since {}\nfile      {}{}\nsha256    {}\nthreshold {}",
            a.name,
            a.version,
            a.graph,
            a.provider,
            a.since,
            a.file.display(),
            if a.file.symlink_metadata().is_ok() { "" } else { " (missing now: the loaded copy runs)" },
            a.sha256,
            a.threshold.map(|t| t.to_string()).unwrap_or_else(|| "not recorded".into())
        ),
        None => println!("active    none"),
    }
    println!("swaps     {}\nrefusals  {}", st.swaps, st.refusals);
    let previous = dir.join("previous");
    println!(
        "rollback  {}",
        if previous.is_dir() { format!("available ({})", previous.display()) } else { "nothing kept yet".into() }
    );
    println!("events (newest last):");
    for e in st.events.iter().rev().take(15).rev() {
        println!("  {}  {:<9} {}  {}", e.time, e.event, e.file.display(), e.detail);
    }
    Ok(())
}

pub fn rollback(config: &Path) -> Result<(), CliError> {
    let cfg = StationConfig::load_for_model_tools(config)?;
    let dir = cfg.resolve(&cfg.model_updates.state_dir);
    let model = cfg.resolve(cfg.inspection.model());
    let restored = ModelStore::rollback(&dir, &model)?;
    for f in &restored {
        println!("restored {}", f.display());
    }
    println!("the running station validates and swaps it in; see `cellgate models status`");
    Ok(())
}

pub fn sign(key: &Path, file: &Path) -> Result<(), CliError> {
    let secret = std::fs::read_to_string(key).map_err(|source| CliError::Io { path: key.to_path_buf(), source })?;
    let sig = integrity::sign_file(file, &secret)?;
    println!("wrote {}", sig.display());
    Ok(())
}

pub fn keygen(out: &Path) -> Result<(), CliError> {
    let mut secret = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut secret))
        .map_err(|source| CliError::Io { path: "/dev/urandom".into(), source })?;
    let secret_hex = integrity::hex(&secret);
    let public = integrity::public_of(&secret_hex)?;
    let with_ext = |ext: &str| {
        let mut s = out.as_os_str().to_os_string();
        s.push(ext);
        std::path::PathBuf::from(s)
    };
    let (sec_path, pub_path) = (with_ext(".secret"), with_ext(".pub"));
    // Never over an existing key: the models it signed would no longer verify with the new one.
    for p in [&sec_path, &pub_path] {
        if p.symlink_metadata().is_ok() {
            return Err(CliError::Usage(format!("{}: exists; not overwritten (remove it first)", p.display())));
        }
    }
    // create_new + mode: the secret is never readable by others, not even between create and chmod.
    let write = |p: &Path, text: String, mode: u32| {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(p)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(|source| CliError::Io { path: p.to_path_buf(), source })
    };
    write(&sec_path, secret_hex + "\n", 0o600)?;
    write(&pub_path, public + "\n", 0o644)?;
    println!("wrote {} (keep it off the station) and {}", sec_path.display(), pub_path.display());
    Ok(())
}
