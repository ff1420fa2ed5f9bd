//! A server's log lines on stdout, with the lines of concurrent requests written
//! together.
//!
//! A server writes one access line per request. One `write` system call per line costs
//! more, under load, than much of what the request itself does, so while batching is
//! on (from [`start_batching`] to [`stop_batching`]) a line written with
//! [`write_batched`] goes to a process-wide buffer instead, and the [`flusher`] task writes the buffer
//! out once the runtime has run the other ready tasks: under load one `write` carries
//! the lines of many requests, and when idle a line is written as soon as its request
//! is done. The buffer is also written at once when it passes [`FLUSH_BYTES`].
//!
//! A line written with [`write_urgent`] (a warning, an error, a lifecycle event) goes
//! out at once, after the lines already buffered, so stdout keeps the order in which
//! lines were written. Before batching starts and after it stops, every line is
//! written at once. Batching is counted: with several servers in one process (the
//! relay's tests run many), it lasts until the last of them stops it.
//!
//! This module moves bytes only; each server formats its own lines (the backend
//! through `tracing`'s JSON formatter, the relay by hand). A line is passed whole,
//! newline included, in one call.

use std::io::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use tokio::sync::Notify;

/// Buffered lines are written at once past this size.
pub const FLUSH_BYTES: usize = 32 * 1024;

/// The process's stdout and its buffer.
static STDOUT: Lines<Stdout> = Lines::new(Stdout);

/// Writes `line` (newline included) now, after any buffered lines.
pub fn write_urgent(line: &[u8]) {
    STDOUT.write(line, true);
}

/// Adds `line` (newline included) to the buffer the [`flusher`] task writes while
/// batching is on; writes it at once when it is off.
pub fn write_batched(line: &[u8]) {
    STDOUT.write(line, false);
}

/// Writes out the buffered lines now.
pub fn flush() {
    STDOUT.flush();
}

/// Starts batching (once more, if another server of this process has started it);
/// [`flusher`] must run for as long as it lasts.
pub fn start_batching() {
    STDOUT.start_batching();
}

/// Ends one [`start_batching`] and writes out what is buffered; once every start is
/// ended, later lines are written at once. Without a start to end, only writes out.
pub fn stop_batching() {
    STDOUT.stop_batching();
}

/// Runs while batching: whenever lines are buffered, lets the runtime run the other
/// ready tasks (whose requests may add lines), then writes them all at once. Spawn it
/// when batching starts; abort it when batching stops.
pub async fn flusher() {
    STDOUT.flusher().await;
}

/// Where the buffered bytes go: stdout, or in the tests a buffer of their own.
trait Sink {
    /// Writes `bytes` whole; a failure loses them rather than stopping the server.
    fn write_all(&self, bytes: &[u8]);
}

struct Stdout;

impl Sink for Stdout {
    fn write_all(&self, bytes: &[u8]) {
        // A closed or full stdout loses lines rather than stopping the service.
        let _ = std::io::stdout().lock().write_all(bytes);
    }
}

/// A buffer in front of a sink, and the state of its batching.
struct Lines<S> {
    buffer: Mutex<Vec<u8>>,
    pending: Notify,
    /// How many starts of batching are not stopped yet.
    batching: AtomicUsize,
    sink: S,
}

impl<S: Sink> Lines<S> {
    const fn new(sink: S) -> Self {
        Lines {
            buffer: Mutex::new(Vec::new()),
            pending: Notify::const_new(),
            batching: AtomicUsize::new(0),
            sink,
        }
    }

    fn write(&self, line: &[u8], urgent: bool) {
        let mut buffer = self.lock();
        let was_empty = buffer.is_empty();
        buffer.extend_from_slice(line);
        if urgent || buffer.len() >= FLUSH_BYTES || self.batching.load(Ordering::Relaxed) == 0 {
            self.write_out(&mut buffer);
        } else if was_empty {
            self.pending.notify_one();
        }
    }

    fn flush(&self) {
        self.write_out(&mut self.lock());
    }

    fn start_batching(&self) {
        self.batching.fetch_add(1, Ordering::SeqCst);
    }

    fn stop_batching(&self) {
        let _ = self
            .batching
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        self.flush();
    }

    async fn flusher(&self) {
        loop {
            self.pending.notified().await;
            tokio::task::yield_now().await;
            self.flush();
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<u8>> {
        self.buffer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_out(&self, buffer: &mut Vec<u8>) {
        if !buffer.is_empty() {
            self.sink.write_all(buffer);
            buffer.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// A sink that records each write it receives.
    #[derive(Default)]
    struct Recorded(Mutex<Vec<Vec<u8>>>);

    impl Sink for Recorded {
        fn write_all(&self, bytes: &[u8]) {
            self.0.lock().unwrap().push(bytes.to_vec());
        }
    }

    impl Lines<Recorded> {
        /// The writes so far, as text; cleared.
        fn writes(&self) -> Vec<String> {
            std::mem::take(&mut *self.sink.0.lock().unwrap())
                .into_iter()
                .map(|w| String::from_utf8(w).unwrap())
                .collect()
        }
    }

    fn lines() -> Lines<Recorded> {
        Lines::new(Recorded::default())
    }

    #[test]
    fn without_batching_every_line_is_written_at_once() {
        let out = lines();
        out.write(b"a\n", false);
        out.write(b"b\n", true);
        assert_eq!(out.writes(), ["a\n", "b\n"]);

        // After batching stops, too; a stop too many changes nothing.
        out.start_batching();
        out.stop_batching();
        out.stop_batching();
        out.write(b"c\n", false);
        assert_eq!(out.writes(), ["c\n"]);
    }

    #[test]
    fn batching_lasts_until_every_start_is_stopped() {
        let out = lines();
        out.start_batching();
        out.start_batching();
        out.write(b"a\n", false);
        out.stop_batching();
        assert_eq!(out.writes(), ["a\n"], "a stop writes out the buffer");
        out.write(b"b\n", false);
        assert!(out.writes().is_empty(), "the other server still batches");
        out.stop_batching();
        assert_eq!(out.writes(), ["b\n"]);
        out.write(b"c\n", false);
        assert_eq!(out.writes(), ["c\n"]);
    }

    #[test]
    fn an_urgent_line_goes_out_after_the_buffered_ones_in_one_write() {
        let out = lines();
        out.start_batching();
        out.write(b"a\n", false);
        out.write(b"b\n", false);
        assert!(out.writes().is_empty());
        out.write(b"warn\n", true);
        assert_eq!(out.writes(), ["a\nb\nwarn\n"]);
    }

    #[test]
    fn the_buffer_is_written_when_it_passes_flush_bytes() {
        let out = lines();
        out.start_batching();
        let line = [b"x".repeat(99), b"\n".to_vec()].concat();
        let fit = FLUSH_BYTES.div_ceil(line.len()) - 1;
        for _ in 0..fit {
            out.write(&line, false);
        }
        assert!(out.writes().is_empty());
        out.write(&line, false);
        let writes = out.writes();
        assert_eq!(writes.len(), 1);
        assert_eq!(writes[0].len(), (fit + 1) * line.len());
    }

    #[test]
    fn stopping_and_flushing_write_out_the_buffer() {
        let out = lines();
        out.start_batching();
        out.write(b"a\n", false);
        out.flush();
        assert_eq!(out.writes(), ["a\n"]);
        out.flush();
        assert!(out.writes().is_empty(), "nothing buffered, nothing written");
        out.write(b"b\n", false);
        out.stop_batching();
        assert_eq!(out.writes(), ["b\n"]);
    }

    /// The flusher lets the tasks that became ready with it run first (requests whose
    /// answers arrived together), so their lines join the first one in one write.
    #[tokio::test(flavor = "current_thread")]
    async fn the_flusher_writes_the_lines_of_the_ready_tasks_together() {
        let out: &'static Lines<Recorded> = Box::leak(Box::new(lines()));
        out.start_batching();
        let flusher = tokio::spawn(out.flusher());
        let go = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
        let later: Vec<_> = (1..3)
            .map(|i| {
                let go = go.clone();
                tokio::spawn(async move {
                    let _permit = go.acquire().await.unwrap();
                    out.write(format!("{i}\n").as_bytes(), false);
                })
            })
            .collect();
        tokio::task::yield_now().await;
        // The first line wakes the flusher, then the other two tasks become ready:
        // they run before the flusher writes.
        out.write(b"0\n", false);
        go.add_permits(2);
        for task in later {
            task.await.unwrap();
        }
        assert_eq!(written(out).await, ["0\n1\n2\n"]);

        // Idle again: a single line is written without waiting for more.
        out.write(b"3\n", false);
        assert_eq!(written(out).await, ["3\n"]);
        flusher.abort();
    }

    /// The writes once the flusher has made one, letting the runtime run meanwhile.
    async fn written(out: &Lines<Recorded>) -> Vec<String> {
        for _ in 0..100 {
            let writes = out.writes();
            if !writes.is_empty() {
                return writes;
            }
            tokio::task::yield_now().await;
        }
        panic!("the flusher wrote nothing");
    }
}
