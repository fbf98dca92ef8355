//! The store's part of OpenID Connect Back-Channel Logout: sessions linked to the
//! provider's session, found by `sid` and/or `sub`, and logout token ids refused when
//! replayed. Run by the contract suite on every engine.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use hubauth_store::{
    AuthStateUpdate, LoginUpdate, NewLogoutNotice, NewSession, ProviderSessionLink,
    ProviderSessionQuery, Store,
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

fn notice(client: &str, user: &str, sid: Option<&str>) -> NewLogoutNotice {
    NewLogoutNotice {
        client_id: client.to_owned(),
        user: user.to_owned(),
        sid: sid.map(str::to_owned),
    }
}

/// The outbox of logout notices: queued up to a bound, claimed by one process at a time,
/// attempts remembered, taken over when a claim is stale, released, deleted.
pub(super) async fn contract_logout_outbox(store: &dyn Store) {
    assert_eq!(store.count_logout_notices().await.unwrap(), 0);
    assert_eq!(store.queue_logout_notices(&[], 100, 10).await.unwrap(), 0);
    let first = [
        notice("app", "ada", Some("sid-1")),
        notice("other", "ada", Some("sid-1")),
    ];
    assert_eq!(
        store.queue_logout_notices(&first, 100, 10).await.unwrap(),
        2
    );
    // Names and ids of any characters are kept as they are.
    let odd = [notice("app", "b\u{f6}b 'x\"; --", None)];
    assert_eq!(store.queue_logout_notices(&odd, 101, 10).await.unwrap(), 1);
    // Full: nothing of a batch that does not fit goes in.
    assert_eq!(
        store
            .queue_logout_notices(&[notice("app", "x", None)], 102, 3)
            .await
            .unwrap(),
        0
    );
    assert_eq!(store.count_logout_notices().await.unwrap(), 3);

    // Oldest first, at most `limit`, each once.
    let claimed = store.claim_logout_notices("p1", 200, 80, 2).await.unwrap();
    let got: Vec<&NewLogoutNotice> = claimed.iter().map(|q| &q.notice).collect();
    assert_eq!(got, vec![&first[0], &first[1]]);
    assert!(claimed.iter().all(|q| q.attempts == 0 && q.created == 100));
    let rest = store.claim_logout_notices("p2", 200, 80, 10).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].notice, odd[0]);
    assert_eq!(rest[0].created, 101);
    assert!(
        store
            .claim_logout_notices("p2", 200, 80, 10)
            .await
            .unwrap()
            .is_empty(),
        "everything is held"
    );

    // Attempts are recorded by the holder only.
    let a = claimed[0].id;
    assert!(
        store
            .record_logout_notice_attempts(a, "p1", 2)
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_logout_notice_attempts(a, "p2", 9)
            .await
            .unwrap()
    );

    // p1 stops: its notices are free again, attempts kept.
    assert_eq!(store.release_logout_notices("p1").await.unwrap(), 2);
    let taken = store
        .claim_logout_notices("p3", 300, 150, 10)
        .await
        .unwrap();
    assert_eq!(taken.len(), 2);
    assert_eq!(taken[0].id, a);
    assert_eq!(taken[0].attempts, 2);
    // A claim older than `stale_before` is taken over (its process is presumed gone):
    // p2's from time 200 at 250, not p3's from 300.
    let over = store
        .claim_logout_notices("p4", 400, 250, 10)
        .await
        .unwrap();
    assert_eq!(over.len(), 1);
    assert_eq!(over[0].notice, odd[0]);
    assert!(
        !store
            .record_logout_notice_attempts(over[0].id, "p2", 1)
            .await
            .unwrap()
    );

    for queued in taken.iter().chain(&over) {
        store.delete_logout_notice(queued.id).await.unwrap();
    }
    // Deleting twice is not an error.
    store.delete_logout_notice(a).await.unwrap();
    assert_eq!(store.count_logout_notices().await.unwrap(), 0);
    assert_eq!(store.release_logout_notices("p3").await.unwrap(), 0);
}

/// Processes claiming from one outbox at the same time (replicas on one database) never
/// get the same notice twice, and between them get every one.
pub(super) async fn concurrent_outbox_claims_are_disjoint(
    one: &Arc<dyn Store>,
    two: &Arc<dyn Store>,
) {
    let notices: Vec<NewLogoutNotice> = (0..40)
        .map(|i| notice("app", &format!("racer-{i}"), None))
        .collect();
    assert_eq!(
        one.queue_logout_notices(&notices, 10, 1000).await.unwrap(),
        40
    );
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = Arc::clone(if i % 2 == 0 { one } else { two });
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let claimed = store
                    .claim_logout_notices(&format!("proc-{i}"), 20, 0, 3)
                    .await
                    .unwrap();
                if claimed.is_empty() {
                    return mine;
                }
                mine.extend(claimed.into_iter().map(|q| q.id));
            }
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort_unstable();
    let count = all.len();
    all.dedup();
    assert_eq!(all.len(), count, "a notice was claimed twice");
    assert_eq!(count, 40);
    for id in all {
        one.delete_logout_notice(id).await.unwrap();
    }
}
