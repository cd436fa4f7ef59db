//! `boxlift permissions`: arguments → [`crate::permissions::propose`] → one summary line.
use crate::cli::{GlobalArgs, PermissionsArgs};
use crate::exit::ExitCode;

/// Run `boxlift permissions`.
pub fn run(args: PermissionsArgs, _global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let summary = crate::permissions::propose(&args.to_options())?;
    let counts: Vec<String> = summary
        .statuses
        .iter()
        .map(|(status, n)| format!("{n} {status}"))
        .collect();
    let line = format!(
        "permissions: {} directories read; {} -> {}",
        summary.dirs,
        if counts.is_empty() {
            "no rows".to_owned()
        } else {
            counts.join(", ")
        },
        args.output.display()
    );
    crate::log::text_line(false, &line);
    Ok(ExitCode::Success)
}
