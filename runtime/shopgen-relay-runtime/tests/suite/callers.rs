//! Only API Gateway's service account may call the relay: over real HTTP, a token
//! naming the gateway's account is forwarded, any other verified caller gets 403
//! before anything reaches the upstream, and Cloud Run's health checks need no token.

use crate::support::*;
use shopgen_relay_runtime::AllowedInvokers;

const GATEWAY: &str = "shop-api-gateway@acme.iam.gserviceaccount.com";

async fn setup() -> (Upstream, RunningRelay) {
    let up = upstream(0).await;
    let relay = relay(config(&up.url(), |c| {
        c.allowed_invokers = AllowedInvokers::parse(&format!("{GATEWAY},111"));
    }))
    .await;
    (up, relay)
}

#[tokio::test]
async fn the_gateway_account_is_forwarded_without_its_token() {
    let (up, relay) = setup().await;
    for token in [bearer(GATEWAY, "999"), bearer("other@x.com", "111")] {
        let res = get(
            relay.addr,
            "/products/1",
            &format!("Authorization: {token}"),
        )
        .await;
        assert_eq!(res.status, 200, "{}", res.body_str());
    }
    let rec = up.last();
    assert!(rec.headers.get("authorization").is_none());
    relay.stop().await;
    assert_eq!(up.count(), 2);
}

#[tokio::test]
async fn other_callers_get_403_and_reach_nothing() {
    let (up, relay) = setup().await;
    let owner = bearer("owner@example.com", "42");
    for extra in [
        String::new(),
        format!("Authorization: {owner}"),
        "Authorization: Bearer garbage".to_string(),
        // Cloud Run verified X-Serverless-Authorization; a forged Authorization beside
        // it does not count.
        format!(
            "Authorization: {}\nX-Serverless-Authorization: {owner}",
            bearer(GATEWAY, "111")
        ),
    ] {
        for target in ["/products/1", "/products", "/not-a-route"] {
            let res = get(relay.addr, target, &extra).await;
            assert_eq!(res.status, 403, "{extra} {target}: {}", res.body_str());
            assert_eq!(res.error_code().as_deref(), Some("forbidden"));
            assert_eq!(
                res.header("content-type"),
                Some("application/json"),
                "{extra}"
            );
        }
    }
    relay.stop().await;
    assert_eq!(up.count(), 0, "nothing reached the upstream");
}

#[tokio::test]
async fn health_checks_need_no_token() {
    let (_up, relay) = setup().await;
    let res = get(relay.addr, "/healthz", "").await;
    assert_eq!(res.status, 200, "{}", res.body_str());
    relay.stop().await;
}

#[tokio::test]
async fn without_a_list_every_caller_is_forwarded() {
    let up = upstream(0).await;
    let relay = relay(config(&up.url(), |_| {})).await;
    let res = get(relay.addr, "/products/1", "").await;
    assert_eq!(res.status, 200);
    relay.stop().await;
}
