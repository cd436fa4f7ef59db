//! The sync half of planning, run on the scan thread: each manifest row becomes `Work`. Rows the
//! journal says are done (same size and SHA-1) are reported `skipped_done` here, without any
//! Box call; invalid and skipped rows are reported as the scan judged them.
use std::path::{Path, PathBuf};

use super::kind::UploadKind;
use super::work::{FileTask, Work};
use crate::manifest::{Kind, ManifestRow, Status};
use crate::model::{Action, ReportRow};
use crate::state::{StateError, StateReader};

/// Turns manifest rows into work.
#[derive(Debug)]
pub struct Planner {
    root: PathBuf,
    state: Option<StateReader>,
    /// Files above this many bytes use an upload session.
    chunk_cutoff: u64,
    last_folder: Option<(String, Option<String>)>,
}

impl Planner {
    /// A planner for the tree at `root`.
    pub fn new(root: &Path, state: Option<StateReader>, chunk_cutoff: u64) -> Self {
        Planner {
            root: root.to_path_buf(),
            state,
            chunk_cutoff,
            last_folder: None,
        }
    }

    fn folder_of(&mut self, dir: &str) -> Result<Option<String>, StateError> {
        if let Some((d, id)) = &self.last_folder
            && d == dir
        {
            return Ok(id.clone());
        }
        let id = match &self.state {
            Some(s) => s.folder(dir)?,
            None => None,
        };
        self.last_folder = Some((dir.to_string(), id.clone()));
        Ok(id)
    }

    /// Plan one row. Problem rows are reported as the scan judged them; the rest become work.
    pub fn plan(&mut self, r: ManifestRow) -> Result<Work, StateError> {
        let problem = match r.status {
            Status::Ok => None,
            Status::Skipped(reason) => Some((Action::Skipped, reason.as_str())),
            Status::Invalid(reason) => Some((Action::Invalid, reason.as_str())),
        };
        if let Some((action, reason)) = problem {
            let row = ReportRow::new(&r.path, r.kind, r.size, &r.sha1)
                .with(action)
                .with_error(reason, r.detail);
            return Ok(Work::Done(row));
        }
        if r.kind == Kind::Dir {
            let known = self.folder_of(&r.path)?;
            return Ok(Work::Dir {
                path: r.path,
                known,
            });
        }
        let prior = match &self.state {
            Some(s) => s.done(&r.path)?,
            None => None,
        };
        if let Some(p) = &prior
            && p.size == r.size
            && p.sha1 == r.sha1
        {
            let mut row =
                ReportRow::new(&r.path, r.kind, r.size, &r.sha1).with(Action::SkippedDone);
            row.box_file_id = p.box_file_id.clone();
            row.box_file_version_id = p.box_file_version_id.clone();
            row.box_folder_id = p.box_folder_id.clone();
            row.box_sha1 = p.box_sha1.clone();
            row.as_user = p.as_user.clone();
            row.mtime = r.mtime;
            return Ok(Work::Done(row));
        }
        // A journalled session resumes if it carries this very content; otherwise the file
        // changed since it was opened, and the task aborts it (no session is left open).
        // Either way the session belongs to the identity that opened it: the file is sent as
        // that user (resume and abort need the owner); any other file takes whichever identity
        // is least busy when it starts (`BoxClient::lease`), so no identity's budget idles.
        let (resume_session, stale_session, as_user) = match &self.state {
            Some(s) => match s.session(&r.path)? {
                Some(s) if s.size == r.size && s.sha1 == r.sha1 => {
                    (Some(s.session_id), None, owner(s.as_user))
                }
                Some(s) => (None, Some(s.session_id), owner(s.as_user)),
                None => (None, None, None),
            },
            None => (None, None, None),
        };
        let parent = r.path.rsplit_once('/').map_or("", |(p, _)| p).to_string();
        let folder_hint = if parent.is_empty() {
            None
        } else {
            self.folder_of(&parent)?
        };
        let abs = r
            .path
            .split('/')
            .fold(self.root.clone(), |p, part| p.join(part));
        Ok(Work::File(Box::new(FileTask {
            upload: UploadKind::for_size(r.size, self.chunk_cutoff),
            abs,
            size: r.size,
            sha1: r.sha1,
            modified: r.mtime,
            prior,
            resume_session,
            stale_session,
            folder_hint,
            as_user,
            parts_done: Default::default(),
            path: r.path,
        })))
    }
}

/// The journal's "" is the service account (no `As-User`).
fn owner(as_user: String) -> Option<String> {
    (!as_user.is_empty()).then_some(as_user)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Kind;
    use crate::model::Event;
    use crate::state::open_writer;

    fn row(path: &str, size: u64, sha1: &str, status: &str) -> ManifestRow {
        ManifestRow {
            path: path.into(),
            kind: Kind::File,
            size,
            mtime: Default::default(),
            sha1: sha1.into(),
            status: status.parse().unwrap(),
            detail: "why".into(),
        }
    }

    /// A journalled session belongs to the user that opened it: the file (resumed, or with a
    /// stale session to abort) is sent as that user; other files pick an identity later.
    #[test]
    fn a_journalled_session_keeps_its_owner() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = open_writer(dir.path(), "0").unwrap();
        for (path, user) in [("big.bin", "13"), ("old.bin", "12"), ("sa.bin", "")] {
            w.apply(&Event::SessionOpened(crate::model::SessionRecord {
                path: path.into(),
                session_id: format!("S-{path}"),
                size: 500,
                sha1: "aaa".into(),
                as_user: user.into(),
            }))
            .unwrap();
        }
        w.commit().unwrap();
        let r = crate::state::open_reader(dir.path(), "0").unwrap();
        let mut p = Planner::new(Path::new("/src"), r, 100);
        let task = |p: &mut Planner, path: &str, sha1: &str| match p
            .plan(row(path, 500, sha1, "ok"))
            .unwrap()
        {
            Work::File(t) => t,
            other => panic!("{other:?}"),
        };
        let t = task(&mut p, "big.bin", "aaa");
        assert_eq!(t.resume_session.as_deref(), Some("S-big.bin"));
        assert_eq!(t.as_user.as_deref(), Some("13"));
        let t = task(&mut p, "old.bin", "changed");
        assert_eq!(t.stale_session.as_deref(), Some("S-old.bin"));
        assert_eq!(t.as_user.as_deref(), Some("12"));
        // Opened as the service account: no As-User, and no fixed identity either.
        let t = task(&mut p, "sa.bin", "aaa");
        assert_eq!(t.resume_session.as_deref(), Some("S-sa.bin"));
        assert_eq!(t.as_user, None);
    }

    #[test]
    fn done_files_are_skipped_changed_ones_carry_their_prior() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = open_writer(dir.path(), "0").unwrap();
        let mut done = ReportRow::new("d/a.txt", Kind::File, 3, "aaa").with(Action::Uploaded);
        done.box_file_id = "11".into();
        w.apply(&Event::FileDone(done)).unwrap();
        w.apply(&Event::FolderResolved {
            path: "d".into(),
            folder_id: "5".into(),
        })
        .unwrap();
        w.commit().unwrap();
        let r = crate::state::open_reader(dir.path(), "0").unwrap();
        let mut p = Planner::new(Path::new("/src"), r, 100);
        match p.plan(row("d/a.txt", 3, "aaa", "ok")).unwrap() {
            Work::Done(r) => {
                assert_eq!(r.action(), Action::SkippedDone);
                assert_eq!(r.box_file_id, "11");
            }
            other => panic!("{other:?}"),
        }
        match p.plan(row("d/a.txt", 4, "bbb", "ok")).unwrap() {
            Work::File(t) => {
                assert_eq!(t.prior.as_ref().unwrap().box_file_id, "11");
                assert_eq!(t.folder_hint.as_deref(), Some("5"));
                assert_eq!(t.abs, Path::new("/src/d/a.txt"));
                assert_eq!(t.upload, UploadKind::Direct);
            }
            other => panic!("{other:?}"),
        }
        match p.plan(row("big", 101, "ccc", "ok")).unwrap() {
            Work::File(t) => {
                assert!(t.upload.is_chunked() && t.prior.is_none() && t.as_user.is_none())
            }
            other => panic!("{other:?}"),
        }
        match p
            .plan(row("bad\\name", 1, "", "invalid:name_has_slash"))
            .unwrap()
        {
            Work::Done(r) => {
                assert_eq!(r.action(), Action::Invalid);
                assert_eq!(
                    (r.error_code.as_str(), r.error_message.as_str()),
                    ("name_has_slash", "why")
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
