//! Reading an approval server's audit trail out of PostgreSQL as the v1
//! log it is: the `audit_log` table's lines in `seq` order, one per line,
//! fetched a page at a time so a long trail never sits in memory whole.

use std::io::{self, Read};

use anyhow::Context as _;
use std::path::Path;

use attesta_server::store::{PostgresAuditLog, PostgresTls};

/// How the trail is named in reports (never the URL: it may carry a
/// password).
pub(super) const NAME: &str = "the PostgreSQL audit_log table";

/// Entries fetched per query.
const PAGE: i64 = 2_000;

/// The table as a byte stream of JSONL lines.
pub(super) struct TableReader {
    runtime: tokio::runtime::Runtime,
    table: PostgresAuditLog,
    /// The page being handed out, and how far.
    buffer: Vec<u8>,
    at: usize,
    /// The last `seq` fetched.
    last_seq: i64,
    done: bool,
}

impl TableReader {
    /// Connects to the database at `url` (read only: nothing is migrated),
    /// trusting the CA certificates in `ca` too.
    pub(super) fn open(url: &str, ca: Option<&Path>) -> anyhow::Result<Self> {
        let tls = ca.map(PostgresTls::with_ca_file).unwrap_or_default();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let table = runtime
            .block_on(PostgresAuditLog::connect(url, &tls))
            .context("cannot read the server's audit trail from PostgreSQL")?;
        Ok(Self {
            runtime,
            table,
            buffer: Vec::new(),
            at: 0,
            last_seq: 0,
            done: false,
        })
    }

    fn fill(&mut self) -> io::Result<()> {
        let page = self
            .runtime
            .block_on(self.table.lines_after(self.last_seq, PAGE))
            .map_err(io::Error::other)?;
        self.buffer.clear();
        self.at = 0;
        let Some(&(last, _)) = page.last() else {
            self.done = true;
            return Ok(());
        };
        // A gap in `seq` means rows were deleted: the chain check flags
        // the entry after it, since its previous_hash no longer matches.
        self.last_seq = last;
        for (_, line) in page {
            self.buffer.extend_from_slice(line.as_bytes());
            self.buffer.push(b'\n');
        }
        Ok(())
    }
}

impl Read for TableReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.at == self.buffer.len() {
            if self.done {
                return Ok(0);
            }
            self.fill()?;
        }
        let n = out.len().min(self.buffer.len() - self.at);
        out[..n].copy_from_slice(&self.buffer[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
