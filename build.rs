//! Records the commit the binary is built from, for `maskscope --version`.
//!
//! Where it comes from, first that answers:
//! 1. `MASKSCOPE_BUILD_COMMIT`, for packagers who build from a plain source tarball;
//! 2. `.cargo_vcs_info.json`, which `cargo package` writes into every published crate
//!    (a crates.io build has no `.git`, but this file names the commit it was packaged from);
//! 3. the git checkout this crate is tracked in (a clone, `cargo install --git`, CI);
//! 4. otherwise "unknown commit".
//!
//! The script reruns only when the checked-out commit can have changed (HEAD, the branch's
//! ref file, packed-refs), not on edits or `git add`, so it costs a rebuild only after a
//! commit or checkout. Uncommitted changes are therefore not noted in the version.
//!
//! `tests/build_info.rs` includes this file to test [`describe_commit`] on throwaway folders.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The line `--version` shows after the version number, and the files whose change means
/// the commit may have changed.
pub struct BuildCommit {
    pub description: String,
    pub watch: Vec<PathBuf>,
}

fn main() {
    let manifest_dir = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    );
    println!("cargo::rerun-if-env-changed=MASKSCOPE_BUILD_COMMIT");
    let commit = describe_commit(&manifest_dir, std::env::var("MASKSCOPE_BUILD_COMMIT").ok());
    for path in &commit.watch {
        println!("cargo::rerun-if-changed={}", path.display());
    }
    println!("cargo::rustc-env=MASKSCOPE_COMMIT={}", commit.description);
}

/// Describes the commit the crate in `dir` is built from, e.g. "commit 1a2b3c4d5e6f, 2026-12-01".
pub fn describe_commit(dir: &Path, override_commit: Option<String>) -> BuildCommit {
    if let Some(commit) = override_commit.filter(|c| !c.trim().is_empty()) {
        return BuildCommit {
            description: format!("commit {}", commit.trim()),
            watch: Vec::new(),
        };
    }
    let vcs_info = dir.join(".cargo_vcs_info.json");
    if let Some(sha1) = std::fs::read_to_string(&vcs_info)
        .ok()
        .and_then(|text| packaged_sha1(&text))
    {
        return BuildCommit {
            description: format!("commit {}", short(&sha1)),
            watch: vec![vcs_info],
        };
    }
    if let Some(commit) = from_git(dir) {
        return commit;
    }
    BuildCommit {
        description: "unknown commit".to_string(),
        watch: Vec::new(),
    }
}

/// The `"sha1": "<40 hex>"` value of `.cargo_vcs_info.json`. Read by hand rather than with
/// serde_json because a build-dependency would be compiled a second time for the host.
fn packaged_sha1(text: &str) -> Option<String> {
    let after_key = &text[text.find("\"sha1\"")? + "\"sha1\"".len()..];
    let value = after_key.trim_start().strip_prefix(':')?.trim_start();
    let hex = value.strip_prefix('"')?.get(..40)?;
    hex.chars()
        .all(|c| c.is_ascii_hexdigit())
        .then(|| hex.to_string())
}

fn from_git(dir: &Path) -> Option<BuildCommit> {
    // Only a repository that tracks this crate's manifest counts: a published crate unpacked
    // inside some unrelated repository must not report that repository's commit.
    git(dir, &["ls-files", "--error-unmatch", "Cargo.toml"])?;
    let head = git(dir, &["log", "-1", "--format=%H %cs"])?;
    let (hash, date) = head.split_once(' ')?;
    let mut watch = vec![git_path(dir, "HEAD")?];
    if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        watch.extend(git_path(dir, &branch));
    }
    watch.extend(git_path(dir, "packed-refs"));
    // Cargo reruns a script forever if a watched path does not exist.
    watch.retain(|path| path.exists());
    Some(BuildCommit {
        description: format!("commit {}, {date}", short(hash)),
        watch,
    })
}

/// Where git keeps `name` (a worktree's HEAD is its own, its branches are shared).
fn git_path(dir: &Path, name: &str) -> Option<PathBuf> {
    let path = PathBuf::from(git(dir, &["rev-parse", "--git-path", name])?);
    Some(if path.is_absolute() {
        path
    } else {
        dir.join(path)
    })
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    (output.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}
