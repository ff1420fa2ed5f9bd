//! No stale reads with the response cache on: two `shop-backend` processes on one
//! database (PostgreSQL, and a SQLite file), concurrent writers and readers going to
//! either process at random. Every read must show every write that was acknowledged
//! before the read was sent: creations, title changes, deletes, cascaded deletes, and
//! reviews embedded in `GET /products` and `GET /products/{id}`.
//!
//! Time is one atomic counter. A writer records the tick at which each write was sent
//! and the tick at which its acknowledgement arrived; a reader takes a tick before it
//! sends and one after the answer. A fact acknowledged before the reader's first tick
//! must be visible; a write sent after its last tick cannot be. Writes in between (in
//! flight during the read) may show either way and are not checked. Each writer owns
//! its products and reviews, so their states are a simple history.

use crate::support::{Postgres, Server};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

const WRITERS: usize = 3;
const WRITES_EACH: usize = 150;
const READERS: usize = 4;
const READS_EACH: usize = 400;

#[derive(Debug, Clone)]
struct Product {
    id: i64,
    /// `w{writer}-p{n}`: the part of the title that never changes.
    key: String,
    created: u64,
    /// (tick acknowledged, version in the title `…-v{version}`), in order.
    versions: Vec<(u64, u32)>,
    delete_sent: Option<u64>,
    deleted: Option<u64>,
}

#[derive(Debug, Clone)]
struct Review {
    id: i64,
    product: String,
    created: u64,
    delete_sent: Option<u64>,
    deleted: Option<u64>,
}

#[derive(Default)]
struct History {
    products: HashMap<String, Product>,
    reviews: HashMap<i64, Review>,
}

struct World {
    clock: AtomicU64,
    history: Mutex<History>,
    replicas: Vec<String>,
    client: reqwest::Client,
    violations: Mutex<Vec<String>>,
    reads: AtomicU64,
    writes: AtomicU64,
}

impl World {
    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::SeqCst)
    }

    /// Records a fact under the history lock, stamped with the tick of its recording
    /// (after the acknowledgement arrived).
    fn record(&self, f: impl FnOnce(&mut History, u64)) {
        let mut history = self.history.lock().expect("history");
        let t = self.tick();
        f(&mut history, t);
    }

    fn violation(&self, message: String) {
        self.violations.lock().expect("violations").push(message);
    }

    async fn send(
        &self,
        method: reqwest::Method,
        replica: usize,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value, Option<String>) {
        let url = format!("{}{path}", self.replicas[replica]);
        let mut request = self.client.request(method, &url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = response.text().await.expect("body");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {text}"))
        };
        (status, value, location)
    }
}

/// The version in a title `w1-p2-v3`, and its key `w1-p2`.
fn split_title(title: &str) -> (String, u32) {
    let (key, version) = title.rsplit_once("-v").expect("title with a version");
    (key.to_string(), version.parse().expect("version"))
}

/// The smallest title version a read that started at `start` may show.
fn required_version(p: &Product, start: u64) -> Option<u32> {
    p.versions
        .iter()
        .filter(|(t, _)| *t < start)
        .map(|(_, v)| *v)
        .max()
}

fn must_exist(created: u64, delete_sent: Option<u64>, start: u64, end: u64) -> bool {
    created < start && delete_sent.is_none_or(|d| d > end)
}

/// Checks one product as shown by a read from `start` to `end`: its version and its
/// embedded reviews.
fn check_product(
    world: &World,
    what: &str,
    p: &Product,
    shown_version: u32,
    shown_reviews: &[i64],
    history: &History,
    (start, end): (u64, u64),
) {
    if let Some(min) = required_version(p, start)
        && shown_version < min
    {
        world.violation(format!(
            "{what}: {} shows version {shown_version}, version {min} was acknowledged before",
            p.key
        ));
    }
    for r in history.reviews.values().filter(|r| r.product == p.key) {
        let shown = shown_reviews.contains(&r.id);
        let gone = r.deleted.is_some_and(|d| d < start);
        // A product deleted during the read may be shown without its reviews: the
        // product and its reviews are two statements, and the cascade can commit
        // between them.
        let delete_sent = r.delete_sent.into_iter().chain(p.delete_sent).min();
        if must_exist(r.created, delete_sent, start, end) && !shown {
            world.violation(format!(
                "{what}: review {} of {} was acknowledged before the read and is missing",
                r.id, p.key
            ));
        }
        if gone && shown {
            world.violation(format!(
                "{what}: review {} of {} was deleted before the read and is still shown",
                r.id, p.key
            ));
        }
    }
}

fn review_ids(product: &Value) -> Vec<i64> {
    product["reviews"]
        .as_array()
        .expect("reviews")
        .iter()
        .map(|r| r["id"].as_i64().expect("review id"))
        .collect()
}

/// `GET /products?limit=1000` on `replica`, checked against the history.
async fn read_list(world: &World, replica: usize) {
    let start = world.tick();
    let (status, body, _) = world
        .send(reqwest::Method::GET, replica, "/products?limit=1000", None)
        .await;
    let end = world.tick();
    world.reads.fetch_add(1, Ordering::Relaxed);
    assert_eq!(status, 200, "{body}");
    let mut shown: HashMap<String, (u32, Vec<i64>)> = HashMap::new();
    for product in body["products"].as_array().expect("products") {
        let (key, version) = split_title(product["title"].as_str().expect("title"));
        shown.insert(key, (version, review_ids(product)));
    }
    let history = world.history.lock().expect("history");
    let what = format!("GET /products on replica {replica}");
    for p in history.products.values() {
        match shown.get(&p.key) {
            Some((version, reviews)) => {
                if p.deleted.is_some_and(|d| d < start) {
                    world.violation(format!("{what}: {} was deleted before the read", p.key));
                }
                check_product(world, &what, p, *version, reviews, &history, (start, end));
            }
            None => {
                if must_exist(p.created, p.delete_sent, start, end) {
                    world.violation(format!(
                        "{what}: {} was acknowledged before the read and is missing",
                        p.key
                    ));
                }
            }
        }
    }
}

/// `GET /products/{id}` of a random product on `replica`.
async fn read_one(world: &World, replica: usize, pick: usize) {
    let product = {
        let history = world.history.lock().expect("history");
        let mut all: Vec<&Product> = history.products.values().collect();
        if all.is_empty() {
            return;
        }
        all.sort_by_key(|p| p.id);
        all[pick % all.len()].clone()
    };
    let start = world.tick();
    let (status, body, _) = world
        .send(
            reqwest::Method::GET,
            replica,
            &format!("/products/{}", product.id),
            None,
        )
        .await;
    let end = world.tick();
    world.reads.fetch_add(1, Ordering::Relaxed);
    let history = world.history.lock().expect("history");
    let p = &history.products[&product.key];
    let what = format!("GET /products/{} on replica {replica}", p.id);
    match status {
        200 => {
            if p.deleted.is_some_and(|d| d < start) {
                world.violation(format!("{what}: deleted before the read, still 200"));
            }
            let (_, version) = split_title(body["product"]["title"].as_str().expect("title"));
            let reviews = review_ids(&body["product"]);
            check_product(world, &what, p, version, &reviews, &history, (start, end));
        }
        404 => {
            if must_exist(p.created, p.delete_sent, start, end) {
                world.violation(format!("{what}: 404 for a product acknowledged before"));
            }
        }
        other => panic!("{what}: status {other}: {body}"),
    }
}

/// `GET /reviews?limit=1000` on `replica`: deleted reviews, also by cascade, are gone.
async fn read_reviews(world: &World, replica: usize) {
    let start = world.tick();
    let (status, body, _) = world
        .send(reqwest::Method::GET, replica, "/reviews?limit=1000", None)
        .await;
    let end = world.tick();
    world.reads.fetch_add(1, Ordering::Relaxed);
    assert_eq!(status, 200, "{body}");
    let shown: Vec<i64> = body["reviews"]
        .as_array()
        .expect("reviews")
        .iter()
        .map(|r| r["id"].as_i64().expect("id"))
        .collect();
    let history = world.history.lock().expect("history");
    let what = format!("GET /reviews on replica {replica}");
    for r in history.reviews.values() {
        let product = &history.products[&r.product];
        let delete_sent = r.delete_sent.into_iter().chain(product.delete_sent).min();
        let deleted = r.deleted.into_iter().chain(product.deleted).min();
        let is_shown = shown.contains(&r.id);
        if must_exist(r.created, delete_sent, start, end) && !is_shown {
            world.violation(format!(
                "{what}: review {} acknowledged before, missing",
                r.id
            ));
        }
        if deleted.is_some_and(|d| d < start) && is_shown {
            world.violation(format!(
                "{what}: review {} deleted before, still shown",
                r.id
            ));
        }
    }
}

/// A small deterministic generator (xorshift), one per task.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One writer: creates, renames and deletes its own products and reviews, each on a
/// random replica, then reads the list on the other replica at once.
async fn writer(world: Arc<World>, w: usize) {
    let mut dice = Dice(0x9E37_79B9_7F4A_7C15 ^ (w as u64 + 1));
    let mut n = 0;
    for _ in 0..WRITES_EACH {
        let replica = dice.below(world.replicas.len());
        let (live, reviews): (Vec<Product>, Vec<Review>) = {
            let h = world.history.lock().expect("history");
            let prefix = format!("w{w}-");
            let live: Vec<Product> = h
                .products
                .values()
                .filter(|p| p.key.starts_with(&prefix) && p.delete_sent.is_none())
                .cloned()
                .collect();
            let reviews = h
                .reviews
                .values()
                .filter(|r| {
                    r.product.starts_with(&prefix)
                        && r.delete_sent.is_none()
                        && h.products[&r.product].delete_sent.is_none()
                })
                .cloned()
                .collect();
            (live, reviews)
        };
        let roll = dice.below(100);
        if live.is_empty() || roll < 20 {
            let key = format!("w{w}-p{n}");
            n += 1;
            let (status, body, location) = world
                .send(
                    reqwest::Method::POST,
                    replica,
                    "/products",
                    Some(json!({"title": format!("{key}-v0"), "price": "9.99"})),
                )
                .await;
            assert_eq!(status, 201, "{body}");
            let id: i64 = location
                .and_then(|l| l.rsplit('/').next().and_then(|n| n.parse().ok()))
                .unwrap_or_else(|| panic!("no Location in the 201: {body}"));
            world.record(|h, t| {
                h.products.insert(
                    key.clone(),
                    Product {
                        id,
                        key,
                        created: t,
                        versions: vec![(t, 0)],
                        delete_sent: None,
                        deleted: None,
                    },
                );
            });
        } else if roll < 60 {
            let p = &live[dice.below(live.len())];
            let (status, body, _) = world
                .send(
                    reqwest::Method::POST,
                    replica,
                    &format!("/products/{}/reviews", p.id),
                    Some(json!({"name": "n", "message": format!("of {}", p.key), "rate": 4})),
                )
                .await;
            assert_eq!(status, 201, "{body}");
            let id = body["review"]["id"].as_i64().expect("review id");
            let product = p.key.clone();
            world.record(|h, t| {
                h.reviews.insert(
                    id,
                    Review {
                        id,
                        product,
                        created: t,
                        delete_sent: None,
                        deleted: None,
                    },
                );
            });
        } else if roll < 75 {
            let p = &live[dice.below(live.len())];
            let version = p.versions.last().map_or(0, |(_, v)| v + 1);
            let (status, body, _) = world
                .send(
                    reqwest::Method::PATCH,
                    replica,
                    &format!("/products/{}", p.id),
                    Some(json!({"title": format!("{}-v{version}", p.key)})),
                )
                .await;
            assert_eq!(status, 200, "{body}");
            let key = p.key.clone();
            world.record(|h, t| {
                if let Some(p) = h.products.get_mut(&key) {
                    p.versions.push((t, version));
                }
            });
        } else if roll < 90 && !reviews.is_empty() {
            let r = &reviews[dice.below(reviews.len())];
            let id = r.id;
            world.record(|h, t| {
                if let Some(r) = h.reviews.get_mut(&id) {
                    r.delete_sent = Some(t);
                }
            });
            let (status, body, _) = world
                .send(
                    reqwest::Method::DELETE,
                    replica,
                    &format!("/reviews/{id}"),
                    None,
                )
                .await;
            assert_eq!(status, 204, "{body}");
            world.record(|h, t| {
                if let Some(r) = h.reviews.get_mut(&id) {
                    r.deleted = Some(t);
                }
            });
        } else {
            let p = &live[dice.below(live.len())];
            let key = p.key.clone();
            world.record(|h, t| {
                if let Some(p) = h.products.get_mut(&key) {
                    p.delete_sent = Some(t);
                }
            });
            let (status, body, _) = world
                .send(
                    reqwest::Method::DELETE,
                    replica,
                    &format!("/products/{}", p.id),
                    None,
                )
                .await;
            assert_eq!(status, 204, "{body}");
            world.record(|h, t| {
                if let Some(p) = h.products.get_mut(&key) {
                    p.deleted = Some(t);
                }
            });
        }
        world.writes.fetch_add(1, Ordering::Relaxed);
        // At once, on the other replica.
        read_list(&world, (replica + 1) % world.replicas.len()).await;
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}

async fn reader(world: Arc<World>, r: usize) {
    let mut dice = Dice(0xD1B5_4A32_D192_ED03 ^ (r as u64 + 7));
    for _ in 0..READS_EACH {
        let replica = dice.below(world.replicas.len());
        match dice.below(10) {
            0..=4 => read_list(&world, replica).await,
            5..=8 => read_one(&world, replica, dice.below(1000)).await,
            _ => read_reviews(&world, replica).await,
        }
    }
}

fn cache_hits(server: &Server) -> u64 {
    let text = crate::support::Http::default()
        .get(&server.url("/metrics"))
        .body;
    text.lines()
        .find(|l| l.starts_with("shopgen_response_cache_total") && l.contains("result=\"hit\""))
        .and_then(|l| l.rsplit(' ').next())
        .map_or(0, |n| n.trim().parse::<f64>().expect("number") as u64)
}

fn no_stale_reads(servers: &[Server]) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let world = Arc::new(World {
        clock: AtomicU64::new(1),
        history: Mutex::new(History::default()),
        replicas: servers.iter().map(|s| s.base.clone()).collect(),
        client: reqwest::Client::new(),
        violations: Mutex::new(Vec::new()),
        reads: AtomicU64::new(0),
        writes: AtomicU64::new(0),
    });
    let hits_before: u64 = servers.iter().map(cache_hits).sum();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for w in 0..WRITERS {
            tasks.push(tokio::spawn(writer(world.clone(), w)));
        }
        for r in 0..READERS {
            tasks.push(tokio::spawn(reader(world.clone(), r)));
        }
        for t in tasks {
            t.await.expect("task");
        }
    });
    let hits = servers.iter().map(cache_hits).sum::<u64>() - hits_before;
    let reads = world.reads.load(Ordering::Relaxed);
    let writes = world.writes.load(Ordering::Relaxed);
    let violations = world.violations.lock().expect("violations");
    eprintln!(
        "{writes} writes, {reads} checked reads, {hits} answered from the cache, {} stale",
        violations.len()
    );
    assert!(
        violations.is_empty(),
        "{} stale reads in {reads} reads, first ones:\n{}",
        violations.len(),
        violations[..violations.len().min(20)].join("\n")
    );
    assert_eq!(writes as usize, WRITERS * WRITES_EACH);
    assert!(reads as usize >= READERS * READS_EACH);
    // The check is only worth something if the cache answered some of the reads.
    assert!(hits >= 100, "only {hits} cache hits in {reads} reads");
}

#[test]
fn no_stale_reads_across_two_replicas_on_postgres() {
    let pg = Postgres::shared();
    let url = pg.fresh_database();
    let a = Server::start(&url, &[]);
    let b = Server::start(&url, &[]);
    no_stale_reads(&[a, b]);
}

#[test]
fn no_stale_reads_across_two_processes_on_sqlite() {
    let a = Server::sqlite();
    let b = Server::start(&a.database_url, &[]);
    no_stale_reads(&[a, b]);
}
