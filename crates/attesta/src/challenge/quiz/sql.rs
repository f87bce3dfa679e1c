//! Finding database tables named in SQL arguments.

use std::sync::LazyLock;

use regex::Regex;

/// A table a SQL string names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::challenge) struct Table {
    /// The name as written (`orders`, `public.users`).
    pub(in crate::challenge) name: String,
    /// Whether the SQL changes it (INSERT INTO, UPDATE, DELETE FROM, DROP /
    /// ALTER / CREATE / TRUNCATE TABLE) rather than only reading it.
    pub(in crate::challenge) writes: bool,
}

/// A statement keyword at the start of the text or of a statement or
/// sub-query: without one, "copy data from backup" is prose, not SQL.
static STATEMENT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:^|[;(])\s*(?:select|insert|update|delete|drop|truncate|alter|create|merge|replace|with|upsert)\b",
    )
    .ok()
});

/// A table-introducing keyword, on a word boundary (so "portable devices"
/// and "go into detail" inside other words or prose do not count), then
/// the optional `TABLE`, `IF [NOT] EXISTS`, `ONLY` and an opening quote.
static TABLE_REF: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)\b(?:(delete)\s+)?(from|into|update|table|join|truncate)\s+(?:table\s+)?(?:if\s+(?:not\s+)?exists\s+)?(?:only\s+)?[`"'\[]?([\w$]+(?:\.[\w$]+)*)"#,
    )
    .ok()
});

/// Words that follow a table keyword without being a table.
const NOT_TABLES: &[&str] = &[
    "set", "where", "values", "select", "if", "not", "exists", "only", "lateral", "nowait", "skip",
    "of", "as", "on", "using", "table", "dual", "the", "a", "an", "this", "that", "all",
];

/// The tables a SQL string names, first occurrence first, each once
/// (case-insensitively); empty when the text does not look like SQL.
pub(in crate::challenge) fn tables_in(text: &str) -> Vec<Table> {
    let (Some(statement), Some(table_ref)) = (STATEMENT.as_ref(), TABLE_REF.as_ref()) else {
        return Vec::new();
    };
    if !statement.is_match(text) {
        return Vec::new();
    }
    let mut out: Vec<Table> = Vec::new();
    for caps in table_ref.captures_iter(text) {
        let Some(name) = caps.get(3).map(|m| m.as_str()) else {
            continue;
        };
        if NOT_TABLES.contains(&name.to_lowercase().as_str()) {
            continue;
        }
        let keyword = caps.get(2).map_or("", |m| m.as_str()).to_lowercase();
        let writes = keyword != "join" && (keyword != "from" || caps.get(1).is_some());
        match out.iter_mut().find(|t| t.name.eq_ignore_ascii_case(name)) {
            Some(seen) => seen.writes |= writes,
            None => out.push(Table {
                name: name.to_owned(),
                writes,
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<(String, bool)> {
        tables_in(text)
            .into_iter()
            .map(|t| (t.name, t.writes))
            .collect()
    }

    fn t(name: &str, writes: bool) -> (String, bool) {
        (name.to_owned(), writes)
    }

    #[test]
    fn finds_written_and_read_tables() {
        assert_eq!(
            names("DELETE FROM orders WHERE id < 100"),
            [t("orders", true)]
        );
        assert_eq!(
            names("SELECT * FROM users JOIN sessions ON x"),
            [t("users", false), t("sessions", false)]
        );
        assert_eq!(
            names("insert into audit_log select * from events"),
            [t("audit_log", true), t("events", false)]
        );
        assert_eq!(names("DROP TABLE IF EXISTS `tmp_x`"), [t("tmp_x", true)]);
        assert_eq!(
            names("TRUNCATE TABLE public.users"),
            [t("public.users", true)]
        );
        assert_eq!(
            names("UPDATE users SET a=1; update USERS set b=2"),
            [t("users", true)]
        );
    }

    #[test]
    fn prose_is_not_sql() {
        assert!(names("portable devices").is_empty());
        assert!(names("go into detail").is_empty());
        assert!(names("copy data from backup").is_empty());
        assert!(names("SELECTED items").is_empty());
    }
}
