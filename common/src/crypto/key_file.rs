//! Key files: `kid=BASE64KEY` lines, the first one active, readable by the owner only.
use std::fs;
use std::io::{self, Write};
use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::{new_key, new_key_id, CryptoError, Keyring};

const HEADER: &str = "\
# hookline secret-encryption keys: kid=base64(32 bytes), one per line.
# The first key encrypts; the others only decrypt. To rotate, add a new key as the first line.
";

fn key_file_error(path: &Path, reason: impl Into<String>) -> CryptoError {
    CryptoError::KeyFile {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

pub(super) fn load(path: &Path) -> Result<Keyring, CryptoError> {
    let file = fs::File::open(path).map_err(|e| key_file_error(path, e.to_string()))?;
    check_owner_only(path, &file)?;
    let text = io::read_to_string(file).map_err(|e| key_file_error(path, e.to_string()))?;
    let entries = text
        .lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'));
    Keyring::from_entries(entries, "line").map_err(|e| match e {
        CryptoError::BadKeySpec(reason) => key_file_error(path, reason),
        other => other,
    })
}

pub(super) fn create(path: &Path) -> Result<Keyring, CryptoError> {
    let kid = new_key_id();
    let contents = format!("{HEADER}{kid}={}\n", STANDARD.encode(new_key()));
    write_new_private_file(path, contents.as_bytes()).map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            key_file_error(path, "already exists; refusing to overwrite it")
        } else {
            key_file_error(path, e.to_string())
        }
    })?;
    load(path)
}

pub(super) fn load_or_create(path: &Path) -> Result<Keyring, CryptoError> {
    if path.exists() {
        return load(path);
    }
    match create(path) {
        // Another process created it between the check and our create: use theirs.
        Err(CryptoError::KeyFile { .. }) if path.exists() => load(path),
        other => other,
    }
}

/// Replaces the key file at `path` with `kid=BASE64KEY` lines, atomically: a new private file
/// beside it is written and synced, then renamed over `path`.
pub(super) fn replace<'a>(
    path: &Path,
    lines: impl Iterator<Item = (&'a str, String)>,
) -> Result<(), CryptoError> {
    let mut contents = String::from(HEADER);
    for (kid, key) in lines {
        contents.push_str(&format!("{kid}={key}\n"));
    }
    let name = path
        .file_name()
        .ok_or_else(|| key_file_error(path, "is not a file path"))?
        .to_string_lossy();
    let suffix: u64 = rand::random();
    let temporary = path.with_file_name(format!(".{name}.{suffix:016x}.tmp"));
    let written = write_new_private_file(&temporary, contents.as_bytes())
        .and_then(|()| fs::rename(&temporary, path))
        .and_then(|()| sync_parent(path));
    if let Err(error) = written {
        let _ = fs::remove_file(&temporary);
        return Err(key_file_error(
            path,
            format!("could not be replaced: {error}"),
        ));
    }
    Ok(())
}

/// Makes a rename in `path`'s directory durable.
#[cfg(unix)]
fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => fs::File::open(parent)?.sync_all(),
        None => fs::File::open(".")?.sync_all(),
    }
}

#[cfg(not(unix))]
fn sync_parent(_path: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn check_owner_only(path: &Path, file: &fs::File) -> Result<(), CryptoError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = file
        .metadata()
        .map_err(|e| key_file_error(path, e.to_string()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(key_file_error(
            path,
            format!(
                "is accessible by group or others (mode {mode:04o}); run `chmod 600 {}`",
                path.display()
            ),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_owner_only(_path: &Path, _file: &fs::File) -> Result<(), CryptoError> {
    Ok(())
}

/// Creates `path` (and missing parents) exclusively, so an existing key is never overwritten.
fn write_new_private_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        options.mode(0o600);
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)?;
        }
    }
    #[cfg(not(unix))]
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_b64(byte: u8) -> String {
        STANDARD.encode([byte; 32])
    }

    #[cfg(unix)]
    #[test]
    fn a_created_key_file_is_private_and_loads_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/dir/keys");
        let created = Keyring::create_key_file(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let loaded = Keyring::load_key_file(&path).unwrap();
        assert_eq!(loaded.active_key_id(), created.active_key_id());
        let stored = created.encrypt("s3cret", b"a");
        assert_eq!(loaded.decrypt(&stored, b"a").unwrap(), "s3cret");
        let again = Keyring::load_or_create_key_file(&path).unwrap();
        assert_eq!(again.active_key_id(), created.active_key_id());
    }

    #[test]
    fn an_existing_key_file_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        std::fs::write(&path, "keep me").unwrap();
        let err = Keyring::create_key_file(&path).unwrap_err().to_string();
        assert!(err.contains("already exists"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me");
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_readable_by_others_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        std::fs::write(&path, format!("k1={}\n", key_b64(1))).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = Keyring::load_key_file(&path).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_with_comments_and_several_keys_makes_the_first_active() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        let text = format!(
            "# keys\n\nnew={}\n  # old one\nold={}\n",
            key_b64(2),
            key_b64(1)
        );
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let ring = Keyring::load_key_file(&path).unwrap();
        assert_eq!(ring.active_key_id(), "new");
        let stored = Keyring::from_spec(&format!("old={}", key_b64(1)))
            .unwrap()
            .encrypt("s", b"a");
        assert_eq!(ring.decrypt(&stored, b"a").unwrap(), "s");
    }

    #[cfg(unix)]
    #[test]
    fn a_written_key_file_replaces_the_old_one_privately_and_loads_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        let original = Keyring::create_key_file(&path).unwrap();
        let stored = original.encrypt("s3cret", b"a");
        let rotated = original.with_new_active_key();
        rotated.write_key_file(&path).unwrap();
        let loaded = Keyring::load_key_file(&path).unwrap();
        assert_eq!(loaded.key_ids(), rotated.key_ids());
        assert_eq!(loaded.decrypt(&stored, b"a").unwrap(), "s3cret");
        let fresh = loaded.encrypt("s3cret", b"a");
        assert_eq!(rotated.decrypt(&fresh, b"a").unwrap(), "s3cret");

        rotated
            .retire_all_but_active()
            .write_key_file(&path)
            .unwrap();
        let retired = Keyring::load_key_file(&path).unwrap();
        assert_eq!(retired.key_ids(), vec![rotated.active_key_id()]);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from("keys")],
            "no temporary file is left"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_bad_key_file_line_is_reported_with_its_number() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        std::fs::write(&path, format!("# c\nk1={}\nk2=short\n", key_b64(1))).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let err = Keyring::load_key_file(&path).unwrap_err().to_string();
        assert!(err.contains("line 3") && err.contains("\"k2\""), "{err}");
    }
}
