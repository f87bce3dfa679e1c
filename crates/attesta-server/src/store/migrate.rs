//! Versioned schema migrations, run at start-up.
//!
//! The schema version is one row in `attesta_schema`. Start-up applies every
//! migration above the stored version, each in its own transaction, and
//! refuses a database whose version is above the newest this build knows:
//! an older attesta must never write to a newer schema it does not
//! understand.

use super::StoreError;

/// One migration: its version and the SQL that brings the schema there.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    /// The version the schema has after this migration.
    pub(crate) version: i64,
    /// What it does, for messages.
    pub(crate) name: &'static str,
    /// The statements (one script).
    pub(crate) sql: &'static str,
}

/// The newest schema version this build knows.
pub(crate) fn latest(migrations: &[Migration]) -> i64 {
    migrations.last().map_or(0, |m| m.version)
}

/// Refuses a database written by a newer attesta.
pub(crate) fn check_not_newer(
    found: i64,
    migrations: &[Migration],
    what: &str,
) -> Result<(), StoreError> {
    let known = latest(migrations);
    if found > known {
        return Err(StoreError::Schema(format!(
            "{what} has schema version {found}, written by a newer attesta (this one knows up to \
             version {known}); upgrade attesta, or point --database at another database"
        )));
    }
    Ok(())
}

/// The migrations to apply to a database at version `found`.
pub(crate) fn pending(found: i64, migrations: &[Migration]) -> impl Iterator<Item = &Migration> {
    migrations.iter().filter(move |m| m.version > found)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &[Migration] = &[
        Migration {
            version: 1,
            name: "a",
            sql: "",
        },
        Migration {
            version: 2,
            name: "b",
            sql: "",
        },
    ];

    #[test]
    fn newer_databases_are_refused_and_pending_ones_listed() {
        assert!(check_not_newer(2, TWO, "db").is_ok());
        let err = check_not_newer(3, TWO, "the database x.db")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("schema version 3") && err.contains("up to version 2"),
            "{err}"
        );
        assert_eq!(pending(1, TWO).map(|m| m.name).collect::<Vec<_>>(), ["b"]);
        assert_eq!(pending(0, TWO).count(), 2);
        assert_eq!(latest(TWO), 2);
    }
}
