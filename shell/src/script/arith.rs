//! `$((...))`: integer arithmetic on signed 64-bit numbers, with C's operators and precedence
//! (no assignment operators). Bare names are variables, which must hold a number. Overflow,
//! division by zero and a shift out of range are errors, never wrapped or panicked on.

use alloc::format;
use alloc::string::String;

use super::limits::MAX_DEPTH;

/// Evaluates `expr`; `var` gives a variable's value (`None`: unset).
pub(crate) fn eval(expr: &str, var: &dyn Fn(&str) -> Option<String>) -> Result<i64, String> {
    let mut p = Arith {
        s: expr.as_bytes(),
        i: 0,
        var,
        depth: 0,
    };
    p.skip_ws();
    if p.s.get(p.i).is_none() {
        return Err("empty expression".into());
    }
    let v = p.binary(0)?;
    p.skip_ws();
    match p.s.get(p.i) {
        None => Ok(v),
        Some(_) => Err(format!("unexpected '{}'", rest(expr, p.i))),
    }
}

/// A short quote of `expr` from `i`, for messages.
fn rest(expr: &str, i: usize) -> &str {
    let tail = expr.get(i..).unwrap_or("");
    let end = tail.char_indices().nth(12).map_or(tail.len(), |(k, _)| k);
    &tail[..end]
}

struct Arith<'a> {
    s: &'a [u8],
    i: usize,
    var: &'a dyn Fn(&str) -> Option<String>,
    depth: u32,
}

/// Binary operators: text, precedence (higher binds tighter).
const OPS: &[(&str, u8)] = &[
    ("||", 1),
    ("&&", 2),
    ("|", 3),
    ("^", 4),
    ("&", 5),
    ("==", 6),
    ("!=", 6),
    ("<=", 7),
    (">=", 7),
    ("<<", 8),
    (">>", 8),
    ("<", 7),
    (">", 7),
    ("+", 9),
    ("-", 9),
    ("*", 10),
    ("/", 10),
    ("%", 10),
];

fn overflow() -> String {
    "arithmetic overflow".into()
}

fn apply(op: &str, a: i64, b: i64) -> Result<i64, String> {
    let r = match op {
        "||" => Some(i64::from(a != 0 || b != 0)),
        "&&" => Some(i64::from(a != 0 && b != 0)),
        "|" => Some(a | b),
        "^" => Some(a ^ b),
        "&" => Some(a & b),
        "==" => Some(i64::from(a == b)),
        "!=" => Some(i64::from(a != b)),
        "<" => Some(i64::from(a < b)),
        "<=" => Some(i64::from(a <= b)),
        ">" => Some(i64::from(a > b)),
        ">=" => Some(i64::from(a >= b)),
        "<<" | ">>" => {
            let Ok(n) = u32::try_from(b) else {
                return Err(format!("shift by {b}"));
            };
            if n >= 64 {
                return Err(format!("shift by {b}"));
            }
            if op == "<<" {
                a.checked_mul(
                    1i64.checked_shl(n)
                        .filter(|m| *m > 0)
                        .ok_or_else(overflow)?,
                )
            } else {
                Some(a >> n)
            }
        }
        "+" => a.checked_add(b),
        "-" => a.checked_sub(b),
        "*" => a.checked_mul(b),
        "/" | "%" if b == 0 => return Err("division by zero".into()),
        "/" => a.checked_div(b),
        "%" => a.checked_rem(b),
        _ => None,
    };
    r.ok_or_else(overflow)
}

impl Arith<'_> {
    fn skip_ws(&mut self) {
        while matches!(self.s.get(self.i), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.i += 1;
        }
    }

    /// The binary operator at the cursor, if its precedence is at least `min`.
    fn op(&self, min: u8) -> Option<(&'static str, u8)> {
        let tail = &self.s[self.i..];
        OPS.iter()
            .find(|(t, _)| tail.starts_with(t.as_bytes()))
            .copied()
            .filter(|&(_, p)| p >= min)
    }

    /// Precedence climbing: operands joined by operators of precedence `>= min`.
    fn binary(&mut self, min: u8) -> Result<i64, String> {
        let mut lhs = self.unary()?;
        loop {
            self.skip_ws();
            let Some((op, prec)) = self.op(min.max(1)) else {
                return Ok(lhs);
            };
            self.i += op.len();
            let rhs = self.binary(prec + 1)?;
            lhs = apply(op, lhs, rhs)?;
        }
    }

    fn unary(&mut self) -> Result<i64, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH * 4 {
            return Err("expression nested too deep".into());
        }
        self.skip_ws();
        let v = match self.s.get(self.i) {
            Some(b'-') => {
                self.i += 1;
                self.unary()?.checked_neg().ok_or_else(overflow)?
            }
            Some(b'+') => {
                self.i += 1;
                self.unary()?
            }
            Some(b'!') => {
                self.i += 1;
                i64::from(self.unary()? == 0)
            }
            Some(b'~') => {
                self.i += 1;
                !self.unary()?
            }
            Some(b'(') => {
                self.i += 1;
                let v = self.binary(0)?;
                self.skip_ws();
                if self.s.get(self.i) != Some(&b')') {
                    return Err("missing ')'".into());
                }
                self.i += 1;
                v
            }
            Some(b'0'..=b'9') => self.number()?,
            Some(&b) if b.is_ascii_alphabetic() || b == b'_' => {
                let start = self.i;
                while self
                    .s
                    .get(self.i)
                    .is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    self.i += 1;
                }
                let name = core::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
                let Some(value) = (self.var)(name) else {
                    return Err(format!("'{name}' is not set"));
                };
                let value = value.trim();
                if value.is_empty() {
                    0
                } else {
                    parse_int(value)
                        .ok_or_else(|| format!("'{name}' is not a number ('{value}')"))?
                }
            }
            None => return Err("expression ends too early".into()),
            Some(_) => {
                let tail = core::str::from_utf8(&self.s[self.i..]).unwrap_or("?");
                return Err(format!("unexpected '{}'", rest(tail, 0)));
            }
        };
        self.depth -= 1;
        Ok(v)
    }

    fn number(&mut self) -> Result<i64, String> {
        let start = self.i;
        while self
            .s
            .get(self.i)
            .is_some_and(|b| b.is_ascii_alphanumeric())
        {
            self.i += 1;
        }
        let text = core::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
        parse_int(text).ok_or_else(|| format!("bad number '{text}'"))
    }
}

/// A decimal or `0x` number with an optional sign, as variables hold them.
pub(crate) fn parse_int(s: &str) -> Option<i64> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let magnitude = crate::parse::parse_u64(digits)?;
    if neg {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn ev(e: &str) -> Result<i64, String> {
        eval(e, &|n| match n {
            "x" => Some("5".to_string()),
            "big" => Some("9223372036854775807".to_string()),
            "empty" => Some(String::new()),
            "word" => Some("abc".to_string()),
            _ => None,
        })
    }

    #[test]
    fn precedence_and_operators() {
        assert_eq!(ev("1 + 2 * 3"), Ok(7));
        assert_eq!(ev("(1 + 2) * 3"), Ok(9));
        assert_eq!(ev("x+1"), Ok(6));
        assert_eq!(ev("x * x - 1"), Ok(24));
        assert_eq!(ev("10 - 4 - 3"), Ok(3), "left associative");
        assert_eq!(ev("100 / 10 / 5"), Ok(2));
        assert_eq!(ev("7 % 3"), Ok(1));
        assert_eq!(ev("-7 / 2"), Ok(-3));
        assert_eq!(ev("1 << 4 | 1"), Ok(17));
        assert_eq!(ev("x >= 5 && x < 6"), Ok(1));
        assert_eq!(ev("x == 4 || !0"), Ok(1));
        assert_eq!(ev("x != 5"), Ok(0));
        assert_eq!(ev("~0"), Ok(-1));
        assert_eq!(ev("0x10 + 1"), Ok(17));
        assert_eq!(ev("--x"), Ok(5));
        assert_eq!(ev("6 & 3 ^ 1"), Ok(3));
        assert_eq!(ev("empty + 1"), Ok(1));
        assert_eq!(ev(" 42 "), Ok(42));
        assert_eq!(ev("-9223372036854775807 - 1"), Ok(i64::MIN));
    }

    #[test]
    fn errors_are_reported_not_wrapped() {
        assert_eq!(ev("1 / 0"), Err("division by zero".into()));
        assert_eq!(ev("1 % 0"), Err("division by zero".into()));
        assert_eq!(ev("big + 1"), Err("arithmetic overflow".into()));
        assert_eq!(ev("big * 2"), Err("arithmetic overflow".into()));
        assert_eq!(
            ev("-9223372036854775807 - 1 / -1 * -1 - 1"),
            Err("arithmetic overflow".into())
        );
        assert_eq!(
            ev("(0 - 9223372036854775807 - 1) / -1"),
            Err("arithmetic overflow".into())
        );
        assert_eq!(ev("1 << 64"), Err("shift by 64".into()));
        assert_eq!(ev("1 << -1"), Err("shift by -1".into()));
        assert_eq!(ev("1 << 63"), Err("arithmetic overflow".into()));
        assert_eq!(ev("y + 1"), Err("'y' is not set".into()));
        assert_eq!(ev("word"), Err("'word' is not a number ('abc')".into()));
        assert_eq!(ev(""), Err("empty expression".into()));
        assert_eq!(ev("1 +"), Err("expression ends too early".into()));
        assert_eq!(ev("(1"), Err("missing ')'".into()));
        assert_eq!(ev("1 2"), Err("unexpected '2'".into()));
        assert_eq!(ev("12abc"), Err("bad number '12abc'".into()));
        assert_eq!(
            ev("99999999999999999999"),
            Err("bad number '99999999999999999999'".into())
        );
        assert!(ev("1 = 2").is_err());
        assert!(ev("ü").is_err());
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = "(".repeat(10_000) + "1" + &")".repeat(10_000);
        assert_eq!(ev(&deep), Err("expression nested too deep".into()));
        let minus = "-".repeat(10_000) + "1";
        assert_eq!(ev(&minus), Err("expression nested too deep".into()));
    }
}
