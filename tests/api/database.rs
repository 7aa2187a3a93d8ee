//! The database the in-process tests run on. SQLite (a file in the test's folder) unless
//! `PARKING_TEST_BACKEND=postgres`, which gives each test a fresh PostgreSQL database on the
//! machine's server (`PARKING_TEST_POSTGRES`, default `postgres://postgres@127.0.0.1:5432`),
//! dropped when the test ends. Helpers here read and write it directly, whichever it is; SQL
//! written with `$1, $2, …` parameters runs on both.

use std::path::{Path, PathBuf};

use std::str::FromStr;

use sqlx::{
    ConnectOptions, PgConnection,
    postgres::PgConnectOptions,
    sqlite::{SqliteConnectOptions, SqliteConnection},
};

/// The server the PostgreSQL tests create their databases on.
pub fn postgres_server() -> String {
    std::env::var("PARKING_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A connection of the test's own. Its statements are never logged: a test's SQL may hold
/// the very values the log scan looks for (seeded phone numbers), and sqlx logs a statement
/// that runs over a second, which a big seed does on a slow machine.
pub async fn pg_connect(url: &str) -> Result<PgConnection, sqlx::Error> {
    PgConnectOptions::from_str(url)?
        .disable_statement_logging()
        .connect()
        .await
}

/// A SQLite connection of the test's own, as `pg_connect`.
pub async fn sqlite_connect(path: &Path) -> Result<SqliteConnection, sqlx::Error> {
    SqliteConnectOptions::new()
        .filename(path)
        .busy_timeout(std::time::Duration::from_secs(10))
        .disable_statement_logging()
        .connect()
        .await
}

pub fn on_postgres() -> bool {
    std::env::var("PARKING_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

pub enum TestDatabase {
    Sqlite(PathBuf),
    Postgres { server: String, name: String },
}

impl TestDatabase {
    /// A fresh database for one test: a file in `dir`, or a new PostgreSQL database.
    pub async fn create(dir: &Path) -> Self {
        if !on_postgres() {
            return TestDatabase::Sqlite(dir.join("parking.db"));
        }
        Self::create_postgres().await
    }

    /// A fresh PostgreSQL database, whichever backend the other tests run on.
    pub async fn create_postgres() -> Self {
        let server = postgres_server();
        let name = format!(
            "parking_test_{}",
            ulid::Ulid::new().to_string().to_lowercase()
        );
        let mut admin = pg_connect(&format!("{server}/postgres"))
            .await
            .expect("the tests need PostgreSQL at PARKING_TEST_POSTGRES");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        TestDatabase::Postgres { server, name }
    }

    pub fn url(&self) -> String {
        match self {
            TestDatabase::Sqlite(path) => format!("sqlite://{}", path.display()),
            TestDatabase::Postgres { server, name } => format!("{server}/{name}"),
        }
    }

    /// Runs `sql` with integer parameters.
    pub async fn execute(&self, sql: &str, binds: &[i64]) {
        match self {
            TestDatabase::Sqlite(path) => {
                let mut conn = crate::helpers::open_file(path).await;
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
                for bind in binds {
                    query = query.bind(*bind);
                }
                query.execute(&mut conn).await.unwrap();
            }
            TestDatabase::Postgres { .. } => {
                let mut conn = pg_connect(&self.url()).await.unwrap();
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
                for bind in binds {
                    query = query.bind(*bind);
                }
                query.execute(&mut conn).await.unwrap();
            }
        }
    }

    /// The first column of every row of `sql`, as text.
    pub async fn texts(&self, sql: &str) -> Vec<String> {
        self.try_texts(sql)
            .await
            .expect("the test database answers")
    }

    /// Like `texts`, `None` when the database cannot be opened or read.
    pub async fn try_texts(&self, sql: &str) -> Option<Vec<String>> {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match self {
            TestDatabase::Sqlite(path) => {
                let mut conn = sqlite_connect(path).await.ok()?;
                sqlx::query_scalar(sql).fetch_all(&mut conn).await.ok()
            }
            TestDatabase::Postgres { .. } => {
                let mut conn = pg_connect(&self.url()).await.ok()?;
                sqlx::query_scalar(sql).fetch_all(&mut conn).await.ok()
            }
        }
    }

    /// Rows in a table, expired or not.
    pub async fn count_rows(&self, table: &str) -> i64 {
        let counted = self
            .texts(&format!("SELECT CAST(count(*) AS TEXT) FROM {table}"))
            .await;
        counted[0].parse().unwrap()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let TestDatabase::Postgres { server, name } = self else {
            return;
        };
        let (server, name, shown) = (server.clone(), name.clone(), name.clone());
        // Drop runs outside any runtime's reach: a thread of its own does the async work.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let mut admin = pg_connect(&format!("{server}/postgres")).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await
                .map(|_| ())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop the test database {shown}");
        }
    }
}
