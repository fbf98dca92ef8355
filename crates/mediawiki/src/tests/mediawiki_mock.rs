//! The mock wiki's own API, as the extension documents and does it: raw signed requests,
//! and the crate's client against it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use hubauth_core::Secret;
use hubauth_mediawiki::error::{HandshakeError, Step};
use hubauth_mediawiki::identity::{self, Expected};
use hubauth_mediawiki::mock::{
    Endpoint, Fault, MediaWikiMock, MockConsumer, MockHandle, MockUser, Page,
};
use hubauth_mediawiki::wiki::{TokenPair, Wiki, new_nonce};
use hubauth_server::{Clock as _, ManualClock};
use serde_json::json;

const CALLBACK: &str = "https://hub.example.org/hub/oauth_callback";

struct Setup {
    mock: MockHandle,
    wiki: Wiki,
    clock: Arc<ManualClock>,
}

impl Setup {
    fn now(&self) -> i64 {
        self.clock.now()
    }
}

async fn setup_with(consumer: MockConsumer, auto: Option<&str>) -> Setup {
    let clock = Arc::new(ManualClock::at(super::hub::now()));
    let shared = clock.clone();
    let mock = MediaWikiMock::builder()
        .consumer(consumer.clone())
        .user(MockUser::new("Alice Smith"))
        .user(MockUser::new("Admin").group("sysop").group("bureaucrat"))
        .user(MockUser::new("Ghost").hidden())
        .auto_approve(auto)
        .clock(Arc::new(move || shared.now()))
        .start()
        .await
        .unwrap();
    let wiki = Wiki::new(
        url::Url::parse(&mock.index_url()).unwrap(),
        consumer.key.clone(),
        Secret::new(consumer.secret.clone()),
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        4,
    );
    Setup { mock, wiki, clock }
}

async fn setup() -> Setup {
    setup_with(MockConsumer::new("ck", "cs", CALLBACK), Some("Alice Smith")).await
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Initiates and approves as the auto-approved user: the request token and the verifier.
async fn approved(s: &Setup) -> (TokenPair, String) {
    let request = s
        .wiki
        .initiate(&format!("{CALLBACK}?state=abc"), s.now())
        .await
        .unwrap();
    let at_wiki = browser()
        .get(s.wiki.authorize_url(&request.key))
        .send()
        .await
        .unwrap();
    assert_eq!(at_wiki.status(), 302);
    let back = url::Url::parse(at_wiki.headers()["location"].to_str().unwrap()).unwrap();
    let query: std::collections::HashMap<_, _> = back.query_pairs().into_owned().collect();
    assert_eq!(query["state"], "abc", "the callback given is kept");
    assert_eq!(query["oauth_token"], request.key);
    (request, query["oauth_verifier"].clone())
}

async fn raw_post(s: &Setup, title: &str, authorization: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}?title={title}", s.mock.index_url()))
        .header("authorization", authorization)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn initiate_answers_a_request_token_in_plain_text() {
    let s = setup().await;
    let header = s
        .wiki
        .authorization(
            Step::Initiate,
            None,
            Some("oob"),
            None,
            &new_nonce(),
            s.now(),
        )
        .unwrap();
    let answer = raw_post(&s, "Special:OAuth/initiate", &header).await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-type"], "text/plain");
    let body = answer.text().await.unwrap();
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "oauth_token",
            "oauth_token_secret",
            "oauth_callback_confirmed"
        ]
    );
    assert_eq!(pairs[0].1.len(), 32, "32 hex digits");
    assert_eq!(pairs[2].1, "true");
}

#[tokio::test]
async fn a_wrong_signature_is_refused_with_http_200_and_error_text() {
    let s = setup().await;
    let forged = Wiki::new(
        s.wiki.index_url().clone(),
        "ck".to_owned(),
        Secret::new("not-cs"),
        reqwest::Client::new(),
        1,
    );
    let header = forged
        .authorization(
            Step::Initiate,
            None,
            Some("oob"),
            None,
            &new_nonce(),
            s.now(),
        )
        .unwrap();
    let answer = raw_post(&s, "Special:OAuth/initiate", &header).await;
    assert_eq!(answer.status(), 200, "the extension sets no error status");
    assert_eq!(
        answer.text().await.unwrap(),
        "Error: An error occurred in the OAuth protocol: Invalid signature"
    );
    let err = forged.initiate(CALLBACK, s.now()).await.unwrap_err();
    assert!(
        matches!(
            err,
            HandshakeError::Refused {
                step: Step::Initiate,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_signature_covers_the_title() {
    let s = setup().await;
    // Signed for identify, sent to initiate: the title is part of the base string.
    let header = s
        .wiki
        .authorization(
            Step::Identify,
            None,
            Some("oob"),
            None,
            &new_nonce(),
            s.now(),
        )
        .unwrap();
    let answer = raw_post(&s, "Special:OAuth/initiate", &header).await;
    let body = answer.text().await.unwrap();
    assert_eq!(
        body,
        "Error: An error occurred in the OAuth protocol: Invalid signature"
    );
}

#[tokio::test]
async fn a_stale_timestamp_or_a_reused_nonce_is_refused() {
    let s = setup().await;
    let stale = s
        .wiki
        .authorization(
            Step::Initiate,
            None,
            Some("oob"),
            None,
            &new_nonce(),
            s.now() - 301,
        )
        .unwrap();
    let body = raw_post(&s, "Special:OAuth/initiate", &stale)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        body.starts_with("Error: ") && body.contains("Expired timestamp"),
        "{body}"
    );
    let within = s
        .wiki
        .authorization(
            Step::Initiate,
            None,
            Some("oob"),
            None,
            "same-nonce",
            s.now() - 299,
        )
        .unwrap();
    let body = raw_post(&s, "Special:OAuth/initiate", &within)
        .await
        .text()
        .await
        .unwrap();
    assert!(body.starts_with("oauth_token="), "{body}");
    let again = s
        .wiki
        .authorization(
            Step::Initiate,
            None,
            Some("oob"),
            None,
            "same-nonce",
            s.now() - 299,
        )
        .unwrap();
    let body = raw_post(&s, "Special:OAuth/initiate", &again)
        .await
        .text()
        .await
        .unwrap();
    assert!(body.contains("Nonce already used: same-nonce"), "{body}");
}

#[tokio::test]
async fn an_unknown_consumer_or_a_missing_signature_method_is_refused() {
    let s = setup().await;
    let stranger = Wiki::new(
        s.wiki.index_url().clone(),
        "who".to_owned(),
        Secret::new("cs"),
        reqwest::Client::new(),
        1,
    );
    let err = stranger.initiate(CALLBACK, s.now()).await.unwrap_err();
    assert!(err.to_string().contains("Invalid consumer"), "{err}");
    let body = raw_post(
        &s,
        "Special:OAuth/initiate",
        "OAuth oauth_consumer_key=\"ck\", oauth_timestamp=\"1\"",
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(body.starts_with("Error: "), "{body}");
    let no_method = format!(
        "OAuth oauth_consumer_key=\"ck\", oauth_timestamp=\"{}\", oauth_nonce=\"n\", oauth_signature=\"x\"",
        s.now()
    );
    let body = raw_post(&s, "Special:OAuth/initiate", &no_method)
        .await
        .text()
        .await
        .unwrap();
    assert!(body.contains("No signature method parameter"), "{body}");
}

#[tokio::test]
async fn the_callback_must_be_oob_or_under_the_registered_one() {
    let s = setup().await;
    for ok in [
        "oob",
        CALLBACK,
        "https://hub.example.org/hub/oauth_callback?state=x&code=y",
    ] {
        assert!(s.wiki.initiate(ok, s.now()).await.is_ok(), "{ok}");
    }
    for bad in [
        "https://evil.example/hub/oauth_callback",
        "https://hub.example.org/elsewhere",
        "https://hub.example.org:8443/hub/oauth_callback",
        "http://hub.example.org/hub/oauth_callback",
        "https://user@hub.example.org/hub/oauth_callback",
        "not a url",
    ] {
        let err = s.wiki.initiate(bad, s.now()).await.unwrap_err();
        assert!(err.to_string().contains("prefix"), "{bad}: {err}");
    }
    // An http registration may be upgraded to https.
    let http = setup_with(
        MockConsumer::new("ck", "cs", "http://hub.example.org/hub/oauth_callback"),
        None,
    )
    .await;
    assert!(http.wiki.initiate(CALLBACK, http.now()).await.is_ok());
    // A consumer without the prefix option takes oob only.
    let oob = setup_with(MockConsumer::new("ck", "cs", CALLBACK).oob_only(), None).await;
    assert!(oob.wiki.initiate("oob", oob.now()).await.is_ok());
    let err = oob.wiki.initiate(CALLBACK, oob.now()).await.unwrap_err();
    assert!(
        err.to_string().contains("must be set to &quot;oob&quot;"),
        "{err}"
    );
}

#[tokio::test]
async fn an_oob_request_goes_back_to_the_registered_callback() {
    let s = setup().await;
    let request = s.wiki.initiate("oob", s.now()).await.unwrap();
    let at_wiki = browser()
        .get(s.wiki.authorize_url(&request.key))
        .send()
        .await
        .unwrap();
    let location = at_wiki.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!("{CALLBACK}?oauth_verifier=")),
        "{location}"
    );
    assert!(
        location.ends_with(&format!("&oauth_token={}", request.key)),
        "{location}"
    );
}

#[tokio::test]
async fn a_request_token_is_approved_once_and_exchanged_once() {
    let s = setup().await;
    let (request, verifier) = approved(&s).await;
    let again = browser()
        .get(s.wiki.authorize_url(&request.key))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200, "an error page, no second redirect");
    assert!(
        again
            .text()
            .await
            .unwrap()
            .contains("callback URL not found")
    );
    let access = s.wiki.token(&request, &verifier, s.now()).await.unwrap();
    assert_eq!(access.key.len(), 32);
    let err = s
        .wiki
        .token(&request, &verifier, s.now())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("OAuth token already used, E009"),
        "{err}"
    );
}

#[tokio::test]
async fn a_wrong_verifier_or_an_unapproved_token_is_refused() {
    let s = setup().await;
    let (request, _) = approved(&s).await;
    let err = s.wiki.token(&request, "0000", s.now()).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("verification code provided was not valid"),
        "{err}"
    );
    let unapproved = s.wiki.initiate(CALLBACK, s.now()).await.unwrap();
    let err = s.wiki.token(&unapproved, "x", s.now()).await.unwrap_err();
    assert!(err.to_string().contains("No token was found"), "{err}");
    let unknown = TokenPair {
        key: "ffff".to_owned(),
        secret: Secret::new("x"),
    };
    let err = s.wiki.token(&unknown, "x", s.now()).await.unwrap_err();
    assert!(
        err.to_string().contains("OAuth token not found, E004"),
        "{err}"
    );
}

#[tokio::test]
async fn request_tokens_expire_after_ten_minutes() {
    let s = setup().await;
    let (request, verifier) = approved(&s).await;
    s.clock.advance(601);
    let err = s
        .wiki
        .token(&request, &verifier, s.now())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("E004"), "{err}");
}

#[tokio::test]
async fn identify_answers_an_hs256_jwt_with_the_documented_claims() {
    let s = setup_with(
        MockConsumer::new("ck", "cs", CALLBACK).grants(&["mwoauth-authonlyprivate"]),
        Some("Admin"),
    )
    .await;
    let (request, verifier) = approved(&s).await;
    let access = s.wiki.token(&request, &verifier, s.now()).await.unwrap();
    let answer = s.wiki.identify(&access, s.now()).await.unwrap();
    let netloc = hubauth_mediawiki::options::netloc(s.wiki.index_url()).unwrap();
    let claims = identity::verify(
        &answer.jwt,
        &Expected {
            consumer_key: "ck",
            consumer_secret: "cs",
            issuer_netloc: &netloc,
            nonce: &answer.nonce,
            now: s.now(),
        },
    )
    .unwrap();
    assert_eq!(claims["aud"], "ck");
    assert_eq!(claims["iss"], s.mock.origin());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        100
    );
    assert_eq!(claims["username"], "Admin");
    assert_eq!(
        claims["groups"],
        json!(["*", "user", "autoconfirmed", "sysop", "bureaucrat"])
    );
    assert!(
        claims["rights"]
            .as_array()
            .unwrap()
            .contains(&json!("block"))
    );
    assert_eq!(claims["grants"], json!(["mwoauth-authonlyprivate"]));
    assert_eq!(claims["confirmed_email"], true);
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["email"], "admin@wiki.example");
    assert_eq!(claims["realname"], "Admin");
    assert_eq!(claims["registered"], "20190412093000");
    assert!(claims["editcount"].is_u64());
    assert_eq!(claims["blocked"], false);
    assert!(claims["sub"].is_string());
    // The raw answer is the JWT itself, with a JSON content type.
    let header = s
        .wiki
        .authorization(
            Step::Identify,
            Some(&access),
            None,
            None,
            &new_nonce(),
            s.now(),
        )
        .unwrap();
    let raw = raw_post(&s, "Special:OAuth/identify", &header).await;
    assert_eq!(raw.headers()["content-type"], "application/json");
    assert!(identity::looks_like_jwt(&raw.text().await.unwrap()));
}

#[tokio::test]
async fn identity_only_grants_carry_no_email_or_real_name() {
    let s = setup().await;
    let (request, verifier) = approved(&s).await;
    let access = s.wiki.token(&request, &verifier, s.now()).await.unwrap();
    let answer = s.wiki.identify(&access, s.now()).await.unwrap();
    let payload = answer.jwt.split('.').nth(1).unwrap();
    use base64::Engine as _;
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert!(claims.get("email").is_none() && claims.get("realname").is_none());
    assert_eq!(claims["nonce"], answer.nonce.as_str());
}

#[tokio::test]
async fn identify_errors_are_json_with_http_200() {
    let s = setup().await;
    let (request, verifier) = approved(&s).await;
    let access = s.wiki.token(&request, &verifier, s.now()).await.unwrap();
    s.mock.revoke_grants("Alice Smith");
    let header = s
        .wiki
        .authorization(
            Step::Identify,
            Some(&access),
            None,
            None,
            &new_nonce(),
            s.now(),
        )
        .unwrap();
    let raw = raw_post(&s, "Special:OAuth/identify", &header).await;
    assert_eq!(raw.status(), 200);
    let body: serde_json::Value = raw.json().await.unwrap();
    assert_eq!(body["error"], "mwoauthdatastore-access-token-not-found");
    let err = s.wiki.identify(&access, s.now()).await.unwrap_err();
    assert!(
        matches!(&err, HandshakeError::Refused { key: Some(key), .. } if key == "mwoauthdatastore-access-token-not-found"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_hidden_user_is_only_a_subject() {
    let s = setup_with(MockConsumer::new("ck", "cs", CALLBACK), Some("Ghost")).await;
    let (request, verifier) = approved(&s).await;
    let access = s.wiki.token(&request, &verifier, s.now()).await.unwrap();
    let answer = s.wiki.identify(&access, s.now()).await.unwrap();
    use base64::Engine as _;
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(answer.jwt.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert!(claims.get("username").is_none());
    assert_eq!(claims["blocked"], true);
}

#[tokio::test]
async fn the_approval_page_lets_a_person_pick_or_cancel() {
    let s = setup_with(MockConsumer::new("ck", "cs", CALLBACK), None).await;
    let request = s.wiki.initiate(CALLBACK, s.now()).await.unwrap();
    // The pretty URL form of the page, as the developer guide shows it.
    let page = browser()
        .get(format!(
            "{}/wiki/Special:OAuth/authorize?oauth_token={}&oauth_consumer_key=ck",
            s.mock.origin(),
            request.key
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Alice Smith") && html.contains("Cancel"),
        "{html}"
    );
    assert_eq!(s.mock.count(Endpoint::Wiki), 1);
    let cancelled = browser()
        .post(s.mock.index_url())
        .form(&[
            ("title", "Special:OAuth/authorize"),
            ("oauth_token", request.key.as_str()),
            ("oauth_consumer_key", "ck"),
            ("cancel", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 200, "no redirect back");
    let picked = browser()
        .post(s.mock.index_url())
        .form(&[
            ("title", "Special:OAuth/authorize"),
            ("oauth_token", request.key.as_str()),
            ("oauth_consumer_key", "ck"),
            ("login_as", "Alice Smith"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(picked.status(), 302);
    assert_eq!(s.mock.page_count(Page::Authorize), 3);
}

#[tokio::test]
async fn page_faults_hit_one_page_and_endpoint_faults_the_next_request() {
    let s = setup().await;
    s.mock
        .fail_next_page(Page::Identify, Fault::Status(500, "down".into()));
    assert!(
        s.wiki.initiate(CALLBACK, s.now()).await.is_ok(),
        "initiate is not faulted"
    );
    s.mock
        .fail_next(Endpoint::Index, Fault::Status(503, "busy".into()));
    let err = s.wiki.initiate(CALLBACK, s.now()).await.unwrap_err();
    assert_eq!(
        err,
        HandshakeError::Status {
            step: Step::Initiate,
            status: 503
        }
    );
    assert_eq!(s.mock.page_count(Page::Initiate), 2);
}

#[tokio::test]
async fn unknown_pages_are_the_wikis_errors() {
    let s = setup().await;
    let page = browser()
        .get(format!(
            "{}?title=Special:OAuth/nonsense",
            s.mock.index_url()
        ))
        .send()
        .await
        .unwrap();
    assert!(page.text().await.unwrap().contains("E002"));
    let article = browser()
        .get(format!("{}?title=Main_Page", s.mock.index_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(article.status(), 404);
}
