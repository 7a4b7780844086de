//! `layers`: fails on an import circle between the modules of a crate, and on a path into a crate
//! that a crate must not use (`just lint` runs it on rtos, shell, app and bsp).
//!
//! ```text
//! layers <crate-root-file>... [--forbid-crate NAME]... [--graph]
//! ```
//!
//! It reads a crate from its root file (`rtos/src/lib.rs`) with `syn`, following `mod` declarations
//! (`foo.rs`, `foo/mod.rs`, `#[path]`, inline `mod x { .. }`). Every file and every inline `mod`
//! block is a module, named by its path (`crate::sched::thread`).
//!
//! # What counts as an import (an edge A -> B)
//! A module depends on another when its code *names an item of it*; the layering is about those
//! names, so:
//! - each leaf of a `use` tree: `crate::..`, `super::..`, `self::..`, and uniform paths whose first
//!   name is a child module or a name an earlier `use` brought in. `use super::*` is an edge to the
//!   parent; a re-export (`pub use child::X` in the parent) is parent -> child, because whoever
//!   names `parent::X` goes through the parent;
//! - every `syn::Path` in the module's code (types, expressions, patterns, bounds, impl headers,
//!   macro names), its first name resolved the same way;
//! - `a::b` sequences in a macro invocation's tokens (`format!("{}", crate::x::y())`,
//!   `matches!(..)`), which `syn` does not parse. `$crate::..` in a `macro_rules!` body is not one:
//!   it names the crate where the macro is expanded, not a module the definition imports.
//!
//! A path belongs to the module of its longest prefix that is a module
//! (`crate::sched::thread::State` -> `crate::sched::thread`, `super::Foo` -> the parent). Paths into
//! other crates (`core::`, `alloc::`, `spin::`, `::loom::`, `rtos::` from another crate) and local
//! names are not part of the graph, and a module naming itself is not an edge.
//!
//! What is *not* an edge: a `mod child;` declaration (owning a child is not importing it), a
//! visibility (`pub(super)`, `pub(in crate::a)`), and attributes: doc comments and their links,
//! `derive`, `cfg`, lint levels.
//!
//! Code outside the normal build is skipped: an item, statement, field, arm or module whose `cfg`
//! can only hold in a test, a loom model or the rtos `fake` port (`test`, `loom`, `feature =
//! "fake"`, inside `all(..)`, or every part of an `any(..)`; never `not(..)`). Test modules
//! (`#[cfg(test)] mod tests { use super::*; }`) would otherwise make every module a circle with its
//! tests.
//!
//! # What it reports
//! Each strongly connected component of more than one module, as a shortest circle through it,
//! with the file and line where each edge is first written (and the component's other modules and
//! edges when it holds more than the circle). With `--forbid-crate NAME`, each `use NAME..`,
//! `extern crate NAME` or path starting with `NAME::` that is not a local name. Exit status 1 on
//! any error, 2 on bad usage or a file it cannot read or parse, 0 otherwise with a one-line summary
//! per crate. `--graph` also prints each crate's edges, one `A -> B` per line.

mod graph;
mod load;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: layers <crate-root-file>... [--forbid-crate NAME]... [--graph]";

fn main() -> ExitCode {
    let mut roots = Vec::new();
    let mut forbid = Vec::new();
    let mut graph = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--forbid-crate" => match args.next() {
                Some(name) => forbid.push(name),
                None => return usage("--forbid-crate needs a crate name"),
            },
            "--graph" => graph = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            a if a.starts_with('-') => return usage(&format!("unknown option {a}")),
            _ => roots.push(PathBuf::from(arg)),
        }
    }
    if roots.is_empty() {
        return usage("no crate root file given");
    }
    let mut failed = false;
    for root in &roots {
        let krate = match load::load_crate(root) {
            Ok(k) => k,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        let report = graph::check(&krate, &forbid);
        if graph {
            print!("{}", report.graph());
        }
        if report.ok() {
            println!("{}", report.summary());
        } else {
            failed = true;
            eprint!("{}", report.errors());
            eprintln!("{}", report.summary());
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn usage(why: &str) -> ExitCode {
    eprintln!("layers: {why}\n{USAGE}");
    ExitCode::from(2)
}
