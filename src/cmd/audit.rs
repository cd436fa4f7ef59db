//! `boxlift audit`: arguments → [`AuditConfig`] → [`crate::audit::run`] → the printed summary.
//! A dry run: it never writes to Box.
use anyhow::Context;

use crate::audit::{AuditConfig, Destination, default_output, render};
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
    let config = AuditConfig {
        output: args
            .output
            .clone()
            .unwrap_or_else(|| default_output(&args.manifest)),
        manifest: args.manifest.clone(),
        dest,
        threshold,
        limits: Limits {
            api_calls_per_min: args.api_calls_per_min,
            uploads_per_min: args.uploads_per_min,
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
            summary.compared
        )
    );
    if let Some(space) = &summary.space {
        let e = &summary.estimate;
        print!("{}", space.render(e.direct_bytes + e.chunked_bytes));
    }
    Ok(ExitCode::Success)
}
