//! Small crates written to a temporary directory, each checked as `just lint` would.

use std::fs;
use std::path::PathBuf;

use crate::graph::{Report, check};
use crate::load::load_crate;

/// A crate `fix` in `<tmp>/layers-<test>-<pid>` with the given files under `src/`.
struct Fixture {
    dir: PathBuf,
}

impl Fixture {
    fn new(test: &str, files: &[(&str, &str)]) -> Fixture {
        let dir = std::env::temp_dir().join(format!("layers-{test}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        for (path, text) in files {
            let file = dir.join("src").join(path);
            fs::create_dir_all(file.parent().unwrap()).unwrap();
            fs::write(file, text).unwrap();
        }
        fs::write(
            dir.join("Cargo.toml"),
            "[package]\nname = \"fix\"\nversion = \"0.1.0\"\n",
        )
        .unwrap();
        Fixture { dir }
    }

    fn check(&self, forbid: &[&str]) -> Report {
        let krate = load_crate(&self.dir.join("src/lib.rs")).unwrap();
        check(
            &krate,
            &forbid.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
    }

    /// `crate::a -> crate::b` edges, sorted.
    fn edges(&self) -> Vec<String> {
        let r = self.check(&[]);
        r.edges
            .keys()
            .map(|(a, b)| format!("{} -> {}", r.modules[*a], r.modules[*b]))
            .collect()
    }

    /// The circles as module names, each from its first module.
    fn circles(&self) -> Vec<Vec<String>> {
        let r = self.check(&[]);
        r.circles
            .iter()
            .map(|c| c.path.iter().map(|&m| r.modules[m].clone()).collect())
            .collect()
    }

    fn file(&self, path: &str) -> String {
        self.dir.join("src").join(path).display().to_string()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn two_file_circle_through_use() {
    let f = Fixture::new(
        "use",
        &[
            ("lib.rs", "mod a;\nmod b;\n"),
            (
                "a.rs",
                "//! A.\n\nuse crate::b::g;\n\npub fn f() {\n    g();\n}\n",
            ),
            (
                "b.rs",
                "use crate::{\n    a::f,\n};\npub fn g() {\n    f();\n}\n",
            ),
        ],
    );
    let r = f.check(&[]);
    assert!(!r.ok());
    assert_eq!(f.circles(), vec![names(&["crate::a", "crate::b"])]);
    assert_eq!(
        r.errors(),
        format!(
            "error: import circle in fix: crate::a -> crate::b ({}:3) -> crate::a ({}:2)\n",
            f.file("a.rs"),
            f.file("b.rs")
        )
    );
    assert_eq!(
        r.summary(),
        "layers: fix: 3 modules, 2 imports, 1 import circle"
    );
}

#[test]
fn circle_through_expression_paths() {
    let f = Fixture::new(
        "expr",
        &[
            ("lib.rs", "pub mod a;\npub mod b;\n"),
            ("a.rs", "pub fn f() -> u32 {\n    crate::b::g() + 1\n}\n"),
            // A type path in a signature and a pattern path are the same kind of name.
            (
                "b.rs",
                "pub fn g() -> u32 {\n    match 0 { crate::a::ZERO => 0, _ => 1 }\n}\n",
            ),
        ],
    );
    assert_eq!(f.circles(), vec![names(&["crate::a", "crate::b"])]);
}

#[test]
fn parent_child_circle_through_reexport() {
    let f = Fixture::new(
        "reexport",
        &[
            ("lib.rs", "pub mod p;\n"),
            ("p/mod.rs", "mod child;\npub use child::X;\npub struct Y;\n"),
            ("p/child.rs", "use super::Y;\npub struct X(pub Y);\n"),
        ],
    );
    assert_eq!(f.circles(), vec![names(&["crate::p", "crate::p::child"])]);
    let r = f.check(&[]);
    assert!(
        r.errors()
            .contains(&format!("crate::p::child ({}:2)", f.file("p/mod.rs")))
    );
}

#[test]
fn circle_hidden_in_macro_tokens() {
    let f = Fixture::new(
        "macro",
        &[
            ("lib.rs", "mod a;\nmod b;\n"),
            (
                "a.rs",
                "pub fn f() -> bool {\n    matches!(crate::b::state(), crate::b::State::On)\n}\n",
            ),
            (
                "b.rs",
                "pub fn g() -> String {\n    format!(\"{}\", super::a::f())\n}\n",
            ),
        ],
    );
    assert_eq!(f.circles(), vec![names(&["crate::a", "crate::b"])]);
}

#[test]
fn dollar_crate_in_macro_rules_is_not_an_edge() {
    let f = Fixture::new(
        "dollar",
        &[
            ("lib.rs", "pub mod a;\npub mod b;\n"),
            ("a.rs", "pub fn f() {\n    crate::b::g();\n}\n"),
            (
                "b.rs",
                "pub fn g() {}\n#[macro_export]\nmacro_rules! m {\n    ($x:expr) => { $crate::a::f($x) };\n}\n",
            ),
        ],
    );
    assert_eq!(f.edges(), names(&["crate::a -> crate::b"]));
    assert!(f.circles().is_empty());
}

#[test]
fn test_only_code_makes_no_circle() {
    let f = Fixture::new(
        "cfgtest",
        &[
            (
                "lib.rs",
                "pub mod a;\npub mod b;\n#[cfg(test)]\nmod tests;\n\
                 mod only {\n    #![cfg(test)]\n    use crate::a::*;\n}\nmod model;\n",
            ),
            ("tests.rs", "use crate::a::*;\nuse crate::b::*;\n"),
            ("model.rs", "#![cfg(loom)]\nuse crate::b::*;\n"),
            (
                "a.rs",
                "pub mod inner;\npub use inner::Thing;\npub fn f() {\n    crate::b::g();\n}\n\
                 #[cfg(test)]\nmod tests {\n    use super::*;\n    #[test]\n    fn t() {\n        f();\n    }\n}\n",
            ),
            (
                "a/inner.rs",
                "pub struct Thing;\n#[cfg(test)]\nmod tests {\n    use super::super::*;\n}\n\
                 #[cfg(all(test, loom))]\nmod loom {\n    use crate::a::f;\n}\n",
            ),
            // `fake.rs` does not exist: its `mod` is left out before its file is looked up.
            (
                "b.rs",
                "pub fn g() {}\n#[cfg(test)]\nuse crate::a::f;\n\
                 #[cfg(any(test, feature = \"fake\"))]\npub fn fake() {\n    crate::a::f();\n}\n\
                 #[cfg(loom)]\nfn model() {\n    crate::a::f();\n}\n\
                 #[cfg(all(any(test, feature = \"fake\"), not(loom)))]\npub mod fake;\n\
                 pub struct S {\n    #[cfg(test)]\n    pub t: crate::a::Thing,\n}\n\
                 impl S {\n    #[cfg(test)]\n    fn t() {\n        crate::a::f();\n    }\n}\n\
                 pub fn h() {\n    #[cfg(test)]\n    let _ = crate::a::f();\n}\n",
            ),
        ],
    );
    let r = f.check(&[]);
    assert!(r.ok(), "{}", r.errors());
    assert_eq!(
        f.edges(),
        names(&["crate::a -> crate::a::inner", "crate::a -> crate::b"])
    );
    assert_eq!(
        r.modules,
        names(&["crate", "crate::a", "crate::a::inner", "crate::b"])
    );
}

#[test]
fn not_test_code_still_counts() {
    let f = Fixture::new(
        "cfgnot",
        &[
            ("lib.rs", "mod a;\nmod b;\nmod c;\nmod d;\nmod e;\n"),
            (
                "a.rs",
                "pub fn f() {}\n#[cfg(not(loom))]\nuse crate::b::B;\n\
                 #[cfg(any(test, unix))]\nfn h() {\n    crate::c::f();\n}\n\
                 #[cfg(all(not(test), target_os = \"none\"))]\nfn k() {\n    crate::d::f();\n}\n\
                 #[cfg(not(any(test, loom)))]\nstatic X: crate::e::T = crate::e::T;\n",
            ),
            ("b.rs", "pub struct B;\nfn g() {\n    crate::a::f();\n}\n"),
            ("c.rs", "pub fn f() {}\n"),
            ("d.rs", "pub fn f() {}\n"),
            ("e.rs", "pub struct T;\n"),
        ],
    );
    assert_eq!(
        f.edges(),
        names(&[
            "crate::a -> crate::b",
            "crate::a -> crate::c",
            "crate::a -> crate::d",
            "crate::a -> crate::e",
            "crate::b -> crate::a"
        ])
    );
    assert_eq!(f.circles(), vec![names(&["crate::a", "crate::b"])]);
}

#[test]
fn parent_reexporting_a_child_that_does_not_use_it_is_no_circle() {
    let f = Fixture::new(
        "parent",
        &[
            ("lib.rs", "pub mod p;\npub use p::Y;\n"),
            (
                "p.rs",
                "//! Uses [`crate::p::child::X`] and [`super::p`] only in docs.\n\
                 pub mod child;\npub use child::X;\npub(super) struct Y(pub(in crate::p) X);\n\
                 impl Y {\n    pub fn get(&self) -> &X {\n        &self.0\n    }\n}\n",
            ),
            (
                "p/child.rs",
                "/// Not [`super::Y`].\n#[derive(Debug)]\npub struct X;\n",
            ),
        ],
    );
    let r = f.check(&[]);
    assert!(r.ok(), "{}", r.errors());
    assert_eq!(
        f.edges(),
        names(&["crate -> crate::p", "crate::p -> crate::p::child"])
    );
    assert_eq!(r.summary(), "layers: fix: 3 modules, 2 imports, no circle");
}

#[test]
fn uniform_paths_and_nested_modules() {
    let f = Fixture::new(
        "uniform",
        &[
            ("lib.rs", "mod a;\nmod b;\nmod c {\n    pub mod d;\n}\n"),
            ("c/d.rs", "pub fn h() {}\n"),
            // `a` names `b` through a name an earlier `use` brought in.
            (
                "a/mod.rs",
                "use crate::b;\nuse b::deep::Thing;\npub fn f(_: Thing) {}\n",
            ),
            (
                "b.rs",
                "pub mod deep {\n    pub struct Thing;\n    pub fn k() {\n        crate::c::d::h();\n    }\n}\n",
            ),
        ],
    );
    let r = f.check(&[]);
    assert_eq!(
        r.modules,
        names(&[
            "crate",
            "crate::a",
            "crate::b",
            "crate::b::deep",
            "crate::c",
            "crate::c::d"
        ])
    );
    assert_eq!(
        f.edges(),
        names(&[
            "crate::a -> crate::b",
            "crate::a -> crate::b::deep",
            "crate::b::deep -> crate::c::d"
        ])
    );
}

#[test]
fn glob_import_brings_child_modules_into_scope() {
    let f = Fixture::new(
        "glob",
        &[
            ("lib.rs", "mod a;\nmod b;\n"),
            ("a.rs", "pub mod x;\n"),
            ("a/x.rs", "pub fn f() {\n    crate::b::g();\n}\n"),
            ("b.rs", "use crate::a::*;\npub fn g() {\n    x::f();\n}\n"),
        ],
    );
    assert_eq!(f.circles(), vec![names(&["crate::a::x", "crate::b"])]);
}

#[test]
fn forbidden_crate() {
    let f = Fixture::new(
        "forbid",
        &[
            ("lib.rs", "extern crate shell;\nmod a;\nmod b;\n"),
            (
                "a.rs",
                "use shell::Shell;\npub fn f(shell: u32) -> u32 {\n    let _ = ::shell::run();\n\
                 let _ = format!(\"{}\", shell::VERSION);\n    shell + 1\n}\n",
            ),
            // A local module named like the crate is not the crate.
            (
                "b.rs",
                "mod shell {\n    pub fn run() {}\n}\npub fn g() {\n    shell::run();\n}\n",
            ),
        ],
    );
    let r = f.check(&["shell"]);
    assert!(!r.ok());
    let lines: Vec<(String, usize)> = r
        .forbidden
        .iter()
        .map(|x| (x.path.clone(), x.loc.line))
        .collect();
    assert_eq!(
        lines,
        vec![
            ("shell".to_string(), 1),
            ("shell::Shell".to_string(), 1),
            ("shell::run".to_string(), 3),
            ("shell::VERSION".to_string(), 4),
        ]
    );
    assert!(r.errors().contains(&format!(
        "error: {}:1: crate::a (fix) names `shell`",
        f.file("a.rs")
    )));
    assert!(f.check(&[]).ok());
}

#[test]
fn self_and_visibility_are_not_edges() {
    let f = Fixture::new(
        "selfvis",
        &[
            ("lib.rs", "pub mod p;\n"),
            ("p.rs", "pub mod c;\npub fn f() {\n    c::g();\n}\n"),
            (
                "p/c.rs",
                "pub struct S(u32);\nimpl S {\n    pub(super) fn get(&self) -> u32 {\n        self.0\n    }\n}\npub(in crate::p) fn g() {}\n",
            ),
        ],
    );
    assert_eq!(f.edges(), names(&["crate::p -> crate::p::c"]));
}

#[test]
fn the_workspace_crates_load() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    for c in ["rtos", "shell", "bsp", "app"] {
        let krate = load_crate(&root.join(c).join("src/lib.rs")).unwrap();
        assert_eq!(krate.name, c);
        assert!(!krate.modules.is_empty());
        assert!(
            krate
                .modules
                .iter()
                .all(|m| !m.path.iter().any(|s| s == "tests")),
            "{c}: a test module was loaded"
        );
    }
}

/// A local binding named like an imported module (`let term = ...` after `use crate::term`) is a
/// value, not the module: no edge, so no false circle with the crate root.
#[test]
fn local_binding_shadowing_a_module_is_not_an_edge() {
    let f = Fixture::new(
        "shadow",
        &[
            ("lib.rs", "mod session;\nmod term;\npub use session::run;\n"),
            ("term.rs", "pub struct Io;\n"),
            (
                "session.rs",
                "use crate::term;\npub fn run() {\n    let term = term::Io;\n    let _ = &term;\n}\n",
            ),
        ],
    );
    assert_eq!(
        f.edges(),
        vec!["crate -> crate::session", "crate::session -> crate::term"]
    );
    assert!(f.circles().is_empty());
}
