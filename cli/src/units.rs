//! Parsing the human-friendly values of command-line flags: byte sizes (`4MiB`, `64k`,
//! `1048576`) and durations (`90d`, via humantime).
//!
//! Only parsing: the ranges a value must fall in are the callers' (and the library's) business.

use std::time::Duration;

/// Parses a byte size: a whole number with an optional unit, case-insensitive, optional space.
///
/// `K`, `KiB`, `M`, `MiB`, `G`, `GiB` are powers of 1024 (as in `dd` and most tools);
/// `KB`, `MB`, `GB` are powers of 1000; `B` or nothing means bytes.
pub fn parse_size(input: &str) -> Result<u64, String> {
    let trimmed = input.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, unit) = trimmed.split_at(split);
    if digits.is_empty() {
        return Err("expected a number of bytes such as 4MiB, 512K or 1048576".into());
    }
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        other => {
            return Err(format!(
                "unknown unit {other:?} (use B, K/KiB, M/MiB, G/GiB, KB, MB, GB)"
            ))
        }
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .ok_or_else(|| "the number is too large".into())
}

/// Parses a positive duration such as `90d`, `36h`, `1y 6months` (humantime syntax).
pub fn parse_duration(input: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(input.trim()).map_err(|e| e.to_string())?;
    if duration.as_secs() == 0 {
        return Err("must be at least one second".into());
    }
    Ok(duration)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_and_decimal_units() {
        let cases = [
            ("1048576", 1 << 20),
            ("4MiB", 4 << 20),
            ("4M", 4 << 20),
            ("4m", 4 << 20),
            ("4 MiB", 4 << 20),
            ("64KiB", 64 << 10),
            ("64k", 64 << 10),
            ("1024B", 1024),
            ("2MB", 2_000_000),
            ("1G", 1 << 30),
            (" 8kb ", 8_000),
        ];
        for (input, want) in cases {
            assert_eq!(parse_size(input), Ok(want), "{input}");
        }
    }

    #[test]
    fn bad_sizes_are_refused_with_a_reason() {
        for input in [
            "",
            "MiB",
            "4 furlongs",
            "-4M",
            "4.5M",
            "0x10",
            "99999999999999999999",
            "18446744073709551615G",
        ] {
            assert!(parse_size(input).is_err(), "{input:?} was accepted");
        }
    }

    #[test]
    fn durations_use_humantime_and_must_be_positive() {
        assert_eq!(
            parse_duration("90d").unwrap(),
            Duration::from_secs(90 * 86_400)
        );
        assert_eq!(
            parse_duration("1h 30m").unwrap(),
            Duration::from_secs(5_400)
        );
        for input in ["0s", "soon", "", "-1d", "90"] {
            assert!(parse_duration(input).is_err(), "{input:?} was accepted");
        }
    }
}
