//! Command-line tokenizer and value parsers.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

/// Why a line could not be split into words. Both are usage errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenError {
    /// A `'` or `"` was not closed.
    UnterminatedQuote,
    /// The line ends with an unquoted `\`.
    TrailingBackslash,
}

impl TokenError {
    pub(crate) fn message(self) -> &'static str {
        match self {
            TokenError::UnterminatedQuote => "unterminated quote",
            TokenError::TrailingBackslash => "trailing backslash",
        }
    }
}

/// Splits a line into words.
///
/// * Words are separated by spaces and tabs.
/// * `'...'` is literal; `"..."` is literal except `\"`, `\\`, `\$` and `$?`.
/// * An unquoted `\x` is a literal `x`.
/// * An unquoted `#` at the start of a word starts a comment.
/// * `$?` (unquoted or in double quotes) expands to `status`.
///
/// The output is at most a few bytes longer than the input per `$?`, so it is bounded by the
/// line length.
pub(crate) fn tokenize(line: &str, status: u8) -> Result<Vec<String>, TokenError> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if in_word {
                    words.push(core::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '#' if !in_word => break,
            '\\' => match chars.next() {
                Some(n) => {
                    cur.push(n);
                    in_word = true;
                }
                None => return Err(TokenError::TrailingBackslash),
            },
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(x) => cur.push(x),
                        None => return Err(TokenError::UnterminatedQuote),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.peek() {
                            Some(&n @ ('"' | '\\' | '$')) => {
                                cur.push(n);
                                chars.next();
                            }
                            Some(_) => cur.push('\\'),
                            None => return Err(TokenError::UnterminatedQuote),
                        },
                        Some('$') if chars.peek() == Some(&'?') => {
                            chars.next();
                            let _ = write!(cur, "{status}");
                        }
                        Some(x) => cur.push(x),
                        None => return Err(TokenError::UnterminatedQuote),
                    }
                }
            }
            '$' if chars.peek() == Some(&'?') => {
                chars.next();
                let _ = write!(cur, "{status}");
                in_word = true;
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// Parses a duration into nanoseconds: `<digits>[.<digits>][ns|us|ms|s]`, no unit = seconds.
///
/// Returns `None` for garbage, for fractions finer than a nanosecond, and on `u64` overflow.
pub(crate) fn parse_duration(s: &str) -> Option<u64> {
    let (num, unit_ns, frac_digits) = if let Some(n) = s.strip_suffix("ns") {
        (n, 1, 0)
    } else if let Some(n) = s.strip_suffix("us") {
        (n, 1_000, 3)
    } else if let Some(n) = s.strip_suffix("ms") {
        (n, 1_000_000, 6)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1_000_000_000, 9)
    } else {
        (s, 1_000_000_000, 9)
    };
    let (int, frac) = match num.split_once('.') {
        Some((i, f)) => (i, f),
        None => (num, ""),
    };
    let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int) || (num.contains('.') && !all_digits(frac)) {
        return None;
    }
    let mut whole: u64 = 0;
    for d in int.bytes() {
        whole = whole.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    let mut total = whole.checked_mul(unit_ns)?;
    let mut scale = unit_ns;
    for (i, d) in frac.bytes().enumerate() {
        let d = u64::from(d - b'0');
        if i >= frac_digits {
            if d != 0 {
                return None; // finer than 1 ns
            }
            continue;
        }
        scale /= 10;
        total = total.checked_add(d * scale)?;
    }
    Some(total)
}

/// Parses an unsigned decimal (or `0x` hexadecimal) number. No signs, no separators.
pub(crate) fn parse_u64(s: &str) -> Option<u64> {
    let (digits, radix) = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (s, 10),
    };
    if digits.is_empty() || !digits.bytes().all(|b| (b as char).is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn words(line: &str) -> Vec<String> {
        tokenize(line, 7).unwrap()
    }

    #[test]
    fn splits_on_whitespace() {
        assert_eq!(words("echo  a\tb   c "), vec!["echo", "a", "b", "c"]);
        assert_eq!(words(""), Vec::<String>::new());
        assert_eq!(words("   \t "), Vec::<String>::new());
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(words("echo 'a b' \"c d\""), vec!["echo", "a b", "c d"]);
        assert_eq!(words("echo '' \"\""), vec!["echo", "", ""]);
        assert_eq!(words("echo a'b c'd"), vec!["echo", "ab cd"]);
        assert_eq!(words(r"echo a\ b"), vec!["echo", "a b"]);
        assert_eq!(
            words(r#"echo "x\"y" "p\\q" "r\s""#),
            vec!["echo", "x\"y", "p\\q", "r\\s"]
        );
        assert_eq!(words(r"echo 'no\escape'"), vec!["echo", r"no\escape"]);
        assert_eq!(words("echo 'it''s'"), vec!["echo", "its"]);
        assert_eq!(words("echo \"ünï cödé\""), vec!["echo", "ünï cödé"]);
    }

    #[test]
    fn comments() {
        assert_eq!(words("# just a comment"), Vec::<String>::new());
        assert_eq!(words("echo a # comment"), vec!["echo", "a"]);
        assert_eq!(words("echo a#b"), vec!["echo", "a#b"]);
        assert_eq!(
            words("echo '#x' \\#y \"#z\""),
            vec!["echo", "#x", "#y", "#z"]
        );
    }

    #[test]
    fn status_expansion() {
        assert_eq!(words("echo $?"), vec!["echo", "7"]);
        assert_eq!(
            words("echo x$?y \"[$?]\" '$?' \\$?"),
            vec!["echo", "x7y", "[7]", "$?", "$?"]
        );
        assert_eq!(words("echo $ $x ?$"), vec!["echo", "$", "$x", "?$"]);
        assert_eq!(tokenize("echo $?", 255).unwrap(), vec!["echo", "255"]);
        assert_eq!(words("echo \"\\$?\""), vec!["echo", "$?"]);
    }

    #[test]
    fn errors() {
        assert_eq!(tokenize("echo 'abc", 0), Err(TokenError::UnterminatedQuote));
        assert_eq!(
            tokenize("echo \"abc", 0),
            Err(TokenError::UnterminatedQuote)
        );
        assert_eq!(
            tokenize("echo \"abc\\", 0),
            Err(TokenError::UnterminatedQuote)
        );
        assert_eq!(
            tokenize("echo abc\\", 0),
            Err(TokenError::TrailingBackslash)
        );
        // A quote inside a comment is not an error.
        assert_eq!(tokenize("echo # it's", 0), Ok(vec!["echo".into()]));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500us"), Some(500_000));
        assert_eq!(parse_duration("20ms"), Some(20_000_000));
        assert_eq!(parse_duration("2s"), Some(2_000_000_000));
        assert_eq!(parse_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_duration("7ns"), Some(7));
        assert_eq!(parse_duration("3"), Some(3_000_000_000));
        assert_eq!(parse_duration("0s"), Some(0));
        assert_eq!(parse_duration("0.000000001s"), Some(1));
        assert_eq!(parse_duration("1.250ms"), Some(1_250_000));
        assert_eq!(parse_duration("2.5us"), Some(2_500));
        assert_eq!(parse_duration("1.000000000000s"), Some(1_000_000_000));
        assert_eq!(parse_duration("18446744073709551615ns"), Some(u64::MAX));
        assert_eq!(parse_duration("18446744073.709551615s"), Some(u64::MAX));
    }

    #[test]
    fn bad_durations() {
        for bad in [
            "",
            "s",
            "ms",
            "5xs",
            "x",
            "1.s",
            ".5s",
            "1..2s",
            "-1s",
            "+1s",
            "1 s",
            "1e3ms",
            "1.5ns",
            "0.0000000001s",
            "1h",
            "0x10s",
            "١s",
            "1,5s",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
        // Overflow.
        assert_eq!(parse_duration("18446744073709551616ns"), None);
        assert_eq!(parse_duration("18446744074s"), None);
        assert_eq!(parse_duration("18446744073.709551616s"), None);
        assert_eq!(parse_duration("99999999999999999999999999999999s"), None);
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_u64("0"), Some(0));
        assert_eq!(parse_u64("255"), Some(255));
        assert_eq!(parse_u64("0x1f"), Some(31));
        assert_eq!(parse_u64("18446744073709551615"), Some(u64::MAX));
        for bad in [
            "",
            "+1",
            "-1",
            "1_000",
            "0x",
            "0xg",
            "12a",
            "18446744073709551616",
            " 1",
        ] {
            assert_eq!(parse_u64(bad), None, "{bad:?}");
        }
    }
}
