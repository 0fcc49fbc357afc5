//! Running a batch's files side by side: at most `jobs` at once, and at most a memory budget's
//! worth of them, while the results come back in input order.
//!
//! Every file's bytes are the same whatever runs beside it: each file is its own job, and its
//! stages split their work on fixed structures, never on the thread count.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Condvar, Mutex};

/// Bytes a file of `pixels` pixels may take at its peak while it is processed: the decoded RGBA
/// (4 bytes a pixel), the histogram's work (the partitioned count's 2 bytes a pixel), the
/// indices and the packed rows for the encoder (about 1 byte a pixel each) and the encoded
/// file, with room to spare, plus the 64 MiB count table. Measured peaks are lower (about 8.3
/// bytes a pixel at 20 MP, BENCHMARKS.md).
pub fn peak_bytes(pixels: u64) -> u64 {
    (64 << 20) + pixels * 10
}

/// The default memory budget: half of the memory the system reports available (Linux), else
/// 4 GiB.
pub fn default_budget() -> u64 {
    let available = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .find(|l| l.starts_with("MemAvailable:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .map(|kib| kib * 1024)
    });
    available.map_or(4 << 30, |a| a / 2)
}

/// How many files run at once by default: one per core.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The memory the running jobs hold.
struct Budget {
    total: u64,
    used: Mutex<u64>,
    freed: Condvar,
}

impl Budget {
    /// Waits until `need` fits beside what runs, or nothing runs (a file larger than the whole
    /// budget runs alone).
    fn take(&self, need: u64) {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        while *used > 0 && *used + need > self.total {
            used = self.freed.wait(used).unwrap_or_else(|e| e.into_inner());
        }
        *used += need;
    }

    fn give(&self, need: u64) {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        *used -= need;
        self.freed.notify_all();
    }
}

/// Runs `work(i)` for every input `i` in `0..n`, at most `jobs` at once and within `budget`
/// bytes by `estimate(i)`, and hands each result to `done(i, result)` on this thread, in input
/// order.
pub fn run<T: Send>(
    n: usize,
    jobs: usize,
    budget: u64,
    estimate: impl Fn(usize) -> u64 + Sync,
    work: impl Fn(usize) -> T + Sync,
    mut done: impl FnMut(usize, T),
) {
    let budget = Budget {
        total: budget,
        used: Mutex::new(0),
        freed: Condvar::new(),
    };
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::channel();
        for _ in 0..jobs.clamp(1, n.max(1)) {
            let tx = tx.clone();
            let (budget, next, estimate, work) = (&budget, &next, &estimate, &work);
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let need = estimate(i);
                budget.take(need);
                let result = work(i);
                budget.give(need);
                if tx.send((i, result)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        let mut waiting = BTreeMap::new();
        let mut next_out = 0;
        for (i, result) in rx {
            waiting.insert(i, result);
            while let Some(r) = waiting.remove(&next_out) {
                done(next_out, r);
                next_out += 1;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;
    use std::time::Duration;

    #[test]
    fn results_come_in_input_order_whatever_order_they_finish_in() {
        let mut seen = Vec::new();
        run(
            12,
            4,
            u64::MAX,
            |_| 0,
            |i| {
                // Later inputs finish first.
                std::thread::sleep(Duration::from_millis(((12 - i) * 3) as u64));
                i * 10
            },
            |i, r| seen.push((i, r)),
        );
        assert_eq!(seen, (0..12).map(|i| (i, i * 10)).collect::<Vec<_>>());
    }

    #[test]
    fn running_jobs_stay_within_the_budget_and_a_large_one_runs_alone() {
        let (running, peak) = (AtomicU64::new(0), AtomicU64::new(0));
        let sizes = [30u64, 30, 30, 100, 30, 30, 250, 10];
        run(
            sizes.len(),
            8,
            100,
            |i| sizes[i],
            |i| {
                let now = running.fetch_add(sizes[i], Ordering::SeqCst) + sizes[i];
                peak.fetch_max(if sizes[i] > 100 { 0 } else { now }, Ordering::SeqCst);
                if sizes[i] > 100 {
                    assert_eq!(now, sizes[i], "a file over the budget runs alone");
                }
                std::thread::sleep(Duration::from_millis(10));
                running.fetch_sub(sizes[i], Ordering::SeqCst);
            },
            |_, _| {},
        );
        assert!(
            peak.load(Ordering::SeqCst) <= 100,
            "peak {}",
            peak.load(Ordering::SeqCst)
        );
    }
}
