//! The workspace's module structure: no import cycles between the source files of any
//! crate, no emitter of the compiler using another, and no runtime, tool or test-support
//! crate whose public API reports errors as bare strings.
//!
//! The rule for cycles: within one crate (a library or binary root and the modules it
//! declares), file A depends on file B when code in A names a module, or an item, that
//! lives in B: a `use` path, or any path in the code (types, expressions, patterns; not
//! the insides of macro calls, which are tokens: `quote!` bodies name the generated
//! crate) that starts at `crate`, `super` or `self`, or at a name bound by a `mod` or a
//! `use`. A path is followed through re-exports (`pub use inner::f;`, globs included)
//! to the file that holds the module, so a re-export cannot hide a dependency. What
//! does not count: a file using itself; a file using its own submodules (a parent
//! declaring, re-exporting or calling its children is the parent being made of them);
//! a lone name in code that happens to be a module's name (a local variable). Everything
//! else counts, `use super::*` from a child to its parent included. The dependencies
//! must form no cycle: each strongly connected component of more than one file is
//! reported, with one path for each of its edges.
//!
//! The crates are the workspace's members (the root `Cargo.toml`), each with
//! `src/lib.rs`, `src/main.rs` and `src/bin/*.rs` as roots, except the generated
//! crates under `generated/`: they are shopgen's output, where a resource's module and
//! its related resources' modules name each other by design (a parent embeds its
//! children's JSON, a child names its parent's table).
//!
//! Cut a reported cycle where the code already shows the seam: move what both sides
//! share into a module of its own that depends on neither, or move a thing to the side
//! that owns it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::{self, Visit};

use crate::support::repo as workspace_root;

#[test]
fn no_import_cycles_between_source_files() {
    let root = workspace_root();
    let read = |p: &Path| std::fs::read_to_string(root.join(p)).ok();
    let mut report = Vec::new();
    let mut crates = 0;
    for dir in workspace_members(&root) {
        if dir.starts_with("generated") {
            continue;
        }
        let mut reached = BTreeSet::new();
        for crate_root in crate_roots(&root, &dir) {
            crates += 1;
            let graph = FileGraph::build(&crate_root, &read);
            report.extend(graph.cycles());
            reached.extend(graph.files);
        }
        let orphans: Vec<PathBuf> = rs_files(&root, &dir.join("src"))
            .into_iter()
            .filter(|f| !reached.contains(f))
            .collect();
        assert!(
            orphans.is_empty(),
            "files under {} that no `mod` reaches (the walk would miss them): {orphans:?}",
            dir.display()
        );
    }
    assert!(
        crates >= 10,
        "found only {crates} crate roots: the workspace walk is wrong"
    );
    assert!(
        report.is_empty(),
        "import cycles between source files:\n\n{}",
        report.join("\n")
    );
}

/// The compiler's emitters (`emit::backend`, `emit::k8s`, …) never use one another:
/// what two of them share lives in a helper module that uses no emitter. `history` is
/// not an emitter: it runs `backend` with an earlier build's migrations.
#[test]
fn no_emitter_uses_another() {
    const HELPERS: [&str; 4] = ["filters", "interface", "rust", "rust_types"];
    let root = workspace_root();
    let read = |p: &Path| std::fs::read_to_string(root.join(p)).ok();
    let graph = FileGraph::build(Path::new("compiler/src/lib.rs"), &read);
    // `compiler/src/emit/backend/schema.rs` → `backend`; `emit/mod.rs` → none.
    let emit_module = |file: &Path| -> Option<String> {
        let rest = file.strip_prefix("compiler/src/emit").ok()?;
        let first = rest.components().next()?.as_os_str().to_str()?;
        let name = first.strip_suffix(".rs").unwrap_or(first);
        (name != "mod").then(|| name.to_string())
    };
    let is_emitter = |name: &str| !HELPERS.contains(&name) && name != "history";
    let emitters: BTreeSet<String> = graph
        .files
        .iter()
        .filter_map(|f| emit_module(f))
        .filter(|m| is_emitter(m))
        .collect();
    assert!(
        emitters.contains("backend") && emitters.contains("extension") && emitters.len() >= 8,
        "the emitters were not found: {emitters:?}"
    );
    let mut found = Vec::new();
    for ((from, to), path) in graph.edges() {
        let (from_file, to_file) = (&graph.files[from], &graph.files[to]);
        let (Some(user), Some(used)) = (emit_module(from_file), emit_module(to_file)) else {
            continue;
        };
        if user != used && is_emitter(&used) && user != "history" {
            found.push(format!(
                "{} → {} (`{path}`)",
                from_file.display(),
                to_file.display()
            ));
        }
    }
    assert!(
        found.is_empty(),
        "emit modules that use an emitter other than their own:\n{}",
        found.join("\n")
    );
}

/// The folders of the workspace's crates beside the compiler and the generated ones.
const LIBRARY_GROUPS: [&str; 3] = ["runtime", "tools", "test-support"];

/// The crates beside the compiler (under `runtime/`, `tools/` and `test-support/`)
/// report errors to their callers as types: no `pub` function, method, trait method,
/// field or type alias there has a `Result<_, String>` in its type. An error is a
/// type the caller can match on and that implements
/// `std::error::Error` (`?` into `anyhow`, a `source()` chain), or the item is
/// `pub(crate)` when only its crate calls it. Test modules are left out; a `pub` item
/// in a private module counts (make it `pub(crate)`: it says what it is).
#[test]
fn runtime_public_api_has_no_string_errors() {
    let root = workspace_root();
    let mut found = Vec::new();
    let mut files = 0;
    for dir in workspace_members(&root) {
        if !LIBRARY_GROUPS.iter().any(|group| dir.starts_with(group)) {
            continue;
        }
        for file in rs_files(&root, &dir.join("src")) {
            files += 1;
            let text = std::fs::read_to_string(root.join(&file)).unwrap();
            let ast = syn::parse_file(&text)
                .unwrap_or_else(|e| panic!("{} does not parse: {e}", file.display()));
            let mut items = StringErrors::default();
            items.visit_file(&ast);
            found.extend(
                items
                    .found
                    .into_iter()
                    .map(|item| format!("{}: {item}", file.display())),
            );
        }
    }
    assert!(files >= 40, "walked only {files} source files");
    assert!(
        found.is_empty(),
        "public items of runtime, tool or test-support crates with `Result<_, String>` \
         (give the error a type, or make the item pub(crate)):\n{}",
        found.join("\n")
    );
}

#[test]
fn string_errors_are_found_where_they_are_public() {
    let found = |src: &str| {
        let mut items = StringErrors::default();
        items.visit_file(&syn::parse_file(src).unwrap());
        items.found
    };
    assert_eq!(
        found(
            "pub fn a() -> Result<(), String> { todo!() }
             pub struct S { pub f: Option<Result<u8, String>>, g: Result<u8, String> }
             impl S { pub async fn m(&self) -> Result<u8, std::string::String> { todo!() } }
             pub trait T { fn t(&self) -> Result<u8, String>; }
             pub type R = Result<u8, String>;"
        ),
        ["fn a", "field S::f", "fn S::m", "fn T::t", "type R"]
    );
    assert!(
        found(
            "fn a() -> Result<(), String> { todo!() }
             pub(crate) fn b() -> Result<(), String> { todo!() }
             pub fn c() -> Result<String, Error> { todo!() }
             impl std::str::FromStr for S { type Err = String; fn from_str(s: &str) -> Result<S, String> { todo!() } }
             #[cfg(test)] mod tests { pub fn d() -> Result<(), String> { todo!() } }"
        )
        .is_empty()
    );
}

/// The public items of one file with `Result<_, String>` in their type.
#[derive(Default)]
struct StringErrors {
    found: Vec<String>,
}

impl<'ast> Visit<'ast> for StringErrors {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        let test_only = m.attrs.iter().any(|a| {
            a.path().is_ident("cfg")
                && matches!(&a.meta, syn::Meta::List(l) if l.tokens.to_string().contains("test"))
        });
        if !test_only {
            visit::visit_item_mod(self, m);
        }
    }

    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        if is_pub(&f.vis) && has_string_result(&f.sig.output) {
            self.found.push(format!("fn {}", f.sig.ident));
        }
    }

    fn visit_item_impl(&mut self, i: &'ast syn::ItemImpl) {
        // A trait's methods are the trait's API (`FromStr::Err` is the trait's choice).
        if i.trait_.is_some() {
            return;
        }
        let owner = match &*i.self_ty {
            syn::Type::Path(p) => p
                .path
                .segments
                .last()
                .map_or(String::new(), |s| s.ident.to_string()),
            _ => String::new(),
        };
        for item in &i.items {
            if let syn::ImplItem::Fn(f) = item
                && is_pub(&f.vis)
                && has_string_result(&f.sig.output)
            {
                self.found.push(format!("fn {owner}::{}", f.sig.ident));
            }
        }
    }

    fn visit_item_trait(&mut self, t: &'ast syn::ItemTrait) {
        if !is_pub(&t.vis) {
            return;
        }
        for item in &t.items {
            if let syn::TraitItem::Fn(f) = item
                && has_string_result(&f.sig.output)
            {
                self.found.push(format!("fn {}::{}", t.ident, f.sig.ident));
            }
        }
    }

    fn visit_item_struct(&mut self, s: &'ast syn::ItemStruct) {
        if !is_pub(&s.vis) {
            return;
        }
        for (i, f) in s.fields.iter().enumerate() {
            if is_pub(&f.vis) && has_string_result(&f.ty) {
                let name = f.ident.as_ref().map_or(i.to_string(), |n| n.to_string());
                self.found.push(format!("field {}::{name}", s.ident));
            }
        }
    }

    fn visit_item_type(&mut self, t: &'ast syn::ItemType) {
        if is_pub(&t.vis) && has_string_result(&*t.ty) {
            self.found.push(format!("type {}", t.ident));
        }
    }
}

fn is_pub(vis: &syn::Visibility) -> bool {
    matches!(vis, syn::Visibility::Public(_))
}

/// Whether a type (or a function's return type) has `Result<_, String>` anywhere in it.
fn has_string_result<'a>(node: impl Into<TypeRef<'a>>) -> bool {
    #[derive(Default)]
    struct Finder(bool);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_path_segment(&mut self, seg: &'ast syn::PathSegment) {
            if seg.ident == "Result"
                && let syn::PathArguments::AngleBracketed(args) = &seg.arguments
            {
                let types: Vec<&syn::Type> = args
                    .args
                    .iter()
                    .filter_map(|a| match a {
                        syn::GenericArgument::Type(t) => Some(t),
                        _ => None,
                    })
                    .collect();
                if let [_, syn::Type::Path(err)] = types[..]
                    && err.qself.is_none()
                    && err
                        .path
                        .segments
                        .last()
                        .is_some_and(|s| s.ident == "String")
                {
                    self.0 = true;
                }
            }
            visit::visit_path_segment(self, seg);
        }
    }
    let mut finder = Finder::default();
    match node.into() {
        TypeRef::Type(t) => finder.visit_type(t),
        TypeRef::Output(o) => finder.visit_return_type(o),
    }
    finder.0
}

/// A type, or a function's return type.
enum TypeRef<'a> {
    Type(&'a syn::Type),
    Output(&'a syn::ReturnType),
}

impl<'a> From<&'a syn::Type> for TypeRef<'a> {
    fn from(t: &'a syn::Type) -> Self {
        TypeRef::Type(t)
    }
}

impl<'a> From<&'a syn::ReturnType> for TypeRef<'a> {
    fn from(o: &'a syn::ReturnType) -> Self {
        TypeRef::Output(o)
    }
}

/// The member folders of the workspace, from the root `Cargo.toml` (`dir/*` expanded).
fn workspace_members(root: &Path) -> Vec<PathBuf> {
    let manifest: toml::Table = std::fs::read_to_string(root.join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let members = manifest["workspace"]["members"].as_array().unwrap();
    let mut dirs = BTreeSet::new();
    for pattern in members {
        let mut found = vec![PathBuf::new()];
        for part in pattern.as_str().unwrap().split('/') {
            found = found
                .into_iter()
                .flat_map(|base| {
                    if part == "*" {
                        let mut entries: Vec<PathBuf> = std::fs::read_dir(root.join(&base))
                            .into_iter()
                            .flatten()
                            .map(|e| base.join(e.unwrap().file_name()))
                            .collect();
                        entries.sort();
                        entries
                    } else {
                        vec![base.join(part)]
                    }
                })
                .filter(|p| root.join(p).is_dir())
                .collect();
        }
        dirs.extend(
            found
                .into_iter()
                .filter(|d| root.join(d).join("Cargo.toml").is_file()),
        );
    }
    dirs.into_iter().collect()
}

/// A crate folder's roots: `src/lib.rs`, `src/main.rs` and `src/bin/*.rs`.
fn crate_roots(root: &Path, dir: &Path) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = ["src/lib.rs", "src/main.rs"]
        .iter()
        .map(|f| dir.join(f))
        .filter(|p| root.join(p).is_file())
        .collect();
    if let Ok(entries) = std::fs::read_dir(root.join(dir).join("src/bin")) {
        let mut bins: Vec<PathBuf> = entries
            .map(|e| dir.join("src/bin").join(e.unwrap().file_name()))
            .filter(|p| p.extension().is_some_and(|x| x == "rs"))
            .collect();
        bins.sort();
        roots.extend(bins);
    }
    roots
}

/// Every `.rs` file under `dir`, relative to the workspace root.
fn rs_files(root: &Path, dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root.join(dir)).into_iter().flatten() {
        let rel = dir.join(entry.unwrap().file_name());
        if root.join(&rel).is_dir() {
            out.extend(rs_files(root, &rel));
        } else if rel.extension().is_some_and(|x| x == "rs") {
            out.push(rel);
        }
    }
    out.sort();
    out
}

/// One module of a crate: a file, or a `mod name { … }` inside one.
struct Module {
    parent: Option<usize>,
    /// Index into [`FileGraph::files`].
    file: usize,
    /// Where the files of its `mod child;` declarations are.
    child_dir: PathBuf,
    children: BTreeMap<String, usize>,
    /// Names its own items define (functions, types, constants, traits, macros).
    items: BTreeSet<String>,
    /// Names bound by `use`: the name → the path as written.
    imports: BTreeMap<String, Vec<String>>,
    /// The targets of `use …::*`, as written.
    globs: Vec<Vec<String>>,
    /// Every path in the module's code that may name a module of the crate.
    paths: Vec<Vec<String>>,
}

/// The modules of one crate and the files that hold them.
struct FileGraph {
    files: Vec<PathBuf>,
    modules: Vec<Module>,
}

impl FileGraph {
    /// Reads the crate from its root file; `read` gives a file's text by path.
    fn build(root_file: &Path, read: &dyn Fn(&Path) -> Option<String>) -> FileGraph {
        let mut graph = FileGraph {
            files: Vec::new(),
            modules: Vec::new(),
        };
        let child_dir = root_file.parent().unwrap().to_path_buf();
        let mut pending = vec![(root_file.to_path_buf(), None, child_dir, String::new())];
        while let Some((path, parent, child_dir, name)) = pending.pop() {
            let text = read(&path).unwrap_or_else(|| panic!("cannot read {}", path.display()));
            let file: syn::File = syn::parse_file(&text)
                .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
            graph.files.push(path);
            let file_index = graph.files.len() - 1;
            let id = graph.add_module(parent, file_index, child_dir, &name);
            graph.modules[id].items = item_names(&file.items);
            let mut collector = Collector {
                graph: &mut graph,
                stack: vec![id],
                pending: &mut pending,
                read,
            };
            collector.visit_file(&file);
        }
        graph
    }

    fn add_module(
        &mut self,
        parent: Option<usize>,
        file: usize,
        child_dir: PathBuf,
        name: &str,
    ) -> usize {
        self.modules.push(Module {
            parent,
            file,
            child_dir,
            children: BTreeMap::new(),
            items: BTreeSet::new(),
            imports: BTreeMap::new(),
            globs: Vec::new(),
            paths: Vec::new(),
        });
        let id = self.modules.len() - 1;
        if let Some(p) = parent {
            self.modules[p].children.insert(name.to_string(), id);
        }
        id
    }

    /// The module a path written in `from` ends in, and whether the whole path names
    /// that module (rather than an item in it). `None`: not a module of this crate.
    fn resolve(&self, from: usize, path: &[String], depth: u32) -> Option<(usize, bool)> {
        if depth > 16 {
            return None;
        }
        let (first, rest) = path.split_first()?;
        let start = match first.as_str() {
            "crate" => self.crate_root(from),
            "self" => from,
            "super" => self.modules[from].parent?,
            name => match self.lookup(from, name, depth)? {
                (m, true) => m,
                found => return Some(found),
            },
        };
        self.walk(start, rest, depth)
    }

    /// Follows `rest` down from module `at`, through submodules and re-exports.
    fn walk(&self, mut at: usize, rest: &[String], depth: u32) -> Option<(usize, bool)> {
        for seg in rest {
            at = match seg.as_str() {
                "super" => self.modules[at].parent?,
                "self" => at,
                name => match self.lookup(at, name, depth) {
                    Some((m, true)) => m,
                    Some(found) => return Some(found),
                    None => return Some((at, false)),
                },
            };
        }
        Some((at, true))
    }

    /// What `name` means inside module `at`: its own item, a submodule, a name it
    /// imports, or a name one of its glob imports brings in.
    fn lookup(&self, at: usize, name: &str, depth: u32) -> Option<(usize, bool)> {
        let module = &self.modules[at];
        if module.items.contains(name) {
            return Some((at, false));
        }
        if let Some(&child) = module.children.get(name) {
            return Some((child, true));
        }
        if let Some(path) = module.imports.get(name) {
            return self.resolve(at, path, depth + 1);
        }
        for glob in &module.globs {
            if let Some((target, true)) = self.resolve(at, glob, depth + 1)
                && target != at
                && self.defines(target, name)
            {
                return self.lookup(target, name, depth + 1);
            }
        }
        None
    }

    /// Whether `name` is an item, a submodule or an import of module `at`.
    fn defines(&self, at: usize, name: &str) -> bool {
        let m = &self.modules[at];
        m.items.contains(name) || m.children.contains_key(name) || m.imports.contains_key(name)
    }

    fn crate_root(&self, mut m: usize) -> usize {
        while let Some(p) = self.modules[m].parent {
            m = p;
        }
        m
    }

    /// The module a file holds (not a `mod … { }` inside it).
    fn file_module(&self, file: usize) -> usize {
        self.modules.iter().position(|m| m.file == file).unwrap()
    }

    fn is_within(&self, mut m: usize, ancestor: usize) -> bool {
        loop {
            if m == ancestor {
                return true;
            }
            match self.modules[m].parent {
                Some(p) => m = p,
                None => return false,
            }
        }
    }

    /// File → file dependencies, each with one path that makes it.
    fn edges(&self) -> BTreeMap<(usize, usize), String> {
        let mut edges = BTreeMap::new();
        for (id, module) in self.modules.iter().enumerate() {
            let own = self.file_module(module.file);
            let code = module.paths.iter().map(|p| (p, true));
            let uses = module
                .imports
                .values()
                .chain(&module.globs)
                .map(|p| (p, false));
            for (path, in_code) in code.chain(uses) {
                let Some((target, whole)) = self.resolve(id, path, 0) else {
                    continue;
                };
                // A lone name in code is a value or a type, never a module: a local
                // variable that shares a module's name (`resources.contains(…)`).
                if in_code && whole && path.len() == 1 {
                    continue;
                }
                let to = self.modules[target].file;
                if to == module.file || self.is_within(target, own) {
                    continue;
                }
                edges
                    .entry((module.file, to))
                    .or_insert_with(|| path.join("::"));
            }
        }
        edges
    }

    /// Every strongly connected component of more than one file, described.
    fn cycles(&self) -> Vec<String> {
        let edges = self.edges();
        let mut next: Vec<Vec<usize>> = vec![Vec::new(); self.files.len()];
        for &(from, to) in edges.keys() {
            next[from].push(to);
        }
        strongly_connected(&next)
            .into_iter()
            .filter(|c| c.len() > 1)
            .map(|component| {
                let mut text = String::from("cycle between:\n");
                for &f in &component {
                    text += &format!("  {}\n", self.files[f].display());
                }
                text += "because:\n";
                for (&(from, to), path) in &edges {
                    if component.contains(&from) && component.contains(&to) {
                        text += &format!(
                            "  {} → {} (`{path}`)\n",
                            self.files[from].display(),
                            self.files[to].display()
                        );
                    }
                }
                text
            })
            .collect()
    }
}

/// Tarjan's algorithm; components in a fixed order, each sorted.
fn strongly_connected(next: &[Vec<usize>]) -> Vec<Vec<usize>> {
    struct State<'a> {
        next: &'a [Vec<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        counter: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(s: &mut State, v: usize) {
        s.index[v] = Some(s.counter);
        s.low[v] = s.counter;
        s.counter += 1;
        s.stack.push(v);
        s.on_stack[v] = true;
        for &w in s.next[v].iter() {
            match s.index[w] {
                None => {
                    visit(s, w);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(i) if s.on_stack[w] => s.low[v] = s.low[v].min(i),
                Some(_) => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            let mut component = Vec::new();
            loop {
                let w = s.stack.pop().unwrap();
                s.on_stack[w] = false;
                component.push(w);
                if w == v {
                    break;
                }
            }
            component.sort();
            s.out.push(component);
        }
    }
    let n = next.len();
    let mut s = State {
        next,
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        counter: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if s.index[v].is_none() {
            visit(&mut s, v);
        }
    }
    s.out.sort();
    s.out
}

/// The names a module's own items define (not its `mod`s or `use`s).
fn item_names(items: &[syn::Item]) -> BTreeSet<String> {
    items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Const(i) => Some(&i.ident),
            syn::Item::Enum(i) => Some(&i.ident),
            syn::Item::Fn(i) => Some(&i.sig.ident),
            syn::Item::Macro(i) => i.ident.as_ref(),
            syn::Item::Static(i) => Some(&i.ident),
            syn::Item::Struct(i) => Some(&i.ident),
            syn::Item::Trait(i) => Some(&i.ident),
            syn::Item::TraitAlias(i) => Some(&i.ident),
            syn::Item::Type(i) => Some(&i.ident),
            syn::Item::Union(i) => Some(&i.ident),
            _ => None,
        })
        .map(|ident| ident.to_string())
        .collect()
}

/// Walks one file: declares its modules, records its imports and paths.
struct Collector<'g, 'r> {
    graph: &'g mut FileGraph,
    /// The module being walked: the file's, then any `mod … { }` inside it.
    stack: Vec<usize>,
    pending: &'g mut Vec<(PathBuf, Option<usize>, PathBuf, String)>,
    read: &'r dyn Fn(&Path) -> Option<String>,
}

impl Collector<'_, '_> {
    fn current(&mut self) -> &mut Module {
        let id = *self.stack.last().unwrap();
        &mut self.graph.modules[id]
    }

    fn add_use(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.add_use(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) if n.ident == "self" => {
                if let Some(last) = prefix.last().cloned() {
                    self.current().imports.insert(last, prefix.clone());
                }
            }
            syn::UseTree::Name(n) => {
                let mut path = prefix.clone();
                path.push(n.ident.to_string());
                self.current().imports.insert(n.ident.to_string(), path);
            }
            syn::UseTree::Rename(r) => {
                let mut path = prefix.clone();
                path.push(r.ident.to_string());
                if r.rename == "_" {
                    self.current().paths.push(path);
                } else {
                    self.current().imports.insert(r.rename.to_string(), path);
                }
            }
            syn::UseTree::Glob(_) => {
                let path = prefix.clone();
                self.current().globs.push(path);
            }
            syn::UseTree::Group(g) => {
                for tree in &g.items {
                    self.add_use(prefix, tree);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for Collector<'_, '_> {
    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        let parent = *self.stack.last().unwrap();
        let name = item.ident.to_string();
        let dir = self.graph.modules[parent].child_dir.clone();
        match &item.content {
            Some((_, items)) => {
                let file = self.graph.modules[parent].file;
                let id = self
                    .graph
                    .add_module(Some(parent), file, dir.join(&name), &name);
                self.graph.modules[id].items = item_names(items);
                self.stack.push(id);
                for item in items {
                    self.visit_item(item);
                }
                self.stack.pop();
            }
            None => {
                let flat = dir.join(format!("{name}.rs"));
                let nested = dir.join(&name).join("mod.rs");
                let path = if (self.read)(&flat).is_some() {
                    flat
                } else {
                    nested
                };
                self.pending
                    .push((path, Some(parent), dir.join(&name), name));
            }
        }
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        if item.leading_colon.is_none() {
            self.add_use(&mut Vec::new(), &item.tree);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.leading_colon.is_none() {
            let segments = path.segments.iter().map(|s| s.ident.to_string()).collect();
            self.current().paths.push(segments);
        }
        visit::visit_path(self, path);
    }
}

/// The cycles an in-memory crate has: `files` maps a path under `src/` to its text.
fn cycles_of(files: &[(&str, &str)]) -> Vec<String> {
    let files: BTreeMap<PathBuf, String> = files
        .iter()
        .map(|(p, t)| (Path::new("src").join(p), t.to_string()))
        .collect();
    let read = |p: &Path| files.get(p).cloned();
    let graph = FileGraph::build(Path::new("src/lib.rs"), &read);
    assert_eq!(
        graph.files.len(),
        files.len(),
        "every fixture file is reached"
    );
    graph.cycles()
}

#[test]
fn siblings_that_use_each_other_are_a_cycle() {
    let cycles = cycles_of(&[
        ("lib.rs", "mod a; mod b;"),
        ("a.rs", "use crate::b::B; pub struct A;"),
        ("b.rs", "pub struct B; fn f() -> super::a::A { todo!() }"),
    ]);
    assert_eq!(cycles.len(), 1, "{cycles:?}");
    assert!(
        cycles[0].contains("src/a.rs → src/b.rs (`crate::b::B`)"),
        "{}",
        cycles[0]
    );
    assert!(
        cycles[0].contains("src/b.rs → src/a.rs (`super::a::A`)"),
        "{}",
        cycles[0]
    );
}

#[test]
fn a_re_export_does_not_hide_a_cycle() {
    // `q` uses `p::f`, which `p` re-exports from `p::inner`, which uses `q`.
    let cycles = cycles_of(&[
        ("lib.rs", "mod p; mod q;"),
        ("p/mod.rs", "mod inner; pub use inner::*;"),
        ("p/inner.rs", "pub fn f() { crate::q::g() }"),
        ("q.rs", "use crate::p; pub fn g() {} fn h() { p::f() }"),
    ]);
    assert_eq!(cycles.len(), 1, "{cycles:?}");
    assert!(
        cycles[0].contains("src/q.rs → src/p/inner.rs (`p::f`)"),
        "{}",
        cycles[0]
    );
}

#[test]
fn a_parent_may_use_its_children_but_a_child_using_its_parent_counts() {
    // The parent re-exports and calls its child, the child uses the parent: no cycle.
    let fine = cycles_of(&[
        ("lib.rs", "pub mod m; pub use m::f;"),
        (
            "m/mod.rs",
            "mod c; pub use c::f; pub struct T; fn g() { c::f() }",
        ),
        ("m/c.rs", "use super::*; pub fn f() -> T { T }"),
    ]);
    assert_eq!(fine, Vec::<String>::new());
    // But a path from the parent through a sibling back to the child is a cycle.
    let cycles = cycles_of(&[
        ("lib.rs", "mod m; mod n;"),
        ("m/mod.rs", "mod c; fn g() { crate::n::h() }"),
        ("m/c.rs", "use super::*; pub fn f() {}"),
        ("n.rs", "pub fn h() { crate::m::c::f() }"),
    ]);
    assert_eq!(cycles.len(), 1, "{cycles:?}");
    assert!(
        cycles[0].contains("src/m/c.rs → src/m/mod.rs (`super`)"),
        "{}",
        cycles[0]
    );
}

#[test]
fn paths_inside_macros_to_other_crates_or_to_locals_are_not_edges() {
    let cycles = cycles_of(&[
        ("lib.rs", "mod a; mod b;"),
        ("a.rs", "use crate::b::B; fn f() { quote!(crate::a::X); }"),
        (
            "b.rs",
            "use super::*; use other::a::A; pub struct B; \
             fn g(a: &[u8]) { let _ = quote!(crate::a::A); a.len(); }",
        ),
    ]);
    assert_eq!(cycles, Vec::<String>::new());
}
