//! `migrate --permissions FILE`: the file checked before anything else (bad rows stop the run,
//! exit 2), its collaborators resolved once the client is up (an unknown login stops the run
//! before any upload: posting it would invite an external user), and the grants applied after
//! the run's uploads, when every folder exists ([`crate::permissions::apply`]).
use std::sync::Arc;

use super::{MigrateConfig, MigrateError};
use crate::box_api::BoxClient;
use crate::model::Cancel;
use crate::permissions::{GrantsError, PermissionsFile, Resolved, apply, grants};
use crate::state::open_reader;
use crate::upload::Ctx;

/// Read and check the file (paths against SRC, roles); `None` without `--permissions`.
pub(super) fn read(config: &MigrateConfig) -> Result<Option<PermissionsFile>, MigrateError> {
    let Some(file) = &config.permissions else {
        return Ok(None);
    };
    let perms = grants::read(file, Some(&config.src))?;
    if config.dest == "0" {
        let on_root: Vec<String> = perms
            .grants
            .iter()
            .filter(|g| g.path.is_empty())
            .map(|g| {
                format!(
                    "{}:{}: Box refuses collaborations on All Files (folder 0): give --dest a folder, or grant on a subfolder",
                    file.display(),
                    g.line
                )
            })
            .collect();
        if !on_root.is_empty() {
            return Err(GrantsError::Rows(on_root).into());
        }
    }
    Ok(Some(perms))
}

/// Resolve every collaborator in Box (reads only).
pub(super) fn resolve(
    rt: &tokio::runtime::Runtime,
    client: &BoxClient,
    perms: Option<PermissionsFile>,
) -> Result<Vec<Resolved>, MigrateError> {
    let Some(perms) = perms else {
        return Ok(Vec::new());
    };
    let resolved = rt.block_on(grants::resolve(client, &perms))?;
    tracing::info!(
        grants = resolved.len(),
        file = %perms.file.display(),
        "--permissions: every collaborator is known to Box"
    );
    Ok(resolved)
}

/// After the uploads: grant what the journal lacks (not on a dry run, nor once the run is
/// cancelled; with `--shard`, shard 0 alone grants, the others only check and resolve the
/// file). Takes the run's context so its event sender goes once this is done.
pub(super) fn apply(
    config: &MigrateConfig,
    rt: &tokio::runtime::Runtime,
    ctx: Arc<Ctx>,
    perms: &[Resolved],
    cancel: &Cancel,
) -> Result<(), MigrateError> {
    let other_shard = config.shard.is_some_and(|s| s.index != 0);
    if perms.is_empty() || config.dry_run || other_shard || cancel.is_cancelled() {
        return Ok(());
    }
    // The sink thread commits the journal as rows arrive; grants are read back from it.
    let applied =
        match open_reader(&config.paths.state, &config.dest).map_err(MigrateError::State)? {
            Some(r) => r.grants().map_err(MigrateError::State)?,
            None => Default::default(),
        };
    let tally = rt.block_on(apply::apply(
        perms,
        &applied,
        &ctx.folders,
        &ctx.events,
        cancel,
    ));
    tracing::info!(
        sent = tally.sent,
        already = tally.skipped,
        "--permissions: collaborations applied"
    );
    Ok(())
}
