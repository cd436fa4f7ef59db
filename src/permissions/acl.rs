//! POSIX access ACLs as Linux stores them in the `system.posix_acl_access` extended attribute
//! (read with the `xattr` crate), and the bits each principal gets from mode + ACL.
//!
//! The attribute's layout (Linux `include/uapi/linux/posix_acl_xattr.h`), little-endian: a
//! 4-byte header `version` (2), then 8-byte entries `{ tag: u16, perm: u16, id: u32 }`. Tags:
//! `USER_OBJ` 0x01, `USER` 0x02 (id = uid), `GROUP_OBJ` 0x04, `GROUP` 0x08 (id = gid), `MASK`
//! 0x10, `OTHER` 0x20. Named users, named groups and the owning group get `perm & mask`.
//! Default ACLs (`system.posix_acl_default`) only shape new files: not read.
use std::path::Path;

/// The attribute's name.
pub const ACCESS_XATTR: &str = "system.posix_acl_access";

/// An ACL attribute constant (see the module doc).
pub const VERSION: u32 = 2;
/// An ACL attribute constant (see the module doc).
pub const USER_OBJ: u16 = 0x01;
/// An ACL attribute constant (see the module doc).
pub const USER: u16 = 0x02;
/// An ACL attribute constant (see the module doc).
pub const GROUP_OBJ: u16 = 0x04;
/// An ACL attribute constant (see the module doc).
pub const GROUP: u16 = 0x08;
/// An ACL attribute constant (see the module doc).
pub const MASK: u16 = 0x10;
/// An ACL attribute constant (see the module doc).
pub const OTHER: u16 = 0x20;

/// Who a bit set is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Principal {
    /// A local user (uid).
    User(u32),
    /// A local group (gid).
    Group(u32),
}

/// A directory's effective access: per principal (owner, owning group, named ACL entries,
/// masked) and for "other".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    /// `rwx` bits per principal, in entry order (owner first).
    pub entries: Vec<(Principal, u8)>,
    /// The "other" bits.
    pub other: u8,
}

/// The ACL attribute is not what Linux writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{ACCESS_XATTR}: {0}")]
pub struct AclError(pub String);

/// The effective access of a directory with owner `uid`, group `gid` and `mode`, given its
/// access ACL attribute if it has one.
pub fn access(uid: u32, gid: u32, mode: u32, acl: Option<&[u8]>) -> Result<Access, AclError> {
    let bits = |shift: u32| ((mode >> shift) & 7) as u8;
    let Some(raw) = acl else {
        return Ok(Access {
            entries: vec![
                (Principal::User(uid), bits(6)),
                (Principal::Group(gid), bits(3)),
            ],
            other: bits(0),
        });
    };
    let parsed = parse(raw)?;
    let mask = parsed
        .iter()
        .find(|e| e.0 == MASK)
        .map(|e| e.1)
        .unwrap_or(7);
    let mut out = Access::default();
    for (tag, perm, id) in parsed {
        match tag {
            USER_OBJ => out.entries.push((Principal::User(uid), perm)),
            USER => out.entries.push((Principal::User(id), perm & mask)),
            GROUP_OBJ => out.entries.push((Principal::Group(gid), perm & mask)),
            GROUP => out.entries.push((Principal::Group(id), perm & mask)),
            OTHER => out.other = perm,
            _ => {}
        }
    }
    Ok(out)
}

/// The entries `(tag, perm, id)` of an attribute value.
pub fn parse(raw: &[u8]) -> Result<Vec<(u16, u8, u32)>, AclError> {
    if raw.len() < 4 || !(raw.len() - 4).is_multiple_of(8) {
        return Err(AclError(format!(
            "{} bytes: not a 4-byte header and 8-byte entries",
            raw.len()
        )));
    }
    let version = u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
    if version != VERSION {
        return Err(AclError(format!("version {version}, expected {VERSION}")));
    }
    let mut out = Vec::new();
    for e in raw[4..].chunks_exact(8) {
        let tag = u16::from_le_bytes([e[0], e[1]]);
        let perm = u16::from_le_bytes([e[2], e[3]]);
        let id = u32::from_le_bytes([e[4], e[5], e[6], e[7]]);
        if ![USER_OBJ, USER, GROUP_OBJ, GROUP, MASK, OTHER].contains(&tag) {
            return Err(AclError(format!("unknown entry tag {tag:#x}")));
        }
        out.push((tag, (perm & 7) as u8, id));
    }
    Ok(out)
}

/// Encode entries `(tag, perm, id)` as the attribute value (tests, and documentation of the
/// layout): the inverse of [`parse`].
pub fn encode(entries: &[(u16, u8, u32)]) -> Vec<u8> {
    let mut out = VERSION.to_le_bytes().to_vec();
    for &(tag, perm, id) in entries {
        out.extend(tag.to_le_bytes());
        out.extend(u16::from(perm).to_le_bytes());
        out.extend(id.to_le_bytes());
    }
    out
}

/// The access ACL attribute of `path`, if it has one (`None` too where the file system has no
/// extended attributes).
pub fn read(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    match xattr::get(path, ACCESS_XATTR) {
        Ok(v) => Ok(v),
        Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_alone_gives_owner_group_other() {
        let a = access(1001, 2001, 0o750, None).unwrap();
        assert_eq!(
            a.entries,
            vec![(Principal::User(1001), 7), (Principal::Group(2001), 5)]
        );
        assert_eq!(a.other, 0);
    }

    #[test]
    fn named_entries_are_masked() {
        let raw = encode(&[
            (USER_OBJ, 7, u32::MAX),
            (USER, 7, 1002),
            (GROUP_OBJ, 5, u32::MAX),
            (GROUP, 7, 3001),
            (MASK, 5, u32::MAX),
            (OTHER, 0, u32::MAX),
        ]);
        let a = access(1001, 2001, 0o750, Some(&raw)).unwrap();
        assert_eq!(
            a.entries,
            vec![
                (Principal::User(1001), 7),
                (Principal::User(1002), 5),
                (Principal::Group(2001), 5),
                (Principal::Group(3001), 5),
            ]
        );
    }

    #[test]
    fn a_bad_attribute_is_an_error_not_a_panic() {
        assert!(parse(&[2, 0, 0]).is_err());
        assert!(parse(&[1, 0, 0, 0]).is_err());
        assert!(parse(&encode(&[(0x40, 7, 0)])).is_err());
        assert_eq!(parse(&encode(&[])).unwrap(), vec![]);
    }
}
