//! Streamed bodies in both directions; nothing is buffered.
//!
//! * [`UpstreamBody`]: the client's request body on its way upstream, counted against
//!   the size limit as it streams (the `Content-Length` case is refused before this, in
//!   the proxy). Over the limit it fails with [`BodyTooLarge`], which aborts the upstream
//!   request; the proxy finds that error in the client error's source chain and answers
//!   413. A body that may need a retry is *parked*: it stays in a shared slot until the
//!   upstream connection first polls it, so after a connection failure the proxy can
//!   take it back unread and send it again.
//! * [`ResponseBody`]: what the client receives, either the upstream's body under the
//!   exchange deadline or a small body the relay wrote itself.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use tokio::time::Sleep;

/// The request body passed the size limit while streaming.
#[derive(Debug, thiserror::Error)]
#[error("the request body is larger than {limit} bytes")]
pub struct BodyTooLarge {
    /// The limit that was passed.
    pub limit: u64,
}

/// The upstream response body did not finish before the exchange deadline.
#[derive(Debug, thiserror::Error)]
#[error("the upstream response body did not finish before the deadline")]
pub struct BodyDeadline;

/// Errors of the request body stream.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamBodyError {
    /// Over the limit.
    #[error(transparent)]
    TooLarge(#[from] BodyTooLarge),
    /// The client's connection failed while sending.
    #[error("reading the request body: {0}")]
    Client(#[from] hyper::Error),
}

/// A request body that can be taken back if the upstream never started reading it.
pub type ParkedBody = Arc<Mutex<Option<Incoming>>>;

/// The request body sent upstream.
#[derive(Debug)]
pub enum UpstreamBody {
    /// No body.
    Empty,
    /// The client's body, streamed under the size limit.
    Streamed {
        /// The body, once taken out of `parked`.
        inner: Option<Incoming>,
        /// Where the body waits until first polled (retryable requests only).
        parked: Option<ParkedBody>,
        /// Size hint taken before the body was parked.
        hint: SizeHint,
        /// Bytes seen so far.
        seen: u64,
        /// The limit.
        limit: u64,
    },
}

impl UpstreamBody {
    /// Streams `body` directly.
    pub fn streamed(body: Incoming, limit: u64) -> Self {
        UpstreamBody::Streamed {
            hint: body.size_hint(),
            inner: Some(body),
            parked: None,
            seen: 0,
            limit,
        }
    }

    /// Streams the body waiting in `parked`; `hint` is its size hint.
    pub fn parked(parked: ParkedBody, hint: SizeHint, limit: u64) -> Self {
        UpstreamBody::Streamed {
            inner: None,
            parked: Some(parked),
            hint,
            seen: 0,
            limit,
        }
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = UpstreamBodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let UpstreamBody::Streamed {
            inner,
            parked,
            seen,
            limit,
            ..
        } = self.get_mut()
        else {
            return Poll::Ready(None);
        };
        if inner.is_none()
            && let Some(slot) = parked.take()
        {
            *inner = slot.lock().ok().and_then(|mut b| b.take());
        }
        let Some(body) = inner.as_mut() else {
            return Poll::Ready(None);
        };
        match ready!(Pin::new(body).poll_frame(cx)) {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    *seen += data.len() as u64;
                    if *seen > *limit {
                        *inner = None;
                        return Poll::Ready(Some(Err(BodyTooLarge { limit: *limit }.into())));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(e)) => Poll::Ready(Some(Err(e.into()))),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            UpstreamBody::Empty => true,
            UpstreamBody::Streamed { inner, parked, .. } => {
                parked.is_none() && inner.as_ref().is_none_or(Body::is_end_stream)
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            UpstreamBody::Empty => SizeHint::with_exact(0),
            UpstreamBody::Streamed { hint, .. } => *hint,
        }
    }
}

/// The body the client receives.
#[derive(Debug)]
pub enum ResponseBody {
    /// The upstream's body, cut off at the deadline.
    Upstream {
        /// The upstream body.
        inner: Incoming,
        /// When the exchange's deadline passes.
        deadline: Pin<Box<Sleep>>,
    },
    /// A body the relay wrote (errors, health), or none.
    Local(Option<Bytes>),
}

impl ResponseBody {
    /// A body the relay wrote.
    pub fn local(bytes: impl Into<Bytes>) -> Self {
        ResponseBody::Local(Some(bytes.into()))
    }

    /// No body (HEAD).
    pub fn empty() -> Self {
        ResponseBody::Local(None)
    }
}

/// Errors of the response body stream; either aborts the client connection.
#[derive(Debug, thiserror::Error)]
pub enum ResponseBodyError {
    /// The upstream connection failed mid-body.
    #[error("upstream body: {0}")]
    Upstream(#[from] hyper::Error),
    /// The deadline passed mid-body.
    #[error(transparent)]
    Deadline(#[from] BodyDeadline),
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = ResponseBodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.get_mut() {
            ResponseBody::Local(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            ResponseBody::Upstream { inner, deadline } => match Pin::new(inner).poll_frame(cx) {
                Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
                Poll::Pending => {
                    ready!(deadline.as_mut().poll(cx));
                    Poll::Ready(Some(Err(BodyDeadline.into())))
                }
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ResponseBody::Local(bytes) => bytes.is_none(),
            ResponseBody::Upstream { inner, .. } => inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ResponseBody::Local(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            ResponseBody::Upstream { inner, .. } => inner.size_hint(),
        }
    }
}
