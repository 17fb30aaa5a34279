use std::collections::VecDeque;
use std::sync::Mutex;

use super::*;
use crate::inspect::test_model::TestModel;
use crate::inspect::{InspectError, PartError};
use crate::mailbox;
use crate::sinks::reject_scheduler::{actuator_channel, ActuatorMsg, Stamped};
use crate::sources::{Frame, PixelFormat};

const DELAY: Duration = Duration::from_millis(300);

/// How a batch goes: every part judged OK or NG, the whole batch failing, or its first part given an
/// unusable output.
#[derive(Clone, Copy)]
enum Batch {
    Judged,
    Ng,
    Fails,
    BadFirstPart,
}

/// A model that goes through `batches` in order (then judges every part) and counts the parts it saw.
fn model(name: &str, batches: &[Batch], seen: &Arc<Mutex<usize>>) -> Box<dyn Inspection> {
    let mut batches: VecDeque<Batch> = batches.iter().copied().collect();
    let seen = seen.clone();
    Box::new(TestModel::new(
        name,
        Box::new(move |parts| {
            *seen.lock().unwrap() += parts.len();
            let judged = || Ok(Judgement::from_score(0.1, 0.5));
            match batches.pop_front().unwrap_or(Batch::Judged) {
                Batch::Judged => Ok(parts.iter().map(|_| judged()).collect()),
                Batch::Ng => Ok(parts.iter().map(|_| Ok(Judgement::from_score(0.9, 0.5))).collect()),
                Batch::Fails => Err(InspectError::UnknownRecipe("scripted failure".into())),
                Batch::BadFirstPart => Ok(parts
                    .iter()
                    .enumerate()
                    .map(|(i, _)| if i == 0 { Err(PartError::MissingResult) } else { judged() })
                    .collect()),
            }
        }),
    ))
}

fn part(id: u64, trigger: Instant) -> Part {
    Part { id, trigger, captured: trigger, frame: Frame::still(4, 4, PixelFormat::Gray8, vec![0u8; 16]), xray: None }
}

/// The infer step on `inspection`, fed the `cycles` (sent when the step starts; a cycle sent as `None`
/// hands over `swap` first); returns what it told the actuator, and the registry.
fn run(
    inspection: Box<dyn Inspection>,
    cycles: Vec<Option<Vec<Part>>>,
    mut swap: Option<Box<dyn Inspection>>,
    refill: Option<Refill>,
) -> (Vec<ActuatorMsg>, Arc<StationMetrics>) {
    let (act_tx, act_rx) = actuator_channel(DELAY);
    let (swap_tx, swaps) = crossbeam_channel::unbounded();
    let metrics: Arc<StationMetrics> = Arc::default();
    let infer = Infer {
        inspection,
        act_tx,
        health: Arc::default(),
        metrics: metrics.clone(),
        delay: DELAY,
        swaps,
        teacher: None,
        refill,
    };
    let (tx, rx) = crossbeam_channel::unbounded();
    let step = std::thread::spawn(move || infer.run(rx));
    for cycle in cycles {
        match cycle {
            Some(c) => tx.send(c).unwrap(),
            None => {
                if let Some(inspection) = swap.take() {
                    swap_tx
                        .send(super::super::super::model_swap::Candidate { inspection, seen: Instant::now() })
                        .unwrap();
                }
            }
        }
        // One batch at a time, as a line delivers them.
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(tx);
    step.join().unwrap();
    (drain(&act_rx), metrics)
}

fn drain(rx: &mailbox::Receiver<Stamped>) -> Vec<ActuatorMsg> {
    let mut got = VecDeque::new();
    while rx.recv(None, &mut got) {}
    got.into_iter().map(|(_, m)| m).collect()
}

/// (part, the model that judged it or the error) for each judged message; faults as ("fault", on).
fn outcomes(msgs: &[ActuatorMsg]) -> Vec<String> {
    msgs.iter()
        .map(|m| match m {
            ActuatorMsg::Judged { id, judgement } => match (&judgement.model, &judgement.error) {
                (Some(model), _) => format!("{id}: {}", model.name),
                (None, Some(e)) => format!("{id}: {}{e}", if judgement.shed { "shed: " } else { "" }),
                (None, None) => format!("{id}: ?"),
            },
            ActuatorMsg::Fault { kind, active } => format!("{kind:?} fault {}", if *active { "on" } else { "off" }),
            ActuatorMsg::Register { .. } => "register".into(),
        })
        .collect()
}

#[test]
fn a_part_already_past_its_reject_point_is_shed_not_inferred() {
    let seen = Arc::new(Mutex::new(0));
    let now = Instant::now();
    let cycle = vec![part(1, now - DELAY - Duration::from_millis(1)), part(2, now)];
    let (msgs, metrics) = run(model("m", &[], &seen), vec![Some(cycle)], None, None);
    assert_eq!(outcomes(&msgs), ["1: shed: not inferred: past its reject point", "2: m"]);
    assert_eq!(*seen.lock().unwrap(), 1, "the model saw part 2 only");
    assert_eq!(metrics.snapshot().skipped_past_deadline, 1);
}

#[test]
fn a_failing_model_sets_the_alarm_once_and_a_clean_batch_clears_it() {
    let seen = Arc::new(Mutex::new(0));
    let batches = [Batch::Fails, Batch::Fails, Batch::Judged, Batch::BadFirstPart, Batch::Judged];
    let cycles =
        (1..=5).map(|id| Some(vec![part(id * 10, Instant::now() + DELAY), part(id * 10 + 1, Instant::now() + DELAY)]));
    let (msgs, metrics) = run(model("m", &batches, &seen), cycles.collect(), None, None);
    let got = outcomes(&msgs);
    let want = [
        "Model fault on".to_string(),
        "10: recipe 'scripted failure' has no reference image configured".to_string(),
        "11: recipe 'scripted failure' has no reference image configured".to_string(),
        "20: recipe 'scripted failure' has no reference image configured".to_string(),
        "21: recipe 'scripted failure' has no reference image configured".to_string(),
        "Model fault off".into(),
        "30: m".into(),
        "31: m".into(),
        "Model fault on".into(),
        "40: model fault: it returned fewer results than pairs".into(),
        "41: m".into(),
        "Model fault off".into(),
        "50: m".into(),
        "51: m".into(),
    ];
    assert_eq!(got, want);
    let m = metrics.snapshot();
    assert_eq!((m.batches, m.inference_errors, m.parts_scored), (5, 3, 5));
}

#[test]
fn an_ng_part_carries_its_frame_to_the_archive_and_an_ok_part_does_not() {
    let seen = Arc::new(Mutex::new(0));
    let t = || Instant::now() + DELAY;
    let cycles = vec![Some(vec![part(1, t())]), Some(vec![part(2, t())])];
    let (msgs, _) = run(model("m", &[Batch::Ng, Batch::Judged], &seen), cycles, None, None);
    let frames: Vec<(u64, bool)> = msgs
        .iter()
        .filter_map(|m| match m {
            ActuatorMsg::Judged { id, judgement } => Some((*id, judgement.frame.is_some())),
            _ => None,
        })
        .collect();
    assert_eq!(frames, [(1, true), (2, false)]);
}

#[test]
fn a_replacement_takes_over_between_two_batches() {
    let seen = Arc::new(Mutex::new(0));
    let t = || Instant::now() + DELAY;
    let cycles = vec![Some(vec![part(1, t())]), None, Some(vec![part(2, t()), part(3, t())])];
    let (msgs, metrics) = run(model("old", &[], &seen), cycles, Some(model("new", &[], &seen)), None);
    assert_eq!(outcomes(&msgs), ["1: old", "2: new", "3: new"]);
    assert!(metrics.snapshot().last_takeover_ms < 10_000);
}

#[test]
fn a_flat_out_producer_is_woken_when_the_queue_is_down_to_its_mark() {
    // The capture thread parks while the queue is full; the infer step wakes it when the queue is down
    // to `at` cycles, not only when its own 500 ms nap ends.
    let (woke_tx, woke_rx) = crossbeam_channel::bounded(1);
    let producer = std::thread::spawn(move || {
        let asleep = Instant::now();
        std::thread::park_timeout(Duration::from_millis(500));
        let _ = woke_tx.send(asleep.elapsed());
    });
    let refill = Refill { producer: producer.thread().clone(), at: 0 };
    std::thread::sleep(Duration::from_millis(20));
    let seen = Arc::new(Mutex::new(0));
    run(model("m", &[], &seen), vec![Some(vec![part(1, Instant::now() + DELAY)])], None, Some(refill));
    let slept = woke_rx.recv().unwrap();
    producer.join().unwrap();
    assert!(slept < Duration::from_millis(400), "woken after {slept:?}");
}
