//! Files in and out, the two ways maskscope does it. Every file written goes through
//! [`write_atomically`] (a crash never leaves half a file), and every file read from the user's
//! disk goes through [`read_limited`] (a huge file, a pipe or a device is refused, not read
//! into memory without end).

use std::io::{Read, Write};
use std::path::Path;

/// Why [`read_limited`] returned no bytes.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// More than `limit` bytes (`size` is what the file declared, or the first byte past the
    /// limit for pipes and special files, which declare 0).
    #[error("{size} bytes or more; at most {limit} are read")]
    TooLarge { size: u64, limit: u64 },
}

/// The bytes of the file at `path`, refusing more than `max`. The limit holds while reading,
/// not only against the size the file declares: a FIFO, a pipe or a device declares 0.
pub fn read_limited(path: &Path, max: u64) -> Result<Vec<u8>, ReadError> {
    let file = std::fs::File::open(path)?;
    let declared = file.metadata()?.len();
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
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
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
