//! Parse: `[upstream]`, the table that makes a spec describe a service shopgen does
//! not generate (an existing service in an existing cluster). Shape only; meaning is
//! `check::upstream`'s job.

use toml::de::DeValue;

use super::reader::{Cx, Table, kind};
use super::{Sp, UpstreamSpec, keys};
use crate::diagnostics::{Code, Diagnostic};

pub(super) fn read_upstream(cx: &mut Cx, t: &Table) -> UpstreamSpec {
    t.only(cx, keys::UPSTREAM);
    let selector = t.table(cx, "selector").map(|st| {
        let mut labels = Vec::new();
        for (key, span, value) in st.entries() {
            match value.get_ref() {
                DeValue::String(s) => labels.push((
                    Sp::new(key.to_string(), span),
                    Sp::new(s.to_string(), value.span()),
                )),
                other => cx.diags.push(
                    Diagnostic::new(
                        Code::E0103,
                        value.span(),
                        st.path_of(key),
                        format!("expected a string, found {}", kind(other)),
                    )
                    .hint("a label value is a string: `selector = { app = \"legacy-api\" }`"),
                ),
            }
        }
        Sp::new(labels, st.span.clone())
    });
    UpstreamSpec {
        span: t.span.clone(),
        selector,
        health_path: t.string(cx, "health_path"),
        forward_authorization: t.boolean(cx, "forward_authorization"),
    }
}
