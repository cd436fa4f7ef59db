//! `ManifestRow`: one line of a manifest, with its status vocabulary (`ok`, `skipped:<reason>`,
//! `invalid:<reason>`) typed so readers never parse strings by hand.
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The manifest's header row, in column order.
pub const HEADER: [&str; 7] = ["path", "kind", "size", "mtime", "sha1", "status", "detail"];

/// What a row describes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A regular file (or, for problem rows, anything that is not a directory).
    #[default]
    File,
    /// A directory; empty ones are rows too so a migration recreates them.
    Dir,
}

impl Kind {
    /// The manifest spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::File => "file",
            Kind::Dir => "dir",
        }
    }
}

/// A reason enum with its manifest word (`as_str`, `Display`, `FromStr`).
macro_rules! reasons {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $v:ident => $word:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vdoc])* $v,)+
        }

        impl $name {
            /// Every reason.
            pub const ALL: &[$name] = &[$($name::$v,)+];

            /// The manifest's word (also the report's `error_code`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$v => $word,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                $name::ALL.iter().copied().find(|r| r.as_str() == s).ok_or(())
            }
        }
    };
}

reasons!(
    /// Why the scan did not read an entry (`skipped:<reason>`): boxlift chose not to, or could
    /// not.
    SkipReason {
        /// Inside a directory that is not migrated.
        Parent => "parent",
        /// A symbolic link (not followed by default).
        Symlink => "symlink",
        /// A followed link that points to one of its ancestors.
        SymlinkLoop => "symlink_loop",
        /// A followed link whose target is gone.
        BrokenSymlink => "broken_symlink",
        /// A fifo, socket or device.
        SpecialFile => "special_file",
        /// Not readable by this user.
        PermissionDenied => "permission_denied",
        /// Gone between the listing and the stat or read.
        Vanished => "vanished",
        /// Another I/O error.
        ReadError => "read_error",
        /// Modified more recently than `--min-age` allows.
        TooRecent => "too_recent",
        /// Its size or mtime changed while it was hashed: the SHA-1 is not trusted.
        ChangedWhileHashing => "changed_while_hashing",
    }
);

reasons!(
    /// Why Box would refuse an entry (`invalid:<reason>`).
    InvalidReason {
        /// An empty name.
        NameEmpty => "name_empty",
        /// Over Box's 255 characters.
        NameTooLong => "name_too_long",
        /// Contains `/` or `\`.
        NameHasSlash => "name_has_slash",
        /// `.` or `..`.
        NameDot => "name_dot",
        /// Ends with a space.
        NameTrailingSpace => "name_trailing_space",
        /// Contains a non-printable ASCII character.
        NameUnprintable => "name_unprintable",
        /// Not valid UTF-8.
        NameNotUtf8 => "name_not_utf8",
        /// The same name in Box as a sibling (Box names are case-insensitive).
        NameCollision => "name_collision",
        /// Bigger than the account's maximum file size.
        TooLarge => "too_large",
    }
);

/// Whether a row can be migrated, and if not, why.
///
/// `Skipped` is for things boxlift chose not to read or could not read (symlinks, devices,
/// permission denied); `Invalid` is for things Box would refuse (names, sizes, collisions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Ready to migrate.
    Ok,
    /// Not migrated: a local condition (`skipped:<reason>`).
    Skipped(SkipReason),
    /// Not migrated: Box would reject it (`invalid:<reason>`).
    Invalid(InvalidReason),
}

impl Status {
    /// True for `ok`.
    pub fn is_ok(&self) -> bool {
        matches!(self, Status::Ok)
    }

    /// The reason word of a row that is not `ok` (the report's `error_code`).
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            Status::Ok => None,
            Status::Skipped(r) => Some(r.as_str()),
            Status::Invalid(r) => Some(r.as_str()),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::Ok => f.write_str("ok"),
            Status::Skipped(r) => write!(f, "skipped:{r}"),
            Status::Invalid(r) => write!(f, "invalid:{r}"),
        }
    }
}

/// A status cell that is neither `ok` nor `skipped:<reason>` / `invalid:<reason>` with a
/// reason this boxlift knows.
#[derive(Debug, thiserror::Error)]
#[error(
    "unknown manifest status {0:?} (expected ok, skipped:<reason> or invalid:<reason> with a known reason)"
)]
pub struct BadStatus(pub String);

impl FromStr for Status {
    type Err = BadStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "ok" {
            return Ok(Status::Ok);
        }
        let bad = || BadStatus(s.to_string());
        match s.split_once(':') {
            Some(("skipped", r)) => r.parse().map(Status::Skipped).map_err(|()| bad()),
            Some(("invalid", r)) => r.parse().map(Status::Invalid).map_err(|()| bad()),
            _ => Err(bad()),
        }
    }
}

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One manifest row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestRow {
    /// Path relative to the scanned root, `/`-separated, UTF-8 (lossy for non-UTF-8 names,
    /// which are `invalid:name_not_utf8` and carry the raw name in `detail`).
    pub path: String,
    /// File or directory.
    pub kind: Kind,
    /// Size in bytes (0 for directories).
    pub size: u64,
    /// Modification time (`None` when unknown). Typed until the writer formats it: RFC 3339,
    /// UTC, nanoseconds (see [`format_mtime`]); an empty cell when unknown.
    #[serde(with = "mtime_cell")]
    pub mtime: Option<DateTime<Utc>>,
    /// SHA-1 of the content, lowercase hex; empty for directories, problems and `--no-hash`.
    pub sha1: String,
    /// `ok`, `skipped:<reason>` or `invalid:<reason>`.
    pub status: Status,
    /// Human-readable detail for problems (the error, the colliding name, the link target).
    pub detail: String,
}

impl ManifestRow {
    /// The final path component (the Box item name).
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// The parent path (`""` for top-level items).
    pub fn parent(&self) -> &str {
        self.path.rsplit_once('/').map(|(p, _)| p).unwrap_or("")
    }
}

/// A modification time from a stat's seconds and nanoseconds (`None` if out of chrono's range).
pub fn mtime_from(secs: i64, nanos: u32) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(secs, nanos)
}

/// The manifest's mtime cell: the formatted time, or empty when unknown.
pub fn mtime_cell(t: Option<&DateTime<Utc>>) -> String {
    t.map_or_else(String::new, |t| {
        format_mtime(t.timestamp(), t.timestamp_subsec_nanos())
    })
}

/// The `mtime` column through serde: [`format_mtime`] out, RFC 3339 in, empty for `None`.
mod mtime_cell {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        t: &Option<DateTime<Utc>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::mtime_cell(t.as_ref()))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        let s = String::deserialize(d)?;
        if s.is_empty() {
            return Ok(None);
        }
        DateTime::parse_from_rfc3339(&s)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|e| serde::de::Error::custom(format!("mtime {s:?}: {e}")))
    }
}

/// Format a modification time as the manifest writes it: RFC 3339, UTC, nanoseconds.
///
/// Hand-rolled for years 0000–9999 (one `format!` per row; chrono's general formatter showed up
/// in scan profiles), chrono beyond that.
pub fn format_mtime(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    if (0..=9999).contains(&y) && nanos < 1_000_000_000 {
        return format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
            sod / 3600,
            sod % 3600 / 60,
            sod % 60
        );
    }
    match chrono::DateTime::from_timestamp(secs, nanos) {
        Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        None => String::new(),
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips_and_rejects_junk() {
        for s in ["ok", "skipped:symlink", "invalid:name_too_long"] {
            assert_eq!(s.parse::<Status>().unwrap().to_string(), s);
        }
        assert!("skipped:".parse::<Status>().is_err());
        assert!("skipped:bored".parse::<Status>().is_err());
        for r in SkipReason::ALL {
            let s = Status::Skipped(*r).to_string();
            assert_eq!(s.parse::<Status>().unwrap(), Status::Skipped(*r));
        }
        for r in InvalidReason::ALL {
            let s = Status::Invalid(*r).to_string();
            assert_eq!(s.parse::<Status>().unwrap(), Status::Invalid(*r));
        }
        assert!("fine".parse::<Status>().is_err());
    }

    #[test]
    fn mtime_has_nanoseconds_and_utc_and_agrees_with_chrono() {
        assert_eq!(format_mtime(0, 5), "1970-01-01T00:00:00.000000005Z");
        let chrono_fmt = |s, n| {
            chrono::DateTime::from_timestamp(s, n)
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
        };
        // Leap days, century rules, before 1970, far ahead.
        let mut s = -62_135_596_800i64; // 0001-01-01
        while s < 253_402_300_799 {
            assert_eq!(
                format_mtime(s, 123_456_789),
                chrono_fmt(s, 123_456_789),
                "{s}"
            );
            s += 86_400 * 37 + 3_607;
        }
        for s in [951_782_400, 951_868_799, 4_107_542_400, -1] {
            assert_eq!(format_mtime(s, 0), chrono_fmt(s, 0), "{s}");
        }
        // Past year 9999 chrono takes over.
        assert_eq!(
            format_mtime(253_402_300_800, 0),
            chrono_fmt(253_402_300_800, 0)
        );
    }

    #[test]
    fn name_and_parent() {
        let row = ManifestRow {
            path: "a/b/c.txt".into(),
            kind: Kind::File,
            size: 0,
            mtime: None,
            sha1: String::new(),
            status: Status::Ok,
            detail: String::new(),
        };
        assert_eq!(row.name(), "c.txt");
        assert_eq!(row.parent(), "a/b");
    }
}
