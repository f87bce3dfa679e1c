//! The team store: PostgreSQL, shared by several `attesta serve` processes.
//!
//! Every change that reads before it writes (a slot claim, an answer, a
//! decision) locks the approval's row (`SELECT … FOR UPDATE`) first, so two
//! servers cannot both take a slot or both decide. Idempotent submission is
//! one `INSERT … ON CONFLICT DO NOTHING` on the (requester, key) unique
//! constraint. A decision sends `NOTIFY attesta_decided`, which every
//! server LISTENs for to wake its waiting requesters at once.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Pool};
use tokio_postgres::Row;

use super::migrate::{self, Migration};
use super::postgres_tls::{PostgresTls, Target, dedicated};
use super::rules::{check_answerable, choose_slot};
use super::{
    Approval, ApprovalState, Claim, NewApproval, Slot, SlotState, Store, StoreError, Submitted,
};
use crate::principal::{NewPrincipal, Principal, PrincipalKind, TokenHash};

/// The channel decisions are announced on.
const DECIDED_CHANNEL: &str = "attesta_decided";
/// Serialises migrations of servers starting together (an arbitrary,
/// fixed advisory lock key).
const MIGRATION_LOCK: i64 = 0x0041_7474_6573_7461;

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
            created_at_ms BIGINT NOT NULL,
            revoked_at_ms BIGINT
        );
        CREATE TABLE approvals (
            id TEXT PRIMARY KEY,
            requester TEXT NOT NULL REFERENCES principals (id),
            idempotency_key TEXT NOT NULL,
            action_digest TEXT NOT NULL,
            request_json TEXT NOT NULL,
            state TEXT NOT NULL,
            created_at_ms BIGINT NOT NULL,
            deadline_ms BIGINT NOT NULL,
            decided_at_ms BIGINT,
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
            claimed_at_ms BIGINT,
            approver TEXT,
            answered_at_ms BIGINT,
            result_json TEXT,
            PRIMARY KEY (approval_id, slot)
        );
    ",
    },
    Migration {
        version: 2,
        name: "TOTP replay protection",
        sql: "ALTER TABLE principals ADD COLUMN totp_last_step BIGINT;",
    },
    Migration {
        version: 3,
        name: "the server's chained audit trail",
        // One v1 line per entry, exactly as a JSONL trail holds it, in
        // chain order; `seq` counts from 1 without gaps.
        sql: r"
        CREATE TABLE audit_log (
            seq BIGINT PRIMARY KEY CHECK (seq >= 1),
            entry_id TEXT NOT NULL,
            chain_hash TEXT NOT NULL,
            line TEXT NOT NULL
        );
    ",
    },
];

/// The schema version that has the audit table.
pub(crate) const AUDIT_TABLE_VERSION: i64 = 3;

/// A PostgreSQL database holding the server's state.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    target: Target,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password.
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user@host/db`, `?sslmode=require` for
    /// verified TLS against the system's roots) and brings the schema up to
    /// date; refuses one written by a newer attesta.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with(url, &PostgresTls::default()).await
    }

    /// [`PostgresStore::open`] with TLS settings beyond the URL (a CA file).
    pub async fn open_with(url: &str, tls: &PostgresTls) -> Result<Self, StoreError> {
        let target = Target::new(url, tls)?;
        let pool = target.pool(16)?;
        let store = Self { pool, target };
        store.migrate().await?;
        Ok(store)
    }

    /// The server's audit trail in this database (the `audit_log` table),
    /// sharing this store's connections.
    pub fn audit_log(&self) -> super::PostgresAuditLog {
        super::PostgresAuditLog::over(self.pool.clone())
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool
            .get()
            .await
            .map_err(|e| super::postgres_tls::unreachable(&e))
    }

    /// The schema version stored in the database.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let client = self.client().await?;
        read_version(&client).await
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(backend)?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS attesta_schema (version BIGINT NOT NULL)")
            .await
            .map_err(backend)?;
        let found = read_version(&tx).await?;
        migrate::check_not_newer(found, MIGRATIONS, "the PostgreSQL database")?;
        for migration in migrate::pending(found, MIGRATIONS) {
            tx.batch_execute(migration.sql).await.map_err(|e| {
                StoreError::Schema(format!(
                    "migrating the database to version {} ({}) failed: {e}",
                    migration.version, migration.name
                ))
            })?;
            tx.execute("DELETE FROM attesta_schema", &[])
                .await
                .map_err(backend)?;
            tx.execute(
                "INSERT INTO attesta_schema (version) VALUES ($1)",
                &[&migration.version],
            )
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }
}

pub(crate) async fn read_version(client: &impl GenericClient) -> Result<i64, StoreError> {
    let row = client
        .query_one("SELECT max(version) FROM attesta_schema", &[])
        .await
        .map_err(backend)?;
    Ok(row.get::<_, Option<i64>>(0).unwrap_or(0))
}

fn parse_json(text: &str, what: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Schema(format!("a stored {what} is not valid JSON: {e}")))
}

const PRINCIPAL_COLUMNS: &str =
    "id, kind, groups_json, totp_secret IS NOT NULL, created_at_ms, revoked_at_ms";

fn principal_from(row: &Row) -> Result<Principal, StoreError> {
    let id: String = row.get(0);
    let kind: PrincipalKind = row
        .get::<_, String>(1)
        .parse()
        .map_err(StoreError::Schema)?;
    let groups: Vec<String> = serde_json::from_str(&row.get::<_, String>(2))
        .map_err(|e| StoreError::Schema(format!("the groups of `{id}` are damaged: {e}")))?;
    Ok(Principal {
        kind,
        groups,
        has_totp: row.get(3),
        created_at_ms: row.get(4),
        revoked_at_ms: row.get(5),
        id,
    })
}

async fn get_principal(
    client: &impl GenericClient,
    id: &str,
) -> Result<Option<Principal>, StoreError> {
    client
        .query_opt(
            &format!("SELECT {PRINCIPAL_COLUMNS} FROM principals WHERE id = $1"),
            &[&id],
        )
        .await
        .map_err(backend)?
        .as_ref()
        .map(principal_from)
        .transpose()
}

/// The approval `id`, locking its row for the transaction when `lock`.
async fn get_approval(
    client: &impl GenericClient,
    id: &str,
    lock: bool,
) -> Result<Option<Approval>, StoreError> {
    if lock {
        // The lock first, in a statement of its own: a statement that
        // waited for a row lock re-reads only the locked row, so slots
        // joined in the same statement could be the ones from before the
        // other transaction's commit (and a claim would overwrite a claim).
        // The next statement sees everything committed before the lock.
        let locked = client
            .query_opt("SELECT id FROM approvals WHERE id = $1 FOR UPDATE", &[&id])
            .await
            .map_err(backend)?;
        if locked.is_none() {
            return Ok(None);
        }
    }
    // One round trip: the approval's columns repeat on each of its slots'
    // rows (or come once, with NULL slot columns, when it has none).
    let rows = client
        .query(
            "SELECT a.id, a.requester, a.idempotency_key, a.action_digest, a.request_json, \
             a.state, a.created_at_ms, a.deadline_ms, a.decided_at_ms, a.decision_json, \
             s.slot, s.challenge, s.prompt_json, s.key_json, s.state, s.claimed_by, \
             s.claimed_at_ms, s.approver, s.answered_at_ms, s.result_json \
             FROM approvals a LEFT JOIN slots s ON s.approval_id = a.id \
             WHERE a.id = $1 ORDER BY s.slot",
            &[&id],
        )
        .await
        .map_err(backend)?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let state: String = row.get(5);
    let state = ApprovalState::parse(&state).ok_or_else(|| {
        StoreError::Schema(format!("approval {id} has an unknown state `{state}`"))
    })?;
    let decision: Option<String> = row.get(9);
    let mut slots = Vec::with_capacity(rows.len());
    for row in &rows {
        if let Some(index) = row.get::<_, Option<i32>>(10) {
            slots.push(slot_from(row, id, u32::try_from(index).unwrap_or(0))?);
        }
    }
    Ok(Some(Approval {
        id: row.get(0),
        requester: row.get(1),
        idempotency_key: row.get(2),
        action_digest: row.get(3),
        request: parse_json(&row.get::<_, String>(4), "request")?,
        state,
        created_at_ms: row.get(6),
        deadline_ms: row.get(7),
        decided_at_ms: row.get(8),
        decision: decision
            .as_deref()
            .map(|d| parse_json(d, "decision"))
            .transpose()?,
        slots,
    }))
}

/// A slot from columns 10.. of `get_approval`'s row.
fn slot_from(row: &Row, id: &str, index: u32) -> Result<Slot, StoreError> {
    let state: String = row.get(14);
    let result: Option<String> = row.get(19);
    Ok(Slot {
        index,
        challenge: row.get(11),
        prompt: parse_json(&row.get::<_, String>(12), "prompt")?,
        key: parse_json(&row.get::<_, String>(13), "answer key")?,
        state: SlotState::parse(&state).ok_or_else(|| {
            StoreError::Schema(format!(
                "slot {index} of {id} has an unknown state `{state}`"
            ))
        })?,
        claimed_by: row.get(15),
        claimed_at_ms: row.get(16),
        approver: row.get(17),
        answered_at_ms: row.get(18),
        result: result
            .as_deref()
            .map(|r| parse_json(r, "result"))
            .transpose()?,
    })
}

fn slot_number(index: u32) -> i32 {
    i32::try_from(index).unwrap_or(i32::MAX)
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> Result<(), StoreError> {
        let client = self.client().await?;
        read_version(&client).await.map(drop)
    }

    async fn add_principal(
        &self,
        new: &NewPrincipal,
        token: &TokenHash,
        totp_secret: Option<&str>,
        now_ms: i64,
    ) -> Result<Principal, StoreError> {
        let client = self.client().await?;
        let groups = serde_json::to_string(&new.groups).map_err(backend)?;
        let inserted = client
            .execute(
                "INSERT INTO principals (id, kind, token_hash, groups_json, totp_secret, \
                 created_at_ms) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
                &[
                    &new.id,
                    &new.kind.as_str(),
                    &token.as_str(),
                    &groups,
                    &totp_secret,
                    &now_ms,
                ],
            )
            .await
            .map_err(backend)?;
        if inserted == 0 {
            return Err(StoreError::Conflict(format!(
                "a principal named `{}` exists already; choose another name, or revoke it and \
                 add it under a new one",
                new.id
            )));
        }
        get_principal(&client, &new.id)
            .await?
            .ok_or_else(|| StoreError::Backend("the new principal vanished".to_owned()))
    }

    async fn principals(&self) -> Result<Vec<Principal>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!("SELECT {PRINCIPAL_COLUMNS} FROM principals ORDER BY id"),
                &[],
            )
            .await
            .map_err(backend)?;
        rows.iter().map(principal_from).collect()
    }

    async fn revoke_principal(&self, id: &str, now_ms: i64) -> Result<Principal, StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE principals SET revoked_at_ms = $2 WHERE id = $1 AND revoked_at_ms IS NULL",
                &[&id, &now_ms],
            )
            .await
            .map_err(backend)?;
        get_principal(&client, id).await?.ok_or_else(|| {
            StoreError::NotFound(format!(
                "principal `{id}` (see `attesta server principals list`)"
            ))
        })
    }

    async fn principal_by_token(&self, token: &TokenHash) -> Result<Option<Principal>, StoreError> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!("SELECT {PRINCIPAL_COLUMNS} FROM principals WHERE token_hash = $1"),
                &[&token.as_str()],
            )
            .await
            .map_err(backend)?
            .as_ref()
            .map(principal_from)
            .transpose()
    }

    async fn submit(&self, new: NewApproval) -> Result<Submitted, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let request = new.request.to_string();
        let inserted = tx
            .execute(
                "INSERT INTO approvals (id, requester, idempotency_key, action_digest, \
                 request_json, state, created_at_ms, deadline_ms) \
                 VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7) \
                 ON CONFLICT (requester, idempotency_key) DO NOTHING",
                &[
                    &new.id,
                    &new.requester,
                    &new.idempotency_key,
                    &new.action_digest,
                    &request,
                    &new.created_at_ms,
                    &new.deadline_ms,
                ],
            )
            .await
            .map_err(backend)?;
        if inserted == 0 {
            let row = tx
                .query_one(
                    "SELECT id FROM approvals WHERE requester = $1 AND idempotency_key = $2",
                    &[&new.requester, &new.idempotency_key],
                )
                .await
                .map_err(backend)?;
            let id: String = row.get(0);
            let approval = get_approval(&tx, &id, false)
                .await?
                .ok_or_else(|| StoreError::Backend("an approval vanished".to_owned()))?;
            tx.commit().await.map_err(backend)?;
            return Ok(Submitted {
                approval,
                created: false,
            });
        }
        for (index, slot) in (1u32..).zip(&new.slots) {
            tx.execute(
                "INSERT INTO slots (approval_id, slot, challenge, prompt_json, key_json, state) \
                 VALUES ($1, $2, $3, $4, $5, 'open')",
                &[
                    &new.id,
                    &slot_number(index),
                    &slot.challenge,
                    &slot.prompt.to_string(),
                    &slot.key.to_string(),
                ],
            )
            .await
            .map_err(backend)?;
        }
        let approval = get_approval(&tx, &new.id, false)
            .await?
            .ok_or_else(|| StoreError::Backend("the new approval vanished".to_owned()))?;
        tx.commit().await.map_err(backend)?;
        Ok(Submitted {
            approval,
            created: true,
        })
    }

    async fn approval(&self, id: &str) -> Result<Option<Approval>, StoreError> {
        let client = self.client().await?;
        get_approval(&client, id, false).await
    }

    async fn pending_count(&self, requester: &str) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT count(*) FROM approvals WHERE requester = $1 AND state = 'pending'",
                &[&requester],
            )
            .await
            .map_err(backend)?;
        Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
    }

    async fn pending(&self, limit: u32) -> Result<Vec<Approval>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id FROM approvals WHERE state = 'pending' ORDER BY created_at_ms, id \
                 LIMIT $1",
                &[&i64::from(limit)],
            )
            .await
            .map_err(backend)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let id: String = row.get(0);
            if let Some(approval) = get_approval(&client, &id, false).await? {
                out.push(approval);
            }
        }
        Ok(out)
    }

    async fn claim_slot(
        &self,
        id: &str,
        approver: &str,
        now_ms: i64,
        lapsed_before_ms: i64,
    ) -> Result<Claim, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let approval = get_approval(&tx, id, true)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("approval {id}")))?;
        let claim = choose_slot(&approval, approver, lapsed_before_ms);
        if let Claim::Held(slot) = &claim
            && slot.claimed_by.as_deref() != Some(approver)
        {
            tx.execute(
                "UPDATE slots SET claimed_by = $3, claimed_at_ms = $4 \
                 WHERE approval_id = $1 AND slot = $2",
                &[&id, &slot_number(slot.index), &approver, &now_ms],
            )
            .await
            .map_err(backend)?;
            tx.commit().await.map_err(backend)?;
            return Ok(Claim::Held(Slot {
                claimed_by: Some(approver.to_owned()),
                claimed_at_ms: Some(now_ms),
                ..slot.clone()
            }));
        }
        tx.commit().await.map_err(backend)?;
        Ok(claim)
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
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let approval = get_approval(&tx, id, true)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("approval {id}")))?;
        check_answerable(&approval, index, approver)?;
        let state = if passed {
            SlotState::Passed
        } else {
            SlotState::Failed
        };
        tx.execute(
            "UPDATE slots SET state = $3, approver = $4, answered_at_ms = $5, result_json = $6 \
             WHERE approval_id = $1 AND slot = $2 AND state = 'open'",
            &[
                &id,
                &slot_number(index),
                &state.as_str(),
                &approver,
                &now_ms,
                &result.to_string(),
            ],
        )
        .await
        .map_err(backend)?;
        let approval = get_approval(&tx, id, false)
            .await?
            .ok_or_else(|| StoreError::Backend("an approval vanished".to_owned()))?;
        tx.commit().await.map_err(backend)?;
        Ok(approval)
    }

    async fn decide(
        &self,
        id: &str,
        state: ApprovalState,
        decision: serde_json::Value,
        now_ms: i64,
    ) -> Result<Approval, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let changed = tx
            .execute(
                "UPDATE approvals SET state = $2, decision_json = $3, decided_at_ms = $4 \
                 WHERE id = $1 AND state = 'pending'",
                &[&id, &state.as_str(), &decision.to_string(), &now_ms],
            )
            .await
            .map_err(backend)?;
        let approval = get_approval(&tx, id, false)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("approval {id}")))?;
        if changed == 0 {
            return Err(StoreError::Conflict(format!(
                "approval {id} is {} already",
                approval.state.as_str()
            )));
        }
        tx.execute("SELECT pg_notify($1, $2)", &[&DECIDED_CHANNEL, &id])
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(approval)
    }

    async fn unsettled(&self, now_ms: i64, limit: u32) -> Result<Vec<String>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id FROM approvals a WHERE state = 'pending' AND (deadline_ms <= $1 \
                 OR NOT EXISTS (SELECT 1 FROM slots s WHERE s.approval_id = a.id \
                 AND s.state = 'open') OR EXISTS (SELECT 1 FROM slots s \
                 WHERE s.approval_id = a.id AND s.state = 'failed')) \
                 ORDER BY deadline_ms LIMIT $2",
                &[&now_ms, &i64::from(limit)],
            )
            .await
            .map_err(backend)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn totp_secret(&self, id: &str) -> Result<Option<String>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT totp_secret FROM principals WHERE id = $1", &[&id])
            .await
            .map_err(backend)?;
        Ok(row.and_then(|r| r.get::<_, Option<String>>(0)))
    }

    async fn accept_totp_step(&self, id: &str, step: i64) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let changed = client
            .execute(
                "UPDATE principals SET totp_last_step = $2 WHERE id = $1 AND \
                 (totp_last_step IS NULL OR totp_last_step < $2)",
                &[&id, &step],
            )
            .await
            .map_err(backend)?;
        Ok(changed == 1)
    }

    async fn watch_decisions(&self, wake: Arc<tokio::sync::Notify>) {
        let target = self.target.clone();
        tokio::spawn(async move {
            loop {
                if let Err(err) = listen(&target, &wake).await {
                    eprintln!(
                        "attesta serve: warning: lost the PostgreSQL notification channel ({err}); \
                         waiting requesters fall back to checking every second; reconnecting"
                    );
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        });
    }
}

/// LISTENs on a connection of its own, waking `wake` at every decision,
/// until the connection fails.
async fn listen(target: &Target, wake: &tokio::sync::Notify) -> Result<(), String> {
    use futures_util::StreamExt as _;
    dedicated(target, |client, mut messages| async move {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let pump = tokio::spawn(async move {
            while let Some(message) = messages.next().await {
                match message {
                    Ok(tokio_postgres::AsyncMessage::Notification(_)) => {
                        let _ = tx.send(());
                    }
                    Ok(_) => {}
                    Err(e) => return e,
                }
            }
            "the connection closed".to_owned()
        });
        client
            .batch_execute(&format!("LISTEN {DECIDED_CHANNEL}"))
            .await
            .map_err(|e| e.to_string())?;
        while rx.recv().await.is_some() {
            wake.notify_waiters();
        }
        pump.await.map_err(|e| e.to_string()).and_then(Err)
    })
    .await
}
