//! Box's validation rules (names, sizes, part layout, digests), in one place so every route
//! rejects the same things the same way real Box does.
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use sha1::{Digest, Sha1};

use super::error::{ApiError, ApiResult};

/// Largest direct (multipart) upload Box accepts: 50 MB (developer.box.com, "Direct uploads
/// are limited to a maximum file size of 50MB"); read as 50 MiB so a 50 MB file always fits.
pub(crate) const DIRECT_UPLOAD_MAX: u64 = 50 * 1024 * 1024;

/// Smallest file an upload session accepts (Box: 400 `file_size_too_small` below 20,000,000).
pub(crate) const SESSION_MIN: u64 = 20_000_000;

/// Box's usual part size: 8 MiB (developer.box.com guide "Upload Part" splits with
/// `split -b 8388608`; box-api.md: "8,388,608 bytes is what clients usually see").
pub(crate) const BASE_PART_SIZE: u64 = 8 * 1024 * 1024;

/// Most parts a session may have before Box moves to larger parts. Box does not publish its
/// table; 10,000 parts keeps 8 MiB parts up to ~80 GiB and doubles beyond (16, 32 MiB ...),
/// which matches "larger files get larger parts" (box-api.md) and bounds the part count.
pub(crate) const MAX_PARTS: u64 = 10_000;

/// `part_size` for a session of `file_size` bytes: 8 MiB, doubled until the parts fit in
/// [`MAX_PARTS`].
pub(crate) fn part_size_for(file_size: u64) -> u64 {
    let mut size = BASE_PART_SIZE;
    while file_size.div_ceil(size) > MAX_PARTS {
        size *= 2;
    }
    size
}

/// Box's name rules, in Box's words (box/box-openapi, `name` of `POST /folders`, of the
/// `attributes` of `POST /files/content`, of `PUT /files/{id}`): "Names containing
/// non-printable ASCII characters, forward and backward slashes (`/`, `\`), as well as names
/// with trailing spaces are prohibited. Additionally, the names `.` and `..` are not allowed
/// either."; and "Box only supports file or folder names that are 255 characters or less"
/// (guide "Common Errors": 400 `item_name_invalid`, 400 `item_name_too_long`). Nothing more: a
/// leading space and non-ASCII characters (U+0085, U+00A0, emoji, CJK) are accepted, as Box
/// accepts them. Length is counted in Unicode scalar values.
pub(crate) fn check_name(name: &str) -> ApiResult<()> {
    let invalid =
        |why: &str| ApiError::bad_request("item_name_invalid", format!("Item name invalid: {why}"));
    if name.is_empty() {
        return Err(invalid("empty name"));
    }
    if name.chars().count() > 255 {
        return Err(ApiError::bad_request(
            "item_name_too_long",
            "Item name too long (more than 255 characters)",
        ));
    }
    if name.contains('/') || name.contains('\\') {
        return Err(invalid("contains '/' or '\\'"));
    }
    if name == "." || name == ".." {
        return Err(invalid("'.' and '..' are reserved"));
    }
    if name.ends_with(' ') {
        return Err(invalid("trailing space"));
    }
    if name.chars().any(|c| c.is_ascii_control()) {
        return Err(invalid("non-printable ASCII character"));
    }
    Ok(())
}

/// The key names are compared by: Box treats names case-insensitively per folder.
pub(crate) fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// SHA-1 of `data` as raw bytes.
pub(crate) fn sha1_raw(data: &[u8]) -> [u8; 20] {
    let digest = Sha1::digest(data);
    let mut out = [0u8; 20];
    out.copy_from_slice(&digest);
    out
}

/// SHA-1 of a body, off the async executor when the body is large enough to matter.
pub(crate) async fn sha1_of(data: bytes::Bytes) -> ApiResult<[u8; 20]> {
    if data.len() < 256 * 1024 {
        return Ok(sha1_raw(&data));
    }
    tokio::task::spawn_blocking(move || sha1_raw(&data))
        .await
        .map_err(|e| ApiError::internal(format!("hashing task failed: {e}")))
}

/// Parse a `digest: sha=<base64 SHA-1>` header (upload part and commit).
pub(crate) fn parse_digest(headers: &HeaderMap) -> ApiResult<[u8; 20]> {
    let raw = headers
        .get("digest")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::bad_request("missing_digest", "The digest header is missing"))?;
    let b64 = raw
        .split(',')
        .find_map(|p| {
            let p = p.trim();
            p.get(..4)
                .filter(|k| k.eq_ignore_ascii_case("sha="))
                .map(|_| &p[4..])
        })
        .ok_or_else(|| {
            ApiError::bad_request("invalid_digest", "The digest header must be sha=<base64>")
        })?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| ApiError::bad_request("invalid_digest", "The digest is not base64"))?;
    <[u8; 20]>::try_from(bytes.as_slice())
        .map_err(|_| ApiError::bad_request("invalid_digest", "The digest is not a SHA-1"))
}

/// The error for a body whose SHA-1 is not the one the client announced.
pub(crate) fn bad_digest() -> ApiError {
    ApiError::bad_request(
        "bad_digest",
        "The specified digest did not match what we received",
    )
}

/// `content-range: bytes <first>-<last>/<total>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ContentRange {
    pub first: u64,
    pub last: u64,
    pub total: u64,
}

/// Parse a part's `content-range` header.
pub(crate) fn parse_content_range(headers: &HeaderMap) -> ApiResult<ContentRange> {
    let bad = || {
        ApiError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "requested_range_not_satisfiable",
            "The content-range header is missing or invalid",
        )
    };
    let raw = headers
        .get("content-range")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(bad)?;
    let rest = raw.trim().strip_prefix("bytes ").ok_or_else(bad)?;
    let (range, total) = rest.split_once('/').ok_or_else(bad)?;
    let (first, last) = range.split_once('-').ok_or_else(bad)?;
    let parse = |s: &str| s.trim().parse::<u64>().map_err(|_| bad());
    let cr = ContentRange {
        first: parse(first)?,
        last: parse(last)?,
        total: parse(total)?,
    };
    if cr.last < cr.first {
        return Err(bad());
    }
    Ok(cr)
}

/// Check a part's range against the session layout: aligned, exactly `part_size` except the
/// last, inside the file.
pub(crate) fn check_part_layout(cr: ContentRange, file_size: u64, part_size: u64) -> ApiResult<()> {
    let size = cr.last - cr.first + 1;
    let unsatisfiable = |why: &str| {
        ApiError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "requested_range_not_satisfiable",
            format!("The content range does not match the session: {why}"),
        )
    };
    if cr.total != file_size {
        return Err(unsatisfiable("total differs from the session's file_size"));
    }
    if cr.last >= file_size {
        return Err(unsatisfiable("range ends past the end of the file"));
    }
    if !cr.first.is_multiple_of(part_size) {
        return Err(unsatisfiable("first byte is not a multiple of part_size"));
    }
    let is_last = cr.last + 1 == file_size;
    if size != part_size && !(is_last && size < part_size) {
        return Err(unsatisfiable("part is not part_size bytes long"));
    }
    Ok(())
}

/// RFC 3339 timestamp as Box writes them (seconds, numeric offset).
pub(crate) fn box_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

/// Now, as Box writes it.
pub(crate) fn now_text() -> String {
    box_time(chrono::Utc::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_size_grows_for_huge_files() {
        assert_eq!(part_size_for(20_000_000), 8_388_608);
        assert_eq!(part_size_for(8_388_608 * 10_000), 8_388_608);
        assert_eq!(part_size_for(8_388_608 * 10_000 + 1), 16_777_216);
    }

    #[test]
    fn names_follow_box_rules() {
        assert!(check_name("ok.txt").is_ok());
        for bad in ["", ".", "..", "a/b", "a\\b", "a ", "a\u{7}b", "a\u{7f}"] {
            assert_eq!(
                check_name(bad).unwrap_err().code,
                "item_name_invalid",
                "{bad:?}"
            );
        }
        assert_eq!(
            check_name(&"x".repeat(256)).unwrap_err().code,
            "item_name_too_long"
        );
        assert!(check_name(&"é".repeat(255)).is_ok());
        for good in [" a", "...", "a\u{85}b", "a\u{a0}", "🎉", "中文"] {
            assert!(check_name(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn layout_rejects_misaligned_parts() {
        let ps = 10;
        let cr = |first, last| ContentRange {
            first,
            last,
            total: 25,
        };
        assert!(check_part_layout(cr(0, 9), 25, ps).is_ok());
        assert!(check_part_layout(cr(20, 24), 25, ps).is_ok());
        assert!(check_part_layout(cr(5, 14), 25, ps).is_err());
        assert!(check_part_layout(cr(10, 18), 25, ps).is_err());
        assert!(check_part_layout(cr(20, 25), 25, ps).is_err());
    }
}
