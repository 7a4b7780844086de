//! Resolving a crate's references to modules: the import graph, its circles, forbidden crates.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;

use crate::load::{Crate, Module, Ref, RefKind};

/// Where an edge is first written: file and line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loc {
    pub file: String,
    pub line: usize,
}

/// What one crate's check found.
pub struct Report {
    pub crate_name: String,
    /// Module names (`crate::a::b`), by index.
    pub modules: Vec<String>,
    /// `from -> to` with the first place `from` names `to`.
    pub edges: BTreeMap<(usize, usize), Loc>,
    /// One circle per strongly connected component of more than one module: the modules in
    /// order, the last one importing the first.
    pub circles: Vec<Circle>,
    /// Paths into a forbidden crate.
    pub forbidden: Vec<Forbidden>,
}

pub struct Circle {
    pub path: Vec<usize>,
    /// All modules of the component (the circle shows a shortest way round through its first).
    pub component: Vec<usize>,
}

pub struct Forbidden {
    pub krate: String,
    pub module: usize,
    pub path: String,
    pub loc: Loc,
}

/// The names a module's code can start a path with, besides `crate`, `self`, `super`: its `use`
/// bindings, its child modules, and the child modules of the modules it glob-imports.
#[derive(Default)]
struct Scope {
    binds: BTreeMap<String, Vec<String>>,
    globs: BTreeSet<usize>,
}

struct Resolver<'a> {
    modules: &'a [Module],
    scopes: Vec<Scope>,
}

impl Resolver<'_> {
    fn new(modules: &[Module]) -> Resolver<'_> {
        let mut r = Resolver {
            modules,
            scopes: modules.iter().map(|_| Scope::default()).collect(),
        };
        // A `use` may start with a name another `use` brings in (`use crate::a; use a::b;`): add
        // bindings until nothing changes (names are only ever added, so this ends).
        loop {
            let mut changed = false;
            for (m, module) in modules.iter().enumerate() {
                for rf in &module.refs {
                    let Some(abs) = r.absolute(m, rf) else {
                        continue;
                    };
                    match &rf.kind {
                        RefKind::UseName(name)
                            if name != "_" && !r.scopes[m].binds.contains_key(name) =>
                        {
                            r.scopes[m].binds.insert(name.clone(), abs);
                            changed = true;
                        }
                        RefKind::UseGlob => {
                            if let Some(target) = r.module_at(&abs) {
                                changed |= r.scopes[m].globs.insert(target);
                            }
                        }
                        _ => {}
                    }
                }
            }
            if !changed {
                return r;
            }
        }
    }

    /// The absolute path (`crate::..`) a reference in module `m` stands for, or `None` for a path
    /// that starts outside the crate (another crate, a prelude or local name, a generic).
    fn absolute(&self, m: usize, rf: &Ref) -> Option<Vec<String>> {
        if rf.global || rf.kind == RefKind::ExternCrate {
            return None;
        }
        let segs = &rf.segs;
        let first = segs.first()?.as_str();
        let (mut abs, rest) = match first {
            "crate" => (vec!["crate".to_string()], 1),
            "self" | "super" => {
                let mut abs = self.modules[m].path.clone();
                let mut i = 0;
                while let Some(s) = segs.get(i).filter(|s| *s == "self" || *s == "super") {
                    if s == "super" {
                        if abs.len() == 1 {
                            return None;
                        }
                        abs.pop();
                    }
                    i += 1;
                }
                (abs, i)
            }
            name => {
                let scope = &self.scopes[m];
                let child = || {
                    self.modules[m].children.get(name).or_else(|| {
                        scope
                            .globs
                            .iter()
                            .find_map(|&g| self.modules[g].children.get(name))
                    })
                };
                // A module lives in the type namespace, where a `use` of the same name cannot:
                // a longer path starts with the module, a lone name is the `use`d value.
                let found = if segs.len() > 1 {
                    child()
                        .map(|&c| self.modules[c].path.clone())
                        .or_else(|| scope.binds.get(name).cloned())
                } else {
                    scope
                        .binds
                        .get(name)
                        .cloned()
                        .or_else(|| child().map(|&c| self.modules[c].path.clone()))
                };
                (found?, 1)
            }
        };
        abs.extend(segs[rest..].iter().cloned());
        Some(abs)
    }

    /// The module whose absolute path is exactly `abs`.
    fn module_at(&self, abs: &[String]) -> Option<usize> {
        let mut m = 0;
        for seg in abs.get(1..)? {
            m = *self.modules[m].children.get(seg)?;
        }
        Some(m)
    }

    /// The module of the longest prefix of `abs` that is a module; with `whole` false the whole
    /// path cannot be it (a type, value or pattern path names an item, never a module).
    fn owner(&self, abs: &[String], whole: bool) -> usize {
        let end = if whole {
            abs.len()
        } else {
            abs.len().saturating_sub(1)
        };
        let mut m = 0;
        for seg in abs.get(1..end).unwrap_or_default() {
            match self.modules[m].children.get(seg) {
                Some(&c) => m = c,
                None => break,
            }
        }
        m
    }
}

/// Builds the graph of `krate`, finds its circles and its paths into `forbid` crates.
pub fn check(krate: &Crate, forbid: &[String]) -> Report {
    let modules = &krate.modules;
    let resolver = Resolver::new(modules);
    let mut edges: BTreeMap<(usize, usize), Loc> = BTreeMap::new();
    let mut forbidden = Vec::new();
    for (m, module) in modules.iter().enumerate() {
        for rf in &module.refs {
            let loc = Loc {
                file: module.file.display().to_string(),
                line: rf.line,
            };
            // A value path `self` (a method's receiver) names no item.
            let keyword = |s: &String| s == "self" || s == "super" || s == "crate";
            let receiver = rf.kind == RefKind::Path && rf.segs.last().is_some_and(keyword);
            let abs = if receiver {
                None
            } else {
                resolver.absolute(m, rf)
            };
            // In code, a path that resolves to a whole module is a local binding that shadows a
            // module's name (`let term = ...` after `use crate::term`): modules are no values.
            let shadowed = rf.kind == RefKind::Path
                && abs
                    .as_ref()
                    .is_some_and(|a| resolver.module_at(a).is_some());
            if let Some(abs) = abs.as_ref().filter(|_| !shadowed) {
                let whole = rf.kind != RefKind::Path;
                let to = resolver.owner(abs, whole);
                if to != m {
                    let e = edges.entry((m, to)).or_insert_with(|| loc.clone());
                    if loc.line < e.line {
                        *e = loc.clone();
                    }
                }
            }
            // A lone name in code is a local or a value, never a crate; a `use` or `extern
            // crate` of one is.
            let may_be_crate = rf.segs.len() > 1 || rf.kind != RefKind::Path;
            if abs.is_none()
                && may_be_crate
                && let Some(first) = rf.segs.first()
                && forbid.contains(first)
            {
                forbidden.push(Forbidden {
                    krate: first.clone(),
                    module: m,
                    path: rf.segs.join("::"),
                    loc,
                });
            }
        }
    }
    let circles = circles(modules, &edges);
    Report {
        crate_name: krate.name.clone(),
        modules: modules.iter().map(Module::name).collect(),
        edges,
        circles,
        forbidden,
    }
}

/// One circle for each strongly connected component of more than one module (Tarjan).
fn circles(modules: &[Module], edges: &BTreeMap<(usize, usize), Loc>) -> Vec<Circle> {
    let n = modules.len();
    let mut next: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(a, b) in edges.keys() {
        next[a].push(b);
    }
    let mut t = Tarjan {
        next: &next,
        index: vec![None; n],
        low: vec![0; n],
        on: vec![false; n],
        stack: vec![],
        count: 0,
        sccs: vec![],
    };
    for v in 0..n {
        if t.index[v].is_none() {
            t.visit(v);
        }
    }
    let name = |m: usize| modules[m].name();
    let mut out: Vec<Circle> = t
        .sccs
        .into_iter()
        .filter(|c| c.len() > 1)
        .map(|mut component| {
            component.sort_by_key(|&m| name(m));
            let path = shortest_circle(&next, component[0], &component);
            Circle { path, component }
        })
        .collect();
    out.sort_by_key(|c| name(c.path[0]));
    out
}

struct Tarjan<'a> {
    next: &'a [Vec<usize>],
    index: Vec<Option<usize>>,
    low: Vec<usize>,
    on: Vec<bool>,
    stack: Vec<usize>,
    count: usize,
    sccs: Vec<Vec<usize>>,
}

impl Tarjan<'_> {
    fn visit(&mut self, v: usize) {
        self.index[v] = Some(self.count);
        self.low[v] = self.count;
        self.count += 1;
        self.stack.push(v);
        self.on[v] = true;
        for &w in &self.next[v] {
            match self.index[w] {
                None => {
                    self.visit(w);
                    self.low[v] = self.low[v].min(self.low[w]);
                }
                Some(iw) if self.on[w] => self.low[v] = self.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(self.low[v]) == self.index[v] {
            let mut scc = Vec::new();
            while let Some(w) = self.stack.pop() {
                self.on[w] = false;
                scc.push(w);
                if w == v {
                    break;
                }
            }
            self.sccs.push(scc);
        }
    }
}

/// A shortest way from `start` back to itself inside `component` (breadth first): the modules
/// from `start` on, the last one importing `start`.
fn shortest_circle(next: &[Vec<usize>], start: usize, component: &[usize]) -> Vec<usize> {
    let mut from: BTreeMap<usize, usize> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for &w in &next[v] {
            if w == start {
                let mut path = vec![v];
                let mut cur = v;
                while let Some(&p) = from.get(&cur) {
                    path.push(p);
                    cur = p;
                }
                path.reverse();
                return path;
            }
            if component.contains(&w) && !from.contains_key(&w) {
                from.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    vec![start]
}

impl Report {
    /// Whether the crate passed.
    pub fn ok(&self) -> bool {
        self.circles.is_empty() && self.forbidden.is_empty()
    }

    /// The error lines, one per circle (with the rest of its component when larger) and one per
    /// forbidden path.
    pub fn errors(&self) -> String {
        let mut out = String::new();
        for c in &self.circles {
            let _ = write!(
                out,
                "error: import circle in {}: {}",
                self.crate_name, self.modules[c.path[0]]
            );
            for (i, &from) in c.path.iter().enumerate() {
                let to = c.path[(i + 1) % c.path.len()];
                let loc = &self.edges[&(from, to)];
                let _ = write!(out, " -> {} ({}:{})", self.modules[to], loc.file, loc.line);
            }
            out.push('\n');
            if c.component.len() > c.path.len() {
                let names: Vec<&str> = c
                    .component
                    .iter()
                    .map(|&m| self.modules[m].as_str())
                    .collect();
                let _ = writeln!(
                    out,
                    "  note: the same circle of imports holds {} modules: {}",
                    names.len(),
                    names.join(", ")
                );
                for ((a, b), loc) in &self.edges {
                    if c.component.contains(a) && c.component.contains(b) {
                        let _ = writeln!(
                            out,
                            "    {} -> {} ({}:{})",
                            self.modules[*a], self.modules[*b], loc.file, loc.line
                        );
                    }
                }
            }
        }
        for f in &self.forbidden {
            let _ = writeln!(
                out,
                "error: {}:{}: {} ({}) names `{}`, which {} must not use: {}",
                f.loc.file,
                f.loc.line,
                self.modules[f.module],
                self.crate_name,
                f.krate,
                self.crate_name,
                f.path
            );
        }
        out
    }

    /// The one-line summary.
    pub fn summary(&self) -> String {
        let circles = match self.circles.len() {
            0 => "no circle".to_string(),
            n => count(n, "import circle"),
        };
        let mut s = format!(
            "layers: {}: {}, {}, {circles}",
            self.crate_name,
            count(self.modules.len(), "module"),
            count(self.edges.len(), "import"),
        );
        if !self.forbidden.is_empty() {
            let _ = write!(
                s,
                ", {} into a forbidden crate",
                count(self.forbidden.len(), "path")
            );
        }
        s
    }

    /// The graph, one `A -> B` per line.
    pub fn graph(&self) -> String {
        let mut out = format!("# {}\n", self.crate_name);
        for (a, b) in self.edges.keys() {
            let _ = writeln!(out, "{} -> {}", self.modules[*a], self.modules[*b]);
        }
        out
    }
}

/// `1 module`, `2 modules`.
fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}
