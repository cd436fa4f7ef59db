//! `boxlift verify`: compare a Box folder with a manifest, by size and SHA-1 from listings (no
//! download). Exit 1 on any difference.
use std::io::Write;
use std::time::Duration;

use anyhow::Context;

use crate::cli::{GlobalArgs, VerifyArgs};
use crate::exit::ExitCode;
use crate::progress::ShowProgress;
use crate::verify::{Difference, VerifyConfig};

/// Run `boxlift verify`: arguments → [`VerifyConfig`] → [`crate::verify::run`] → the listing
/// or CSV of differences, a summary line and the exit code.
pub fn run(mut args: VerifyArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let _emulator = if args.emulator {
        Some(super::migrate::emulator_for_run(
            &mut args.box_args,
            global.log_format,
        )?)
    } else {
        None
    };
    let config = VerifyConfig {
        manifest: args.manifest.clone(),
        dest: args.dest.clone(),
        client: args
            .box_args
            .to_client_config()
            .context("Box credentials")?,
        progress: ShowProgress::Auto,
        status_interval: Duration::from_secs(10),
        log_format: global.log_format,
    };
    let summary = match &args.report {
        Some(path) => {
            // The header goes first, differences or not (serialize would only write it with
            // the first row).
            crate::fsutil::create_parent(path)
                .with_context(|| format!("cannot create the directory of {}", path.display()))?;
            let mut w = csv::WriterBuilder::new()
                .has_headers(false)
                .from_path(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            w.write_record(Difference::COLUMNS)?;
            let summary = crate::verify::run(&config, &mut |d| {
                w.serialize(d).map_err(std::io::Error::other)
            })?;
            w.flush()?;
            summary
        }
        None if args.json => {
            // stdout carries the JSON alone: the differences go to stderr.
            let mut out = std::io::BufWriter::new(std::io::stderr().lock());
            let summary = crate::verify::run(&config, &mut |d| print_difference(&mut out, d))?;
            out.flush()?;
            summary
        }
        None => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let summary = crate::verify::run(&config, &mut |d| print_difference(&mut out, d))?;
            out.flush()?;
            summary
        }
    };
    let detail: Vec<String> = summary
        .problems
        .iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect::<std::collections::BTreeMap<_, _>>()
        .iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect();
    let line = format!(
        "verify: {} manifest rows; {} files and {} folders match; {} differences{}{} ({} listings)",
        summary.expected_rows,
        summary.files_ok,
        summary.folders_ok,
        summary.differences(),
        if detail.is_empty() { "" } else { ": " },
        detail.join(", "),
        summary.listings
    );
    let code = if summary.differences() == 0 {
        ExitCode::Success
    } else {
        ExitCode::SomeFailed
    };
    if args.json {
        eprintln!("{line}");
        super::print_json(&serde_json::json!({
            "command": "verify",
            "exit_code": code.code(),
            "expected_rows": summary.expected_rows,
            "files_ok": summary.files_ok,
            "folders_ok": summary.folders_ok,
            "differences": summary.differences(),
            "problems": summary
                .problems
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect::<std::collections::BTreeMap<_, _>>(),
            "listings": summary.listings,
            "report": args.report.as_ref().map(|p| p.display().to_string()),
        }))?;
    } else {
        println!("{line}");
    }
    Ok(code)
}

fn print_difference(out: &mut impl Write, d: &Difference) -> std::io::Result<()> {
    let or_dash = |s: &str| {
        if s.is_empty() {
            "-".to_string()
        } else {
            s.to_string()
        }
    };
    writeln!(
        out,
        "{:<16} {}  (expected {} bytes {}, Box {} bytes {}, id {})",
        d.problem.to_string(),
        d.path,
        d.expected_size.map_or("-".into(), |s| s.to_string()),
        or_dash(&d.expected_sha1),
        d.box_size.map_or("-".into(), |s| s.to_string()),
        or_dash(&d.box_sha1),
        or_dash(&d.box_id),
    )
}
