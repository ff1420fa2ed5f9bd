//! The database's share of a request's deadline: one acquire budget per request.
//!
//! A request may run several statements (the response cache's version read, the
//! query, the embedded relations). When the database is unreachable every one of them
//! would wait for a connection; with a per-statement timeout a request with three
//! statements waited three times as long, past the relay's deadline. So the wait is
//! counted per request: [`scope`] gives a request `DATABASE_ACQUIRE_TIMEOUT_MS` in
//! all, every wait for a connection spends from it, and once it is spent
//! a statement gets a connection only if one is free at once — otherwise the request
//! fails with `PoolTimedOut`, which it answers as 503 with `Retry-After`.
//!
//! Outside a request (start-up, migrations, the readiness ping) the pool's own acquire
//! timeout applies.

use std::cell::Cell;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

tokio::task_local! {
    /// What is left of the current request's acquire budget.
    static LEFT: Cell<Duration>;
}

/// Runs `request` with an acquire budget of `budget` for all its statements.
pub async fn scope<F: Future>(budget: Duration, request: F) -> F::Output {
    LEFT.scope(Cell::new(budget), request).await
}

/// Waits for `wait` (a connection, a reader permit) within what is left of the
/// request's budget, and spends the time it took from it. `None`: the budget ran out.
/// Outside a request, `wait` is awaited as it is (its own timeout applies).
pub(crate) async fn within<T>(wait: impl Future<Output = T>) -> Option<T> {
    let Ok(left) = LEFT.try_with(Cell::get) else {
        return Some(wait.await);
    };
    let started = Instant::now();
    // `timeout` polls `wait` once before it looks at the clock: a free connection is
    // taken even when the budget is spent.
    let result = tokio::time::timeout(left, wait).await.ok();
    let spent = started.elapsed();
    let _ = LEFT.try_with(|cell| cell.set(left.saturating_sub(spent)));
    result
}

/// When the current request's acquire budget runs out; `None` outside a request.
pub(crate) fn deadline() -> Option<Instant> {
    LEFT.try_with(Cell::get)
        .ok()
        .map(|left| Instant::now() + left)
}

/// A pooled connection within the request's budget.
pub(crate) async fn acquire<DB: sqlx::Database>(
    pool: &sqlx::Pool<DB>,
) -> Result<sqlx::pool::PoolConnection<DB>, sqlx::Error> {
    within(pool.acquire())
        .await
        .unwrap_or(Err(sqlx::Error::PoolTimedOut))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[tokio::test]
    async fn waits_of_one_request_share_one_budget() {
        let budget = Duration::from_millis(300);
        let (outcomes, took) = scope(budget, async {
            let started = Instant::now();
            // Three statements that each find the database unreachable.
            let mut outcomes = Vec::new();
            for _ in 0..3 {
                outcomes.push(within(std::future::pending::<()>()).await.is_some());
            }
            (outcomes, started.elapsed())
        })
        .await;
        assert_eq!(outcomes, vec![false, false, false]);
        // One budget, not three (with room for a slow machine's scheduling).
        assert!(took < budget * 2, "{took:?}");
    }

    #[tokio::test]
    async fn a_ready_wait_succeeds_after_the_budget_is_spent() {
        scope(Duration::from_millis(50), async {
            assert!(within(std::future::pending::<()>()).await.is_none());
            assert_eq!(within(async { 7 }).await, Some(7));
        })
        .await;
    }

    #[tokio::test]
    async fn outside_a_request_the_wait_is_not_cut() {
        let slow = async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            1
        };
        assert_eq!(within(slow).await, Some(1));
    }
}
