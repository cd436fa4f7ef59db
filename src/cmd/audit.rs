//! `boxlift audit`: arguments → [`AuditConfig`] → [`crate::audit::run`] → the printed summary.
//! A dry run: it never writes to Box.
use anyhow::Context;

use crate::audit::{AuditConfig, Deadline, Destination, default_output, render};
use crate::cli::{AuditArgs, GlobalArgs};
use crate::exit::ExitCode;
use crate::plan::estimate::Limits;
use crate::plan::kind::check_threshold;

/// Run `boxlift audit`.
pub fn run(args: AuditArgs, _global: &GlobalArgs) -> anyhow::Result<ExitCode> {
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
        limits: Limits {
            api_calls_per_min: f64::from(rates.api_calls_per_minute),
            uploads_per_min: f64::from(rates.uploads_per_minute),
            identities: args.box_args.as_user.len().max(1) as u32,
            bandwidth: args.bandwidth,
            monthly_api_calls: args.monthly_api_calls,
        },
    };
    let summary = crate::audit::run(&config)?;
    print!(
        "{}",
        render(
            &config.manifest,
            &config.output,
            &summary.estimate,
            &config.limits,
            summary.compared,
            deadline.as_ref(),
        )
    );
    if let Some(space) = &summary.space {
        let e = &summary.estimate;
        print!("{}", space.render(e.direct_bytes + e.chunked_bytes));
    }
    Ok(ExitCode::Success)
}
