//! `audit --map`: the plan per owner. Each `--map` owner uploads As-User itself, at its own
//! budget (the limits' per-identity rates, one identity each), while the unmapped part runs at
//! the run's identities: every part runs at once, so the whole run takes as long as its
//! largest part, and the largest owner is the tail no number of `--as-user` identities
//! shortens.
use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::{AuditConfig, AuditError, Destination, read_err};
use crate::box_api::BoxClient;
use crate::manifest::ManifestRow;
use crate::manifest::read::Reader;
use crate::plan::estimate::{Estimate, Limits};
use crate::plan::owners::{MapError, OwnerMap};
use crate::plan::units::{human_bytes, human_duration, thousands};

/// One owner's part (or the unmapped part).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OwnerPart {
    /// The owner as written in the map; `None`: the unmapped part (to `--dest`).
    pub owner: Option<String>,
    /// Files to upload.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Upload time under this part's budget, in seconds.
    pub time_s: f64,
    /// What bounds it (`uploads/min`, `API calls/min`).
    pub bound_by: &'static str,
}

/// The per-owner plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OwnerPlan {
    /// Every part, the longest first.
    pub parts: Vec<OwnerPart>,
    /// The whole run: the longest part (or the whole run's transfer at `--bandwidth`).
    pub total_s: f64,
    /// Owners Box does not know, as (line, owner); `None`: not checked (no live `--dest`).
    pub unknown: Option<Vec<(usize, String)>>,
}

/// Read the manifest once more and split its estimate by owner.
pub fn plan(config: &AuditConfig, map_file: &Path) -> Result<OwnerPlan, AuditError> {
    let map = OwnerMap::read(map_file)?;
    let mut parts: BTreeMap<Option<String>, Estimate> = BTreeMap::new();
    let mut all = Estimate::default();
    let manifest = &config.manifest;
    for row in Reader::open(manifest).map_err(read_err("manifest", manifest))? {
        let row: ManifestRow = row.map_err(read_err("manifest", manifest))?;
        let owner = map.entry_of(&row.path).map(|e| e.owner.clone());
        parts
            .entry(owner)
            .or_default()
            .add(&row, None, config.threshold);
        all.add(&row, None, config.threshold);
    }
    let l = &config.limits;
    let mut out: Vec<OwnerPart> = parts
        .into_iter()
        .map(|(owner, e)| {
            // An owner is one identity; the unmapped part has the run's identities. Bandwidth
            // is shared: it bounds the whole run below, not a part.
            let limits = Limits {
                identities: if owner.is_some() { 1 } else { l.identities },
                bandwidth: None,
                ..l.clone()
            };
            let (time_s, bound_by) = e.timing(&limits).total();
            OwnerPart {
                owner,
                files: e.direct_files + e.chunked_files,
                bytes: e.direct_bytes + e.chunked_bytes,
                time_s,
                bound_by,
            }
        })
        .collect();
    out.sort_by(|a, b| b.time_s.total_cmp(&a.time_s).then(b.files.cmp(&a.files)));
    let longest = out.first().map_or(0.0, |p| p.time_s);
    let transfer = l.bandwidth.map_or(0.0, |bw| all.upload_bytes() as f64 / bw);
    Ok(OwnerPlan {
        parts: out,
        total_s: longest.max(transfer),
        unknown: unknown_owners(config, &map)?,
    })
}

/// With a live `--dest`: the owners Box does not know (every one). A failed look-up is a
/// warning: the local figures stand.
fn unknown_owners(
    config: &AuditConfig,
    map: &OwnerMap,
) -> Result<Option<Vec<(usize, String)>>, AuditError> {
    let Some(Destination::Box { client, .. }) = &config.dest else {
        return Ok(None);
    };
    let Ok(client) = BoxClient::new((**client).clone()) else {
        return Ok(None);
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(AuditError::Runtime)?;
    match rt.block_on(map.resolve(&client)) {
        Ok(_) => Ok(Some(Vec::new())),
        Err(MapError::UnknownOwners { unknown, .. }) => Ok(Some(unknown)),
        Err(e) => {
            tracing::warn!("cannot check the --map owners: {e}");
            Ok(None)
        }
    }
}

impl OwnerPlan {
    /// The summary's table: owners, longest first, and what the whole run takes.
    pub fn render(&self, map: &Path) -> String {
        use std::fmt::Write;
        let mut s = format!(
            "By owner (--map {}): each owner uploads As-User itself at its own budget\n",
            map.display()
        );
        let _ = writeln!(
            s,
            "  {:<32}{:>10}{:>12}{:>12}",
            "owner", "files", "bytes", "time"
        );
        for p in &self.parts {
            let who = p.owner.as_deref().unwrap_or("(unmapped: --dest)");
            let _ = writeln!(
                s,
                "  {who:<32}{:>10}{:>12}{:>12}  ({})",
                thousands(p.files),
                human_bytes(p.bytes),
                human_duration(p.time_s),
                p.bound_by
            );
        }
        if let Some(first) = self.parts.first() {
            let who = first.owner.as_deref().unwrap_or("the unmapped part");
            let _ = writeln!(
                s,
                "whole run           {:>14}  (the parts run at once: the largest, {who}, is the tail)",
                human_duration(self.total_s)
            );
        }
        match &self.unknown {
            Some(u) if !u.is_empty() => {
                let names: Vec<String> = u.iter().map(|(l, o)| format!("{o} (line {l})")).collect();
                let _ = writeln!(
                    s,
                    "UNKNOWN OWNERS: Box knows no user {}: migrate would refuse to start (exit 2)",
                    names.join(", ")
                );
            }
            Some(_) => {
                let _ = writeln!(s, "owners: Box knows every one");
            }
            None => {}
        }
        s
    }
}
