//! Local POSIX permissions → Box collaborations (issue 22).
//!
//! - [`propose`]: `boxlift permissions SRC`: walk SRC's directories (owner, group, mode bits,
//!   POSIX ACLs) and write the collaborations Box's waterfall model can express, with a
//!   `conflict` row where it cannot and an `unmapped` row for a local user or group without a
//!   Box counterpart.
//! - [`grants`]: read a permissions CSV (`migrate --permissions`, `verify --permissions`),
//!   check every row against SRC and resolve every collaborator in Box before anything runs.
//! - [`apply`]: after a run's uploads, grant what the journal has not recorded yet.
//! - [`check`]: compare the collaborations on each listed folder with the CSV.
//!
//! The mapping of a directory's permission bits (for one principal) to a Box role:
//!
//! | bits | role | why |
//! |---|---|---|
//! | `rwx` | editor | list, read, add, change, delete |
//! | `r-x` | viewer | list and read (download) |
//! | `r--` | previewer | names only locally (no `x`); Box's weakest seeing role |
//! | `rw-` | viewer uploader | as `r--` plus adding; the nearest Box role that can add |
//! | `-wx`, `-w-` | uploader | add without listing (a drop box) |
//! | `--x`, `---` | none | traverse only, or nothing: no collaboration |
use crate::box_api::model::CollabRole;

pub mod acl;
pub mod apply;
pub mod check;
pub mod grants;
pub mod propose;

pub use self::grants::{Grant, GrantsError, PermissionsFile, Resolved};
pub use self::propose::{ProposeError, ProposeOptions, ProposeSummary, propose};

/// Read (4), write (2), execute (1) bits of one principal.
pub type Bits = u8;

/// The Box role the local bits `rwx` (0..=7) of a directory give, if any (the table above).
pub fn role_of(bits: Bits) -> Option<CollabRole> {
    let (r, w, x) = (bits & 4 != 0, bits & 2 != 0, bits & 1 != 0);
    match (r, w, x) {
        (true, true, true) => Some(CollabRole::Editor),
        (true, false, true) => Some(CollabRole::Viewer),
        (true, false, false) => Some(CollabRole::Previewer),
        (true, true, false) => Some(CollabRole::ViewerUploader),
        (false, true, _) => Some(CollabRole::Uploader),
        (false, false, _) => None,
    }
}

/// What a role lets a collaborator do, as bits: preview 1, download 2, upload 4, edit 8.
pub fn caps(role: Option<CollabRole>) -> u8 {
    const PREVIEW: u8 = 1;
    const DOWNLOAD: u8 = 2;
    const UPLOAD: u8 = 4;
    const EDIT: u8 = 8;
    match role {
        None => 0,
        Some(CollabRole::Previewer) => PREVIEW,
        Some(CollabRole::Viewer) => PREVIEW | DOWNLOAD,
        Some(CollabRole::Uploader) => UPLOAD,
        Some(CollabRole::PreviewerUploader) => PREVIEW | UPLOAD,
        Some(CollabRole::ViewerUploader) => PREVIEW | DOWNLOAD | UPLOAD,
        Some(CollabRole::Editor | CollabRole::CoOwner | CollabRole::Owner) => {
            PREVIEW | DOWNLOAD | UPLOAD | EDIT
        }
    }
}

/// What Box's waterfall makes of a directory for one principal, given the access that flows
/// down from its parents (`inherited`, capability bits of [`caps`]) and the role the local
/// bits ask for (`wanted`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waterfall {
    /// A collaboration to create here: `wanted` adds to what flows down.
    pub grant: bool,
    /// Box cannot express this: the folder is more restricted than its parent for the
    /// principal (a parent's collaboration cannot be taken away below it).
    pub conflict: bool,
    /// The capabilities that flow on to the subfolders.
    pub below: u8,
}

/// The conflict rule: a grant only where `wanted` adds to `inherited`; a conflict where
/// `inherited` holds something `wanted` does not.
pub fn waterfall(inherited: u8, wanted: Option<CollabRole>) -> Waterfall {
    let want = caps(wanted);
    Waterfall {
        grant: want & !inherited != 0,
        conflict: inherited & !want != 0,
        below: inherited | want,
    }
}

/// The `path` column's word for the top folder (SRC itself): its collaborations go on the
/// migration's top folder (`--dest`). `""` is read as the same.
pub const ROOT: &str = ".";

/// A permissions CSV path cell, `/`-separated relative to SRC, as the journal keys it (`""` is
/// SRC itself, written [`ROOT`]).
pub fn normalize(path: &str) -> String {
    let p = path.trim().trim_matches('/');
    if p == ROOT || p.is_empty() {
        return String::new();
    }
    p.strip_prefix("./").unwrap_or(p).to_owned()
}

/// The CSV cell for a journal path.
pub fn cell(path: &str) -> &str {
    if path.is_empty() { ROOT } else { path }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mode_maps_as_the_table_says() {
        let want = [
            (0o7, Some(CollabRole::Editor)),
            (0o5, Some(CollabRole::Viewer)),
            (0o4, Some(CollabRole::Previewer)),
            (0o6, Some(CollabRole::ViewerUploader)),
            (0o3, Some(CollabRole::Uploader)),
            (0o2, Some(CollabRole::Uploader)),
            (0o1, None),
            (0o0, None),
        ];
        for (bits, role) in want {
            assert_eq!(role_of(bits), role, "bits {bits:o}");
        }
    }

    #[test]
    fn the_same_role_below_gives_no_row() {
        let v = caps(Some(CollabRole::Viewer));
        assert_eq!(
            waterfall(v, Some(CollabRole::Viewer)),
            Waterfall {
                grant: false,
                conflict: false,
                below: v
            }
        );
    }

    #[test]
    fn more_below_is_a_grant_less_below_is_a_conflict() {
        let v = caps(Some(CollabRole::Viewer));
        let e = caps(Some(CollabRole::Editor));
        let more = waterfall(v, Some(CollabRole::Editor));
        assert!(more.grant && !more.conflict);
        assert_eq!(more.below, e);
        let less = waterfall(e, Some(CollabRole::Viewer));
        assert!(!less.grant && less.conflict);
        assert_eq!(less.below, e, "Box keeps the parent's editor below");
        let none = waterfall(v, None);
        assert!(!none.grant && none.conflict);
        // Neither holds the other: a grant (it adds upload) and a conflict (Box keeps download).
        let side = waterfall(v, Some(CollabRole::Uploader));
        assert!(side.grant && side.conflict);
        let first = waterfall(0, Some(CollabRole::Uploader));
        assert!(first.grant && !first.conflict);
        assert_eq!(waterfall(0, None).below, 0);
    }

    #[test]
    fn root_is_dot_or_empty() {
        assert_eq!(normalize("."), "");
        assert_eq!(normalize(""), "");
        assert_eq!(normalize("./a/b/"), "a/b");
        assert_eq!(cell(""), ".");
        assert_eq!(cell("a"), "a");
    }
}
