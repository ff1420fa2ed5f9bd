//! The benchmark ceiling: the same axum + tokio stack answering every request with a
//! fixed body from memory (no database, no serialisation), so the real routes can be
//! compared with what this machine can do at all.
//!
//! `cargo run --release -p shopgen-backend-runtime --example ceiling -- BODY_FILE PORT`

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on a broken setup

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(file), Some(port)) = (args.get(1), args.get(2).and_then(|p| p.parse::<u16>().ok()))
    else {
        eprintln!("usage: ceiling BODY_FILE PORT");
        return ExitCode::from(2);
    };
    let body = match std::fs::read(file) {
        Ok(b) => bytes::Bytes::from(b),
        Err(e) => {
            eprintln!("{file}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Ok(rt) = tokio::runtime::Runtime::new() else {
        return ExitCode::FAILURE;
    };
    rt.block_on(async move {
        let app = Router::new().fallback(move || {
            let body = body.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], body).into_response() }
        });
        match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
            Ok(listener) => {
                let _ = axum::serve(listener, app).await;
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("bind: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
