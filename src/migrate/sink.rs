//! The sink thread: the one consumer of the event stream. Every observer sees every event, in
//! order: progress counts, the state journal records, the report writes and flushes each
//! finished row, the summary tallies, then the caller's own observer (if any) looks.
//!
//! The journal comes before the report: a finished row waits until the journal has committed it, so
//! the report never calls done what a crash or a full disk made the journal lose. The first journal
//! or report write error stops the job (going on would upload what cannot be recorded): the run is
//! halted (no new upload starts), nothing more is written, and the error is returned once.
use std::thread::JoinHandle;

use tokio::sync::mpsc::UnboundedReceiver;

use super::config::Observer;
use super::error::{LocalWriteError, MigrateError};
use crate::model::{Cancel, Event, Halt, ReportRow};
use crate::progress::Progress;
use crate::report::{ReportWriter, Summary};
use crate::state::StateWriter;

/// The built-in observers and the caller's.
#[derive(Debug)]
pub(super) struct Observers {
    pub(super) report: ReportWriter,
    /// `None` for dry runs.
    pub(super) state: Option<StateWriter>,
    pub(super) progress: Progress,
    pub(super) extra: Option<Observer>,
}

/// Start the sink thread; it ends when every sender of the stream is gone, returning the
/// rows' summary and the first write error. A write error halts `cancel`.
pub(super) fn spawn(
    rx: UnboundedReceiver<Event>,
    observers: Observers,
    cancel: Cancel,
) -> JoinHandle<(Summary, Result<(), MigrateError>)> {
    std::thread::spawn(move || drain(rx, observers, cancel))
}

fn drain(
    mut rx: UnboundedReceiver<Event>,
    mut o: Observers,
    cancel: Cancel,
) -> (Summary, Result<(), MigrateError>) {
    let mut summary = Summary::default();
    let mut failed: Option<LocalWriteError> = None;
    // Finished rows the journal has not committed yet, in order.
    let mut held: Vec<ReportRow> = Vec::new();
    while let Some(ev) = rx.blocking_recv() {
        o.progress.on_event(&ev);
        if failed.is_none()
            && let Err(e) = record(&mut o, &ev, &mut held)
        {
            failed = Some(e);
            cancel.halt(Halt::LocalWrite);
        }
        if let Event::FileDone(row) = &ev {
            summary.add(row);
        }
        if let Some(extra) = &mut o.extra {
            extra.on_event(&ev);
        }
    }
    if failed.is_none()
        && let Err(e) = finish(&mut o, &mut held)
    {
        failed = Some(e);
    }
    o.progress.finish();
    (
        summary,
        failed.map_or(Ok(()), |e| Err(MigrateError::LocalWrite(e))),
    )
}

/// Journal the event; write the finished rows the journal has committed to the report.
fn record(o: &mut Observers, ev: &Event, held: &mut Vec<ReportRow>) -> Result<(), LocalWriteError> {
    if let Some(s) = &mut o.state {
        s.apply(ev).map_err(LocalWriteError::State)?;
    }
    if let Event::FileDone(row) = ev {
        // Stamped when the row finished, not when the journal's commit lets it out: rows
        // held for one commit keep their own times (the HTML report's rates use them).
        let mut row = row.clone();
        if row.finished_at.is_none() {
            row.finished_at = Some(crate::model::row::now_millis());
        }
        held.push(row);
    }
    if o.state.as_ref().is_none_or(StateWriter::is_committed) {
        write_held(o, held)?;
    }
    Ok(())
}

/// Commit the journal's last batch, then report its rows.
fn finish(o: &mut Observers, held: &mut Vec<ReportRow>) -> Result<(), LocalWriteError> {
    if let Some(s) = &mut o.state {
        s.commit().map_err(LocalWriteError::State)?;
    }
    write_held(o, held)
}

fn write_held(o: &mut Observers, held: &mut Vec<ReportRow>) -> Result<(), LocalWriteError> {
    for row in held.drain(..) {
        o.report.write(&row).map_err(LocalWriteError::Report)?;
    }
    Ok(())
}
