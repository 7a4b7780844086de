//! Value parsers for command arguments (the command line itself is parsed in `script`).

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
