//! Helpers shared by the bench harnesses (each bench is its own crate and
//! uses only some of them).
#![allow(dead_code)]

use std::process::{Command, Stdio};

/// An integer setting from the environment, or `default`; a value that is
/// not a number stops the bench with a message.
pub fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a positive integer, not {v:?}")),
        Err(_) => default,
    }
}

/// The median (NaN for no samples); sorts `samples`.
pub fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    match samples.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => samples[n / 2],
        n => (samples[n / 2 - 1] + samples[n / 2]) / 2.0,
    }
}

/// Client threads and where they run.
#[derive(Debug, Clone, Copy)]
pub struct Setup {
    /// Index into the bench's thread counts.
    pub t: usize,
    /// The CPU every client thread is pinned to; `None`: the scheduler's choice.
    pub pin: Option<core_affinity::CoreId>,
    pub label: &'static str,
}

/// The 1-thread runs pinned next to the server and away from it, when the
/// server can be pinned (2+ CPUs and `taskset`); the 8-thread runs free.
/// `threads` must hold 1 and 8. Returns the server's CPU too.
pub fn setups(threads: &[usize]) -> (Option<core_affinity::CoreId>, Vec<Setup>) {
    let t1 = threads.iter().position(|&t| t == 1).expect("1 thread");
    let t8 = threads.iter().position(|&t| t == 8).expect("8 threads");
    let cpus = core_affinity::get_core_ids().unwrap_or_default();
    let taskset = Command::new("taskset")
        .arg("-V")
        .stdout(Stdio::null())
        .status()
        .is_ok();
    let setup = |t, pin, label| Setup { t, pin, label };
    if cpus.len() >= 2 && taskset {
        let setups = vec![
            setup(t1, Some(cpus[0]), "1 same"),
            setup(t1, Some(cpus[1]), "1 other"),
            setup(t8, None, "8"),
        ];
        (Some(cpus[0]), setups)
    } else {
        (None, vec![setup(t1, None, "1"), setup(t8, None, "8")])
    }
}
