//! Box's name rules, checked offline so a migration never learns them one 400 at a time:
//! at most 255 characters, no `/` or `\`, not `.` or `..`, no trailing space, no non-printable
//! ASCII characters, and unique per folder case-insensitively (see box-api.md, Names).
//!
//! The rules are Box's own words, nothing more (box/box-openapi, the `name` of
//! `POST /folders` and `POST /files/content` attributes): "Names containing non-printable ASCII
//! characters, forward and backward slashes (`/`, `\`), as well as names with trailing spaces
//! are prohibited. Additionally, the names `.` and `..` are not allowed either." and "Box only
//! supports file or folder names that are 255 characters or less" (Common Errors,
//! `item_name_invalid` / `item_name_too_long`). A *leading* space is allowed (the older error
//! page also listed leading spaces; Box accepts them, as rclone's Box backend also found), and
//! non-ASCII characters, even the C1 control U+0085 or U+00A0, are not Box's to refuse.
use std::collections::HashMap;

use crate::manifest::InvalidReason;

/// Box's limit on the length of a file or folder name, in characters.
pub const MAX_NAME_CHARS: usize = 255;

/// Why Box would refuse a name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameProblem {
    /// The empty name.
    #[error("empty name")]
    Empty,
    /// Longer than [`MAX_NAME_CHARS`] characters.
    #[error("name has {chars} characters; Box allows at most {MAX_NAME_CHARS}")]
    TooLong {
        /// Its length in characters.
        chars: usize,
    },
    /// Contains `/` or `\`.
    #[error("name contains {0:?}, which Box does not allow in names")]
    Separator(char),
    /// Is `.` or `..`.
    #[error("name {0:?} is reserved")]
    Dot(&'static str),
    /// Ends with a space.
    #[error("name ends with a space")]
    TrailingSpace,
    /// Contains a non-printable ASCII character (0x00-0x1F or 0x7F).
    #[error("name contains the unprintable character U+{:04X}", *.0 as u32)]
    Unprintable(char),
}

impl NameProblem {
    /// The manifest reason (`invalid:<reason>`).
    pub fn reason(&self) -> InvalidReason {
        match self {
            NameProblem::Empty => InvalidReason::NameEmpty,
            NameProblem::TooLong { .. } => InvalidReason::NameTooLong,
            NameProblem::Separator(_) => InvalidReason::NameHasSlash,
            NameProblem::Dot(_) => InvalidReason::NameDot,
            NameProblem::TrailingSpace => InvalidReason::NameTrailingSpace,
            NameProblem::Unprintable(_) => InvalidReason::NameUnprintable,
        }
    }
}

/// Check one name against Box's rules. The first problem found is returned.
pub fn check_box_name(name: &str) -> Result<(), NameProblem> {
    match name {
        "" => return Err(NameProblem::Empty),
        "." => return Err(NameProblem::Dot(".")),
        ".." => return Err(NameProblem::Dot("..")),
        _ => {}
    }
    // Non-printable *ASCII* only: `char::is_control` would also refuse U+0080-U+009F, which
    // Box's rule does not name.
    if let Some(c) = name.chars().find(|c| c.is_ascii_control()) {
        return Err(NameProblem::Unprintable(c));
    }
    if let Some(c) = name.chars().find(|&c| c == '/' || c == '\\') {
        return Err(NameProblem::Separator(c));
    }
    if name.ends_with(' ') {
        return Err(NameProblem::TrailingSpace);
    }
    // "255 characters": counted as Unicode scalar values (what a person calls characters; Box
    // does not say it counts bytes or UTF-16 units).
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(NameProblem::TooLong { chars });
    }
    Ok(())
}

/// The key under which Box considers two names the same (defined once, in `box_api::names`).
pub use crate::box_api::names::box_name_key;

/// Case-insensitive collision detection for a depth-first walk: one sibling set per level of
/// the current path, so memory is bounded by the directories being walked, not the tree.
#[derive(Debug, Default)]
pub struct Collisions {
    /// `levels[d - 1]`: names already seen among the children of the depth-`d - 1` directory on
    /// the current path (lowercased key → name as first seen).
    levels: Vec<HashMap<String, String>>,
}

impl Collisions {
    /// Record `name` at walk depth `depth` (1 = child of the root). Returns the earlier sibling
    /// it collides with in Box, if any. Entering a depth drops the sibling sets of deeper,
    /// finished directories.
    pub fn check(&mut self, depth: usize, name: &str) -> Option<String> {
        let depth = depth.max(1);
        self.levels.truncate(depth);
        while self.levels.len() < depth {
            self.levels.push(HashMap::new());
        }
        let level = &mut self.levels[depth - 1];
        let key = box_name_key(name);
        match level.get(&key) {
            Some(first) => Some(first.clone()),
            None => {
                level.insert(key, name.to_string());
                None
            }
        }
    }

    /// Note that the walk is at `depth` without recording a name (for entries that will not be
    /// uploaded and so cannot collide), so finished sibling sets are still dropped.
    pub fn visit(&mut self, depth: usize) {
        self.levels.truncate(depth.max(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Edge names against Box's wording (see the module doc); the same table runs against the
    /// emulator over HTTP in tests/emulator/names.rs.
    #[test]
    fn box_name_rules() {
        let long255 = "a".repeat(255);
        let long256 = "a".repeat(256);
        let e255 = "é".repeat(255);
        let e256 = "é".repeat(256);
        let ok: &[&str] = &[
            "report.pdf",
            "naïve café.txt",
            " leading space.txt",
            "  two leading",
            "...",
            ".hidden",
            "a\u{85}b",
            "nbsp\u{a0}",
            "emoji 🎉.txt",
            "中文文件名.txt",
            "tab-free ~!@#$%^&*()[]{}<>:;\"'|?.txt",
            &long255,
            &e255,
        ];
        for name in ok {
            assert_eq!(check_box_name(name), Ok(()), "{name:?}");
        }
        let bad: &[(&str, NameProblem)] = &[
            ("", NameProblem::Empty),
            (".", NameProblem::Dot(".")),
            ("..", NameProblem::Dot("..")),
            ("a/b", NameProblem::Separator('/')),
            ("a\\b", NameProblem::Separator('\\')),
            ("a ", NameProblem::TrailingSpace),
            (" ", NameProblem::TrailingSpace),
            ("a\tb", NameProblem::Unprintable('\t')),
            ("a\u{0}", NameProblem::Unprintable('\u{0}')),
            ("\u{1f}x", NameProblem::Unprintable('\u{1f}')),
            ("a\nb", NameProblem::Unprintable('\n')),
            ("a\u{7f}", NameProblem::Unprintable('\u{7f}')),
            (&long256, NameProblem::TooLong { chars: 256 }),
            (&e256, NameProblem::TooLong { chars: 256 }),
        ];
        for (name, problem) in bad {
            assert_eq!(check_box_name(name).as_ref(), Err(problem), "{name:?}");
        }
        assert_eq!(
            NameProblem::Unprintable('\u{1}').to_string(),
            "name contains the unprintable character U+0001"
        );
    }

    #[test]
    fn collisions_are_per_directory() {
        let mut c = Collisions::default();
        assert_eq!(c.check(1, "Report.pdf"), None);
        assert_eq!(c.check(1, "sub"), None);
        // Inside sub: a same-named file is fine, it is another folder.
        assert_eq!(c.check(2, "report.pdf"), None);
        assert_eq!(c.check(2, "REPORT.PDF"), Some("report.pdf".into()));
        // Back at the top level: the first Report.pdf is still remembered.
        assert_eq!(c.check(1, "report.pdf"), Some("Report.pdf".into()));
        // A new subdirectory starts with a fresh sibling set.
        assert_eq!(c.check(1, "sub2"), None);
        assert_eq!(c.check(2, "report.pdf"), None);
    }
}
