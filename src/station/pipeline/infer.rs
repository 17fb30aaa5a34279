//! Infer: batches of parts through the model in use (a validated replacement takes over between two
//! batches), each part's outcome to the actuator.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};

use super::super::health::{Health, Step};
use super::super::model_swap::Candidate;
use super::super::teach::Teacher;
use super::ms;
use crate::inspect::decision::Verdict;
use crate::inspect::{Inspection, Judgement, PartFrames};
use crate::metrics::StationMetrics;
use crate::part::Part;
use crate::sinks::reject_scheduler::{ActuatorTx, FaultKind};

pub struct Infer {
    pub inspection: Box<dyn Inspection>,
    pub act_tx: ActuatorTx,
    pub health: Arc<Health>,
    pub metrics: Arc<StationMetrics>,
    pub delay: Duration,
    /// Validated, warmed replacement models from the model-swap step.
    pub swaps: Receiver<Candidate>,
    /// A teach takes the next part judged OK against its recipe's reference.
    pub teacher: Option<Arc<Teacher>>,
    pub refill: Option<Refill>,
}

/// A flat-out run's capture thread, woken when the inference queue is down to `at` cycles: one wake-up
/// per several parts instead of one per part.
pub struct Refill {
    pub producer: std::thread::Thread,
    pub at: usize,
}

/// How long a failing model waits for a part before it is tried with its self-test instead.
const IDLE_RETEST: Duration = Duration::from_secs(2);

impl Infer {
    pub fn run(mut self, rx: Receiver<Vec<Part>>) {
        let m = self.metrics.clone();
        let mut model = Arc::new(self.inspection.identity().clone());
        let mut model_fault = false;
        loop {
            let mut cycle = if model_fault {
                // A line that stops on the alarm sends no part to clear it: the model proves itself on
                // its self-test instead (a part that fails again sets the alarm again).
                match rx.recv_timeout(IDLE_RETEST) {
                    Ok(c) => c,
                    Err(RecvTimeoutError::Timeout) => {
                        let passed = {
                            let _busy = self.health.busy(Step::Infer);
                            self.inspection.self_test()
                        };
                        match passed {
                            Ok(()) => {
                                model_fault = false;
                                log::info!("model passes its self-test again while idle; alarm cleared");
                                let _ = self.act_tx.fault(FaultKind::Model, false);
                            }
                            Err(e) => log::debug!("model still failing its self-test: {e}"),
                        }
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            } else {
                match rx.recv() {
                    Ok(c) => c,
                    Err(_) => break,
                }
            };
            if let Some(r) = self.refill.as_ref().filter(|r| rx.len() == r.at) {
                r.producer.unpark();
            }
            // A replacement takes over here, between two batches: no part is judged by two models.
            while let Ok(c) = self.swaps.try_recv() {
                self.inspection = c.inspection;
                model = Arc::new(self.inspection.identity().clone());
                let ms_since = c.seen.elapsed().as_millis() as u64;
                m.last_takeover_ms.store(ms_since, std::sync::atomic::Ordering::Relaxed);
                log::info!(
                    "model {} {} takes over at part {} ({ms_since} ms after the file settled)",
                    model.name,
                    model.version,
                    cycle.first().map(|p| p.id).unwrap_or(0)
                );
            }
            let start = Instant::now();
            // A part already past its reject point was rejected late; inferring it would only delay others.
            cycle.retain(|p| {
                let keep = p.trigger + self.delay > start;
                if !keep {
                    m.inc(&m.skipped_past_deadline);
                    let reason = "not inferred: past its reject point".to_string();
                    let _ = self.act_tx.judged(p.id, p.trigger, Judgement::shed(reason));
                }
                keep
            });
            if cycle.is_empty() {
                continue;
            }
            let result = {
                let _busy = self.health.busy(Step::Infer);
                let frames: Vec<PartFrames<'_>> =
                    cycle.iter().map(|p| PartFrames { frame: &p.frame, xray: p.xray.as_ref() }).collect();
                self.inspection.judge(&frames)
            };
            let done = Instant::now();
            m.inc(&m.batches);
            match result {
                Ok(judged) => {
                    // A model that gives some parts unusable outputs is faulty as much as one that fails
                    // a whole batch: alarm on until a batch comes out clean.
                    let part_fault = judged.iter().find_map(|j| j.as_ref().err().filter(|e| e.is_model_fault()));
                    match (part_fault, model_fault) {
                        (Some(e), false) => {
                            model_fault = true;
                            log::error!("model fault, alarm on, rejecting its parts: {e}");
                            let _ = self.act_tx.fault(FaultKind::Model, true);
                        }
                        (None, true) => {
                            model_fault = false;
                            log::info!("model runs again; alarm cleared");
                            let _ = self.act_tx.fault(FaultKind::Model, false);
                        }
                        _ => {}
                    }
                    for (p, j) in cycle.into_iter().zip(judged) {
                        let mut j = match j {
                            Ok(j) => j,
                            Err(e) => {
                                m.inc(if e.is_model_fault() { &m.inference_errors } else { &m.bad_frames });
                                log::warn!("part {}: rejected: {e}", p.id);
                                let _ = self.act_tx.judged(p.id, p.trigger, Judgement::failed(e.to_string()));
                                continue;
                            }
                        };
                        m.inc(&m.parts_scored);
                        j.latency.capture_ms = ms(p.captured.saturating_duration_since(p.trigger));
                        j.latency.queue_ms = ms(start.saturating_duration_since(p.captured));
                        j.latency.infer_ms = ms(done - start);
                        j.latency.total_ms = ms(done.saturating_duration_since(p.trigger));
                        j.model = Some(model.clone());
                        if let (Verdict::Ok, Some(t)) = (j.verdict, &self.teacher) {
                            t.offer_judged_ok(&p.frame);
                        }
                        j.frame = (j.verdict == Verdict::Ng).then_some(p.frame);
                        let _ = self.act_tx.judged(p.id, p.trigger, j);
                    }
                }
                Err(e) => {
                    m.inc(&m.inference_errors);
                    if !model_fault {
                        model_fault = true;
                        log::error!("model fault, alarm on, rejecting parts: {e}");
                        let _ = self.act_tx.fault(FaultKind::Model, true);
                    }
                    for p in cycle {
                        let _ = self.act_tx.judged(p.id, p.trigger, Judgement::failed(e.to_string()));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
