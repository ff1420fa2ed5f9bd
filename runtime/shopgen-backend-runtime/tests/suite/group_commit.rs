//! SQLite group commit through HTTP: concurrent nested creates, some refused by the
//! database (a missing parent) and some by validation, against one SQLite file. Each
//! answer is its own (201 with the row, 404 naming the parent, 422 naming the field),
//! every 201 is in the list that was cached before the writes (the table versions
//! moved with every committed write), no refused write left a row, and every database
//! write went through the group writer.

use crate::support::{Http, Server};
use serde_json::{Value, json};
use std::collections::BTreeSet;

fn metric(http: &Http, server: &Server, name: &str) -> u64 {
    let text = http.get(&server.url("/metrics")).body;
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .map_or(0, |n| n.trim().parse::<f64>().expect("number") as u64)
}

#[test]
fn concurrent_nested_creates_on_sqlite_commit_together_and_fail_alone() {
    let server = Server::sqlite();
    let http = Http::default();
    let mut products = Vec::new();
    for title in ["first", "second"] {
        let r = http.json(
            "POST",
            &server.url("/products"),
            &json!({"title": title, "price": "2.50"}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        let location = r.header("location").expect("Location");
        let id = location.rsplit('/').next().expect("id");
        products.push(id.parse::<i64>().expect("id"));
    }
    // Cached before the writes: it must not be served after them.
    assert_eq!(http.get(&server.url("/products")).status, 200);
    assert_eq!(http.get(&server.url("/products")).status, 200);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let client = reqwest::Client::new();
    let tasks: Vec<_> = (0..96)
        .map(|i| {
            let client = client.clone();
            let parent = match i % 4 {
                0 => 999_999,
                _ => products[i % 2],
            };
            let rate = if i % 4 == 1 { 9 } else { 1 + i % 5 };
            let url = server.url(&format!("/products/{parent}/reviews"));
            let message = format!("review {i}");
            rt.spawn(async move {
                let r = client
                    .post(&url)
                    .json(&json!({"name": "n", "message": message, "rate": rate}))
                    .send()
                    .await
                    .expect("send");
                let status = r.status().as_u16();
                let body: Value = r.json().await.expect("json");
                (i, parent, message, status, body)
            })
        })
        .collect();
    let mut created = BTreeSet::new();
    for task in tasks {
        let (i, parent, message, status, body) = rt.block_on(task).expect("task");
        match i % 4 {
            0 => {
                assert_eq!(status, 404, "{i}: {body}");
                assert!(body.to_string().contains(&parent.to_string()), "{body}");
            }
            1 => {
                assert_eq!(status, 422, "{i}: {body}");
                assert!(body.to_string().contains("rate"), "{body}");
            }
            _ => {
                assert_eq!(status, 201, "{i}: {body}");
                assert_eq!(body["review"]["message"], message.as_str());
                created.insert(message);
            }
        }
    }
    assert_eq!(created.len(), 48);

    let list = http.get(&server.url("/products")).json();
    let mut listed = BTreeSet::new();
    for product in list["products"].as_array().expect("products") {
        for review in product["reviews"].as_array().expect("reviews") {
            listed.insert(review["message"].as_str().expect("message").to_string());
        }
    }
    assert_eq!(
        listed, created,
        "the list shows exactly the acknowledged reviews"
    );

    // 2 products, 48 reviews and the 24 inserts the foreign key refused reached the
    // database (the 24 invalid bodies did not), all through the group writer.
    let writes = metric(&http, &server, "shopgen_sqlite_group_commit_writes_total");
    let commits = metric(&http, &server, "shopgen_sqlite_group_commits_total");
    assert_eq!(writes, 2 + 48 + 24);
    assert!((1..=writes).contains(&commits), "{commits} commits");
}
