//! The firmware preprocesses and infers exactly as the Python pipeline that exported the model:
//! the golden probabilities come from ONNX Runtime in Python (scripts/ml/seal_fixtures.py).

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use cellgate::config::{RuntimeConfig, SealConfig};
use cellgate::inspect::seal::SealClassifier;
use cellgate::runtime::Runtime;
use cellgate::sources::replay::ReplaySource;
use cellgate::sources::FrameSource;

const TOL: f32 = 1e-4;

fn classifier(use_split: bool) -> SealClassifier {
    let rt =
        Runtime::load(&RuntimeConfig { providers: vec![cellgate::config::Provider::Cpu], ..Default::default() }, None)
            .expect("ONNX Runtime (run scripts/setup.sh)");
    let src = ReplaySource::open(&common::fixtures().join("seal"), false).expect("fixture set");
    let refs: BTreeMap<String, PathBuf> = src.references.clone();
    let first = refs.keys().next().expect("recipe").clone();
    let cfg = SealConfig {
        model: common::model(),
        use_split,
        threshold: None,
        recipe: first,
        recipes: BTreeMap::new(),
        cavities: 1,
    };
    SealClassifier::load(&rt, &cfg, &common::model(), &refs).expect("seal model loads")
}

fn check(use_split: bool) {
    let golden = common::golden();
    let mut insp = classifier(use_split);
    assert_eq!(insp.identity().graph, if use_split { "split" } else { "full" });
    let mut src = ReplaySource::open(&common::fixtures().join("seal"), false).expect("fixture set");
    let mut frames = Vec::new();
    for (image, _, want) in &golden {
        let f = src.capture(Instant::now()).expect("frame");
        assert_eq!(&f.info.name, image, "fixture order");
        let got = insp.infer(&[&f]).expect("inference")[0];
        for k in 0..2 {
            assert!(
                (got[k] - want[k]).abs() <= TOL,
                "{image} ({}): probs {:?}, golden {:?}",
                if use_split { "split" } else { "full" },
                got,
                want
            );
        }
        frames.push(f);
    }
    // The whole set as one batch (mixed recipes) gives the same scores as one by one.
    let batch = insp.infer(&frames).expect("batched inference");
    for ((image, _, want), got) in golden.iter().zip(&batch) {
        assert!((got[1] - want[1]).abs() <= TOL, "{image} batched: {} vs {}", got[1], want[1]);
    }
}

#[test]
fn full_graph_matches_python_golden() {
    check(false);
}

#[test]
fn encoder_head_with_cached_reference_matches_python_golden() {
    check(true);
}

#[test]
fn fixture_set_covers_ok_and_every_defect() {
    let labels: Vec<String> = std::fs::read_to_string(common::fixtures().join("seal/manifest.jsonl"))
        .expect("manifest")
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            v["defect"].as_str().unwrap_or("ok").to_string()
        })
        .collect();
    for kind in ["ok", "crack", "narrow_width", "foreign_matter", "wrinkle", "contamination"] {
        assert!(labels.iter().any(|l| l == kind), "no {kind} pair in the golden set");
    }
}
