//! The store's part of OpenID Connect Back-Channel Logout: sessions linked to the
//! provider's session, found by `sid` and/or `sub`, and logout token ids refused when
//! replayed. Run by the contract suite on every engine.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hubauth_store::{
    AuthStateUpdate, LoginUpdate, NewSession, ProviderSessionLink, ProviderSessionQuery, Store,
};

fn link(issuer: &str, subject: &str, sid: Option<&str>) -> ProviderSessionLink {
    ProviderSessionLink {
        issuer: issuer.to_owned(),
        subject: subject.to_owned(),
        sid: sid.map(str::to_owned),
    }
}

fn query<'a>(
    issuer: &'a str,
    subject: Option<&'a str>,
    sid: Option<&'a str>,
) -> ProviderSessionQuery<'a> {
    ProviderSessionQuery {
        issuer,
        subject,
        sid,
    }
}

async fn ids(store: &dyn Store, q: ProviderSessionQuery<'_>) -> Vec<String> {
    store
        .provider_sessions(q)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id_hash)
        .collect()
}

/// Sessions linked to a provider session are found by exactly what a logout token names.
pub(super) async fn contract_provider_sessions_and_logout_tokens(store: &dyn Store) {
    for name in ["bcl-alice", "bcl-bob"] {
        store
            .apply_login(LoginUpdate {
                name: name.to_owned(),
                admin: None,
                groups: None,
                auth_state: AuthStateUpdate::Keep,
                now: 10,
                create_if_missing: true,
            })
            .await
            .unwrap();
    }
    let idp = "https://idp.example";
    // bcl-a2 is linked as it is created (a login's one statement), the others afterwards.
    for (hash, user, provider) in [
        ("bcl-a1", "bcl-alice", None),
        ("bcl-a2", "bcl-alice", Some(link(idp, "alice", Some("s2")))),
        ("bcl-a3", "bcl-alice", None),
        ("bcl-b1", "bcl-bob", None),
        ("bcl-plain", "bcl-bob", None),
    ] {
        store
            .create_session(NewSession {
                id_hash: hash.to_owned(),
                user: user.to_owned(),
                created: 10,
                expires: 1000,
                provider,
            })
            .await
            .unwrap();
    }
    assert!(
        store
            .link_provider_session("bcl-a1", &link(idp, "alice", Some("s1")))
            .await
            .unwrap()
    );
    assert!(
        store
            .link_provider_session(
                "bcl-a3",
                &link("https://other.example", "alice", Some("s1"))
            )
            .await
            .unwrap()
    );
    assert!(
        store
            .link_provider_session("bcl-b1", &link(idp, "bob", None))
            .await
            .unwrap()
    );
    assert!(
        !store
            .link_provider_session("bcl-gone", &link(idp, "x", None))
            .await
            .unwrap()
    );

    assert_eq!(ids(store, query(idp, None, Some("s1"))).await, ["bcl-a1"]);
    assert_eq!(
        ids(store, query(idp, Some("alice"), Some("s2"))).await,
        ["bcl-a2"]
    );
    assert!(
        ids(store, query(idp, Some("bob"), Some("s1")))
            .await
            .is_empty(),
        "sub and sid must both match"
    );
    assert_eq!(
        ids(store, query(idp, Some("alice"), None)).await,
        ["bcl-a1", "bcl-a2"]
    );
    assert_eq!(ids(store, query(idp, Some("bob"), None)).await, ["bcl-b1"]);
    assert!(ids(store, query(idp, None, None)).await.is_empty());
    assert!(
        ids(store, query("https://idp.example/", Some("alice"), None))
            .await
            .is_empty(),
        "issuers compare exactly"
    );
    // An expired session is still found (it is ended either way).
    let found = store
        .provider_sessions(query(idp, None, Some("s1")))
        .await
        .unwrap();
    assert_eq!(found[0].user, "bcl-alice");

    // jti: once per issuer, until it expires.
    assert!(store.record_logout_token(idp, "j1", 100, 50).await.unwrap());
    assert!(
        !store.record_logout_token(idp, "j1", 100, 60).await.unwrap(),
        "a replay"
    );
    assert!(
        store
            .record_logout_token("https://other.example", "j1", 100, 60)
            .await
            .unwrap()
    );
    assert!(
        store
            .record_logout_token(idp, "j1", 300, 100)
            .await
            .unwrap(),
        "forgotten once expired"
    );

    for user in ["bcl-alice", "bcl-bob"] {
        store.delete_user(user).await.unwrap();
    }
}
