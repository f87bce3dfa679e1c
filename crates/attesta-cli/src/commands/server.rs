//! `attesta serve` and `attesta server principals …`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use attesta::audit::{AuditSigningKey, JsonlAuditLog};
use attesta_server::principal::{NewPrincipal, Principal, PrincipalKind, Token, check_name};
use attesta_server::service::{Limits, Service};
use attesta_server::store::{SqliteStore, Store, now_ms};
use attesta_server::trail::Trail;

use crate::cli::{PrincipalsCommand, ServeArgs, ServerArgs, ServerCommand, ServerDatabaseArgs};
use crate::config;

/// Where the database is, from `--database` or the policy's directory.
fn database_path(db: &ServerDatabaseArgs) -> anyhow::Result<PathBuf> {
    if let Some(url) = &db.database {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            bail!(
                "PostgreSQL databases are not supported by this build yet; use an SQLite file \
                 (--database PATH), see docs/server.md"
            );
        }
        let path = url.strip_prefix("sqlite:").unwrap_or(url);
        if path.is_empty() {
            bail!("--database is empty; give an SQLite file path such as .attesta/server.db");
        }
        return Ok(PathBuf::from(path));
    }
    let dir = config::policy_file(db.config.as_deref())
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("."));
    Ok(dir.join(".attesta").join("server.db"))
}

/// Opens (creating) the SQLite database, with its directory (0700).
fn open_store(db: &ServerDatabaseArgs) -> anyhow::Result<(SqliteStore, PathBuf)> {
    let path = database_path(db)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir)?;
    }
    let store = SqliteStore::open(&path)?;
    Ok((store, path))
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .with_context(|| format!("cannot create the directory {}", dir.display()))
}

/// The server's decision-signing key beside the database: created (0600,
/// with its public half beside it) on first start, loaded afterwards.
fn signing_key(database: &Path) -> anyhow::Result<AuditSigningKey> {
    let dir = database
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let private = dir.join("server-signing.key");
    let public = dir.join("server-signing.pub");
    if private.exists() {
        return AuditSigningKey::load(&private)
            .with_context(|| format!("cannot use the server's signing key {}", private.display()));
    }
    let key = AuditSigningKey::generate()?;
    key.save(&private, &public, false).with_context(|| {
        format!(
            "cannot write the server's signing key {}",
            private.display()
        )
    })?;
    eprintln!(
        "attesta serve: created the decision-signing key {} (public key: {}; give requesters the \
         public key)",
        private.display(),
        public.display()
    );
    Ok(key)
}

/// `attesta serve`.
pub(crate) fn serve(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let (policy, source) = config::load_policy(args.db.config.as_deref())?;
    let engine = config::engine(policy)?;
    let (store, path) = open_store(&args.db)?;
    let key = signing_key(&path)?;
    let trail_path = path.with_file_name("server-audit.jsonl");
    let trail = Trail::new(Arc::new(JsonlAuditLog::new(&trail_path)));
    let service = Service::new(Arc::new(store), engine, Limits::default(), key, trail);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let local = listener
            .local_addr()
            .context("cannot read the listening address")?;
        eprintln!(
            "attesta serve: listening on http://{local} (policy: {source}; database: {}; audit \
             trail: {})",
            path.display(),
            trail_path.display()
        );
        attesta_server::http::serve(listener, service, attesta_mcp::shutdown_signal())
            .await
            .context("the server stopped")?;
        eprintln!("attesta serve: stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// `attesta server …`.
pub(crate) fn run(args: &ServerArgs) -> anyhow::Result<ExitCode> {
    let ServerCommand::Principals(command) = &args.command;
    let (store, _) = open_store(&args.db)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(principals(&store, command))
}

async fn principals(store: &SqliteStore, command: &PrincipalsCommand) -> anyhow::Result<ExitCode> {
    match command {
        PrincipalsCommand::Add {
            id,
            kind,
            groups,
            json,
        } => {
            check_name("principal name", id).map_err(anyhow::Error::msg)?;
            for group in groups {
                check_name("group name", group).map_err(anyhow::Error::msg)?;
            }
            let kind: PrincipalKind = kind.parse().map_err(anyhow::Error::msg)?;
            let token = Token::generate().map_err(anyhow::Error::msg)?;
            let new = NewPrincipal {
                id: id.clone(),
                kind,
                groups: groups.clone(),
            };
            let principal = store
                .add_principal(&new, &token.hash(), None, now_ms())
                .await?;
            if *json {
                let out = serde_json::json!({
                    "id": principal.id,
                    "kind": principal.kind,
                    "groups": principal.groups,
                    "token": token.expose(),
                });
                println!("{out}");
            } else {
                println!("added {} `{}`", principal.kind, principal.id);
                println!("token (shown only now; store it in a 0600 file or a secret store):");
                println!("{}", token.expose());
            }
        }
        PrincipalsCommand::List { json } => {
            let all = store.principals().await?;
            if *json {
                println!("{}", serde_json::to_string(&all)?);
            } else if all.is_empty() {
                println!(
                    "no principals yet; add one with `attesta server principals add NAME --kind KIND`"
                );
            } else {
                for p in &all {
                    println!("{}", describe(p));
                }
            }
        }
        PrincipalsCommand::Revoke { id, json } => {
            let principal = store.revoke_principal(id, now_ms()).await?;
            if *json {
                println!("{}", serde_json::to_string(&principal)?);
            } else {
                println!(
                    "revoked `{}`: its token is refused from now on",
                    principal.id
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn describe(p: &Principal) -> String {
    let groups = if p.groups.is_empty() {
        String::new()
    } else {
        format!(" groups: {}", p.groups.join(","))
    };
    let state = if p.is_active() { "active" } else { "revoked" };
    format!("{:<24} {:<9} {state}{groups}", p.id, p.kind.as_str())
}
