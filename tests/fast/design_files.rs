//! `docs/design.md` names every file of `src/`: its table is where a new reader looks for the
//! room a change belongs in, so a file it leaves out is a file nobody finds. A file is named by
//! a link to it (`[...](../src/PATH)`) or by its path in code (`` `src/PATH` ``). A unit-test
//! file `NAME_tests.rs` is named with the file it tests: the rule (tests beside the file) is
//! stated once, not per file.

use std::path::{Path, PathBuf};

/// Every `*.rs` file under `dir`, as a path relative to `src/` with `/` separators.
fn rust_files(src: &Path, dir: &Path, found: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir)
        .expect("read a directory of src/")
        .flatten()
    {
        let path: PathBuf = entry.path();
        if path.is_dir() {
            rust_files(src, &path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path.strip_prefix(src).expect("under src/");
            found.push(relative.to_string_lossy().replace('\\', "/"));
        }
    }
}

fn named(design: &str, file: &str) -> bool {
    design.contains(&format!("(../src/{file})")) || design.contains(&format!("`src/{file}`"))
}

#[test]
fn design_md_names_every_file_of_src() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let design = std::fs::read_to_string(root.join("docs/design.md")).expect("docs/design.md");
    let src = root.join("src");
    let mut files = Vec::new();
    rust_files(&src, &src, &mut files);
    files.sort();
    assert!(files.iter().any(|f| f == "lib.rs"), "found {files:?}");
    let missing: Vec<&String> = files
        .iter()
        .filter(|file| {
            let tested = file
                .strip_suffix("_tests.rs")
                .map(|name| format!("{name}.rs"));
            !named(&design, file) && !tested.is_some_and(|tested| named(&design, &tested))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "docs/design.md's table does not name these files of src/ (add each, with what it \
         owns): {}",
        missing
            .iter()
            .map(|file| format!("src/{file}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

#[test]
fn a_file_is_named_by_a_link_or_by_its_path_in_code() {
    let design = "| [`x.rs`](../src/a/x.rs), `src/b.rs` | ... |";
    assert!(named(design, "a/x.rs"));
    assert!(named(design, "b.rs"));
    assert!(!named(design, "x.rs"), "a bare file name is not its path");
    assert!(!named(design, "a/y.rs"));
}
