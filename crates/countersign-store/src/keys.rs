//! The log's key file: one line, `PRIVATE+KEY+<name>+<keyid>+<base64(0x01 ‖ seed)>`
//! (the golang.org/x/mod/sumdb/note private key encoding), mode 0600.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use countersign_log::note::LogSigner;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key file {path} does not exist")]
    Missing { path: PathBuf },
    #[error("cannot read key file {path}: {source}")]
    Unreadable { path: PathBuf, source: std::io::Error },
    #[error("key file {path} is not a countersign key: {reason}")]
    Malformed { path: PathBuf, reason: String },
    #[error("key file {path} can be read by other users (mode {mode:o}); run `chmod 600 {path}`")]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("key file {path} already exists; refusing to overwrite it")]
    Exists { path: PathBuf },
    #[error("cannot create key file {path}: {source}")]
    Create { path: PathBuf, source: std::io::Error },
    #[error("no randomness available to generate a key: {0}")]
    Random(String),
}

/// Read the key file.
pub fn load_key(path: &Path) -> Result<LogSigner, KeyError> {
    use crate::bounded::{BoundedReadError, KEY_FILE_LIMIT, read_text};
    let text = match read_text(path, KEY_FILE_LIMIT, "key file") {
        Ok(t) => t,
        Err(BoundedReadError::Missing { .. }) => return Err(KeyError::Missing { path: path.to_owned() }),
        Err(BoundedReadError::Io { source, .. }) => return Err(KeyError::Unreadable { path: path.to_owned(), source }),
        Err(other) => return Err(KeyError::Malformed { path: path.to_owned(), reason: other.to_string() }),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path)
            .map_err(|source| KeyError::Unreadable { path: path.to_owned(), source })?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::TooOpen { path: path.to_owned(), mode });
        }
    }
    LogSigner::from_private_key(&text).map_err(|e| KeyError::Malformed { path: path.to_owned(), reason: e.to_string() })
}

/// Create a new key file (mode 0600, never overwriting) for a log named `name`.
pub fn create_key(path: &Path, name: &str) -> Result<LogSigner, KeyError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
    let signer = LogSigner::from_seed(name, &seed)
        .map_err(|e| KeyError::Malformed { path: path.to_owned(), reason: e.to_string() })?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            KeyError::Exists { path: path.to_owned() }
        } else {
            KeyError::Create { path: path.to_owned(), source }
        }
    })?;
    let written = file.write_all(format!("{}\n", signer.private_key_text()).as_bytes()).and_then(|()| file.sync_all());
    if let Err(source) = written {
        let _ = std::fs::remove_file(path);
        return Err(KeyError::Create { path: path.to_owned(), source });
    }
    Ok(signer)
}
