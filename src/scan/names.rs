//! Box's name rules, checked offline so a migration never learns them one 400 at a time:
//! at most 255 characters, no `/` or `\`, not `.` or `..`, no leading or trailing space, no
//! unprintable characters, and unique per folder case-insensitively (see box-api.md, Names).
use std::collections::HashMap;

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
    /// Starts with a space.
    #[error("name starts with a space")]
    LeadingSpace,
    /// Ends with a space.
    #[error("name ends with a space")]
    TrailingSpace,
    /// Contains a control character.
    #[error("name contains the unprintable character U+{:04X}", *.0 as u32)]
    Unprintable(char),
}

impl NameProblem {
    /// The manifest reason (`invalid:<reason>`).
    pub fn reason(&self) -> &'static str {
        match self {
            NameProblem::Empty => "name_empty",
            NameProblem::TooLong { .. } => "name_too_long",
            NameProblem::Separator(_) => "name_has_slash",
            NameProblem::Dot(_) => "name_dot",
            NameProblem::LeadingSpace => "name_leading_space",
            NameProblem::TrailingSpace => "name_trailing_space",
            NameProblem::Unprintable(_) => "name_unprintable",
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
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(NameProblem::Unprintable(c));
    }
    if let Some(c) = name.chars().find(|&c| c == '/' || c == '\\') {
        return Err(NameProblem::Separator(c));
    }
    if name.starts_with(' ') {
        return Err(NameProblem::LeadingSpace);
    }
    if name.ends_with(' ') {
        return Err(NameProblem::TrailingSpace);
    }
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

    #[test]
    fn box_name_rules() {
        assert_eq!(check_box_name("report.pdf"), Ok(()));
        assert_eq!(check_box_name("naïve café.txt"), Ok(()));
        assert_eq!(check_box_name(&"é".repeat(255)), Ok(()));
        assert_eq!(
            check_box_name(&"é".repeat(256)),
            Err(NameProblem::TooLong { chars: 256 })
        );
        assert_eq!(check_box_name("a\\b"), Err(NameProblem::Separator('\\')));
        assert_eq!(check_box_name("a/b"), Err(NameProblem::Separator('/')));
        assert_eq!(check_box_name("."), Err(NameProblem::Dot(".")));
        assert_eq!(check_box_name(".."), Err(NameProblem::Dot("..")));
        assert_eq!(check_box_name("..."), Ok(()));
        assert_eq!(check_box_name(" a"), Err(NameProblem::LeadingSpace));
        assert_eq!(check_box_name("a "), Err(NameProblem::TrailingSpace));
        assert_eq!(check_box_name("a\tb"), Err(NameProblem::Unprintable('\t')));
        assert_eq!(
            check_box_name("a\u{7f}"),
            Err(NameProblem::Unprintable('\u{7f}'))
        );
        assert_eq!(check_box_name(""), Err(NameProblem::Empty));
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
