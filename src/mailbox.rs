//! A queue whose consumer sleeps until a message is due, not until one arrives.
//!
//! On a two-core station ONNX Runtime keeps both cores busy, so every wake-up of another thread
//! displaces one of its threads and a parallel operator then waits for the displaced one. The actuator
//! needs a part's verdict only at the part's reject point and the recorder needs a record only soon, so
//! each sender says when its message is needed and the consumer is woken only when that is sooner than it
//! planned to wake anyway. Nothing here spins or yields: a waiting thread sleeps on a condition variable.
//! (The channel crates, crossbeam's included, wake a waiting receiver on every send and spin before they
//! sleep; the other queues of the station stay on crossbeam.)

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

struct State<T> {
    queue: VecDeque<T>,
    /// The earliest `due` among the queued messages.
    earliest: Option<Instant>,
    /// The consumer is asleep until `wake_at` (`None`: until a message is due).
    asleep: bool,
    wake_at: Option<Instant>,
    senders: usize,
    receiver: bool,
    /// Senders waiting for room in a full queue.
    blocked: usize,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    consumer: Condvar,
    room: Condvar,
    capacity: usize,
}

impl<T> Shared<T> {
    // A panic elsewhere while holding the lock leaves the queue itself consistent (every update is one
    // push or one drain), so a poisoned lock is used as it is.
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A mailbox holding at most `capacity` messages; a sender waits while it is full.
pub fn bounded<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            earliest: None,
            asleep: false,
            wake_at: None,
            senders: 1,
            receiver: true,
            blocked: 0,
        }),
        consumer: Condvar::new(),
        room: Condvar::new(),
        capacity: capacity.max(1),
    });
    (Sender { shared: shared.clone() }, Receiver { shared })
}

/// A mailbox without a bound.
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    bounded(usize::MAX)
}

pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Queues `msg`, needed by the consumer at `due`. Gives the message back if the consumer is gone.
    pub fn send(&self, msg: T, due: Instant) -> Result<(), T> {
        let sh = &self.shared;
        let mut s = sh.lock();
        loop {
            if !s.receiver {
                return Err(msg);
            }
            if s.queue.len() < sh.capacity {
                break;
            }
            // Full: the consumer must drain now, whatever it planned.
            if s.asleep {
                s.asleep = false;
                sh.consumer.notify_one();
            }
            s.blocked += 1;
            s = sh.room.wait(s).unwrap_or_else(PoisonError::into_inner);
            s.blocked -= 1;
        }
        s.queue.push_back(msg);
        s.earliest = Some(s.earliest.map_or(due, |e| e.min(due)));
        let sooner = s.wake_at.is_none_or(|w| due < w);
        if s.asleep && (sooner || s.queue.len() >= sh.capacity) {
            s.asleep = false;
            drop(s);
            sh.consumer.notify_one();
        }
        Ok(())
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.lock().senders += 1;
        Sender { shared: self.shared.clone() }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut s = self.shared.lock();
        s.senders -= 1;
        if s.senders == 0 && s.asleep {
            s.asleep = false;
            drop(s);
            self.shared.consumer.notify_one();
        }
    }
}

pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Receiver<T> {
    /// Sleeps until a queued message is due, `until` passes, the queue is full or every sender is gone;
    /// then moves every queued message, due or not, to the end of `out`. Returns false once every sender
    /// is gone (the messages they left are still moved). Given an empty `out`, the queues are swapped, so
    /// the senders wait for the lock only as long as that takes.
    pub fn recv(&self, until: Option<Instant>, out: &mut VecDeque<T>) -> bool {
        let sh = &self.shared;
        let mut s = sh.lock();
        loop {
            let now = Instant::now();
            let due = s.earliest.is_some_and(|e| e <= now)
                || until.is_some_and(|u| u <= now)
                || s.queue.len() >= sh.capacity
                || s.senders == 0;
            if due {
                if out.is_empty() {
                    std::mem::swap(out, &mut s.queue);
                } else {
                    out.extend(s.queue.drain(..));
                }
                s.earliest = None;
                if s.blocked > 0 {
                    sh.room.notify_all();
                }
                return s.senders > 0;
            }
            let wake = match (until, s.earliest) {
                (Some(u), Some(e)) => Some(u.min(e)),
                (u, e) => u.or(e),
            };
            s.asleep = true;
            s.wake_at = wake;
            s = match wake {
                Some(w) => sh.consumer.wait_timeout(s, w - now).unwrap_or_else(PoisonError::into_inner).0,
                None => sh.consumer.wait(s).unwrap_or_else(PoisonError::into_inner),
            };
            s.asleep = false;
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut s = self.shared.lock();
        s.receiver = false;
        s.queue.clear();
        if s.blocked > 0 {
            self.shared.room.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_message_due_later_is_delivered_at_its_due_time_not_on_arrival() {
        let (tx, rx) = unbounded();
        let t0 = Instant::now();
        tx.send(1, t0 + ms(80)).unwrap();
        tx.send(2, t0 + ms(500)).unwrap();
        let mut got = VecDeque::new();
        assert!(rx.recv(None, &mut got));
        let waited = t0.elapsed();
        assert!(waited >= ms(80), "delivered after {waited:?}, before the first message was due");
        assert!(waited < ms(450), "delivered after {waited:?}: woke for the later message only");
        // Everything queued comes with the due one.
        assert_eq!(got, [1, 2]);
    }

    #[test]
    fn a_message_due_now_wakes_a_consumer_that_planned_to_sleep_long() {
        let (tx, rx) = unbounded::<u32>();
        let sender = std::thread::spawn(move || {
            std::thread::sleep(ms(50));
            // Due later than the consumer's own wake-up: must not wake it.
            tx.send(1, Instant::now() + ms(60_000)).unwrap();
            std::thread::sleep(ms(100));
            tx.send(2, Instant::now()).unwrap();
            tx
        });
        let t0 = Instant::now();
        let mut got = VecDeque::new();
        assert!(rx.recv(Some(t0 + ms(30_000)), &mut got));
        let waited = t0.elapsed();
        assert!(waited >= ms(150), "woke after {waited:?}, before the due message was sent");
        assert!(waited < ms(5_000), "still asleep {waited:?} after a message due now");
        assert_eq!(got, [1, 2]);
        drop(sender.join());
    }

    #[test]
    fn until_bounds_the_sleep_when_nothing_is_due() {
        let (tx, rx) = unbounded::<u32>();
        let t0 = Instant::now();
        let mut got = VecDeque::new();
        assert!(rx.recv(Some(t0 + ms(40)), &mut got));
        assert!(t0.elapsed() >= ms(40));
        assert!(got.is_empty());
        drop(tx);
    }

    #[test]
    fn the_last_sender_gone_ends_the_mailbox_after_its_messages() {
        let (tx, rx) = unbounded();
        let tx2 = tx.clone();
        tx.send(7, Instant::now() + ms(60_000)).unwrap();
        drop(tx);
        let closer = std::thread::spawn(move || {
            std::thread::sleep(ms(50));
            drop(tx2);
        });
        let mut got = VecDeque::new();
        let t0 = Instant::now();
        assert!(!rx.recv(None, &mut got), "open after every sender was dropped");
        assert!(t0.elapsed() < ms(5_000));
        assert_eq!(got, [7]);
        assert!(!rx.recv(None, &mut got));
        closer.join().unwrap();
    }

    #[test]
    fn a_full_mailbox_holds_the_sender_until_the_consumer_drains_it() {
        let (tx, rx) = bounded(2);
        let far = Instant::now() + ms(60_000);
        let producer = std::thread::spawn(move || {
            for i in 0..5 {
                tx.send(i, far).unwrap();
            }
        });
        let mut got = VecDeque::new();
        // Nothing is due: only a full queue makes the consumer drain.
        let mut batch = VecDeque::new();
        while got.len() < 5 {
            let open = rx.recv(None, &mut batch);
            assert!(batch.len() <= 2, "more than the capacity queued at once");
            got.extend(batch.drain(..));
            if !open {
                break;
            }
        }
        producer.join().unwrap();
        assert_eq!(got, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn a_sender_learns_that_the_consumer_is_gone() {
        let (tx, rx) = bounded(1);
        drop(rx);
        assert_eq!(tx.send(3, Instant::now()), Err(3));
    }
}
