//! `boxlift status`: how far a job is, read from its state journal (read-only, no lock: safe
//! while a run holds it, as azcopy's `jobs show` is).
use std::fmt::Write;

use anyhow::Context;

use crate::cli::{GlobalArgs, StatusArgs};
use crate::exit::ExitCode;
use crate::plan::units::{human_bytes, thousands};
use crate::state::{JournalStatus, RunStatus};

/// Run `boxlift status`.
pub fn run(args: StatusArgs, _global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let Some(status) = crate::state::status(&args.state)? else {
        anyhow::bail!(
            "no state journal in {} (give the --state directory of the run)",
            args.state.display()
        );
    };
    if args.json {
        super::print_json(&serde_json::to_value(&status).context("status as JSON")?)?;
    } else {
        print!("{}", render(&status));
    }
    Ok(ExitCode::Success)
}

/// The text form.
fn render(s: &JournalStatus) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "state journal {} (Box folder {})",
        s.journal.display(),
        s.dest.as_deref().unwrap_or("?")
    );
    let _ = writeln!(
        t,
        "done           {:>12} files  {}",
        thousands(s.done_files),
        human_bytes(s.done_bytes)
    );
    let _ = writeln!(t, "failed         {:>12} files", thousands(s.failed));
    let _ = writeln!(t, "invalid        {:>12} files", thousands(s.invalid));
    let _ = writeln!(
        t,
        "open sessions  {:>12}        {}",
        thousands(s.open_sessions),
        human_bytes(s.open_session_bytes)
    );
    for id in &s.identities {
        let who = if id.as_user.is_empty() {
            "service account".to_string()
        } else {
            format!("As-User {}", id.as_user)
        };
        let _ = writeln!(t, "  {who}: {} files", thousands(id.files));
    }
    match &s.last_run {
        Some(r) => render_run(&mut t, r),
        None => {
            let _ = writeln!(t, "last run: not recorded (journal from an older boxlift)");
        }
    }
    t
}

fn render_run(t: &mut String, r: &RunStatus) {
    let end = match (&r.ended_at, r.exit_code) {
        (Some(at), Some(code)) => format!("ended {at}, exit {code}"),
        (Some(at), None) => format!("ended {at}, exit not recorded (killed?)"),
        (None, _) => format!("running (pid {}), or killed before its end", r.pid),
    };
    let _ = writeln!(t, "last run: started {}, {end}", r.started_at);
    let _ = writeln!(t, "  source     {}", r.src);
    let _ = writeln!(t, "  report     {}", r.report);
    let ids = if r.identities.is_empty() {
        "the service account".to_string()
    } else {
        r.identities.join(", ")
    };
    let _ = writeln!(t, "  identities {ids}");
    let _ = writeln!(
        t,
        "  planned    {:>12} files  {} to send{}",
        thousands(r.planned_files),
        human_bytes(r.planned_bytes),
        if r.scan_finished {
            ""
        } else {
            " (scan not finished)"
        }
    );
    let _ = writeln!(
        t,
        "  finished   {:>12} files  ({} uploaded, {} sent)",
        thousands(r.finished_files),
        thousands(r.done_files),
        human_bytes(r.sent_bytes)
    );
    let _ = writeln!(t, "  pending    {:>12} files", thousands(r.pending_files));
}
