//! How Box compares names: case-insensitively within a folder. One folding function for the
//! whole client side (scan collisions, plan, listings, folder cache, verify), so a name that
//! collides in one place collides in all. The emulator keeps its own copy on purpose (it shares
//! only JSON shapes with the client, so a client bug cannot hide an emulator bug).

/// The key under which Box considers two names (or `/`-joined paths of names) the same.
///
/// Box does not publish its folding; we use Unicode lowercase with no normalisation, as the
/// emulator does. Folding a path folds each name, since `/` has no case.
pub fn box_name_key(name: &str) -> String {
    name.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fold_as_box_compares_them() {
        // (a, b, same in Box)
        let table = [
            ("Report.PDF", "report.pdf", true),
            ("a/B/c.txt", "A/b/C.TXT", true),
            ("ÉTÉ.doc", "été.doc", true),
            ("ΣΟΦΙΑ", "σοφια", true),
            ("naïve", "naive", false),
            // Lowercase, not full case folding: ß and "ss" stay different names.
            ("Straße", "STRASSE", false),
            // No Unicode normalisation: precomposed é and e + combining accent differ.
            ("caf\u{e9}", "cafe\u{301}", false),
            ("a b", "a  b", false),
            ("", "", true),
        ];
        for (a, b, same) in table {
            assert_eq!(box_name_key(a) == box_name_key(b), same, "{a:?} vs {b:?}");
        }
        assert_eq!(box_name_key("Docs/ReadMe.TXT"), "docs/readme.txt");
    }
}
