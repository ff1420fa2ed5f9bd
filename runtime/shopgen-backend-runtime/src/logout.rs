//! The backend's log lines: the `tracing` subscriber's writer ([`LogOutput`]) and
//! JSON format ([`JsonLines`]), and the access line written by hand ([`access_line`]).
//!
//! The lines go to stdout through [`shopgen_process::stdout_lines`]: while the server
//! runs, `INFO` and less severe lines (the access log, one line per request) are
//! batched, so under load one `write` carries the lines of many requests; `WARN` and
//! `ERROR` lines are written at once (after the buffered lines, so the order is kept).
//! Before the server runs and after it stops, every line is written at once.

use shopgen_process::stdout_lines;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::fmt::format::{Format, Json, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

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
        if self.urgent {
            stdout_lines::write_urgent(buf);
        } else {
            stdout_lines::write_batched(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Adds one access-log line, in the shape the JSON subscriber gives the `request`
/// event inside its `request` span (timestamp, level, message, fields, target, span),
/// written by hand: through the subscriber, formatting the line and its span costs
/// more than answering a cached request.
pub fn access_line(request_id: &str, method: &str, path: &str, status: u16, duration_ms: f64) {
    use std::fmt::Write as _;
    let mut line = String::with_capacity(256);
    line.push_str("{\"timestamp\":\"");
    push_timestamp(&mut line, std::time::SystemTime::now());
    line.push_str("\",\"level\":\"INFO\",\"message\":\"request\",\"method\":");
    push_json_str(&mut line, method);
    line.push_str(",\"path\":");
    push_json_str(&mut line, path);
    line.push_str(",\"status\":");
    push_digits(&mut line, u64::from(status), 1);
    let _ = write!(line, ",\"duration_ms\":{duration_ms}");
    line.push_str(",\"target\":\"shopgen_backend_runtime::server\",\"span\":{\"request_id\":");
    push_json_str(&mut line, request_id);
    line.push_str(",\"name\":\"request\"}}\n");
    stdout_lines::write_batched(line.as_bytes());
}

/// RFC 3339 in UTC with microseconds, as the subscriber writes it.
fn push_timestamp(out: &mut String, now: std::time::SystemTime) {
    let since = now
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Digits pushed directly: `write!` with padded fields costs more than the rest of
    // the line.
    push_digits(out, u64::try_from(year).unwrap_or(0), 4);
    out.push('-');
    push_digits(out, u64::try_from(month).unwrap_or(0), 2);
    out.push('-');
    push_digits(out, u64::try_from(day).unwrap_or(0), 2);
    out.push('T');
    push_digits(out, rem / 3_600, 2);
    out.push(':');
    push_digits(out, rem / 60 % 60, 2);
    out.push(':');
    push_digits(out, rem % 60, 2);
    out.push('.');
    push_digits(out, u64::from(since.subsec_micros()), 6);
    out.push('Z');
}

/// Appends `value` in decimal, zero-padded to at least `width` digits.
fn push_digits(out: &mut String, value: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut at = digits.len();
    let mut rest = value;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let start = at.min(digits.len().saturating_sub(width));
    out.extend(digits[start..].iter().map(|&d| char::from(d)));
}

/// Appends `s` as a JSON string literal.
fn push_json_str(out: &mut String, s: &str) {
    use std::fmt::Write as _;
    out.push('"');
    // The usual case (a method, a path, a request id): nothing to escape.
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push_str(s);
        out.push('"');
        return;
    }
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The JSON line format: the subscriber's JSON lines (flattened fields, the current
/// span), and for a line written while a request is served outside any span, the
/// `"span":{"request_id":…,"name":"request"}` that a `request` span around the
/// request would have added, from the request's task-local id
/// (set by the server around each request). The id is read only when a line is
/// written, so a request that logs nothing (a cached `GET` with the access line
/// written by [`access_line`]) pays for no span at all.
pub struct JsonLines(Format<Json>);

impl JsonLines {
    /// The format the server installs for `LOG_FORMAT=json`.
    pub fn new() -> Self {
        JsonLines(
            tracing_subscriber::fmt::format()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false),
        )
    }
}

impl Default for JsonLines {
    fn default() -> Self {
        JsonLines::new()
    }
}

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let in_span =
            event.parent().and_then(|id| ctx.span(id)).is_some() || ctx.lookup_current().is_some();
        let id = if in_span {
            None
        } else {
            crate::extension::logged_request_id()
        };
        let Some(id) = id else {
            return self.0.format_event(ctx, writer, event);
        };
        let mut line = String::with_capacity(256);
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        // The span is the last member of the subscriber's object.
        let Some(object) = line.strip_suffix("}\n") else {
            return writer.write_str(&line);
        };
        let mut tail = String::with_capacity(64);
        tail.push_str(",\"span\":{\"request_id\":");
        push_json_str(&mut tail, id.to_str().unwrap_or("-"));
        tail.push_str(",\"name\":\"request\"}}\n");
        writer.write_str(object)?;
        writer.write_str(&tail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc_with_microseconds() {
        let at = |secs: u64, micros: u32| {
            let mut s = String::new();
            push_timestamp(
                &mut s,
                std::time::UNIX_EPOCH
                    + std::time::Duration::from_secs(secs)
                    + std::time::Duration::from_micros(u64::from(micros)),
            );
            s
        };
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(at(951_782_400, 7), "2000-02-29T00:00:00.000007Z");
        assert_eq!(at(1_796_099_425, 695_248), "2026-12-01T04:30:25.695248Z");
        assert_eq!(at(4_102_444_799, 999_999), "2099-12-31T23:59:59.999999Z");
        assert_eq!(at(253_402_300_799, 1), "9999-12-31T23:59:59.000001Z");
        let digits = |v, w| {
            let mut s = String::new();
            push_digits(&mut s, v, w);
            s
        };
        assert_eq!(digits(0, 1), "0");
        assert_eq!(digits(7, 2), "07");
        assert_eq!(digits(204, 1), "204");
        assert_eq!(digits(u64::MAX, 4), u64::MAX.to_string());
    }

    /// Lines written into a buffer by a subscriber with [`JsonLines`].
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        /// The lines so far, without their timestamps; cleared.
        fn take(&self) -> Vec<String> {
            let text = String::from_utf8(std::mem::take(&mut *self.0.lock().expect("lock")))
                .expect("utf-8");
            text.lines()
                .map(|l| {
                    let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
                    assert!(v["timestamp"].is_string(), "{l}");
                    let at = l.find(",\"level\"").expect("level after timestamp");
                    l[at..].to_string()
                })
                .collect()
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn lines_written_while_serving_carry_the_request_id_as_the_span_did() {
        use tracing::Instrument as _;
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::INFO)
            .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
            .event_format(JsonLines::new())
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);
        let id = axum::http::HeaderValue::from_static("abc-\"1\"");
        let log = || tracing::warn!(error = "busy", "service unavailable");

        // The way lines carried the id before: a span around the request.
        let span = tracing::info_span!("request", request_id = %id.to_str().unwrap());
        async { log() }.instrument(span).await;
        let with_span = out.take();
        assert_eq!(with_span.len(), 1);
        assert!(
            with_span[0].ends_with(r#","span":{"request_id":"abc-\"1\"","name":"request"}}"#),
            "{with_span:?}"
        );

        // Now: the request's task-local id, the same bytes.
        crate::extension::with_request_id(id.clone(), true, async { log() }).await;
        assert_eq!(out.take(), with_span);

        // Not named when the span would not have been recorded, nor outside a request.
        crate::extension::with_request_id(id.clone(), false, async { log() }).await;
        log();
        for line in out.take() {
            assert!(!line.contains("span"), "{line}");
        }

        // A span opened while handling is the line's span, as before.
        crate::extension::with_request_id(
            id,
            true,
            async { log() }.instrument(tracing::info_span!("inner", step = 2)),
        )
        .await;
        let lines = out.take();
        assert!(
            lines[0].ends_with(r#","span":{"step":2,"name":"inner"}}"#),
            "{lines:?}"
        );
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut s = String::new();
        push_json_str(&mut s, "a\"b\\c\n\u{1}é");
        assert_eq!(s, r#""a\"b\\c\n\u0001é""#);
        for plain in ["", "GET", "/products?limit=2&offset=4", "é-\u{7f}"] {
            let mut s = String::new();
            push_json_str(&mut s, plain);
            assert_eq!(s, serde_json::to_string(plain).unwrap());
        }
    }
}
