//! Resident memory of this process, as the kernel counts it.

use std::fs;

/// The process's resident set size in bytes (`VmRSS` of /proc/self/status).
///
/// Only differences between two readings in one process mean anything, and only when the memory
/// in between came from large allocations: glibc serves those with their own mappings and gives
/// them back on free, so a freed input buffer does not linger in the figure.
pub fn resident_bytes() -> u64 {
    let status = fs::read_to_string("/proc/self/status").expect("/proc/self/status is readable");
    let kilobytes = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .expect("VmRSS line in /proc/self/status");
    kilobytes * 1024
}
