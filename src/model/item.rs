//! `ItemKind`: what kind of item Box holds at a name. Box's `type` field says `file`, `folder`
//! or `web_link` (Box's OpenAPI: the `type` of `File`, `Folder` and `WebLink`); stages compare
//! this enum, and only messages print its word.
use std::fmt;

/// The kind of a Box item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemKind {
    /// A file.
    File,
    /// A folder.
    Folder,
    /// A web link (a bookmark): takes a name in its folder like a file does.
    WebLink,
}

impl ItemKind {
    /// The kind Box's `type` word names (`None` for other types: `error`, `file_version`...).
    pub fn from_box_type(word: &str) -> Option<ItemKind> {
        [ItemKind::File, ItemKind::Folder, ItemKind::WebLink]
            .into_iter()
            .find(|k| k.as_str() == word)
    }

    /// Box's `type` word.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::File => "file",
            ItemKind::Folder => "folder",
            ItemKind::WebLink => "web_link",
        }
    }
}

impl fmt::Display for ItemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_type_words_round_trip() {
        for k in [ItemKind::File, ItemKind::Folder, ItemKind::WebLink] {
            assert_eq!(ItemKind::from_box_type(k.as_str()), Some(k));
        }
        assert_eq!(ItemKind::from_box_type("error"), None);
    }
}
