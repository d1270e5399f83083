//! Kubernetes resource quantities (`500m`, `1Gi`, `1e3`, `0.5`) read exactly, so that two
//! spellings of the same amount compare equal (`500m` = `0.5`, `1Gi` = `1024Mi`) and two
//! different amounts do not (`1G` ≠ `1Gi`). Pure.

use std::cmp::Ordering;

/// An amount as an exact fraction `num / den`, both positive-denominator integers.
#[derive(Debug, Clone, Copy)]
pub struct Quantity {
    num: i128,
    den: i128,
}

impl Quantity {
    /// Reads a quantity in the grammar of k8s.io/apimachinery `resource.Quantity`:
    /// `<sign><digits>[.<digits>]<suffix>` where the suffix is a binary SI (`Ki`…`Ei`), a
    /// decimal SI (`n`, `u`, `m`, ``, `k`, `M`, `G`, `T`, `P`, `E`) or an exponent (`e3`, `E-2`).
    pub fn parse(text: &str) -> Option<Quantity> {
        let s = text.trim();
        let (neg, s) = match s.as_bytes().first()? {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let num_end = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (number, suffix) = s.split_at(num_end);
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return None;
        }
        let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
        let digits = format!("{int_part}{frac_part}");
        if digits.len() > 30 {
            return None;
        }
        let mut num: i128 = digits.parse().ok()?;
        let mut den: i128 = 10i128.checked_pow(frac_part.len() as u32)?;
        let (base2, base10): (u32, i32) = match suffix {
            "" => (0, 0),
            "Ki" => (10, 0),
            "Mi" => (20, 0),
            "Gi" => (30, 0),
            "Ti" => (40, 0),
            "Pi" => (50, 0),
            "Ei" => (60, 0),
            "n" => (0, -9),
            "u" => (0, -6),
            "m" => (0, -3),
            "k" => (0, 3),
            "M" => (0, 6),
            "G" => (0, 9),
            "T" => (0, 12),
            "P" => (0, 15),
            "E" => (0, 18),
            _ => {
                let exp = suffix
                    .strip_prefix('e')
                    .or_else(|| suffix.strip_prefix('E'))?;
                let e: i32 = exp.parse().ok()?;
                if !(-30..=30).contains(&e) {
                    return None;
                }
                (0, e)
            }
        };
        num = num.checked_mul(1i128.checked_shl(base2)?)?;
        if base10 >= 0 {
            num = num.checked_mul(10i128.checked_pow(base10 as u32)?)?;
        } else {
            den = den.checked_mul(10i128.checked_pow((-base10) as u32)?)?;
        }
        if neg {
            num = -num;
        }
        let g = gcd(num.abs(), den);
        Some(Quantity {
            num: num / g.max(1),
            den: den / g.max(1),
        })
    }

    /// Reads a quantity written as a JSON number or string.
    pub fn from_json(v: &serde_json::Value) -> Option<Quantity> {
        match v {
            serde_json::Value::String(s) => Quantity::parse(s),
            serde_json::Value::Number(n) => Quantity::parse(&n.to_string()),
            _ => None,
        }
    }
}

/// The canonical spelling the API server stores a quantity in (apimachinery's
/// `Quantity.CanonicalizeBytes`): amounts are rounded up to nano units; a binary-SI amount of
/// at least 1024 that is whole is written with the largest `Ki`…`Ei` suffix that keeps it
/// whole; every other amount is written as a whole number times the largest power of 1000
/// that keeps it whole, with a decimal-SI suffix (`n` … `E`), or `e<exp>` when it was written
/// with an exponent. `0.2` → `200m`, `1000m` → `1`, `0.5Gi` → `512Mi`, `1.5e3` → `1500`.
/// `None` when the text is not a quantity (it is then stored as sent, and refused elsewhere).
pub fn canonical(text: &str) -> Option<String> {
    let q = Quantity::parse(text)?;
    let t = text.trim();
    let suffix_start = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(t.len());
    let suffix = &t[suffix_start..];
    let binary = suffix.ends_with('i');
    let exponent_form = suffix.starts_with('e') || suffix.starts_with('E');
    // Round up to nano units.
    let nano = 1_000_000_000i128;
    let scaled_num = q.num.checked_mul(nano)?;
    let mut nanos = scaled_num.div_euclid(q.den);
    if scaled_num.rem_euclid(q.den) != 0 {
        nanos += 1;
    }
    if nanos == 0 {
        return Some("0".into());
    }
    if binary && nanos % nano == 0 && (nanos / nano).abs() >= 1024 {
        let mut amount = nanos / nano;
        let mut k = 0;
        while k < 6 && amount % 1024 == 0 {
            amount /= 1024;
            k += 1;
        }
        let s = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][k];
        return Some(format!("{amount}{s}"));
    }
    let (mut amount, mut exp) = (nanos, -9i32);
    while amount % 10 == 0 {
        amount /= 10;
        exp += 1;
    }
    let r = exp.rem_euclid(3);
    amount = amount.checked_mul(10i128.pow(r as u32))?;
    exp -= r;
    let decimal = match exp {
        -9 => Some("n"),
        -6 => Some("u"),
        -3 => Some("m"),
        0 => Some(""),
        3 => Some("k"),
        6 => Some("M"),
        9 => Some("G"),
        12 => Some("T"),
        15 => Some("P"),
        18 => Some("E"),
        _ => None,
    };
    Some(match (exponent_form, decimal) {
        (_, _) if exp == 0 => format!("{amount}"),
        (false, Some(s)) => format!("{amount}{s}"),
        _ => format!("{amount}e{exp}"),
    })
}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        // Both fractions are reduced, so equal amounts have equal parts; for ordering, cross
        // multiply, falling back to floating point where that would overflow.
        if self.num == other.num && self.den == other.den {
            return Ordering::Equal;
        }
        match (
            self.num.checked_mul(other.den),
            other.num.checked_mul(self.den),
        ) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => {
                let a = self.num as f64 / self.den as f64;
                let b = other.num as f64 / other.den as f64;
                a.partial_cmp(&b).unwrap_or(Ordering::Equal)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap_or_else(|| panic!("{s}"))
    }

    #[test]
    fn equal_spellings() {
        for (a, b) in [
            ("500m", "0.5"),
            ("1Gi", "1024Mi"),
            ("1", "1000m"),
            ("1k", "1000"),
            ("1e3", "1k"),
            ("1E3", "1000"),
            ("0.1", "100m"),
            ("1.5Gi", "1536Mi"),
            ("0", "0m"),
            ("2", "+2"),
        ] {
            assert_eq!(q(a), q(b), "{a} = {b}");
        }
    }

    #[test]
    fn different_amounts() {
        for (a, b) in [
            ("128974848", "129e6"),
            ("1G", "1Gi"),
            ("1M", "1Mi"),
            ("100m", "10m"),
            ("1", "-1"),
            ("1E", "1Ei"),
        ] {
            assert_ne!(q(a), q(b), "{a} != {b}");
        }
    }

    #[test]
    fn not_quantities() {
        for s in ["", "abc", "1.2.3", "1Xi", "1 Gi", ".", "--1", "1e"] {
            assert!(Quantity::parse(s).is_none(), "{s}");
        }
    }

    proptest! {
        #[test]
        fn binary_and_decimal_suffixes_scale_exactly(n in 0u32..100_000) {
            prop_assert_eq!(q(&format!("{n}Ki")), q(&format!("{}", n as u64 * 1024)));
            prop_assert_eq!(q(&format!("{n}m")), q(&format!("{}.{:03}", n / 1000, n % 1000)));
            prop_assert_eq!(q(&format!("{n}M")), q(&format!("{n}e6")));
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,20}") {
            let _ = Quantity::parse(&s);
        }
    }

    #[test]
    fn canonical_spellings_are_the_api_servers() {
        for (sent, stored) in [
            ("0.2", "200m"),
            ("1000m", "1"),
            ("0.5Gi", "512Mi"),
            ("1073741824", "1073741824"),
            ("1.5Gi", "1536Mi"),
            ("100Mi", "100Mi"),
            ("1500m", "1500m"),
            ("1.5", "1500m"),
            ("1k", "1k"),
            ("1000", "1k"),
            ("1e3", "1e3"),
            ("1.5e3", "1500"),
            ("512", "512"),
            ("512Ki", "512Ki"),
            ("1024Ki", "1Mi"),
            ("0.1Gi", "107374182400m"),
            ("0", "0"),
            ("0.0000000001", "1n"),
            ("-0.2", "-200m"),
            ("2G", "2G"),
        ] {
            assert_eq!(canonical(sent).as_deref(), Some(stored), "{sent}");
        }
        assert_eq!(canonical("lots"), None);
    }
}
