//! `boxlift audit`: arguments → [`AuditConfig`] → [`crate::audit::run`] → the printed summary.
//! A dry run: it never writes to Box.
use crate::audit::fit::Fit;
use crate::audit::{AuditConfig, AuditSummary, Deadline, render};
use crate::cli::{AuditArgs, GlobalArgs};
use crate::exit::ExitCode;
use crate::plan::estimate::Estimate;

/// Run `boxlift audit`.
pub fn run(args: AuditArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let config = args.to_config(global.log_format)?;
    let deadline = args.deadline(chrono::Utc::now())?;
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
    let mirror = match &config.state {
        Some(dir) => {
            crate::audit::mirror::forecast(&config.manifest, dir, config.limits.uploads_per_min)?
        }
        None => None,
    };
    if let Some(m) = &mirror {
        text.push_str(&m.render());
    }
    let owners = match &config.map {
        Some(map) => {
            let plan = crate::audit::owners::plan(&config, map)?;
            text.push_str(&plan.render(map));
            Some(plan)
        }
        None => None,
    };
    // A plan that does not fit (space, deadline, an identity that cannot write and would fail
    // every file it takes) exits 1, so a pipeline can gate on it.
    let fit = Fit::check(&summary, &config.limits, deadline.as_ref());
    text.push_str(&fit.render());
    let code = if fit.fits() {
        ExitCode::Success
    } else {
        ExitCode::SomeFailed
    };
    if args.json {
        // stdout carries the JSON alone; the human summary goes to stderr.
        eprint!("{text}");
        let mut v = json_summary(&config, &summary.estimate, summary.compared);
        if let Some(m) = &mirror {
            v["mirror"] = serde_json::to_value(m)?;
        }
        if let Some(o) = &owners {
            v["owners"] = serde_json::to_value(o)?;
        }
        super::merge_json(
            &mut v,
            &fit_json(&config, &summary, deadline.as_ref(), fit, code),
        );
        super::print_json(&v)?;
    } else {
        print!("{text}");
    }
    Ok(code)
}

/// `--json`'s verdict fields: `exit_code`, `fit` (each check: true, false, or null when not
/// checked; `fits`; `reasons`), `deadline` (null without one), `identities_given`,
/// `identities_needed` (null without a deadline, or when no number of identities makes it),
/// and `space` (with `--dest`).
fn fit_json(
    config: &AuditConfig,
    summary: &AuditSummary,
    deadline: Option<&Deadline>,
    fit: Fit,
    code: ExitCode,
) -> serde_json::Value {
    let e = &summary.estimate;
    let l = &config.limits;
    let (total_s, _) = e.timing(l).total();
    serde_json::json!({
        "exit_code": code.code(),
        "fit": {
            "fits": fit.fits(),
            "space": fit.space,
            "deadline": fit.deadline,
            "access": fit.access,
            "reasons": fit.reasons(),
        },
        "deadline": deadline.map(|d| serde_json::json!({
            "at": d.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "in_s": d.secs,
            "estimated_s": total_s,
            "on_time": total_s <= d.secs,
        })),
        "identities_given": l.identities,
        "identities_needed": deadline.and_then(|d| e.identities_within(l, d.secs)),
        "space": summary.space.map(|s| serde_json::json!({
            "free_bytes": s.free,
            "used_bytes": s.used,
            "to_upload_bytes": e.direct_bytes + e.chunked_bytes,
        })),
        "access": summary.access.iter().map(|a| serde_json::json!({
            "as_user": a.as_user,
            "can_upload": a.can_upload(),
        })).collect::<Vec<_>>(),
    })
}

/// `--json`: the plan's figures (field names in docs/report.md, "JSON summary").
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
