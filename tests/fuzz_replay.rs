//! The fuzz targets on stable Rust, in CI: every seed in `fuzz/corpus/`, then thousands of
//! mutations of them made by a seeded generator (flipped bits, overwritten, inserted and deleted
//! bytes, truncations, duplicated runs), each run through the same target bodies the cargo-fuzz
//! harness uses (`fuzz/targets.rs`). No case may panic, and none may allocate more than
//! [`PEAK_LIMIT`] at once: the fuzzed images are limited to `MAX_PIXELS` (64 Ki pixels, 256 KiB
//! of RGBA), the decoders to 16 MiB (`src/decode.rs`: 8 bytes a pixel of the limit, at least
//! 16 MiB), and the rest of the limit is the stages' fixed buffers, not room for a size taken
//! from a damaged header. Long runs: `bash scripts/fuzz.sh`.

#[path = "../fuzz/targets.rs"]
mod targets;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The most bytes a case may hold allocated at once.
const PEAK_LIMIT: usize = 24 << 20;

/// Counts the bytes allocated, and the peak since the last reset.
struct Counting;

static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static WORST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = NOW.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        NOW.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let now =
                    NOW.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size - layout.size();
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                NOW.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// xorshift64*, seeded: the same mutations on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One to four random edits of `seed`.
fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut d = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(d.len());
        match rng.below(7) {
            0 => {
                let last = d.len().saturating_sub(1);
                d[at.min(last)] ^= 1 << rng.below(8);
            }
            1 => {
                if let Some(b) = d.get_mut(at) {
                    *b = rng.next() as u8;
                }
            }
            2 => d.truncate(at),
            3 => d.insert(at, rng.next() as u8),
            4 => {
                if at < d.len() {
                    d.remove(at);
                }
            }
            5 => {
                // A run copied elsewhere: lengths and offsets in headers become other numbers.
                let len = rng.below(16).min(d.len() - at.min(d.len()));
                let run: Vec<u8> = d[at..at + len].to_vec();
                let to = rng.below(d.len());
                d.splice(to..to, run);
            }
            _ => {
                // An interesting number (0, 255, 65535, 2^31) written over four bytes.
                let v: u32 = [0, 0xff, 0xffff, 0x8000_0000, 0xffff_ffff][rng.below(5)];
                for (i, b) in v.to_be_bytes().iter().enumerate() {
                    if let Some(x) = d.get_mut(at + i) {
                        *x = *b;
                    }
                }
            }
        }
        if d.is_empty() {
            break;
        }
    }
    d
}

fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = format!("{}/fuzz/corpus/{target}", env!("CARGO_MANIFEST_DIR"));
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (format!("{target}-{name}"), std::fs::read(&p).unwrap())
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no seeds in {dir}");
    out
}

/// Runs `target` on `data`; a panic is saved as a file to keep as a regression seed, and fails.
fn run(name: &str, target: fn(&[u8]), data: &[u8]) {
    PEAK.store(NOW.load(Ordering::Relaxed), Ordering::Relaxed);
    let base = NOW.load(Ordering::Relaxed);
    if std::panic::catch_unwind(|| target(data)).is_err() {
        let path = std::env::temp_dir().join(format!("kmquant-fuzz-{name}.bin"));
        let _ = std::fs::write(&path, data);
        panic!("{name} panicked; the input is in {}", path.display());
    }
    let peak = PEAK.load(Ordering::Relaxed) - base;
    WORST.fetch_max(peak, Ordering::Relaxed);
    assert!(peak <= PEAK_LIMIT, "{name} allocated {peak} bytes at once");
}

/// Every seed, then `per_seed` mutations of each.
fn replay(target_name: &str, target: fn(&[u8]), per_seed: usize) -> usize {
    let mut rng = Rng(0x5eed_cafe);
    let mut cases = 0;
    for (name, seed) in seeds(target_name) {
        run(&name, target, &seed);
        for i in 0..per_seed {
            run(&format!("{name}#{i}"), target, &mutate(&seed, &mut rng));
        }
        cases += per_seed + 1;
    }
    cases
}

// One test, so that the allocation count belongs to one case at a time.
#[test]
fn seeds_and_mutations_never_panic_or_allocate_past_the_limit() {
    let t = std::time::Instant::now();
    let images = replay("decode_quantize_encode", targets::decode_quantize_encode, 300);
    let argvs = replay("options", targets::options, 300);
    eprintln!(
        "{images} image cases and {argvs} command lines in {:?}; the most allocated at once: {} KiB",
        t.elapsed(),
        WORST.load(Ordering::Relaxed) >> 10
    );
    assert!(images + argvs > 5000);
}
