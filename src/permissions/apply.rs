//! `migrate --permissions`: after the run's uploads, grant each resolved row on its folder
//! (`POST /collaborations?notify=false`), skipping what the state journal records as applied
//! by an earlier run, so a second run makes no write.
//!
//! Each grant is a report row, action `collaborated` (or `failed`), path the folder,
//! `box_folder_id` the folder, `error_message` `KIND:ID ROLE`: the journal records the grant
//! from that row once it is committed.
use std::time::Instant;

use futures::StreamExt;
use tokio::sync::mpsc::UnboundedSender;

use super::Resolved;
use crate::box_api::collab::Collaborated;
use crate::manifest::Kind;
use crate::model::{Action, Cancel, Event, ReportRow};
use crate::upload::folders::Folders;
use crate::upload::task::kind_code;

/// Grants in flight at once.
const CONCURRENCY: usize = 8;

/// Grants earlier runs applied (the journal's `grants` table,
/// [`crate::state::StateReader::grants`]).
pub type Applied = crate::state::Grants;

/// What [`apply`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Rows sent to Box (collaborated or failed).
    pub sent: u64,
    /// Rows the journal already had.
    pub skipped: u64,
}

/// Apply every grant the journal lacks; rows go on `events`. Stops starting new grants once
/// `cancel` is triggered.
pub async fn apply(
    grants: &[Resolved],
    applied: &Applied,
    folders: &Folders,
    events: &UnboundedSender<Event>,
    cancel: &Cancel,
) -> Tally {
    let mut tally = Tally::default();
    let todo: Vec<&Resolved> = grants
        .iter()
        .filter(|r| {
            let done = applied
                .get(&(r.grant.path.clone(), r.key()))
                .is_some_and(|(role, _)| role == r.grant.role.as_str());
            tally.skipped += u64::from(done);
            !done
        })
        .collect();
    let mut rows = futures::stream::iter(todo)
        .take_while(|_| std::future::ready(!cancel.is_cancelled()))
        .map(|r| grant(r, folders))
        .buffer_unordered(CONCURRENCY);
    while let Some(row) = rows.next().await {
        tally.sent += 1;
        let _ = events.send(Event::FileDone(row));
    }
    tally
}

/// Grant one row: the folder (created if the run has not made it), then the collaboration.
async fn grant(r: &Resolved, folders: &Folders) -> ReportRow {
    let started = Instant::now();
    let mut row = ReportRow::new(&r.grant.path, Kind::Dir, 0, "").with(Action::Collaborated);
    row.error_message = format!("{} {}", r.key(), r.grant.role);
    row.attempts = 1;
    let result = async {
        let (folder, _) = folders.ensure(&r.grant.path).await?;
        row.box_folder_id = folder.clone();
        // The folder's owner grants: its `--map` owner under a mapped source, else the
        // service account that made it.
        let client = folders.client_for(&r.grant.path);
        row.as_user = client.acting_as().unwrap_or_default().to_owned();
        client.collaborate(&folder, &r.to, r.grant.role).await
    }
    .await;
    match result {
        Ok(Collaborated::Created(c)) => row.box_file_id = c.id,
        Ok(Collaborated::AlreadyCollaborator) => {}
        Err(e) => {
            row.action = Some(Action::Failed);
            row.error_code = e.code.clone().unwrap_or_else(|| kind_code(&e.kind).into());
            row.error_message = format!(
                "{} {} ({}): {}",
                r.key(),
                r.grant.role,
                r.grant.who,
                e.message
            );
            row.box_request_id = e.request_id.clone().unwrap_or_default();
            row.attempts = e.attempts.unwrap_or(1);
        }
    }
    row.duration_ms = started.elapsed().as_millis() as u64;
    row
}
