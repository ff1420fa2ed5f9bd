//! The document's quota section: its per-minute limits on named metrics, and each
//! operation's cost on them, read as API Gateway reads them.
//!
//! Read from either dialect (Google's quota extensions; see the API Gateway pages on
//! quotas and on the OpenAPI 2.0 and 3.x extensions):
//!
//! - **Swagger 2.0**: `x-google-management.metrics` (a list of `{name, …}`),
//!   `x-google-management.quota.limits` (a list of `{name, metric, unit:
//!   "1/min/{project}", values: {STANDARD: N}}`), and on an operation
//!   `x-google-quota.metricCosts: {METRIC: COST}`.
//! - **OpenAPI 3.x**: `x-google-api-management.metrics` (a map by name),
//!   `x-google-api-management.quota.limits` (a map by limit name of `{metric, values:
//!   N}`), and the same `x-google-quota.metricCosts` on an operation.
//!
//! A cost naming an undefined metric, a limit on an undefined metric, or a unit other
//! than per minute per project is refused, as API Gateway refuses such a config.
//!
//! Enforcement is [`crate::quota`]'s.

use serde_json::{Map, Value};

use super::{Dialect, DocumentError, invalid};
use crate::quota::QuotaLimit;

/// The document's quota limits, and the metric names it defines.
pub(crate) fn read_limits(
    root: &Map<String, Value>,
    dialect: Dialect,
) -> Result<(Vec<String>, Vec<QuotaLimit>), DocumentError> {
    let mut metrics = Vec::new();
    let mut limits = Vec::new();
    match dialect {
        Dialect::Swagger2 => {
            let Some(mgmt) = root.get("x-google-management") else {
                return Ok((metrics, limits));
            };
            let at = "x-google-management";
            for m in mgmt
                .get("metrics")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let name = m
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid(format!("{at}.metrics"), "a metric needs a `name`"))?;
                metrics.push(name.to_string());
            }
            let list = mgmt
                .get("quota")
                .and_then(|q| q.get("limits"))
                .and_then(Value::as_array);
            for l in list.into_iter().flatten() {
                let at = format!("{at}.quota.limits");
                let name = l
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid(&at, "a limit needs a `name`"))?;
                let metric = l
                    .get("metric")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid(&at, format!("limit `{name}` needs a `metric`")))?;
                if l.get("unit").and_then(Value::as_str) != Some("1/min/{project}") {
                    return Err(invalid(
                        &at,
                        format!(
                            "limit `{name}`: API Gateway supports only unit `1/min/{{project}}`"
                        ),
                    ));
                }
                let value = l
                    .get("values")
                    .and_then(|v| v.get("STANDARD"))
                    .and_then(Value::as_u64)
                    .ok_or_else(|| {
                        invalid(
                            &at,
                            format!("limit `{name}` needs `values: {{STANDARD: N}}`"),
                        )
                    })?;
                limits.push(QuotaLimit {
                    name: name.to_string(),
                    metric: metric.to_string(),
                    per_minute: value,
                });
            }
        }
        Dialect::OpenApi3 => {
            let Some(mgmt) = root.get("x-google-api-management") else {
                return Ok((metrics, limits));
            };
            if let Some(Value::Object(m)) = mgmt.get("metrics") {
                metrics.extend(m.keys().cloned());
            }
            let at = "x-google-api-management.quota.limits";
            if let Some(Value::Object(ls)) = mgmt.get("quota").and_then(|q| q.get("limits")) {
                for (name, l) in ls {
                    let metric = l
                        .get("metric")
                        .and_then(Value::as_str)
                        .ok_or_else(|| invalid(at, format!("limit `{name}` needs a `metric`")))?;
                    let value = l
                        .get("values")
                        .and_then(Value::as_u64)
                        .ok_or_else(|| invalid(at, format!("limit `{name}` needs `values: N`")))?;
                    limits.push(QuotaLimit {
                        name: name.clone(),
                        metric: metric.to_string(),
                        per_minute: value,
                    });
                }
            }
        }
    }
    for l in &limits {
        if !metrics.contains(&l.metric) {
            return Err(invalid(
                "quota.limits",
                format!("limit `{}` is on undefined metric `{}`", l.name, l.metric),
            ));
        }
    }
    Ok((metrics, limits))
}

/// An operation's `x-google-quota.metricCosts`, checked against the defined metrics.
pub(crate) fn read_costs(
    op: &Map<String, Value>,
    metrics: &[String],
    at: &str,
) -> Result<Vec<(String, u64)>, DocumentError> {
    let Some(q) = op.get("x-google-quota") else {
        return Ok(Vec::new());
    };
    let at = format!("{at}.x-google-quota.metricCosts");
    let Some(Value::Object(costs)) = q.get("metricCosts") else {
        return Err(invalid(
            at,
            "a mapping of metric names to costs is required",
        ));
    };
    let mut out = Vec::new();
    for (metric, cost) in costs {
        if !metrics.contains(metric) {
            return Err(invalid(&at, format!("`{metric}` is not a defined metric")));
        }
        let cost = cost
            .as_u64()
            .ok_or_else(|| invalid(&at, format!("the cost of `{metric}` is not a whole number")))?;
        out.push((metric.clone(), cost));
    }
    Ok(out)
}
