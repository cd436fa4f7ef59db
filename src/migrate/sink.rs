//! The sink thread: the one consumer of the event stream. Every observer sees every event, in
//! order: progress counts, the state journal records, the report writes and flushes each
//! finished row, the summary tallies, then the caller's own observer (if any) looks.
use std::thread::JoinHandle;

use tokio::sync::mpsc::UnboundedReceiver;

use super::config::Observer;
use super::error::MigrateError;
use crate::model::Event;
use crate::progress::Progress;
use crate::report::{ReportWriter, Summary};
use crate::state::StateWriter;

/// The built-in observers and the caller's.
#[derive(Debug)]
pub(super) struct Observers {
    pub(super) report: ReportWriter,
    /// `None` for dry runs, and after a journal write failed (the run goes on; the error is
    /// returned at the end).
    pub(super) state: Option<StateWriter>,
    pub(super) progress: Progress,
    pub(super) extra: Option<Observer>,
}

/// Start the sink thread; it ends when every sender of the stream is gone, returning the
/// rows' summary and the first write error.
pub(super) fn spawn(
    rx: UnboundedReceiver<Event>,
    observers: Observers,
) -> JoinHandle<(Summary, Result<(), MigrateError>)> {
    std::thread::spawn(move || drain(rx, observers))
}

fn drain(
    mut rx: UnboundedReceiver<Event>,
    mut o: Observers,
) -> (Summary, Result<(), MigrateError>) {
    let mut summary = Summary::default();
    let mut first_err: Option<MigrateError> = None;
    while let Some(ev) = rx.blocking_recv() {
        o.progress.on_event(&ev);
        if let Some(s) = &mut o.state
            && let Err(e) = s.apply(&ev)
        {
            tracing::error!("{e}");
            first_err.get_or_insert(MigrateError::State(e));
            o.state = None;
        }
        if let Event::FileDone(row) = &ev {
            summary.add(row);
            if let Err(e) = o.report.write(row) {
                tracing::error!("{e}");
                first_err.get_or_insert(MigrateError::Report(e));
            }
        }
        if let Some(extra) = &mut o.extra {
            extra.on_event(&ev);
        }
    }
    if let Some(mut s) = o.state
        && let Err(e) = s.commit()
    {
        first_err.get_or_insert(MigrateError::State(e));
    }
    o.progress.finish();
    (summary, first_err.map_or(Ok(()), Err))
}
