//! Loading a crate: its module tree (files and inline `mod` blocks, in the normal build only) and
//! the raw references each module's code makes, before any name is resolved.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use proc_macro2::{Spacing, TokenStream, TokenTree};
use syn::punctuated::Punctuated;
use syn::visit::{self, Visit};
use syn::{Attribute, Item, Meta, Token, UseTree};

/// One module of a crate: a file or an inline `mod` block.
pub struct Module {
    /// `["crate", "sched", "thread"]`.
    pub path: Vec<String>,
    /// The file its code is in (an inline module shares its parent's file).
    pub file: PathBuf,
    /// Child modules by name (only those in the normal build).
    pub children: BTreeMap<String, usize>,
    /// Everything the module's code names, unresolved.
    pub refs: Vec<Ref>,
}

impl Module {
    /// `crate::sched::thread`.
    pub fn name(&self) -> String {
        self.path.join("::")
    }
}

/// A crate's module tree; module 0 is the crate root.
pub struct Crate {
    pub name: String,
    pub modules: Vec<Module>,
}

/// A path that a module's code names, as written.
#[derive(Debug)]
pub struct Ref {
    pub segs: Vec<String>,
    /// Written with a leading `::` (always another crate).
    pub global: bool,
    pub line: usize,
    pub kind: RefKind,
}

#[derive(Debug, PartialEq, Eq)]
pub enum RefKind {
    /// A leaf of a `use` tree that binds a name (`_` for `as _`).
    UseName(String),
    /// A `use ...::*` leaf.
    UseGlob,
    /// A `syn::Path` in a type, expression, pattern, bound, impl header or macro name.
    Path,
    /// An `a::b` sequence inside a macro invocation's tokens.
    Tokens,
    /// `extern crate name;`.
    ExternCrate,
}

/// Loads the crate whose root file is `root`, following `mod` declarations.
pub fn load_crate(root: &Path) -> Result<Crate, String> {
    let name = crate_name(root);
    let mut loader = Loader {
        modules: Vec::new(),
    };
    let dir = root.parent().unwrap_or(Path::new("")).to_path_buf();
    let file = parse(root)?;
    if test_only(&file.attrs) {
        return Err(format!(
            "{}: the crate root is not in the normal build",
            root.display()
        ));
    }
    loader.module(vec!["crate".to_string()], root, &dir, &file.items)?;
    Ok(Crate {
        name,
        modules: loader.modules,
    })
}

/// The package name from the nearest `Cargo.toml` above `root`, else the directory's name.
fn crate_name(root: &Path) -> String {
    let mut dir = root.parent();
    while let Some(d) = dir {
        if let Ok(toml) = fs::read_to_string(d.join("Cargo.toml")) {
            let mut in_package = false;
            for line in toml.lines().map(str::trim) {
                if line.starts_with('[') {
                    in_package = line == "[package]";
                } else if in_package
                    && let Some(value) = line.strip_prefix("name").map(str::trim_start)
                    && let Some(value) = value.strip_prefix('=')
                {
                    return value.trim().trim_matches('"').to_string();
                }
            }
            return d
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        }
        dir = d.parent();
    }
    root.display().to_string()
}

fn parse(file: &Path) -> Result<syn::File, String> {
    let text =
        fs::read_to_string(file).map_err(|e| format!("{}: cannot read: {e}", file.display()))?;
    syn::parse_file(&text).map_err(|e| {
        let at = e.span().start();
        format!(
            "{}:{}:{}: cannot parse: {e}",
            file.display(),
            at.line,
            at.column + 1
        )
    })
}

struct Loader {
    modules: Vec<Module>,
}

impl Loader {
    /// Adds the module `path` (code `items` in `file`; `mod x;` inside looks in `dir`), its child
    /// modules, and the references of its code; returns its index.
    fn module(
        &mut self,
        path: Vec<String>,
        file: &Path,
        dir: &Path,
        items: &[Item],
    ) -> Result<usize, String> {
        let me = self.modules.len();
        self.modules.push(Module {
            path: path.clone(),
            file: file.to_path_buf(),
            children: BTreeMap::new(),
            refs: Vec::new(),
        });
        let mut collect = Collect { refs: Vec::new() };
        for item in items {
            let Item::Mod(m) = item else {
                collect.visit_item(item);
                continue;
            };
            if test_only(&m.attrs) {
                continue;
            }
            let name = m.ident.to_string();
            let mut child_path = path.clone();
            child_path.push(name.clone());
            let explicit = path_attr(&m.attrs);
            let child = if let Some((_, content)) = &m.content {
                let child_dir = match &explicit {
                    Some(p) => dir.join(p),
                    None => dir.join(&name),
                };
                self.module(child_path, file, &child_dir, content)?
            } else {
                let child_file = match &explicit {
                    Some(p) => dir.join(p),
                    None => find_module_file(dir, &name).ok_or_else(|| {
                        format!(
                            "{}:{}: no file for `mod {name};` (looked for {} and {})",
                            file.display(),
                            m.ident.span().start().line,
                            dir.join(format!("{name}.rs")).display(),
                            dir.join(&name).join("mod.rs").display(),
                        )
                    })?,
                };
                let parsed = parse(&child_file)?;
                if test_only(&parsed.attrs) {
                    continue;
                }
                // `x/mod.rs` and a `#[path]` file keep their children beside them; `x.rs` in `x/`.
                let child_dir = if explicit.is_some() || child_file.ends_with("mod.rs") {
                    child_file.parent().unwrap_or(Path::new("")).to_path_buf()
                } else {
                    dir.join(&name)
                };
                self.module(child_path, &child_file, &child_dir, &parsed.items)?
            };
            self.modules[me].children.insert(name, child);
        }
        self.modules[me].refs = collect.refs;
        Ok(me)
    }
}

fn find_module_file(dir: &Path, name: &str) -> Option<PathBuf> {
    [
        dir.join(format!("{name}.rs")),
        dir.join(name).join("mod.rs"),
    ]
    .into_iter()
    .find(|f| f.is_file())
}

/// The value of a `#[path = "..."]` attribute.
fn path_attr(attrs: &[Attribute]) -> Option<String> {
    attrs.iter().find_map(|a| match &a.meta {
        Meta::NameValue(nv) if nv.path.is_ident("path") => match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Some(s.value()),
            _ => None,
        },
        _ => None,
    })
}

/// Whether the attributes hold a `cfg` that can only be true in a test, loom or `fake` build.
pub fn test_only(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg") && a.parse_args::<Meta>().is_ok_and(|m| only_in_tests(&m))
    })
}

/// `test`, `loom` and `feature = "fake"` are true only in tests and models; `all(..)` is when any
/// part is; `any(..)` when every part is; `not(..)` and everything else can hold in a normal build.
fn only_in_tests(meta: &Meta) -> bool {
    match meta {
        Meta::Path(p) => p.is_ident("test") || p.is_ident("loom"),
        Meta::NameValue(nv) => {
            nv.path.is_ident("feature")
                && matches!(&nv.value, syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) if s.value() == "fake")
        }
        Meta::List(list) => {
            let Ok(parts) = list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
            else {
                return false;
            };
            if list.path.is_ident("all") {
                parts.iter().any(only_in_tests)
            } else if list.path.is_ident("any") {
                !parts.is_empty() && parts.iter().all(only_in_tests)
            } else {
                false
            }
        }
    }
}

/// Collects the references of one module's items (not those of its child modules).
struct Collect {
    refs: Vec<Ref>,
}

impl Collect {
    fn push(&mut self, segs: Vec<String>, global: bool, line: usize, kind: RefKind) {
        self.refs.push(Ref {
            segs,
            global,
            line,
            kind,
        });
    }

    /// Flattens a `use` tree into one reference per leaf, at the leaf's line.
    fn use_tree(&mut self, prefix: &mut Vec<String>, global: bool, tree: &UseTree) {
        match tree {
            UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, global, &p.tree);
                prefix.pop();
            }
            UseTree::Name(n) => self.use_leaf(prefix, &n.ident, &n.ident, global),
            UseTree::Rename(r) => self.use_leaf(prefix, &r.ident, &r.rename, global),
            UseTree::Glob(g) => {
                let line = g.star_token.span.start().line;
                self.push(prefix.clone(), global, line, RefKind::UseGlob);
            }
            UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, global, t);
                }
            }
        }
    }

    fn use_leaf(&mut self, prefix: &[String], ident: &syn::Ident, bind: &syn::Ident, global: bool) {
        let mut segs = prefix.to_vec();
        let mut bind = bind.to_string();
        if ident == "self" && !segs.is_empty() {
            // `use a::b::{self}` binds `b`; `use a::b::{self as c}` binds `c`.
            if bind == "self" {
                bind = segs.last().cloned().unwrap_or_default();
            }
        } else {
            segs.push(ident.to_string());
        }
        self.push(
            segs,
            global,
            ident.span().start().line,
            RefKind::UseName(bind),
        );
    }

    /// Records the `a::b` sequences in a macro's tokens (not `$crate::..`, which names the crate
    /// where the macro is expanded, nor `$var`).
    fn tokens(&mut self, stream: TokenStream) {
        let tokens: Vec<TokenTree> = stream.into_iter().collect();
        let colons = |i: usize| {
            matches!((tokens.get(i), tokens.get(i + 1)), (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b)))
                if a.as_char() == ':' && a.spacing() == Spacing::Joint && b.as_char() == ':')
        };
        let mut i = 0;
        while i < tokens.len() {
            match &tokens[i] {
                TokenTree::Group(g) => {
                    self.tokens(g.stream());
                    i += 1;
                }
                TokenTree::Ident(first) => {
                    let after_dollar = i > 0
                        && matches!(&tokens[i - 1], TokenTree::Punct(p) if p.as_char() == '$');
                    let after_colons = i >= 2 && colons(i - 2);
                    // `::name` with nothing path-like before the `::` is another crate's path.
                    let global = after_colons
                        && (i < 3
                            || !matches!(&tokens[i - 3], TokenTree::Ident(_))
                                && !matches!(&tokens[i - 3], TokenTree::Punct(p) if p.as_char() == '>'));
                    if after_dollar || (after_colons && !global) {
                        i += 1;
                        continue;
                    }
                    let mut segs = vec![first.to_string()];
                    let mut j = i + 1;
                    while colons(j) {
                        let Some(TokenTree::Ident(next)) = tokens.get(j + 2) else {
                            break;
                        };
                        segs.push(next.to_string());
                        j += 3;
                    }
                    if segs.len() > 1 || global {
                        self.push(segs, global, first.span().start().line, RefKind::Tokens);
                    }
                    i = j;
                }
                TokenTree::Punct(_) | TokenTree::Literal(_) => i += 1,
            }
        }
    }
}

/// The attributes of an item, impl item, trait item or foreign item, whichever variant it is
/// (`Verbatim` and the like carry none): `attrs_of!(item, ImplItem: Const, Fn, Type, Macro)`.
macro_rules! attrs_of {
    ($e:expr, $kind:ident: $($variant:ident),*) => {
        match $e {
            $(syn::$kind::$variant(i) => &i.attrs[..],)*
            _ => &[],
        }
    };
}

fn item_attrs(item: &Item) -> &[Attribute] {
    attrs_of!(item, Item: Const, Enum, ExternCrate, Fn, ForeignMod, Impl, Macro, Mod, Static,
        Struct, Trait, TraitAlias, Type, Union, Use)
}

/// `Visit` methods for nodes with an `attrs` field that walk the node unless it is test-only.
macro_rules! skip_test_only {
    ($($method:ident($node:ty);)*) => {
        $(fn $method(&mut self, node: &'ast $node) {
            if !test_only(&node.attrs) {
                visit::$method(self, node);
            }
        })*
    };
}

impl<'ast> Visit<'ast> for Collect {
    fn visit_item(&mut self, item: &'ast Item) {
        if test_only(item_attrs(item)) {
            return;
        }
        match item {
            Item::Use(u) => self.use_tree(&mut Vec::new(), u.leading_colon.is_some(), &u.tree),
            Item::ExternCrate(e) => {
                self.push(
                    vec![e.ident.to_string()],
                    true,
                    e.ident.span().start().line,
                    RefKind::ExternCrate,
                );
            }
            _ => visit::visit_item(self, item),
        }
    }

    fn visit_impl_item(&mut self, item: &'ast syn::ImplItem) {
        if !test_only(attrs_of!(item, ImplItem: Const, Fn, Type, Macro)) {
            visit::visit_impl_item(self, item);
        }
    }

    fn visit_trait_item(&mut self, item: &'ast syn::TraitItem) {
        if !test_only(attrs_of!(item, TraitItem: Const, Fn, Type, Macro)) {
            visit::visit_trait_item(self, item);
        }
    }

    fn visit_foreign_item(&mut self, item: &'ast syn::ForeignItem) {
        if !test_only(attrs_of!(item, ForeignItem: Fn, Static, Type, Macro)) {
            visit::visit_foreign_item(self, item);
        }
    }

    fn visit_stmt(&mut self, stmt: &'ast syn::Stmt) {
        let attrs: &[Attribute] = match stmt {
            syn::Stmt::Local(l) => &l.attrs,
            syn::Stmt::Macro(m) => &m.attrs,
            syn::Stmt::Item(_) | syn::Stmt::Expr(..) => &[],
        };
        if !test_only(attrs) {
            visit::visit_stmt(self, stmt);
        }
    }

    skip_test_only! {
        visit_field(syn::Field);
        visit_variant(syn::Variant);
        visit_arm(syn::Arm);
        visit_field_value(syn::FieldValue);
    }

    /// Attributes (doc comments, `cfg`, `derive`, lint levels) name no item of the crate.
    fn visit_attribute(&mut self, _: &'ast Attribute) {}

    /// `pub(super)` and `pub(in crate::a)` say who may see an item; they import nothing.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if let Some(first) = path.segments.first() {
            let segs = path.segments.iter().map(|s| s.ident.to_string()).collect();
            self.push(
                segs,
                path.leading_colon.is_some(),
                first.ident.span().start().line,
                RefKind::Path,
            );
        }
        visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.visit_path(&mac.path);
        self.tokens(mac.tokens.clone());
    }
}
