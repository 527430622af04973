//! `maskscope --version`: the version and the commit, from git, from a published crate's
//! `.cargo_vcs_info.json`, from the packagers' variable, or "unknown commit".

use std::path::Path;
use std::process::Command;

#[allow(dead_code)] // the build script's `main` is not called here
#[path = "../build.rs"]
mod build_script;

use build_script::describe_commit;

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=test", "-c", "user.email=test@example.org"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git {args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

fn commit_file(dir: &Path, name: &str, text: &str) -> String {
    std::fs::write(dir.join(name), text).unwrap();
    git(dir, &["add", name]);
    git(dir, &["commit", "-q", "-m", text]);
    git(dir, &["rev-parse", "HEAD"])
}

#[test]
fn version_names_the_package_version_and_the_checked_out_commit() {
    let output = Command::new(env!("CARGO_BIN_EXE_maskscope"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.starts_with(&format!("maskscope {} (", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    // Built from a git checkout (a developer's, CI's): the commit must be HEAD's.
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let head = Command::new("git")
        .arg("-C")
        .arg(manifest_dir)
        .args(["rev-parse", "HEAD"])
        .output()
        .unwrap();
    if head.status.success() {
        let head = String::from_utf8(head.stdout).unwrap();
        assert!(
            text.contains(&format!("commit {}, ", &head[..12])),
            "{text}"
        );
    } else {
        assert!(text.contains("(unknown commit)"), "{text}");
    }
}

#[test]
fn without_git_or_packaging_info_the_commit_is_unknown() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Cargo.toml"), "[package]\n").unwrap();
    let commit = describe_commit(dir.path(), None);
    assert_eq!(commit.description, "unknown commit");
    assert!(commit.watch.is_empty(), "nothing to watch: never rerun");
}

#[test]
fn a_published_crate_reports_the_commit_cargo_package_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let sha1 = "0123456789abcdef0123456789abcdef01234567";
    std::fs::write(
        dir.path().join(".cargo_vcs_info.json"),
        format!("{{\n  \"git\": {{\n    \"sha1\": \"{sha1}\"\n  }},\n  \"path_in_vcs\": \"\"\n}}"),
    )
    .unwrap();
    let commit = describe_commit(dir.path(), None);
    assert_eq!(commit.description, "commit 0123456789ab");
    assert_eq!(commit.watch, [dir.path().join(".cargo_vcs_info.json")]);

    std::fs::write(
        dir.path().join(".cargo_vcs_info.json"),
        "{\"git\": {\"sha1\": \"not hex\"}}",
    )
    .unwrap();
    assert_eq!(
        describe_commit(dir.path(), None).description,
        "unknown commit"
    );
}

#[test]
fn a_git_checkout_reports_head_and_watches_only_what_a_commit_changes() {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q", "-b", "main"]);
    let first = commit_file(dir.path(), "Cargo.toml", "[package]\n");

    let commit = describe_commit(dir.path(), None);
    assert!(
        commit
            .description
            .starts_with(&format!("commit {}, ", &first[..12])),
        "{}",
        commit.description
    );
    let git_dir = dir.path().join(".git");
    assert!(commit.watch.contains(&git_dir.join("HEAD")));
    assert!(commit.watch.contains(&git_dir.join("refs/heads/main")));
    assert!(
        commit.watch.iter().all(|path| path.exists()),
        "a missing watched path would rerun the script on every build"
    );
    assert!(
        !commit.watch.contains(&git_dir.join("index")),
        "git add must not force a rebuild"
    );

    let second = commit_file(dir.path(), "notes.txt", "second");
    assert_ne!(first, second);
    assert!(
        describe_commit(dir.path(), None)
            .description
            .starts_with(&format!("commit {}, ", &second[..12]))
    );
}

#[test]
fn an_unrelated_repository_around_an_unpacked_crate_is_not_its_commit() {
    let repo = tempfile::tempdir().unwrap();
    git(repo.path(), &["init", "-q"]);
    commit_file(repo.path(), "other.txt", "someone else's project");
    let unpacked = repo.path().join("vendor/maskscope");
    std::fs::create_dir_all(&unpacked).unwrap();
    std::fs::write(unpacked.join("Cargo.toml"), "[package]\n").unwrap();
    assert_eq!(
        describe_commit(&unpacked, None).description,
        "unknown commit"
    );
}

#[test]
fn packagers_can_name_the_commit() {
    let dir = tempfile::tempdir().unwrap();
    let commit = describe_commit(dir.path(), Some("v0.1.0 tarball".to_string()));
    assert_eq!(commit.description, "commit v0.1.0 tarball");
    assert_eq!(
        describe_commit(dir.path(), Some("  ".to_string())).description,
        "unknown commit"
    );
}
