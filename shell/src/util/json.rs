//! A small JSON writer for the listing commands' `--json`: one document on one line, fields in
//! the order written.

use alloc::string::String;
use core::fmt::{Display, Write as _};

use super::json_str;

/// A JSON object being written: `Obj::new().num("cpu", 0).str("name", "q").done()`.
pub(crate) struct Obj(String);

impl Obj {
    /// `{`.
    pub(crate) fn new() -> Self {
        Obj(String::from("{"))
    }

    fn key(&mut self, k: &str) {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        self.0.push_str(&json_str(k));
        self.0.push(':');
    }

    /// A number (anything whose `Display` is a JSON number).
    pub(crate) fn num(mut self, k: &str, v: impl Display) -> Self {
        self.key(k);
        let _ = write!(self.0, "{v}");
        self
    }

    /// A number, or `null`.
    pub(crate) fn opt(self, k: &str, v: Option<impl Display>) -> Self {
        match v {
            Some(v) => self.num(k, v),
            None => self.raw(k, "null"),
        }
    }

    /// A string.
    pub(crate) fn str(mut self, k: &str, v: &str) -> Self {
        self.key(k);
        self.0.push_str(&json_str(v));
        self
    }

    /// `true` or `false`.
    pub(crate) fn bool(self, k: &str, v: bool) -> Self {
        self.raw(k, if v { "true" } else { "false" })
    }

    /// Already-written JSON (an array, an object).
    pub(crate) fn raw(mut self, k: &str, json: &str) -> Self {
        self.key(k);
        self.0.push_str(json);
        self
    }

    /// `}`: the object's text.
    pub(crate) fn done(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

/// A JSON array of already-written values.
pub(crate) fn array(items: impl IntoIterator<Item = String>) -> String {
    let mut s = String::from("[");
    for (i, v) in items.into_iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&v);
    }
    s.push(']');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn objects_and_arrays() {
        let inner = array(vec![Obj::new().num("a", 1).done(), Obj::new().done()]);
        let o = Obj::new()
            .num("n", 2.5)
            .opt("none", None::<u8>)
            .opt("some", Some(7))
            .str("s", "a\"b")
            .bool("t", true)
            .raw("list", &inner)
            .done();
        assert_eq!(
            o,
            r#"{"n":2.5,"none":null,"some":7,"s":"a\"b","t":true,"list":[{"a":1},{}]}"#
        );
        assert_eq!(array(vec![]), "[]");
    }
}
