//! The connection's low-level I/O: the re-armed timer its deadlines are checked
//! against, reads into its buffers, the gentle close after an answer, the checks on an
//! idle upstream connection, and the stream the general path takes over.
//!
//! Takes the sockets and buffers of a [`Conn`]; gives reads and writes bounded by
//! deadlines, and nothing else: no HTTP here.

use std::future::{Future, poll_fn};
use std::io;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

use super::{Conn, READ_CHUNK};

/// How long, and how many bytes, a closing connection reads and discards (see
/// [`Conn::linger_close`]).
const LINGER: Duration = Duration::from_millis(500);
const LINGER_BYTES: usize = 1024 * 1024;

/// A timer that is re-armed only when it fires before the deadline being waited for
/// (or when an earlier deadline is waited for).
pub(super) struct Timer {
    sleep: Pin<Box<Sleep>>,
}

impl Timer {
    pub(super) fn new() -> Self {
        Timer {
            sleep: Box::pin(tokio::time::sleep_until(far_future())),
        }
    }

    pub(super) fn poll_expired(&mut self, cx: &mut Context<'_>, deadline: Instant) -> Poll<()> {
        if self.sleep.deadline() > deadline {
            self.sleep.as_mut().reset(deadline);
        }
        loop {
            match self.sleep.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(()) => {
                    if Instant::now() >= deadline {
                        return Poll::Ready(());
                    }
                    self.sleep.as_mut().reset(deadline);
                }
            }
        }
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}

/// Runs `fut` until `deadline`; `None` when the deadline passed first.
pub(super) async fn until<F: Future>(
    timer: &mut Timer,
    deadline: Instant,
    fut: F,
) -> Option<F::Output> {
    let mut fut = pin!(fut);
    poll_fn(|cx| {
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        timer.poll_expired(cx, deadline).map(|()| None)
    })
    .await
}

/// Reads more bytes into `buf` (appending).
pub(super) async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<usize> {
    use tokio::io::AsyncReadExt as _;
    if buf.capacity() - buf.len() < READ_CHUNK / 4 {
        buf.reserve(READ_CHUNK);
    }
    stream.read_buf(buf).await
}

impl Conn {
    /// Closes the client connection without losing the answer just written: a socket
    /// closed with unread input sends a reset, which can destroy the answer before the
    /// client reads it. So: end the sending side, then read and discard what the client
    /// still sends, for a short while.
    pub(super) async fn linger_close(&mut self) {
        let _ = self.client.shutdown().await;
        let until_at = Instant::now() + LINGER;
        let mut discarded = 0usize;
        while discarded < LINGER_BYTES {
            self.buf.clear();
            match until(
                &mut self.client_timer,
                until_at,
                read_more(&mut self.client, &mut self.buf),
            )
            .await
            {
                Some(Ok(n)) if n > 0 => discarded += n,
                _ => return,
            }
        }
    }
}

pub(super) fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// Whether an idle upstream connection has been closed by the upstream (checked
/// before a request that cannot be retried is sent on it).
pub(super) fn closed_while_idle(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    match stream.try_read(&mut byte) {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
        // End of stream, an error, or bytes nobody asked for.
        _ => true,
    }
}

/// A client connection with bytes already read in front of it.
pub(super) struct Rewind {
    prefix: Vec<u8>,
    at: usize,
    inner: TcpStream,
}

impl Rewind {
    pub(super) fn new(prefix: Vec<u8>, inner: TcpStream) -> Self {
        Rewind {
            prefix,
            at: 0,
            inner,
        }
    }
}

impl AsyncRead for Rewind {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.at < this.prefix.len() {
            let n = (this.prefix.len() - this.at).min(buf.remaining());
            buf.put_slice(&this.prefix[this.at..this.at + n]);
            this.at += n;
            if this.at == this.prefix.len() {
                this.prefix = Vec::new();
                this.at = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
