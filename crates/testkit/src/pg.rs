//! A fresh PostgreSQL database per test on the server named by
//! `HUBAUTH_TEST_POSTGRES_URL` (which `./scripts/test.sh` starts and exports).

use sqlx::Connection as _;

/// The PostgreSQL server URL, or `None` (with a note on stderr) when it is not set.
pub fn server_url(test: &str) -> Option<String> {
    match std::env::var("HUBAUTH_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            eprintln!(
                "note: HUBAUTH_TEST_POSTGRES_URL is not set: {test} was NOT run on PostgreSQL \
                 (./scripts/test.sh starts a throwaway server and sets it)"
            );
            None
        }
    }
}

/// `url` with its database name replaced by `database` (query kept).
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let server = match base[after_scheme..].find('/') {
        Some(slash) => &base[..after_scheme + slash],
        None => base,
    };
    format!("{server}/{database}{query}")
}

/// A database created for one test and dropped (with its connections) when dropped.
#[derive(Debug)]
pub struct TestDatabase {
    /// URL of the new database.
    pub url: String,
    server: String,
    name: String,
}

impl TestDatabase {
    /// Creates a uniquely named database on the server.
    // The time makes the name unique across runs.
    #[allow(clippy::disallowed_methods)]
    pub async fn create(server: &str, label: &str) -> TestDatabase {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let name = format!("hubauth_{label}_{}_{nanos}", std::process::id());
        let mut admin = sqlx::postgres::PgConnection::connect(server)
            .await
            .expect("connect to HUBAUTH_TEST_POSTGRES_URL");
        // `name` is made of ASCII letters, digits and underscores only.
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.unwrap();
        TestDatabase {
            url: with_database(server, &name),
            server: server.to_owned(),
            name,
        }
    }

    /// Drops the database, closing any connection still open on it.
    pub async fn drop_now(self) {
        let mut admin = sqlx::postgres::PgConnection::connect(&self.server)
            .await
            .unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.name
        )))
        .execute(&mut admin)
        .await
        .unwrap();
        admin.close().await.unwrap();
    }
}

/// Runs `scenario` with the URL of a fresh database (dropped afterwards) when
/// `HUBAUTH_TEST_POSTGRES_URL` is set; otherwise prints a note naming `test` and returns.
pub async fn on_fresh_database<F, Fut>(test: &str, label: &str, scenario: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let Some(server) = server_url(test) else {
        return;
    };
    let db = TestDatabase::create(&server, label).await;
    scenario(db.url.clone()).await;
    db.drop_now().await;
}

/// Each scenario (an `async fn(db_url: String)`) as a test on SQLite (`sqlite::NAME`, an
/// empty URL) and one on a fresh PostgreSQL database labelled `label`
/// (`postgres::NAME`).
#[macro_export]
macro_rules! on_both_backends {
    ($label:literal; $($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario(String::new()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $scenario() {
                    $crate::pg::on_fresh_database(stringify!($scenario), $label, super::$scenario)
                        .await;
                }
            )*
        }
    };
}
