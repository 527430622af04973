//! Files in and out, the two ways maskscope does it. Every file written goes through
//! [`write_atomically`] (a crash never leaves half a file), and every file read from the user's
//! disk goes through [`read_limited`]: the path is looked at before it is opened, and
//! anything but a regular file (a folder, a pipe, a device, a socket) is refused without
//! opening it, so a FIFO never blocks and `/dev/zero` is never read; a huge file is refused,
//! not read into memory without end.

use std::fs::Metadata;
use std::io::{Read, Write};
use std::path::Path;

/// Why [`read_limited`] returned no bytes.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The path exists but is not a regular file (`what` says what it is).
    #[error("it is {what}, not a file")]
    NotAFile { what: &'static str },
    /// More than `limit` bytes (`size` is what the file declared, or the first byte past the
    /// limit for pipes and special files, which declare 0).
    #[error("{size} bytes or more; at most {limit} are read")]
    TooLarge { size: u64, limit: u64 },
}

impl ReadError {
    /// As an I/O error, for callers whose error types hold one (the message is kept).
    pub fn into_io(self) -> std::io::Error {
        match self {
            ReadError::Io(e) => e,
            other => std::io::Error::other(other.to_string()),
        }
    }
}

/// What kind of thing a non-regular file is, for messages.
fn describe(metadata: &Metadata) -> &'static str {
    let kind = metadata.file_type();
    if kind.is_dir() {
        return "a folder";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if kind.is_char_device() || kind.is_block_device() {
            return "a device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    "not a regular file"
}

/// The metadata of the regular file at `path` (symbolic links followed), or why it is not
/// one, without opening it: opening a FIFO blocks until something writes to it.
pub fn regular_file(path: &Path) -> Result<Metadata, ReadError> {
    let metadata = std::fs::metadata(path)?;
    if !metadata.is_file() {
        return Err(ReadError::NotAFile {
            what: describe(&metadata),
        });
    }
    Ok(metadata)
}

/// Opens the regular file at `path` for reading: refused before opening if it is anything
/// else, and checked again once open (the path may have been swapped in between; on Unix the
/// open itself does not block on a FIFO).
pub fn open_regular(path: &Path) -> Result<(std::fs::File, Metadata), ReadError> {
    regular_file(path)?;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(ReadError::NotAFile {
            what: describe(&metadata),
        });
    }
    Ok((file, metadata))
}

/// The bytes of the regular file at `path`, refusing more than `max` (checked against the
/// declared size before reading, and again while reading).
pub fn read_limited(path: &Path, max: u64) -> Result<Vec<u8>, ReadError> {
    let (file, metadata) = open_regular(path)?;
    let declared = metadata.len();
    if declared > max {
        return Err(ReadError::TooLarge {
            size: declared,
            limit: max,
        });
    }
    let mut bytes = Vec::with_capacity(declared as usize);
    file.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(ReadError::TooLarge {
            size: bytes.len() as u64,
            limit: max,
        });
    }
    Ok(bytes)
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over `path`, so a crash
/// never leaves a half-written file behind. Temporary files a killed maskscope left beside
/// `path` are removed first.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    remove_stale(path);
    let tmp = sibling(path, "tmp");
    let result = write_synced(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Creates `path` with `bytes` and waits until they are on disk.
fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Writes the folder `dir` holding `files` (name, bytes) so that, killed at any moment, `dir`
/// is either the old folder or the complete new one: the files go into `.NAME.tmp-PID` beside
/// it, then the two folders are exchanged in one step (`renameat2(RENAME_EXCHANGE)` on
/// Linux; elsewhere, or on a file system without it, two renames with a moment between) and
/// the old one is removed. The old folder's other top-level files for which `carry` is true
/// are copied into the new one first.
pub fn write_folder_atomically(
    dir: &Path,
    files: &[(&str, Vec<u8>)],
    carry: impl Fn(&str) -> bool,
) -> std::io::Result<()> {
    remove_stale(dir);
    let tmp = sibling(dir, "tmp");
    let result = (|| {
        std::fs::create_dir(&tmp)?;
        for (name, bytes) in files {
            write_synced(&tmp.join(name), bytes)?;
        }
        carry_over(dir, &tmp, |name| {
            carry(name) && !files.iter().any(|(n, _)| *n == name)
        })?;
        swap_into_place(&tmp, dir)
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

/// Copies the regular files of `from` (if it is a folder) for which `keep` is true into `to`.
fn carry_over(from: &Path, to: &Path, keep: impl Fn(&str) -> bool) -> std::io::Result<()> {
    let Ok(entries) = std::fs::read_dir(from) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type()?.is_file() && keep(&name) {
            std::fs::copy(entry.path(), to.join(&name))?;
        }
    }
    Ok(())
}

/// Puts the complete folder `new` at `dir`, replacing any folder there.
fn swap_into_place(new: &Path, dir: &Path) -> std::io::Result<()> {
    if dir.symlink_metadata().is_err() {
        return std::fs::rename(new, dir);
    }
    if exchange(new, dir)? {
        // `new` now holds the old folder.
        return std::fs::remove_dir_all(new);
    }
    let old = sibling(dir, "old");
    std::fs::rename(dir, &old)?;
    if let Err(e) = std::fs::rename(new, dir) {
        let _ = std::fs::rename(&old, dir);
        return Err(e);
    }
    std::fs::remove_dir_all(&old)
}

/// Exchanges two paths in one step; `false` where the system or file system cannot.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn exchange(a: &Path, b: &Path) -> std::io::Result<bool> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(std::io::Error::other);
    let (a, b) = (c(a)?, c(b)?);
    // SAFETY: two NUL-terminated paths that live across the call; no memory is handed over.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        return Ok(true);
    }
    let error = std::io::Error::last_os_error();
    match error.raw_os_error() {
        Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP) => Ok(false),
        _ => Err(error),
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn exchange(_: &Path, _: &Path) -> std::io::Result<bool> {
    Ok(false)
}

/// `path`'s last component, for temporary names.
fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into())
}

/// `.NAME.KIND-PID` beside `path`: the temporary names this process uses.
fn sibling(path: &Path, kind: &str) -> std::path::PathBuf {
    parent_of(path).join(format!(
        ".{}.{kind}-{}",
        file_name(path),
        std::process::id()
    ))
}

/// Removes `.NAME.tmp-PID` / `.NAME.old-PID` files and folders beside `path` whose process
/// no longer runs (a save that was killed); those of running processes are left alone.
pub fn remove_stale(path: &Path) {
    let name = file_name(path);
    let Ok(entries) = std::fs::read_dir(parent_of(path)) else {
        return;
    };
    for entry in entries.flatten() {
        let entry_name = entry.file_name().to_string_lossy().into_owned();
        let pid = ["tmp", "old"]
            .iter()
            .find_map(|kind| entry_name.strip_prefix(&format!(".{name}.{kind}-")))
            .and_then(|pid| pid.parse::<u32>().ok());
        if let Some(pid) = pid
            && pid != std::process::id()
            && !process_runs(pid)
        {
            let stale = entry.path();
            let _ = match entry.file_type() {
                Ok(t) if t.is_dir() => std::fs::remove_dir_all(stale),
                _ => std::fs::remove_file(stale),
            };
        }
    }
}

/// Whether process `pid` exists (where that cannot be known, assume it does).
#[cfg(unix)]
fn process_runs(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return true;
    };
    if pid <= 0 {
        return true;
    }
    // SAFETY: signal 0 sends nothing; it only asks whether the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn process_runs(_: u32) -> bool {
    true
}

/// Whether a folder may be replaced as a whole by a saved model folder: nothing there, an
/// empty folder, or a model folder (`config.json`) holding only files. Anything else (a
/// file, a folder of other things, subfolders such as `.git`) would be lost.
pub fn replaceable_folder(dir: &Path) -> Result<(), String> {
    let shown = dir.display();
    let Ok(metadata) = std::fs::metadata(dir) else {
        return Ok(());
    };
    if !metadata.is_dir() {
        return Err(format!(
            "{shown} is a file; a model folder is saved there (give a new folder name)"
        ));
    }
    let entries: Vec<std::fs::DirEntry> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {shown}: {e}"))?
        .flatten()
        .collect();
    if entries.is_empty() {
        return Ok(());
    }
    if !dir.join("config.json").is_file() {
        return Err(format!(
            "{shown} is a folder but not a model folder (no config.json); saving would replace it: give a new folder name"
        ));
    }
    if let Some(sub) = entries
        .iter()
        .find(|e| e.file_type().is_ok_and(|t| t.is_dir()))
    {
        return Err(format!(
            "{shown} holds a folder ({}); saving replaces the model folder as a whole: give a new folder name",
            sub.file_name().to_string_lossy()
        ));
    }
    Ok(())
}

/// The folder `path` is written into (its parent; `.` for a bare name).
fn parent_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Makes sure something can be written at `path` before a long run whose result goes
/// there: its folder is made if missing and must be writable, and `path` itself must be
/// nothing yet or the kind of thing that will replace it (a file, or a folder when
/// `folder`). Nothing at `path` is changed.
pub fn prepare_destination(path: &Path, folder: bool) -> Result<(), String> {
    if folder {
        replaceable_folder(path)?;
    } else if path.is_dir() {
        return Err(format!(
            "{} is a folder; give a file name such as {}",
            path.display(),
            path.join("model.safetensors").display()
        ));
    }
    let dir = parent_of(path);
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot make the folder {}: {e}", dir.display()))?;
    // Named like a save's temporary (`.NAME.tmp-PID`), so that a run killed between
    // creating and removing it leaves nothing the next save's `remove_stale` misses.
    let probe = sibling(path, "tmp");
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| format!("cannot write in {}: {e}", dir.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_up_to_the_limit_and_refuses_more() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        write_atomically(&path, &[7; 100]).unwrap();
        assert_eq!(read_limited(&path, 100).unwrap(), vec![7; 100]);
        let err = read_limited(&path, 99).unwrap_err();
        assert!(
            matches!(
                err,
                ReadError::TooLarge {
                    size: 100,
                    limit: 99
                }
            ),
            "{err}"
        );
        assert!(matches!(
            read_limited(&dir.path().join("missing"), 10),
            Err(ReadError::Io(_))
        ));
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_folder_is_replaced_whole_keeping_the_files_asked_for() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("model");
        write_folder_atomically(&dir, &[("config.json", b"old".to_vec())], |_| true).unwrap();
        std::fs::write(dir.join("README.md"), b"notes").unwrap();
        std::fs::write(dir.join("pytorch_model.bin"), b"stale").unwrap();
        let files = [
            ("config.json", b"new".to_vec()),
            ("model.safetensors", b"w".to_vec()),
        ];
        write_folder_atomically(&dir, &files, |n| !n.ends_with(".bin")).unwrap();
        assert_eq!(
            names(&dir),
            ["README.md", "config.json", "model.safetensors"]
        );
        assert_eq!(std::fs::read(dir.join("config.json")).unwrap(), b"new");
        assert_eq!(std::fs::read(dir.join("README.md")).unwrap(), b"notes");
        assert_eq!(names(root.path()), ["model"], "no temporary folder is left");
    }

    /// What a killed save leaves (`.NAME.tmp-PID` of a process that is gone) is removed by
    /// the next save to that path; a running process's temporaries are left alone.
    #[cfg(unix)]
    #[test]
    fn stale_temporaries_of_ended_processes_are_removed_on_the_next_save() {
        let root = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = child.id();
        child.wait().unwrap();
        let file = root.path().join("m.safetensors");
        std::fs::write(root.path().join(format!(".m.safetensors.tmp-{gone}")), b"x").unwrap();
        std::fs::write(root.path().join(".m.safetensors.tmp-1"), b"x").unwrap();
        std::fs::create_dir(root.path().join(format!(".folder.old-{gone}"))).unwrap();
        write_atomically(&file, b"new").unwrap();
        assert_eq!(
            names(root.path()),
            [
                ".folder.old-".to_string() + &gone.to_string(),
                ".m.safetensors.tmp-1".into(),
                "m.safetensors".into()
            ]
        );
        write_folder_atomically(&root.path().join("folder"), &[("a", vec![])], |_| true).unwrap();
        assert_eq!(
            names(root.path()),
            [".m.safetensors.tmp-1", "folder", "m.safetensors"]
        );
    }

    #[test]
    fn only_an_empty_or_a_model_folder_of_files_is_replaceable() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path();
        assert!(replaceable_folder(&dir.join("new")).is_ok());
        assert!(replaceable_folder(dir).is_ok(), "empty");
        std::fs::write(dir.join("notes.txt"), b"").unwrap();
        assert!(
            replaceable_folder(dir)
                .unwrap_err()
                .contains("not a model folder")
        );
        std::fs::write(dir.join("config.json"), b"{}").unwrap();
        assert!(replaceable_folder(dir).is_ok());
        std::fs::create_dir(dir.join(".git")).unwrap();
        assert!(replaceable_folder(dir).unwrap_err().contains(".git"));
        assert!(
            replaceable_folder(&dir.join("notes.txt"))
                .unwrap_err()
                .contains("is a file")
        );
    }

    #[cfg(unix)]
    #[test]
    fn special_files_are_refused_unopened() {
        let err = read_limited(Path::new("/dev/zero"), 10).unwrap_err();
        assert_eq!(err.to_string(), "it is a device, not a file");
        let dir = tempfile::tempdir().unwrap();
        let err = read_limited(dir.path(), 10).unwrap_err();
        assert_eq!(err.to_string(), "it is a folder, not a file");
    }
}
