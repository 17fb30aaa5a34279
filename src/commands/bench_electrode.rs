//! `cellgate bench` on an electrode station: the whole station against bare ONNX Runtime on the same
//! model and pairs in one run, and each stage of a part on its own (pairing, X-ray warp, preprocess,
//! inference, decode + rules), so the overhead can be traced to where it goes. The bare row does what the
//! station must do to a pair before inference (the warp when one is set, preprocessing of both images),
//! so the overhead is the station's own cost.

use std::time::{Duration, Instant};

use cellgate::config::{InspectionConfig, RecordsConfig, SourceConfig, StationConfig, TriggerConfig};
use cellgate::inspect::electrode::align::Homography;
use cellgate::inspect::electrode::rules;
use cellgate::inspect::electrode::{align_xray, ElectrodeContract, ElectrodeDetector};
use cellgate::inspect::preprocess::Preprocessor;
use cellgate::model::{GraphRole, LoadedModel};
use cellgate::runtime::Runtime;
use cellgate::sources::pairing::{FramePair, PairedSource};
use cellgate::sources::replay::ReplaySource;
use cellgate::station::summary::percentile;
use ort::value::TensorRef;

use super::bench::{
    in_rounds, peak_rss, print_overhead, print_ratio, print_rows, row, run_flat_out, station_row, timed, Measure,
    Options,
};
use super::bench_python::Baseline;
use super::CliError;

pub fn run(base: &StationConfig, opts: &Options) -> Result<(), CliError> {
    let InspectionConfig::Electrode(ecfg) = &base.inspection else {
        return Err(CliError::Usage("not an electrode station".into()));
    };
    let (parts, rounds) = (opts.parts.max(12), opts.rounds.max(1));
    let images = match (opts.images.as_deref(), &base.source) {
        (Some(p), _) => p.to_path_buf(),
        (None, SourceConfig::Coco { path, .. }) => base.resolve(path),
        (None, _) => {
            return Err(CliError::Usage(
                "--images DIR (a COCO folder) is needed: the config's source is cameras".into(),
            ))
        }
    };
    let images = std::path::absolute(&images).map_err(|source| CliError::Io { path: images.clone(), source })?;
    let rt = Runtime::load(&base.runtime, None)?;
    let model_path = base.resolve(&ecfg.model);

    // The pairs as the station captures them.
    let (v, x) = ReplaySource::open_coco(&images, false)?;
    let n_pairs = v.len();
    let mut pairing = PairedSource::new(Box::new(v), Box::new(x), Duration::from_secs(1));
    let mut pairs: Vec<FramePair> = Vec::new();
    let mut pairing_ms = Vec::new();
    for _ in 0..n_pairs {
        let t = Instant::now();
        pairs.push(pairing.capture(Instant::now())?);
        pairing_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let mut model = LoadedModel::load(&rt, &model_path, &ElectrodeContract, GraphRole::Full)?;
    let spec =
        |name: &str| model.manifest.input(name).cloned().ok_or_else(|| CliError::Usage(format!("no '{name}' input")));
    let mut pre_v = Preprocessor::new(&spec("visible")?)?;
    let mut pre_x = Preprocessor::new(&spec("xray")?)?;
    let (h, w) = (pre_v.height as usize, pre_v.width as usize);
    println!(
        "bench: {} on {} ({} intra-op threads), {parts} parts per run, {rounds} rounds, {} distinct pairs from {}",
        model.label(),
        model.provider,
        base.runtime.intra_threads,
        pairs.len(),
        images.display()
    );

    // Stages one by one on the same pairs. Without a homography the station feeds the X-ray as it is.
    let homography = ecfg.homography.map(Homography);
    let align = |p: &FramePair| align_xray(homography.as_ref(), &p.visible, &p.xray);
    let aligned = pairs.iter().map(align).collect::<Result<Vec<_>, _>>()?;
    let warp_ms = match homography {
        Some(_) => timed(parts, |i| align(&pairs[i % pairs.len()]).map(drop).map_err(CliError::from))?,
        None => Vec::new(),
    };
    let (lv, lx) = (pre_v.len(), pre_x.len());
    let mut tensors: Vec<(Vec<f32>, Vec<f32>)> = vec![(vec![0.0; lv], vec![0.0; lx]); pairs.len()];
    let pre_ms = timed(parts, |i| {
        let k = i % pairs.len();
        let (tv, tx) = &mut tensors[k];
        pre_v.write(&pairs[k].visible, tv)?;
        pre_x.write(&aligned[k], tx)?;
        Ok(())
    })?;
    // Session::run alone on the prepared tensors, batch 1: the stage figure below.
    let infer_ms = timed(parts, |i| {
        let (tv, tx) = &tensors[i % tensors.len()];
        run_pair(&mut model, (h, w), tv, tx)
    })?;
    // Bare ONNX Runtime as the station needs it: align (warp when set), preprocess both, Session::run, batch 1.
    let (mut tv, mut tx) = (vec![0f32; lv], vec![0f32; lx]);
    let mut bare_run = |i: usize| -> Result<(), CliError> {
        let p = &pairs[i % pairs.len()];
        pre_v.write(&p.visible, &mut tv)?;
        pre_x.write(&align(p)?, &mut tx)?;
        run_pair(&mut model, (h, w), &tv, &tx)
    };
    let mut detector = ElectrodeDetector::load(&rt, &model_path)?;
    if let Some(t) = ecfg.score_threshold {
        detector.set_score_threshold(t);
    }
    let mut raws = Vec::new();
    for (p, x) in pairs.iter().zip(&aligned) {
        raws.push(detector.infer_raw(&[(&p.visible, x)])?);
    }
    let decode_ms = timed(parts, |i| {
        let k = i % raws.len();
        let r = detector.decode(&raws[k].view(), 0, (pairs[k].visible.width, pairs[k].visible.height))?;
        rules::judge(&r, &ecfg.rules, ecfg.pixel_size_mm);
        Ok(())
    })?;
    drop(detector);

    // The station flat out on the same pairs.
    let out = std::env::temp_dir().join(format!("cellgate-bench-{}", std::process::id()));
    let mut cfg = base.clone();
    cfg.source = SourceConfig::Coco { path: images.clone(), r#loop: true };
    cfg.trigger = TriggerConfig::FreeRun { rate_hz: 1000.0 };
    cfg.actuation.delay_ms = 5000;
    cfg.records = RecordsConfig { results: out.join("results.jsonl"), archive: None };
    cfg.model_updates.watch = false;
    cfg.model_updates.state_dir = out.join("models");
    match &mut cfg.gpio {
        cellgate::config::GpioConfig::Chardev(_) => {
            return Err(CliError::Usage("bench the electrode station on a config with simulated GPIO".into()))
        }
        // The bench's outputs are not the station's: nothing goes to the config's timeline file.
        cellgate::config::GpioConfig::Sim { timeline, .. } => *timeline = None,
    }
    let mut measures: Vec<Measure> = vec![
        ("bare ORT: preprocess + Session::run, batch 1", Box::new(|| timed(parts, &mut bare_run).map(|lat| row(&lat)))),
        ("station: pair -> verdict, batch 1", Box::new(|| Ok(station_row(&run_flat_out(&cfg, parts as u64)?, 1)))),
    ];
    if let Some(python) = &opts.python {
        let baseline = Baseline::new(python, "electrode", &model_path, &images, parts, base.runtime.intra_threads);
        measures.push(("python: OpenCV + onnxruntime, batch 1", Box::new(move || baseline.measure())));
    }
    let results = in_rounds(rounds, &mut measures);
    let _ = std::fs::remove_dir_all(&out);
    let results = results?;
    print_rows(&results);
    println!("per stage, ms per part:        p50      p99");
    for (name, lat) in [
        ("pairing (capture both)", &pairing_ms),
        ("x-ray warp", &warp_ms),
        ("preprocess (both inputs)", &pre_ms),
        ("inference (Session::run)", &infer_ms),
        ("decode + rules", &decode_ms),
    ] {
        if lat.is_empty() {
            println!("  {name:<26}  skipped (no homography in the config)");
            continue;
        }
        println!(
            "  {name:<26} {:>8.3} {:>8.3}",
            percentile(lat, 50.0).unwrap_or(f64::NAN),
            percentile(lat, 99.0).unwrap_or(f64::NAN)
        );
    }
    if let [(_, bare), (_, station), rest @ ..] = &results[..] {
        print_overhead("batch 1", bare, station);
        if let [(_, python)] = rest {
            print_ratio("station vs the Python loop", ">= 2x", python, station);
        }
    }
    println!("peak RSS: {}", peak_rss().unwrap_or_else(|| "unknown".into()));
    Ok(())
}

/// One pair's prepared tensors through the model, batch 1.
fn run_pair(model: &mut LoadedModel, (h, w): (usize, usize), visible: &[f32], xray: &[f32]) -> Result<(), CliError> {
    let vis = TensorRef::from_array_view(([1usize, 3, h, w], visible))?;
    let xr = TensorRef::from_array_view(([1usize, 1, h, w], xray))?;
    model.session.run(ort::inputs!["visible" => vis, "xray" => xr])?;
    Ok(())
}
