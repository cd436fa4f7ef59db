//! Before the first upload: every `--as-user` identity Box refuses writes for in the
//! destination is dropped from the run (the check `audit --dest` makes, one read-only call per
//! identity), so it is given no file. None left: the job cannot run.
use tokio::runtime::Runtime;

use super::error::MigrateError;
use crate::box_api::BoxClient;
use crate::upload::access::{self, Access};

/// Check each `--as-user` identity's write access to `dest`; retire those Box refuses (a WARN
/// names each once). An identity whose check itself failed is kept: its first refused write
/// drops it then.
pub(super) fn drop_refused(
    rt: &Runtime,
    client: &BoxClient,
    dest: &str,
) -> Result<(), MigrateError> {
    if client.config().as_users.is_empty() {
        return Ok(());
    }
    let verdicts = rt.block_on(access::check(client, dest));
    let refused: Vec<_> = verdicts
        .iter()
        .filter(|v| v.as_user.is_some() && matches!(v.access, Access::ReadOnly | Access::NotFound))
        .collect();
    if refused.len() == client.config().as_users.len() {
        // The error names each once; no WARN besides.
        let detail: Vec<String> = refused.iter().map(|v| v.to_string()).collect();
        return Err(MigrateError::NoIdentity {
            dest: dest.to_owned(),
            detail: detail.join("; "),
        });
    }
    for v in refused {
        if let Some(user) = &v.as_user {
            client.retire(user);
            tracing::warn!(as_user = %user, "{v}; its files go to the other identities");
        }
    }
    Ok(())
}
