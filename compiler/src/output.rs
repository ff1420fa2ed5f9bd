//! Output: the only module that touches the output folder.
//!
//! [`expected`] is the one answer to "what should this output folder contain": the
//! spec's files given the migration history already in the folder. `shopgen build`
//! writes it, `shopgen check` and `shopgen up` compare the folder with it.
//!
//! [`plan`] compares the generated files with what is on disk; [`apply`] carries the
//! plan out (each file written atomically, only when its bytes change; files that
//! shopgen generated earlier and no longer generates removed; nothing else touched);
//! [`drift`] reports what `shopgen check` finds without writing anything.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use crate::emit::history::{ENGINES, History, SNAPSHOT_PATH};
use crate::emit::{
    GENERATED_MARKER, GeneratedFile, MigrationError, body_hash, emit_all_with_history, parse_header,
};
use crate::model::Model;

/// Why [`expected`] has no answer.
#[derive(Debug, thiserror::Error)]
pub enum ExpectedError {
    /// The folder's migration history cannot be read.
    #[error("cannot read the migrations in {}: {source}", .dir.display())]
    Read { dir: PathBuf, source: io::Error },
    /// The history is not shopgen's, or the spec changes the schema in a way shopgen
    /// does not migrate (a user error: nothing is written).
    #[error(transparent)]
    Migration(#[from] MigrationError),
}

/// What the output folder `dir` should contain for `model`: every generated file,
/// sorted by path, with the migrations an earlier build left in `dir` kept byte for
/// byte and, when the schema changed, the next migration added. The only function
/// that answers this; `build`, `check` and `up` all go through it.
pub fn expected(model: &Model, dir: &Path) -> Result<Vec<GeneratedFile>, ExpectedError> {
    let history = History::read(dir).map_err(|source| ExpectedError::Read {
        dir: dir.to_path_buf(),
        source,
    })?;
    Ok(emit_all_with_history(model, &history)?)
}

impl History {
    /// The migration history of an output folder: the `.sql` files under
    /// `backend/migrations/<engine>/` and the schema snapshot, each only when it
    /// carries shopgen's header. A folder that does not exist has none.
    pub fn read(dir: &Path) -> io::Result<History> {
        let mut history = History::default();
        let snapshot = dir.join(SNAPSHOT_PATH);
        if has_marker(&snapshot) {
            history.snapshot = Some(fs::read_to_string(&snapshot)?);
        }
        for engine in ENGINES {
            let folder = dir.join("backend/migrations").join(engine);
            let entries = match fs::read_dir(&folder) {
                Ok(entries) => entries,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for entry in entries {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.ends_with(".sql")
                    && entry.file_type()?.is_file()
                    && has_marker(&entry.path())
                {
                    history.migrations.push(GeneratedFile {
                        path: format!("backend/migrations/{engine}/{name}"),
                        contents: fs::read_to_string(entry.path())?,
                    });
                }
            }
        }
        history.migrations.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(history)
    }
}

/// What `apply` will do.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// New or changed files: relative path and new contents.
    pub writes: Vec<(String, String)>,
    /// Files whose bytes are already right.
    pub unchanged: Vec<String>,
    /// Earlier generated files (they carry shopgen's header) that are no longer generated.
    pub removals: Vec<String>,
}

/// One difference between the output folder and what the spec generates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    /// Generated but absent on disk.
    Missing(String),
    /// On disk, still shopgen's untouched output, but the spec now generates other bytes.
    Stale(String),
    /// On disk with a header whose hash no longer matches its body: edited by hand.
    HandEdited(String),
    /// On disk with shopgen's header but no longer generated.
    Extra(String),
}

impl Drift {
    pub fn path(&self) -> &str {
        match self {
            Drift::Missing(p) | Drift::Stale(p) | Drift::HandEdited(p) | Drift::Extra(p) => p,
        }
    }
    pub fn describe(&self) -> &'static str {
        match self {
            Drift::Missing(_) => "missing",
            Drift::Stale(_) => "stale",
            Drift::HandEdited(_) => "edited by hand",
            Drift::Extra(_) => "no longer generated",
        }
    }
}

/// Whether a generated path stays inside the output folder: relative, `/`-separated,
/// only normal components. Emitters build paths from checked identifiers, so a
/// failure here is a bug in shopgen, never a user error.
pub fn is_contained(path: &str) -> bool {
    !path.is_empty()
        && !path.contains('\\')
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

/// Every file under `dir` that carries shopgen's header, relative, sorted. Hidden
/// folders and `target/` are skipped.
fn generated_on_disk(dir: &Path) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for entry in fs::read_dir(dir.join(&rel))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel_child = rel.join(&name);
            let ty = entry.file_type()?;
            if ty.is_dir() {
                if !name.starts_with('.') && name != "target" {
                    stack.push(rel_child);
                }
            } else if ty.is_file() && has_marker(&entry.path()) {
                out.push(
                    rel_child
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect::<Vec<_>>()
                        .join("/"),
                );
            }
        }
    }
    out.sort();
    Ok(out)
}

fn has_marker(path: &Path) -> bool {
    use std::io::Read;
    let mut buf = [0u8; 256];
    let Ok(mut f) = fs::File::open(path) else {
        return false;
    };
    let n = f.read(&mut buf).unwrap_or(0);
    let head = String::from_utf8_lossy(&buf[..n]);
    head.lines()
        .next()
        .is_some_and(|l| l.contains(GENERATED_MARKER))
}

/// Compares `files` with the folder's contents.
pub fn plan(dir: &Path, files: &[GeneratedFile]) -> io::Result<Plan> {
    let mut plan = Plan::default();
    for f in files {
        assert!(
            is_contained(&f.path),
            "internal error: generated path `{}` leaves the output folder",
            f.path
        );
        match fs::read(dir.join(&f.path)) {
            Ok(bytes) if bytes == f.contents.as_bytes() => plan.unchanged.push(f.path.clone()),
            Ok(_) => plan.writes.push((f.path.clone(), f.contents.clone())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                plan.writes.push((f.path.clone(), f.contents.clone()))
            }
            Err(e) => return Err(e),
        }
    }
    let generated: std::collections::BTreeSet<&str> =
        files.iter().map(|f| f.path.as_str()).collect();
    for path in generated_on_disk(dir)? {
        if !generated.contains(path.as_str()) {
            plan.removals.push(path);
        }
    }
    Ok(plan)
}

/// Carries out a plan. Each file is written to a temporary sibling and renamed over
/// the target, so a reader never sees half a file.
pub fn apply(dir: &Path, plan: &Plan) -> io::Result<()> {
    for (path, contents) in &plan.writes {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)?;
        }
        let file_name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = target.with_file_name(format!(".{file_name}.shopgen-tmp"));
        fs::write(&tmp, contents)?;
        if let Err(e) = fs::rename(&tmp, &target) {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
    }
    for path in &plan.removals {
        let target = dir.join(path);
        fs::remove_file(&target)?;
        // Remove folders left empty, up to the output folder itself.
        let mut parent = target.parent().map(Path::to_path_buf);
        while let Some(p) = parent {
            if p == dir || fs::remove_dir(&p).is_err() {
                break;
            }
            parent = p.parent().map(Path::to_path_buf);
        }
    }
    Ok(())
}

/// What differs between the folder and `files`, sorted by path.
pub fn drift(dir: &Path, files: &[GeneratedFile]) -> io::Result<Vec<Drift>> {
    let mut out = Vec::new();
    for f in files {
        match fs::read_to_string(dir.join(&f.path)) {
            Ok(on_disk) if on_disk == f.contents => {}
            Ok(on_disk) => match parse_header(&on_disk) {
                Some((hash, body)) if hash == body_hash(body) => {
                    out.push(Drift::Stale(f.path.clone()))
                }
                _ => out.push(Drift::HandEdited(f.path.clone())),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                out.push(Drift::Missing(f.path.clone()))
            }
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                out.push(Drift::HandEdited(f.path.clone()))
            }
            Err(e) => return Err(e),
        }
    }
    let generated: std::collections::BTreeSet<&str> =
        files.iter().map(|f| f.path.as_str()).collect();
    for path in generated_on_disk(dir)? {
        if !generated.contains(path.as_str()) {
            out.push(Drift::Extra(path));
        }
    }
    out.sort_by(|a, b| a.path().cmp(b.path()));
    Ok(out)
}

/// Where the user-owned extension crate of the output folder `out` lives:
/// `out/../../extensions/<stem>` (`generated/store` → `extensions/store`), with `..`
/// resolved lexically.
pub fn extension_dir(out: &Path, stem: &str) -> PathBuf {
    let mut dir: PathBuf = out.components().collect();
    for _ in 0..2 {
        match dir.components().next_back() {
            Some(Component::Normal(_)) => {
                dir.pop();
            }
            _ => dir.push(".."),
        }
    }
    dir.join("extensions").join(stem)
}

/// The output's `api/` folder as the extension crate's manifest names it
/// (`../../generated/store/api`).
pub fn api_path_from_extension(out: &Path) -> String {
    let names: Vec<String> = out
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    let tail = names[names.len().saturating_sub(2)..].join("/");
    format!("../../{tail}/api")
}

/// Writes the first version of the extension crate into `dir`, unless `dir` exists
/// (then nothing is touched: the crate belongs to the user). Whether it wrote.
pub fn write_scaffold(dir: &Path, files: &[(String, String)]) -> io::Result<bool> {
    if dir.exists() {
        return Ok(false);
    }
    for (rel, contents) in files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(path, contents)?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_without_history_expects_a_first_build() {
        let src = include_str!("../../specs/shop.toml");
        let source = crate::source_for(Path::new("specs/shop.toml"));
        let model = crate::compile(src, source).expect("the reference spec compiles");
        let dir = std::env::temp_dir().join("shopgen-output-test-does-not-exist");
        let files = expected(&model, &dir).expect("no history");
        assert_eq!(files, crate::emit::emit_all(&model));
    }

    #[test]
    fn containment() {
        assert!(is_contained("backend/src/main.rs"));
        for bad in ["", "/etc/passwd", "../x", "a/../../b", "a\\b", "./a"] {
            assert!(!is_contained(bad), "{bad}");
        }
    }
}
