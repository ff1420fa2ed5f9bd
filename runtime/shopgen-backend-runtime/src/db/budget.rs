//! The database's share of a request's deadline: one acquire budget per request, and
//! a gate that decides whether its writes may still commit.
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
//! **A 503 means nothing was written.** A request that runs past the backend's request
//! timeout is answered 503 with `Retry-After`, which invites the client to send it
//! again; a write that committed anyway would then be written twice. So every write
//! of a request passes its [`Gate`] at its commit point, and the request timeout
//! closes the gate before it answers. The commit point of a write that is on time
//! ([`Gate::on_time`]: its statement timeout ends before the request's, as for a
//! statement sent within the acquire budget, since the server's statement timeout is
//! the request timeout less the acquire budget) is the moment it is sent as its own
//! commit; of any other write, its transaction's `COMMIT` (or, in a group writer, the
//! moment the write is taken into the commit of the transaction it ran in). So:
//!
//! - the gate closes while no write of the request is committing: the 503 goes out at
//!   once, and any write of the request still waiting (for a connection, for a lock,
//!   in a group) is never committed (rolled back, deleted before its group's commit,
//!   or left out of its group);
//! - a write is committing: it ends by its statement timeout, within the request
//!   timeout, but for its commit's flush. The request waits up to the commit grace
//!   ([`commit_grace`]) for the database's answer and answers that; only a commit that
//!   takes longer still ends in a 503 (logged, since its outcome is then unknown).
//!
//! Outside a request (start-up, migrations, the readiness ping) the pool's own acquire
//! timeout applies and writes are not gated.

use std::cell::Cell;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// What one request's budget keeps.
struct Request {
    /// What is left of its acquire budget.
    left: Cell<Duration>,
    gate: Arc<Gate>,
}

tokio::task_local! {
    static REQUEST: Request;
}

/// Whether a request's writes may still commit (see the module documentation), and
/// when the request times out.
#[derive(Debug, Default)]
pub struct Gate {
    state: AtomicU8,
    /// When the request timeout passes; `None`: never.
    ends: Option<Instant>,
}

/// No write of the request is waiting or committing.
const IDLE: u8 = 0;
/// A write was handed to a group writer and not taken into a transaction yet.
const QUEUED: u8 = 1;
/// A write's commit point has been passed: its outcome is the database's.
const COMMITTING: u8 = 2;
/// The request has been answered 503: none of its writes may commit.
const CLOSED: u8 = 3;

impl Gate {
    /// The gate of a request that times out at `ends`.
    pub fn new(ends: Option<Instant>) -> Gate {
        Gate {
            state: AtomicU8::new(IDLE),
            ends,
        }
    }

    /// Whether a statement sent now, which the database gives up after `statement`
    /// (its statement timeout), ends before the request times out: then it may be
    /// sent as its own commit, having passed the gate first, since it will have
    /// committed or failed by the time the request times out (the commit grace covers
    /// the commit's own flush). A write that is not on time runs in a transaction
    /// whose `COMMIT` passes the gate.
    pub fn on_time(&self, statement: Duration) -> bool {
        self.ends
            .is_none_or(|ends| Instant::now() + statement <= ends)
    }

    /// A write is handed to a group writer; `false` once the gate is closed.
    pub(crate) fn queue(&self) -> bool {
        match self
            .state
            .compare_exchange(IDLE, QUEUED, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => true,
            Err(state) => state != CLOSED,
        }
    }

    /// The write's commit point: `true` lets it commit, `false` (the request was
    /// answered 503) means it must not.
    pub(crate) fn commit(&self) -> bool {
        self.state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                (s != CLOSED).then_some(COMMITTING)
            })
            .is_ok()
    }

    /// The write has its answer (committed or not).
    pub(crate) fn settle(&self) {
        let _ = self
            .state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                (s != CLOSED).then_some(IDLE)
            });
    }

    /// Whether the request was answered 503 (its writes must not commit).
    pub(crate) fn closed(&self) -> bool {
        self.state.load(Ordering::Acquire) == CLOSED
    }

    /// The request timeout: closes the gate unless a write is committing. `true`: no
    /// write of the request can commit any more, a 503 is the truth; `false`: a
    /// write is committing, wait for its outcome.
    pub fn close(&self) -> bool {
        self.state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                (s != COMMITTING).then_some(CLOSED)
            })
            .is_ok()
    }
}

/// How long a request past its timeout waits for a write that is committing: a
/// twentieth of the request timeout, at most 500 ms. A commit is a WAL flush, a few
/// milliseconds; the margin the deadline budget leaves between the backend's request
/// timeout and the relay's (a tenth of the gateway deadline, at least 100 ms) is
/// larger, so the answer still reaches the relay in time.
pub fn commit_grace(request_timeout: Duration) -> Duration {
    (request_timeout / 20).min(Duration::from_millis(500))
}

/// Runs `request` with an acquire budget of `budget` for all its statements, its
/// writes committing through `gate`.
pub async fn scope<F: Future>(budget: Duration, gate: Arc<Gate>, request: F) -> F::Output {
    let state = Request {
        left: Cell::new(budget),
        gate,
    };
    REQUEST.scope(state, request).await
}

/// The current request's gate; `None` outside a request.
pub(crate) fn gate() -> Option<Arc<Gate>> {
    REQUEST.try_with(|r| Arc::clone(&r.gate)).ok()
}

/// Waits for `wait` (a connection, a reader permit) within what is left of the
/// request's budget, and spends the time it took from it. `None`: the budget ran out.
/// Outside a request, `wait` is awaited as it is (its own timeout applies).
pub(crate) async fn within<T>(wait: impl Future<Output = T>) -> Option<T> {
    let Ok(left) = REQUEST.try_with(|r| r.left.get()) else {
        return Some(wait.await);
    };
    let started = Instant::now();
    // `timeout` polls `wait` once before it looks at the clock: a free connection is
    // taken even when the budget is spent.
    let result = tokio::time::timeout(left, wait).await.ok();
    let spent = started.elapsed();
    let _ = REQUEST.try_with(|r| r.left.set(left.saturating_sub(spent)));
    result
}

/// When the current request's acquire budget runs out; `None` outside a request.
pub(crate) fn deadline() -> Option<Instant> {
    REQUEST
        .try_with(|r| r.left.get())
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

/// What a write whose request was already answered 503 gets: not committed.
pub(crate) fn request_gone() -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::other(
        "the request was answered before the write could commit; it was not committed",
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[tokio::test]
    async fn waits_of_one_request_share_one_budget() {
        let budget = Duration::from_millis(300);
        let (outcomes, took) = scope(budget, Arc::default(), async {
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
        scope(Duration::from_millis(50), Arc::default(), async {
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

    #[test]
    fn the_gate_closes_unless_a_write_is_committing() {
        let gate = Gate::default();
        assert!(gate.close(), "nothing written: closes");
        assert!(gate.closed());
        assert!(!gate.commit() && !gate.queue(), "closed: nothing commits");

        let gate = Gate::default();
        assert!(gate.queue());
        assert!(gate.close(), "a queued write was not taken: closes");
        assert!(!gate.commit(), "the group writer may not take it any more");

        let gate = Gate::default();
        assert!(gate.queue() && gate.commit());
        assert!(!gate.close(), "committing: wait for its outcome");
        gate.settle();
        assert!(gate.close(), "settled: closes");
    }

    #[test]
    fn the_commit_grace_fits_inside_the_hop_margin() {
        assert_eq!(
            commit_grace(Duration::from_secs(12)),
            Duration::from_millis(500)
        );
        assert_eq!(
            commit_grace(Duration::from_millis(1400)),
            Duration::from_millis(70)
        );
    }
}
