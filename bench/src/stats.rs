//! Latency percentiles and the human formats of sizes, rates and durations.

use std::time::Duration;

/// The latency distribution of one workload's successful requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Latency {
    /// The fastest request.
    pub min: Duration,
    /// Median.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// The slowest request.
    pub max: Duration,
    /// Arithmetic mean.
    pub mean: Duration,
}

impl Latency {
    /// The distribution of `samples` (sorted in place); all zero when there are none.
    pub fn from_samples(samples: &mut [Duration]) -> Latency {
        if samples.is_empty() {
            return Latency::default();
        }
        samples.sort_unstable();
        let total: Duration = samples.iter().sum();
        // Fewer than 4 billion samples, so the count fits a u32.
        let count = u32::try_from(samples.len()).unwrap_or(u32::MAX);
        Latency {
            min: samples[0],
            p50: percentile(samples, 50.0),
            p90: percentile(samples, 90.0),
            p99: percentile(samples, 99.0),
            max: samples[samples.len() - 1],
            mean: total / count,
        }
    }
}

/// The `p`-th percentile of sorted `samples` by the nearest-rank method: the smallest sample
/// that at least `p`% of the samples do not exceed. Always one of the samples (no
/// interpolation), so p99 of 10 requests is the slowest one. Zero for no samples.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let n = sorted.len();
    // The rank is 1-based: ceil(p/100 * n), at least 1.
    let rank = (p.clamp(0.0, 100.0) / 100.0 * n as f64).ceil() as usize;
    sorted[rank.clamp(1, n) - 1]
}

/// Bytes per second as MiB/s.
pub fn mib_per_sec(bytes: u64, elapsed: Duration) -> f64 {
    per_sec(bytes as f64 / (1024.0 * 1024.0), elapsed)
}

/// A count per second; zero for a zero duration.
pub fn per_sec(count: f64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        count / secs
    } else {
        0.0
    }
}

/// A duration in the unit that keeps 3 significant digits readable: `850 µs`, `12.3 ms`,
/// `580 ms`, `2.41 s`.
pub fn fmt_duration(d: Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    if micros < 1_000.0 {
        format!("{micros:.0} µs")
    } else if micros < 100_000.0 {
        format!("{:.1} ms", micros / 1e3)
    } else if micros < 1_000_000.0 {
        format!("{:.0} ms", micros / 1e3)
    } else {
        format!("{:.2} s", micros / 1e6)
    }
}

/// A size in the largest binary unit that divides it evenly when possible: `4 KiB`,
/// `64 MiB`, `1.5 MiB`, `100 B`.
pub fn fmt_size(bytes: u64) -> String {
    const UNITS: [(&str, u64); 4] = [
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
        ("B", 1),
    ];
    for (unit, scale) in UNITS {
        if bytes >= scale {
            // Every scale is a power of two.
            if bytes & (scale - 1) == 0 {
                return format!("{} {unit}", bytes / scale);
            }
            return format!("{:.1} {unit}", bytes as f64 / scale as f64);
        }
    }
    "0 B".to_owned()
}

/// Parses a size such as `4096`, `4K`, `4KiB`, `64M`, `64MiB`, `1G` (binary units, any case).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, unit) = trimmed.split_at(split);
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size like 4096, 4KiB or 64MiB"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => {
            return Err(format!(
                "unknown size unit {other:?} in {text:?} (use K, M or G)"
            ))
        }
    };
    number
        .checked_mul(scale)
        .ok_or_else(|| format!("{text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn nearest_rank_percentiles() {
        // 1..=100 ms: the p-th percentile is p ms exactly.
        let sorted: Vec<Duration> = (1..=100).map(ms).collect();
        assert_eq!(percentile(&sorted, 50.0), ms(50));
        assert_eq!(percentile(&sorted, 90.0), ms(90));
        assert_eq!(percentile(&sorted, 99.0), ms(99));
        assert_eq!(percentile(&sorted, 100.0), ms(100));
        assert_eq!(percentile(&sorted, 0.0), ms(1));
        // Few samples: p99 of 10 is the slowest, p50 of 4 is the second.
        let ten: Vec<Duration> = (1..=10).map(ms).collect();
        assert_eq!(percentile(&ten, 99.0), ms(10));
        assert_eq!(percentile(&ten, 90.0), ms(9));
        assert_eq!(percentile(&[ms(1), ms(2), ms(3), ms(4)], 50.0), ms(2));
        assert_eq!(percentile(&[ms(7)], 99.0), ms(7));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
        // Out-of-range p is clamped, never out of bounds.
        assert_eq!(percentile(&ten, 250.0), ms(10));
        assert_eq!(percentile(&ten, -3.0), ms(1));
    }

    #[test]
    fn latency_sorts_its_samples() {
        let mut samples = vec![ms(30), ms(10), ms(20), ms(40)];
        let latency = Latency::from_samples(&mut samples);
        assert_eq!(latency.min, ms(10));
        assert_eq!(latency.p50, ms(20));
        assert_eq!(latency.p90, ms(40));
        assert_eq!(latency.p99, ms(40));
        assert_eq!(latency.max, ms(40));
        assert_eq!(latency.mean, ms(25));
        assert_eq!(Latency::from_samples(&mut []), Latency::default());
    }

    #[test]
    fn rates() {
        assert_eq!(mib_per_sec(64 << 20, Duration::from_secs(2)), 32.0);
        assert_eq!(per_sec(100.0, ms(500)), 200.0);
        assert_eq!(per_sec(100.0, Duration::ZERO), 0.0);
    }

    #[test]
    fn human_formats() {
        assert_eq!(fmt_duration(Duration::from_micros(850)), "850 µs");
        assert_eq!(fmt_duration(Duration::from_micros(12_340)), "12.3 ms");
        assert_eq!(fmt_duration(ms(580)), "580 ms");
        assert_eq!(fmt_duration(ms(2_414)), "2.41 s");
        assert_eq!(fmt_size(4096), "4 KiB");
        assert_eq!(fmt_size(64 << 20), "64 MiB");
        assert_eq!(fmt_size(3 << 19), "1.5 MiB");
        assert_eq!(fmt_size(100), "100 B");
        assert_eq!(fmt_size(0), "0 B");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("4K"), Ok(4096));
        assert_eq!(parse_size("4KiB"), Ok(4096));
        assert_eq!(parse_size("64 MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert!(parse_size("").is_err());
        assert!(parse_size("4 parsecs").is_err());
        assert!(parse_size("-1").is_err());
        assert!(parse_size("99999999999999G").is_err());
    }
}
