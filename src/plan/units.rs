//! Sizes, rates, durations and dates as users type them: `5GB`, `250MiB`, `1Gbit`, `100MB/s`,
//! `36h`, `14d`, `2026-12-31`. Decimal prefixes are powers of 1000 (as Box and network vendors
//! use them), binary ones (`KiB`, `MiB`…) powers of 1024.
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// A size or rate that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot parse {input:?} as {what}: {why}")]
pub struct UnitError {
    input: String,
    what: &'static str,
    why: &'static str,
}

fn split_number(s: &str) -> Option<(f64, &str)> {
    let s = s.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(s.len());
    let num: String = s[..end].chars().filter(|&c| c != '_').collect();
    let n: f64 = num.parse().ok()?;
    Some((n, s[end..].trim()))
}

fn prefix(unit: &str) -> Option<f64> {
    Some(match unit.to_ascii_lowercase().as_str() {
        "" => 1.0,
        "k" => 1e3,
        "m" => 1e6,
        "g" => 1e9,
        "t" => 1e12,
        "ki" => 1024.0,
        "mi" => 1024.0 * 1024.0,
        "gi" => 1024.0 * 1024.0 * 1024.0,
        "ti" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    })
}

/// Parse a byte count: `1048576`, `50MB`, `5 GB`, `1.5GiB`, `20k`.
pub fn parse_bytes(s: &str) -> Result<u64, UnitError> {
    let err = |why| UnitError {
        input: s.to_string(),
        what: "a size",
        why,
    };
    let (n, unit) = split_number(s).ok_or_else(|| err("expected a number"))?;
    let unit = unit.strip_suffix(['B', 'b']).unwrap_or(unit);
    let mult = prefix(unit)
        .ok_or_else(|| err("unknown unit (use B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)"))?;
    let v = n * mult;
    if !v.is_finite() || v > u64::MAX as f64 {
        return Err(err("too large"));
    }
    Ok(v.round() as u64)
}

/// Parse a bandwidth into bytes per second: `1Gbit`, `100Mbps`, `100MB/s`, `12.5MiB/s`.
/// Bits are only meant when the unit says `bit` or `bps`.
pub fn parse_bandwidth(s: &str) -> Result<f64, UnitError> {
    let err = |why| UnitError {
        input: s.to_string(),
        what: "a bandwidth",
        why,
    };
    let (n, unit) = split_number(s).ok_or_else(|| err("expected a number"))?;
    let lower = unit.to_ascii_lowercase();
    let (pre, bits) = if let Some(p) = lower
        .strip_suffix("bit/s")
        .or_else(|| lower.strip_suffix("bits"))
        .or_else(|| lower.strip_suffix("bit"))
        .or_else(|| lower.strip_suffix("bps"))
    {
        (p.to_string(), true)
    } else {
        let u = lower.strip_suffix("/s").unwrap_or(&lower);
        (u.strip_suffix('b').unwrap_or(u).to_string(), false)
    };
    let mult = prefix(&pre).ok_or_else(|| err("unknown unit (e.g. 1Gbit, 100Mbps, 100MB/s)"))?;
    let v = n * mult / if bits { 8.0 } else { 1.0 };
    if v <= 0.0 || !v.is_finite() {
        return Err(err("must be positive"));
    }
    Ok(v)
}

/// Parse a duration as rclone and azcopy users write it: `45s`, `90m`, `36h`, `14d`, `2w`, or
/// sums like `1h30m`; a bare number is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, UnitError> {
    let err = |why| UnitError {
        input: s.to_string(),
        what: "a duration",
        why,
    };
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(err("expected a number and a unit, e.g. 36h or 14d"));
    }
    let mut secs = 0.0;
    while !rest.is_empty() {
        let (n, after) = split_number(rest).ok_or_else(|| err("expected a number"))?;
        let unit_len = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        let mult = match &after[..unit_len] {
            "" | "s" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            "w" => 7.0 * 86_400.0,
            _ => {
                return Err(err(
                    "unknown unit (use s, m, h, d or w, e.g. 36h, 14d, 1h30m)",
                ));
            }
        };
        secs += n * mult;
        rest = after[unit_len..].trim_start();
    }
    if !secs.is_finite() || secs > 1e12 {
        return Err(err("too large"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parse a point in time: RFC 3339 (`2026-12-31T18:00:00Z`, `...+01:00`), `2026-12-31 18:00`
/// (UTC), or a date `2026-12-31` (midnight UTC at its start: the cautious reading of "by").
pub fn parse_deadline(s: &str) -> Result<DateTime<Utc>, UnitError> {
    let t = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Ok(d.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(t, f) {
            return Ok(d.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    Err(UnitError {
        input: s.to_string(),
        what: "a date",
        why: "use YYYY-MM-DD, YYYY-MM-DD HH:MM (UTC) or RFC 3339",
    })
}

/// Format bytes for people: `1.50 GB`.
pub fn human_bytes(n: u64) -> String {
    let units = ["B", "KB", "MB", "GB", "TB", "PB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i < units.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.2} {}", units[i])
    }
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Format a duration in seconds for people: `3d 4h 05m`, `12m 30s`, `45s`.
pub fn human_duration(secs: f64) -> String {
    let s = secs.max(0.0).ceil() as u64;
    let (d, h, m, s) = (s / 86400, s % 86400 / 3600, s % 3600 / 60, s % 60);
    if d > 0 {
        format!("{d}d {h}h {m:02}m")
    } else if h > 0 {
        format!("{h}h {m:02}m {s:02}s")
    } else if m > 0 {
        format!("{m}m {s:02}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("1048576"), Ok(1_048_576));
        assert_eq!(parse_bytes("50MB"), Ok(50_000_000));
        assert_eq!(parse_bytes("5 GB"), Ok(5_000_000_000));
        assert_eq!(parse_bytes("1.5GiB"), Ok(1_610_612_736));
        assert_eq!(parse_bytes("8MiB"), Ok(8_388_608));
        assert_eq!(parse_bytes("20k"), Ok(20_000));
        assert!(parse_bytes("five").is_err());
        assert!(parse_bytes("5XB").is_err());
    }

    #[test]
    fn bandwidths() {
        assert_eq!(parse_bandwidth("1Gbit"), Ok(125_000_000.0));
        assert_eq!(parse_bandwidth("100Mbps"), Ok(12_500_000.0));
        assert_eq!(parse_bandwidth("100MB/s"), Ok(100_000_000.0));
        assert_eq!(parse_bandwidth("1MiB/s"), Ok(1_048_576.0));
        assert_eq!(parse_bandwidth("10 Gbit/s"), Ok(1_250_000_000.0));
        assert!(parse_bandwidth("0MB/s").is_err());
        assert!(parse_bandwidth("fast").is_err());
    }

    #[test]
    fn durations_and_deadlines() {
        let d = |s| parse_duration(s).map(|d| d.as_secs());
        assert_eq!(d("45s"), Ok(45));
        assert_eq!(d("90"), Ok(90));
        assert_eq!(d("90m"), Ok(5400));
        assert_eq!(d("36h"), Ok(129_600));
        assert_eq!(d("14d"), Ok(1_209_600));
        assert_eq!(d("1h30m"), Ok(5400));
        assert_eq!(d("2w"), Ok(1_209_600));
        assert!(parse_duration("").is_err());
        let e = parse_duration("3 fortnights").unwrap_err().to_string();
        assert!(e.contains("unknown unit"), "{e}");
        let t = |s| parse_deadline(s).map(|t| t.to_rfc3339());
        assert_eq!(t("2026-12-31"), Ok("2026-12-31T00:00:00+00:00".into()));
        assert_eq!(
            t("2026-12-31 18:30"),
            Ok("2026-12-31T18:30:00+00:00".into())
        );
        assert_eq!(
            t("2026-12-31T18:00:00+01:00"),
            Ok("2026-12-31T17:00:00+00:00".into())
        );
        assert!(parse_deadline("next friday").is_err());
    }

    #[test]
    fn human_forms() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_500_000_000), "1.50 GB");
        assert_eq!(human_duration(45.2), "46s");
        assert_eq!(human_duration(3600.0 * 26.0 + 300.0), "1d 2h 05m");
    }
}
