//! Bounded reads of files the user names: the file type is checked before anything is
//! read (a FIFO would block forever, `/dev/zero` never ends), and no read goes past a
//! documented limit. Every file countersign reads on a user's word goes through here.

use std::io::Read as _;
use std::path::Path;

/// The largest key file: one line of about 100 bytes.
pub const KEY_FILE_LIMIT: u64 = 4 * 1024;
/// The largest record (`record --json`) and the largest envelope the log accepts.
pub const RECORD_LIMIT: u64 = 256 * 1024;
/// The largest `gh pr view --json` document (`check --pr-json`).
pub const PR_JSON_LIMIT: u64 = 32 * 1024 * 1024;
/// The largest policy file countersign reads (the policy crate states the same limit for
/// the text it parses).
pub const POLICY_LIMIT: u64 = 1024 * 1024;
/// The largest trusted checkpoint file (`--trusted`).
pub const CHECKPOINT_LIMIT: u64 = 64 * 1024;
/// A secret file the server reads (a webhook secret, an API token, an App's private key).
pub const SECRET_LIMIT: u64 = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum BoundedReadError {
    #[error("{what} {path} does not exist")]
    Missing { what: &'static str, path: String },
    #[error("cannot read {what} {path}: {source}")]
    Io { what: &'static str, path: String, source: std::io::Error },
    #[error("{what} {path} is not a regular file (it is {kind}); countersign reads {what}s only from regular files")]
    NotAFile { what: &'static str, path: String, kind: &'static str },
    #[error("{what} {path} is larger than the limit of {limit} bytes")]
    TooLarge { what: &'static str, path: String, limit: u64 },
}

fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() { "a directory" } else { "not a regular file" }
}

/// Read a regular file of at most `limit` bytes.
pub fn read_file(path: &Path, limit: u64, what: &'static str) -> Result<Vec<u8>, BoundedReadError> {
    let shown = path.display().to_string();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(BoundedReadError::Missing { what, path: shown });
        }
        Err(source) => return Err(BoundedReadError::Io { what, path: shown, source }),
    };
    if !meta.is_file() {
        return Err(BoundedReadError::NotAFile { what, path: shown, kind: file_kind(&meta) });
    }
    if meta.len() > limit {
        return Err(BoundedReadError::TooLarge { what, path: shown, limit });
    }
    let file =
        std::fs::File::open(path).map_err(|source| BoundedReadError::Io { what, path: shown.clone(), source })?;
    read_limited(file, limit, what, &shown)
}

/// Read at most `limit` bytes from a stream (standard input); more is an error.
pub fn read_limited(
    reader: impl std::io::Read,
    limit: u64,
    what: &'static str,
    name: &str,
) -> Result<Vec<u8>, BoundedReadError> {
    let mut data = Vec::new();
    reader.take(limit + 1).read_to_end(&mut data).map_err(|source| BoundedReadError::Io {
        what,
        path: name.to_owned(),
        source,
    })?;
    if data.len() as u64 > limit {
        return Err(BoundedReadError::TooLarge { what, path: name.to_owned(), limit });
    }
    Ok(data)
}

/// [`read_file`] as UTF-8 text.
pub fn read_text(path: &Path, limit: u64, what: &'static str) -> Result<String, BoundedReadError> {
    let bytes = read_file(path, limit, what)?;
    String::from_utf8(bytes).map_err(|_| BoundedReadError::Io {
        what,
        path: path.display().to_string(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8"),
    })
}
