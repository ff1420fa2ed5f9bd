//! Process lifecycle of the generated shop backend: acknowledged writes survive a
//! SIGKILL in the middle of a stream of writes (SQLite with either `synchronous`
//! setting, and PostgreSQL); SIGTERM lets in-flight requests finish, refuses new
//! connections, and exits 0; a request that never finishes does not hold the exit
//! past `DRAIN_SECONDS`.

use crate::support::{Http, Postgres, Server};
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Writes from 8 concurrent clients, SIGKILL after a while, restart, check every 201.
fn acknowledged_writes_survive_kill(server: &mut Server, env: &[(&str, &str)]) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let client = reqwest::Client::new();
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for writer in 0..8 {
        let client = client.clone();
        let url = server.url("/products");
        let stop = stop.clone();
        tasks.push(rt.spawn(async move {
            let mut acked = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                let title = format!("w{writer}-{i}");
                i += 1;
                let sent = client
                    .post(&url)
                    .json(&json!({"title": title, "price": "1.25"}))
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status() == 201 => {
                        let location = r.headers()["location"].to_str().expect("ascii").to_string();
                        acked.push((location, title));
                    }
                    Ok(r) => panic!("unexpected status {}", r.status()),
                    Err(_) => break,
                }
            }
            acked
        }));
    }
    std::thread::sleep(Duration::from_millis(1500));
    server.signal("KILL");
    assert_eq!(
        server.wait_exit(Duration::from_secs(10)),
        None,
        "killed by a signal"
    );
    stop.store(true, Ordering::SeqCst);
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(rt.block_on(t).expect("writer"));
    }
    assert!(
        acked.len() > 20,
        "only {} writes before the kill",
        acked.len()
    );

    server.restart(env);
    let http = Http::default();
    for (location, title) in &acked {
        let r = http.get(&server.url(location));
        assert_eq!(
            r.status, 200,
            "{location} ({title}) was acknowledged, then lost"
        );
        assert_eq!(r.json()["product"]["title"], title.as_str());
    }
    // And the service still takes writes.
    let r = http.json(
        "POST",
        &server.url("/products"),
        &json!({"title": "after", "price": "1.00"}),
    );
    assert_eq!(r.status, 201);
}

#[test]
fn acknowledged_writes_survive_sigkill_on_sqlite_full() {
    let mut server = Server::sqlite();
    acknowledged_writes_survive_kill(&mut server, &[]);
}

#[test]
fn acknowledged_writes_survive_sigkill_on_sqlite_normal() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("n.db").display());
    let env = [("SQLITE_SYNCHRONOUS", "normal")];
    let mut server = Server::start(&url, &env);
    acknowledged_writes_survive_kill(&mut server, &env);
}

#[test]
fn acknowledged_writes_survive_sigkill_on_postgres() {
    let pg = Postgres::shared();
    let mut server = Server::start(&pg.fresh_database(), &[]);
    acknowledged_writes_survive_kill(&mut server, &[]);
}

fn read_response(stream: &mut TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf);
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length: ")
                                .map(str::to_string)
                        })
                        .and_then(|n| n.trim().parse::<usize>().ok());
                    if len.is_some_and(|n| body.len() >= n) {
                        break;
                    }
                }
            }
            Err(e) => panic!("read: {e}"),
        }
    }
    String::from_utf8_lossy(&buf).to_string()
}

#[test]
fn sigterm_drains_in_flight_requests_then_exits_zero() {
    let mut server = Server::sqlite();
    let body = br#"{"title":"in flight","price":"3.00"}"#;
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    write!(
        stream,
        "POST /products HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .expect("head");
    stream.write_all(&body[..10]).expect("first half");
    std::thread::sleep(Duration::from_millis(300));

    server.signal("TERM");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        TcpStream::connect(("127.0.0.1", server.port)).is_err(),
        "a draining server accepts no new connections"
    );
    stream.write_all(&body[10..]).expect("second half");
    let response = read_response(&mut stream);
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    assert!(response.contains("\"title\":\"in flight\""), "{response}");
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0));
    let log = server.log_text();
    assert!(log.contains("draining in-flight requests"), "{log}");
    assert!(log.contains("\"stopped\""), "{log}");
}

#[test]
fn drain_is_bounded_by_drain_seconds() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("d.db").display());
    let mut server = Server::start(&url, &[("DRAIN_SECONDS", "1")]);
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    write!(
        stream,
        "POST /products HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{"
    )
    .expect("head");
    std::thread::sleep(Duration::from_millis(200));
    let started = std::time::Instant::now();
    server.signal("TERM");
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0));
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "exit after {took:?}"
    );
}

#[test]
fn a_sqlite_file_in_a_missing_folder_is_created_with_its_folder() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("not/yet/there/shop.db");
    let server = Server::start(&format!("sqlite://{}", db.display()), &[]);
    let reply = Http::default().get(&server.url("/readyz"));
    assert_eq!(reply.status, 200, "{}", server.log_text());
    assert!(db.exists(), "the database file was created");
}
