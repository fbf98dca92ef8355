//! Cache invalidation between hub processes: the announcement's wire form (any user name
//! travels intact, anything unreadable means "forget everything"), the round trip between
//! two stores on one PostgreSQL database, and the reconnection after the listening
//! connection is killed. SQLite has no other process to tell.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use hubauth_store::{CacheEvent, CacheEvents, LISTENER_APPLICATION_NAME, Store};
use sqlx::Connection as _;

use super::store::{create_database, drop_database, postgres_test_url};
use crate::events::{decode, encode};

/// User names a hub may store, and some it never would: the payload must carry each intact.
fn hostile_names() -> Vec<String> {
    vec![
        "ann".to_owned(),
        "o'brien\"; NOTIFY hubauth_cache, 'x'; --".to_owned(),
        "line\nbreak\r\tand\u{7}bell".to_owned(),
        "back\\slash\\\"".to_owned(),
        "{\"v\":1,\"from\":\"x\",\"all\":true}".to_owned(),
        "ünïcødé 名前 🦀".to_owned(),
        "\u{202e}rtl\u{200b}zero-width".to_owned(),
        String::new(),
        "x".repeat(7000),
    ]
}

#[test]
fn any_user_name_round_trips_and_an_oversized_one_becomes_all() {
    for name in hostile_names() {
        let payload = encode(&CacheEvent::User(name.clone()), "a").unwrap();
        assert!(payload.len() < 8000, "PostgreSQL refuses 8000 bytes");
        assert_eq!(decode(&payload, "b"), Some(CacheEvent::User(name)));
    }
    // Too long for one notification: everybody forgets everything instead.
    let long = CacheEvent::User("é".repeat(5000));
    let payload = encode(&long, "a").unwrap();
    assert_eq!(decode(&payload, "b"), Some(CacheEvent::All));
    let session = CacheEvent::Session("ab".repeat(32));
    assert_eq!(decode(&encode(&session, "a").unwrap(), "b"), Some(session));
    assert_eq!(
        decode(&encode(&CacheEvent::All, "a").unwrap(), "b"),
        Some(CacheEvent::All)
    );
    assert_eq!(encode(&CacheEvent::Listening, "a"), None, "never announced");
}

#[test]
fn own_announcements_are_skipped_and_unreadable_ones_mean_all() {
    let payload = encode(&CacheEvent::User("ann".to_owned()), "me").unwrap();
    assert_eq!(decode(&payload, "me"), None);
    for garbage in [
        "",
        "not json",
        "{}",
        "[1,2]",
        "{\"v\":2,\"from\":\"x\",\"user\":\"ann\"}",
        "{\"v\":1,\"from\":\"x\"}",
        "{\"v\":1,\"from\":\"x\",\"user\":\"ann\",\"session\":\"ab\"}",
        "{\"v\":1,\"from\":\"x\",\"user\":\"ann\",\"all\":true}",
        "{\"v\":1,\"from\":\"x\",\"user\":7}",
        "{\"v\":1,\"user\":\"ann\"}",
    ] {
        assert_eq!(decode(garbage, "me"), Some(CacheEvent::All), "{garbage}");
    }
}

#[tokio::test]
async fn sqlite_has_nobody_to_tell() {
    let store = hubauth_store::SqliteStore::open_in_memory().await.unwrap();
    store
        .announce(&CacheEvent::User("ann".to_owned()))
        .await
        .unwrap();
    assert!(store.cache_events().is_none());
}

/// The next event, failing the test after a generous deadline.
async fn next(events: &mut CacheEvents) -> CacheEvent {
    tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("an event within 10 s")
        .expect("the listener runs")
}

#[tokio::test]
async fn events_travel_between_two_stores_on_postgres_and_survive_a_killed_connection() {
    let Some(server) = postgres_test_url() else {
        return;
    };
    let (url, name) = create_database(&server, "events").await;
    {
        let a = hubauth_store::open(&url).await.unwrap();
        let b = hubauth_store::open(&url).await.unwrap();
        let mut heard_by_b = b.cache_events().unwrap();
        assert_eq!(next(&mut heard_by_b).await, CacheEvent::Listening);

        for name in hostile_names() {
            a.announce(&CacheEvent::User(name.clone())).await.unwrap();
            assert_eq!(next(&mut heard_by_b).await, CacheEvent::User(name));
        }
        // B does not hear itself; what A says next is the next event.
        b.announce(&CacheEvent::All).await.unwrap();
        let hash = "0f".repeat(32);
        a.announce(&CacheEvent::Session(hash.clone()))
            .await
            .unwrap();
        assert_eq!(next(&mut heard_by_b).await, CacheEvent::Session(hash));
        a.announce(&CacheEvent::All).await.unwrap();
        assert_eq!(next(&mut heard_by_b).await, CacheEvent::All);

        // Someone else on the channel with a message hubauth cannot read: forget all.
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(hubauth_store::CACHE_CHANNEL)
            .bind("hello")
            .execute(&mut sqlx::postgres::PgConnection::connect(&url).await.unwrap())
            .await
            .unwrap();
        assert_eq!(next(&mut heard_by_b).await, CacheEvent::All);

        // The listening connection is killed: B says it listens again (whatever was
        // announced meanwhile is lost), and hears what comes after.
        for _ in 0..2 {
            let mut admin = sqlx::postgres::PgConnection::connect(&url).await.unwrap();
            let killed: Vec<bool> = sqlx::query_scalar(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = $1 AND datname = current_database()",
            )
            .bind(format!(
                "{LISTENER_APPLICATION_NAME} {}",
                std::process::id()
            ))
            .fetch_all(&mut admin)
            .await
            .unwrap();
            assert!(killed.contains(&true), "the listening connection is found");
            admin.close().await.unwrap();
            assert_eq!(next(&mut heard_by_b).await, CacheEvent::Listening);
            a.announce(&CacheEvent::User("after".to_owned()))
                .await
                .unwrap();
            assert_eq!(
                next(&mut heard_by_b).await,
                CacheEvent::User("after".to_owned())
            );
        }

        drop(heard_by_b);
        a.close().await;
        b.close().await;
    }
    drop_database(&server, &name).await;
}
