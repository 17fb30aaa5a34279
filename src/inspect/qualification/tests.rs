use std::collections::BTreeSet;
use std::path::PathBuf;

use super::golden::GoldenSet;
use super::*;
use crate::inspect::decision::Verdict;
use crate::inspect::test_model::TestModel;
use crate::inspect::{Judgement, PartError};

/// A model that answers each golden part from its label: right, always OK, or failing.
fn fake(answer: fn(bool) -> Result<Verdict, ()>) -> TestModel {
    TestModel::new(
        "fake",
        Box::new(move |parts| {
            Ok(parts
                .iter()
                .map(|p| match answer(p.frame.info.label_ng == Some(true)) {
                    Ok(v) => Ok(Judgement::from_score(if v == Verdict::Ng { 0.9 } else { 0.1 }, 0.5)),
                    Err(()) => Err(PartError::MissingResult),
                })
                .collect())
        }),
    )
}

const RIGHT: fn(bool) -> Result<Verdict, ()> = |ng| Ok(if ng { Verdict::Ng } else { Verdict::Ok });
const ALL_OK: fn(bool) -> Result<Verdict, ()> = |_| Ok(Verdict::Ok);
const FAILS: fn(bool) -> Result<Verdict, ()> = |_| Err(());

/// The 12 seal fixtures (2 OK, 10 NG) under `limits`.
fn gate(limits: Limits) -> Gate {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seal");
    let recipes: BTreeSet<String> = ["recipe-a", "recipe-b", "recipe-c", "recipe-d"].map(String::from).into();
    let (set, _) = GoldenSet::open(&dir, false, recipes).expect("fixture set");
    Gate::new(set, limits, false)
}

fn refusal(r: Result<GateFigures, QualificationError>) -> String {
    r.expect_err("refused").to_string()
}

#[test]
fn a_model_that_cannot_judge_the_parts_is_refused_though_every_failure_counts_as_a_reject() {
    // Every failed part counts as rejected: NG recall 100 %, above the minimum. It is refused anyway.
    let g = gate(Limits { min_ng_recall: Some(0.9), ..Limits::default() });
    let e = refusal(g.qualify(&mut fake(FAILS)));
    assert!(e.contains("12 golden part(s) not judged") && e.contains("NG recall 100.00%"), "{e}");
    assert!(g.qualify(&mut fake(RIGHT)).is_ok());
}

#[test]
fn a_regression_against_the_running_model_is_refused_and_only_a_model_that_took_over_is_the_baseline() {
    let g = gate(Limits { max_regression: 0.01, ..Limits::default() });
    // The start: no baseline, no minimum: the perfect model passes and takes over.
    let start = g.begin();
    g.qualify(&mut fake(RIGHT)).expect("passes");
    assert_eq!(g.took_over(start).and_then(|f| f.accuracy), Some(1.0));
    // A worse model is refused against it.
    let t = g.begin();
    let e = refusal(g.qualify(&mut fake(ALL_OK)));
    assert!(e.contains("accuracy 16.67% is 83.33% worse than the running model's 100.00%"), "{e}");
    assert_eq!(g.took_over(t), None, "a refused load takes nothing over");
    // A load abandoned at its deadline that passes later does not become the baseline of the next load.
    let abandoned = g.begin();
    let next = g.begin();
    assert_ne!(abandoned, next);
    assert_eq!(g.took_over(abandoned), None);
    assert_eq!(g.running().and_then(|f| f.accuracy), Some(1.0));
    g.qualify(&mut fake(RIGHT)).expect("passes");
    assert!(g.took_over(next).is_some());
}
