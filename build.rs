//! Build script: puts the git commit the binary is built from into `BOXLIFT_GIT_COMMIT`, for
//! `boxlift --version`. Without git or outside a checkout (a source tarball, a Docker context
//! without `.git`) it says "unknown", unless `BOXLIFT_GIT_COMMIT` is set in the build's
//! environment (a CI or image build that knows the commit).
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=BOXLIFT_GIT_COMMIT");
    let commit = match std::env::var("BOXLIFT_GIT_COMMIT") {
        Ok(c) if !c.trim().is_empty() => c.trim().to_string(),
        _ => git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into()),
    };
    // Rebuild when HEAD moves: HEAD itself (a checkout), the branch's ref (a commit) and
    // packed-refs (after `git gc`). `--git-path` resolves them for worktrees too.
    if let Some(head) = git(&["rev-parse", "--git-path", "HEAD"]) {
        println!("cargo:rerun-if-changed={head}");
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"])
            && let Some(r) = git(&["rev-parse", "--git-path", &branch])
        {
            println!("cargo:rerun-if-changed={r}");
        }
        if let Some(packed) = git(&["rev-parse", "--git-path", "packed-refs"]) {
            println!("cargo:rerun-if-changed={packed}");
        }
    }
    println!("cargo:rustc-env=BOXLIFT_GIT_COMMIT={commit}");
}
