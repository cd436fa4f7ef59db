//! The README is a front door (short, with the quick start it promises) and the documentation
//! holds together: every relative link in README.md, docs/*.md and the other READMEs names a
//! file that exists and, when it has a `#fragment`, a heading of that file.
use std::path::{Path, PathBuf};

/// The README's size limit: what it is, quick start, verbs, exit codes, links; the rest is in
/// docs/.
const README_MAX_BYTES: usize = 15 * 1024;

/// The two set-up commands of the README's quick start (kept true: `migrate` runs the first,
/// CI the second).
const QUICK_START: [&str; 2] = [
    "cargo run --release -- migrate tests/fixtures/sample-tree --dest 0 --emulator",
    "cargo test",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md, every docs/*.md, and the READMEs beside the code they describe.
fn documents() -> Vec<PathBuf> {
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/ exists")
        .map(|e| e.expect("docs/ entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    for readme in [
        "README.md",
        "benches/README.md",
        "spec/README.md",
        "manifests/README.md",
    ] {
        docs.push(root().join(readme));
    }
    docs
}

/// The lines of `md` outside fenced code blocks.
fn prose(md: &str) -> impl Iterator<Item = &str> {
    let mut fenced = false;
    md.lines().filter(move |line| {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            return false;
        }
        !fenced
    })
}

/// The targets of the inline links `[text](target)` in `md`, code left out.
fn links(md: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in prose(md) {
        // Drop inline code spans: a `[x](y)` inside backticks is not a link.
        let text: String = line.split('`').step_by(2).collect::<Vec<_>>().join("");
        let mut rest = text.as_str();
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let Some(end) = after.find(')') else { break };
            out.push(after[..end].trim().to_string());
            rest = &after[end..];
        }
    }
    out
}

/// GitHub's anchor for a heading: lowercase, punctuation dropped (but `-` and `_`), spaces to
/// `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of `md`'s headings (a repeated heading gets `-1`, `-2`... as on GitHub).
fn anchors(md: &str) -> Vec<String> {
    let mut bases: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for line in prose(md) {
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if hashes == 0 || !line[hashes..].starts_with(' ') {
            continue;
        }
        let base = slug(&line[hashes..]);
        let seen = bases.iter().filter(|b| **b == base).count();
        out.push(if seen == 0 {
            base.clone()
        } else {
            format!("{base}-{seen}")
        });
        bases.push(base);
    }
    out
}

/// Why `target` (a link in `doc`) does not resolve, if it does not.
fn broken(doc: &Path, target: &str) -> Option<String> {
    if target.contains("://") || target.starts_with("mailto:") {
        return None;
    }
    let (path, fragment) = target.split_once('#').unwrap_or((target, ""));
    let file = if path.is_empty() {
        doc.to_path_buf()
    } else {
        doc.parent().expect("a document's folder").join(path)
    };
    if !file.exists() {
        return Some(format!("{} does not exist", file.display()));
    }
    if fragment.is_empty() {
        return None;
    }
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    (!anchors(&text).iter().any(|a| a == fragment))
        .then(|| format!("no heading #{fragment} in {}", file.display()))
}

#[test]
fn every_relative_link_in_the_docs_resolves() {
    let mut bad = Vec::new();
    let mut checked = 0;
    for doc in documents() {
        let text =
            std::fs::read_to_string(&doc).unwrap_or_else(|e| panic!("{}: {e}", doc.display()));
        for target in links(&text) {
            checked += 1;
            if let Some(why) = broken(&doc, &target) {
                bad.push(format!("{}: ({target}): {why}", doc.display()));
            }
        }
    }
    assert!(
        checked >= 20,
        "found only {checked} links: is the parser broken?"
    );
    assert!(bad.is_empty(), "broken links:\n{}", bad.join("\n"));
}

#[test]
fn the_readme_is_a_short_front_door_with_its_quick_start() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    assert!(
        readme.len() <= README_MAX_BYTES,
        "README.md is {} bytes (limit {README_MAX_BYTES}): move detail to docs/",
        readme.len()
    );
    let quick = readme
        .split("## Quick start")
        .nth(1)
        .and_then(|s| s.split("```sh").nth(1))
        .and_then(|s| s.split("```").next())
        .expect("a Quick start section with an sh block");
    let commands: Vec<&str> = quick
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(commands, QUICK_START);
    assert!(root().join("tests/fixtures/sample-tree").is_dir());
    for section in ["## Verbs", "## Exit codes"] {
        assert!(readme.contains(section), "README has no {section}");
    }
}

#[test]
fn the_link_checker_sees_links_and_headings_as_github_does() {
    let md = "# A title\n## JSON summary: `--json`\n## A title\n\
              see [x](docs/a.md#b) and `[not](a link)`\n```\n[code](x.md)\n```\n";
    assert_eq!(links(md), ["docs/a.md#b"]);
    assert_eq!(anchors(md), ["a-title", "json-summary---json", "a-title-1"]);
    let here = root().join("README.md");
    assert!(broken(&here, "docs/no-such-file.md").is_some());
    assert!(broken(&here, "#no-such-heading").is_some());
    assert!(broken(&here, "#quick-start").is_none());
}
