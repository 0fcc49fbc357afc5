//! Finding the inputs: files as given, folders walked under `--recursive`, and reading one input
//! (a file, or standard input for `-`).

use super::args::QuantizeArgs;
use anyhow::{bail, Context, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Reads a whole input: a file, or standard input for `-`.
pub fn read_input(input: &str) -> Result<Vec<u8>> {
    if input == "-" {
        let mut b = Vec::new();
        std::io::stdin()
            .read_to_end(&mut b)
            .context("reading standard input")?;
        return Ok(b);
    }
    let meta = std::fs::metadata(input).map_err(anyhow::Error::from)?;
    if meta.is_dir() {
        bail!("is a directory, not an image (use --recursive to process the images inside)");
    }
    Ok(std::fs::read(input)?)
}

const IMAGE_EXTENSIONS: [&str; 9] = ["jpg", "jpeg", "png", "webp", "tif", "tiff", "bmp", "gif", "jfif"];

/// True for a file a recursive walk finds that is this tool's own output of another image in
/// the same folder: named `NAME-kK.ext`, or `NAME` + SUFFIX under `--ext SUFFIX`, with a `NAME.*`
/// image beside it. A `my-k9.png` with no `my.*` beside it is the user's, and is processed; a
/// file given by name is never skipped.
fn is_own_output(path: &Path, siblings: &[PathBuf], ext: Option<&str>) -> bool {
    let has_source = |source: &str| {
        !source.is_empty()
            && siblings
                .iter()
                .any(|s| s != path && s.file_stem().and_then(|s| s.to_str()) == Some(source) && is_image(s))
    };
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let numbered = stem
        .rsplit_once("-k")
        .filter(|(_, k)| !k.is_empty() && k.chars().all(|c| c.is_ascii_digit()));
    if numbered.is_some_and(|(source, _)| has_source(source)) {
        return true;
    }
    let name = path.file_name().and_then(|s| s.to_str()).unwrap_or("");
    ext.and_then(|e| name.strip_suffix(e)).is_some_and(has_source)
}

fn is_image(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn walk(dir: &Path, ext: Option<&str>, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in &entries {
        if p.is_dir() {
            walk(p, ext, out)?;
        } else if is_image(p) && !is_own_output(p, &entries, ext) {
            out.push(p.clone());
        }
    }
    Ok(())
}

/// One input: its path, the folder it was found under by `--recursive` (whose tree `--out-dir`
/// mirrors), or the error that already stopped it (an unreadable or empty folder).
pub struct Input {
    pub path: String,
    pub root: Option<PathBuf>,
    pub error: Option<anyhow::Error>,
}

impl Input {
    /// What `--shard` hashes: the path below the folder a walk found it in (so that the split
    /// does not depend on where that folder is mounted), or the path as given.
    /// Its components are joined with `/` whatever the system's separator, so that Windows and
    /// Unix workers split one tree alike.
    pub fn shard_key(&self) -> String {
        let p = Path::new(&self.path);
        let key = self
            .root
            .as_deref()
            .and_then(|r| p.strip_prefix(r).ok())
            .unwrap_or(p);
        key.components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// One worker's share of the inputs, `--shard I/N`: the inputs whose key hashes to I modulo N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This worker's number, 0 to `count - 1`.
    pub index: u64,
    /// How many workers share the inputs.
    pub count: u64,
}

impl Shard {
    /// Whether the input with this key is this shard's. The hash (64-bit FNV-1a, then the
    /// SplitMix64 finalizer to spread similar names) is fixed: the same on every machine and in
    /// every version, and it depends on nothing but the key.
    pub fn owns(&self, key: &str) -> bool {
        key_hash(key) % self.count == self.index
    }
}

/// The hash `--shard` splits by: 64-bit FNV-1a, then the SplitMix64 finalizer.
fn key_hash(key: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    h
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let bad = || format!("'{s}': expected I/N with 0 <= I < N, e.g. 0/8 (the first of 8 workers)");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (u64, u64) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// The names in a `--files-from` list: one per line (a trailing CR dropped), or NUL-terminated
/// with `-0`; empty entries are skipped.
fn list_names(bytes: &[u8], nul: bool) -> Result<Vec<String>> {
    let sep = if nul { b'\0' } else { b'\n' };
    let mut names = Vec::new();
    for (n, entry) in bytes.split(|&b| b == sep).enumerate() {
        let entry = if nul {
            entry
        } else {
            entry.strip_suffix(b"\r").unwrap_or(entry)
        };
        if entry.is_empty() {
            continue;
        }
        match std::str::from_utf8(entry) {
            Ok(name) => names.push(name.to_string()),
            Err(_) => bail!("entry {} is not UTF-8 text", n + 1),
        }
    }
    Ok(names)
}

/// The paths `--files-from` names (`-`: standard input).
fn files_from(list: &str, nul: bool) -> Result<Vec<String>> {
    let bytes = if list == "-" {
        let mut b = Vec::new();
        std::io::stdin().read_to_end(&mut b).map(|_| b)
    } else {
        std::fs::read(list)
    }
    .with_context(|| format!("cannot read the --files-from list {list}"))?;
    list_names(&bytes, nul).with_context(|| format!("--files-from {list}"))
}

/// The inputs: those given, then those `--files-from` lists, with folders expanded (sorted)
/// under --recursive. An unreadable list is an error for the whole run.
pub fn expand_inputs(args: &QuantizeArgs) -> Result<Vec<Input>> {
    let mut out = Vec::new();
    let listed = match &args.files_from {
        Some(list) => {
            if list == "-" && args.inputs.iter().any(|i| i == "-") {
                return Err(super::usage(
                    "--files-from - and the input - cannot both read standard input",
                ));
            }
            let names = files_from(list, args.null)?;
            if names.is_empty() && args.inputs.is_empty() {
                return Err(super::usage(format!("--files-from {list} names no inputs")));
            }
            names
        }
        None => Vec::new(),
    };
    let given_n = args.inputs.len();
    for (n, input) in args.inputs.iter().chain(&listed).enumerate() {
        let given = |error| Input {
            path: input.clone(),
            root: None,
            error,
        };
        // A list names files: `-` there would be standard input, which the list itself may be.
        if n >= given_n && input == "-" {
            out.push(given(Some(anyhow::anyhow!(
                "a --files-from list cannot name standard input; write ./- for a file named -"
            ))));
            continue;
        }
        if args.recursive && input != "-" && Path::new(input).is_dir() {
            let mut files = Vec::new();
            match walk(Path::new(input), args.ext.as_deref(), &mut files) {
                Ok(()) if files.is_empty() => out.push(given(Some(anyhow::anyhow!("no images found")))),
                Ok(()) => out.extend(files.into_iter().map(|p| Input {
                    path: p.to_string_lossy().into_owned(),
                    root: Some(PathBuf::from(input)),
                    error: None,
                })),
                Err(e) => out.push(given(Some(e.into()))),
            }
        } else {
            out.push(given(None));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_split_on_newlines_or_nuls_and_skip_empty_entries() {
        let names = list_names(b"a.jpg\r\n\nb c.png\nlast.gif", false).unwrap();
        assert_eq!(names, ["a.jpg", "b c.png", "last.gif"]);
        let names = list_names(b"x\ny.jpg\0z.png\0", true).unwrap();
        assert_eq!(names, ["x\ny.jpg", "z.png"]);
        assert!(list_names(b"ok.png\n\xff.png\n", false).is_err());
    }

    #[test]
    fn shards_parse_and_split_every_key_into_exactly_one_share() {
        assert_eq!("2/8".parse::<Shard>(), Ok(Shard { index: 2, count: 8 }));
        for bad in ["8/8", "1/0", "x/2", "3", "-1/4", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        let keys: Vec<String> = (0..10_000).map(|i| format!("photos/IMG_{i:05}.JPG")).collect();
        let n = 7;
        let mut sizes = vec![0usize; n];
        for k in &keys {
            let owners: Vec<u64> = (0..n as u64)
                .filter(|&i| {
                    Shard {
                        index: i,
                        count: n as u64,
                    }
                    .owns(k)
                })
                .collect();
            assert_eq!(owners.len(), 1, "{k} belongs to {owners:?}");
            sizes[owners[0] as usize] += 1;
        }
        // Balanced: each share within 10% of 1/7 of the names.
        for s in &sizes {
            assert!((*s as f64 - 10_000.0 / 7.0).abs() < 143.0, "{sizes:?}");
        }
        // Fixed across versions and machines: a change of hash would move files between shards
        // of a job already half done. The values are FNV-1a + SplitMix64 as computed by an
        // independent implementation (a few lines of Python), so a change shows here.
        let got: Vec<u64> = ["a.png", "b.png", "photos/IMG_00001.JPG", ""]
            .iter()
            .map(|k| key_hash(k))
            .collect();
        assert_eq!(got, PINNED, "the --shard hash changed");
    }

    const PINNED: [u64; 4] = [
        15056803862227643222,
        1943818199533083751,
        5819615217892701362,
        17665956581633026203,
    ];
}
