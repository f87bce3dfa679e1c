//! Tool pinning ("rug-pull protection"): a server that quietly changes a
//! tool after it was trusted must not get the changed tool called as if
//! nothing happened.
//!
//! Each tool's definition (name, title, description, schemas, annotations)
//! is hashed when first seen and pinned in `mcp-pins.json` beside the audit
//! log ([`PinStore`]). When a later `tools/list` reports a different
//! definition, [`PinStore::observe`] keeps the accepted fingerprint, records
//! the new one as pending and returns a [`PinChange`]; the proxy then treats
//! that tool's calls as CRITICAL until an operator runs `attesta mcp pins
//! accept TOOL`, and reports the change on standard error
//! ([`pin_change_message`]) and in the audit log ([`pin_change_record`]).
//!
//! Layout: [`tool_fingerprint`] in `fingerprint`; the file format
//! ([`ToolPin`]) in `file`; [`PinStore`] in `store`; the report helpers in
//! `report`; [`PinError`] in `error`.

mod error;
mod file;
mod fingerprint;
mod report;
mod store;

pub use error::PinError;
pub use file::{PendingChange, ToolPin};
pub use fingerprint::{FINGERPRINTED_FIELDS, tool_fingerprint};
pub use report::{PIN_CHANGE_ACTION, pin_change_message, pin_change_record, short_fingerprint};
pub use store::{AcceptOutcome, PINS_FILE_NAME, PinChange, PinStore, PinnedTool};
