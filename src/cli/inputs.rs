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

/// The inputs, with folders expanded (sorted) under --recursive.
pub fn expand_inputs(args: &QuantizeArgs) -> Vec<Input> {
    let mut out = Vec::new();
    for input in &args.inputs {
        let given = |error| Input {
            path: input.clone(),
            root: None,
            error,
        };
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
    out
}
