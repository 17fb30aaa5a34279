//! The page's connection threads: kept and reused, not one new thread per request. Twenty pages polling
//! once a second made the station's process create and tear down about 70 threads a second (a clone, a
//! stack mapped and unmapped, each a trip through the kernel's memory map lock that the line's threads
//! share). A thread is started only when every one started so far is busy, so there are never more than
//! the page's connection slots allow, and after the first burst the page starts none.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};

/// One connection's work.
pub type Job = Box<dyn FnOnce() + Send>;

pub struct Workers {
    tx: Sender<Job>,
    rx: Receiver<Job>,
    /// Threads waiting for a job that no job has been sent for yet. Only `run` takes from it, so a
    /// count above zero is a thread that will take the next job sent.
    idle: Arc<AtomicUsize>,
    /// Threads started so far.
    started: usize,
    /// Threads started at most. A job that finds none waiting once all are started is queued for the
    /// next one to finish: a slot freed by a job's end can be taken before its thread counts itself idle.
    limit: usize,
    name: &'static str,
}

impl Workers {
    pub fn new(name: &'static str, limit: usize) -> Self {
        let (tx, rx) = crossbeam_channel::unbounded();
        Workers { tx, rx, idle: Arc::new(AtomicUsize::new(0)), started: 0, limit: limit.max(1), name }
    }

    /// Runs `job` on a waiting thread, or on a new one when none waits. The caller bounds how many jobs
    /// run at once (the page's slots), and so the threads. Dropping `Workers` ends the waiting threads;
    /// busy ones end after their job.
    pub fn run(&mut self, job: Job) -> std::io::Result<()> {
        let waiting = self.idle.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
        if waiting || self.started >= self.limit {
            // Every thread holds a receiver until it ends, and they end only with `Workers`: the send
            // cannot fail.
            return self.tx.send(job).map_err(|_| std::io::Error::other("page workers gone"));
        }
        let (rx, idle) = (self.rx.clone(), self.idle.clone());
        std::thread::Builder::new().name(self.name.into()).spawn(move || {
            job();
            loop {
                idle.fetch_add(1, Ordering::SeqCst);
                match rx.recv() {
                    Ok(job) => job(),
                    Err(_) => return,
                }
            }
        })?;
        self.started += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn requests_one_after_another_reuse_one_thread() {
        let mut w = Workers::new("test-worker", 8);
        let (done, finished) = mpsc::channel();
        for i in 0..50 {
            let done = done.clone();
            w.run(Box::new(move || done.send(i).expect("send"))).expect("run");
            assert_eq!(finished.recv_timeout(Duration::from_secs(5)).expect("job ran"), i);
            // The thread counts itself idle right after its job; wait for it, as a page's next request
            // comes a while after the last answer.
            while w.idle.load(Ordering::SeqCst) == 0 {
                std::thread::yield_now();
            }
        }
        assert_eq!(w.started, 1);
    }

    #[test]
    fn jobs_at_once_get_a_thread_each_and_later_ones_reuse_them() {
        let mut w = Workers::new("test-worker", 8);
        let (release_tx, release) = crossbeam_channel::unbounded::<()>();
        let (done, finished) = mpsc::channel();
        let job = |release: crossbeam_channel::Receiver<()>, done: mpsc::Sender<std::thread::ThreadId>| -> Job {
            Box::new(move || {
                release.recv().expect("released");
                done.send(std::thread::current().id()).expect("send");
            })
        };
        for _ in 0..4 {
            w.run(job(release.clone(), done.clone())).expect("run");
        }
        assert_eq!(w.started, 4, "four jobs blocked at once need four threads");
        for _ in 0..4 {
            release_tx.send(()).expect("release");
        }
        let first: std::collections::HashSet<_> =
            (0..4).map(|_| finished.recv_timeout(Duration::from_secs(5)).expect("job ran")).collect();
        assert_eq!(first.len(), 4);
        while w.idle.load(Ordering::SeqCst) < 4 {
            std::thread::yield_now();
        }
        for _ in 0..4 {
            w.run(job(release.clone(), done.clone())).expect("run");
            release_tx.send(()).expect("release");
        }
        for _ in 0..4 {
            let id = finished.recv_timeout(Duration::from_secs(5)).expect("job ran");
            assert!(first.contains(&id), "a later job ran on a thread of the first four");
        }
        assert_eq!(w.started, 4);
    }

    #[test]
    fn no_more_threads_than_the_limit_a_job_beyond_it_runs_when_one_is_free() {
        let mut w = Workers::new("test-worker", 2);
        let (release_tx, release) = crossbeam_channel::unbounded::<()>();
        let (done, finished) = mpsc::channel();
        for i in 0..3 {
            let (release, done) = (release.clone(), done.clone());
            w.run(Box::new(move || {
                release.recv().expect("released");
                done.send(i).expect("send");
            }))
            .expect("run");
        }
        assert_eq!(w.started, 2, "the third job waits for a thread");
        for _ in 0..3 {
            release_tx.send(()).expect("release");
        }
        let mut ran: Vec<i32> =
            (0..3).map(|_| finished.recv_timeout(Duration::from_secs(5)).expect("job ran")).collect();
        ran.sort_unstable();
        assert_eq!((ran, w.started), (vec![0, 1, 2], 2));
    }

    #[test]
    fn dropping_the_workers_ends_the_waiting_threads() {
        struct Gone(mpsc::Sender<()>);
        impl Drop for Gone {
            fn drop(&mut self) {
                let _ = self.0.send(());
            }
        }
        thread_local!(static AT_EXIT: std::cell::RefCell<Option<Gone>> = const { std::cell::RefCell::new(None) });
        let mut w = Workers::new("test-worker", 8);
        let (gone_tx, gone) = mpsc::channel();
        // Dropped when the worker thread ends (thread-local destructors run at its exit).
        w.run(Box::new(move || AT_EXIT.with(|g| *g.borrow_mut() = Some(Gone(gone_tx))))).expect("run");
        assert!(gone.recv_timeout(Duration::from_millis(300)).is_err(), "the thread waits for the next job");
        drop(w);
        gone.recv_timeout(Duration::from_secs(5)).expect("the waiting thread ended with the workers");
    }
}
