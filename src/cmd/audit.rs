//! `boxlift audit`: a dry-run summary of a manifest: upload kinds, problems, API calls and
//! time under Box's limits, and (given a destination listing) what already exists. It never
//! writes to Box.
use std::collections::HashSet;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::box_api::model::Item;
use crate::box_api::{ApiError, BoxClient};
use crate::cli::{AuditArgs, BoxArgs, GlobalArgs};
use crate::exit::ExitCode;
use crate::manifest::read::Reader;
use crate::manifest::{Kind, ManifestRow};
use crate::plan::dest::{
    DestItem, DestinationIndex, FolderLister, Listed, MapIndex, compare, index_destination,
};
use crate::plan::estimate::{Action, Estimate, Limits};
use crate::plan::kind::{UploadKind, check_threshold};
use crate::plan::units::{human_bytes, human_duration, thousands};
use crate::scan::names::box_name_key;

/// Run `boxlift audit`.
pub fn run(args: AuditArgs, _global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let threshold = check_threshold(args.chunked_threshold)?;
    let dest = match (&args.dest, &args.dest_listing) {
        (Some(id), _) => Some(list_destination(&args.manifest, &args.box_args, id)?),
        (None, Some(p)) => Some(load_listing(p)?),
        (None, None) => None,
    };
    let limits = Limits {
        api_calls_per_min: args.api_calls_per_min,
        uploads_per_min: args.uploads_per_min,
        identities: args.box_args.as_user.len().max(1) as u32,
        bandwidth: args.bandwidth,
        monthly_api_calls: args.monthly_api_calls,
    };
    let out_path = args
        .output
        .clone()
        .unwrap_or_else(|| default_output(&args.manifest));
    let est = audit_to_csv(
        &args.manifest,
        &out_path,
        dest.as_ref().map(|d| d as &dyn DestinationIndex),
        threshold,
    )?;
    print!(
        "{}",
        render(&args.manifest, &out_path, &est, &limits, dest.is_some())
    );
    Ok(ExitCode::Success)
}

fn default_output(manifest: &Path) -> PathBuf {
    let stem = manifest
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "manifest".into());
    manifest.with_file_name(format!("{stem}.audit.csv"))
}

/// [`FolderLister`] over the live Box client: `GET /folders/{id}/items` with
/// `fields=name,size,sha1`, marker paging, read-only.
struct BoxLister {
    rt: tokio::runtime::Runtime,
    client: BoxClient,
}

impl FolderLister for BoxLister {
    type Error = ApiError;

    fn list(&mut self, folder_id: &str) -> Result<Vec<Listed>, ApiError> {
        let items = self.rt.block_on(
            self.client
                .list_folder(folder_id, &["name", "size", "sha1"]),
        )?;
        Ok(items
            .into_iter()
            .filter_map(|item| {
                let (f, dest) = match item {
                    Item::Folder(f) => (f, DestItem::Folder),
                    Item::File(f) => {
                        let dest = DestItem::File {
                            size: f.size.unwrap_or(0),
                            sha1: f.sha1.clone().unwrap_or_default(),
                        };
                        (f, dest)
                    }
                    Item::WebLink(_) => return None,
                };
                Some(Listed {
                    id: f.id,
                    name: f.name.unwrap_or_default(),
                    item: dest,
                })
            })
            .collect())
    }
}

/// List the live destination folder (read-only), descending only into folders the manifest
/// has, so a big destination costs only the listings that matter.
fn list_destination(
    manifest: &Path,
    box_args: &BoxArgs,
    root_id: &str,
) -> anyhow::Result<MapIndex> {
    let mut dirs = HashSet::new();
    for row in Reader::open(manifest)? {
        let row = row.with_context(|| format!("manifest {}", manifest.display()))?;
        if row.kind == Kind::Dir {
            dirs.insert(box_name_key(&row.path));
        }
    }
    let config = box_args
        .to_client_config()
        .context("Box connection for --dest")?;
    let client = BoxClient::new(config).context("Box client for --dest")?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut lister = BoxLister { rt, client };
    // Box names are case-insensitive: `Docs` in Box is the manifest's `docs`.
    index_destination(&mut lister, root_id, &|p| dirs.contains(&box_name_key(p)))
        .with_context(|| format!("listing destination folder {root_id}"))
}

/// Load a destination listing saved in manifest form.
fn load_listing(path: &Path) -> anyhow::Result<MapIndex> {
    let mut idx = MapIndex::default();
    for row in Reader::open(path)? {
        let row = row.with_context(|| format!("destination listing {}", path.display()))?;
        let item = match row.kind {
            Kind::Dir => DestItem::Folder,
            Kind::File => DestItem::File {
                size: row.size,
                sha1: row.sha1,
            },
        };
        idx.insert(&row.path, item);
    }
    Ok(idx)
}

/// Stream the manifest into the audit CSV and return the totals.
pub fn audit_to_csv(
    manifest: &Path,
    out: &Path,
    dest: Option<&dyn DestinationIndex>,
    threshold: u64,
) -> anyhow::Result<Estimate> {
    let file = File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut w = csv::Writer::from_writer(BufWriter::new(file));
    w.write_record([
        "path",
        "kind",
        "size",
        "status",
        "action",
        "upload_kind",
        "parts",
        "api_calls",
        "dest",
        "detail",
    ])?;
    let mut est = Estimate::default();
    for row in Reader::open(manifest)? {
        let row: ManifestRow = row?;
        let state = if row.status.is_ok() {
            dest.map(|d| compare(&row, d))
        } else {
            None
        };
        let action = est.add(&row, state.as_ref(), threshold);
        let (kind, parts, calls, detail) = match &action {
            Action::Upload(k) => (
                Some(*k),
                k.parts(row.size),
                k.api_calls(row.size),
                String::new(),
            ),
            Action::Conflict(k, why) if row.kind == Kind::File => (
                Some(*k),
                k.parts(row.size),
                k.api_calls(row.size),
                why.to_string(),
            ),
            Action::Conflict(_, why) => (None, 0, 1, why.to_string()),
            Action::CreateFolder => (None, 0, 1, String::new()),
            Action::Skip => (None, 0, 0, String::new()),
            Action::NotMigrated => (None, 0, 0, row.detail.clone()),
        };
        w.write_record([
            row.path.as_str(),
            row.kind.as_str(),
            &row.size.to_string(),
            &row.status.to_string(),
            action.as_str(),
            kind.map(UploadKind::as_str).unwrap_or(""),
            &parts.to_string(),
            &calls.to_string(),
            state.as_ref().map(|s| s.as_str()).unwrap_or(""),
            &detail,
        ])?;
    }
    w.flush()?;
    Ok(est)
}

/// The printed summary table.
pub fn render(manifest: &Path, out: &Path, e: &Estimate, l: &Limits, compared: bool) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "boxlift audit of {} (dry run: nothing sent to Box)",
        manifest.display()
    );
    let _ = writeln!(s, "{:<28}{:>14}{:>14}", "", "items", "bytes");
    let mut line = |label: &str, n: u64, bytes: Option<u64>, note: String| {
        let b = bytes.map(human_bytes).unwrap_or_default();
        let _ = writeln!(s, "{label:<28}{:>14}{b:>14}  {note}", thousands(n));
    };
    line(
        "direct uploads",
        e.direct_files,
        Some(e.direct_bytes),
        String::new(),
    );
    line(
        "chunked uploads",
        e.chunked_files,
        Some(e.chunked_bytes),
        format!("{} parts", thousands(e.parts)),
    );
    line("folders to create", e.folders, None, String::new());
    if compared {
        line(
            "already in Box (skip)",
            e.existing,
            Some(e.existing_bytes),
            String::new(),
        );
        line(
            "conflicts",
            e.conflicts,
            None,
            "counted above as uploads (new versions)".into(),
        );
    }
    let problems: u64 = e.problems.values().sum();
    line(
        "not migrated (problems)",
        problems,
        Some(e.problem_bytes),
        String::new(),
    );
    for (status, n) in &e.problems {
        line(&format!("  {status}"), *n, None, String::new());
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "API calls           {:>14}  (folders {} + direct {} + sessions {}×2 + parts {})",
        thousands(e.api_calls()),
        thousands(e.folders),
        thousands(e.direct_files),
        thousands(e.chunked_files),
        thousands(e.parts)
    );
    let _ = writeln!(s, "upload requests     {:>14}", thousands(e.uploads()));
    if let Some(share) = e.monthly_share(l) {
        let _ = writeln!(
            s,
            "monthly allocation  {:>13.2}%  of {} calls",
            share * 100.0,
            thousands(l.monthly_api_calls.unwrap_or(0))
        );
    }
    let t = e.timing(l);
    let (total, bound) = t.total();
    let _ = writeln!(
        s,
        "estimated time      {:>14}  (bound: {bound}; {} identit{})",
        human_duration(total),
        l.identities,
        if l.identities == 1 { "y" } else { "ies" }
    );
    let _ = writeln!(
        s,
        "  at {:.0} calls/min  {:>14}",
        l.api_calls_per_min * f64::from(l.identities),
        human_duration(t.api_secs)
    );
    let _ = writeln!(
        s,
        "  at {:.0} uploads/min {:>13}",
        l.uploads_per_min * f64::from(l.identities),
        human_duration(t.upload_secs)
    );
    match (t.transfer_secs, l.bandwidth) {
        (Some(secs), Some(bw)) => {
            let _ = writeln!(
                s,
                "  {} at {}/s {:>8}",
                human_bytes(e.upload_bytes()),
                human_bytes(bw as u64),
                human_duration(secs)
            );
        }
        _ => {
            let _ = writeln!(s, "  bandwidth: not given (--bandwidth), not bounded");
        }
    }
    let _ = writeln!(s, "audit CSV: {}", out.display());
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn default_output_sits_beside_the_manifest() {
        assert_eq!(
            default_output(Path::new("manifests/nas.csv")),
            PathBuf::from("manifests/nas.audit.csv")
        );
    }
}
