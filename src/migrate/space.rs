//! The quota pre-check, so a run that cannot fit fails at once: before the first upload, does what
//! is left to send fit in the account's free space? Box answers `GET /users/me` (`space_amount`,
//! `space_used`); the bytes to send are the `ok` files the state journal does not already have at
//! the same size and mtime, found by a walk that stats and never reads. The walk runs only when the
//! account has a limit, and stops as soon as the sum passes the free space.
use std::io;

use super::error::MigrateError;
use crate::box_api::BoxClient;
use crate::manifest::Kind;
use crate::scan::ScanOptions;

/// What the check found: the account's free bytes and the bytes to send (`None` free: no
/// limit, nothing walked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Space {
    pub(super) free: Option<u64>,
    pub(super) to_send: u64,
}

/// Ask Box for the free space and, if limited, sum the bytes to send; refuse when they do not
/// fit. A failed `GET /users/me` is a warning, not a refusal: the run's first
/// `storage_limit_exceeded` still stops it.
pub(super) fn check(
    rt: &tokio::runtime::Runtime,
    client: &BoxClient,
    opts: &ScanOptions,
) -> Result<Space, MigrateError> {
    let user = match rt.block_on(client.current_user()) {
        Ok(u) => u,
        Err(e) => {
            tracing::warn!(
                "cannot read the account's free space (GET /users/me), not checked: {e}"
            );
            return Ok(Space {
                free: None,
                to_send: 0,
            });
        }
    };
    let Some(free) = user.free_space() else {
        return Ok(Space {
            free: None,
            to_send: 0,
        });
    };
    let walk = ScanOptions {
        hash: false,
        previous: None,
        resume: None,
        progress: None,
        ..opts.clone()
    };
    let mut to_send = 0u64;
    let walked = crate::scan::scan(&walk, |row| {
        // Files the journal knows at this size and mtime come back with their SHA-1: done.
        if row.kind == Kind::File && row.status.is_ok() && row.sha1.is_empty() {
            to_send = to_send.saturating_add(row.size);
            if to_send > free {
                return Err(io::Error::other("over"));
            }
        }
        Ok(())
    });
    if to_send > free {
        return Err(MigrateError::NoSpace {
            free,
            used: user.space_used.unwrap_or(0).max(0) as u64,
            to_send,
        });
    }
    walked.map_err(|source| MigrateError::Scan {
        root: opts.root.clone(),
        source,
    })?;
    Ok(Space {
        free: Some(free),
        to_send,
    })
}
