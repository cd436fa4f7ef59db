//! `boxlift audit`: arguments → [`AuditConfig`] → [`crate::audit::run`] → the printed summary.
//! A dry run: it never writes to Box.
use anyhow::Context;

use crate::audit::{AuditConfig, Deadline, Destination, default_output, render};
use crate::cli::{AuditArgs, GlobalArgs};
use crate::exit::ExitCode;
use crate::plan::estimate::{Estimate, Limits};
use crate::plan::kind::check_threshold;

/// Run `boxlift audit`.
pub fn run(args: AuditArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let threshold = check_threshold(args.chunked_threshold)?;
    let dest = match (&args.dest, &args.dest_listing) {
        (Some(id), _) => Some(Destination::Box {
            folder_id: id.clone(),
            client: Box::new(
                args.box_args
                    .to_client_config()
                    .context("Box connection for --dest")?,
            ),
        }),
        (None, Some(p)) => Some(Destination::Listing(p.clone())),
        (None, None) => None,
    };
    let rates = args.box_args.rates()?;
    let now = chrono::Utc::now();
    let deadline = match (args.deadline, args.within) {
        (Some(at), _) => Some(Deadline::at(at, now)?),
        (None, Some(d)) => Some(Deadline::at(now + d, now)?),
        (None, None) => None,
    };
    let config = AuditConfig {
        output: args
            .output
            .clone()
            .unwrap_or_else(|| default_output(&args.manifest)),
        manifest: args.manifest.clone(),
        dest,
        threshold,
        progress: args.progress,
        status_interval: std::time::Duration::from_secs(args.status_interval.max(1)),
        log_format: global.log_format,
        limits: Limits {
            api_calls_per_min: f64::from(rates.api_calls_per_minute),
            uploads_per_min: f64::from(rates.uploads_per_minute),
            identities: args.box_args.as_user.len().max(1) as u32,
            bandwidth: args.bandwidth,
            monthly_api_calls: args.monthly_api_calls,
        },
    };
    let summary = crate::audit::run(&config)?;
    let mut text = render(
        &config.manifest,
        &config.output,
        &summary.estimate,
        &config.limits,
        summary.compared,
        deadline.as_ref(),
    );
    if let Some(space) = &summary.space {
        let e = &summary.estimate;
        text.push_str(&space.render(e.direct_bytes + e.chunked_bytes));
    }
    if let (Some(id), false) = (&args.dest, summary.access.is_empty()) {
        text.push_str(&crate::audit::access::render(id, &summary.access));
    }
    if args.json {
        // stdout carries the JSON alone; the human summary goes to stderr.
        eprint!("{text}");
        super::print_json(&json_summary(&config, &summary.estimate, summary.compared))?;
    } else {
        print!("{text}");
    }
    // An identity that cannot write would fail every file it takes: say so in the exit code.
    if summary.access.iter().any(|a| !a.can_upload()) {
        return Ok(ExitCode::SomeFailed);
    }
    Ok(ExitCode::Success)
}

/// `--json`: the plan's figures (field names in README, "JSON summary").
fn json_summary(config: &AuditConfig, e: &Estimate, compared: bool) -> serde_json::Value {
    let timing = e.timing(&config.limits);
    let (total_s, bound_by) = timing.total();
    serde_json::json!({
        "command": "audit",
        "exit_code": ExitCode::Success.code(),
        "manifest": config.manifest.display().to_string(),
        "output": config.output.display().to_string(),
        "compared": compared,
        "folders": e.folders,
        "direct_files": e.direct_files,
        "direct_bytes": e.direct_bytes,
        "chunked_files": e.chunked_files,
        "chunked_bytes": e.chunked_bytes,
        "parts": e.parts,
        "existing": e.existing,
        "existing_bytes": e.existing_bytes,
        "conflicts": e.conflicts,
        "problems": e.problems,
        "problem_bytes": e.problem_bytes,
        "listings": e.listings,
        "uploads": e.uploads(),
        "api_calls": e.api_calls(),
        "upload_bytes": e.upload_bytes(),
        "monthly_share": e.monthly_share(&config.limits),
        "time": {
            "api_s": timing.api_secs,
            "upload_s": timing.upload_secs,
            "transfer_s": timing.transfer_secs,
            "total_s": total_s,
            "bound_by": bound_by,
        },
    })
}
