//! The module layout is a rule, not a habit: every `crate::<module>` path in `src/` must point
//! down the stage order, and clap stays in the command-line layer. Reads the sources, so a new
//! arrow up (or a new top-level module not placed in the order) fails here.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each top-level module's rank: a module may only use modules of a strictly lower rank.
/// Leaves first; then the stages in pipeline order; then the observers, the orchestrator, and
/// the command-line layer on top.
const RANKS: &[(&str, u32)] = &[
    // Leaves: exit codes, log settings, the manifest's row, the Box client (its JSON shapes are
    // shared with the emulator).
    ("exit", 0),
    ("log", 0),
    ("manifest", 0),
    ("box_api", 0),
    // Atomic file writes (temp file, fsync, rename) for manifests and reports.
    ("fsutil", 0),
    // The shared vocabulary: `Event`, `ReportRow`, `Cancel` (uses manifest's `Kind`).
    ("model", 1),
    ("hash", 1),
    ("emulator", 1),
    ("scan", 2),
    // The state journal sits under planning: the planner reads it to skip what is done.
    ("state", 3),
    // Planning: manifest rows become `Work` (journal lookups, upload kind, conflict decision).
    ("plan", 4),
    ("upload", 5),
    // Local permissions → Box collaborations: proposal, the CSV, applying and checking it.
    ("permissions", 6),
    // Observers of the event stream.
    ("report", 6),
    ("progress", 7),
    // The orchestrator, and the read-only verbs' jobs (issue 13: stage logic out of `cmd/`).
    ("migrate", 8),
    ("audit", 8),
    ("verify", 8),
    // Prometheus metrics: an observer that serves what progress reads (only `cmd` wires it).
    ("metrics", 8),
    // The command line: clap types, the config-file merge and their conversion; the verbs.
    ("cli", 9),
    ("cmd", 10),
];

/// The modules that may use clap.
const CLAP: &[&str] = &["cli", "cmd"];

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`None` for `lib.rs` and `main.rs`).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?.to_string();
    match first.strip_suffix(".rs") {
        Some("lib" | "main") => None,
        Some(m) => Some(m.to_string()),
        None => Some(first),
    }
}

/// The top-level modules a source text names as `crate::<module>` (also inside
/// `use crate::{a, b::c}` groups), comments left out.
fn uses(text: &str) -> BTreeSet<String> {
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut found = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        // `boxlift::crate::` does not exist; a preceding identifier char means another path.
        if code[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            continue;
        }
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            // Top-level items of the group: split on commas outside nested braces.
            let mut depth = 0;
            let mut start = 0;
            let inner = &group[..end];
            for (j, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.insert(ident(inner[start..j].trim()));
                        start = j + 1;
                    }
                    _ => {}
                }
            }
            found.insert(ident(inner[start..].trim()));
        } else {
            found.insert(ident(rest));
        }
    }
    found.retain(|m| !m.is_empty());
    found
}

/// Every broken rule under `src`, one line each; also the top-level modules seen.
fn check(src: &Path) -> (Vec<String>, BTreeSet<String>) {
    let rank: BTreeMap<&str, u32> = RANKS.iter().copied().collect();
    let mut files = Vec::new();
    rs_files(src, &mut files);
    files.sort();
    let mut wrong = Vec::new();
    let mut modules = BTreeSet::new();
    for file in &files {
        let Some(module) = module_of(src, file) else {
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        let name = file.strip_prefix(src).unwrap().display().to_string();
        let Some(&mine) = rank.get(module.as_str()) else {
            wrong.push(format!(
                "{name}: module `{module}` is not in the stage order"
            ));
            continue;
        };
        modules.insert(module.clone());
        for used in uses(&text) {
            if used == module {
                continue;
            }
            match rank.get(used.as_str()) {
                Some(&theirs) if theirs < mine => {}
                Some(_) => wrong.push(format!("{name}: `{module}` uses `crate::{used}`")),
                None => wrong.push(format!("{name}: uses unknown `crate::{used}`")),
            }
        }
        // The emulator shares only the JSON shapes with the client, so a client bug cannot hide
        // an emulator bug.
        if module == "emulator" {
            for (i, _) in text.match_indices("crate::box_api") {
                if !text[i..].starts_with("crate::box_api::model") {
                    wrong.push(format!(
                        "{name}: emulator uses box_api beyond box_api::model"
                    ));
                }
            }
        }
        let clap = text.contains("use clap") || text.contains("clap::");
        if clap && !CLAP.contains(&module.as_str()) {
            wrong.push(format!("{name}: clap outside cli/cmd"));
        }
    }
    (wrong, modules)
}

#[test]
fn imports_only_point_down_the_stage_order_and_clap_stays_in_the_cli() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (wrong, modules) = check(&src);
    assert!(
        wrong.is_empty(),
        "layout rule broken:\n{}",
        wrong.join("\n")
    );
    // The table names no module that is gone (it must not go stale).
    for (m, _) in RANKS {
        assert!(modules.contains(*m), "`{m}` is in RANKS but not in src/");
    }
}

#[test]
fn the_check_catches_an_arrow_up_clap_in_a_stage_and_an_unplaced_module() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    let write = |rel: &str, text: &str| {
        let p = src.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write("lib.rs", "pub mod state;\n");
    write("state/mod.rs", "use crate::{model::Event, upload::Work};\n");
    write(
        "progress.rs",
        "use crate::log::LogFormat;\n#[derive(clap::ValueEnum)]\n",
    );
    write("emulator/mod.rs", "use crate::box_api::BoxClient;\n");
    write("extra.rs", "\n");
    let (wrong, _) = check(src);
    assert_eq!(
        wrong,
        [
            "emulator/mod.rs: emulator uses box_api beyond box_api::model",
            "extra.rs: module `extra` is not in the stage order",
            "progress.rs: clap outside cli/cmd",
            "state/mod.rs: `state` uses `crate::upload`",
        ]
    );
}

#[test]
fn the_import_reader_sees_groups_and_skips_comments() {
    let text = "use crate::a::b;\nuse crate::{c::D, e, f::{g, h}};\n// crate::z\nfn x() { crate::k::f(); }\nuse boxlift_crate::q;";
    let got: Vec<String> = uses(text).into_iter().collect();
    assert_eq!(got, ["a", "c", "e", "f", "k"]);
}

/// The longest a function in `src/` may be. A function past it does several things that want
/// names of their own; the request path, the run and the report pages were split to fit.
const MAX_FN_LINES: usize = 120;

/// `line` with string and char literals emptied and a trailing `//` comment dropped, so the
/// braces left are code's. `in_str` carries an open (multi-line) string across lines.
fn code_of(line: &str, in_str: &mut bool) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if *in_str {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => *in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => *in_str = true,
            '/' if chars.peek() == Some(&'/') => break,
            // A char literal: '{', '}', '\'' and the like (a lifetime has no closing quote).
            '\'' => {
                let rest: String = chars.clone().take(3).collect();
                if rest.len() >= 2 && rest.chars().nth(1) == Some('\'') {
                    chars.nth(1);
                } else if rest.starts_with('\\') {
                    chars.nth(2);
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// Every function in `text` longer than `max` lines: `name (lines)` from its `fn` line to the
/// brace that closes it.
fn long_functions(text: &str, max: usize) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut long = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        let Some(at) = t.find("fn ") else { continue };
        let head = &t[..at];
        let is_fn = head.split_whitespace().all(|w| {
            [
                "pub",
                "pub(crate)",
                "pub(super)",
                "async",
                "unsafe",
                "const",
            ]
            .contains(&w)
        });
        if !is_fn || t.trim_end().ends_with(';') || t.starts_with("//") {
            continue;
        }
        let name: String = t[at + 3..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let (mut depth, mut opened, mut in_str) = (0i64, false, false);
        for (j, l) in lines.iter().enumerate().skip(i) {
            for c in code_of(l, &mut in_str).chars() {
                match c {
                    '{' => {
                        depth += 1;
                        opened = true;
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            if opened && depth <= 0 {
                let n = j - i + 1;
                if n > max {
                    long.push(format!("{name} ({n} lines)"));
                }
                break;
            }
            // A declaration without a body (a trait method) ends at its `;`.
            if !opened && l.trim_end().ends_with(';') {
                break;
            }
        }
    }
    long
}

#[test]
fn no_function_in_src_is_over_120_lines() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rs_files(&src, &mut files);
    let mut long = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for l in long_functions(&text, MAX_FN_LINES) {
            long.push(format!("{}: {l}", f.strip_prefix(&src).unwrap().display()));
        }
    }
    assert!(
        long.is_empty(),
        "functions over {MAX_FN_LINES} lines: {long:#?}"
    );
}

#[test]
fn the_length_check_counts_to_the_closing_brace_past_braces_in_strings() {
    let body: String = (0..5).map(|_| "    x();\n").collect();
    let text = format!(
        "pub(crate) async fn short() {{\n{body}}}\nfn tricky() {{\n    let s = \"}}}}\";\n    let c = '}}';\n    // }}\n{body}{body}}}\nfn decl(x: u8);\n"
    );
    assert!(
        long_functions(&text, 15).is_empty(),
        "{:?}",
        long_functions(&text, 15)
    );
    assert_eq!(long_functions(&text, 7), vec!["tricky (15 lines)"]);
    assert_eq!(
        long_functions(&text, 6),
        vec!["short (7 lines)", "tricky (15 lines)"]
    );
}
