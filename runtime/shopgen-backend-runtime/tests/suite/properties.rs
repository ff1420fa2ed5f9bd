//! Property tests against the running shop backend: random valid and invalid
//! payloads, paths and query strings never get a 5xx; valid payloads round-trip
//! exactly (decimals included).

use crate::support::{Http, Server};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,40}".prop_map(Value::String),
        "-?[0-9]{0,12}(\\.[0-9]{0,4})?".prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Objects with the resource's keys (and a few others) holding anything.
fn payload() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("title".to_string()),
        Just("price".to_string()),
        Just("name".to_string()),
        Just("message".to_string()),
        Just("rate".to_string()),
        Just("product_id".to_string()),
        Just("id".to_string()),
        "[a-z]{1,6}",
    ];
    prop::collection::btree_map(key, json_value(), 0..6)
        .prop_map(|m| Value::Object(m.into_iter().collect::<Map<String, Value>>()))
}

fn valid_product() -> impl Strategy<Value = (String, String)> {
    ("\\PC{0,120}", (0u64..100_000_000, 0u32..100, any::<bool>())).prop_map(
        |(title, (int, cents, short))| {
            let price = if short {
                format!("{int}.{}", cents / 10)
            } else {
                format!("{int}.{cents:02}")
            };
            (title, price)
        },
    )
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 150,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

#[test]
fn never_a_server_error() {
    let server = Server::sqlite();
    let http = Http::default();
    let seed = http.json(
        "POST",
        &server.url("/products"),
        &json!({"title": "seed", "price": "1.00"}),
    );
    assert_eq!(seed.status, 201);
    let paths = [
        "/products",
        "/products/1",
        "/products/1/reviews",
        "/reviews",
        "/reviews/1",
        "/products/999",
    ];
    proptest!(config(), |(
        body in payload(),
        raw in prop::collection::vec(any::<u8>(), 0..64),
        path in prop::sample::select(paths.to_vec()),
        method in prop::sample::select(vec!["POST", "PATCH", "PUT", "DELETE", "GET"]),
        query in "[a-z_=&%0-9-]{0,30}",
    )| {
        let url = server.url(path);
        let r = http.json(method, &url, &body);
        prop_assert!(r.status < 500, "{method} {path} {body} → {} {}", r.status, r.body);
        let r = http.send(method, &url, Some("application/json"), Some(raw.clone()), &[]);
        prop_assert!(r.status < 500, "{method} {path} raw {raw:?} → {} {}", r.status, r.body);
        let r = http.get(&server.url(&format!("{path}?{query}")));
        prop_assert!(r.status < 500, "GET {path}?{query} → {} {}", r.status, r.body);
    });
    let r = http.get(&server.url("/readyz"));
    assert_eq!(r.status, 200, "still healthy");
}

#[test]
fn valid_products_round_trip_exactly() {
    let server = Server::sqlite();
    let http = Http::default();
    proptest!(config(), |((title, price) in valid_product())| {
        let r = http.json("POST", &server.url("/products"), &json!({"title": title, "price": price}));
        prop_assert_eq!(r.status, 201, "{}", r.body);
        let location = r.header("location").expect("location");
        let got = http.get(&server.url(&location)).json();
        let expected: rust_decimal::Decimal = price.parse().expect("decimal");
        let mut expected = expected;
        expected.rescale(2);
        prop_assert_eq!(&got["product"]["title"], &Value::String(title));
        prop_assert_eq!(&got["product"]["price"], &Value::String(expected.to_string()));
    });
}
