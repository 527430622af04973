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
/// never leaves a half-written file behind.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = parent_of(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
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
    let shown = path.display();
    if let Ok(existing) = std::fs::metadata(path) {
        match (folder, existing.is_dir()) {
            (false, true) => {
                return Err(format!(
                    "{shown} is a folder; give a file name such as {}",
                    path.join("model.safetensors").display()
                ));
            }
            (true, false) => {
                return Err(format!(
                    "{shown} is a file; a model folder is saved there (give a new folder name)"
                ));
            }
            _ => {}
        }
    }
    let dir = parent_of(path);
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot make the folder {}: {e}", dir.display()))?;
    let probe = dir.join(format!(".maskscope-probe-{}", std::process::id()));
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
}
