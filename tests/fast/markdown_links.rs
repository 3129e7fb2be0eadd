//! Every relative link in every tracked Markdown file leads somewhere: the file or directory
//! exists, and a `#fragment` into a Markdown file names one of its headings (GitHub's anchor
//! rules). A Markdown file named in inline code (`` `docs/design.md` ``) must exist too, since
//! a reader looks for it just the same. And every page of `docs/` can be reached from the
//! README by following links: a page no link leads to is a page no reader finds.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The tracked `*.md` files; without git (a tarball), every `*.md` outside `target/`.
fn markdown_files(root: &Path) -> Vec<PathBuf> {
    let listed = Command::new("git")
        .args(["ls-files", "-z", "--", "*.md"])
        .current_dir(root)
        .output();
    if let Ok(out) = listed
        && out.status.success()
    {
        return out
            .stdout
            .split(|&b| b == 0)
            .filter(|name| !name.is_empty())
            .map(|name| root.join(String::from_utf8_lossy(name).as_ref()))
            .filter(|path| path.exists())
            .collect();
    }
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read a directory").flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if name == "target" || name == ".git" {
                continue;
            }
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                found.push(path);
            }
        }
    }
    found
}

/// The text outside fenced code blocks.
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Inline code spans and the text with them removed.
fn split_code_spans(text: &str) -> (Vec<String>, String) {
    let mut spans = Vec::new();
    let mut rest = String::new();
    let mut parts = text.split('`');
    if let Some(first) = parts.next() {
        rest.push_str(first);
    }
    let parts: Vec<&str> = parts.collect();
    for (i, part) in parts.iter().enumerate() {
        if i % 2 == 0 {
            spans.push((*part).to_string());
        } else {
            rest.push_str(part);
        }
    }
    (spans, rest)
}

/// The targets of `[text](target)` links.
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        match after.find(')') {
            Some(end) => {
                let target = after[..end].split_whitespace().next().unwrap_or("");
                targets.push(target.to_string());
                rest = &after[end..];
            }
            None => break,
        }
    }
    targets
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors_of(markdown: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(markdown).unwrap_or_default();
    prose(&text)
        .lines()
        .filter_map(|line| line.strip_prefix('#'))
        .map(|line| anchor(line.trim_start_matches('#')))
        .collect()
}

#[test]
fn every_relative_link_in_every_markdown_file_resolves() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = markdown_files(root);
    assert!(
        files.iter().any(|f| f.ends_with("README.md")),
        "found {files:?}"
    );
    let mut broken = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let (spans, text) = split_code_spans(&prose(&text));
        let dir = file.parent().unwrap();
        let shown = file
            .strip_prefix(root)
            .unwrap_or(file)
            .display()
            .to_string();
        for target in link_targets(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, fragment) = target.split_once('#').unwrap_or((&target, ""));
            let resolved = if path.is_empty() {
                file.clone()
            } else {
                dir.join(path)
            };
            if !resolved.exists() {
                broken.push(format!("{shown}: {target} (no such file)"));
            } else if !fragment.is_empty()
                && resolved.extension().is_some_and(|e| e == "md")
                && !anchors_of(&resolved).contains(&fragment.to_string())
            {
                broken.push(format!("{shown}: {target} (no such heading)"));
            }
        }
        for span in spans {
            let named_md = span.ends_with(".md")
                && span
                    .chars()
                    .all(|c| c.is_alphanumeric() || "._-/".contains(c));
            if named_md && !dir.join(&span).exists() && !root.join(&span).exists() {
                broken.push(format!("{shown}: `{span}` (no such file)"));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// The Markdown files `file` links to (relative links only, fragments dropped), as they exist.
fn linked_markdown(file: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let (_, text) = split_code_spans(&prose(&text));
    let dir = file.parent().unwrap_or(Path::new("."));
    link_targets(&text)
        .iter()
        .filter(|target| !target.contains("://"))
        .map(|target| target.split('#').next().unwrap_or(""))
        .filter(|path| path.ends_with(".md"))
        .filter_map(|path| dir.join(path).canonicalize().ok())
        .collect()
}

#[test]
fn every_page_in_docs_is_reached_from_the_readme() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = root.join("README.md").canonicalize().unwrap();
    let mut reached = vec![readme.clone()];
    let mut queue = vec![readme];
    while let Some(file) = queue.pop() {
        for next in linked_markdown(&file) {
            if !reached.contains(&next) {
                reached.push(next.clone());
                queue.push(next);
            }
        }
    }
    let docs = root.join("docs");
    let pages: Vec<PathBuf> = markdown_files(root)
        .into_iter()
        .filter(|file| file.starts_with(&docs))
        .collect();
    assert!(!pages.is_empty(), "no Markdown page in {}", docs.display());
    let unreached: Vec<String> = pages
        .iter()
        .filter(|page| {
            page.canonicalize()
                .map_or(true, |page| !reached.contains(&page))
        })
        .map(|page| {
            page.strip_prefix(root)
                .unwrap_or(page)
                .display()
                .to_string()
        })
        .collect();
    assert!(
        unreached.is_empty(),
        "no chain of links from README.md reaches: {}",
        unreached.join(", ")
    );
}

#[test]
fn anchors_follow_githubs_rules() {
    assert_eq!(
        anchor(" Differences from Pycnic"),
        "differences-from-pycnic"
    );
    assert_eq!(
        anchor("Running the app: systemd, spawn-fcgi"),
        "running-the-app-systemd-spawn-fcgi"
    );
    assert_eq!(
        anchor("The client's address (`request.ip()`) behind a reverse proxy"),
        "the-clients-address-requestip-behind-a-reverse-proxy"
    );
    assert_eq!(
        link_targets("a [x](b.md#c) and [y](d \"t\")"),
        ["b.md#c", "d"]
    );
}
