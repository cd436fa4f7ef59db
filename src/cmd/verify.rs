//! `boxlift verify`: compare a Box folder with a manifest, by size and SHA-1 from listings (no
//! download). Exit 1 on any difference, `extra` rows only with `--exact`.
use crate::cli::{GlobalArgs, VerifyArgs};
use crate::exit::ExitCode;

/// Run `boxlift verify`: arguments → [`crate::verify::VerifyConfig`] → [`crate::verify::run`]
/// (which writes the differences) → the summary line and the exit code.
pub fn run(mut args: VerifyArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let _emulator = if args.emulator {
        Some(super::migrate::emulator_for_run(
            &mut args.box_args,
            global.log_format,
        )?)
    } else {
        None
    };
    let config = args.to_config(global.log_format)?;
    let summary = crate::verify::run(&config)?;
    let perm_diffs = match &args.permissions {
        Some(file) => permissions(&args, &config, file)?,
        None => 0,
    };
    let code = if summary.failing() == 0 && perm_diffs == 0 {
        ExitCode::Success
    } else {
        ExitCode::SomeFailed
    };
    if args.json {
        eprintln!("{}", summary.line());
        super::print_json(&serde_json::json!({
            "command": "verify",
            "exit_code": code.code(),
            "expected_rows": summary.expected_rows,
            "files_ok": summary.files_ok,
            "folders_ok": summary.folders_ok,
            "differences": summary.differences(),
            "exact": summary.exact,
            "failing": summary.failing(),
            "problems": summary
                .problems
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect::<std::collections::BTreeMap<_, _>>(),
            "listings": summary.listings,
            "permission_differences": perm_diffs,
            "report": args.report.as_ref().map(|p| p.display().to_string()),
        }))?;
    } else {
        println!("{}", summary.line());
    }
    crate::log::file_lines(false, &summary.line());
    Ok(code)
}

/// `--permissions FILE`: the collaborations' differences, listed like verify's (on stdout, or
/// stderr under `--json`) and written beside `--report`; returns how many.
fn permissions(
    args: &VerifyArgs,
    config: &crate::verify::VerifyConfig,
    file: &std::path::Path,
) -> anyhow::Result<usize> {
    use crate::permissions::check;
    let diffs = check::run(&config.client, &config.dest, file)?;
    for d in &diffs {
        if args.json {
            eprintln!("{}", d.text_line());
        } else {
            println!("{}", d.text_line());
        }
    }
    if let Some(report) = &args.report {
        check::write_csv(&check::beside(report), &diffs)?;
    }
    let line = format!(
        "verify --permissions: {} permission difference(s) in {}",
        diffs.len(),
        file.display()
    );
    crate::log::text_line(false, &line);
    Ok(diffs.len())
}
