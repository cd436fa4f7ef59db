//! The crate's one memory map, with its contract written down (after ripgrep's `mmap.rs`).
use std::fs::File;
use std::io;

use memmap2::{Advice, Mmap, MmapOptions};

/// Map `len` bytes of `file` from `offset` (a multiple of the page size) read-only, advised for
/// sequential reading.
///
/// Contract: the map is only read, and only while `file` is open. If another process truncates
/// the file while it is mapped, touching a page past the new end raises SIGBUS and kills the
/// process; ripgrep accepts the same risk for the same speed. boxlift narrows it by mapping only
/// files of at least [`super::MMAP_THRESHOLD`] and re-stating every file after hashing, so a file
/// that merely grows or is rewritten in place becomes a `changed_while_hashing` row.
pub(super) fn map_for_read(file: &File, offset: u64, len: u64) -> io::Result<Mmap> {
    let len = usize::try_from(len).map_err(|_| io::Error::other("file too large to map"))?;
    // SAFETY: see the contract above: read-only use, `file` outlives the map in every caller
    // (`hash_open` drops the map before returning), and a concurrent truncation is the
    // documented SIGBUS risk, not undefined behaviour we rely on.
    let map = unsafe { MmapOptions::new().offset(offset).len(len).map(file)? };
    // Only a hint: failure changes speed, not results.
    let _ = map.advise(Advice::Sequential);
    Ok(map)
}
