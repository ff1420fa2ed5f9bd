//! The service around the generated routes: settings, startup, telemetry, shutdown.
//!
//! A generated `main` declares its [`Service`] (defaults from the spec, embedded
//! migrations and API document) and calls [`run`] with its route table. `run` parses
//! the settings (flags or environment; `--help` lists them all), then either applies
//! the migrations and exits (`migrate`), or serves (the default, also `serve`):
//!
//! 1. JSON logs to stdout (`LOG_LEVEL`, `LOG_FORMAT`), a Prometheus recorder;
//! 2. connects to `DATABASE_URL`, retrying for `DATABASE_CONNECT_TIMEOUT_SECONDS`,
//!    and applies pending migrations;
//! 3. serves the routes plus `/healthz`, `/readyz`, `/metrics` and `/openapi.json`,
//!    each request with an id (`X-Request-Id`, kept when the client sends a sane one),
//!    one access-log line, request metrics, and HTTP caching headers (`ETag`, `304`,
//!    `Cache-Control`; see [`crate::conditional`]);
//! 4. on SIGTERM or Ctrl-C: `/readyz` turns 503, the listener closes, in-flight
//!    requests finish (up to `DRAIN_SECONDS`), the pool closes, exit 0.

use crate::cache::ResponseCache;
use crate::conditional::{CachePolicies, conditional};
use crate::db::{ConnectOptions, Db, SqliteSync};
use crate::error::ApiError;
pub use crate::migration::{Migration, Migrations};
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use shopgen_facts::backend::env;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tracing::Instrument;

/// What a generated backend tells the runtime about itself.
#[derive(Debug)]
pub struct Service {
    /// The package name (`shop-backend`): `--help`, logs.
    pub name: &'static str,
    /// One line for `--help`.
    pub about: &'static str,
    /// `PORT` when unset.
    pub default_port: u16,
    /// `DATABASE_URL` when unset (a SQLite file).
    pub default_database_url: &'static str,
    /// `MAX_BODY_BYTES` when unset.
    pub max_body_bytes: u64,
    /// `DRAIN_SECONDS` when unset.
    pub drain_seconds: u32,
    /// `REQUEST_TIMEOUT_MS` when unset: the spec's deadline budget.
    pub request_timeout_ms: u32,
    /// `DATABASE_ACQUIRE_TIMEOUT_MS` when unset: the spec's deadline budget.
    pub database_acquire_timeout_ms: u32,
    /// The full API document (OpenAPI, YAML), served as JSON at `/openapi.json`.
    pub openapi_yaml: &'static str,
    pub migrations: Migrations,
}

#[derive(Debug, Parser)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// TCP port to listen on.
    #[arg(long, env = env::PORT, global = true)]
    port: Option<u16>,
    /// Address to listen on (`127.0.0.1` to stay on loopback).
    #[arg(long, env = env::HOST, default_value = "0.0.0.0", global = true)]
    host: IpAddr,
    /// `sqlite://path/file.db` (created on first start) or `postgres://user:pass@host:port/db`.
    #[arg(long, env = env::DATABASE_URL, global = true)]
    database_url: Option<String>,
    /// Connections in the pool.
    #[arg(
        long,
        env = "DATABASE_MAX_CONNECTIONS",
        default_value_t = 10,
        global = true
    )]
    database_max_connections: u32,
    /// How long to keep retrying the first connection at start, in seconds.
    #[arg(
        long,
        env = "DATABASE_CONNECT_TIMEOUT_SECONDS",
        default_value_t = 30,
        global = true
    )]
    database_connect_timeout_seconds: u64,
    /// How long one request may wait for database connections in all, however many
    /// statements it runs, in milliseconds (then 503 with `Retry-After`).
    #[arg(long, env = env::DATABASE_ACQUIRE_TIMEOUT_MS, global = true)]
    database_acquire_timeout_ms: Option<u32>,
    /// SQLite commit durability: `full` (survives power loss) or `normal` (survives a
    /// killed process; faster writes).
    #[arg(
        long,
        env = "SQLITE_SYNCHRONOUS",
        value_enum,
        default_value = "full",
        global = true
    )]
    sqlite_synchronous: SqliteSync,
    /// Largest accepted request body, in bytes (larger: 413).
    #[arg(long, env = "MAX_BODY_BYTES", global = true)]
    max_body_bytes: Option<u64>,
    /// Time allowed for in-flight requests after SIGTERM, in seconds.
    #[arg(long, env = "DRAIN_SECONDS", global = true)]
    drain_seconds: Option<u32>,
    /// Requests running longer are answered 503 (with `Retry-After`), in
    /// milliseconds. The database's statement timeout is what is left of it after the
    /// acquire budget.
    #[arg(long, env = env::REQUEST_TIMEOUT_MS, global = true)]
    request_timeout_ms: Option<u32>,
    /// Memory for cached `GET` responses, in bytes (`0`: no cache). A cached response
    /// is served only while no table it was built from has changed.
    #[arg(
        long,
        env = env::RESPONSE_CACHE_BYTES,
        default_value_t = crate::cache::DEFAULT_MAX_BYTES,
        global = true
    )]
    response_cache_bytes: usize,
    /// Log filter (`info`, `warn`, `shop_backend=debug,sqlx=warn`, …).
    #[arg(long, env = "LOG_LEVEL", default_value = "info", global = true)]
    log_level: String,
    /// Log line format.
    #[arg(
        long,
        env = "LOG_FORMAT",
        value_enum,
        default_value = "json",
        global = true
    )]
    log_format: LogFormat,
    /// `Cache-Control` of successful GETs by route: `;`-separated `ROUTE=VALUE` rules
    /// (`/products=public, max-age=60`); every other answer says `no-store`.
    #[arg(
        long,
        env = env::CACHE_CONTROL_ROUTES,
        default_value = "",
        value_parser = CachePolicies::parse,
        global = true
    )]
    cache_control_routes: CachePolicies,
    /// Identity providers' signing keys from local JWKS files instead of their
    /// `jwks_uri`: `;`-separated `PROVIDER=FILE` rules (`shopgen up --jwks` sets it).
    #[arg(
        long,
        env = env::IDENTITY_JWKS_FILES,
        default_value = "",
        value_parser = crate::identity::parse_jwks_files,
        global = true
    )]
    identity_jwks_files: std::collections::BTreeMap<String, std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
enum Command {
    /// Apply pending migrations, then serve (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Json,
    Text,
}

/// Parses the settings and runs the command; the process's exit code.
pub fn run(service: &'static Service, routes: fn() -> Router<Db>) -> ExitCode {
    let port: &'static str = Box::leak(service.default_port.to_string().into_boxed_str());
    let max_body: &'static str = Box::leak(service.max_body_bytes.to_string().into_boxed_str());
    let drain: &'static str = Box::leak(service.drain_seconds.to_string().into_boxed_str());
    let request_timeout: &'static str =
        Box::leak(service.request_timeout_ms.to_string().into_boxed_str());
    let acquire_timeout: &'static str = Box::leak(
        service
            .database_acquire_timeout_ms
            .to_string()
            .into_boxed_str(),
    );
    let command = Cli::command()
        .name(service.name)
        .bin_name(service.name)
        .about(service.about)
        .mut_arg("port", |a| a.default_value(port))
        .mut_arg("database_url", |a| {
            a.default_value(service.default_database_url)
        })
        .mut_arg("max_body_bytes", |a| a.default_value(max_body))
        .mut_arg("drain_seconds", |a| a.default_value(drain))
        .mut_arg("request_timeout_ms", |a| a.default_value(request_timeout))
        .mut_arg("database_acquire_timeout_ms", |a| {
            a.default_value(acquire_timeout)
        });
    let cli = match Cli::from_arg_matches(&command.get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    init_logging(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(main(service, routes, cli));
    shopgen_process::stdout_lines::flush();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!(error = %message, "exiting");
            ExitCode::FAILURE
        }
    }
}

/// JSON (or compact text) logs on stdout. A plain level (`info`, `warn`, …) is a fixed
/// maximum level; anything else (`shop_backend=debug,sqlx=warn`) an `EnvFilter`. The
/// difference matters under load: with text logs every request runs inside a span (its
/// request id), entered on every poll of its future, and `EnvFilter` takes a lock
/// shared by all threads on each enter and exit (~10 % of the CPU of `GET /products`
/// on PostgreSQL). JSON lines get the request id from the request's task instead
/// ([`crate::logout::JsonLines`]), with no span.
fn init_logging(cli: &Cli) {
    macro_rules! install {
        ($builder:expr) => {
            match cli.log_format {
                LogFormat::Json => $builder
                    .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
                    .event_format(crate::logout::JsonLines::new())
                    .try_init(),
                LogFormat::Text => $builder.compact().try_init(),
            }
        };
    }
    JSON_LOGS.store(cli.log_format == LogFormat::Json, Ordering::Relaxed);
    let builder = tracing_subscriber::fmt().with_writer(crate::logout::LogOutput);
    let _ = match cli
        .log_level
        .parse::<tracing_subscriber::filter::LevelFilter>()
    {
        Ok(level) => install!(builder.with_max_level(level)),
        Err(_) => {
            let filter = tracing_subscriber::EnvFilter::try_new(&cli.log_level)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
            install!(builder.with_env_filter(filter))
        }
    };
}

async fn main(
    service: &'static Service,
    routes: fn() -> Router<Db>,
    cli: Cli,
) -> Result<(), String> {
    let budget = Budget::of(service, &cli);
    let options = ConnectOptions {
        url: cli
            .database_url
            .clone()
            .unwrap_or_else(|| service.default_database_url.to_string()),
        max_connections: cli.database_max_connections.max(1),
        acquire_timeout: budget.database_acquire,
        statement_timeout: budget.statement(),
        sqlite_sync: cli.sqlite_synchronous,
    };
    let identity = crate::identity::gate(&cli.identity_jwks_files)?;
    let db = connect_and_migrate(service, &options, cli.database_connect_timeout_seconds).await?;
    if cli.command == Some(Command::Migrate) {
        tracing::info!("migrations applied");
        db.close().await;
        return Ok(());
    }
    let max_body = cli.max_body_bytes.unwrap_or(service.max_body_bytes);
    let _ = crate::extract::MAX_BODY_BYTES.set(max_body);
    let metrics = PrometheusBuilder::new()
        .set_buckets(&[
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ])
        .and_then(|b| b.install_recorder())
        .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
    crate::db::metrics_recorder_installed();
    let openapi = openapi_json(service.openapi_yaml)?;
    let draining = Arc::new(AtomicBool::new(false));
    let system = System {
        metrics,
        openapi: bytes::Bytes::from(openapi),
        draining: draining.clone(),
    };
    let cache = (cli.response_cache_bytes > 0)
        .then(|| Arc::new(ResponseCache::new(db.clone(), cli.response_cache_bytes)));
    let app = router(routes(), cache, identity, system, &cli, budget).with_state(db.clone());

    let addr = SocketAddr::new(cli.host, cli.port.unwrap_or(service.default_port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    // Registered before the `listening` line, so a SIGTERM from then on drains the
    // service instead of killing it.
    let signals = shopgen_process::StopSignals::register()
        .map_err(|e| format!("cannot handle SIGTERM/SIGINT: {e}"))?;
    tracing::info!(%addr, engine = ?db.engine(), service = service.name, "listening");

    let drain_for = Duration::from_secs(u64::from(
        cli.drain_seconds.unwrap_or(service.drain_seconds),
    ));
    let signalled = Arc::new(tokio::sync::Notify::new());
    let shutdown = {
        let signalled = signalled.clone();
        async move {
            signals.recv().await;
            draining.store(true, Ordering::SeqCst);
            tracing::info!(
                drain_seconds = drain_for.as_secs(),
                "shutting down: draining in-flight requests"
            );
            signalled.notify_one();
        }
    };
    let server = axum::serve(listener, app).with_graceful_shutdown(shutdown);
    shopgen_process::stdout_lines::start_batching();
    let flusher = tokio::spawn(shopgen_process::stdout_lines::flusher());
    let served = tokio::select! {
        result = server => result.map_err(|e| format!("server error: {e}")),
        () = async { signalled.notified().await; tokio::time::sleep(drain_for).await } => {
            tracing::warn!("drain time is over; closing remaining connections");
            Ok(())
        }
    };
    shopgen_process::stdout_lines::stop_batching();
    flusher.abort();
    served?;
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn connect_and_migrate(
    service: &Service,
    options: &ConnectOptions,
    timeout_seconds: u64,
) -> Result<Db, String> {
    let deadline = Instant::now() + Duration::from_secs(timeout_seconds);
    loop {
        let attempt = async {
            let db = Db::connect(options).await?;
            db.migrate(&service.migrations).await?;
            crate::versions::install(&db)
                .await
                .map_err(crate::db::ConnectError::Versions)?;
            crate::idempotency::install(&db)
                .await
                .map_err(crate::db::ConnectError::IdempotencyKeys)?;
            Ok::<Db, crate::db::ConnectError>(db)
        };
        match attempt.await {
            Ok(db) => return Ok(db),
            Err(crate::db::ConnectError::UnknownScheme(s)) => {
                return Err(crate::db::ConnectError::UnknownScheme(s).to_string());
            }
            Err(e) if Instant::now() >= deadline => return Err(e.to_string()),
            Err(e) => {
                tracing::warn!(error = %e, "database not ready; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// `/openapi.json`: the embedded YAML document, converted once at start; the error is
/// the message the service stops with.
fn openapi_json(yaml: &str) -> Result<Vec<u8>, String> {
    let value: serde_json::Value = serde_saphyr::from_str(yaml)
        .map_err(|e| format!("the embedded API document is not valid YAML: {e}"))?;
    serde_json::to_vec(&value).map_err(|e| e.to_string())
}

#[derive(Clone)]
struct System {
    metrics: PrometheusHandle,
    openapi: bytes::Bytes,
    draining: Arc<AtomicBool>,
}

fn router(
    routes: Router<Db>,
    cache: Option<Arc<ResponseCache>>,
    identity: Option<Arc<crate::identity::Gate>>,
    system: System,
    cli: &Cli,
    budget: Budget,
) -> Router<Db> {
    // Only the generated routes are cached: the layer wraps the routes added so far.
    let routes = match cache {
        Some(cache) => routes.layer(axum::middleware::from_fn_with_state(
            cache,
            crate::cache::layer,
        )),
        None => routes,
    };
    // Outside the cache: a request that must carry a user token is refused before a
    // cached answer could be given (see `crate::identity`).
    let routes = match identity {
        Some(gate) => routes.route_layer(axum::middleware::from_fn_with_state(
            gate,
            crate::identity::layer,
        )),
        None => routes,
    };
    // The system routes get what they need as state of their own handlers, not as a
    // request extension every request would carry.
    let System {
        metrics,
        openapi,
        draining,
    } = system;
    routes
        .route(shopgen_facts::backend::LIVENESS_PATH, get(healthz))
        .route(
            shopgen_facts::backend::READINESS_PATH,
            get(move |db: State<Db>| readyz(db, draining)),
        )
        .route("/metrics", get(move || render_metrics(metrics)))
        .route("/openapi.json", get(move || openapi_document(openapi)))
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        // One layer of four (outermost first), not four layers: `Router::layer` boxes
        // every route once per layer, and each middleware clones its inner service per
        // request, so nested boxes meant a chain of boxed clones on every request.
        .layer(
            tower::ServiceBuilder::new()
                .layer(axum::middleware::from_fn(observe))
                .layer(axum::middleware::from_fn_with_state(
                    Arc::new(cli.cache_control_routes.clone()),
                    conditional,
                ))
                .layer(axum::middleware::from_fn_with_state(budget, deadline))
                .layer(axum::middleware::from_fn(crate::idempotency::layer)),
        )
}

async fn healthz() -> Response {
    json_status(StatusCode::OK, "ok")
}

/// Readiness is the process's, not the database's: 200 while the server takes
/// requests, 503 once it drains. A database outage keeps every pod ready, so the
/// internal load balancer keeps its endpoints and clients get the backend's own 503
/// with `Retry-After` instead of the relay's 502 for a Service with no endpoints. The
/// database's state is in the body (for people) and in the gauge
/// `shopgen_database_up` (for alerts).
async fn readyz(State(db): State<Db>, draining: Arc<AtomicBool>) -> Response {
    if draining.load(Ordering::SeqCst) {
        return json_status(StatusCode::SERVICE_UNAVAILABLE, "draining");
    }
    let reachable = matches!(
        tokio::time::timeout(READINESS_PING_TIMEOUT, db.ping()).await,
        Ok(Ok(()))
    );
    metrics::gauge!("shopgen_database_up").set(if reachable { 1.0 } else { 0.0 });
    let body = serde_json::json!({
        "status": "ready",
        "database": if reachable { "reachable" } else { "unreachable" },
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// How long `/readyz` waits for the database's answer (the probe's own timeout is 2 s).
const READINESS_PING_TIMEOUT: Duration = Duration::from_millis(1500);

/// The backend's share of the deadline budget (`REQUEST_TIMEOUT_MS`,
/// `DATABASE_ACQUIRE_TIMEOUT_MS`): the spec's values unless the environment says
/// otherwise.
#[derive(Debug, Clone, Copy)]
struct Budget {
    request: Duration,
    database_acquire: Duration,
}

impl Budget {
    fn of(service: &Service, cli: &Cli) -> Budget {
        let request = cli
            .request_timeout_ms
            .unwrap_or(service.request_timeout_ms)
            .max(1);
        let acquire = cli
            .database_acquire_timeout_ms
            .unwrap_or(service.database_acquire_timeout_ms)
            .clamp(1, request);
        Budget {
            request: Duration::from_millis(u64::from(request)),
            database_acquire: Duration::from_millis(u64::from(acquire)),
        }
    }

    /// The database's statement timeout (PostgreSQL's `statement_timeout`, SQLite's
    /// busy timeout): what is left of the request timeout once the acquire budget is
    /// spent, so a request's statement sent within its acquire budget ends before the
    /// request times out (`REQUEST_TIMEOUT_MS - DATABASE_ACQUIRE_TIMEOUT_MS`, 7 s of
    /// the reference spec's 12 s). At least a tenth of the request timeout, should the
    /// environment set an acquire budget close to it.
    fn statement(&self) -> Duration {
        self.request
            .saturating_sub(self.database_acquire)
            .max(self.request / 10)
    }
}

/// Every request runs with one database acquire budget for all its statements
/// ([`crate::db::budget`]) and ends by the request timeout: a 503 with `Retry-After`
/// and a JSON body then, before the relay's own deadline passes. The 503 says that
/// nothing was written: the request's gate closes first, so none of its writes commits
/// afterwards. A request with a write committing, or committed, is waited for (the
/// commit grace) and answered as it ends; one still without an answer then is 500
/// without `Retry-After`, since sending it again could write it twice.
async fn deadline(State(budget): State<Budget>, req: Request, next: Next) -> Response {
    use crate::db::budget::{Closing, Gate};
    let ends = tokio::time::Instant::now() + budget.request;
    let gate = Arc::new(Gate::new(Some(ends)));
    let request =
        crate::db::budget::scope(budget.database_acquire, Arc::clone(&gate), next.run(req));
    tokio::pin!(request);
    if let Ok(response) = tokio::time::timeout(budget.request, &mut request).await {
        return response;
    }
    let timed_out = format!(
        "the request did not finish within the request timeout ({} ms)",
        budget.request.as_millis()
    );
    if gate.close() == Closing::Closed {
        return ApiError::Unavailable(timed_out).into_response();
    }
    let grace = crate::db::budget::commit_grace(budget.request);
    if let Ok(response) = tokio::time::timeout(grace, &mut request).await {
        return response;
    }
    match gate.close() {
        Closing::Closed => ApiError::Unavailable(timed_out).into_response(),
        Closing::Committed => ApiError::Internal(format!(
            "{timed_out} nor within the commit grace after it ({} ms), but its writes were \
             stored: not answered 503, which would invite the client to send it again",
            grace.as_millis()
        ))
        .into_response(),
        Closing::Committing => ApiError::Internal(format!(
            "{timed_out}, and a write's commit did not end within the commit grace after it \
             ({} ms): the write may have been stored",
            grace.as_millis()
        ))
        .into_response(),
    }
}

fn json_status(status: StatusCode, text: &str) -> Response {
    let body = serde_json::json!({ "status": text }).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn render_metrics(metrics: PrometheusHandle) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics.render(),
    )
        .into_response()
}

async fn openapi_document(openapi: bytes::Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], openapi).into_response()
}

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A client's request id is kept when it is 1–128 visible ASCII characters.
fn request_id(req: &Request) -> HeaderValue {
    req.headers()
        .get(&REQUEST_ID)
        .filter(|v| {
            let b = v.as_bytes();
            !b.is_empty() && b.len() <= 128 && b.iter().all(|c| c.is_ascii_graphic())
        })
        .cloned()
        .unwrap_or_else(|| {
            // A random (version 4) UUID from a thread-local generator seeded once from
            // the operating system (`uuid`'s `fast-rng`): no system call per request.
            let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
            let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text);
            HeaderValue::from_str(text).unwrap_or(HeaderValue::from_static("-"))
        })
}

/// The request metrics' handles for one method, route and status.
struct RequestMetrics {
    method: axum::http::Method,
    route: Box<str>,
    status: u16,
    count: metrics::Counter,
    duration: metrics::Histogram,
}

/// Handles kept per thread, at most this many (a client can send any method).
const METRIC_HANDLES: usize = 256;

thread_local! {
    static METRICS: std::cell::RefCell<Vec<RequestMetrics>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Counts one request in `http_requests_total{method,route,status}` and its duration in
/// `http_request_duration_seconds{method,route}`. The handles of each label set are
/// looked up in the registry once per thread and kept, so a request builds no label
/// strings and takes no registry lock.
fn record_request(method: &axum::http::Method, route: &str, status: u16, seconds: f64) {
    METRICS.with_borrow_mut(|handles| {
        if let Some(m) = handles
            .iter()
            .find(|m| m.status == status && m.method == *method && &*m.route == route)
        {
            m.count.increment(1);
            m.duration.record(seconds);
            return;
        }
        let labels = [
            ("method", method.as_str().to_string()),
            ("route", route.to_string()),
            ("status", status.to_string()),
        ];
        let m = RequestMetrics {
            method: method.clone(),
            route: route.into(),
            status,
            count: metrics::counter!("http_requests_total", &labels),
            duration: metrics::histogram!("http_request_duration_seconds", &labels[..2]),
        };
        m.count.increment(1);
        m.duration.record(seconds);
        if handles.len() < METRIC_HANDLES {
            handles.push(m);
        }
    });
}

/// Request id, access log line and metrics for every request.
///
/// JSON lines written while the request is handled carry its id the way a `request`
/// span's field would (when an INFO span here would be enabled): the line format
/// reads it from the request's task, and only when a line is written
/// ([`crate::logout::JsonLines`]), so no span is created, entered on every poll and
/// closed per request. Text lines keep the span.
async fn observe(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(&req);
    let method = req.method().clone();
    // Cheap clones: both share the request's bytes.
    let uri = req.uri().clone();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    let info = tracing::enabled!(tracing::Level::INFO);
    if JSON_LOGS.load(Ordering::Relaxed) {
        let response = crate::extension::with_request_id(id.clone(), info, next.run(req)).await;
        let (response, status, duration_ms) = finish(response, id, &method, route, started);
        if info {
            crate::logout::access_line(
                id_text(&response),
                method.as_str(),
                uri.path(),
                status,
                duration_ms,
            );
        }
        return response;
    }
    let span = tracing::info_span!("request", request_id = %id.to_str().unwrap_or("-"));
    let response = crate::extension::with_request_id(id.clone(), false, next.run(req))
        .instrument(span.clone())
        .await;
    let (response, status, duration_ms) = finish(response, id, &method, route, started);
    span.in_scope(|| {
        tracing::info!(
            method = %method,
            path = %uri.path(),
            status,
            duration_ms,
            "request"
        );
    });
    response
}

/// Sets the request id header and records the metrics; the status and milliseconds.
fn finish(
    mut response: Response,
    id: HeaderValue,
    method: &axum::http::Method,
    route: &str,
    started: Instant,
) -> (Response, u16, f64) {
    response.headers_mut().insert(REQUEST_ID.clone(), id);
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    record_request(method, route, status, elapsed.as_secs_f64());
    (response, status, elapsed.as_secs_f64() * 1000.0)
}

/// The request id as sent back (set just before).
fn id_text(response: &Response) -> &str {
    response
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
}

/// Whether log lines are JSON (`LOG_FORMAT=json`): the access line is then written
/// by [`crate::logout::access_line`] in the subscriber's shape.
static JSON_LOGS: AtomicBool = AtomicBool::new(false);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::db::budget;
    use axum::routing::get;
    use tower::ServiceExt;

    /// A 100 ms request timeout (a 5 ms commit grace), and a handler per case: what
    /// the request timeout answers depends on what the request's writes did.
    async fn answer(handler: axum::routing::MethodRouter) -> (StatusCode, bool) {
        let budget = Budget {
            request: Duration::from_millis(100),
            database_acquire: Duration::from_millis(50),
        };
        let app = Router::new()
            .route("/", handler)
            .layer(axum::middleware::from_fn_with_state(budget, deadline));
        let response = app
            .oneshot(
                axum::http::Request::get("/")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let retry = response.headers().contains_key(header::RETRY_AFTER);
        (response.status(), retry)
    }

    /// A write past its commit point, settled `committed` after `commit` (as the
    /// database answers), then `after` more work before the request answers 200.
    fn writing(commit: u64, committed: bool, after: u64) -> axum::routing::MethodRouter {
        get(move || async move {
            let committing = budget::pass(budget::gate().as_ref()).unwrap();
            tokio::time::sleep(Duration::from_millis(commit)).await;
            if let Some(c) = committing {
                c.settle(committed);
            }
            tokio::time::sleep(Duration::from_millis(after)).await;
            StatusCode::OK
        })
    }

    #[tokio::test]
    async fn a_request_timeout_answers_503_only_when_nothing_was_written() {
        // Nothing written: 503 with Retry-After.
        let slow = get(|| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            StatusCode::OK
        });
        assert_eq!(answer(slow).await, (StatusCode::SERVICE_UNAVAILABLE, true));
        // A commit under way at the timeout and done within the grace: its answer.
        assert_eq!(answer(writing(102, true, 0)).await, (StatusCode::OK, false));
        // A commit that failed (nothing written), the request still slow: 503.
        assert_eq!(
            answer(writing(102, false, 5_000)).await,
            (StatusCode::SERVICE_UNAVAILABLE, true)
        );
        // Committed, then slow (an after-hook, a read-back): never 503, never Retry-After.
        assert_eq!(
            answer(writing(10, true, 5_000)).await,
            (StatusCode::INTERNAL_SERVER_ERROR, false)
        );
        // A commit that outlasts the grace: its outcome unknown, not 503 either.
        assert_eq!(
            answer(writing(5_000, true, 0)).await,
            (StatusCode::INTERNAL_SERVER_ERROR, false)
        );
    }
}
