//! The deadline budget of one request through the chain, derived once.
//!
//! A request from outside passes four hops, and each gives up after its own timeout:
//!
//! ```text
//! API Gateway `deadline`            (gateway.yaml)            D
//!  └ Cloud Run request `timeout`    (relay.tf, whole seconds)  C < D
//!     └ relay `UPSTREAM_TIMEOUT_MS` (relay.tf, shopgen up)     T < C
//!        └ backend `REQUEST_TIMEOUT_MS` (deployment.yaml)      R < T
//!           └ `DATABASE_ACQUIRE_TIMEOUT_MS`, per request       A < R
//! ```
//!
//! Each timeout sits strictly inside the one before it, with a margin for the hop
//! between them, so whatever fails answers with its own status before the hop around
//! it gives up: the backend's 503 (with `Retry-After`) when the database is
//! unreachable or its request timeout passes, the relay's 504 only when the backend
//! sends nothing within `T`, and never API Gateway's or Cloud Run's own timeout.
//!
//! `A` bounds the time one request spends waiting for database connections in all,
//! however many statements it runs: the backend counts it down across them. The
//! backend gives the database a statement timeout of `R - A`, at least `R / 10`
//! (PostgreSQL's `statement_timeout`, SQLite's busy timeout), so a statement sent
//! within the acquire budget ends before the request times out (whenever `R - A` is
//! the larger), and the database stops work that nobody waits for any more. A 503 at
//! `R` means nothing of the request was written: its writes commit only while it may
//! still answer (the backend runtime's `db::budget`). Unless the spec sets it, `A` is
//! 5 s or half of `R`, whichever is shorter, so statements keep half of `R` at least
//! (a spec that sets `A` higher gets a warning, `short_statement_timeout`).
//!
//! The margin between two hops is a tenth of the gateway deadline, at least
//! [`MIN_MARGIN_MS`] and at most [`MAX_MARGIN_MS`]: 1 s for API Gateway's default 15 s.
//! Cloud Run takes whole seconds, so `C` is the largest whole second that leaves the
//! margin under `D`. The spec may set `T` (`relay.timeout_ms`), `R`
//! (`service.request_timeout_ms`) and `A` (`service.database_acquire_timeout_ms`)
//! itself; the checker refuses values that break the order.

use crate::spec::{Sp, Spec};
use shopgen_facts::budget as facts;

/// The smallest margin between two hops, in milliseconds.
pub const MIN_MARGIN_MS: u32 = 100;
/// The largest margin between two hops, in milliseconds.
pub const MAX_MARGIN_MS: u32 = 1_000;
/// The smallest timeout any hop is given, in milliseconds.
pub const MIN_TIMEOUT_MS: u32 = 100;

/// The timeouts of the chain, outermost first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// API Gateway's backend `deadline` (D), in milliseconds.
    pub gateway_deadline_ms: u32,
    /// Cloud Run's request `timeout` for the relay (C), in whole seconds.
    pub cloud_run_timeout_s: u32,
    /// The relay's deadline for the whole upstream exchange (T), in milliseconds.
    pub relay_upstream_ms: u32,
    /// The backend's request timeout (R), in milliseconds: its 503 after that (the
    /// database's statement timeout is `R - A`).
    pub backend_request_ms: u32,
    /// The time one request may wait for database connections in all (A), in
    /// milliseconds: its 503 after that.
    pub database_acquire_ms: u32,
    /// The margin left between two hops, in milliseconds.
    pub margin_ms: u32,
}

impl Budget {
    /// The budget of API Gateway's default deadline, as the runtimes assume it when
    /// they run without the generated environment.
    pub const DEFAULT: Budget = Budget {
        gateway_deadline_ms: facts::DEFAULT_GATEWAY_DEADLINE_MS,
        cloud_run_timeout_s: facts::DEFAULT_GATEWAY_DEADLINE_MS / 1000 - 1,
        relay_upstream_ms: facts::DEFAULT_RELAY_UPSTREAM_TIMEOUT_MS,
        backend_request_ms: facts::DEFAULT_REQUEST_TIMEOUT_MS,
        database_acquire_ms: facts::DEFAULT_DATABASE_ACQUIRE_TIMEOUT_MS,
        margin_ms: MAX_MARGIN_MS,
    };
}

/// The range of the spec's timeout keys (`relay.timeout_ms`,
/// `service.request_timeout_ms`, `service.database_acquire_timeout_ms`), in ms.
pub const SPEC_KEY_MS: std::ops::RangeInclusive<i64> = 100..=3_600_000;

/// The gateway deadline of a spec in seconds (API Gateway's default when unset).
pub fn deadline_seconds(spec: &Spec) -> f64 {
    spec.gateway.deadline.as_ref().map_or(
        f64::from(facts::DEFAULT_GATEWAY_DEADLINE_MS) / 1000.0,
        |d| d.value,
    )
}

/// The gateway deadline of a spec in ms, and the timeouts it sets itself. A value
/// outside [`SPEC_KEY_MS`] (refused by the checker on its own) counts as unset.
pub fn of_spec(spec: &Spec) -> (u32, Explicit) {
    let ms = |v: &Option<Sp<i64>>| {
        v.as_ref()
            .filter(|v| SPEC_KEY_MS.contains(&v.value))
            .and_then(|v| u32::try_from(v.value).ok())
    };
    let explicit = Explicit {
        relay_upstream_ms: ms(&spec.relay.timeout_ms),
        backend_request_ms: ms(&spec.service.request_timeout_ms),
        database_acquire_ms: ms(&spec.service.database_acquire_timeout_ms),
    };
    (deadline_ms(deadline_seconds(spec)), explicit)
}

/// A gateway deadline in seconds (the spec's and the document's unit), in whole
/// milliseconds.
pub fn deadline_ms(seconds: f64) -> u32 {
    (seconds * 1000.0).round().clamp(0.0, f64::from(u32::MAX)) as u32
}

/// What the spec sets itself; the rest is derived.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Explicit {
    pub relay_upstream_ms: Option<u32>,
    pub backend_request_ms: Option<u32>,
    pub database_acquire_ms: Option<u32>,
}

/// A hop whose timeout the spec may set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hop {
    /// `relay.timeout_ms`: inside Cloud Run's timeout.
    Relay,
    /// `service.request_timeout_ms`: inside the relay's timeout.
    Backend,
    /// `service.database_acquire_timeout_ms`: inside the request timeout.
    Acquire,
}

/// Why a budget cannot be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetError {
    /// The gateway deadline leaves no whole second for Cloud Run under it, with room
    /// for the hops inside.
    DeadlineTooShort { deadline_ms: u32 },
    /// A value the spec sets is outside `min..=max`: above `max` it does not fit
    /// inside the hop around it, below `min` it leaves the hops inside it no room.
    OutOfOrder {
        hop: Hop,
        value: u32,
        min: u32,
        max: u32,
    },
}

/// The margin between two hops for a gateway deadline.
pub fn margin_ms(deadline_ms: u32) -> u32 {
    (deadline_ms / 10).clamp(MIN_MARGIN_MS, MAX_MARGIN_MS)
}

/// Cloud Run's request timeout under a gateway deadline: the largest whole second
/// that leaves the margin.
pub fn cloud_run_timeout_s(deadline_ms: u32) -> u32 {
    deadline_ms.saturating_sub(margin_ms(deadline_ms)) / 1000
}

/// The budget for a gateway deadline and the values the spec sets; every value that
/// does not fit is reported.
pub fn derive(deadline_ms: u32, explicit: Explicit) -> Result<Budget, Vec<BudgetError>> {
    let m = margin_ms(deadline_ms);
    let cloud_run_timeout_s = cloud_run_timeout_s(deadline_ms);
    // Room for the relay, the backend and the acquire budget, each `m` inside the last.
    if cloud_run_timeout_s == 0 || cloud_run_timeout_s * 1000 < 3 * m + MIN_TIMEOUT_MS {
        return Err(vec![BudgetError::DeadlineTooShort { deadline_ms }]);
    }
    let mut errors = Vec::new();
    // A value the spec sets, or `max`; one outside `min..=max` is reported and `max`
    // stands in for it, so the hops inside are still checked.
    let mut fit = |hop: Hop, value: Option<u32>, min: u32, max: u32| match value {
        Some(value) if value > max || value < min => {
            errors.push(BudgetError::OutOfOrder {
                hop,
                value,
                min,
                max,
            });
            max
        }
        Some(value) => value,
        None => max,
    };
    let relay_upstream_ms = fit(
        Hop::Relay,
        explicit.relay_upstream_ms,
        2 * m + MIN_TIMEOUT_MS,
        cloud_run_timeout_s * 1000 - m,
    );
    let backend_request_ms = fit(
        Hop::Backend,
        explicit.backend_request_ms,
        m + MIN_TIMEOUT_MS,
        relay_upstream_ms.saturating_sub(m),
    );
    let acquire_max = backend_request_ms.saturating_sub(m);
    let database_acquire_ms = fit(
        Hop::Acquire,
        explicit.database_acquire_ms,
        MIN_TIMEOUT_MS,
        acquire_max,
    );
    let database_acquire_ms = match explicit.database_acquire_ms {
        // Derived, it leaves statements half of the request timeout at least.
        None => database_acquire_ms
            .min(facts::DEFAULT_DATABASE_ACQUIRE_TIMEOUT_MS)
            .min(backend_request_ms / 2),
        Some(_) => database_acquire_ms,
    };
    if errors.is_empty() {
        Ok(Budget {
            gateway_deadline_ms: deadline_ms,
            cloud_run_timeout_s,
            relay_upstream_ms,
            backend_request_ms,
            database_acquire_ms,
            margin_ms: m,
        })
    } else {
        Err(errors)
    }
}

/// The shortest gateway deadline the chain fits in, in milliseconds.
pub fn min_deadline_ms() -> u32 {
    (MIN_TIMEOUT_MS..)
        .find(|&d| derive(d, Explicit::default()).is_ok())
        .unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_gateways_default_deadline() {
        let b = derive(15_000, Explicit::default()).unwrap();
        assert_eq!(
            b,
            Budget {
                gateway_deadline_ms: 15_000,
                cloud_run_timeout_s: 14,
                relay_upstream_ms: 13_000,
                backend_request_ms: 12_000,
                database_acquire_ms: 5_000,
                margin_ms: 1_000,
            }
        );
    }

    /// The runtimes' own defaults (a backend or relay started without the generated
    /// environment) are the budget of the default deadline.
    #[test]
    fn runtime_defaults_are_the_default_budget() {
        let b = derive(facts::DEFAULT_GATEWAY_DEADLINE_MS, Explicit::default()).unwrap();
        assert_eq!(b, Budget::DEFAULT);
        assert_eq!(
            b.relay_upstream_ms,
            facts::DEFAULT_RELAY_UPSTREAM_TIMEOUT_MS
        );
        assert_eq!(b.backend_request_ms, facts::DEFAULT_REQUEST_TIMEOUT_MS);
        assert_eq!(
            b.database_acquire_ms,
            facts::DEFAULT_DATABASE_ACQUIRE_TIMEOUT_MS
        );
    }

    #[test]
    fn each_timeout_is_inside_the_one_before_for_every_deadline() {
        let min = min_deadline_ms();
        assert!(min > 1_000 && min < 2_000, "{min}");
        for d in (min..=3_600_000).step_by(997).chain([min, 3_600_000]) {
            let b = derive(d, Explicit::default()).unwrap();
            let m = b.margin_ms;
            assert!(b.cloud_run_timeout_s * 1000 + m <= d, "{b:?}");
            assert!(
                b.relay_upstream_ms + m <= b.cloud_run_timeout_s * 1000,
                "{b:?}"
            );
            assert!(b.backend_request_ms + m <= b.relay_upstream_ms, "{b:?}");
            assert!(b.database_acquire_ms + m <= b.backend_request_ms, "{b:?}");
            assert!(b.database_acquire_ms >= MIN_TIMEOUT_MS, "{b:?}");
            assert!(
                b.database_acquire_ms * 2 <= b.backend_request_ms,
                "statements keep half the request timeout: {b:?}"
            );
        }
        assert_eq!(
            derive(min - 1, Explicit::default()),
            Err(vec![BudgetError::DeadlineTooShort {
                deadline_ms: min - 1
            }])
        );
    }

    #[test]
    fn explicit_values_inside_the_order_are_kept() {
        let b = derive(
            30_000,
            Explicit {
                relay_upstream_ms: Some(20_000),
                backend_request_ms: Some(8_000),
                database_acquire_ms: Some(2_000),
            },
        )
        .unwrap();
        assert_eq!(b.cloud_run_timeout_s, 29);
        assert_eq!(
            (
                b.relay_upstream_ms,
                b.backend_request_ms,
                b.database_acquire_ms
            ),
            (20_000, 8_000, 2_000)
        );
        // Derived values below an explicit one follow it; the acquire budget leaves
        // statements half the request timeout.
        let b = derive(
            15_000,
            Explicit {
                relay_upstream_ms: Some(4_000),
                ..Explicit::default()
            },
        )
        .unwrap();
        assert_eq!(
            (b.backend_request_ms, b.database_acquire_ms),
            (3_000, 1_500)
        );
    }

    #[test]
    fn every_value_out_of_order_is_reported() {
        let errors = derive(
            15_000,
            Explicit {
                relay_upstream_ms: Some(14_500),
                backend_request_ms: Some(13_000),
                database_acquire_ms: Some(12_500),
            },
        )
        .unwrap_err();
        let out = |hop, value, min, max| BudgetError::OutOfOrder {
            hop,
            value,
            min,
            max,
        };
        assert_eq!(
            errors,
            vec![
                out(Hop::Relay, 14_500, 2_100, 13_000),
                out(Hop::Backend, 13_000, 1_100, 12_000),
                out(Hop::Acquire, 12_500, 100, 11_000),
            ]
        );
        // Too short leaves the hops inside no room.
        let errors = derive(
            15_000,
            Explicit {
                relay_upstream_ms: Some(1_500),
                ..Explicit::default()
            },
        )
        .unwrap_err();
        assert_eq!(errors, vec![out(Hop::Relay, 1_500, 2_100, 13_000)]);
    }
}
