//! Small truths about the docs: every recipe's description reads whole in `just --list` (which
//! shows only the comment line right above a recipe, or its `[doc]` attribute), and README.md and
//! the justfile name only repository files that exist.

use std::path::Path;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// A recipe header: `name ...:` at the start of a line (not a comment, attribute, setting or
/// assignment).
fn recipe_name(line: &str) -> Option<&str> {
    let first = line.chars().next()?;
    if !first.is_ascii_lowercase() || line.starts_with("set ") || line.contains(":=") {
        return None;
    }
    let head = line.split(':').next()?;
    let name = head.split_whitespace().next()?;
    (line.contains(':') && name.chars().all(|c| c.is_ascii_lowercase() || c == '-')).then_some(name)
}

#[test]
fn every_recipe_has_a_one_line_description() {
    let text = read("justfile");
    let lines: Vec<&str> = text.lines().collect();
    let mut recipes = 0;
    for (i, line) in lines.iter().enumerate() {
        let Some(name) = recipe_name(line) else {
            continue;
        };
        recipes += 1;
        let mut j = i;
        let mut has_doc = false;
        while j > 0 && lines[j - 1].starts_with('[') {
            has_doc |= lines[j - 1].starts_with("[doc(");
            j -= 1;
        }
        if has_doc {
            continue;
        }
        assert!(
            j > 0 && lines[j - 1].starts_with("# "),
            "recipe `{name}` has no description (a comment right above it, or [doc(...)])"
        );
        assert!(
            j < 2 || !lines[j - 2].starts_with('#'),
            "recipe `{name}`: `just --list` shows only the last line of its {}-line comment; \
             make it one line or add [doc(\"...\")]",
            (0..j)
                .rev()
                .take_while(|&k| lines[k].starts_with('#'))
                .count()
        );
    }
    assert!(recipes >= 10, "found only {recipes} recipes");
}

/// Paths in `text` that start with one of the repository's top-level folders.
fn repo_paths(text: &str) -> Vec<String> {
    const TOPS: [&str; 10] = [
        "app/", "boards/", "bsp/", "doc/", "rtos/", "shell/", "tests/", "tools/", "bench/", ".ci/",
    ];
    let mut out = Vec::new();
    for word in text.split(|c: char| {
        c.is_whitespace()
            || matches!(
                c,
                '`' | '(' | ')' | '[' | ']' | '"' | '\'' | ',' | '<' | '>'
            )
    }) {
        let word = word.trim_end_matches(['.', ':', ';']);
        let starts = TOPS.iter().any(|t| word.starts_with(t));
        let plain = word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-'));
        if starts && plain && !word.contains("..") {
            out.push(word.to_string());
        }
    }
    out
}

#[test]
fn docs_name_only_files_that_exist() {
    let mut missing = Vec::new();
    for doc in ["README.md", "justfile"] {
        let paths = repo_paths(&read(doc));
        assert!(
            !paths.is_empty() || doc == "justfile",
            "{doc}: no paths found"
        );
        for p in paths {
            if !Path::new(ROOT).join(&p).exists() {
                missing.push(format!("{doc} names `{p}`, which does not exist"));
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
    let readme = read("README.md");
    for outside in ["../shared", "DESIGN.md", "RUNNER.md"] {
        assert!(
            !readme.contains(outside),
            "README.md points outside the repository or to a missing file: {outside}"
        );
    }
}
