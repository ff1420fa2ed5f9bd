//! Structured logs: one JSON object per line on stdout, in the shape Cloud Logging reads
//! (`severity`, `message`, then flat fields).
//!
//! Written by hand rather than through a logging framework: the relay logs one line per
//! request and a few lifecycle events, so a small formatter is all it needs, and it keeps
//! the binary small.
//!
//! The lines go to stdout through [`shopgen_process::stdout_lines`]. Lifecycle and
//! error lines ([`Line::emit`]) are written at once. Access lines
//! ([`Line::emit_batched`]) are batched while the server runs: under load one `write`
//! carries the lines of many requests, and when idle a line is written as soon as its
//! request is done.

use std::fmt::Write as _;

use shopgen_process::stdout_lines;

/// How serious a log line is (Cloud Logging's `severity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Normal operation.
    Info,
    /// Something the operator may want to look at (an upstream failure).
    Warning,
    /// The relay cannot do its job.
    Error,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "INFO",
            Severity::Warning => "WARNING",
            Severity::Error => "ERROR",
        }
    }
}

/// A field value.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    /// A JSON string (escaped).
    Str(&'a str),
    /// A JSON integer.
    U64(u64),
    /// A JSON number with three decimals.
    Millis(f64),
}

/// One log line under construction.
#[derive(Debug)]
pub struct Line {
    buf: String,
}

impl Line {
    /// Starts a line with its severity and message.
    pub fn new(severity: Severity, message: &str) -> Self {
        let mut buf = String::with_capacity(256);
        buf.push_str("{\"severity\":\"");
        buf.push_str(severity.as_str());
        buf.push_str("\",\"message\":");
        push_json_str(&mut buf, message);
        Line { buf }
    }

    /// Adds a field.
    pub fn field(mut self, name: &str, value: Value<'_>) -> Self {
        self.buf.push_str(",\"");
        self.buf.push_str(name);
        self.buf.push_str("\":");
        match value {
            Value::Str(s) => push_json_str(&mut self.buf, s),
            Value::U64(n) => push_u64(&mut self.buf, n),
            Value::Millis(ms) => push_millis(&mut self.buf, ms),
        }
        self
    }

    /// Adds a string field.
    pub fn str(self, name: &str, value: &str) -> Self {
        self.field(name, Value::Str(value))
    }

    /// The finished line, without the newline.
    pub fn finish(mut self) -> String {
        self.buf.push('}');
        self.buf
    }

    /// Writes the line to stdout now, after any buffered lines; a failed write (closed
    /// stdout) is ignored.
    pub fn emit(self) {
        stdout_lines::write_urgent(self.finish_line().as_bytes());
    }

    /// Adds the line to the batch of access lines (written at once when the server is
    /// not batching).
    pub fn emit_batched(self) {
        stdout_lines::write_batched(self.finish_line().as_bytes());
    }

    /// The finished line with its newline.
    fn finish_line(self) -> String {
        let mut line = self.finish();
        line.push('\n');
        line
    }
}

/// Appends `n` in decimal (without the formatting machinery: one line per request).
fn push_u64(buf: &mut String, n: u64) {
    let mut digits = [0u8; 20];
    let digits = crate::h1::decimal(n, &mut digits);
    buf.push_str(std::str::from_utf8(digits).unwrap_or("0"));
}

/// Appends `ms` with three decimals.
fn push_millis(buf: &mut String, ms: f64) {
    if !(0.0..1e12).contains(&ms) {
        let _ = write!(buf, "{ms:.3}");
        return;
    }
    // In range, so the conversion is exact enough and cannot overflow.
    let micros = (ms * 1000.0).round() as u64;
    push_u64(buf, micros / 1000);
    let frac = micros % 1000;
    buf.push('.');
    buf.push(char::from(b'0' + (frac / 100) as u8));
    buf.push(char::from(b'0' + (frac / 10 % 10) as u8));
    buf.push(char::from(b'0' + (frac % 10) as u8));
}

/// The bytes [`push_json_str`] escapes: control characters, `"`, backslash and DEL.
static ESCAPED: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table[0x7f] = true;
    table
};

/// Appends `s` as a JSON string literal.
pub fn push_json_str(buf: &mut String, s: &str) {
    if !s.bytes().any(|b| ESCAPED[usize::from(b)]) {
        // Nothing to escape (the common case): one copy.
        buf.push('"');
        buf.push_str(s);
        buf.push('"');
        return;
    }
    buf.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let escape = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            c if (c as u32) < 0x20 || c == '\u{7f}' => "",
            _ => continue,
        };
        buf.push_str(&s[start..i]);
        if escape.is_empty() {
            let _ = write!(buf, "\\u{:04x}", c as u32);
        } else {
            buf.push_str(escape);
        }
        start = i + c.len_utf8();
    }
    buf.push_str(&s[start..]);
    buf.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_json() {
        let line = Line::new(Severity::Warning, "upstream \"down\"")
            .str("path", "/a\\b\n\u{1}")
            .field("status", Value::U64(502))
            .field("upstream_ms", Value::Millis(1.23456))
            .finish();
        assert_eq!(
            line,
            r#"{"severity":"WARNING","message":"upstream \"down\"","path":"/a\\b\n\u0001","status":502,"upstream_ms":1.235}"#
        );
    }

    #[test]
    fn numbers_format_like_the_formatter() {
        for n in [0u64, 7, 10, 99, 100, 12345, u64::MAX] {
            let mut s = String::new();
            push_u64(&mut s, n);
            assert_eq!(s, n.to_string());
        }
        for ms in [
            0.0,
            0.0004,
            0.0006,
            1.0,
            1.2344,
            12.5,
            999.9996,
            123_456.789,
        ] {
            let mut s = String::new();
            push_millis(&mut s, ms);
            assert_eq!(s, format!("{ms:.3}"), "{ms}");
        }
        let mut s = String::new();
        push_millis(&mut s, f64::NAN);
        assert_eq!(s, "NaN");
    }
}
