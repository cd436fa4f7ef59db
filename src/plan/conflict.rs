//! The conflict decision: given what Box holds at a file's name and the `--on-conflict` policy,
//! what happens to the file. Pure and made once, so the dry run and the real run cannot
//! disagree: a dry run's `would_X` is what the real run reports as `X`, and the rows the dry
//! run settles (skips, conflicts, failures) are the rows the real run settles the same way.
use crate::model::{Action, ItemKind};

/// What to do when a file of the same name but other content is already in Box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnConflict {
    /// Keep Box's file; the row says `skipped_conflict`.
    Skip,
    /// Upload ours as a new version of Box's file (Box keeps the history).
    #[default]
    Version,
    /// Upload ours beside it as `name (1).ext`.
    Rename,
    /// Leave Box's file and fail the row with `item_name_in_use`.
    Fail,
}

/// What Box holds at the file's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtName {
    /// Nothing.
    Absent,
    /// A file with our SHA-1.
    Same,
    /// A file with other content. `changed_in_box`: boxlift uploaded this file in an earlier
    /// run and Box's current version is not the one it made (someone uploaded a newer one).
    Different {
        /// Box's version is not the one the journal recorded.
        changed_in_box: bool,
    },
    /// A folder or web link: another kind of item holds the name.
    NotAFile,
}

impl AtName {
    /// Classify an item of `kind` with Box's `sha1`, against our file's `sha1`.
    pub fn of(found: Option<(ItemKind, Option<&str>)>, sha1: &str, changed_in_box: bool) -> Self {
        match found {
            None => AtName::Absent,
            Some((ItemKind::File, box_sha1)) if box_sha1 == Some(sha1) => AtName::Same,
            Some((ItemKind::File, _)) => AtName::Different { changed_in_box },
            Some((ItemKind::Folder | ItemKind::WebLink, _)) => AtName::NotAFile,
        }
    }
}

/// Why a row is left as Box holds it and reported as a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A folder (or web link) holds the name: Box answers 409 `item_name_in_use` to any
    /// upload there, whatever the policy. Reported as `conflict`.
    NotAFile,
    /// Someone else's newer version is never superseded (`version`, `fail`). Reported as
    /// `conflict`.
    ChangedInBox,
    /// `--on-conflict fail`: reported as `failed`.
    NameInUse,
}

impl Refusal {
    /// The row's `error_code`.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::NotAFile | Refusal::NameInUse => "item_name_in_use",
            Refusal::ChangedInBox => CHANGED_IN_BOX,
        }
    }
}

/// The `error_code` of a `conflict` row whose file changed in Box since boxlift last saw it.
pub const CHANGED_IN_BOX: &str = "conflict_changed_in_box";

/// What happens to the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Upload as a new file at its name.
    Upload,
    /// Box holds this content already: nothing to send.
    SkipSame,
    /// `skip`: keep Box's file.
    SkipConflict,
    /// `version`: upload ours as a new version of Box's file (`If-Match` its etag).
    NewVersion,
    /// `rename`: upload ours beside Box's file under a free name.
    Rename,
    /// Leave Box's item; the row is a failure.
    Refuse(Refusal),
}

/// The one decision, for dry and real runs alike.
pub fn decide(at: AtName, policy: OnConflict) -> Decision {
    match (at, policy) {
        (AtName::Absent, _) => Decision::Upload,
        (AtName::Same, _) => Decision::SkipSame,
        (AtName::NotAFile, _) => Decision::Refuse(Refusal::NotAFile),
        (AtName::Different { .. }, OnConflict::Skip) => Decision::SkipConflict,
        // A new name supersedes nothing, so a change in Box does not matter.
        (AtName::Different { .. }, OnConflict::Rename) => Decision::Rename,
        (
            AtName::Different {
                changed_in_box: true,
            },
            OnConflict::Version | OnConflict::Fail,
        ) => Decision::Refuse(Refusal::ChangedInBox),
        (AtName::Different { .. }, OnConflict::Version) => Decision::NewVersion,
        (AtName::Different { .. }, OnConflict::Fail) => Decision::Refuse(Refusal::NameInUse),
    }
}

impl Decision {
    /// The row's action: a dry run reports the `would_*` word of what the real run does.
    /// (`--dedup` may turn an upload into a copy: that is the sender's choice, not this one.)
    pub fn action(self, dry_run: bool) -> Action {
        match (self, dry_run) {
            (Decision::Upload, false) => Action::Uploaded,
            (Decision::Upload, true) => Action::WouldUpload,
            (Decision::NewVersion, false) => Action::NewVersion,
            (Decision::NewVersion, true) => Action::WouldVersion,
            (Decision::Rename, false) => Action::Renamed,
            (Decision::Rename, true) => Action::WouldRename,
            (Decision::SkipSame, _) => Action::SkippedExists,
            (Decision::SkipConflict, _) => Action::SkippedConflict,
            (Decision::Refuse(Refusal::NameInUse), _) => Action::Failed,
            (Decision::Refuse(Refusal::NotAFile | Refusal::ChangedInBox), _) => Action::Conflict,
        }
    }

    /// Whether the row is settled without sending anything (the same in dry and real runs).
    pub fn settles_without_upload(self) -> bool {
        matches!(
            self,
            Decision::SkipSame | Decision::SkipConflict | Decision::Refuse(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICIES: [OnConflict; 4] = [
        OnConflict::Skip,
        OnConflict::Version,
        OnConflict::Rename,
        OnConflict::Fail,
    ];

    #[test]
    fn the_decision_table() {
        use AtName::*;
        use Decision::*;
        let changed = Different {
            changed_in_box: true,
        };
        let different = Different {
            changed_in_box: false,
        };
        // (state, [skip, version, rename, fail])
        let table = [
            (Absent, [Upload, Upload, Upload, Upload]),
            (Same, [SkipSame, SkipSame, SkipSame, SkipSame]),
            (
                different,
                [SkipConflict, NewVersion, Rename, Refuse(Refusal::NameInUse)],
            ),
            (
                changed,
                [
                    SkipConflict,
                    Refuse(Refusal::ChangedInBox),
                    Rename,
                    Refuse(Refusal::ChangedInBox),
                ],
            ),
            (NotAFile, [Refuse(Refusal::NotAFile); 4]),
        ];
        for (at, want) in table {
            for (policy, want) in POLICIES.into_iter().zip(want) {
                assert_eq!(decide(at, policy), want, "{at:?} under {policy:?}");
            }
        }
    }

    #[test]
    fn a_dry_run_predicts_the_real_action() {
        let states = [
            AtName::Absent,
            AtName::Same,
            AtName::Different {
                changed_in_box: false,
            },
            AtName::Different {
                changed_in_box: true,
            },
            AtName::NotAFile,
        ];
        for at in states {
            for policy in POLICIES {
                let d = decide(at, policy);
                let (dry, real) = (d.action(true), d.action(false));
                let predicted = match real {
                    Action::Uploaded => Action::WouldUpload,
                    Action::NewVersion => Action::WouldVersion,
                    Action::Renamed => Action::WouldRename,
                    settled => settled,
                };
                assert_eq!(dry, predicted, "{at:?} under {policy:?}");
                assert_eq!(d.settles_without_upload(), dry == real, "{d:?}");
            }
        }
    }

    #[test]
    fn box_items_classify_by_kind_then_content() {
        let of = |k, s: Option<&str>, c| AtName::of(Some((k, s)), "aaa", c);
        assert_eq!(AtName::of(None, "aaa", true), AtName::Absent);
        assert_eq!(of(ItemKind::File, Some("aaa"), true), AtName::Same);
        assert_eq!(
            of(ItemKind::File, Some("bbb"), true),
            AtName::Different {
                changed_in_box: true
            }
        );
        assert_eq!(
            of(ItemKind::File, None, false),
            AtName::Different {
                changed_in_box: false
            }
        );
        assert_eq!(of(ItemKind::Folder, None, false), AtName::NotAFile);
        assert_eq!(of(ItemKind::WebLink, None, false), AtName::NotAFile);
        assert_eq!(Refusal::ChangedInBox.code(), "conflict_changed_in_box");
        assert_eq!(Refusal::NotAFile.code(), "item_name_in_use");
    }
}
