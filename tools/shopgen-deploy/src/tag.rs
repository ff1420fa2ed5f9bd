//! The image tag: immutable, derived from the files the images are built from.
//!
//! Both images build with the repository root as the Docker build context, reduced by
//! the ignore file beside each Dockerfile
//! (`generated/shop/backend/Dockerfile.dockerignore`, else the root's `.dockerignore`).
//! The tag covers exactly that: the files of the context that the ignore rules keep,
//! for any of the Dockerfiles, plus each Dockerfile and its ignore file. Docker's rules
//! are followed (`moby/patternmatcher`, and BuildKit's walk, which does not descend into
//! an excluded directory unless a `!` exception could re-include a path inside it).
//!
//! When each of those files is identical to the commit (same paths, same contents, same
//! executable bit) the tag is the commit (`3f2a9c1d4e5b`). Otherwise the commit alone
//! would name different sources on each build, so the tag adds a digest of the files
//! (`3f2a9c1d4e5b-dirty-9c0b7a6e5d4f`): the same contents give the same tag, any change
//! to a file the images are built from another one. Files outside the context —
//! Terraform state, `.terraform/`, `.shopgen/`, untracked files the ignore rules
//! exclude — change nothing, so a rerun after a failed `terraform apply` resumes.
//!
//! Nothing is written to `.git`: the files are read from disk, their git blob ids
//! computed here and compared with `git ls-tree -r HEAD`; `git` only reads.

use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Why the tag cannot be derived from the sources (the images then need `--image-tag`).
#[derive(Debug, thiserror::Error)]
pub enum TagError {
    /// The `git` command cannot be run.
    #[error("cannot run git: {0}; pass --image-tag")]
    NoGit(std::io::Error),
    /// A `git` command failed (outside a git checkout, say).
    #[error("`git {command}` failed: {stderr}; outside a git checkout, pass --image-tag")]
    Git { command: String, stderr: String },
    /// `git ls-tree` printed an entry this code does not understand.
    #[error("unexpected `git ls-tree` output: {0}")]
    Listing(String),
    /// A file or directory of the build context cannot be read.
    #[error("cannot read {}: {error}", .path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A file changed while its blob id was computed.
    #[error("{} changed while it was read", .0.display())]
    Changed(PathBuf),
    /// An ignore file has a pattern Docker would refuse.
    #[error("{file}: {message}")]
    Ignore { file: String, message: String },
}

fn git(root: &Path, args: &[&str]) -> Result<Vec<u8>, TagError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .map_err(TagError::NoGit)?;
    if !out.status.success() {
        return Err(TagError::Git {
            command: args.join(" "),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(out.stdout)
}

/// `cannot read PATH: …`.
fn unreadable(path: &Path, error: std::io::Error) -> TagError {
    TagError::Read {
        path: path.to_path_buf(),
        error,
    }
}

/// The tag for the sources under `root` (a git checkout) that the images built from
/// `dockerfiles` (relative to `root`, which is the build context) are built from.
pub fn derive(root: &Path, dockerfiles: &[&str]) -> Result<String, TagError> {
    let commit = String::from_utf8_lossy(&git(root, &["rev-parse", "--short=12", "HEAD"])?)
        .trim()
        .to_string();
    // Run in `root`, ls-tree lists the entries under it, relative to it.
    let head = head_files(&git(root, &["ls-tree", "-r", "-z", "HEAD"])?)?;
    let format = if head.values().any(|(_, oid)| oid.len() == 64) {
        ObjectFormat::Sha256
    } else {
        ObjectFormat::Sha1
    };
    let contexts = dockerfiles
        .iter()
        .map(|d| Context::load(root, d))
        .collect::<Result<Vec<_>, _>>()?;
    let files = context_files(root, &contexts, format)?;
    let committed: Files = head
        .into_iter()
        .filter(|(path, _)| {
            let path = String::from_utf8_lossy(path);
            contexts.iter().any(|c| c.keeps(&path))
        })
        .collect();
    if files == committed {
        return Ok(commit);
    }
    let mut h = Sha256::new();
    for (path, (mode, oid)) in &files {
        h.update(path);
        h.update(b"\0");
        h.update(mode.as_bytes());
        h.update(b"\0");
        h.update(oid.as_bytes());
        h.update(b"\n");
    }
    let digest = hex(&h.finalize());
    Ok(format!("{commit}-dirty-{}", &digest[..12]))
}

/// Path (relative, `/`-separated) → (git mode, git object id in hex).
type Files = BTreeMap<Vec<u8>, (String, String)>;

/// The blobs of `git ls-tree -r -z` output (submodules stay, as `160000` entries that
/// no file on disk equals).
fn head_files(listing: &[u8]) -> Result<Files, TagError> {
    let mut files = Files::new();
    for entry in listing.split(|&b| b == 0).filter(|e| !e.is_empty()) {
        let bad = || TagError::Listing(String::from_utf8_lossy(entry).into_owned());
        let tab = entry.iter().position(|&b| b == b'\t').ok_or_else(bad)?;
        let meta = String::from_utf8_lossy(&entry[..tab]);
        let mut fields = meta.split(' ');
        let (Some(mode), Some(_kind), Some(oid)) = (fields.next(), fields.next(), fields.next())
        else {
            return Err(bad());
        };
        files.insert(
            entry[tab + 1..].to_vec(),
            (mode.to_string(), oid.to_string()),
        );
    }
    Ok(files)
}

#[derive(Clone, Copy)]
enum ObjectFormat {
    Sha1,
    Sha256,
}

/// A git blob id being computed: the hash of `blob <len>\0` and the content, SHA-1 or,
/// in a SHA-256 repository, SHA-256.
enum BlobId {
    Sha1(Sha1),
    Sha256(Sha256),
}

impl BlobId {
    fn new(format: ObjectFormat, len: u64) -> Self {
        let mut id = match format {
            ObjectFormat::Sha1 => BlobId::Sha1(Sha1::new()),
            ObjectFormat::Sha256 => BlobId::Sha256(Sha256::new()),
        };
        id.update(format!("blob {len}\0").as_bytes());
        id
    }

    fn update(&mut self, bytes: &[u8]) {
        match self {
            BlobId::Sha1(h) => h.update(bytes),
            BlobId::Sha256(h) => h.update(bytes),
        }
    }

    fn finish(self) -> String {
        match self {
            BlobId::Sha1(h) => hex(&h.finalize()),
            BlobId::Sha256(h) => hex(&h.finalize()),
        }
    }
}

/// The blob id of a file's content, read in pieces.
fn blob_id(path: &Path, format: ObjectFormat) -> Result<String, TagError> {
    let err = |e: std::io::Error| unreadable(path, e);
    let mut file = fs::File::open(path).map_err(err)?;
    let len = file.metadata().map_err(err)?.len();
    let mut id = BlobId::new(format, len);
    let mut buf = vec![0; 64 * 1024];
    let mut read = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(err)?;
        if n == 0 {
            break;
        }
        read += n as u64;
        id.update(&buf[..n]);
    }
    if read != len {
        return Err(TagError::Changed(path.to_path_buf()));
    }
    Ok(id.finish())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One image's build context: its Dockerfile, the ignore file BuildKit uses for it and
/// that file's rules.
struct Context {
    dockerfile: String,
    ignore_file: Option<String>,
    rules: Ignore,
}

impl Context {
    /// BuildKit's choice: `<Dockerfile>.dockerignore` if it exists, else the context
    /// root's `.dockerignore`, else nothing is excluded.
    fn load(root: &Path, dockerfile: &str) -> Result<Self, TagError> {
        let dockerfile = clean(dockerfile);
        for ignore_file in [format!("{dockerfile}.dockerignore"), ".dockerignore".into()] {
            match fs::read_to_string(root.join(&ignore_file)) {
                Ok(text) => {
                    let rules = Ignore::parse(&text).map_err(|message| TagError::Ignore {
                        file: ignore_file.clone(),
                        message,
                    })?;
                    return Ok(Context {
                        dockerfile,
                        ignore_file: Some(ignore_file),
                        rules,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(unreadable(Path::new(&ignore_file), e)),
            }
        }
        Ok(Context {
            dockerfile,
            ignore_file: None,
            rules: Ignore::default(),
        })
    }

    /// Whether the image reads the file `path`.
    fn keeps(&self, path: &str) -> bool {
        path == self.dockerfile
            || self.ignore_file.as_deref() == Some(path)
            || !self.rules.excludes(path)
    }
}

/// The files of the union of the contexts, walked from `root` without following
/// symbolic links (a link is recorded by its target) and without descending into
/// directories the ignore rules exclude. Sockets, FIFOs and devices are skipped.
fn context_files(
    root: &Path,
    contexts: &[Context],
    format: ObjectFormat,
) -> Result<Files, TagError> {
    let mut files = Files::new();
    let start: Vec<Option<Vec<bool>>> = contexts.iter().map(|_| Some(Vec::new())).collect();
    walk(root, &mut Vec::new(), contexts, &start, format, &mut files)?;
    for c in contexts {
        for path in std::iter::once(&c.dockerfile).chain(&c.ignore_file) {
            if !files.contains_key(path.as_bytes())
                && let Some(entry) = file_entry(&root.join(path), format)?
            {
                files.insert(path.as_bytes().to_vec(), entry);
            }
        }
    }
    Ok(files)
}

/// `dir` and `rel`: the directory, and its path relative to the root (empty for the
/// root). `states`: per context, the patterns matching the directory (`None`: the
/// context skips it).
fn walk(
    dir: &Path,
    rel: &mut Vec<u8>,
    contexts: &[Context],
    states: &[Option<Vec<bool>>],
    format: ObjectFormat,
    files: &mut Files,
) -> Result<(), TagError> {
    for entry in fs::read_dir(dir).map_err(|e| unreadable(dir, e))? {
        let entry = entry.map_err(|e| unreadable(dir, e))?;
        let path = entry.path();
        let is_dir = entry
            .file_type()
            .map_err(|e| unreadable(&path, e))?
            .is_dir();
        let len = rel.len();
        if !rel.is_empty() {
            rel.push(b'/');
        }
        rel.extend_from_slice(entry.file_name().as_encoded_bytes());
        let name = String::from_utf8_lossy(rel).into_owned();
        let mut kept = false;
        let mut inner = Vec::with_capacity(contexts.len());
        for (c, state) in contexts.iter().zip(states) {
            let next = state.as_ref().and_then(|parent| {
                let (excluded, matches) = c.rules.check(&name, parent);
                kept |= !excluded;
                let skipped = excluded && is_dir && c.rules.skips(&name);
                (!skipped).then_some(matches)
            });
            inner.push(next);
        }
        if is_dir {
            if inner.iter().any(Option::is_some) {
                walk(&path, rel, contexts, &inner, format, files)?;
            }
        } else if kept && let Some(e) = file_entry(&path, format)? {
            files.insert(rel.clone(), e);
        }
        rel.truncate(len);
    }
    Ok(())
}

/// A file's git mode and blob id; `None` for what is neither a file nor a link.
fn file_entry(path: &Path, format: ObjectFormat) -> Result<Option<(String, String)>, TagError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unreadable(path, e)),
    };
    if meta.file_type().is_symlink() {
        let target = fs::read_link(path).map_err(|e| unreadable(path, e))?;
        let target = target.as_os_str().as_encoded_bytes();
        let mut id = BlobId::new(format, target.len() as u64);
        id.update(target);
        return Ok(Some(("120000".into(), id.finish())));
    }
    if !meta.is_file() {
        return Ok(None);
    }
    let mode = if executable(&meta) {
        "100755"
    } else {
        "100644"
    };
    Ok(Some((mode.into(), blob_id(path, format)?)))
}

#[cfg(unix)]
fn executable(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o100 != 0
}

#[cfg(not(unix))]
fn executable(_: &fs::Metadata) -> bool {
    false
}

/// Go's `filepath.Clean` for `/`-separated paths.
fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            ".." if rooted => {}
            _ => parts.push(part),
        }
    }
    let body = parts.join("/");
    if rooted {
        format!("/{body}")
    } else if body.is_empty() {
        ".".into()
    } else {
        body
    }
}

/// The rules of a `.dockerignore` file, as Docker reads and applies them
/// (`moby/patternmatcher` and its `ignorefile`, and the walk of BuildKit's `fsutil`).
#[derive(Default)]
struct Ignore {
    patterns: Vec<Pattern>,
    /// No `!` pattern has a wildcard (before a trailing `/*` or `/**`): an excluded
    /// directory is skipped unless an exception names a path inside it.
    prefix_exceptions: bool,
}

struct Pattern {
    text: String,
    exception: bool,
    kind: Kind,
}

enum Kind {
    Exact,
    /// `foo/**`: any path starting with the text before `**`.
    Prefix,
    /// `**/foo`: any path ending with the text after `**`, or that text without `/`.
    Suffix,
    Glob(Vec<Tok>),
}

#[derive(Debug)]
enum Tok {
    Lit(char),
    /// `*`: any run of characters but `/`.
    Star,
    /// `?`: one character but `/`.
    One,
    /// `**` (with its `/`) inside a pattern: nothing, or anything ending with `/`.
    Dirs,
    /// `**` at the end: anything.
    Rest,
    /// `[...]`/`[^...]`: one character of (or not of) the ranges.
    Class(bool, Vec<(char, char)>),
}

impl Ignore {
    /// The lines of an ignore file: a UTF-8 BOM dropped, lines starting with `#`
    /// skipped, the rest trimmed, blank ones skipped, a leading `!` an exception, each
    /// pattern cleaned (`filepath.Clean`) and a leading `/` removed.
    fn parse(text: &str) -> Result<Self, String> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut patterns = Vec::new();
        for line in text.lines() {
            if line.starts_with('#') {
                continue;
            }
            let mut p = line.trim();
            if p.is_empty() {
                continue;
            }
            let exception = p.starts_with('!');
            if exception {
                p = p[1..].trim();
                if p.is_empty() {
                    return Err("illegal exclusion pattern: \"!\"".into());
                }
            }
            let mut text = clean(p);
            if text.len() > 1 && text.starts_with('/') {
                text.remove(0);
            }
            let kind = compile(&text).map_err(|e| format!("`{line}`: {e}"))?;
            patterns.push(Pattern {
                text,
                exception,
                kind,
            });
        }
        let prefix_exceptions = !patterns.iter().any(|p| {
            p.exception
                && p.without_trailing_glob()
                    .contains(['*', '[', ']', '?', '^', '\\'])
        });
        Ok(Ignore {
            patterns,
            prefix_exceptions,
        })
    }

    /// Whether `path` is excluded, given the matches of its directory (empty at the
    /// top): the last pattern that matches it or a directory above it decides
    /// (`MatchesUsingParentResults`). Also returns the matches of `path` for its
    /// entries.
    fn check(&self, path: &str, parent: &[bool]) -> (bool, Vec<bool>) {
        let mut excluded = false;
        let mut matches = vec![false; self.patterns.len()];
        for (i, p) in self.patterns.iter().enumerate() {
            let mut m = parent.get(i).copied().unwrap_or(false);
            if !m {
                // An exclusion cannot change a path not excluded yet, nor an
                // exception one that is not excluded.
                if p.exception != excluded {
                    continue;
                }
                m = p.matches(path);
            }
            matches[i] = m;
            if m {
                excluded = !p.exception;
            }
        }
        (excluded, matches)
    }

    /// Whether the walk skips the excluded directory `dir` without looking inside: yes
    /// unless an exception could re-include something in it.
    fn skips(&self, dir: &str) -> bool {
        self.prefix_exceptions
            && !self.patterns.iter().any(|p| {
                p.exception
                    && format!("{}/", p.without_trailing_glob()).starts_with(&format!("{dir}/"))
            })
    }

    /// Whether the walk of the context leaves out `path` (a file): excluded itself, or
    /// inside a directory the walk skips.
    fn excludes(&self, path: &str) -> bool {
        let mut parent = Vec::new();
        for (i, _) in path.match_indices('/') {
            let dir = &path[..i];
            let (excluded, matches) = self.check(dir, &parent);
            if excluded && self.skips(dir) {
                return true;
            }
            parent = matches;
        }
        self.check(path, &parent).0
    }
}

impl Pattern {
    fn without_trailing_glob(&self) -> &str {
        let t = &self.text;
        let t = t.strip_suffix("/**").unwrap_or(t);
        t.strip_suffix("/*").unwrap_or(t)
    }

    fn matches(&self, path: &str) -> bool {
        match &self.kind {
            Kind::Exact => path == self.text,
            Kind::Prefix => path.starts_with(&self.text[..self.text.len() - 2]),
            Kind::Suffix => {
                let suffix = &self.text[2..];
                path.ends_with(suffix) || suffix.strip_prefix('/') == Some(path)
            }
            Kind::Glob(toks) => {
                let chars: Vec<char> = path.chars().collect();
                let mut memo = vec![None; (toks.len() + 1) * (chars.len() + 1)];
                glob(toks, &chars, 0, 0, &mut memo)
            }
        }
    }
}

/// A cleaned pattern, read the way `patternmatcher` compiles it: plain text is an exact
/// match, a leading `**` a suffix match and a trailing one a prefix match unless
/// something else makes it a regular expression (here: tokens).
fn compile(pattern: &str) -> Result<Kind, String> {
    #[derive(PartialEq)]
    enum Ty {
        Exact,
        Prefix,
        Suffix,
        Glob,
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut toks = Vec::new();
    let mut ty = Ty::Exact;
    let mut i = 0;
    let mut first = true;
    while i < chars.len() {
        let ch = chars[i];
        i += 1;
        match ch {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i == chars.len() {
                    if ty == Ty::Exact {
                        ty = Ty::Prefix;
                    } else {
                        toks.push(Tok::Rest);
                        ty = Ty::Glob;
                    }
                } else {
                    toks.push(Tok::Dirs);
                    ty = Ty::Glob;
                }
                if first {
                    ty = Ty::Suffix;
                }
            }
            '*' => {
                toks.push(Tok::Star);
                ty = Ty::Glob;
            }
            '?' => {
                toks.push(Tok::One);
                ty = Ty::Glob;
            }
            '\\' => {
                let Some(&next) = chars.get(i) else {
                    return Err("syntax error in pattern (trailing `\\`)".into());
                };
                i += 1;
                toks.push(Tok::Lit(next));
                ty = Ty::Glob;
            }
            '[' => {
                let (class, end) = class(&chars, i)?;
                toks.push(class);
                i = end;
                ty = Ty::Glob;
            }
            ']' => {
                toks.push(Tok::Lit(']'));
                ty = Ty::Glob;
            }
            c => toks.push(Tok::Lit(c)),
        }
        first = false;
    }
    Ok(match ty {
        Ty::Exact => Kind::Exact,
        Ty::Prefix => Kind::Prefix,
        Ty::Suffix => Kind::Suffix,
        Ty::Glob => Kind::Glob(toks),
    })
}

/// The class starting after the `[` at `chars[start - 1]`: the token and the index
/// after its `]`.
fn class(chars: &[char], start: usize) -> Result<(Tok, usize), String> {
    let bad = || Err("syntax error in pattern (character class)".to_string());
    let mut i = start;
    let negated = chars.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    // One character of the class: `\\` escapes; an unescaped `-` or `]` is an error
    // where a character is expected (as in `filepath.Match`).
    let one = |i: &mut usize| -> Option<char> {
        let mut c = *chars.get(*i)?;
        *i += 1;
        if c == '-' || c == ']' {
            return None;
        }
        if c == '\\' {
            c = *chars.get(*i)?;
            *i += 1;
        }
        Some(c)
    };
    loop {
        if chars.get(i) == Some(&']') && !ranges.is_empty() {
            return Ok((Tok::Class(negated, ranges), i + 1));
        }
        let Some(lo) = one(&mut i) else {
            return bad();
        };
        let mut hi = lo;
        if chars.get(i) == Some(&'-') {
            i += 1;
            match one(&mut i) {
                Some(c) if c >= lo => hi = c,
                _ => return bad(),
            }
        }
        ranges.push((lo, hi));
    }
}

/// Whether `toks[t..]` matches all of `path[p..]` (memoized: no exponential
/// backtracking).
fn glob(toks: &[Tok], path: &[char], t: usize, p: usize, memo: &mut [Option<bool>]) -> bool {
    let key = t * (path.len() + 1) + p;
    if let Some(m) = memo[key] {
        return m;
    }
    let c = path.get(p).copied();
    let m = match toks.get(t) {
        None => c.is_none(),
        Some(Tok::Lit(l)) => c == Some(*l) && glob(toks, path, t + 1, p + 1, memo),
        Some(Tok::One) => c.is_some_and(|c| c != '/') && glob(toks, path, t + 1, p + 1, memo),
        Some(Tok::Star) => {
            glob(toks, path, t + 1, p, memo)
                || (c.is_some_and(|c| c != '/') && glob(toks, path, t, p + 1, memo))
        }
        Some(Tok::Dirs) => {
            glob(toks, path, t + 1, p, memo)
                || (p..path.len()).any(|j| path[j] == '/' && glob(toks, path, t + 1, j + 1, memo))
        }
        Some(Tok::Rest) => true,
        Some(Tok::Class(negated, ranges)) => {
            c.is_some_and(|c| ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated)
                && glob(toks, path, t + 1, p + 1, memo)
        }
    };
    memo[key] = Some(m);
    m
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
    use std::path::PathBuf;

    #[test]
    fn docker_tags() {
        assert!(valid("3f2a9c1d4e5b-dirty-9c0b7a6e5d4f"));
        for bad in ["", "latest:1", "-x", ".x", "a b"] {
            assert!(!valid(bad), "{bad}");
        }
    }

    /// The generated ignore file, plus `docs` (tracked, outside the context).
    const IGNORE: &str = "# comment lines
.git
**/target
**/*.tfstate
**/*.tfstate.*
**/.terraform
**/.shopgen
.ci/venv
docs
";
    const DOCKERFILES: [&str; 2] = [
        "generated/x/backend/Dockerfile",
        "generated/x/relay/Dockerfile",
    ];

    struct Repo {
        dir: tempfile::TempDir,
        head: String,
    }

    impl Repo {
        /// A committed checkout: sources, both Dockerfiles with their ignore files,
        /// Terraform, a tracked file outside the context, a script and a link.
        fn new() -> Repo {
            let dir = tempfile::tempdir().unwrap();
            let mut repo = Repo {
                dir,
                head: String::new(),
            };
            repo.write("Cargo.toml", "[workspace]\n");
            repo.write("runtime/x/src/lib.rs", "pub fn x() {}\n");
            repo.write("runtime/x/src/more.rs", "pub fn more() {}\n");
            for d in DOCKERFILES {
                repo.write(d, "FROM scratch\nCOPY . .\n");
                repo.write(&format!("{d}.dockerignore"), IGNORE);
            }
            repo.write("generated/x/terraform/main.tf", "# terraform\n");
            repo.write("docs/notes.md", "notes\n");
            repo.write("scripts/run.sh", "#!/bin/sh\n");
            repo.chmod("scripts/run.sh", 0o755);
            #[cfg(unix)]
            std::os::unix::fs::symlink("src/lib.rs", repo.path("runtime/x/lib-link")).unwrap();
            repo.write(
                ".gitignore",
                "target/\n.terraform/\n*.tfstate\n*.tfstate.*\n.shopgen/\n*.local\n",
            );
            repo.git(&["init", "-q"]);
            repo.git(&["add", "-A"]);
            repo.git(&["commit", "-qm", "x"]);
            repo.head = repo.git(&["rev-parse", "--short=12", "HEAD"]);
            repo
        }

        fn path(&self, rel: &str) -> PathBuf {
            self.dir.path().join(rel)
        }

        fn write(&self, rel: &str, text: &str) {
            let p = self.path(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, text).unwrap();
        }

        fn chmod(&self, rel: &str, mode: u32) {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(self.path(rel), fs::Permissions::from_mode(mode)).unwrap();
            }
            let _ = (rel, mode);
        }

        fn git(&self, args: &[&str]) -> String {
            let o = Command::new("git")
                .args(args)
                .current_dir(self.dir.path())
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_AUTHOR_NAME", "t")
                .env("GIT_AUTHOR_EMAIL", "t@example.com")
                .env("GIT_COMMITTER_NAME", "t")
                .env("GIT_COMMITTER_EMAIL", "t@example.com")
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            String::from_utf8_lossy(&o.stdout).trim().to_string()
        }

        fn tag(&self) -> String {
            derive(self.dir.path(), &DOCKERFILES).unwrap()
        }

        fn dirty(&self) -> String {
            let t = self.tag();
            let digest = t
                .strip_prefix(&format!("{}-dirty-", self.head))
                .unwrap_or_else(|| panic!("not a dirty tag of {}: {t}", self.head));
            assert_eq!(digest.len(), 12, "{t}");
            assert!(digest.bytes().all(|b| b.is_ascii_hexdigit()), "{t}");
            t
        }

        /// Every file under `.git` with its size, modification time and content.
        fn git_dir(&self) -> BTreeMap<PathBuf, (u64, std::time::SystemTime, Vec<u8>)> {
            fn walk(d: &Path, out: &mut BTreeMap<PathBuf, (u64, std::time::SystemTime, Vec<u8>)>) {
                for e in fs::read_dir(d).unwrap() {
                    let e = e.unwrap();
                    let m = fs::symlink_metadata(e.path()).unwrap();
                    if m.is_dir() {
                        walk(&e.path(), out);
                    } else {
                        let content = fs::read(e.path()).unwrap_or_default();
                        out.insert(e.path(), (m.len(), m.modified().unwrap(), content));
                    }
                }
            }
            let mut out = BTreeMap::new();
            walk(&self.path(".git"), &mut out);
            assert!(out.keys().any(|p| p.starts_with(self.path(".git/objects"))));
            out
        }
    }

    #[test]
    fn a_clean_checkout_is_tagged_with_its_commit() {
        let repo = Repo::new();
        assert_eq!(repo.head.len(), 12);
        // The script's executable bit and the link's target match the commit.
        assert_eq!(repo.tag(), repo.head);
    }

    #[test]
    fn terraform_state_and_tool_folders_change_nothing_and_git_is_not_written() {
        let repo = Repo::new();
        let before = repo.git_dir();
        repo.write(
            "generated/x/terraform/terraform.tfstate",
            "{\"secret\": \"s3cr3t\"}",
        );
        repo.write(
            "generated/x/terraform/terraform.tfstate.backup",
            "{\"secret\": \"old\"}",
        );
        repo.write(".terraform/providers/big-binary", &"x".repeat(1 << 20));
        repo.write(".shopgen/deploy/x.json", "{}");
        repo.write("target/debug/huge", "binary");
        assert_eq!(repo.tag(), repo.head);
        assert_eq!(repo.git_dir(), before, ".git is untouched");
    }

    #[test]
    fn an_edited_source_gives_a_stable_dirty_tag_without_writing_git() {
        let repo = Repo::new();
        let before = repo.git_dir();
        repo.write("runtime/x/src/lib.rs", "pub fn x() { todo!() }\n");
        let t1 = repo.dirty();
        assert_eq!(repo.dirty(), t1, "same contents, same tag");
        repo.write("runtime/x/src/lib.rs", "pub fn x() { unimplemented!() }\n");
        let t2 = repo.dirty();
        assert_ne!(t2, t1, "other contents, other tag");
        repo.write("runtime/x/src/lib.rs", "pub fn x() { todo!() }\n");
        assert_eq!(repo.dirty(), t1, "back to the first edit, back to its tag");
        repo.write("runtime/x/src/lib.rs", "pub fn x() {}\n");
        assert_eq!(repo.tag(), repo.head, "reverted: the commit again");
        assert_eq!(repo.git_dir(), before, ".git is untouched");
    }

    #[test]
    fn an_untracked_file_in_the_context_makes_the_tag_dirty() {
        let repo = Repo::new();
        repo.write("runtime/x/src/new.rs", "pub fn new() {}\n");
        let t = repo.dirty();
        // git's ignore rules do not matter, the .dockerignore's do: a file git ignores
        // is still sent with the build context.
        repo.write("runtime/x/settings.local", "KEY=1\n");
        assert_ne!(repo.dirty(), t);
    }

    #[test]
    fn a_deleted_context_file_makes_the_tag_dirty() {
        let repo = Repo::new();
        fs::remove_file(repo.path("runtime/x/src/more.rs")).unwrap();
        repo.dirty();
        // Deleting a tracked file outside the context changes nothing.
        let repo = Repo::new();
        fs::remove_file(repo.path("docs/notes.md")).unwrap();
        assert_eq!(repo.tag(), repo.head);
    }

    #[test]
    fn a_changed_executable_bit_or_link_makes_the_tag_dirty() {
        let repo = Repo::new();
        repo.chmod("scripts/run.sh", 0o644);
        if cfg!(unix) {
            repo.dirty();
        }
        #[cfg(unix)]
        {
            let repo = Repo::new();
            fs::remove_file(repo.path("runtime/x/lib-link")).unwrap();
            std::os::unix::fs::symlink("src/more.rs", repo.path("runtime/x/lib-link")).unwrap();
            repo.dirty();
        }
    }

    #[test]
    fn files_outside_the_context_do_not_change_a_dirty_tag() {
        let repo = Repo::new();
        repo.write("runtime/x/src/lib.rs", "pub fn x() { todo!() }\n");
        let t = repo.dirty();
        repo.write("target/foo", "build output");
        repo.write("runtime/x/target/debug/bar", "build output");
        repo.write("generated/x/terraform/terraform.tfstate", "{}");
        repo.write(".shopgen/deploy/x.json", "{}");
        repo.write("docs/notes.md", "edited notes\n");
        repo.write("docs/new.md", "new notes\n");
        assert_eq!(repo.dirty(), t);
    }

    #[test]
    fn the_context_is_the_union_over_the_dockerfiles() {
        let repo = Repo::new();
        repo.write(
            "generated/x/backend/Dockerfile.dockerignore",
            &format!("{IGNORE}relay-only\n"),
        );
        repo.git(&["commit", "-qam", "backend ignores relay-only"]);
        let head = repo.git(&["rev-parse", "--short=12", "HEAD"]);
        repo.write("relay-only/x", "x");
        let backend = derive(repo.dir.path(), &DOCKERFILES[..1]).unwrap();
        assert_eq!(backend, head, "outside the backend's context");
        let both = derive(repo.dir.path(), &DOCKERFILES).unwrap();
        assert!(both.starts_with(&format!("{head}-dirty-")), "{both}");
    }

    #[test]
    fn the_root_dockerignore_when_a_dockerfile_has_none() {
        let repo = Repo::new();
        for d in DOCKERFILES {
            fs::remove_file(repo.path(&format!("{d}.dockerignore"))).unwrap();
        }
        repo.write(".dockerignore", IGNORE);
        repo.git(&["add", "-A"]);
        repo.git(&["commit", "-qm", "one ignore file"]);
        let head = repo.git(&["rev-parse", "--short=12", "HEAD"]);
        repo.write(".terraform/providers/big-binary", "x");
        assert_eq!(repo.tag(), head);
    }

    #[test]
    fn a_build_context_below_the_top_of_the_repository() {
        let repo = Repo::new();
        let sub = repo.path("sub");
        fs::create_dir(&sub).unwrap();
        for entry in fs::read_dir(repo.dir.path()).unwrap() {
            let name = entry.unwrap().file_name();
            if name != ".git" && name != "sub" {
                fs::rename(repo.path(name.to_str().unwrap()), sub.join(&name)).unwrap();
            }
        }
        repo.write("outside.txt", "x");
        repo.git(&["add", "-A"]);
        repo.git(&["commit", "-qm", "the project moves into sub/"]);
        let head = repo.git(&["rev-parse", "--short=12", "HEAD"]);
        assert_eq!(derive(&sub, &DOCKERFILES).unwrap(), head);
        repo.write("outside.txt", "edited");
        assert_eq!(derive(&sub, &DOCKERFILES).unwrap(), head);
        repo.write("sub/runtime/x/src/lib.rs", "edited");
        let t = derive(&sub, &DOCKERFILES).unwrap();
        assert!(t.starts_with(&format!("{head}-dirty-")), "{t}");
    }

    #[test]
    fn outside_a_git_checkout_the_error_asks_for_a_tag() {
        let dir = tempfile::tempdir().unwrap();
        let err = derive(dir.path(), &DOCKERFILES).unwrap_err();
        assert!(matches!(err, TagError::Git { .. }), "{err:?}");
        let err = err.to_string();
        assert!(err.contains("--image-tag"), "{err}");
    }

    #[test]
    fn dockerignore_patterns() {
        let cases: &[(&str, &str, bool)] = &[
            ("**/target", "target", true),
            ("**/target", "target/debug/x", true),
            ("**/target", "runtime/x/target/y", true),
            ("**/target", "runtime/target.rs", false),
            ("**/target", "mytarget", false),
            ("*.md", "README.md", true),
            ("*.md", "docs/x.md", false),
            ("*.md\n!README.md", "README.md", false),
            ("*.md\n!README.md", "CHANGES.md", true),
            ("dir/", "dir", true),
            ("dir/", "dir/x/y", true),
            ("dir/", "a/dir", false),
            ("dir/", "directory", false),
            ("/abs", "abs", true),
            ("/abs", "abs/x", true),
            ("/abs", "x/abs", false),
            ("a/**/b", "a/b", true),
            ("a/**/b", "a/x/b", true),
            ("a/**/b", "a/x/y/b/c", true),
            ("a/**/b", "a/xb", false),
            ("a/**/b", "b", false),
            ("[ab]c", "ac", true),
            ("[ab]c", "bc", true),
            ("[ab]c", "cc", false),
            ("[ab]c", "x/ac", false),
            ("[^ab]c", "cc", true),
            ("[^ab]c", "ac", false),
            ("[a-c]x", "bx", true),
            ("[a-c]x", "dx", false),
            ("?x", "ax", true),
            ("?x", "x", false),
            ("?x", "abx", false),
            ("**/*.tfstate", "terraform.tfstate", true),
            (
                "**/*.tfstate",
                "generated/x/terraform/terraform.tfstate",
                true,
            ),
            (
                "**/*.tfstate.*",
                "generated/x/terraform/terraform.tfstate.backup",
                true,
            ),
            ("**/*.tfstate.*", "terraform.tfstate", false),
            (".ci/venv", ".ci/venv/bin/python", true),
            (".ci/venv", ".ci/other", false),
            ("foo/**", "foo/x/y", true),
            ("foo/**", "foo", false),
            ("foo/**", "foobar", false),
            ("**", "anything/at/all", true),
            ("*", "x", true),
            ("*", "x/y", true),
            ("a*b", "axxb", true),
            ("a*b", "ax/b", false),
            ("\\*x", "*x", true),
            ("\\*x", "ax", false),
            ("./a/../b/", "b", true),
            ("a.b", "axb", false),
            ("a+(b)", "a+(b)", true),
            ("   spaced   ", "spaced", true),
            (" # not a comment", "# not a comment", true),
            ("# a comment", "# a comment", false),
            ("", "x", false),
            // An exception inside an excluded directory re-includes it.
            ("dir\n!dir/keep", "dir/keep", false),
            ("dir\n!dir/keep", "dir/keep/x", false),
            ("dir\n!dir/keep", "dir/other", true),
            ("dir\n!dir/*.rs", "dir/a.rs", false),
            ("dir\n!dir/*.rs", "dir/a.txt", true),
            // The last matching pattern wins.
            ("!x\nx", "x", true),
            ("x\n!x\nx", "x", true),
            ("x\n!x", "x", false),
        ];
        for (patterns, path, excluded) in cases {
            let rules = Ignore::parse(patterns).unwrap();
            assert_eq!(
                rules.excludes(path),
                *excluded,
                "patterns {patterns:?}, path {path:?}"
            );
        }
        for bad in ["!", "[a", "a\\", "[]a]", "[a-]", "[z-a]"] {
            assert!(Ignore::parse(bad).is_err(), "{bad:?} is not a pattern");
        }
    }
}
