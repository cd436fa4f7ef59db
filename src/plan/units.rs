//! Sizes and rates as users type them: `5GB`, `250MiB`, `1Gbit`, `100MB/s`. Decimal prefixes
//! are powers of 1000 (as Box and network vendors use them), binary ones (`KiB`, `MiB`…)
//! powers of 1024.

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
    fn human_forms() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_500_000_000), "1.50 GB");
        assert_eq!(human_duration(45.2), "46s");
        assert_eq!(human_duration(3600.0 * 26.0 + 300.0), "1d 2h 05m");
    }
}
