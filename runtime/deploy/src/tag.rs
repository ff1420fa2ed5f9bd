//! The image tag: immutable, derived from the sources the images are built from.
//!
//! A clean checkout is tagged with its commit (`3f2a9c1d4e5b`). With uncommitted
//! changes the commit alone would name different sources on each build, so the tag
//! adds a digest of the working tree as git sees it, untracked files included and
//! ignored files excluded (`3f2a9c1d4e5b-dirty-9c0b7a6e5d4f`): the same edits give the
//! same tag, any other edit a new one. The digest is a git tree id, computed with a
//! throwaway index, so the repository's own index is left alone.

use std::path::Path;
use std::process::Command;

fn git(root: &Path, args: &[&str], index: Option<&Path>) -> Result<String, String> {
    let mut c = Command::new("git");
    c.arg("-C").arg(root).args(args);
    if let Some(i) = index {
        c.env("GIT_INDEX_FILE", i);
    }
    let out = c
        .output()
        .map_err(|e| format!("cannot run git: {e}; pass --image-tag"))?;
    if !out.status.success() {
        return Err(format!(
            "`git {}` failed: {}; outside a git checkout, pass --image-tag",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The tag for the sources under `root` (a git checkout).
pub fn derive(root: &Path) -> Result<String, String> {
    let commit = git(root, &["rev-parse", "--short=12", "HEAD"], None)?;
    let status = git(
        root,
        &["status", "--porcelain", "--untracked-files=all"],
        None,
    )?;
    if status.is_empty() {
        return Ok(commit);
    }
    let dir = std::env::temp_dir().join(format!("shopgen-tag-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let index = dir.join("index");
    let tree = git(root, &["read-tree", "HEAD"], Some(&index))
        .and_then(|_| git(root, &["add", "-A"], Some(&index)))
        .and_then(|_| git(root, &["write-tree"], Some(&index)));
    let _ = std::fs::remove_dir_all(&dir);
    let tree = tree?;
    Ok(format!("{commit}-dirty-{}", &tree[..12.min(tree.len())]))
}

/// Whether `tag` is a valid Docker tag (≤ 128 of `[A-Za-z0-9_.-]`, not starting with
/// `.` or `-`).
pub fn valid(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 128
        && !tag.starts_with(['.', '-'])
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_tags() {
        assert!(valid("3f2a9c1d4e5b-dirty-9c0b7a6e5d4f"));
        for bad in ["", "latest:1", "-x", ".x", "a b"] {
            assert!(!valid(bad), "{bad}");
        }
    }
}
