//! Capture: one trigger, a frame per cavity (or a visible + X-ray pair), checked for exposure, queued
//! for inference; every part registered with the actuator first, so none is ever lost.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Sender, TrySendError};

use super::super::health::{Health, Step};
use super::super::teach::Teacher;
use super::imagers::Imagers;
use super::ms;
use super::throttle::{held_note, Throttle};
use crate::inspect::active_recipe::ActiveRecipe;
use crate::inspect::plausibility::{FrameChecks, ImplausiblePart};
use crate::inspect::Judgement;
use crate::metrics::StationMetrics;
use crate::part::{Part, PartRecord};
use crate::sinks::reject_scheduler::{ActuatorTx, FaultKind};
use crate::sources::{Frame, FrameInfo, SourceError};
use crate::trigger::{Trigger, TriggerEvent};

pub struct Capture {
    pub source: Imagers,
    pub trigger: Box<dyn Trigger>,
    pub cavities: usize,
    pub epoch: Instant,
    /// The recipe of every frame that names none (a camera's), read once per trigger.
    pub recipe: Arc<ActiveRecipe>,
    pub infer_tx: Sender<Vec<Part>>,
    pub act_tx: ActuatorTx,
    pub health: Arc<Health>,
    pub metrics: Arc<StationMetrics>,
    pub saturate: bool,
    pub max_triggers: Option<u64>,
    /// Exposure checks of every frame before inference (`None`: off).
    pub checks: Option<FrameChecks>,
    /// A `--force` teach takes the next frame whose exposure shows a part.
    pub teacher: Option<Arc<Teacher>>,
}

impl Capture {
    pub fn run(mut self, stop: &AtomicBool) {
        let m = self.metrics.clone();
        let mut next_id = 1u64;
        let mut source_fault = false;
        let mut triggers = 0u64;
        let (mut implausible_log, mut overload_log) = (Throttle::default(), Throttle::default());
        'triggers: loop {
            let t = match self.trigger.wait(stop) {
                TriggerEvent::Part(t) => t,
                TriggerEvent::Stopped => break,
                TriggerEvent::Lost(_) => {
                    // Logged by the trigger; no part can come: alarm on, ready off, watchdog starved.
                    m.inc(&m.trigger_lost);
                    self.health.trigger_lost(true);
                    if self.act_tx.fault(FaultKind::Trigger, true).is_err() {
                        break;
                    }
                    continue;
                }
                TriggerEvent::Back => {
                    self.health.trigger_lost(false);
                    let _ = self.act_tx.fault(FaultKind::Trigger, false);
                    continue;
                }
                TriggerEvent::Idle => {
                    self.look_while_idle();
                    continue;
                }
            };
            if self.max_triggers.is_some_and(|max| triggers >= max) {
                break;
            }
            triggers += 1;
            m.inc(&m.triggers);
            let time = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
            let mut cycle = Vec::with_capacity(self.cavities);
            let active = self.recipe.get();
            for cavity in 0..self.cavities {
                let captured = {
                    let _busy = self.health.busy(Step::Capture);
                    self.source.capture(t).map(|(f, x)| (with_recipe(f, &active), x))
                };
                m.frames_dropped.store(self.source.dropped_frames(), std::sync::atomic::Ordering::Relaxed);
                if matches!(captured, Err(SourceError::Ended)) {
                    break 'triggers;
                }
                let id = next_id;
                next_id += 1;
                let none = FrameInfo::default();
                let (info, recipe) = match &captured {
                    Ok((f, _)) => (&*f.info, f.info.recipe.clone().unwrap_or_else(|| active.clone())),
                    Err(_) => (&none, active.clone()),
                };
                let trigger_ms = ms(t.saturating_duration_since(self.epoch));
                let record = PartRecord::registered(id, cavity, time.clone(), trigger_ms).captured(&recipe, info);
                if self.act_tx.register(t, record).is_err() {
                    // No actuator: nothing could reject this part or any later one. Stop the station.
                    log::error!("actuator thread gone: station stops");
                    break 'triggers;
                }
                match captured {
                    Ok((frame, xray)) => {
                        m.inc(&m.frames_captured);
                        if source_fault {
                            source_fault = false;
                            log::info!("camera back: {}", self.source.describe());
                            let _ = self.act_tx.fault(FaultKind::Source, false);
                        }
                        if let Some(checks) = &mut self.checks {
                            let (verdict, alarm) = checks.check(cavity, &frame, xray.as_ref(), &recipe);
                            // A new look is far from the old reference: that is why it is taught.
                            let exposed = matches!(verdict, Ok(()) | Err(ImplausiblePart::Reference(_)));
                            if let Some(on) = alarm {
                                if on {
                                    log::error!("frames that cannot show a part, several in a row: alarm on");
                                } else {
                                    log::info!("frames plausible again; alarm cleared");
                                }
                                let _ = self.act_tx.fault(FaultKind::Implausible, on);
                            }
                            if let (true, Some(t)) = (exposed, &self.teacher) {
                                t.offer_plausible(&frame);
                            }
                            if let Err(reason) = verdict {
                                m.inc(&m.implausible_frames);
                                if let Some(held) = implausible_log.hit() {
                                    log::warn!("part {id}: rejected unjudged: {reason}{}", held_note(held));
                                }
                                self.fail(id, t, reason.to_string());
                                continue;
                            }
                        }
                        if let (None, Some(t)) = (&self.checks, &self.teacher) {
                            t.offer_plausible(&frame);
                        }
                        cycle.push(Part { id, trigger: t, captured: Instant::now(), frame, xray });
                    }
                    Err(SourceError::BadFrame(reason)) => {
                        m.inc(&m.bad_frames);
                        log::warn!("part {id}: bad frame, rejected: {reason}");
                        self.fail(id, t, format!("bad frame: {reason}"));
                    }
                    Err(e) => {
                        m.inc(&m.capture_errors);
                        if !source_fault {
                            source_fault = true;
                            log::error!("camera fault, alarm on, rejecting parts: {e}");
                        }
                        // Said again for every failed capture: the camera's device watcher also reports
                        // this fault, and its "back" (a device that reopened but gives no frames) must
                        // not leave the alarm off while parts go uninspected.
                        let _ = self.act_tx.fault(FaultKind::Source, true);
                        self.fail(id, t, e.to_string());
                    }
                }
            }
            if cycle.is_empty() {
                continue;
            }
            let sent = if self.saturate { self.send_when_room(cycle, stop) } else { self.infer_tx.try_send(cycle) };
            match sent {
                Ok(()) => {}
                Err(TrySendError::Disconnected(cycle)) => {
                    log::error!("inference thread gone: station stops");
                    for p in cycle {
                        self.fail(p.id, p.trigger, "station stopping: inference thread gone".into());
                    }
                    break;
                }
                Err(TrySendError::Full(cycle)) => {
                    m.inc(&m.overload_drops);
                    if let Some(held) = overload_log.hit() {
                        log::warn!(
                            "inference queue full: {} part(s) rejected unjudged{}",
                            cycle.len(),
                            held_note(held)
                        );
                    }
                    for p in cycle {
                        let reason = "station overloaded: not inspected".to_string();
                        let _ = self.act_tx.judged(p.id, p.trigger, Judgement::shed(reason));
                    }
                }
            }
        }
        // Frames dropped after the last trigger count too.
        m.frames_dropped.store(self.source.dropped_frames(), std::sync::atomic::Ordering::Relaxed);
    }

    /// Back-pressure for flat-out runs: waits for room in the inference queue asleep until the infer
    /// thread has taken half of it (`Refill`), never spinning, which on two cores would take a core from
    /// inference. A stop request ends the wait; the cycle then goes as if the queue were full.
    fn send_when_room(&self, mut cycle: Vec<Part>, stop: &AtomicBool) -> Result<(), TrySendError<Vec<Part>>> {
        loop {
            match self.infer_tx.try_send(cycle) {
                Err(TrySendError::Full(c)) if !stop.load(std::sync::atomic::Ordering::Relaxed) => {
                    cycle = c;
                    std::thread::park_timeout(Duration::from_millis(20));
                }
                sent => return sent,
            }
        }
    }

    /// While the implausible-frame alarm is on and no part comes, a frame of each cavity is taken and
    /// checked: a lens cap taken off clears the alarm on a line that stopped for it. No part is made.
    fn look_while_idle(&mut self) {
        let Some(checks) = self.checks.as_mut().filter(|c| c.alarmed()) else { return };
        if !self.source.live() {
            return;
        }
        for cavity in 0..self.cavities {
            let Ok((frame, xray)) = self.source.capture(Instant::now()) else { return };
            let recipe = frame.info.recipe.clone().unwrap_or_else(|| self.recipe.get());
            if let (_, Some(on)) = checks.check(cavity, &frame, xray.as_ref(), &recipe) {
                if !on {
                    log::info!("frames plausible again between parts; alarm cleared");
                }
                let _ = self.act_tx.fault(FaultKind::Implausible, on);
            }
        }
    }

    fn fail(&self, id: u64, trigger: Instant, reason: String) {
        let _ = self.act_tx.judged(id, trigger, Judgement::failed(reason));
    }
}

/// The frame with the cycle's recipe when its source named none: the inspection judges it against
/// that recipe's reference and the record names the same one.
fn with_recipe(frame: Frame, active: &Arc<str>) -> Frame {
    if frame.info.recipe.is_some() {
        return frame;
    }
    let info = Arc::new(FrameInfo { recipe: Some(active.clone()), ..(*frame.info).clone() });
    frame.with_info(info)
}
