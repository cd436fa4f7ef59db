//! `audit --dest`'s write-access check. It lives in [`crate::upload::access`], where
//! `migrate` runs the same check before its first upload (and drops the identities Box refuses);
//! this module keeps the name `audit` has always used.
pub use crate::upload::access::{Access, IdentityAccess, check, render};
