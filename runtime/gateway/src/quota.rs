//! Quotas, as API Gateway enforces them: the document's per-minute limits on named
//! metrics, and each operation's cost on them.
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
//! Enforcement ([`QuotaCounter`]): API Gateway counts a limit per **consumer project**
//! (the Google Cloud project owning the caller's API key) over one-minute windows.
//! The emulator has no projects, so each API key is its own consumer: a key's calls
//! are counted in fixed windows (one minute unless configured otherwise) that start
//! when the emulator does. A call whose cost would take a limit past its value is
//! refused with 429 and counts nothing; the next window starts from zero.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::document::{Dialect, DocumentError};

/// One enforceable limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaLimit {
    /// The limit's name (`shop-api-requests-per-minute`).
    pub name: String,
    /// The metric it limits.
    pub metric: String,
    /// Units allowed per window and consumer.
    pub per_minute: u64,
}

fn invalid(at: impl Into<String>, message: impl Into<String>) -> DocumentError {
    DocumentError::Invalid {
        at: at.into(),
        message: message.into(),
    }
}

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

/// Why a call was refused: the limit it would have passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exhausted {
    pub metric: String,
    pub limit: String,
}

/// Per-consumer usage in the current window.
#[derive(Debug)]
pub struct QuotaCounter {
    limits: Vec<QuotaLimit>,
    window: Duration,
    start: Instant,
    /// (consumer, limit name) → (window index, units used).
    used: Mutex<HashMap<(String, String), (u64, u64)>>,
}

impl QuotaCounter {
    /// A counter for these limits, with windows of `window` from now.
    pub fn new(limits: Vec<QuotaLimit>, window: Duration) -> Self {
        QuotaCounter {
            limits,
            window: window.max(Duration::from_millis(1)),
            start: Instant::now(),
            used: Mutex::new(HashMap::new()),
        }
    }

    /// The limits this counter enforces.
    pub fn limits(&self) -> &[QuotaLimit] {
        &self.limits
    }

    /// Charges `costs` to `consumer` if every limit they touch has room; otherwise
    /// charges nothing and names the first limit that has none.
    pub fn charge(&self, consumer: &str, costs: &[(String, u64)]) -> Result<(), Exhausted> {
        if costs.is_empty() || self.limits.is_empty() {
            return Ok(());
        }
        let window = (self.start.elapsed().as_nanos() / self.window.as_nanos()) as u64;
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        let mut plan = Vec::new();
        for (metric, cost) in costs {
            for limit in self.limits.iter().filter(|l| &l.metric == metric) {
                let key = (consumer.to_string(), limit.name.clone());
                let so_far = match used.get(&key) {
                    Some((w, n)) if *w == window => *n,
                    _ => 0,
                };
                if so_far.saturating_add(*cost) > limit.per_minute {
                    return Err(Exhausted {
                        metric: metric.clone(),
                        limit: limit.name.clone(),
                    });
                }
                plan.push((key, so_far + cost));
            }
        }
        for (key, n) in plan {
            used.insert(key, (window, n));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter(window: Duration) -> QuotaCounter {
        QuotaCounter::new(
            vec![QuotaLimit {
                name: "rpm".into(),
                metric: "requests".into(),
                per_minute: 5,
            }],
            window,
        )
    }

    #[test]
    fn n_allowed_then_refused_per_consumer() {
        let c = counter(Duration::from_secs(60));
        let one = [("requests".to_string(), 1)];
        for _ in 0..5 {
            assert!(c.charge("a", &one).is_ok());
        }
        let refused = c.charge("a", &one).unwrap_err();
        assert_eq!(refused.limit, "rpm");
        assert!(
            c.charge("b", &one).is_ok(),
            "another consumer is unaffected"
        );
        // A cost that does not fit is refused and charges nothing.
        let c = counter(Duration::from_secs(60));
        let three = [("requests".to_string(), 3)];
        assert!(c.charge("a", &three).is_ok());
        assert!(c.charge("a", &three).is_err());
        assert!(c.charge("a", &[("requests".to_string(), 2)]).is_ok());
    }

    #[test]
    fn the_window_resets() {
        let c = counter(Duration::from_millis(200));
        let five = [("requests".to_string(), 5)];
        // Start near the beginning of a window.
        while c.start.elapsed().as_millis() % 200 > 50 {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(c.charge("a", &five).is_ok());
        assert!(c.charge("a", &five).is_err());
        std::thread::sleep(Duration::from_millis(220));
        assert!(c.charge("a", &five).is_ok());
    }
}
