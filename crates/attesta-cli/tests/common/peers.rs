//! Finding the test-only peers `scripts/install-test-peers` installs into
//! `.test-tools/` (`./scripts/test` runs it and sets `ATTESTA_TEST_PEERS`
//! and `ATTESTA_REQUIRE_PEERS=1`).

use std::path::{Path, PathBuf};

/// The `.test-tools` directory (`ATTESTA_TEST_PEERS`, else the workspace's
/// own) if `missing` finds nothing of `what` missing there. Otherwise the
/// test cannot run: it fails when the peers were asked for (the variable is
/// set, or `ATTESTA_REQUIRE_PEERS=1`), so that CI never passes vacuously,
/// and else it says why it is skipped and gets `None`.
pub fn test_tools(what: &str, missing: impl FnOnce(&Path) -> Vec<String>) -> Option<PathBuf> {
    let explicit = std::env::var_os("ATTESTA_TEST_PEERS");
    let root = explicit.clone().map_or_else(
        || {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .ancestors()
                .nth(2)
                .expect("the crate is two levels below the workspace")
                .join(".test-tools")
        },
        PathBuf::from,
    );
    let missing = missing(&root);
    if missing.is_empty() {
        return Some(root);
    }
    let why = if root.is_dir() {
        format!(
            "the {what} in {} are incomplete (missing: {})",
            root.display(),
            missing.join(", ")
        )
    } else {
        format!(
            "the {what} are not installed ({} does not exist)",
            root.display()
        )
    };
    let required = std::env::var("ATTESTA_REQUIRE_PEERS").is_ok_and(|v| v == "1");
    assert!(
        explicit.is_none() && !required,
        "{why}; run ./scripts/install-test-peers (./scripts/test runs it)"
    );
    eprintln!("skipped: {why}; run ./scripts/test (it installs them)");
    None
}
