//! The on-disk spool of part messages: every part is appended here before it is published and leaves
//! only when the broker has acknowledged it, so a part is in the spool or acknowledged, never neither
//! (a crash between the broker's ack and the spool's cut sends that part again: at least once).
//!
//! One file of JSON lines (`line_file`: each line whole or not at all, a torn last line cut off when it is
//! reopened); in memory only each line's place in it. Acknowledged lines at the front are dead bytes: the
//! file is emptied when nothing is left, and rewritten without them when they outweigh the rest. Beyond
//! the size limit the oldest parts are dropped, and counted.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::sinks::line_file::LineFile;

/// Dead bytes at the front that make a rewrite worth it (and more than the live ones).
const COMPACT_AFTER: u64 = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    seq: u64,
    offset: u64,
    /// Without the newline.
    len: u32,
    sent: bool,
    acked: bool,
}

pub struct Spool {
    path: PathBuf,
    out: LineFile,
    read: File,
    entries: VecDeque<Entry>,
    /// Where the file ends (the next line's offset).
    end: u64,
    /// Bytes of the parts waiting (lines with their newlines).
    waiting: u64,
    next_seq: u64,
    limit: u64,
}

/// What `push` did beside keeping the part.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pushed {
    /// Oldest parts dropped to stay under the limit.
    pub dropped: u64,
}

impl Spool {
    /// Opens (or creates) the spool at `path`; parts left by the last run are kept, oldest first.
    pub fn open(path: &Path, limit: u64) -> std::io::Result<Self> {
        let out = LineFile::append(path)?;
        let read = File::open(path)?;
        let mut entries = VecDeque::new();
        let mut offset = 0u64;
        let mut seq = 0u64;
        for line in BufReader::new(&read).split(b'\n') {
            let line = line?;
            let len = line.len() as u64;
            if len > 0 {
                entries.push_back(Entry { seq, offset, len: len as u32, sent: false, acked: false });
                seq += 1;
            }
            offset += len + 1;
        }
        let waiting = entries.iter().map(|e| u64::from(e.len) + 1).sum();
        let mut spool =
            Self { path: path.to_path_buf(), out, read, entries, end: offset, waiting, next_seq: seq, limit };
        spool.trim();
        Ok(spool)
    }

    /// Parts waiting (not yet acknowledged).
    pub fn len(&self) -> usize {
        self.entries.iter().filter(|e| !e.acked).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends one part (a JSON document without newline); drops the oldest beyond the limit.
    pub fn push(&mut self, json: &[u8]) -> std::io::Result<Pushed> {
        let mut line = Vec::with_capacity(json.len() + 1);
        line.extend_from_slice(json);
        line.push(b'\n');
        self.out.write_line(&line)?;
        let seq = self.next_seq;
        self.next_seq += 1;
        self.entries.push_back(Entry { seq, offset: self.end, len: json.len() as u32, sent: false, acked: false });
        self.end += line.len() as u64;
        self.waiting += line.len() as u64;
        Ok(Pushed { dropped: self.trim() })
    }

    /// Drops the oldest parts not on their way while the waiting ones take more than the limit (a part
    /// sent and not yet acknowledged may arrive: it is not counted as dropped; the newest always stays).
    fn trim(&mut self) -> u64 {
        let mut dropped = 0;
        while self.waiting > self.limit {
            let last = self.entries.len().saturating_sub(1);
            let Some(i) = self.entries.iter().position(|e| !e.sent && !e.acked).filter(|&i| i < last) else { break };
            if let Some(e) = self.entries.remove(i) {
                self.waiting -= u64::from(e.len) + 1;
                dropped += 1;
            }
        }
        if dropped > 0 {
            self.reclaim();
        }
        dropped
    }

    /// The next part not yet sent: its sequence number and bytes, marked sent.
    pub fn next_unsent(&mut self) -> std::io::Result<Option<(u64, Vec<u8>)>> {
        let Some(e) = self.entries.iter_mut().find(|e| !e.sent) else { return Ok(None) };
        let mut buf = vec![0u8; e.len as usize];
        self.read.read_exact_at(&mut buf, e.offset)?;
        e.sent = true;
        Ok(Some((e.seq, buf)))
    }

    /// Parts sent and not acknowledged.
    pub fn in_flight(&self) -> usize {
        self.entries.iter().filter(|e| e.sent && !e.acked).count()
    }

    /// The connection is gone: whatever was not acknowledged goes again, in order.
    pub fn unsend(&mut self) {
        for e in self.entries.iter_mut() {
            e.sent = false;
        }
    }

    /// The broker acknowledged part `seq`; false when it was not waiting (acknowledged before).
    pub fn ack(&mut self, seq: u64) -> bool {
        let Some(e) = self.entries.iter_mut().find(|e| e.seq == seq && !e.acked) else { return false };
        e.acked = true;
        self.waiting -= u64::from(e.len) + 1;
        let before = self.entries.len();
        while self.entries.front().is_some_and(|e| e.acked) {
            self.entries.pop_front();
        }
        if self.entries.len() != before {
            self.reclaim();
        }
        true
    }

    /// Empties the file when nothing waits; rewrites it with only the waiting parts when the rest (parts
    /// acknowledged or dropped) is large. A failure is logged and leaves the file as it is (its dead lines
    /// would be sent again after a restart: at least once).
    fn reclaim(&mut self) {
        let dead = self.end - self.waiting;
        let result = if self.waiting == 0 {
            self.entries.clear();
            self.out.target().set_len(0).map(|()| self.end = 0)
        } else if dead > COMPACT_AFTER && dead > self.waiting {
            self.compact()
        } else {
            Ok(())
        };
        if let Err(e) = result {
            log::warn!("{}: cannot reclaim acknowledged parts: {e}", self.path.display());
        }
    }

    /// Rewrites the file with the waiting parts only (beside it, then renamed over it).
    fn compact(&mut self) -> std::io::Result<()> {
        self.entries.retain(|e| !e.acked);
        let tmp = self.path.with_extension("compact");
        let mut live = Vec::with_capacity(self.waiting as usize);
        let mut moved = Vec::with_capacity(self.entries.len());
        for e in &self.entries {
            let start = live.len();
            live.resize(start + e.len as usize, 0);
            self.read.read_exact_at(&mut live[start..], e.offset)?;
            live.push(b'\n');
            moved.push(start as u64);
        }
        std::fs::write(&tmp, &live)?;
        std::fs::rename(&tmp, &self.path)?;
        self.out = LineFile::append(&self.path)?;
        self.read = File::open(&self.path)?;
        for (e, offset) in self.entries.iter_mut().zip(moved) {
            e.offset = offset;
        }
        self.end = live.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(s: &mut Spool) -> Vec<String> {
        let mut out = Vec::new();
        while let Some((seq, b)) = s.next_unsent().expect("read") {
            out.push(String::from_utf8(b).expect("utf8"));
            s.ack(seq);
        }
        out
    }

    #[test]
    fn parts_leave_only_when_acknowledged_and_go_again_after_a_lost_connection() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("spool.jsonl");
        let mut s = Spool::open(&path, 1 << 20).expect("open");
        for i in 0..3 {
            assert_eq!(s.push(format!("{{\"part\":{i}}}").as_bytes()).expect("push"), Pushed::default());
        }
        let (first, _) = s.next_unsent().expect("read").expect("a part");
        let (second, _) = s.next_unsent().expect("read").expect("a part");
        s.ack(second);
        assert_eq!((s.len(), s.in_flight()), (2, 1), "part 0 is still waiting for its ack");
        s.unsend();
        assert_eq!(drain(&mut s), [r#"{"part":0}"#, r#"{"part":2}"#]);
        s.ack(first);
        assert_eq!((s.len(), std::fs::metadata(&path).expect("meta").len()), (0, 0), "emptied when all are acked");
    }

    #[test]
    fn a_reopened_spool_keeps_its_parts_in_order_and_cuts_a_torn_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("spool.jsonl");
        std::fs::write(&path, "{\"part\":1}\n{\"part\":2}\n{\"par").expect("write");
        let mut s = Spool::open(&path, 1 << 20).expect("open");
        assert_eq!(s.len(), 2);
        s.push(b"{\"part\":3}").expect("push");
        assert_eq!(drain(&mut s), [r#"{"part":1}"#, r#"{"part":2}"#, r#"{"part":3}"#]);
    }

    #[test]
    fn beyond_the_limit_the_oldest_are_dropped_and_counted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = Spool::open(&dir.path().join("spool.jsonl"), 25).expect("open");
        let dropped: u64 = (0..5).map(|i| s.push(format!("{{\"part\":{i}}}").as_bytes()).expect("push").dropped).sum();
        // 11 bytes a line: two fit in 25.
        assert_eq!((dropped, s.len()), (3, 2));
        assert_eq!(drain(&mut s), [r#"{"part":3}"#, r#"{"part":4}"#]);
    }

    #[test]
    fn a_part_on_its_way_is_not_dropped_it_may_still_arrive() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = Spool::open(&dir.path().join("spool.jsonl"), 25).expect("open");
        s.push(b"{\"part\":0}").expect("push");
        let (sent, _) = s.next_unsent().expect("read").expect("a part");
        let dropped: u64 = (1..4).map(|i| s.push(format!("{{\"part\":{i}}}").as_bytes()).expect("push").dropped).sum();
        assert_eq!(dropped, 2, "parts 1 and 2, not part 0 on its way");
        assert!(s.ack(sent) && !s.ack(sent));
        assert_eq!(drain(&mut s), [r#"{"part":3}"#]);
    }

    #[test]
    fn a_large_dead_front_is_rewritten_away() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("spool.jsonl");
        let mut s = Spool::open(&path, 64 << 20).expect("open");
        let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(4000));
        for _ in 0..400 {
            s.push(big.as_bytes()).expect("push");
        }
        s.push(b"{\"part\":\"last\"}").expect("push");
        for _ in 0..400 {
            let (seq, _) = s.next_unsent().expect("read").expect("a part");
            s.ack(seq);
        }
        assert!(std::fs::metadata(&path).expect("meta").len() < 1 << 20, "compacted");
        assert_eq!(drain(&mut s), [r#"{"part":"last"}"#]);
    }
}
