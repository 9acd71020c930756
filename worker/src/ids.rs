//! Video ids become folder names and object-store prefixes: they must be safe
//! as one path component everywhere.

use anyhow::{Result, bail};

pub const MAX_ID_LEN: usize = 128;

/// Accepts an id as given, or says why it is unsafe.
pub fn validate_video_id(id: &str) -> Result<()> {
    if id.is_empty() {
        bail!("the id is empty");
    }
    if id.len() > MAX_ID_LEN {
        bail!("the id is {} bytes long (at most {MAX_ID_LEN})", id.len());
    }
    if id == "." || id == ".." || id.contains("..") {
        bail!("{id:?} contains '..'");
    }
    if let Some(c) = id.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))) {
        bail!("{id:?} contains {c:?}: use letters, digits, '-', '_' and '.'");
    }
    if id.starts_with(['.', '-']) {
        bail!("{id:?} must not start with '.' or '-'");
    }
    Ok(())
}

/// Derives an id from a file name: lowercase, anything unsafe becomes '-'.
pub fn id_from_path(path: &std::path::Path) -> Result<String> {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let mut id = String::with_capacity(stem.len());
    for c in stem.chars().flat_map(|c| c.to_lowercase()) {
        let safe = if c.is_ascii_alphanumeric() || c == '_' { c } else { '-' };
        if !(safe == '-' && (id.is_empty() || id.ends_with('-'))) {
            id.push(safe);
        }
    }
    let id: String = id.trim_end_matches('-').chars().take(64).collect();
    let id = id.trim_end_matches('-').to_owned();
    validate_video_id(&id).map_err(|e| anyhow::anyhow!("cannot derive a video id from {}: {e}; pass --video-id", path.display()))?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn rejects_unsafe_ids() {
        for bad in ["", "..", "a/b", "a\\b", "x\u{7}y", "../etc", ".hidden", "-rf", &"a".repeat(129), "sp ace"] {
            assert!(validate_video_id(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["bbb", "Big_Buck-Bunny.2008", "a1"] {
            validate_video_id(good).unwrap();
        }
    }

    #[test]
    fn derives_ids_from_file_names() {
        assert_eq!(id_from_path(Path::new("/x/My Movie (2024) FINAL.mov")).unwrap(), "my-movie-2024-final");
        assert_eq!(id_from_path(Path::new("clip.mp4")).unwrap(), "clip");
        assert!(id_from_path(Path::new("/x/%%%.mp4")).is_err());
    }
}
