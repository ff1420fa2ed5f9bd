//! The response cache: whole `200` responses of `GET` routes, kept per path and query,
//! served again only while no table they were built from has changed.
//!
//! # How a request goes
//!
//! 1. Read every table's current version ([`crate::versions`]; one small statement,
//!    or on PostgreSQL a share of one, see below). The read starts after the request
//!    arrived, so it counts every write acknowledged before that.
//! 2. An entry for the same path and query whose stored versions are all still
//!    current is the answer: no write to any table it read has committed since it was
//!    built, and it contains every write those versions count.
//! 3. Otherwise the handler runs, its statements recording the tables they read
//!    (module `reads`); a `200` that read only known tables is stored with the
//!    versions of step 1, which were read before any of its queries.
//!
//! Nested JSON is covered the same way: `GET /products` reads `products` and `reviews`,
//! so a new review invalidates it. So are writes from other replicas and other tools,
//! since the versions live in the database and are raised by triggers.
//!
//! Misses are built once: a request that misses while another request is building
//! the same path and query *from the same versions* waits for that build and answers
//! with its result, instead of running the handler again. Same versions mean no
//! write was acknowledged between the two requests' version reads, so the build,
//! whose queries ran after its own read, contains every write the waiting request
//! must see. Under a read load with writes in between (every write invalidates the
//! list), the first reader after a write rebuilds and the others wait for it, instead
//! of every connection rebuilding the same body at once. A build that ends without an
//! entry (not cacheable, cancelled) lets its waiters run the handler themselves.
//!
//! On PostgreSQL the version reads of concurrent requests are shared: a request waits
//! for the next read that *starts* after it arrived (never one already in flight), so
//! under load one round trip answers every request that arrived during the previous
//! one. On SQLite the read runs in place (a few microseconds).
//!
//! # What is not cached
//!
//! Anything but `GET`; requests with conditional or range headers (`If-None-Match`,
//! `If-Modified-Since`, `If-Match`, `If-Unmodified-Since`, `If-Range`, `Range`), which
//! are answered by the handlers and whatever layers sit around this one; responses
//! other than `200`, with `Vary` or `Set-Cookie`, from a handler that read no table or
//! a statement whose tables are unknown; and bodies larger than an eighth of the size
//! cap. When the versions cannot be read (database busy or unreachable), the request
//! is answered without the cache.
//!
//! Headers the handler (or a layer inside this one) sets are stored with the body. A
//! stored response gets its `ETag` ([`crate::conditional::etag`], the same tag the
//! conditional layer outside would compute from the same bytes) when it is stored, so
//! the tag of a cached body is computed once, not on every hit.
//!
//! # Memory
//!
//! `RESPONSE_CACHE_BYTES` (default 32 MiB; `0` turns the cache off) caps the sum of
//! the stored bodies, keys, headers and bookkeeping; the oldest stored entries are
//! dropped first when a new one would exceed it.

use crate::db::{Db, Engine};
use crate::reads;
use crate::versions::{self, Versions};
use axum::body::Body;
use axum::body::HttpBody as _;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body_util::BodyExt as _;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::{oneshot, watch};

/// The default of `RESPONSE_CACHE_BYTES`.
pub const DEFAULT_MAX_BYTES: usize = 32 * 1024 * 1024;

/// Bookkeeping counted per entry besides its key, headers and body.
const ENTRY_OVERHEAD: usize = 160;

/// Cached responses of one service.
pub struct ResponseCache {
    db: Db,
    max_bytes: usize,
    versions: Option<Arc<SharedReads>>,
    entries: Mutex<Entries>,
    /// Misses being built, by key: the versions each build started from and where
    /// its entry will be announced.
    building: Mutex<HashMap<Box<str>, Build>>,
    next_build: std::sync::atomic::AtomicU64,
}

struct Build {
    id: u64,
    versions: Arc<Versions>,
    done: watch::Receiver<Option<Arc<Entry>>>,
}

/// Removes its build from [`ResponseCache::building`] when the build ends, however
/// it ends (stored, not cacheable, or its request dropped).
struct Building<'a> {
    cache: &'a ResponseCache,
    key: Box<str>,
    id: u64,
    done: watch::Sender<Option<Arc<Entry>>>,
}

impl Drop for Building<'_> {
    fn drop(&mut self) {
        if let Ok(mut building) = self.cache.building.lock()
            && building.get(&self.key).is_some_and(|b| b.id == self.id)
        {
            building.remove(&self.key);
        }
    }
}

#[derive(Default)]
struct Entries {
    map: HashMap<Box<str>, Arc<Entry>>,
    /// Keys in the order they were stored, with the sequence number of that store
    /// (a key stored again leaves its older position behind, skipped on eviction).
    order: VecDeque<(Box<str>, u64)>,
    bytes: usize,
    next: u64,
}

struct Entry {
    seq: u64,
    size: usize,
    /// The version of every table the response was built from.
    read: Vec<(String, i64)>,
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Entry {
    fn is_current(&self, now: &Versions) -> bool {
        self.read
            .iter()
            .all(|(table, v)| now.get(table) == Some(*v))
    }

    fn response(&self) -> Response {
        let mut response = Response::new(Body::from(self.body.clone()));
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers.clone();
        response
    }
}

impl ResponseCache {
    /// A cache of at most `max_bytes` over `db`.
    pub fn new(db: Db, max_bytes: usize) -> Self {
        let versions = match db.engine() {
            Engine::Postgres => Some(Arc::new(SharedReads {
                db: db.clone(),
                waiting: Mutex::new(Waiting::default()),
            })),
            Engine::Sqlite => None,
        };
        ResponseCache {
            db,
            max_bytes,
            versions,
            entries: Mutex::new(Entries::default()),
            building: Mutex::new(HashMap::new()),
            next_build: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// A build of `key` from exactly `now` that is under way, to wait for; or, when
    /// there is none, this request's own build, announced to later requests.
    fn join_or_build(&self, key: &str, now: &Arc<Versions>) -> Joined<'_> {
        let Ok(mut building) = self.building.lock() else {
            return Joined::Alone;
        };
        if let Some(build) = building.get(key)
            && (Arc::ptr_eq(&build.versions, now) || *build.versions == **now)
        {
            return Joined::Wait(build.done.clone());
        }
        let id = self
            .next_build
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (done, receiver) = watch::channel(None);
        building.insert(
            key.into(),
            Build {
                id,
                versions: Arc::clone(now),
                done: receiver,
            },
        );
        Joined::Build(Building {
            cache: self,
            key: key.into(),
            id,
            done,
        })
    }

    /// Bytes currently counted against the cap.
    pub fn bytes(&self) -> usize {
        self.entries.lock().map(|e| e.bytes).unwrap_or(0)
    }

    async fn versions(&self) -> Option<Arc<Versions>> {
        match &self.versions {
            Some(shared) => shared.next().await,
            None => versions::read(&self.db).await.ok(),
        }
    }

    fn lookup(&self, key: &str) -> Option<Arc<Entry>> {
        self.entries.lock().ok()?.map.get(key).cloned()
    }

    /// Stores `entry` under `key` (dropping the oldest entries past the cap); the
    /// stored entry, `None` when it is too large to keep.
    fn store(&self, key: Box<str>, mut entry: Entry) -> Option<Arc<Entry>> {
        let headers: usize = entry
            .headers
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len() + 32)
            .sum();
        let read: usize = entry.read.iter().map(|(t, _)| t.len() + 32).sum();
        entry.size = key.len() + entry.body.len() + headers + read + ENTRY_OVERHEAD;
        if entry.size > self.max_bytes / 8 {
            return None;
        }
        let Ok(mut entries) = self.entries.lock() else {
            return None;
        };
        let entries = &mut *entries;
        entry.seq = entries.next;
        entries.next += 1;
        entries.bytes += entry.size;
        entries.order.push_back((key.clone(), entry.seq));
        let entry = Arc::new(entry);
        if let Some(old) = entries.map.insert(key, Arc::clone(&entry)) {
            entries.bytes -= old.size;
        }
        while entries.bytes > self.max_bytes {
            let Some((key, seq)) = entries.order.pop_front() else {
                break;
            };
            if entries.map.get(&key).is_some_and(|e| e.seq == seq)
                && let Some(old) = entries.map.remove(&key)
            {
                entries.bytes -= old.size;
            }
        }
        if entries.order.len() > 2 * entries.map.len() + 64 {
            let map = &entries.map;
            entries
                .order
                .retain(|(key, seq)| map.get(key).is_some_and(|e| e.seq == *seq));
        }
        Some(entry)
    }
}

/// Version reads shared by the requests that arrive while one is in flight.
struct SharedReads {
    db: Db,
    waiting: Mutex<Waiting>,
}

#[derive(Default)]
struct Waiting {
    /// A task is reading versions (and will read again for anyone waiting after it).
    running: bool,
    waiters: Vec<oneshot::Sender<Option<Arc<Versions>>>>,
}

impl SharedReads {
    /// The versions as read by a statement that started after this call.
    async fn next(self: &Arc<Self>) -> Option<Arc<Versions>> {
        let (tx, rx) = oneshot::channel();
        let start = {
            let mut waiting = self.waiting.lock().ok()?;
            waiting.waiters.push(tx);
            !std::mem::replace(&mut waiting.running, true)
        };
        if start {
            let shared = Arc::clone(self);
            tokio::spawn(async move { shared.run().await });
        }
        // The read runs in a task of its own, outside the request's acquire budget:
        // the wait for it spends from that budget as a wait for a connection would.
        crate::db::budget::within(rx).await?.ok().flatten()
    }

    /// Reads for everyone waiting, until no one is: each read serves the requests
    /// registered before it started.
    async fn run(&self) {
        loop {
            let batch = {
                let Ok(mut waiting) = self.waiting.lock() else {
                    return;
                };
                if waiting.waiters.is_empty() {
                    waiting.running = false;
                    return;
                }
                std::mem::take(&mut waiting.waiters)
            };
            let versions = versions::read(&self.db).await.ok();
            for tx in batch {
                let _ = tx.send(versions.clone());
            }
        }
    }
}

/// Request headers that make a response depend on more than path and query.
const BYPASS: [header::HeaderName; 6] = [
    header::IF_NONE_MATCH,
    header::IF_MODIFIED_SINCE,
    header::IF_MATCH,
    header::IF_UNMODIFIED_SINCE,
    header::IF_RANGE,
    header::RANGE,
];

/// What the cache did with a request, counted in `shopgen_response_cache_total{result}`.
#[derive(Clone, Copy)]
enum Outcome {
    Hit,
    Miss,
    Unavailable,
    /// A miss answered by another request's build of the same response.
    Shared,
}

/// The counters' handles, each looked up in the registry at its first use (the layer
/// runs only once the server, and so the recorder, is up), not per request.
static OUTCOMES: [std::sync::OnceLock<metrics::Counter>; 4] =
    [const { std::sync::OnceLock::new() }; 4];

fn outcome(result: Outcome) {
    let label = match result {
        Outcome::Hit => "hit",
        Outcome::Miss => "miss",
        Outcome::Unavailable => "unavailable",
        Outcome::Shared => "shared",
    };
    OUTCOMES[result as usize]
        .get_or_init(|| metrics::counter!("shopgen_response_cache_total", "result" => label))
        .increment(1);
}

/// What a missing request does: wait for a build of the same response, build it
/// itself (and announce the entry), or, when the bookkeeping is unusable, just run.
enum Joined<'a> {
    Wait(watch::Receiver<Option<Arc<Entry>>>),
    Build(Building<'a>),
    Alone,
}

/// The middleware (`axum::middleware::from_fn_with_state`) around the generated routes.
pub async fn layer(
    State(cache): State<Arc<ResponseCache>>,
    request: Request,
    next: Next,
) -> Response {
    // One pass over the request's few headers (a lookup of each of the six names
    // would hash each of them). An answer for one verified caller (a route that takes
    // a user token, see `crate::identity`) is never kept for another.
    if request.method() != Method::GET
        || request.headers().keys().any(|h| BYPASS.contains(h))
        || request
            .extensions()
            .get::<crate::identity::PerCaller>()
            .is_some()
    {
        return next.run(request).await;
    }
    let Some(now) = cache.versions().await else {
        outcome(Outcome::Unavailable);
        return next.run(request).await;
    };
    let key = request
        .uri()
        .path_and_query()
        .map_or_else(|| request.uri().path(), |pq| pq.as_str());
    if let Some(entry) = cache.lookup(key)
        && entry.is_current(&now)
    {
        outcome(Outcome::Hit);
        return entry.response();
    }
    let building = match cache.join_or_build(key, &now) {
        Joined::Wait(mut done) => {
            // `wait_for` sees the value even when it was sent before this call; an
            // error means the build ended without an entry.
            if let Ok(entry) = done.wait_for(Option::is_some).await
                && let Some(entry) = entry.as_ref()
            {
                outcome(Outcome::Shared);
                return entry.response();
            }
            None
        }
        Joined::Build(building) => Some(building),
        Joined::Alone => None,
    };
    outcome(Outcome::Miss);
    let key: Box<str> = key.into();
    let (response, read) = reads::tracking(next.run(request)).await;
    if response.status() != StatusCode::OK
        || !read.cacheable()
        || response.headers().contains_key(header::VARY)
        || response.headers().contains_key(header::SET_COOKIE)
    {
        return response;
    }
    let Some(read) = read
        .tables
        .into_iter()
        .map(|t| now.get(&t).map(|v| (t, v)))
        .collect::<Option<Vec<_>>>()
    else {
        return response;
    };
    let fits = response
        .body()
        .size_hint()
        .exact()
        .is_some_and(|n| n <= (cache.max_bytes / 8) as u64);
    if !fits {
        return response;
    }
    let (parts, body) = response.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            return crate::error::ApiError::Internal(format!("cannot read the response: {e}"))
                .into_response();
        }
    };
    let mut parts = parts;
    if !parts.headers.contains_key(header::ETAG) {
        parts
            .headers
            .insert(header::ETAG, crate::conditional::etag(&body));
    }
    let entry = cache.store(
        key,
        Entry {
            seq: 0,
            size: 0,
            read,
            status: parts.status,
            headers: parts.headers.clone(),
            body: body.clone(),
        },
    );
    if let (Some(building), Some(entry)) = (building, entry) {
        let _ = building.done.send(Some(entry));
    }
    Response::from_parts(parts, Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(body: usize) -> Entry {
        Entry {
            seq: 0,
            size: 0,
            read: vec![("products".into(), 1)],
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Bytes::from(vec![b'x'; body]),
        }
    }

    fn cache(max_bytes: usize) -> ResponseCache {
        ResponseCache::new(Db::unconnected_sqlite(), max_bytes)
    }

    #[tokio::test]
    async fn stays_under_its_size_cap_dropping_the_oldest() {
        let cache = cache(64 * 1024);
        for i in 0..100 {
            cache.store(format!("/things?offset={i}").into(), entry(1000));
            assert!(cache.bytes() <= 64 * 1024, "{} after {i}", cache.bytes());
        }
        assert!(cache.lookup("/things?offset=0").is_none());
        assert!(cache.lookup("/things?offset=99").is_some());
        // Storing one key over and over keeps one entry and bounded bookkeeping.
        for _ in 0..1000 {
            cache.store("/same".into(), entry(10));
        }
        let entries = cache.entries.lock().expect("lock");
        assert!(entries.order.len() <= 2 * entries.map.len() + 65);
    }

    #[tokio::test]
    async fn refuses_entries_above_an_eighth_of_the_cap() {
        let cache = cache(8 * 1024);
        cache.store("/big".into(), entry(2000));
        assert!(cache.lookup("/big").is_none());
        cache.store("/small".into(), entry(100));
        assert!(cache.lookup("/small").is_some());
    }

    #[test]
    fn an_entry_is_current_while_every_table_it_read_is() {
        let mut e = entry(1);
        e.read = vec![("products".into(), 3), ("reviews".into(), 7)];
        let now = |p, r| Versions::from_pairs(vec![("products".into(), p), ("reviews".into(), r)]);
        assert!(e.is_current(&now(3, 7)));
        assert!(!e.is_current(&now(4, 7)));
        assert!(!e.is_current(&now(3, 8)));
        assert!(!e.is_current(&Versions::from_pairs(vec![("products".into(), 3)])));
    }
}
