//! `attesta serve` and `attesta server principals …`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use attesta::audit::{AuditSigningKey, AuditSink, JsonlAuditLog};
use attesta_server::notify::CommandNotifier;
use attesta_server::principal::{NewPrincipal, Principal, PrincipalKind, Token, check_name};
use attesta_server::scope::Scope;
use attesta_server::service::{Limits, Service};
use attesta_server::store::{PostgresStore, PostgresTls, SqliteStore, Store, now_ms};
use attesta_server::trail::Trail;

use crate::cli::{PrincipalsCommand, ServeArgs, ServerArgs, ServerCommand, ServerDatabaseArgs};
use crate::config;

/// Which database, from `--database` or the policy's directory.
enum Database {
    /// An SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL URL.
    Postgres(String),
}

/// The directory beside the policy (or the current one) that holds the
/// default database, the signing key and the audit trail.
fn state_dir(db: &ServerDatabaseArgs) -> PathBuf {
    config::policy_file(db.config.as_deref())
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".attesta")
}

fn database(db: &ServerDatabaseArgs) -> anyhow::Result<Database> {
    let Some(url) = &db.database else {
        return Ok(Database::Sqlite(state_dir(db).join("server.db")));
    };
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Database::Postgres(url.clone()));
    }
    let path = url.strip_prefix("sqlite:").unwrap_or(url);
    if path.is_empty() {
        bail!("--database is empty; give an SQLite file path or a postgres:// URL");
    }
    Ok(Database::Sqlite(PathBuf::from(path)))
}

/// An opened server database.
struct Opened {
    store: Arc<dyn Store>,
    /// How to name the database in messages.
    name: String,
    /// Where the signing key (and, for SQLite, the audit trail) live.
    dir: PathBuf,
    /// The server's audit trail: the chained table in PostgreSQL, else a
    /// JSONL file beside the database.
    trail: Arc<dyn AuditSink>,
    /// How to name the trail in messages.
    trail_name: String,
}

/// Opens (creating) the database.
async fn open_store(db: &ServerDatabaseArgs) -> anyhow::Result<Opened> {
    match database(db)? {
        Database::Sqlite(path) => {
            if db.database_ca.is_some() {
                bail!(
                    "--database-ca is for a postgres:// database with sslmode=require; an SQLite \
                     file needs no TLS"
                );
            }
            let dir = path
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
            create_private_dir(&dir)?;
            let store = SqliteStore::open(&path)?;
            let trail_path = dir.join("server-audit.jsonl");
            Ok(Opened {
                store: Arc::new(store),
                name: path.display().to_string(),
                trail: Arc::new(JsonlAuditLog::new(&trail_path)),
                trail_name: trail_path.display().to_string(),
                dir,
            })
        }
        Database::Postgres(url) => {
            let tls = db
                .database_ca
                .as_ref()
                .map(PostgresTls::with_ca_file)
                .unwrap_or_default();
            let store = PostgresStore::open_with(&url, &tls)
                .await
                .context("cannot use the PostgreSQL database")?;
            let dir = state_dir(db);
            create_private_dir(&dir)?;
            Ok(Opened {
                trail: Arc::new(store.audit_log()),
                trail_name: "the database's audit_log table".to_owned(),
                store: Arc::new(store),
                name: "PostgreSQL".to_owned(),
                dir,
            })
        }
    }
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

/// The server's decision-signing key in `dir`: created (0600, with its
/// public half beside it) on first start, loaded afterwards. Servers
/// sharing one PostgreSQL database must share this key too.
fn signing_key(dir: &Path) -> anyhow::Result<AuditSigningKey> {
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
    let scopes = args
        .scopes
        .iter()
        .map(|s| Scope::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    let (policy, source) = config::load_policy(args.db.config.as_deref())?;
    let engine = config::engine(policy)?;
    let runtime = super::two_worker_runtime()?;
    runtime.block_on(async {
        let Opened {
            store,
            name: database,
            dir,
            trail,
            trail_name,
        } = open_store(&args.db).await?;
        let key = signing_key(&dir)?;
        let trail = Trail::new(trail);
        let limits = Limits {
            max_pending_per_requester: args.max_pending,
            ..Limits::default()
        };
        let mut service = Service::new(store, engine, limits, key, trail).with_scopes(scopes);
        service.watch_decisions().await;
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let local = listener
            .local_addr()
            .context("cannot read the listening address")?;
        if let Some(command) = &args.notify_command {
            let notifier = CommandNotifier::new(command.clone(), format!("http://{local}"));
            service = service.with_notifier(Arc::new(notifier));
        }
        eprintln!(
            "attesta serve: listening on http://{local} (policy: {source}; database: {database}; \
             audit trail: {trail_name})"
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
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let opened = open_store(&args.db).await?;
        principals(&*opened.store, command).await
    })
}

async fn principals(store: &dyn Store, command: &PrincipalsCommand) -> anyhow::Result<ExitCode> {
    match command {
        PrincipalsCommand::Add {
            id,
            kind,
            groups,
            totp,
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
            if *totp && kind != PrincipalKind::Approver {
                bail!("--totp is for approvers: only they answer");
            }
            let secret = if *totp {
                Some(
                    attesta::challenge::TotpSecret::generate()
                        .context("no randomness for a TOTP secret")?
                        .to_base32(),
                )
            } else {
                None
            };
            let principal = store
                .add_principal(
                    &new,
                    &token.hash(),
                    secret.as_deref().map(String::as_str),
                    now_ms(),
                )
                .await?;
            let uri = secret.as_ref().map(|s| {
                format!(
                    "otpauth://totp/Attesta:{id}?secret={}&issuer=Attesta",
                    s.as_str()
                )
            });
            if *json {
                let out = serde_json::json!({
                    "id": principal.id,
                    "kind": principal.kind,
                    "groups": principal.groups,
                    "token": token.expose(),
                    "totp_secret": secret.as_ref().map(|s| s.as_str()),
                    "totp_uri": uri,
                });
                println!("{out}");
            } else {
                println!("added {} `{}`", principal.kind, principal.id);
                println!("token (shown only now; store it in a 0600 file or a secret store):");
                println!("{}", token.expose());
                if let (Some(secret), Some(uri)) = (&secret, &uri) {
                    println!(
                        "authenticator secret (shown only now; add it to the approver's app):"
                    );
                    println!("{}\n{uri}", secret.as_str());
                }
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
