//! `cellgate bench`: the station against bare ONNX Runtime on the same model and inputs, in one run.
//!
//! Bare runs time the station's own preprocessing of each frame (at the capture size the images have) and
//! `Session::run`, nothing else. Station runs push the same frames through the whole graph (trigger,
//! capture, preprocess, infer, decide, actuate, record) flat out, with backpressure instead of load
//! shedding, and measure parts judged per second from the first trigger to the last verdict. With
//! `--compare-python`, the loop a user would write in Python runs in the same rounds (`bench_python.rs`). Every row is measured once per round and the rounds interleave bare and station
//! runs, so a machine that drifts (other tenants of a VM, clocks) moves both sides of a comparison alike;
//! the overhead is the median of the per-round figures, printed with each round's so the spread shows.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cellgate::config::{GpioConfig, RecordsConfig, SourceConfig, StationConfig, TriggerConfig};
use cellgate::inspect::plausibility::FrameChecks;
use cellgate::inspect::preprocess::Preprocessor;
use cellgate::inspect::reference_similarity::ReferenceCheck;
use cellgate::inspect::seal::{companion, SealContract};
use cellgate::model::{GraphRole, LoadedModel};
use cellgate::runtime::Runtime;
use cellgate::sources::replay::{read_rgb, ReplaySource};
use cellgate::sources::{Frame, FrameSource, PixelFormat};
use cellgate::station::summary::percentile;
use cellgate::station::StationError;
use cellgate::station::{Overrides, RunReport, Station};
use ort::value::TensorRef;

use super::bench_python::Baseline;
use super::CliError;

/// One part's recipe and that recipe's reference tensor (computed once per recipe, as the station does).
struct Prepared<'a> {
    reference: &'a [f32],
    recipe: String,
}

/// What to feed and how long, and the Python interpreter to compare with.
pub struct Options {
    pub images: Option<PathBuf>,
    pub parts: usize,
    pub rounds: usize,
    pub python: Option<PathBuf>,
}

#[derive(Debug)]
pub(super) struct Row {
    pub parts_per_s: f64,
    pub p50: f64,
    pub p99: f64,
    pub note: String,
}

pub fn run(config: &Path, opts: &Options) -> Result<(), CliError> {
    let base = StationConfig::load(config)?;
    let rounds = opts.rounds.max(1);
    let Some(seal_cfg) = base.seal().cloned() else {
        return super::bench_electrode::run(&base, opts);
    };
    let images = match (opts.images.as_deref(), &base.source) {
        (Some(p), _) => p.to_path_buf(),
        (None, SourceConfig::Replay { path, .. }) => base.resolve(path),
        (None, _) => return Err(CliError::Usage("--images is needed: the config's source is a camera".into())),
    };
    let images = std::path::absolute(&images).map_err(|source| CliError::Io { path: images.clone(), source })?;
    let rt = Runtime::load(&base.runtime, None)?;
    let model_path = base.resolve(&seal_cfg.model);
    let parts = opts.parts.max(12);

    // Inputs as the station sees them: each frame with its recipe's reference.
    let mut src = ReplaySource::open(&images, false)?;
    let mut refs: BTreeMap<String, PathBuf> =
        seal_cfg.recipes.iter().map(|(k, r)| (k.clone(), base.resolve(&r.reference))).collect();
    refs.extend(src.references.clone());
    let mut full = LoadedModel::load(&rt, &model_path, &SealContract, GraphRole::Full)?;
    let spec =
        full.manifest.input("image").cloned().ok_or_else(|| CliError::Usage("model has no 'image' input".into()))?;
    let mut pre = Preprocessor::new(&spec)?;
    let mut ref_tensors = BTreeMap::new();
    for (name, p) in &refs {
        let (width, height, data) = read_rgb(p)?;
        let f = Frame::still(width, height, PixelFormat::Rgb8, data);
        let mut t = vec![0f32; pre.len()];
        pre.write(&f, &mut t)?;
        ref_tensors.insert(name.clone(), t);
    }
    let mut prepared = Vec::new();
    let mut frames = Vec::new();
    for _ in 0..src.len() {
        let f = src.capture(Instant::now())?;
        let recipe = f.info.recipe.as_deref().unwrap_or(&seal_cfg.recipe).to_string();
        let reference =
            ref_tensors.get(&recipe).ok_or_else(|| CliError::Usage(format!("no reference for {recipe}")))?;
        prepared.push(Prepared { reference, recipe });
        frames.push(f);
    }
    // The station's one step beside inference that runs on the inference thread.
    let mut scratch = vec![0f32; pre.len()];
    let pre_ms = timed(parts, |i| Ok(pre.write(&frames[i % frames.len()], &mut scratch)?))?;
    // The capture step's checks of each frame (exposure, and the recipe's reference), as the station has them.
    let mut checks = match (FrameChecks::new(&base.plausibility), base.plausibility.min_reference_similarity) {
        (Some(c), Some(min)) => Some(c.with_references(ReferenceCheck::new(min, &refs).map_err(StationError::from)?)),
        (c, _) => c,
    };
    let check_ms = match &mut checks {
        Some(c) => Some(timed(parts, |i| {
            let f = &frames[i % frames.len()];
            let _ = c.check(0, f, None, f.info.recipe.as_deref().unwrap_or(&seal_cfg.recipe));
            Ok(())
        })?),
        None => None,
    };
    let shape = [1usize, pre.channels(), pre.height as usize, pre.width as usize];
    println!(
        "bench: {} on {} ({} intra-op threads), {parts} parts per run, {rounds} rounds, {} distinct images from {}",
        full.label(),
        full.provider,
        base.runtime.intra_threads,
        prepared.len(),
        images.display()
    );

    let mut measures: Vec<Measure> = Vec::new();
    // 1. Bare ONNX Runtime, full pair graph, one pair per run: the naive station.
    let (frames, prepared) = (&frames, &prepared);
    let (mut pre_full, mut image) = (Preprocessor::new(&spec)?, vec![0f32; pre.len()]);
    measures.push((
        "bare ORT: full graph, batch 1",
        Box::new(move || {
            timed(parts, |i| {
                let p = &prepared[i % prepared.len()];
                pre_full.write(&frames[i % frames.len()], &mut image)?;
                let img = TensorRef::from_array_view((shape, &image[..]))?;
                let rf = TensorRef::from_array_view((shape, p.reference))?;
                full.session.run(ort::inputs!["image" => img, "reference" => rf])?;
                Ok(())
            })
            .map(|lat| row(&lat))
        }),
    ));

    // 2. Bare ONNX Runtime, encoder + head with the reference embedding computed once per recipe.
    let (enc_path, head_path) = (companion(&model_path, "encoder"), companion(&model_path, "head"));
    if enc_path.is_file() && head_path.is_file() {
        let mut enc = LoadedModel::load(&rt, &enc_path, &SealContract, GraphRole::Encoder)?;
        let mut head = LoadedModel::load(&rt, &head_path, &SealContract, GraphRole::Head)?;
        let mut ref_emb: BTreeMap<String, (Vec<usize>, Vec<f32>)> = BTreeMap::new();
        for (name, t) in &ref_tensors {
            let img = TensorRef::from_array_view((shape, &t[..]))?;
            let out = enc.session.run(ort::inputs!["image" => img])?;
            let (s, e) = out["embedding"].try_extract_tensor::<f32>()?;
            ref_emb.insert(name.clone(), (s.iter().map(|&d| d as usize).collect(), e.to_vec()));
        }
        let (mut pre_enc, mut image) = (Preprocessor::new(&spec)?, vec![0f32; pre.len()]);
        measures.push((
            "bare ORT: encoder+head, cached reference, batch 1",
            Box::new(move || {
                timed(parts, |i| {
                    let p = &prepared[i % prepared.len()];
                    pre_enc.write(&frames[i % frames.len()], &mut image)?;
                    let img = TensorRef::from_array_view((shape, &image[..]))?;
                    let out = enc.session.run(ort::inputs!["image" => img])?;
                    let (s, e) = out["embedding"].try_extract_tensor::<f32>()?;
                    let dims: Vec<usize> = s.iter().map(|&d| d as usize).collect();
                    let (_, r) =
                        ref_emb.get(&p.recipe).ok_or_else(|| CliError::Usage("no reference embedding".into()))?;
                    let e = TensorRef::from_array_view((dims.clone(), e))?;
                    let r = TensorRef::from_array_view((dims, &r[..]))?;
                    head.session.run(ort::inputs!["embedding" => e, "reference_embedding" => r])?;
                    Ok(())
                })
                .map(|lat| row(&lat))
            }),
        ));
    }

    // 3. The station, flat out, same frames.
    let out_dir = std::env::temp_dir().join(format!("cellgate-bench-{}", std::process::id()));
    std::fs::create_dir_all(&out_dir).map_err(|source| CliError::Io { path: out_dir.clone(), source })?;
    let station_rows = [
        ("station: full graph, batch 1", false, 1usize),
        ("station: encoder+head, batch 1", true, 1),
        ("station: encoder+head, 6 cavities per batch", true, 6),
    ];
    for (name, split, cavities) in station_rows {
        let (base, images, out) = (&base, &images, out_dir.join(format!("{cavities}-{split}")));
        measures.push((
            name,
            Box::new(move || {
                let report = station_run(base, images, split, cavities, parts.div_ceil(cavities) as u64, &out)?;
                Ok(station_row(&report, cavities))
            }),
        ));
    }
    // 4. The loop a user would write in Python, both ways.
    if let Some(python) = &opts.python {
        let threads = base.runtime.intra_threads;
        let baseline = Baseline::new(python, "seal", &model_path, &images, parts, threads);
        let split = Baseline::new(python, "seal", &model_path, &images, parts, threads).split();
        measures.push(("python: OpenCV + onnxruntime, full graph, batch 1", Box::new(move || baseline.measure())));
        measures.push(("python: OpenCV + onnxruntime, encoder+head, batch 1", Box::new(move || split.measure())));
    }
    let results = in_rounds(rounds, &mut measures);
    let _ = std::fs::remove_dir_all(&out_dir);
    let results = results?;

    print_rows(&results);
    let rounds_of = |name: &str| results.iter().find(|(n, _)| n.starts_with(name)).map(|(_, r)| &r[..]);
    if let (Some(bare), Some(st)) = (rounds_of("bare ORT: full graph"), rounds_of("station: full graph")) {
        print_overhead("full graph, batch 1", bare, st);
    }
    if let (Some(bare), Some(st)) = (rounds_of("bare ORT: encoder+head"), rounds_of("station: encoder+head, batch 1")) {
        print_overhead("encoder+head, batch 1", bare, st);
    }
    if let (Some(naive), Some(st)) = (rounds_of("bare ORT: full graph"), rounds_of("station: encoder+head, 6")) {
        print_ratio("reference caching + fixture batching vs naive pair-per-part", ">= 1.5x", naive, st);
    }
    if let Some(st) = rounds_of("station: encoder+head, batch 1") {
        if let Some(py) = rounds_of("python: OpenCV + onnxruntime, full") {
            print_ratio("station encoder+head, batch 1 vs the Python loop on the full graph", ">= 3x", py, st);
        }
        if let Some(py) = rounds_of("python: OpenCV + onnxruntime, encoder+head") {
            print_ratio("station encoder+head, batch 1 vs the Python loop on encoder+head", ">= 3x", py, st);
        }
    }
    let f = &frames[0];
    println!(
        "preprocess ({}x{} {:?} -> {}x{}), per part: p50 {:.3} ms, p99 {:.3} ms (inside the station rows)",
        f.width,
        f.height,
        f.format,
        pre.width,
        pre.height,
        percentile(&pre_ms, 50.0).unwrap_or(f64::NAN),
        percentile(&pre_ms, 99.0).unwrap_or(f64::NAN)
    );
    if let Some(ms) = check_ms {
        println!(
            "frame checks (exposure + reference layout), per part: p50 {:.3} ms, p99 {:.3} ms (inside the station rows)",
            percentile(&ms, 50.0).unwrap_or(f64::NAN),
            percentile(&ms, 99.0).unwrap_or(f64::NAN)
        );
    }
    println!("peak RSS: {}", peak_rss().unwrap_or_else(|| "unknown".into()));
    Ok(())
}

/// One row of the table, measured anew each round.
pub(super) type Measure<'a> = (&'static str, Box<dyn FnMut() -> Result<Row, CliError> + 'a>);

/// Runs each measure once per round, in order, round after round; returns each one's rows.
pub(super) fn in_rounds(rounds: usize, measures: &mut [Measure]) -> Result<Vec<(&'static str, Vec<Row>)>, CliError> {
    let mut out: Vec<(&'static str, Vec<Row>)> = measures.iter().map(|(n, _)| (*n, Vec::new())).collect();
    for _ in 0..rounds {
        for ((_, measure), (_, rows)) in measures.iter_mut().zip(&mut out) {
            rows.push(measure()?);
        }
    }
    Ok(out)
}

/// The station's figures from one flat-out run: per-part rate and batch latency divided by the batch.
pub(super) fn station_row(report: &RunReport, cavities: usize) -> Row {
    let s = &report.summary;
    Row {
        parts_per_s: s.judged_per_s().unwrap_or(0.0),
        p50: s.infer_ms(50.0).unwrap_or(f64::NAN) / cavities as f64,
        p99: s.infer_ms(99.0).unwrap_or(f64::NAN) / cavities as f64,
        note: format!(
            "trigger->verdict p50 {:.2} ms; late {}; batch p50 {:.2} ms",
            s.latency_ms(50.0).unwrap_or(f64::NAN),
            s.late,
            s.infer_ms(50.0).unwrap_or(f64::NAN)
        ),
    }
}

/// `station` against `bare`, round by round (the same round ran both, minutes apart at most), and the median.
pub(super) fn print_overhead(what: &str, bare: &[Row], station: &[Row]) {
    let per_round: Vec<f64> =
        bare.iter().zip(station).map(|(b, s)| 100.0 * (1.0 - s.parts_per_s / b.parts_per_s)).collect();
    let overhead = median_and_rounds(&per_round, |o| format!("{o:+.1}%"));
    println!("station overhead vs bare ORT ({what}): {overhead}; target <= 5%)");
}

/// How many times `over`'s rate `faster` runs, round by round, and the median.
pub(super) fn print_ratio(what: &str, target: &str, over: &[Row], faster: &[Row]) {
    let ratio: Vec<f64> = over.iter().zip(faster).map(|(o, f)| f.parts_per_s / o.parts_per_s).collect();
    println!("{what}: {}; target {target})", median_and_rounds(&ratio, |r| format!("{r:.2}x")));
}

/// `MEDIAN (rounds: R1, R2, ...` with each figure formatted by `fmt`; the caller closes the parenthesis.
fn median_and_rounds(v: &[f64], fmt: impl Fn(f64) -> String) -> String {
    let each: Vec<String> = v.iter().map(|&x| fmt(x)).collect();
    format!("{} (rounds: {}", fmt(percentile(v, 50.0).unwrap_or(f64::NAN)), each.join(", "))
}

pub(super) fn timed(n: usize, mut f: impl FnMut(usize) -> Result<(), CliError>) -> Result<Vec<f64>, CliError> {
    for i in 0..n.min(20) {
        f(i)?; // warm-up: first runs allocate and pick kernels
    }
    let mut lat = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        f(i)?;
        lat.push(t.elapsed().as_secs_f64() * 1e3);
    }
    Ok(lat)
}

/// One line per measure: the round with the median rate, as that round measured it.
pub(super) fn print_rows(results: &[(&'static str, Vec<Row>)]) {
    let w = results.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    println!("{:<w$} {:>9} {:>14} {:>10}", "", "parts/s", "ms/part p50", "p99");
    for (name, rows) in results {
        let mut by_rate: Vec<&Row> = rows.iter().collect();
        by_rate.sort_by(|a, b| a.parts_per_s.total_cmp(&b.parts_per_s));
        if let Some(r) = by_rate.get(by_rate.len() / 2) {
            println!("{:<w$} {:>9.1} {:>14.3} {:>10.3}  {}", name, r.parts_per_s, r.p50, r.p99, r.note);
        }
    }
}

/// A bare-runtime row: one part per timed run.
pub(super) fn row(lat: &[f64]) -> Row {
    let total: f64 = lat.iter().sum();
    Row {
        parts_per_s: lat.len() as f64 / (total / 1e3),
        p50: percentile(lat, 50.0).unwrap_or(f64::NAN),
        p99: percentile(lat, 99.0).unwrap_or(f64::NAN),
        note: String::new(),
    }
}

fn station_run(
    base: &StationConfig,
    images: &Path,
    split: bool,
    cavities: usize,
    triggers: u64,
    out: &Path,
) -> Result<RunReport, CliError> {
    let mut cfg = base.clone();
    cfg.source = SourceConfig::Replay { path: images.to_path_buf(), r#loop: true };
    cfg.trigger = TriggerConfig::FreeRun { rate_hz: 1000.0 };
    cfg.actuation.delay_ms = 1000;
    if let Some(seal) = cfg.seal_mut() {
        seal.use_split = split;
        seal.cavities = cavities;
    }
    cfg.gpio = GpioConfig::Sim {
        timeline: None,
        reject: (0..cavities).map(|i| format!("reject{i}")).collect(),
        alarm: "alarm".into(),
        ready: None,
        markers: Vec::new(),
    };
    cfg.records = RecordsConfig { results: out.join("results.jsonl"), archive: None };
    cfg.model_updates.watch = false;
    cfg.model_updates.state_dir = out.join("models");
    let report = run_flat_out(&cfg, triggers)?;
    std::thread::sleep(Duration::from_millis(50));
    Ok(report)
}

/// The station run flat out for `triggers` triggers, after a short warm-up run (as a station warms its
/// sessions before READY). The trigger never waits, so the bounded inference queue paces the run (the
/// capture thread sleeps until half of it is taken) and the figure is the station's own rate, not the
/// trigger's.
pub(super) fn run_flat_out(cfg: &StationConfig, triggers: u64) -> Result<RunReport, CliError> {
    let ov = Overrides {
        saturate: true,
        max_triggers: Some(triggers),
        rate_hz: Some(f64::INFINITY),
        vet_with: cellgate::model::vet::this_exe(),
        ..Overrides::default()
    };
    let warm = Overrides { max_triggers: Some(5), ..ov.clone() };
    Station::build(cfg.clone(), &warm)?.run(Arc::new(AtomicBool::new(false)))?;
    Ok(Station::build(cfg.clone(), &ov)?.run(Arc::new(AtomicBool::new(false)))?)
}

pub(super) fn peak_rss() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(format!("{:.1} MiB", kb / 1024.0))
}
