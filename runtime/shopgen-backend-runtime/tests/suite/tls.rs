//! TLS to PostgreSQL: the runtime connects to a server that admits TCP clients over
//! TLS only (`hostssl`, as Cloud SQL's "encrypted only" and most managed PostgreSQL
//! services do), and honours `sslmode` in `DATABASE_URL`: `require` encrypts,
//! `verify-ca`/`verify-full` also check the server's certificate against
//! `sslrootcert`, `disable` is refused by the server, and `verify-full` without the
//! server's CA is refused by the client.

use shopgen_backend_runtime::db::{ConnectError, ConnectOptions, Db, SqliteSync};
use shopgen_testkit::Postgres;
use std::time::Duration;

fn options(url: String) -> ConnectOptions {
    ConnectOptions {
        url,
        max_connections: 2,
        acquire_timeout: Duration::from_secs(10),
        statement_timeout: Duration::from_secs(30),
        sqlite_sync: SqliteSync::Full,
    }
}

/// Whether the session `db` runs on is encrypted, as the server sees it.
async fn encrypted(db: &Db) -> bool {
    let n: Vec<i64> = db
        .fetch_all(
            "SELECT COUNT(*)::BIGINT FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl",
            &[],
        )
        .await
        .expect("pg_stat_ssl");
    n == [1]
}

async fn refused(url: String) -> String {
    match Db::connect(&options(url.clone())).await {
        Ok(_) => panic!("{url}: connected"),
        Err(e) => {
            assert!(matches!(e, ConnectError::Open(_)), "{url}: {e}");
            e.to_string()
        }
    }
}

#[tokio::test]
async fn sslmode_is_honoured_against_a_tls_only_server() {
    let pg = Postgres::start_tls();
    let url = pg.fresh_database();
    let ca = pg
        .ca_cert()
        .expect("a TLS cluster has a CA")
        .display()
        .to_string();

    // `require`: encrypted, the certificate not checked (it is issued by a CA the
    // client has never seen). The default (`prefer`) tries TLS first.
    for mode in ["?sslmode=require", "", "?sslmode=prefer"] {
        let db = Db::connect(&options(format!("{url}{mode}")))
            .await
            .unwrap_or_else(|e| panic!("{mode}: {e}"));
        assert!(encrypted(&db).await, "{mode}: not encrypted");
        db.close().await;
    }

    // `verify-ca` / `verify-full` with the CA: checked and encrypted. The URL names
    // 127.0.0.1, which the certificate lists.
    for mode in ["verify-ca", "verify-full"] {
        let db = Db::connect(&options(format!("{url}?sslmode={mode}&sslrootcert={ca}")))
            .await
            .unwrap_or_else(|e| panic!("{mode}: {e}"));
        assert!(encrypted(&db).await, "{mode}: not encrypted");
        db.close().await;
    }

    // A plain connection: the server has no entry for it.
    let e = refused(format!("{url}?sslmode=disable")).await;
    assert!(e.contains("no encryption"), "{e}");

    // `verify-full` without the server's CA: the client refuses the certificate
    // (the compiled-in public roots do not include it).
    let e = refused(format!("{url}?sslmode=verify-full")).await;
    assert!(
        e.to_lowercase().contains("certificate") || e.to_lowercase().contains("tls"),
        "{e}"
    );
}
