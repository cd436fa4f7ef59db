//! Shared by the benches that run child processes on generated trees: sizes from the
//! environment, a child's own peak RSS (wait4), and deterministic test data.
#![allow(dead_code)]
use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::Child;

/// `name` from the environment as a number, else `default`.
pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// How a reaped child ended, with its own peak RSS.
#[derive(Debug, Clone, Copy)]
pub struct Reaped {
    /// Exit code; `None` when killed by a signal.
    pub code: Option<i32>,
    /// Peak resident set of that process alone, in bytes.
    pub rss: u64,
    /// CPU seconds it used (user + system, all its threads).
    pub cpu: f64,
}

impl Reaped {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// Wait for `child` and return how it ended, its CPU time and its own peak RSS (wait4's
/// `ru_maxrss`, KiB on Linux), not the max over all children as getrusage(RUSAGE_CHILDREN)
/// would give.
pub fn reap(child: Child) -> Reaped {
    // Reaped here with wait4 (std's `wait` would not give the rusage).
    #[allow(clippy::zombie_processes)]
    let child = child;
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to overwrite.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our unreaped child; status and ru point to live locals.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut ru) };
    assert_eq!(pid, child.id() as libc::pid_t, "wait4 failed");
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Reaped {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        rss: ru.ru_maxrss as u64 * 1024,
        cpu: tv(ru.ru_utime) + tv(ru.ru_stime),
    }
}

/// `files` files of `size` bytes under `root`, 100 per directory (`d000/f0.bin`, ...), each
/// with distinct content (its index in the first 8 bytes).
pub fn small_tree(root: &Path, files: u64, size: u64) {
    let mut body = vec![0u8; size as usize];
    for i in 0..files {
        let dir = root.join(format!("d{:03}", i / 100));
        if i % 100 == 0 {
            fs::create_dir_all(&dir).unwrap();
        }
        let n = 8.min(body.len());
        body[..n].copy_from_slice(&i.to_le_bytes()[..n]);
        fs::File::create(dir.join(format!("f{i}.bin")))
            .and_then(|mut f| f.write_all(&body))
            .unwrap();
    }
}

/// `files` files of `size` bytes of xorshift pseudo-random content (not sparse zeros, so
/// hashing and the emulator's digest checks do real work) as `root/big{i}.bin`.
pub fn big_files(root: &Path, files: u64, size: u64) {
    fs::create_dir_all(root).unwrap();
    let mut chunk = vec![0u8; 1 << 20];
    for i in 0..files {
        let mut f =
            std::io::BufWriter::new(fs::File::create(root.join(format!("big{i}.bin"))).unwrap());
        let mut s = 0x9e37_79b9_7f4a_7c15u64 ^ i;
        let mut left = size;
        while left > 0 {
            for c in chunk.chunks_mut(8) {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                c.copy_from_slice(&s.to_le_bytes()[..c.len()]);
            }
            let n = left.min(chunk.len() as u64) as usize;
            f.write_all(&chunk[..n]).unwrap();
            left -= n as u64;
        }
        f.flush().unwrap();
    }
}
