//! The wiki down, slow, answering garbage or a forged identity: no login, no user, no
//! session, and a page that says which step failed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use hubauth_mediawiki::mock::{Endpoint, Fault, IdentityTamper, Page};

use super::hub::{approved_callback, client, home, pair, start_login, stored_user};

#[tokio::test]
async fn the_wiki_down_refuses_the_login_start() {
    let p = pair("allow_all = true\n").await;
    p.mock.set_down(Endpoint::Index, true);
    let c = client();
    let answer = start_login(&c, &p).await;
    assert_eq!(answer.status(), 502);
    let body = answer.text().await.unwrap();
    assert!(
        body.contains("MediaWiki (Special:OAuth&#x2f;initiate) failed: HTTP 503"),
        "{body}"
    );
}

#[tokio::test]
async fn garbage_at_initiate_is_refused_not_guessed() {
    let p = pair("allow_all = true\n").await;
    for fault in [
        Fault::Status(500, "oops".into()),
        Fault::Garbage,
        Fault::EmptyBody,
        Fault::Status(200, "oauth_token=only-a-key".into()),
        Fault::Status(200, "oauth_token=k&oauth_token_secret=s".into()),
        Fault::Status(
            200,
            "oauth_token=a&oauth_token=b&oauth_token_secret=s&oauth_callback_confirmed=true".into(),
        ),
        Fault::Status(
            200,
            "Error: An error occurred in the OAuth protocol: Invalid consumer".into(),
        ),
    ] {
        p.mock.fail_next_page(Page::Initiate, fault.clone());
        let answer = start_login(&client(), &p).await;
        assert_eq!(answer.status(), 502, "{fault:?}");
    }
    // The wiki answering normally again: the login starts.
    assert_eq!(start_login(&client(), &p).await.status(), 302);
}

/// Each fault at the token or identify step, after the user approved at the wiki: the
/// hub's answer to the callback.
async fn callback_with_fault(page: Page, fault: Fault) -> (u16, String) {
    let p = pair("allow_all = true\n").await;
    let c = client();
    let callback = approved_callback(&c, &p, "Alice Smith").await;
    p.mock.fail_next_page(page, fault);
    let answer = c.get(&callback).send().await.unwrap();
    let status = answer.status().as_u16();
    let body = answer.text().await.unwrap();
    assert!(stored_user(&p, "Alice_Smith").await.is_none(), "{page:?}");
    assert_eq!(home(&c, &p).await, 302, "no session");
    (status, body)
}

#[tokio::test]
async fn the_token_step_failing_refuses_the_login() {
    for fault in [
        Fault::Status(503, "busy".into()),
        Fault::Garbage,
        Fault::EmptyBody,
    ] {
        let (status, body) = callback_with_fault(Page::Token, fault.clone()).await;
        assert_eq!(status, 502, "{fault:?}");
        assert!(body.contains("Special:OAuth&#x2f;token"), "{body}");
    }
    // The extension's own refusal (HTTP 200, "Error: ..."): a refusal, not an outage.
    let (status, _) = callback_with_fault(
        Page::Token,
        Fault::Status(
            200,
            "Error: The verification code provided was not valid.".into(),
        ),
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn the_identify_step_failing_refuses_the_login() {
    for fault in [
        Fault::Status(500, "oops".into()),
        Fault::Garbage,
        Fault::EmptyBody,
        Fault::Status(200, "{\"unexpected\": true}".into()),
    ] {
        let (status, body) = callback_with_fault(Page::Identify, fault.clone()).await;
        assert_eq!(status, 502, "{fault:?}");
        assert!(body.contains("Special:OAuth&#x2f;identify"), "{body}");
    }
    let (status, _) = callback_with_fault(
        Page::Identify,
        Fault::Status(
            200,
            "{\"error\":\"mwoauthdatastore-access-token-not-found\",\"message\":\"No approved grant was found for that authorization token.\"}".into(),
        ),
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn every_forged_identity_is_refused() {
    for tamper in [
        IdentityTamper::WrongSecret,
        IdentityTamper::Unsigned,
        IdentityTamper::WrongAudience,
        IdentityTamper::WrongIssuer,
        IdentityTamper::Expired,
        IdentityTamper::IssuedInFuture,
        IdentityTamper::WrongNonce,
        IdentityTamper::NoExpiry,
    ] {
        let p = pair("allow_all = true\n").await;
        let c = client();
        let callback = approved_callback(&c, &p, "Alice Smith").await;
        p.mock.tamper_next_identity(tamper);
        let answer = c.get(&callback).send().await.unwrap();
        assert_eq!(answer.status(), 403, "{tamper:?}");
        let body = answer.text().await.unwrap();
        assert!(body.contains("Login refused"), "{tamper:?}: {body}");
        assert!(stored_user(&p, "Alice_Smith").await.is_none(), "{tamper:?}");
    }
}

#[tokio::test]
async fn an_identity_from_another_wiki_host_is_refused() {
    // The wiki says its canonical server is another host than mw_index_url's.
    let p = pair("allow_all = true\n").await;
    let c = client();
    let callback = approved_callback(&c, &p, "Alice Smith").await;
    p.mock.tamper_next_identity(IdentityTamper::WrongIssuer);
    let body = c.get(&callback).send().await.unwrap().text().await.unwrap();
    assert!(body.contains("another wiki"), "{body}");
}

#[tokio::test]
async fn a_wiki_slower_than_the_request_timeout_is_an_outage() {
    let p = pair("allow_all = true\nhttp_request_kwargs = { request_timeout = 1 }\n").await;
    p.mock
        .fail_next_page(Page::Initiate, Fault::Delay(Duration::from_secs(3)));
    let answer = start_login(&client(), &p).await;
    assert_eq!(answer.status(), 502);
    assert!(answer.text().await.unwrap().contains("timed out"));
}

#[tokio::test]
async fn a_wiki_clock_far_off_refuses_the_signed_request() {
    let p = pair("allow_all = true\n").await;
    // More than the extension's 300 s: the request's timestamp is refused.
    p.mock.advance_clock(400);
    let answer = start_login(&client(), &p).await;
    assert_eq!(answer.status(), 502);
    assert!(answer.text().await.unwrap().contains("Expired timestamp"));
    p.mock.advance_clock(-400);
    assert_eq!(start_login(&client(), &p).await.status(), 302);
}
