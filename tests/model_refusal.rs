//! A model file that is not a valid cellgate model of the right task is refused with the reason.

mod common;

use std::path::Path;

use cellgate::config::{Provider, RuntimeConfig, StationConfig};
use cellgate::inspect::seal::SealContract;
use cellgate::model::{GraphRole, LoadedModel};
use cellgate::runtime::Runtime;
use cellgate::station::{Overrides, Station};
use serde_json::json;

fn rt() -> Runtime {
    Runtime::load(&RuntimeConfig { providers: vec![Provider::Cpu], ..Default::default() }, None).expect("ONNX Runtime")
}

fn refusal(path: &Path, role: GraphRole) -> String {
    match LoadedModel::load(&rt(), path, &SealContract, role) {
        Ok(_) => panic!("{} was accepted", path.display()),
        Err(e) => e.to_string(),
    }
}

fn fixture(name: &str) -> std::path::PathBuf {
    common::fixtures().join("models").join(name)
}

#[test]
fn shipped_models_are_accepted() {
    let rt = rt();
    let onnx = common::root().join("onnx");
    for (file, role) in [
        ("seal_classifier.onnx", GraphRole::Full),
        ("seal_classifier.encoder.onnx", GraphRole::Encoder),
        ("seal_classifier.head.onnx", GraphRole::Head),
    ] {
        let m = LoadedModel::load(&rt, &onnx.join(file), &SealContract, role).expect(file);
        assert_eq!(m.provider, Provider::Cpu);
        assert_eq!(m.manifest.labels, ["ok", "ng"]);
    }
}

#[test]
fn garbage_file_is_refused_by_the_runtime() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("garbage.onnx");
    std::fs::write(&p, b"this is not a protobuf, just bytes a technician copied by mistake").expect("write");
    let e = refusal(&p, GraphRole::Full);
    assert!(e.contains("ONNX Runtime refused it"), "{e}");
    assert!(e.contains("garbage.onnx"), "names the file: {e}");
}

#[test]
fn truncated_file_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("half.onnx");
    let bytes = std::fs::read(common::model()).expect("model");
    std::fs::write(&p, &bytes[..bytes.len() / 2]).expect("write");
    assert!(refusal(&p, GraphRole::Full).contains("refused"));
}

#[test]
fn missing_file_is_refused() {
    let e = refusal(Path::new("/nonexistent/model.onnx"), GraphRole::Full);
    assert!(e.contains("cannot read"), "{e}");
}

#[test]
fn model_without_manifest_is_refused() {
    let e = refusal(&fixture("no_manifest.onnx"), GraphRole::Full);
    assert!(e.contains("no 'cellgate.manifest'"), "{e}");
}

#[test]
fn malformed_manifest_is_refused() {
    let e = refusal(&fixture("bad_manifest.onnx"), GraphRole::Full);
    assert!(e.contains("manifest is not valid"), "{e}");
}

#[test]
fn model_of_another_task_is_refused() {
    let e = refusal(&fixture("wrong_task.onnx"), GraphRole::Full);
    assert!(e.contains("task 'electrode_detector'") && e.contains("seal_classifier"), "{e}");
}

#[test]
fn manifest_that_disagrees_with_the_graph_is_refused() {
    let e = refusal(&fixture("graph_mismatch.onnx"), GraphRole::Full);
    assert!(e.contains("manifest and graph disagree"), "{e}");
}

#[test]
fn model_breaking_the_seal_contract_is_refused() {
    let e = refusal(&fixture("seal_contract_broken.onnx"), GraphRole::Full);
    assert!(e.contains("contract"), "{e}");
}

#[test]
fn encoder_is_not_taken_for_the_full_model() {
    let e = refusal(&common::root().join("onnx/seal_classifier.encoder.onnx"), GraphRole::Full);
    assert!(e.contains("graph"), "{e}");
}

#[test]
fn station_does_not_start_on_a_wrong_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = common::write_config(dir.path(), |v| v["inspection"]["model"] = json!(fixture("wrong_task.onnx")));
    let cfg = StationConfig::load(&cfg).expect("config itself is valid");
    let err = match Station::build(cfg, &Overrides::default()) {
        Ok(_) => panic!("station built on a wrong-task model"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("electrode_detector"), "{err}");
}
