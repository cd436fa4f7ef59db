//! `boxlift verify`: compare a Box folder with a manifest, by size and SHA-1 from listings (no
//! download). Exit 1 on any difference.
use std::collections::HashMap;

use anyhow::Context;

use crate::box_api::BoxClient;
use crate::cli::{GlobalArgs, VerifyArgs};
use crate::exit::ExitCode;
use crate::manifest::Kind;
use crate::manifest::read::Reader;
use crate::report::verify::{Expected, verify};

/// Run `boxlift verify`.
pub fn run(mut args: VerifyArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    // Only rows that should be in Box: `ok` files and directories. The map holds one small
    // entry per row (about 150 bytes), so 10M rows need ~1.5 GB: verify big trees in parts.
    let mut expected = HashMap::new();
    for row in Reader::open(&args.manifest)? {
        let row = row.with_context(|| format!("manifest {}", args.manifest.display()))?;
        if !row.status.is_ok() {
            continue;
        }
        expected.insert(
            crate::box_api::names::box_name_key(&row.path),
            Expected {
                is_dir: row.kind == Kind::Dir,
                size: row.size,
                sha1: row.sha1,
                path: row.path,
            },
        );
    }
    let expected_rows = expected.len();
    let _emulator = if args.emulator {
        Some(super::migrate::emulator_for_run(
            &mut args.box_args,
            global.log_format,
        )?)
    } else {
        None
    };
    let client = BoxClient::new(
        args.box_args
            .to_client_config()
            .context("Box credentials")?,
    )?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let out = rt
        .block_on(verify(&client, &args.dest, expected))
        .with_context(|| format!("listing Box folder {}", args.dest))?;
    match &args.report {
        Some(path) => {
            let mut w = csv::Writer::from_path(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            for d in &out.differences {
                w.serialize(d)?;
            }
            w.flush()?;
        }
        None => {
            for d in &out.differences {
                println!(
                    "{:<16} {}  (expected {} bytes {}, Box {} bytes {}, id {})",
                    d.problem.to_string(),
                    d.path,
                    d.expected_size.map_or("-".into(), |s| s.to_string()),
                    if d.expected_sha1.is_empty() {
                        "-"
                    } else {
                        &d.expected_sha1
                    },
                    d.box_size.map_or("-".into(), |s| s.to_string()),
                    if d.box_sha1.is_empty() {
                        "-"
                    } else {
                        &d.box_sha1
                    },
                    if d.box_id.is_empty() { "-" } else { &d.box_id },
                );
            }
        }
    }
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for d in &out.differences {
        *counts.entry(d.problem.to_string()).or_default() += 1;
    }
    let detail: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    println!(
        "verify: {} manifest rows; {} files and {} folders match; {} differences{}{} ({} listings)",
        expected_rows,
        out.files_ok,
        out.folders_ok,
        out.differences.len(),
        if detail.is_empty() { "" } else { ": " },
        detail.join(", "),
        out.listings
    );
    Ok(if out.differences.is_empty() {
        ExitCode::Success
    } else {
        ExitCode::SomeFailed
    })
}
