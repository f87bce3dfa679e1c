//! How the server reaches PostgreSQL: plain on a trusted network or a
//! local socket (`sslmode=disable`, or no `sslmode`), or TLS with the
//! server's certificate verified (`sslmode=require`) against the system's
//! roots and, if given, a CA file.
//!
//! Stricter than libpq on purpose: libpq's `require` encrypts without
//! checking who answers, and its default `prefer` falls back to plain text
//! without saying so. Here `require` always verifies the certificate and
//! the host name, and a URL that says `prefer` (or `allow`, or libpq's
//! `verify-*` spellings) is refused with what to write instead, so the
//! connection is never less protected than the operator believes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, NoTls, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::StoreError;

/// TLS settings for the PostgreSQL connection beyond the URL's `sslmode`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostgresTls {
    /// A PEM file of CA certificates trusted besides the system's roots
    /// (a private CA, a cloud provider's bundle).
    pub ca_file: Option<PathBuf>,
}

impl PostgresTls {
    /// The system's roots plus the CA certificates in `path`.
    pub fn with_ca_file(path: impl Into<PathBuf>) -> Self {
        Self {
            ca_file: Some(path.into()),
        }
    }
}

/// How connections are made.
#[derive(Clone)]
pub(crate) enum Connector {
    /// No TLS (`sslmode=disable` or none given).
    Plain,
    /// TLS, the server's certificate verified.
    Verified(MakeRustlsConnect),
}

/// A parsed URL and how to connect to it.
#[derive(Clone)]
pub(crate) struct Target {
    pub(crate) config: tokio_postgres::Config,
    pub(crate) connector: Connector,
}

impl Target {
    /// Reads `url` and `tls`; refuses what would be weaker than it looks.
    pub(crate) fn new(url: &str, tls: &PostgresTls) -> Result<Self, StoreError> {
        let written = sslmode_written(url);
        if let Some(mode) = written.as_deref()
            && !matches!(mode, "disable" | "require")
        {
            return Err(StoreError::Backend(format!(
                "sslmode={mode} is not supported: write sslmode=require for TLS with the \
                 server's certificate and host name verified (add --database-ca FILE for a \
                 private CA), or sslmode=disable for a local socket or a trusted network"
            )));
        }
        let mut config: tokio_postgres::Config = url.parse().map_err(|e| {
            StoreError::Backend(format!(
                "the database URL is not a PostgreSQL URL ({e}); write postgres://USER@HOST/DB"
            ))
        })?;
        if written.is_none() {
            // tokio-postgres would read no sslmode as `prefer`.
            config.ssl_mode(SslMode::Disable);
        }
        let connector = match config.get_ssl_mode() {
            SslMode::Require => Connector::Verified(MakeRustlsConnect::new(client_config(tls)?)),
            _ if tls.ca_file.is_some() => {
                return Err(StoreError::Backend(
                    "--database-ca is set but the database URL does not ask for TLS; add \
                     ?sslmode=require to it"
                        .to_owned(),
                ));
            }
            _ => Connector::Plain,
        };
        Ok(Self { config, connector })
    }

    /// A pool of at most `max` connections.
    pub(crate) fn pool(&self, max: usize) -> Result<Pool, StoreError> {
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match &self.connector {
            Connector::Plain => Manager::from_config(self.config.clone(), NoTls, manager_config),
            Connector::Verified(tls) => {
                Manager::from_config(self.config.clone(), tls.clone(), manager_config)
            }
        };
        Pool::builder(manager)
            .max_size(max)
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))
    }
}

/// Runs `with` on a connection of its own (for LISTEN), polling the
/// connection's messages through `on_message` until it fails.
pub(crate) async fn dedicated<F, Fut>(target: &Target, with: F) -> Result<(), String>
where
    F: FnOnce(Client, MessageStream) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    match &target.connector {
        Connector::Plain => {
            let (client, connection) = target
                .config
                .connect(NoTls)
                .await
                .map_err(|e| e.to_string())?;
            with(client, messages(connection)).await
        }
        Connector::Verified(tls) => {
            let (client, connection) = target
                .config
                .connect(tls.clone())
                .await
                .map_err(|e| e.to_string())?;
            with(client, messages(connection)).await
        }
    }
}

/// The asynchronous messages (notifications) of a connection.
pub(crate) type MessageStream = std::pin::Pin<
    Box<dyn futures_util::Stream<Item = Result<tokio_postgres::AsyncMessage, String>> + Send>,
>;

fn messages<T>(mut connection: tokio_postgres::Connection<Socket, T>) -> MessageStream
where
    T: tokio_postgres::tls::TlsStream + Unpin + Send + 'static,
{
    Box::pin(futures_util::stream::poll_fn(move |cx| {
        connection
            .poll_message(cx)
            .map(|m| m.map(|r| r.map_err(|e| e.to_string())))
    }))
}

/// Why no connection could be made, every cause included (a TLS failure
/// hides its reason one level down), with what to do about a certificate.
pub(crate) fn unreachable(err: &(dyn std::error::Error + 'static)) -> StoreError {
    let mut text = format!("cannot reach the PostgreSQL database: {err}");
    let mut last = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        // Wrappers often repeat their cause's words.
        if !last.ends_with(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        last = said;
        source = cause.source();
    }
    if text.contains("certificate") {
        text.push_str(
            "; the database's TLS certificate could not be verified: if a private CA signed \
             it, pass --database-ca FILE with that CA's certificate",
        );
    }
    StoreError::Backend(text)
}

/// The `sslmode` the URL spells out, lower-cased, if any (URL query or
/// key=value form).
fn sslmode_written(url: &str) -> Option<String> {
    let lower = url.to_ascii_lowercase();
    let at = lower.find("sslmode=")?;
    let rest = &lower[at + "sslmode=".len()..];
    let end = rest
        .find(|c: char| c == '&' || c.is_whitespace())
        .unwrap_or(rest.len());
    Some(rest[..end].to_owned())
}

/// The rustls client configuration: ring, the system's roots and the CA
/// file's certificates.
fn client_config(tls: &PostgresTls) -> Result<rustls::ClientConfig, StoreError> {
    let mut roots = rustls::RootCertStore::empty();
    // Roots the system cannot read are skipped; the CA file may be all
    // that is needed.
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = &tls.ca_file {
        for cert in ca_certificates(path)? {
            roots.add(cert).map_err(|e| {
                StoreError::Backend(format!(
                    "--database-ca {}: a certificate cannot be used as a root: {e}",
                    path.display()
                ))
            })?;
        }
    }
    if roots.is_empty() {
        return Err(StoreError::Backend(
            "sslmode=require, but no CA certificate is available to verify the database \
             server: the system has none readable; pass --database-ca FILE"
                .to_owned(),
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Backend(format!("TLS set-up: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Every certificate in the PEM file at `path`; none is an error.
fn ca_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, StoreError> {
    let read = |e: &dyn std::fmt::Display| {
        StoreError::Backend(format!(
            "--database-ca {}: {e}; give a PEM file of CA certificates",
            path.display()
        ))
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| read(&e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| read(&e))?;
    if certs.is_empty() {
        return Err(read(&"the file holds no certificate"));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn refused(url: &str, tls: &PostgresTls) -> String {
        match Target::new(url, tls) {
            Ok(_) => panic!("{url} accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn no_sslmode_and_disable_are_plain_and_require_is_verified_tls() {
        let plain = Target::new("postgres://u@127.0.0.1/db", &PostgresTls::default()).unwrap();
        assert!(matches!(plain.connector, Connector::Plain));
        assert_eq!(plain.config.get_ssl_mode(), SslMode::Disable);
        let off = Target::new("postgres://u@h/db?sslmode=disable", &PostgresTls::default());
        assert!(matches!(off.unwrap().connector, Connector::Plain));
    }

    #[test]
    fn modes_weaker_than_they_look_are_refused_with_what_to_write() {
        for mode in ["prefer", "allow", "verify-full", "verify-ca", "PREFER"] {
            let url = format!("postgres://u@h/db?sslmode={mode}");
            let err = refused(&url, &PostgresTls::default());
            assert!(err.contains("sslmode=require"), "{mode}: {err}");
        }
    }

    #[test]
    fn a_ca_file_needs_require_and_must_hold_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let tls = PostgresTls::with_ca_file(&empty);
        let err = refused("postgres://u@h/db", &tls);
        assert!(err.contains("sslmode=require"), "{err}");
        let err = refused("postgres://u@h/db?sslmode=require", &tls);
        assert!(err.contains("no certificate"), "{err}");
        let missing = PostgresTls::with_ca_file(dir.path().join("missing.pem"));
        let err = refused("postgres://u@h/db?sslmode=require", &missing);
        assert!(err.contains("missing.pem"), "{err}");
    }
}
