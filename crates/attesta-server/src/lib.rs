//! Attesta's approval server: durable pending approvals, answered by
//! authenticated approvers on their own devices, decided and signed by the
//! server.
//!
//! The engine never sees HTTP: to it the server is one more `Channel`.
//! This crate holds the server side.
//!
//! Layout:
//! * [`principal`]: requesters, approvers and admins, and their tokens
//!   (stored only as hashes);
//! * [`store`]: the [`store::Store`] trait and its SQLite implementation,
//!   with versioned migrations;
//! * [`scope`]: which groups may approve which actions;
//! * [`notify`]: telling people an approval waits (a hook command);
//! * [`service`]: who may do what, and how a submission becomes an
//!   approval with one prepared slot per approver;
//! * [`decision`]: final decisions, signed with the server's Ed25519 key,
//!   and their verification;
//! * [`trail`]: the server's own audit trail (v1 records of submissions
//!   and decisions);
//! * [`http`]: the `/v1` JSON API over the service.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod decision;
pub mod http;
pub mod notify;
pub mod principal;
pub mod scope;
pub mod service;
pub mod store;
pub mod trail;
