//! Quotas, as API Gateway enforces them: the document's per-minute limits on named
//! metrics, and each operation's cost on them.
//!
//! The document's limits and costs are read with the rest of it, in
//! [`crate::document`], into [`QuotaLimit`]s and each operation's metric costs.
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
