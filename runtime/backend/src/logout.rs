//! Where log lines go: stdout, with the lines of concurrent requests written together.
//!
//! While the server runs, `INFO` and less severe lines (the access log, one line per
//! request) go to a process-wide buffer that the [`flusher`] task writes out once the
//! runtime has run the other ready tasks: under load one `write` carries the lines of
//! many requests instead of one system call per request, and when idle a line is
//! written as soon as its request is done. The buffer is also written at once when it
//! passes [`FLUSH_BYTES`], when a `WARN` or `ERROR` line comes (after the buffered
//! lines, so the order is kept), and at shutdown ([`stop_batching`]). Before the server
//! runs and after it stops, every line is written at once.

use std::io::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Notify;
use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// Buffered lines are written at once past this size.
pub const FLUSH_BYTES: usize = 32 * 1024;

static BUFFER: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static PENDING: Notify = Notify::const_new();
static BATCHING: AtomicBool = AtomicBool::new(false);

/// The `MakeWriter` of the log subscriber.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogOutput;

/// Receives one formatted line (the subscriber writes each line in one call).
#[derive(Debug)]
pub struct LineWriter {
    urgent: bool,
}

impl<'a> MakeWriter<'a> for LogOutput {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> LineWriter {
        LineWriter { urgent: true }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> LineWriter {
        LineWriter {
            urgent: *meta.level() <= Level::WARN,
        }
    }
}

impl std::io::Write for LineWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut buffer = lock();
        let was_empty = buffer.is_empty();
        buffer.extend_from_slice(buf);
        if self.urgent || buffer.len() >= FLUSH_BYTES || !BATCHING.load(Ordering::Relaxed) {
            write_out(&mut buffer);
        } else if was_empty {
            PENDING.notify_one();
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn lock() -> std::sync::MutexGuard<'static, Vec<u8>> {
    BUFFER
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write_out(buffer: &mut Vec<u8>) {
    if !buffer.is_empty() {
        // A closed or full stdout loses lines rather than stopping the service.
        let _ = std::io::stdout().lock().write_all(buffer);
        buffer.clear();
    }
}

/// Writes out the buffered lines now.
pub fn flush() {
    write_out(&mut lock());
}

/// Starts batching; [`flusher`] must run for as long as it lasts.
pub fn start_batching() {
    BATCHING.store(true, Ordering::SeqCst);
}

/// Stops batching and writes out what is buffered; later lines are written at once.
pub fn stop_batching() {
    BATCHING.store(false, Ordering::SeqCst);
    flush();
}

/// Runs while batching: whenever lines are buffered, lets the runtime run the other
/// ready tasks (whose requests may add lines), then writes them all at once.
pub async fn flusher() {
    loop {
        PENDING.notified().await;
        tokio::task::yield_now().await;
        flush();
    }
}
