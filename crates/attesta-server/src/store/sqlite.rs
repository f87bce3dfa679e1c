//! The default store: one SQLite file (embedded; nothing to install).
//!
//! One connection, behind a mutex, used from Tokio's blocking pool: SQLite
//! serialises writers anyway, and every operation here is a short
//! transaction. Writes use `BEGIN IMMEDIATE`, so a read-then-write (an
//! idempotent submit, a slot claim) cannot interleave with another writer.
//! WAL mode lets readers run while a write commits.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::migrate::{self, Migration};
use super::rules::{check_answerable, choose_slot};
use super::{
    Approval, ApprovalState, Claim, NewApproval, Slot, SlotState, Store, StoreError, Submitted,
};
use crate::principal::{NewPrincipal, Principal, PrincipalKind, TokenHash};

/// The schema, one migration per version.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "principals, approvals, slots",
        sql: r"
        CREATE TABLE principals (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('requester', 'approver', 'admin')),
            token_hash TEXT NOT NULL UNIQUE,
            groups_json TEXT NOT NULL,
            totp_secret TEXT,
            created_at_ms INTEGER NOT NULL,
            revoked_at_ms INTEGER
        );
        CREATE TABLE approvals (
            id TEXT PRIMARY KEY,
            requester TEXT NOT NULL REFERENCES principals (id),
            idempotency_key TEXT NOT NULL,
            action_digest TEXT NOT NULL,
            request_json TEXT NOT NULL,
            state TEXT NOT NULL,
            created_at_ms INTEGER NOT NULL,
            deadline_ms INTEGER NOT NULL,
            decided_at_ms INTEGER,
            decision_json TEXT,
            UNIQUE (requester, idempotency_key)
        );
        CREATE INDEX approvals_pending ON approvals (created_at_ms) WHERE state = 'pending';
        CREATE TABLE slots (
            approval_id TEXT NOT NULL REFERENCES approvals (id),
            slot INTEGER NOT NULL,
            challenge TEXT NOT NULL,
            prompt_json TEXT NOT NULL,
            key_json TEXT NOT NULL,
            state TEXT NOT NULL,
            claimed_by TEXT,
            claimed_at_ms INTEGER,
            approver TEXT,
            answered_at_ms INTEGER,
            result_json TEXT,
            PRIMARY KEY (approval_id, slot)
        );
    ",
    },
    Migration {
        version: 2,
        name: "TOTP replay protection",
        sql: "ALTER TABLE principals ADD COLUMN totp_last_step INTEGER;",
    },
];

/// An SQLite database file holding the server's state.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its
    /// schema up to date; refuses one written by a newer attesta.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let what = format!("the database {}", path.display());
        let conn = Connection::open(path)
            .map_err(|e| StoreError::Backend(format!("cannot open {what}: {e}")))?;
        conn.busy_timeout(Duration::from_secs(5))
            .and_then(|()| conn.pragma_update(None, "journal_mode", "WAL"))
            .and_then(|()| conn.pragma_update(None, "foreign_keys", true))
            .and_then(|()| conn.pragma_update(None, "synchronous", "FULL"))
            .map_err(|e| StoreError::Backend(format!("cannot configure {what}: {e}")))?;
        let mut store = Self {
            conn: Arc::new(Mutex::new(conn)),
            path: path.to_owned(),
        };
        store.migrate(&what)?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version stored in the file.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        let conn = self.lock();
        read_version(&conn)
    }

    fn migrate(&mut self, what: &str) -> Result<(), StoreError> {
        let mut conn = self.lock();
        conn.execute_batch("CREATE TABLE IF NOT EXISTS attesta_schema (version INTEGER NOT NULL)")
            .map_err(backend)?;
        let found = read_version(&conn)?;
        migrate::check_not_newer(found, MIGRATIONS, what)?;
        for migration in migrate::pending(found, MIGRATIONS) {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Exclusive)
                .map_err(backend)?;
            tx.execute_batch(migration.sql).map_err(|e| {
                StoreError::Schema(format!(
                    "migrating {what} to version {} ({}) failed: {e}",
                    migration.version, migration.name
                ))
            })?;
            tx.execute("DELETE FROM attesta_schema", [])
                .map_err(backend)?;
            tx.execute(
                "INSERT INTO attesta_schema (version) VALUES (?1)",
                [migration.version],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)?;
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A poisoned lock still guards a valid connection: every use is a
        // whole transaction that SQLite rolls back if it was cut short.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `work` on the connection in Tokio's blocking pool.
    async fn with<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            work(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("the database task stopped: {e}")))?
    }
}

// By value so it reads `map_err(backend)`.
#[allow(clippy::needless_pass_by_value)]
fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn read_version(conn: &Connection) -> Result<i64, StoreError> {
    let version: Option<i64> = conn
        .query_row("SELECT max(version) FROM attesta_schema", [], |r| r.get(0))
        .map_err(backend)?;
    Ok(version.unwrap_or(0))
}

fn json_text(value: &serde_json::Value) -> String {
    value.to_string()
}

fn parse_json(text: &str, what: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Schema(format!("a stored {what} is not valid JSON: {e}")))
}

const PRINCIPAL_COLUMNS: &str =
    "id, kind, groups_json, totp_secret IS NOT NULL, created_at_ms, revoked_at_ms";

fn principal_row(
    row: &rusqlite::Row<'_>,
) -> rusqlite::Result<(String, String, String, bool, i64, Option<i64>)> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
    ))
}

fn principal_from(
    (id, kind, groups, has_totp, created_at_ms, revoked_at_ms): (
        String,
        String,
        String,
        bool,
        i64,
        Option<i64>,
    ),
) -> Result<Principal, StoreError> {
    let kind: PrincipalKind = kind.parse().map_err(StoreError::Schema)?;
    let groups: Vec<String> = serde_json::from_str(&groups)
        .map_err(|e| StoreError::Schema(format!("the groups of `{id}` are damaged: {e}")))?;
    Ok(Principal {
        id,
        kind,
        groups,
        has_totp,
        created_at_ms,
        revoked_at_ms,
    })
}

fn get_principal(conn: &Connection, id: &str) -> Result<Option<Principal>, StoreError> {
    conn.query_row(
        &format!("SELECT {PRINCIPAL_COLUMNS} FROM principals WHERE id = ?1"),
        [id],
        principal_row,
    )
    .optional()
    .map_err(backend)?
    .map(principal_from)
    .transpose()
}

fn get_approval(conn: &Connection, id: &str) -> Result<Option<Approval>, StoreError> {
    let row = conn
        .query_row(
            "SELECT id, requester, idempotency_key, action_digest, request_json, state, \
             created_at_ms, deadline_ms, decided_at_ms, decision_json FROM approvals WHERE id = ?1",
            [id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, i64>(7)?,
                    r.get::<_, Option<i64>>(8)?,
                    r.get::<_, Option<String>>(9)?,
                ))
            },
        )
        .optional()
        .map_err(backend)?;
    let Some((id, requester, key, digest, request, state, created, deadline, decided, decision)) =
        row
    else {
        return Ok(None);
    };
    let state = ApprovalState::parse(&state).ok_or_else(|| {
        StoreError::Schema(format!("approval {id} has an unknown state `{state}`"))
    })?;
    Ok(Some(Approval {
        slots: get_slots(conn, &id)?,
        requester,
        idempotency_key: key,
        action_digest: digest,
        request: parse_json(&request, "request")?,
        state,
        created_at_ms: created,
        deadline_ms: deadline,
        decided_at_ms: decided,
        decision: decision
            .as_deref()
            .map(|d| parse_json(d, "decision"))
            .transpose()?,
        id,
    }))
}

fn get_slots(conn: &Connection, id: &str) -> Result<Vec<Slot>, StoreError> {
    let mut statement = conn
        .prepare_cached(
            "SELECT slot, challenge, prompt_json, key_json, state, claimed_by, claimed_at_ms, \
             approver, answered_at_ms, result_json FROM slots WHERE approval_id = ?1 ORDER BY slot",
        )
        .map_err(backend)?;
    let rows = statement
        .query_map([id], |r| {
            Ok((
                r.get::<_, u32>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, Option<i64>>(6)?,
                r.get::<_, Option<String>>(7)?,
                r.get::<_, Option<i64>>(8)?,
                r.get::<_, Option<String>>(9)?,
            ))
        })
        .map_err(backend)?;
    let mut slots = Vec::new();
    for row in rows {
        let (
            index,
            challenge,
            prompt,
            key,
            state,
            claimed_by,
            claimed_at,
            approver,
            answered,
            result,
        ) = row.map_err(backend)?;
        slots.push(Slot {
            index,
            challenge,
            prompt: parse_json(&prompt, "prompt")?,
            key: parse_json(&key, "answer key")?,
            state: SlotState::parse(&state).ok_or_else(|| {
                StoreError::Schema(format!(
                    "slot {index} of {id} has an unknown state `{state}`"
                ))
            })?,
            claimed_by,
            claimed_at_ms: claimed_at,
            approver,
            answered_at_ms: answered,
            result: result
                .as_deref()
                .map(|r| parse_json(r, "result"))
                .transpose()?,
        });
    }
    Ok(slots)
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.with(|conn| read_version(conn).map(drop)).await
    }

    async fn add_principal(
        &self,
        new: &NewPrincipal,
        token: &TokenHash,
        totp_secret: Option<&str>,
        now_ms: i64,
    ) -> Result<Principal, StoreError> {
        let (new, token, totp) = (new.clone(), token.clone(), totp_secret.map(str::to_owned));
        self.with(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            if get_principal(&tx, &new.id)?.is_some() {
                return Err(StoreError::Conflict(format!(
                    "a principal named `{}` exists already; choose another name, or revoke it \
                     and add it under a new one",
                    new.id
                )));
            }
            let groups = serde_json::to_string(&new.groups)
                .map_err(|e| StoreError::Backend(e.to_string()))?;
            tx.execute(
                "INSERT INTO principals (id, kind, token_hash, groups_json, totp_secret, \
                 created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    new.id,
                    new.kind.as_str(),
                    token.as_str(),
                    groups,
                    totp,
                    now_ms
                ],
            )
            .map_err(backend)?;
            let principal = get_principal(&tx, &new.id)?
                .ok_or_else(|| StoreError::Backend("the new principal vanished".to_owned()))?;
            tx.commit().map_err(backend)?;
            Ok(principal)
        })
        .await
    }

    async fn principals(&self) -> Result<Vec<Principal>, StoreError> {
        self.with(|conn| {
            let mut statement = conn
                .prepare(&format!(
                    "SELECT {PRINCIPAL_COLUMNS} FROM principals ORDER BY id"
                ))
                .map_err(backend)?;
            let rows = statement.query_map([], principal_row).map_err(backend)?;
            rows.map(|row| row.map_err(backend).and_then(principal_from))
                .collect()
        })
        .await
    }

    async fn revoke_principal(&self, id: &str, now_ms: i64) -> Result<Principal, StoreError> {
        let id = id.to_owned();
        self.with(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            tx.execute(
                "UPDATE principals SET revoked_at_ms = ?2 WHERE id = ?1 AND revoked_at_ms IS NULL",
                params![id, now_ms],
            )
            .map_err(backend)?;
            let principal = get_principal(&tx, &id)?.ok_or_else(|| {
                StoreError::NotFound(format!(
                    "principal `{id}` (see `attesta server principals list`)"
                ))
            })?;
            tx.commit().map_err(backend)?;
            Ok(principal)
        })
        .await
    }

    async fn principal_by_token(&self, token: &TokenHash) -> Result<Option<Principal>, StoreError> {
        let token = token.clone();
        self.with(move |conn| {
            conn.query_row(
                &format!("SELECT {PRINCIPAL_COLUMNS} FROM principals WHERE token_hash = ?1"),
                [token.as_str()],
                principal_row,
            )
            .optional()
            .map_err(backend)?
            .map(principal_from)
            .transpose()
        })
        .await
    }

    async fn submit(&self, new: NewApproval) -> Result<Submitted, StoreError> {
        self.with(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            let existing: Option<String> = tx
                .query_row(
                    "SELECT id FROM approvals WHERE requester = ?1 AND idempotency_key = ?2",
                    params![new.requester, new.idempotency_key],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend)?;
            if let Some(id) = existing {
                let approval = get_approval(&tx, &id)?
                    .ok_or_else(|| StoreError::Backend("an approval vanished".to_owned()))?;
                return Ok(Submitted {
                    approval,
                    created: false,
                });
            }
            tx.execute(
                "INSERT INTO approvals (id, requester, idempotency_key, action_digest, \
                 request_json, state, created_at_ms, deadline_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?7)",
                params![
                    new.id,
                    new.requester,
                    new.idempotency_key,
                    new.action_digest,
                    json_text(&new.request),
                    new.created_at_ms,
                    new.deadline_ms
                ],
            )
            .map_err(backend)?;
            for (index, slot) in (1u32..).zip(&new.slots) {
                tx.execute(
                    "INSERT INTO slots (approval_id, slot, challenge, prompt_json, key_json, \
                     state) VALUES (?1, ?2, ?3, ?4, ?5, 'open')",
                    params![
                        new.id,
                        index,
                        slot.challenge,
                        json_text(&slot.prompt),
                        json_text(&slot.key)
                    ],
                )
                .map_err(backend)?;
            }
            let approval = get_approval(&tx, &new.id)?
                .ok_or_else(|| StoreError::Backend("the new approval vanished".to_owned()))?;
            tx.commit().map_err(backend)?;
            Ok(Submitted {
                approval,
                created: true,
            })
        })
        .await
    }

    async fn approval(&self, id: &str) -> Result<Option<Approval>, StoreError> {
        let id = id.to_owned();
        self.with(move |conn| get_approval(conn, &id)).await
    }

    async fn pending_count(&self, requester: &str) -> Result<u64, StoreError> {
        let requester = requester.to_owned();
        self.with(move |conn| {
            let count: i64 = conn
                .query_row(
                    "SELECT count(*) FROM approvals WHERE requester = ?1 AND state = 'pending'",
                    [requester],
                    |r| r.get(0),
                )
                .map_err(backend)?;
            Ok(u64::try_from(count).unwrap_or(0))
        })
        .await
    }

    async fn pending(&self, limit: u32) -> Result<Vec<Approval>, StoreError> {
        self.with(move |conn| {
            let ids: Vec<String> = {
                let mut statement = conn
                    .prepare_cached(
                        "SELECT id FROM approvals WHERE state = 'pending' \
                         ORDER BY created_at_ms, id LIMIT ?1",
                    )
                    .map_err(backend)?;
                let rows = statement
                    .query_map([limit], |r| r.get::<_, String>(0))
                    .map_err(backend)?;
                rows.collect::<Result<_, _>>().map_err(backend)?
            };
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(approval) = get_approval(conn, &id)? {
                    out.push(approval);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn claim_slot(
        &self,
        id: &str,
        approver: &str,
        now_ms: i64,
        lapsed_before_ms: i64,
    ) -> Result<Claim, StoreError> {
        let (id, approver) = (id.to_owned(), approver.to_owned());
        self.with(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            let approval = get_approval(&tx, &id)?
                .ok_or_else(|| StoreError::NotFound(format!("approval {id}")))?;
            let claim = choose_slot(&approval, &approver, lapsed_before_ms);
            if let Claim::Held(slot) = &claim
                && slot.claimed_by.as_deref() != Some(approver.as_str())
            {
                tx.execute(
                    "UPDATE slots SET claimed_by = ?3, claimed_at_ms = ?4 \
                     WHERE approval_id = ?1 AND slot = ?2",
                    params![id, slot.index, approver, now_ms],
                )
                .map_err(backend)?;
                let claimed = Slot {
                    claimed_by: Some(approver.clone()),
                    claimed_at_ms: Some(now_ms),
                    ..slot.clone()
                };
                tx.commit().map_err(backend)?;
                return Ok(Claim::Held(claimed));
            }
            tx.commit().map_err(backend)?;
            Ok(claim)
        })
        .await
    }

    async fn record_answer(
        &self,
        id: &str,
        index: u32,
        approver: &str,
        passed: bool,
        result: serde_json::Value,
        now_ms: i64,
    ) -> Result<Approval, StoreError> {
        let (id, approver) = (id.to_owned(), approver.to_owned());
        self.with(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            let approval = get_approval(&tx, &id)?
                .ok_or_else(|| StoreError::NotFound(format!("approval {id}")))?;
            check_answerable(&approval, index, &approver)?;
            let state = if passed {
                SlotState::Passed
            } else {
                SlotState::Failed
            };
            tx.execute(
                "UPDATE slots SET state = ?3, approver = ?4, answered_at_ms = ?5, \
                 result_json = ?6 WHERE approval_id = ?1 AND slot = ?2 AND state = 'open'",
                params![
                    id,
                    index,
                    state.as_str(),
                    approver,
                    now_ms,
                    json_text(&result)
                ],
            )
            .map_err(backend)?;
            let approval = get_approval(&tx, &id)?
                .ok_or_else(|| StoreError::Backend("an approval vanished".to_owned()))?;
            tx.commit().map_err(backend)?;
            Ok(approval)
        })
        .await
    }

    async fn decide(
        &self,
        id: &str,
        state: ApprovalState,
        decision: serde_json::Value,
        now_ms: i64,
    ) -> Result<Approval, StoreError> {
        let id = id.to_owned();
        self.with(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            let changed = tx
                .execute(
                    "UPDATE approvals SET state = ?2, decision_json = ?3, decided_at_ms = ?4 \
                     WHERE id = ?1 AND state = 'pending'",
                    params![id, state.as_str(), json_text(&decision), now_ms],
                )
                .map_err(backend)?;
            let approval = get_approval(&tx, &id)?
                .ok_or_else(|| StoreError::NotFound(format!("approval {id}")))?;
            if changed == 0 {
                return Err(StoreError::Conflict(format!(
                    "approval {id} is {} already",
                    approval.state.as_str()
                )));
            }
            tx.commit().map_err(backend)?;
            Ok(approval)
        })
        .await
    }

    async fn unsettled(&self, now_ms: i64, limit: u32) -> Result<Vec<String>, StoreError> {
        self.with(move |conn| {
            let mut statement = conn
                .prepare_cached(
                    "SELECT id FROM approvals a WHERE state = 'pending' AND (deadline_ms <= ?1 \
                     OR NOT EXISTS (SELECT 1 FROM slots s WHERE s.approval_id = a.id \
                     AND s.state = 'open') OR EXISTS (SELECT 1 FROM slots s \
                     WHERE s.approval_id = a.id AND s.state = 'failed')) \
                     ORDER BY deadline_ms LIMIT ?2",
                )
                .map_err(backend)?;
            let rows = statement
                .query_map(params![now_ms, limit], |r| r.get::<_, String>(0))
                .map_err(backend)?;
            rows.collect::<Result<_, _>>().map_err(backend)
        })
        .await
    }

    async fn totp_secret(&self, id: &str) -> Result<Option<String>, StoreError> {
        let id = id.to_owned();
        self.with(move |conn| {
            conn.query_row(
                "SELECT totp_secret FROM principals WHERE id = ?1",
                [id],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()
            .map(Option::flatten)
            .map_err(backend)
        })
        .await
    }

    async fn accept_totp_step(&self, id: &str, step: i64) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.with(move |conn| {
            conn.execute(
                "UPDATE principals SET totp_last_step = ?2 WHERE id = ?1 AND \
                 (totp_last_step IS NULL OR totp_last_step < ?2)",
                params![id, step],
            )
            .map(|changed| changed == 1)
            .map_err(backend)
        })
        .await
    }
}
