//! The machine a benchmark runs on, as Linux describes it: benchmark figures are only
//! comparable on the same kind of host, so every report prints it.

/// The machine the benchmark runs on (the client, and the cluster when it is local).
#[derive(Debug, Clone)]
pub struct Machine {
    /// CPUs available to this process.
    pub cpus: usize,
    /// The CPU model, from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// Memory, from `/proc/meminfo`.
    pub memory_bytes: Option<u64>,
    /// The kernel release.
    pub kernel: String,
}

impl Machine {
    /// Reads what Linux tells about this machine; unknown fields say so.
    pub fn probe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model: proc_field(&cpuinfo, "model name").unwrap_or_else(|| "unknown CPU".into()),
            memory_bytes: proc_field(&meminfo, "MemTotal").and_then(|v| {
                let kib: u64 = v.trim_end_matches("kB").trim().parse().ok()?;
                kib.checked_mul(1024)
            }),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|k| k.trim().to_owned())
                .unwrap_or_else(|_| "unknown".into()),
        }
    }

    /// `2 CPUs (AMD EPYC 7B13), 7.8 GiB, Linux 6.1.0`.
    pub fn describe(&self) -> String {
        let memory = self.memory_bytes.map_or(String::new(), |m| {
            format!(", {:.1} GiB", m as f64 / f64::from(1u32 << 30))
        });
        format!(
            "{} CPUs ({}){memory}, Linux {}",
            self.cpus, self.cpu_model, self.kernel
        )
    }
}

/// The value of the first `name : value` line of a `/proc` file.
fn proc_field(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == name).then(|| value.trim().to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_fields() {
        let text = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu\n";
        assert_eq!(
            proc_field(text, "model name").as_deref(),
            Some("AMD EPYC 7B13")
        );
        assert_eq!(proc_field(text, "cpu MHz"), None);
        assert!(Machine::probe().cpus >= 1);
    }
}
