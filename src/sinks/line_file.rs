//! A JSON-lines file written one whole line at a time (the results log, the GPIO timeline).
//!
//! Each line goes out as one `write` of the full line, never through a buffer that could keep half a
//! line for later: on a full disk a buffered writer flushes part of a record, keeps the rest, and joins it
//! to the next record once space is back (a merged line, a torn tail). Here a line that cannot be written
//! whole is cut off again (the file truncated back to its last whole line), so every line in the file is
//! a complete record.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// Where lines go: a file, or a test's writer that fails where the test wants.
pub trait LineTarget: Send {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize>;
    /// Cuts the target back to `len` bytes.
    fn truncate(&mut self, len: u64) -> std::io::Result<()>;
    /// Its length now.
    fn current_len(&self) -> std::io::Result<u64>;
}

impl LineTarget for File {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Write::write(self, buf)
    }

    fn truncate(&mut self, len: u64) -> std::io::Result<()> {
        self.set_len(len)
    }

    fn current_len(&self) -> std::io::Result<u64> {
        Ok(self.metadata()?.len())
    }
}

pub struct LineFile<T: LineTarget = File> {
    target: T,
}

/// How many bytes at the end of a file are searched for the last newline when a file is reopened.
const TAIL_SEARCH: u64 = 1 << 20;

impl LineFile<File> {
    /// Opens for appending (created if absent). A torn last line left by a crash or an older version is
    /// cut off first, so the next record starts on a line of its own.
    pub fn append(path: &Path) -> std::io::Result<Self> {
        let mut file = OpenOptions::new().create(true).read(true).append(true).open(path)?;
        let len = file.metadata()?.len();
        let mut good_len = len;
        if file.metadata()?.is_file() && len > 0 {
            let start = len.saturating_sub(TAIL_SEARCH);
            let mut tail = Vec::with_capacity((len - start) as usize);
            file.seek(SeekFrom::Start(start))?;
            (&mut file).take(len - start).read_to_end(&mut tail)?;
            if tail.last() != Some(&b'\n') {
                // No newline in the window and more before it: a record that long is not ours; keep it.
                if let Some(i) = tail.iter().rposition(|&b| b == b'\n') {
                    good_len = start + i as u64 + 1;
                } else if start == 0 {
                    good_len = 0;
                }
                if good_len != len {
                    log::warn!("{}: cutting off a torn last line ({} bytes)", path.display(), len - good_len);
                    file.set_len(good_len)?;
                }
            }
        }
        Ok(Self { target: file })
    }

    /// Creates (or empties) the file. Appending, like `append`: after a cut-off line the next one must go
    /// at the new end, not at the old offset past it (which would leave a hole of zeros).
    pub fn create(path: &Path) -> std::io::Result<Self> {
        // (std refuses truncate together with append: emptied after the open instead.)
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        if file.metadata()?.is_file() {
            file.set_len(0)?;
        }
        Ok(Self { target: file })
    }
}

impl<T: LineTarget> LineFile<T> {
    pub fn with_target(target: T) -> Self {
        Self { target }
    }

    /// Writes `record` as one JSON line, whole or not at all.
    pub fn write_json(&mut self, record: &impl serde::Serialize) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(record)?;
        line.push(b'\n');
        self.write_line(&line)
    }

    /// Writes one line (ending in a newline), whole or not at all.
    pub fn write_line(&mut self, line: &[u8]) -> std::io::Result<()> {
        let mut done = 0;
        while done < line.len() {
            match self.target.write(&line[done..]) {
                Ok(0) => {
                    return self.cut(done, std::io::Error::new(ErrorKind::WriteZero, "nothing written"));
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return self.cut(done, e),
            }
        }
        Ok(())
    }

    /// After a failed write: takes off what went out of the line, so the next one starts on its own line.
    /// Measured from the file's end now (appends go there), not from a length remembered earlier: the
    /// file may have been rotated (`copytruncate`) or emptied since, and cutting to a stale length would
    /// leave a hole of zeros or take off lines.
    fn cut(&mut self, written: usize, e: std::io::Error) -> std::io::Result<()> {
        if written > 0 {
            let cut =
                self.target.current_len().and_then(|len| self.target.truncate(len.saturating_sub(written as u64)));
            if let Err(t) = cut {
                log::error!("cannot cut off a partly written line: {t}");
            }
        }
        Err(e)
    }

    pub fn target(&self) -> &T {
        &self.target
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A disk with room for `room` more bytes: a write takes what fits, then fails with ENOSPC.
    struct SmallDisk {
        data: Vec<u8>,
        room: usize,
    }

    impl LineTarget for SmallDisk {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.room == 0 {
                return Err(std::io::Error::from_raw_os_error(nix::libc::ENOSPC));
            }
            let n = buf.len().min(self.room);
            self.data.extend_from_slice(&buf[..n]);
            self.room -= n;
            Ok(n)
        }

        fn truncate(&mut self, len: u64) -> std::io::Result<()> {
            let len = len as usize;
            self.room += self.data.len().saturating_sub(len);
            self.data.truncate(len);
            Ok(())
        }

        fn current_len(&self) -> std::io::Result<u64> {
            Ok(self.data.len() as u64)
        }
    }

    #[test]
    fn a_write_that_fails_mid_record_leaves_only_whole_lines() {
        let mut f = LineFile::with_target(SmallDisk { data: Vec::new(), room: 100 });
        let rec = |i: u32| serde_json::json!({ "part": i, "verdict": "ok", "pad": "x".repeat(20) });
        let mut written = Vec::new();
        for i in 0..10 {
            if f.write_json(&rec(i)).is_ok() {
                written.push(i);
            }
            if i == 5 {
                f.target.room += 200; // space freed: later records fit again
            }
        }
        let text = String::from_utf8(f.target().data.clone()).expect("utf-8");
        assert!(text.ends_with('\n'), "no torn tail: {text:?}");
        let parts: Vec<u32> = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("each line is one record")["part"].as_u64())
            .map(|p| p.expect("part") as u32)
            .collect();
        assert_eq!(parts, written, "every record that was reported written is there, once");
        assert!(written.len() < 10, "the test filled the disk");
        assert!(written.contains(&9), "writing resumed after space came back");
    }

    #[test]
    fn after_a_cut_the_next_line_starts_at_the_end_of_a_created_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("gpio.jsonl");
        std::fs::write(&p, b"old content of an earlier run\n").expect("write");
        let mut f = LineFile::create(&p).expect("create");
        f.write_line(b"{\"a\":1}\n").expect("write");
        // Half a line went out, then the disk filled: cut back, as `write_line` does.
        Write::write_all(&mut f.target, b"{\"b\":").expect("partial");
        f.cut(5, std::io::Error::from_raw_os_error(nix::libc::ENOSPC)).expect_err("reported");
        f.write_line(b"{\"c\":3}\n").expect("write");
        assert_eq!(std::fs::read(&p).expect("read"), b"{\"a\":1}\n{\"c\":3}\n", "no hole, no merged line");
    }

    #[test]
    fn a_cut_after_the_file_was_rotated_takes_off_only_the_partial_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("results.jsonl");
        let mut f = LineFile::create(&p).expect("create");
        for i in 0..3 {
            f.write_line(format!("{{\"part\":{i}}}\n").as_bytes()).expect("write");
        }
        // logrotate's copytruncate empties the file under the open handle; one line is written after it.
        std::fs::OpenOptions::new().write(true).open(&p).expect("open").set_len(0).expect("rotate");
        f.write_line(b"{\"part\":3}\n").expect("write");
        Write::write_all(&mut f.target, b"{\"part\":4,").expect("partial");
        f.cut(10, std::io::Error::from_raw_os_error(nix::libc::ENOSPC)).expect_err("reported");
        assert_eq!(std::fs::read(&p).expect("read"), b"{\"part\":3}\n", "no zeros, no lost line");
    }

    #[test]
    fn a_torn_last_line_is_cut_off_on_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("r.jsonl");
        std::fs::write(&p, b"{\"part\":1}\n{\"part\":2,\"ver").expect("write");
        let mut f = LineFile::append(&p).expect("open");
        f.write_json(&serde_json::json!({ "part": 3 })).expect("write");
        assert_eq!(std::fs::read_to_string(&p).expect("read"), "{\"part\":1}\n{\"part\":3}\n");
    }
}
