//! The server's audit trail as a chained table in PostgreSQL.
//!
//! Several `attesta serve` processes on one database write one chain: each
//! append takes a transaction-scoped advisory lock, reads the last entry's
//! `chain_hash`, chains the new record to it (the same v1 line a JSONL
//! trail holds) and inserts it as the next `seq`. The lock serialises the
//! writers; the primary key on `seq` would refuse a fork even without it.
//! The lines read back in `seq` order are a v1 log, so `attesta audit
//! verify --database URL` checks them with the file verifier.

use async_trait::async_trait;
use attesta::audit::{AuditError, AuditRecord, AuditSink, GENESIS_HASH, record_line};
use deadpool_postgres::Pool;

use super::StoreError;
use super::postgres::{AUDIT_TABLE_VERSION, read_version};
use super::postgres_tls::{PostgresTls, Target};

/// Serialises appends to the chain across servers (an arbitrary, fixed
/// advisory lock key, distinct from the migration lock).
const AUDIT_LOCK: i64 = 0x0041_7474_6175_6469;

/// The `audit_log` table of an attesta server database.
#[derive(Clone)]
pub struct PostgresAuditLog {
    pool: Pool,
}

impl std::fmt::Debug for PostgresAuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The pool's configuration may carry a password.
        f.debug_struct("PostgresAuditLog").finish_non_exhaustive()
    }
}

fn write_error(e: impl std::fmt::Display) -> AuditError {
    AuditError::Write(format!("the PostgreSQL audit table: {e}"))
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl PostgresAuditLog {
    /// The table over `pool` (the store's own connections).
    pub(crate) fn over(pool: Pool) -> Self {
        Self { pool }
    }

    /// Opens the table of the database at `url` for reading, without
    /// migrating anything: refuses a database that has no audit table yet.
    pub async fn connect(url: &str, tls: &PostgresTls) -> Result<Self, StoreError> {
        let pool = Target::new(url, tls)?.pool(1)?;
        let log = Self { pool };
        let client = log.client().await?;
        let has_schema: bool = client
            .query_one("SELECT to_regclass('attesta_schema') IS NOT NULL", &[])
            .await
            .map_err(backend)?
            .get(0);
        let version = if has_schema {
            read_version(&client).await?
        } else {
            0
        };
        if version < AUDIT_TABLE_VERSION {
            return Err(StoreError::Schema(format!(
                "this database has no attesta audit table (schema version {version}, the table \
                 came with version {AUDIT_TABLE_VERSION}); is it an attesta server's database? \
                 Starting `attesta serve --database` on it once brings it up to date"
            )));
        }
        Ok(log)
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool
            .get()
            .await
            .map_err(|e| super::postgres_tls::unreachable(&e))
    }

    /// Up to `limit` entries after `after_seq`, in chain order: each entry's
    /// `seq` and its line (without the newline).
    pub async fn lines_after(
        &self,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT seq, line FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[&after_seq, &limit],
            )
            .await
            .map_err(backend)?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    }

    /// How many entries the chain has.
    pub async fn len(&self) -> Result<i64, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT count(*) FROM audit_log", &[])
            .await
            .map_err(backend)?;
        Ok(row.get(0))
    }

    /// Whether the chain has no entries.
    pub async fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len().await? == 0)
    }
}

#[async_trait]
impl AuditSink for PostgresAuditLog {
    async fn append(&self, record: AuditRecord) -> Result<String, AuditError> {
        let mut client = self.pool.get().await.map_err(write_error)?;
        let tx = client.transaction().await.map_err(write_error)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK])
            .await
            .map_err(write_error)?;
        let last = tx
            .query_opt(
                "SELECT seq, chain_hash FROM audit_log ORDER BY seq DESC LIMIT 1",
                &[],
            )
            .await
            .map_err(write_error)?;
        let (seq, previous): (i64, String) = match last {
            Some(row) => (row.get::<_, i64>(0) + 1, row.get(1)),
            None => (1, GENESIS_HASH.to_owned()),
        };
        let chained = record_line(&record, &previous);
        let line = chained.line.trim_end_matches('\n');
        tx.execute(
            "INSERT INTO audit_log (seq, entry_id, chain_hash, line) VALUES ($1, $2, $3, $4)",
            &[&seq, &record.entry_id, &chained.chain_hash, &line],
        )
        .await
        .map_err(write_error)?;
        tx.commit().await.map_err(write_error)?;
        Ok(record.entry_id)
    }
}
