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
//! - the gate closes while no write of the request is committing or has committed:
//!   the 503 goes out at once, and any write of the request still waiting (for a
//!   connection, for a lock, in a group) is never committed (rolled back, deleted
//!   before its group's commit, or left out of its group);
//! - a write is committing: it ends by its statement timeout, within the request
//!   timeout, but for its commit's flush. The request waits up to the commit grace
//!   ([`commit_grace`]) for the database's answer and answers that;
//! - a write has committed (the request timed out doing something after it): the
//!   request waits up to the commit grace for its own answer too.
//!
//! A request still without an answer after the grace is answered 503 if its gate
//! closed meanwhile (the write that was committing was not written), and otherwise
//! 500 without `Retry-After`: its write was stored, or its outcome is unknown (then
//! the error is logged), and sending it again could write it twice.
//!
//! Outside a request (start-up, migrations, the readiness ping) the pool's own acquire
//! timeout applies and writes are not gated.

use std::cell::Cell;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
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
    /// [`CLOSED`], [`COMMITTED`], and the number of writes committing.
    state: AtomicU32,
    /// When the request timeout passes; `None`: never.
    ends: Option<Instant>,
}

/// The request has been answered 503: none of its writes may commit.
const CLOSED: u32 = 1 << 31;
/// A write of the request has committed (or may have: its outcome is unknown).
const COMMITTED: u32 = 1 << 30;
/// The writes past their commit point whose outcome is not known yet.
const COMMITTING: u32 = COMMITTED - 1;

/// What closing a request's gate at its timeout found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closing {
    /// Closed: nothing of the request was written, and nothing will be. A 503 is the
    /// truth.
    Closed,
    /// A write is committing: its outcome is the database's, wait for it.
    Committing,
    /// A write has been committed: the request must not be answered 503.
    Committed,
}

impl Gate {
    /// The gate of a request that times out at `ends`.
    pub fn new(ends: Option<Instant>) -> Gate {
        Gate {
            state: AtomicU32::new(0),
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

    /// Whether the request was answered 503 (its writes must not commit).
    pub(crate) fn closed(&self) -> bool {
        self.state.load(Ordering::Acquire) & CLOSED != 0
    }

    /// The request timeout: closes the gate unless a write is committing or has
    /// committed, and says which.
    pub fn close(&self) -> Closing {
        match self
            .state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                (s & (COMMITTED | COMMITTING) == 0).then_some(s | CLOSED)
            }) {
            Ok(_) => Closing::Closed,
            Err(s) if s & COMMITTING != 0 => Closing::Committing,
            Err(s) if s & COMMITTED != 0 => Closing::Committed,
            // Closed before.
            Err(_) => Closing::Closed,
        }
    }
}

/// A write past its commit point; [`Committing::settle`] says how it ended. Dropped
/// unsettled (a writer that lost it), it counts as committed: its outcome is unknown.
#[derive(Debug)]
pub(crate) struct Committing {
    gate: Arc<Gate>,
    settled: bool,
}

impl Committing {
    /// The write ended: `committed`, or not (nothing of it was written).
    pub(crate) fn settle(mut self, committed: bool) {
        self.end(committed);
    }

    fn end(&mut self, committed: bool) {
        if std::mem::replace(&mut self.settled, true) {
            return;
        }
        let mark = if committed { COMMITTED } else { 0 };
        let _ = self
            .gate
            .state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                Some((s - 1) | mark)
            });
    }
}

impl Drop for Committing {
    fn drop(&mut self) {
        self.end(true);
    }
}

/// The commit point of a write of the request `gate` belongs to (`None`: outside a
/// request, nothing to pass): `Err` when the request was answered 503, and then the
/// write must not commit.
pub(crate) fn pass(gate: Option<&Arc<Gate>>) -> Result<Option<Committing>, sqlx::Error> {
    let Some(gate) = gate else {
        return Ok(None);
    };
    gate.state
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
            (s & CLOSED == 0).then_some(s + 1)
        })
        .map_err(|_| request_gone())?;
    Ok(Some(Committing {
        gate: Arc::clone(gate),
        settled: false,
    }))
}

/// A write handed to a group writer (the SQLite group commit, PostgreSQL's group
/// inserts): its request's gate, and once the writer takes it into a commit, its
/// [`Committing`].
#[derive(Debug, Default)]
pub(crate) struct Ticket {
    gate: Option<Arc<Gate>>,
    committing: Option<Committing>,
}

impl Ticket {
    /// The current request's ticket; `Err` when the request was answered 503 already.
    pub(crate) fn current() -> Result<Ticket, sqlx::Error> {
        let gate = gate();
        if gate.as_ref().is_some_and(|g| g.closed()) {
            return Err(request_gone());
        }
        Ok(Ticket {
            gate,
            committing: None,
        })
    }

    /// The ticket of a write of the request `gate` belongs to.
    #[cfg(test)]
    pub(crate) fn of(gate: &Arc<Gate>) -> Ticket {
        Ticket {
            gate: Some(Arc::clone(gate)),
            committing: None,
        }
    }

    /// Whether the request was answered 503: the write is not to be run.
    pub(crate) fn gone(&self) -> bool {
        self.gate.as_ref().is_some_and(|g| g.closed())
    }

    /// Whether a statement sent now ends before the request times out
    /// ([`Gate::on_time`]).
    pub(crate) fn on_time(&self, statement_timeout: Duration) -> bool {
        self.gate
            .as_ref()
            .is_none_or(|g| g.on_time(statement_timeout))
    }

    /// Takes the write past its gate into the writer's commit: `false` when the
    /// request was answered 503, and then the write must not be run.
    pub(crate) fn take(&mut self) -> bool {
        match pass(self.gate.as_ref()) {
            Ok(committing) => {
                self.committing = committing;
                true
            }
            Err(_) => false,
        }
    }

    /// Gives a taken write back before anything of it committed.
    pub(crate) fn untake(&mut self) {
        if let Some(c) = self.committing.take() {
            c.settle(false);
        }
    }

    /// Settles a taken write by `outcome` before its caller hears it, so a request
    /// that times out meanwhile knows ([`committed`]); gives `outcome` back.
    pub(crate) fn settle<T>(self, outcome: Result<T, sqlx::Error>) -> Result<T, sqlx::Error> {
        settled(self.committing, outcome)
    }

    /// Settles a taken write that failed with `answer` (or a copy of it, which may have
    /// lost its kind), by whether the failure itself `wrote_nothing` ([`wrote_nothing`]
    /// of the original): `answer` unchanged when it did, else as unknown.
    pub(crate) fn fail<T>(
        self,
        wrote_nothing: bool,
        answer: sqlx::Error,
    ) -> Result<T, sqlx::Error> {
        if wrote_nothing {
            self.end(false);
            Err(answer)
        } else {
            self.settle(Err(answer))
        }
    }

    /// Settles a taken write whose writer knows whether it was `committed`.
    pub(crate) fn end(self, committed: bool) {
        if let Some(c) = self.committing {
            c.settle(committed);
        }
    }
}

/// Whether a write that ended with `outcome` after its commit point was committed: a
/// database error means it was not; any other failure (the connection lost during the
/// commit, say) leaves it unknown, counted as committed.
pub(crate) fn committed<T>(outcome: &Result<T, sqlx::Error>) -> bool {
    outcome.as_ref().err().is_none_or(|e| !wrote_nothing(e))
}

/// Whether a write that failed with `e` certainly wrote nothing: the database refused
/// or cancelled it, or it never got a connection.
pub(crate) fn wrote_nothing(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::Database(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed
    )
}

/// Settles `committing` (if any) by `outcome`, and gives `outcome` back. A failure
/// that leaves the write's outcome unknown (the connection lost after the write was
/// sent) comes back as such, an error the API answers 500 without `Retry-After`: as
/// the 503 it would otherwise be, it would invite the client to write it twice.
pub(crate) fn settled<T>(
    committing: Option<Committing>,
    outcome: Result<T, sqlx::Error>,
) -> Result<T, sqlx::Error> {
    let Some(c) = committing else {
        return outcome;
    };
    let committed = committed(&outcome);
    c.settle(committed);
    match outcome {
        Err(e) if committed => Err(unknown_outcome(&e.to_string())),
        outcome => outcome,
    }
}

/// The failure of a write whose outcome is unknown, answered 500 without `Retry-After`;
/// counted in `shopgen_db_write_outcome_unknown_total`.
fn unknown_outcome(why: &str) -> sqlx::Error {
    metrics::counter!("shopgen_db_write_outcome_unknown_total").increment(1);
    sqlx::Error::Protocol(format!(
        "the write was sent, then this failure left unknown whether it was committed: {why}"
    ))
}

/// What a write handed to a group writer is answered when the writer dropped it
/// without an answer (it stopped, or panicked): unknown if it had been taken into a
/// commit (its request's gate then counts a write as committed), else not written.
pub(crate) fn dropped_write() -> sqlx::Error {
    let taken = gate().is_some_and(|g| g.state.load(Ordering::Acquire) & COMMITTED != 0);
    if taken {
        unknown_outcome("the writer stopped without an answer")
    } else {
        sqlx::Error::PoolClosed
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
    fn the_gate_closes_unless_a_write_is_committing_or_committed() {
        let gate = Arc::new(Gate::default());
        assert_eq!(gate.close(), Closing::Closed, "nothing written");
        assert!(gate.closed());
        assert!(pass(Some(&gate)).is_err(), "closed: nothing commits");

        // Two writes at once (an extension may join them).
        let gate = Arc::new(Gate::default());
        let first = pass(Some(&gate)).unwrap().unwrap();
        let second = pass(Some(&gate)).unwrap().unwrap();
        assert_eq!(gate.close(), Closing::Committing);
        first.settle(false);
        assert_eq!(
            gate.close(),
            Closing::Committing,
            "the second still commits"
        );
        second.settle(false);
        assert_eq!(gate.close(), Closing::Closed, "neither was written");

        let gate = Arc::new(Gate::default());
        pass(Some(&gate)).unwrap().unwrap().settle(true);
        assert_eq!(
            gate.close(),
            Closing::Committed,
            "a 503 would hide the write"
        );
        assert!(!gate.closed(), "later writes of the request still commit");

        // A writer that lost its write: unknown, so not a 503.
        let gate = Arc::new(Gate::default());
        drop(pass(Some(&gate)).unwrap());
        assert_eq!(gate.close(), Closing::Committed);

        assert!(pass(None).unwrap().is_none(), "outside a request");
    }

    /// A write that failed after its commit point: a database error wrote nothing
    /// (the refusal's own answer, or 503 for a transient one); a lost connection leaves
    /// it unknown, answered 500 without `Retry-After`, never 503.
    #[test]
    fn a_write_whose_outcome_is_unknown_is_not_answered_503() {
        use crate::error::ApiError;
        use axum::response::IntoResponse;
        let answer = |e: sqlx::Error| {
            let gate = Arc::new(Gate::default());
            let committing = pass(Some(&gate)).unwrap();
            let e = settled::<()>(committing, Err(e)).unwrap_err();
            let response = ApiError::from(e).into_response();
            let retry = response.headers().contains_key("retry-after");
            (response.status().as_u16(), retry, gate.close())
        };
        let lost = sqlx::Error::Io(std::io::Error::other("connection reset"));
        assert_eq!(answer(lost), (500, false, Closing::Committed));
        // Outside the gate (nothing was sent), the same failure stays 503.
        let lost = sqlx::Error::Io(std::io::Error::other("connection reset"));
        let e = settled::<()>(None, Err(lost)).unwrap_err();
        assert_eq!(ApiError::from(e).status().as_u16(), 503);
        assert_eq!(
            answer(sqlx::Error::PoolTimedOut),
            (503, true, Closing::Closed)
        );
    }

    /// A write a group writer dropped without an answer: not written unless it had
    /// been taken into a commit (its guard, dropped unsettled, counts as committed).
    #[tokio::test]
    async fn a_dropped_write_is_unknown_only_once_taken() {
        let gate = Arc::new(Gate::default());
        scope(Duration::from_secs(1), Arc::clone(&gate), async {
            assert!(matches!(dropped_write(), sqlx::Error::PoolClosed));
            let mut ticket = Ticket::current().unwrap();
            assert!(ticket.take());
            drop(ticket);
            assert!(matches!(dropped_write(), sqlx::Error::Protocol(_)));
        })
        .await;
        assert_eq!(gate.close(), Closing::Committed);
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
