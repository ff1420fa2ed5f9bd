//! HTTP/1.1 message heads and body framing for the relay's own connection path
//! (the `conn` module).
//!
//! Heads are parsed with `httparse` (the parser hyper uses) into byte ranges of the
//! connection's read buffer: nothing is copied or allocated per request, and the
//! relay rewrites the head by copying the ranges it keeps. Each header name is
//! classified once ([`Kind`]), so the rewriting and the framing decisions never compare
//! a name twice.
//!
//! Framing rules (RFC 9112), strict where a lenient reading could let a request be
//! read differently by the relay and the upstream (request smuggling):
//!
//! * a request with both `Content-Length` and `Transfer-Encoding`: refused (400);
//! * `Content-Length` that is not a decimal number, or several that differ: refused;
//!   several equal ones (or a list of equal values) are one length;
//! * `Transfer-Encoding` other than exactly `chunked` on a request: refused;
//! * a folded header line (obs-fold) or any other malformed head: refused;
//! * heads over [`MAX_HEAD_BYTES`] or with more than [`MAX_HEADERS`] fields: 431;
//! * chunked bodies are checked by [`Chunked`] as they pass: hexadecimal sizes without
//!   overflow, extensions and trailers of bounded size, and CRLF (never a bare LF)
//!   after every line, so the relay finds the same end of message as the upstream.
//!
//! Responses: no body after `HEAD`, 1xx, 204 and 304; a final `chunked` coding frames
//! the body (and any `Content-Length` is ignored); otherwise `Content-Length`; otherwise
//! the body runs until the upstream closes the connection.

use std::mem::MaybeUninit;

/// Largest request or response head accepted, in bytes; a larger request head gets 431.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Most header fields in one head (hyper's default too); more gets 431.
pub const MAX_HEADERS: usize = 100;

/// Longest chunk extension or trailer section accepted in a chunked body, in bytes.
pub const MAX_CHUNK_LINE_BYTES: usize = 16 * 1024;

/// A byte range of the buffer a head was parsed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    start: u32,
    end: u32,
}

impl Span {
    fn within(buf: &[u8], part: &[u8]) -> Span {
        let start = part.as_ptr() as usize - buf.as_ptr() as usize;
        // Heads are at most MAX_HEAD_BYTES long, so the offsets fit.
        Span {
            start: start as u32,
            end: (start + part.len()) as u32,
        }
    }

    /// The bytes of this range in `buf` (the buffer the head was parsed from).
    pub fn of<'b>(&self, buf: &'b [u8]) -> &'b [u8] {
        &buf[self.start as usize..self.end as usize]
    }
}

/// What a header field is to the relay, decided once from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `Content-Length`.
    ContentLength,
    /// `Transfer-Encoding`.
    TransferEncoding,
    /// `Connection`.
    Connection,
    /// `Upgrade`.
    Upgrade,
    /// `Keep-Alive`, `TE`, `Trailer`, `Proxy-*`: hop-by-hop by themselves.
    HopByHop,
    /// `Expect`.
    Expect,
    /// `Authorization`.
    Authorization,
    /// `X-Serverless-Authorization`.
    ServerlessAuthorization,
    /// `Host`.
    Host,
    /// `X-Forwarded-For`.
    ForwardedFor,
    /// `X-Forwarded-Proto`.
    ForwardedProto,
    /// `X-Forwarded-Host`.
    ForwardedHost,
    /// `X-Request-Id`.
    RequestId,
    /// `Origin`.
    Origin,
    /// `Date`.
    Date,
    /// One of the identity headers (see [`crate::headers::IDENTITY_HEADERS`]).
    Identity,
    /// Anything else.
    Other,
}

impl Kind {
    /// Classifies a header name (any case).
    pub fn of(name: &[u8]) -> Kind {
        let is = |s: &str| name.eq_ignore_ascii_case(s.as_bytes());
        match name.len() {
            2 if is("te") => Kind::HopByHop,
            4 if is("host") => Kind::Host,
            4 if is("date") => Kind::Date,
            6 if is("origin") => Kind::Origin,
            6 if is("expect") => Kind::Expect,
            7 if is("upgrade") => Kind::Upgrade,
            7 if is("trailer") => Kind::HopByHop,
            10 if is("connection") => Kind::Connection,
            10 if is("keep-alive") => Kind::HopByHop,
            12 if is("x-request-id") => Kind::RequestId,
            13 if is("authorization") => Kind::Authorization,
            14 if is("content-length") => Kind::ContentLength,
            15 if is("x-forwarded-for") => Kind::ForwardedFor,
            16 if is("x-forwarded-host") => Kind::ForwardedHost,
            17 if is("transfer-encoding") => Kind::TransferEncoding,
            17 if is("x-forwarded-proto") => Kind::ForwardedProto,
            26 if is("x-serverless-authorization") => Kind::ServerlessAuthorization,
            n if n > 6 && name[..6].eq_ignore_ascii_case(b"proxy-") => Kind::HopByHop,
            _ if crate::headers::is_identity_header(name) => Kind::Identity,
            _ => Kind::Other,
        }
    }
}

/// One header field of a parsed head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The name, as received.
    pub name: Span,
    /// The value, without surrounding whitespace.
    pub value: Span,
    /// What it is.
    pub kind: Kind,
}

/// The header fields of a head parsed from `buf`, as [`crate::headers::Fields`] reads
/// them (for the rules both HTTP paths share).
#[derive(Debug, Clone, Copy)]
pub struct HeadFields<'b> {
    buf: &'b [u8],
    fields: &'b [Field],
}

impl<'b> HeadFields<'b> {
    /// The fields of a head parsed from `buf` into `fields`.
    pub fn new(buf: &'b [u8], fields: &'b [Field]) -> Self {
        HeadFields { buf, fields }
    }
}

impl crate::headers::Fields for HeadFields<'_> {
    fn values<'s>(&'s self, name: &'s hyper::header::HeaderName) -> impl Iterator<Item = &'s [u8]> {
        let name = name.as_str().as_bytes();
        let kind = Kind::of(name);
        // A kind other than these stands for exactly one name.
        let compare_names = matches!(kind, Kind::Other | Kind::HopByHop | Kind::Identity);
        self.fields
            .iter()
            .filter(move |f| {
                f.kind == kind && (!compare_names || f.name.of(self.buf).eq_ignore_ascii_case(name))
            })
            .map(|f| f.value.of(self.buf))
    }
}

/// How a message body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    None,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the connection closes (responses only).
    Close,
}

/// A request head, parsed from the start of a buffer.
#[derive(Debug, Clone, Copy)]
pub struct RequestHead {
    /// Length of the head in bytes, the blank line included.
    pub len: usize,
    /// The method.
    pub method: Span,
    /// The request target, as received.
    pub target: Span,
    /// 1 for HTTP/1.1, 0 for HTTP/1.0.
    pub minor: u8,
    /// How the body is delimited ([`Framing::None`], `Length` or `Chunked`).
    pub framing: Framing,
    /// `Connection: close`.
    pub close: bool,
    /// `Connection: keep-alive`.
    pub keep_alive: bool,
    /// `Expect: 100-continue`.
    pub expect_continue: bool,
    /// An `Upgrade` header or `Connection: upgrade`.
    pub upgrade: bool,
    /// `Connection` names other headers, which are then hop-by-hop too.
    pub names_headers: bool,
}

/// A response head, parsed from the start of a buffer.
#[derive(Debug, Clone, Copy)]
pub struct ResponseHead {
    /// Length of the head in bytes, the blank line included.
    pub len: usize,
    /// The status code.
    pub status: u16,
    /// The reason phrase.
    pub reason: Span,
    /// How the body is delimited.
    pub framing: Framing,
    /// The upstream connection cannot carry another exchange after this one.
    pub close: bool,
    /// `Connection` names other headers, which are then hop-by-hop too.
    pub names_headers: bool,
    /// The response carries a `Date`.
    pub has_date: bool,
}

/// Why a head cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    /// Not HTTP/1.x, or malformed (folded lines among them).
    #[error("malformed message head")]
    Malformed,
    /// Over [`MAX_HEAD_BYTES`] or [`MAX_HEADERS`].
    #[error("message head too large")]
    TooLarge,
    /// Framing that could be read in more than one way.
    #[error("{0}")]
    Framing(&'static str),
}

type Headers<'b> = [MaybeUninit<httparse::Header<'b>>; MAX_HEADERS];

fn uninit_headers<'b>() -> Headers<'b> {
    [const { MaybeUninit::uninit() }; MAX_HEADERS]
}

fn head_error(e: httparse::Error) -> HeadError {
    match e {
        httparse::Error::TooManyHeaders => HeadError::TooLarge,
        _ => HeadError::Malformed,
    }
}

/// The length of a complete head; `None` while it is still arriving (and may, being
/// under [`MAX_HEAD_BYTES`] so far).
fn head_len(parsed: httparse::Result<usize>, buf: &[u8]) -> Result<Option<usize>, HeadError> {
    match parsed {
        Ok(httparse::Status::Complete(len)) => Ok(Some(len)),
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD_BYTES => Err(HeadError::TooLarge),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(e) => Err(head_error(e)),
    }
}

/// Parses a request head from the start of `buf` into `fields` (cleared first).
/// `Ok(None)`: the head is not complete yet.
pub fn parse_request(
    buf: &[u8],
    fields: &mut Vec<Field>,
) -> Result<Option<RequestHead>, HeadError> {
    fields.clear();
    let mut headers = uninit_headers();
    let mut req = httparse::Request::new(&mut []);
    let parsed = httparse::ParserConfig::default().parse_request_with_uninit_headers(
        &mut req,
        buf,
        &mut headers,
    );
    let Some(len) = head_len(parsed, buf)? else {
        return Ok(None);
    };
    if len > MAX_HEAD_BYTES {
        return Err(HeadError::TooLarge);
    }
    let (Some(method), Some(target), Some(minor)) = (req.method, req.path, req.version) else {
        return Err(HeadError::Malformed);
    };
    let mut head = RequestHead {
        len,
        method: Span::within(buf, method.as_bytes()),
        target: Span::within(buf, target.as_bytes()),
        minor,
        framing: Framing::None,
        close: false,
        keep_alive: false,
        expect_continue: false,
        upgrade: false,
        names_headers: false,
    };
    let mut length: Option<u64> = None;
    let mut codings = Codings::default();
    for h in req.headers.iter() {
        let field = field(buf, h);
        let value = field.value.of(buf);
        match field.kind {
            Kind::ContentLength => {
                let n = content_length(value)
                    .ok_or(HeadError::Framing("the Content-Length is not a number"))?;
                if length.is_some_and(|l| l != n) {
                    return Err(HeadError::Framing(
                        "the request has differing Content-Lengths",
                    ));
                }
                length = Some(n);
            }
            Kind::TransferEncoding => codings.add(value),
            Kind::Connection => {
                for token in tokens(value) {
                    if token.eq_ignore_ascii_case(b"close") {
                        head.close = true;
                    } else if token.eq_ignore_ascii_case(b"keep-alive") {
                        head.keep_alive = true;
                    } else {
                        if token.eq_ignore_ascii_case(b"upgrade") {
                            head.upgrade = true;
                        }
                        head.names_headers = true;
                    }
                }
            }
            Kind::Upgrade => head.upgrade = true,
            Kind::Expect if value.eq_ignore_ascii_case(b"100-continue") => {
                head.expect_continue = true;
            }
            _ => {}
        }
        fields.push(field);
    }
    head.framing = match (codings.seen, length) {
        (true, Some(_)) => {
            return Err(HeadError::Framing(
                "the request has both Content-Length and Transfer-Encoding",
            ));
        }
        (true, None) if codings.only_chunked() => Framing::Chunked,
        (true, None) => {
            return Err(HeadError::Framing(
                "the request's Transfer-Encoding is not `chunked`",
            ));
        }
        (false, Some(0) | None) => Framing::None,
        (false, Some(n)) => Framing::Length(n),
    };
    if head.minor == 0 && head.framing == Framing::Chunked {
        return Err(HeadError::Framing(
            "an HTTP/1.0 request cannot use Transfer-Encoding",
        ));
    }
    Ok(Some(head))
}

/// Parses a response head from the start of `buf` into `fields` (cleared first), for a
/// request that was a `HEAD` when `to_head`. `Ok(None)`: not complete yet.
pub fn parse_response(
    buf: &[u8],
    fields: &mut Vec<Field>,
    to_head: bool,
) -> Result<Option<ResponseHead>, HeadError> {
    fields.clear();
    let mut headers = uninit_headers();
    let mut res = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut res,
        buf,
        &mut headers,
    );
    let Some(len) = head_len(parsed, buf)? else {
        return Ok(None);
    };
    let (Some(status), Some(minor)) = (res.code, res.version) else {
        return Err(HeadError::Malformed);
    };
    let reason = res.reason.unwrap_or("");
    let mut head = ResponseHead {
        len,
        status,
        reason: if reason.is_empty() {
            Span::default()
        } else {
            Span::within(buf, reason.as_bytes())
        },
        framing: Framing::None,
        close: false,
        names_headers: false,
        has_date: false,
    };
    let mut keep_alive = false;
    let mut length: Option<u64> = None;
    let mut codings = Codings::default();
    for h in res.headers.iter() {
        let field = field(buf, h);
        let value = field.value.of(buf);
        match field.kind {
            Kind::ContentLength => {
                let n = content_length(value).ok_or(HeadError::Framing(
                    "the upstream's Content-Length is not a number",
                ))?;
                if length.is_some_and(|l| l != n) {
                    return Err(HeadError::Framing(
                        "the upstream's response has differing Content-Lengths",
                    ));
                }
                length = Some(n);
            }
            Kind::TransferEncoding => codings.add(value),
            Kind::Connection => {
                for token in tokens(value) {
                    if token.eq_ignore_ascii_case(b"close") {
                        head.close = true;
                    } else if token.eq_ignore_ascii_case(b"keep-alive") {
                        keep_alive = true;
                    } else {
                        head.names_headers = true;
                    }
                }
            }
            Kind::Date => head.has_date = true,
            _ => {}
        }
        fields.push(field);
    }
    if minor == 0 && !keep_alive {
        head.close = true;
    }
    head.framing = if to_head || status < 200 || status == 204 || status == 304 {
        Framing::None
    } else if codings.seen {
        if codings.last_chunked {
            Framing::Chunked
        } else {
            Framing::Close
        }
    } else {
        match length {
            Some(0) => Framing::None,
            Some(n) => Framing::Length(n),
            None => Framing::Close,
        }
    };
    if head.framing == Framing::Close {
        head.close = true;
    }
    Ok(Some(head))
}

fn field(buf: &[u8], h: &httparse::Header<'_>) -> Field {
    Field {
        name: Span::within(buf, h.name.as_bytes()),
        value: Span::within(buf, trim(h.value)),
        kind: Kind::of(h.name.as_bytes()),
    }
}

/// The transfer codings of a message.
#[derive(Default)]
struct Codings {
    seen: bool,
    count: usize,
    chunked: usize,
    last_chunked: bool,
}

impl Codings {
    fn add(&mut self, value: &[u8]) {
        self.seen = true;
        for token in tokens(value) {
            self.count += 1;
            self.last_chunked = token.eq_ignore_ascii_case(b"chunked");
            if self.last_chunked {
                self.chunked += 1;
            }
        }
    }

    fn only_chunked(&self) -> bool {
        self.count == 1 && self.chunked == 1
    }
}

/// The comma-separated, trimmed, non-empty elements of a header value.
pub fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|b| *b == b',')
        .map(trim)
        .filter(|t| !t.is_empty())
}

/// `value` without leading and trailing spaces and tabs.
pub fn trim(value: &[u8]) -> &[u8] {
    let start = value
        .iter()
        .position(|b| *b != b' ' && *b != b'\t')
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| *b != b' ' && *b != b'\t')
        .map_or(start, |i| i + 1);
    &value[start..end]
}

/// A `Content-Length` value: digits, or a list of equal digit strings.
fn content_length(value: &[u8]) -> Option<u64> {
    let mut result: Option<u64> = None;
    let mut any = false;
    for part in value.split(|b| *b == b',') {
        let part = trim(part);
        if part.is_empty() || part.len() > 19 || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let n = part.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
        if result.is_some_and(|r| r != n) {
            return None;
        }
        result = Some(n);
        any = true;
    }
    if any { result } else { None }
}

/// Whether `name` is listed in any `Connection` field of the head parsed into `fields`
/// from `buf` (such headers are hop-by-hop).
pub fn named_by_connection(buf: &[u8], fields: &[Field], name: &[u8]) -> bool {
    fields
        .iter()
        .filter(|f| f.kind == Kind::Connection)
        .any(|f| tokens(f.value.of(buf)).any(|t| t.eq_ignore_ascii_case(name)))
}

/// A chunked body is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed chunked body: {0}")]
pub struct ChunkError(pub &'static str);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Size,
    SizeSpace,
    Extension,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    TrailerStart,
    Trailer,
    TrailerLf,
    EndLf,
    Done,
}

/// Finds where a chunked body ends, byte by byte as it passes (the bytes themselves
/// are forwarded unchanged), and counts its data bytes.
#[derive(Debug, Clone)]
pub struct Chunked {
    state: State,
    size: u64,
    digits: u8,
    line: usize,
    data: u64,
}

impl Default for Chunked {
    fn default() -> Self {
        Chunked::new()
    }
}

impl Chunked {
    /// At the start of a body.
    pub fn new() -> Self {
        Chunked {
            state: State::Size,
            size: 0,
            digits: 0,
            line: 0,
            data: 0,
        }
    }

    /// Whether the end of the body (the last chunk and the trailer section) has passed.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Data bytes seen so far (chunk contents, without framing).
    pub fn data_len(&self) -> u64 {
        self.data
    }

    /// Reads the next bytes of the body; returns how many of them belong to it (all of
    /// them unless the end is among them).
    pub fn advance(&mut self, input: &[u8]) -> Result<usize, ChunkError> {
        if self.state == State::Done {
            return Ok(0);
        }
        let mut i = 0;
        while i < input.len() {
            if self.state == State::Data {
                let take = usize::try_from(self.size)
                    .unwrap_or(usize::MAX)
                    .min(input.len() - i);
                i += take;
                self.size -= take as u64;
                self.data += take as u64;
                if self.size == 0 {
                    self.state = State::DataCr;
                }
                continue;
            }
            let b = input[i];
            i += 1;
            self.state = match self.state {
                State::Size => match b {
                    _ if b.is_ascii_hexdigit() => {
                        if self.digits == 15 {
                            return Err(ChunkError("chunk size too large"));
                        }
                        self.digits += 1;
                        self.size = self.size * 16 + u64::from(hex(b));
                        State::Size
                    }
                    _ if self.digits == 0 => return Err(ChunkError("chunk size expected")),
                    b' ' | b'\t' => State::SizeSpace,
                    b';' => State::Extension,
                    b'\r' => State::SizeLf,
                    _ => return Err(ChunkError("invalid chunk size")),
                },
                State::SizeSpace => match b {
                    b' ' | b'\t' => State::SizeSpace,
                    b';' => State::Extension,
                    b'\r' => State::SizeLf,
                    _ => return Err(ChunkError("invalid chunk size line")),
                },
                State::Extension => match b {
                    b'\r' => State::SizeLf,
                    b'\n' | 0 => return Err(ChunkError("invalid chunk extension")),
                    _ => {
                        self.line += 1;
                        if self.line > MAX_CHUNK_LINE_BYTES {
                            return Err(ChunkError("chunk extensions too long"));
                        }
                        State::Extension
                    }
                },
                State::SizeLf => {
                    if b != b'\n' {
                        return Err(ChunkError("CRLF expected after the chunk size"));
                    }
                    self.digits = 0;
                    self.line = 0;
                    if self.size == 0 {
                        State::TrailerStart
                    } else {
                        State::Data
                    }
                }
                State::Data => State::Data,
                State::DataCr => {
                    if b != b'\r' {
                        return Err(ChunkError("CRLF expected after chunk data"));
                    }
                    State::DataLf
                }
                State::DataLf => {
                    if b != b'\n' {
                        return Err(ChunkError("CRLF expected after chunk data"));
                    }
                    State::Size
                }
                State::TrailerStart => match b {
                    b'\r' => State::EndLf,
                    b'\n' | b' ' | b'\t' | 0 => return Err(ChunkError("invalid trailer")),
                    _ => self.trailer_byte()?,
                },
                State::Trailer => match b {
                    b'\r' => State::TrailerLf,
                    b'\n' | 0 => return Err(ChunkError("invalid trailer")),
                    _ => self.trailer_byte()?,
                },
                State::TrailerLf => {
                    if b != b'\n' {
                        return Err(ChunkError("CRLF expected after a trailer"));
                    }
                    State::TrailerStart
                }
                State::EndLf => {
                    if b != b'\n' {
                        return Err(ChunkError("CRLF expected at the end of the body"));
                    }
                    return {
                        self.state = State::Done;
                        Ok(i)
                    };
                }
                State::Done => return Ok(i - 1),
            };
        }
        Ok(i)
    }

    fn trailer_byte(&mut self) -> Result<State, ChunkError> {
        self.line += 1;
        if self.line > MAX_CHUNK_LINE_BYTES {
            return Err(ChunkError("trailer section too long"));
        }
        Ok(State::Trailer)
    }
}

fn hex(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}

/// Appends `n` in decimal.
pub fn push_decimal(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(decimal(n, &mut [0u8; 20]));
}

/// `n` in decimal ASCII digits, written into the end of `digits` (without the
/// formatting machinery: heads and log lines use it on every request).
pub fn decimal(mut n: u64, digits: &mut [u8; 20]) -> &[u8] {
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &digits[at..]
}

/// Appends `n` in lowercase hexadecimal.
pub fn push_hex(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 16];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b"0123456789abcdef"[(n & 15) as usize];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(text: &str) -> Result<Option<RequestHead>, HeadError> {
        parse_request(text.as_bytes(), &mut Vec::new())
    }

    #[test]
    fn request_framing() {
        let h = req("GET /a HTTP/1.1\r\nHost: x\r\n\r\n").unwrap().unwrap();
        assert_eq!(h.framing, Framing::None);
        assert_eq!(h.minor, 1);
        let h = req("POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(h.framing, Framing::Length(5));
        let h = req("POST /a HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 5, 5\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(h.framing, Framing::Length(5));
        let h = req("POST /a HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(h.framing, Framing::Chunked);
        assert!(req("GET /a HTTP/1.1\r\nHost: x\r\n").unwrap().is_none());
    }

    #[test]
    fn ambiguous_requests_are_refused() {
        for bad in [
            "POST /a HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST /a HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            "POST /a HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n",
            "POST /a HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
            "POST /a HTTP/1.1\r\nContent-Length: 0x5\r\n\r\n",
            "POST /a HTTP/1.1\r\nContent-Length:\r\n\r\n",
            "POST /a HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
            "POST /a HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST /a HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n",
            "POST /a HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            assert!(matches!(req(bad), Err(HeadError::Framing(_))), "{bad:?}");
        }
        for bad in [
            "GET /a HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n",
            "GET /a HTTP/1.1\r\nX A: 1\r\n\r\n",
            "GET /a HTTP/2.0\r\n\r\n",
            "GET\r\n\r\n",
        ] {
            assert_eq!(req(bad).unwrap_err(), HeadError::Malformed, "{bad:?}");
        }
    }

    #[test]
    fn head_limits() {
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: 1\r\n")).collect();
        let text = format!("GET /a HTTP/1.1\r\n{many}\r\n");
        assert_eq!(req(&text).unwrap_err(), HeadError::TooLarge);
        let big = format!(
            "GET /a HTTP/1.1\r\nX-Big: {}\r\n",
            "a".repeat(MAX_HEAD_BYTES)
        );
        assert_eq!(req(&big).unwrap_err(), HeadError::TooLarge);
    }

    #[test]
    fn response_framing() {
        let res = |t: &str, head: bool| {
            parse_response(t.as_bytes(), &mut Vec::new(), head)
                .unwrap()
                .unwrap()
        };
        let r = res("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", false);
        assert_eq!((r.framing, r.close), (Framing::Length(3), false));
        let r = res("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", true);
        assert_eq!(r.framing, Framing::None);
        let r = res(
            "HTTP/1.1 304 Not Modified\r\nContent-Length: 3\r\n\r\n",
            false,
        );
        assert_eq!(r.framing, Framing::None);
        let r = res(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            false,
        );
        assert_eq!(r.framing, Framing::Chunked);
        let r = res("HTTP/1.1 200 OK\r\n\r\n", false);
        assert_eq!((r.framing, r.close), (Framing::Close, true));
        let r = res("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", false);
        assert!(r.close);
        let r = res(
            "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n",
            false,
        );
        assert!(r.close);
    }

    fn run(chunks: &[&[u8]]) -> Result<(usize, u64, bool), ChunkError> {
        let mut c = Chunked::new();
        let mut used = 0;
        for part in chunks {
            used += c.advance(part)?;
        }
        Ok((used, c.data_len(), c.is_done()))
    }

    #[test]
    fn chunked_bodies_end_where_they_end() {
        let body = b"5\r\nhello\r\n1;ext=1\r\n!\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        assert_eq!(run(&[body]).unwrap(), (body.len() - 4, 6, true));
        // Split at every position.
        for at in 0..body.len() {
            let (a, b) = body.split_at(at);
            assert_eq!(run(&[a, b]).unwrap(), (body.len() - 4, 6, true), "{at}");
        }
        assert_eq!(run(&[b"0\r\n\r\n"]).unwrap(), (5, 0, true));
        assert_eq!(run(&[b"A\r\n0123"]).unwrap(), (7, 4, false));
    }

    #[test]
    fn malformed_chunks_are_refused() {
        for bad in [
            &b"x\r\n"[..],
            b"5\nhello\r\n",
            b"5\r\nhelloX\r\n",
            b"5\r\nhello\n0\r\n\r\n",
            b"1234567890123456\r\n",
            b"0\r\n\n",
            b"0\r\nX: 1\n\r\n",
            b"0\r\n folded\r\n\r\n",
            b"\r\n",
        ] {
            assert!(run(&[bad]).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn numbers() {
        let mut v = Vec::new();
        push_decimal(&mut v, 0);
        push_decimal(&mut v, 1234);
        push_hex(&mut v, 0);
        push_hex(&mut v, 0x1f2e);
        assert_eq!(
            v,
            b"012340".iter().chain(b"1f2e").copied().collect::<Vec<_>>()
        );
        assert_eq!(trim(b" \ta b\t "), b"a b");
        assert_eq!(
            tokens(b" a, ,b ,").collect::<Vec<_>>(),
            vec![&b"a"[..], b"b"]
        );
    }
}
