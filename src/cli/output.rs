//! Where an output goes, the checks that keep inputs and existing files safe, and the atomic
//! write (temporary file in the destination folder, then rename).

use crate::encode::Format;
use anyhow::{bail, Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The destination of one output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dest {
    /// Standard output.
    Stdout,
    /// A file.
    File(PathBuf),
}

impl std::fmt::Display for Dest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dest::Stdout => write!(f, "-"),
            Dest::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// What decides an output's name: `-o`, `--out-dir`, `--format`, `--ext` and K.
pub struct Naming<'a> {
    pub output: Option<&'a str>,
    pub out_dir: Option<&'a Path>,
    pub format: Option<Format>,
    pub ext: Option<&'a str>,
    pub k: u32,
}

/// The format a file name asks for, checked against `--format`: a contradiction is a usage
/// error, and so is a name with no known extension and no `--format`.
fn format_of(what: &str, name: &str, format: Option<Format>) -> Result<Format> {
    // "x" in front, so that a bare suffix like ".png" reads as an extension.
    match (format, Format::from_path(&format!("x{name}"))) {
        (Some(f), Some(g)) if f != g => Err(super::usage(format!(
            "{what} {name} names a {} file but --format asks for {}; make them agree",
            g.extension(),
            f.extension()
        ))),
        (Some(f), _) | (None, Some(f)) => Ok(f),
        (None, None) => Err(super::usage(format!(
            "{what} {name}: cannot tell the format from the name; end it in .png, .gif or .jpg, or give --format"
        ))),
    }
}

/// Chooses the destination and format for `input`. Under `--out-dir`, an input found by
/// `--recursive` under `root` keeps its place in the tree: `root/a/b.png` goes to
/// `OUT/a/b-kK.png`. With `--ext SUFFIX` the name is the input's stem and SUFFIX.
pub fn plan(input: &str, root: Option<&Path>, n: &Naming) -> Result<(Dest, Format)> {
    if let Some(o) = n.output {
        if o == "-" {
            return Ok((Dest::Stdout, n.format.unwrap_or(Format::Png)));
        }
        return Ok((Dest::File(PathBuf::from(o)), format_of("--output", o, n.format)?));
    }
    let (f, suffix) = match n.ext {
        Some(e) => (format_of("--ext", e, n.format)?, e.to_string()),
        None => {
            let f = n.format.unwrap_or(Format::Png);
            (f, format!("-k{}.{}", n.k, f.extension()))
        }
    };
    if input == "-" && n.out_dir.is_none() {
        return Ok((Dest::Stdout, f));
    }
    let p = Path::new(input);
    let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("stdin");
    let name = format!("{stem}{suffix}");
    let parent = p.parent().unwrap_or(Path::new(""));
    let dir = match (n.out_dir, root) {
        (Some(d), Some(r)) => d.join(parent.strip_prefix(r).unwrap_or(Path::new(""))),
        (Some(d), None) => d.to_path_buf(),
        (None, _) => parent.to_path_buf(),
    };
    Ok((Dest::File(dir.join(name)), f))
}

/// A path made absolute and cleaned of `.` and `..` without touching the file system, to tell
/// whether two names mean the same file before either exists.
pub fn normalized(p: &Path) -> PathBuf {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// Whether `dest` is the input file itself.
pub fn is_input(input: &str, dest: &Dest) -> bool {
    let Dest::File(out) = dest else { return false };
    input != "-"
        && matches!((std::fs::canonicalize(input), std::fs::canonicalize(out)), (Ok(a), Ok(b)) if a == b)
}

/// Refuses to write over the input (unless `in_place`: `--ext` and `--force` together), or over
/// an existing file without `force`.
pub fn check(input: &str, dest: &Dest, force: bool, in_place: bool) -> Result<()> {
    let Dest::File(out) = dest else { return Ok(()) };
    if is_input(input, dest) && !in_place {
        bail!("refusing to overwrite the input with the output; choose another -o, or --ext with --force to replace it");
    }
    if !force && out.symlink_metadata().is_ok() {
        // An io::Error of its kind, so that an embedding program can tell it from the others.
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{} already exists (use --force to overwrite it)", out.display()),
        )
        .into());
    }
    if out.is_dir() {
        bail!("{} is a directory", out.display());
    }
    Ok(())
}

/// Writes `bytes` to `dest` completely or not at all.
pub fn write(dest: &Dest, bytes: &[u8], force: bool) -> Result<()> {
    let out = match dest {
        Dest::Stdout => {
            let mut so = std::io::stdout().lock();
            so.write_all(bytes).context("writing to standard output")?;
            return so.flush().context("writing to standard output");
        }
        Dest::File(p) => p,
    };
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".kmquant-").suffix(".tmp");
    // tempfile creates private (0600) files; an output should get the mode any new file gets
    // (0666 less the umask), as `cp` or `pngquant` would give it.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut tmp = builder
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .with_context(|| format!("writing {}", out.display()))?;
    if force {
        tmp.persist(out).map_err(|e| e.error)
    } else {
        tmp.persist_noclobber(out).map_err(|e| e.error)
    }
    .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(())
}
