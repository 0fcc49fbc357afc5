//! One file through the command line's own per-file path, for programs that embed kmquant (the
//! Python package's `quantize_file`): planned and run as `kmquant quantize INPUT -o OUTPUT FLAGS`
//! plans and runs it, with the report returned instead of printed. The same code, so the same
//! bytes and the same `--json` object.

use super::args::{Cli, Command, QuantizeArgs};
use super::inputs::Input;
use super::quantize::{self, Job, Skipped};
use super::report::SCHEMA;
use super::UsageError;
use crate::{Options, Quantizer};
use clap::Parser;
use std::path::Path;
use std::time::Instant;

/// What went wrong, for a caller that maps failures to its own error types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileErrorKind {
    /// A flag or a value the command line refuses (exit status 2 there).
    Usage,
    /// An option value the library refuses.
    InvalidOption,
    /// A file or folder that does not exist.
    NotFound,
    /// Permission denied.
    PermissionDenied,
    /// The output exists and `--force` was not given.
    Exists,
    /// The input is a folder.
    IsADirectory,
    /// Any other failure to read or write a file.
    Io,
    /// The input is not an image kmquant can decode, or is over the pixel limit.
    Decode,
    /// The output could not be encoded.
    Encode,
    /// No GPU adapter could be opened, or the GPU failed.
    Gpu,
    /// Anything else: no file size fits `--max-bytes`, the PSNR is below `--min-psnr`.
    Other,
}

/// A failure: its kind and the one-line message `kmquant quantize` prints for it (without the
/// leading `kmquant: `).
#[derive(Debug, Clone)]
pub struct FileError {
    /// What went wrong.
    pub kind: FileErrorKind,
    /// The message.
    pub message: String,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FileError {}

impl FileError {
    fn usage(message: String) -> Self {
        FileError {
            kind: FileErrorKind::Usage,
            message,
        }
    }

    /// The kind of an error from the library: one mapping for every embedding program.
    pub fn library_kind(e: &crate::Error) -> FileErrorKind {
        use crate::Error as E;
        match e {
            E::InvalidOption { .. } | E::InvalidImage(_) => FileErrorKind::InvalidOption,
            E::TooLarge { .. } | E::Decode(_) => FileErrorKind::Decode,
            E::Encode(_) => FileErrorKind::Encode,
            E::NoAdapter(_) | E::Gpu(_) => FileErrorKind::Gpu,
            E::Io { source, .. } => io_kind(source),
            _ => FileErrorKind::Other,
        }
    }

    /// Classifies an error of the per-file path by the first typed cause in its chain.
    fn of(e: &anyhow::Error, input: &str) -> Self {
        let message = format!("{input}: {}", quantize::one_line(e));
        if let Some(u) = e.downcast_ref::<UsageError>() {
            return FileError::usage(u.0.clone());
        }
        let kind = e
            .chain()
            .find_map(|c| {
                if let Some(k) = c.downcast_ref::<crate::Error>() {
                    Some(Self::library_kind(k))
                } else {
                    c.downcast_ref::<std::io::Error>().map(io_kind)
                }
            })
            .unwrap_or(if Path::new(input).is_dir() {
                FileErrorKind::IsADirectory
            } else {
                FileErrorKind::Other
            });
        FileError { kind, message }
    }
}

fn io_kind(e: &std::io::Error) -> FileErrorKind {
    match e.kind() {
        std::io::ErrorKind::NotFound => FileErrorKind::NotFound,
        std::io::ErrorKind::PermissionDenied => FileErrorKind::PermissionDenied,
        std::io::ErrorKind::AlreadyExists => FileErrorKind::Exists,
        std::io::ErrorKind::IsADirectory => FileErrorKind::IsADirectory,
        _ => FileErrorKind::Io,
    }
}

/// One input and one output, with the flags of `kmquant quantize`.
pub struct FileJob {
    args: QuantizeArgs,
    input: Input,
}

impl FileJob {
    /// Parses `kmquant quantize INPUT -o OUTPUT FLAGS...`. Standard input and output (`-`) are
    /// refused: this reads and writes files. A flag the command line refuses is a
    /// [`FileErrorKind::Usage`] error with clap's message on one line.
    pub fn parse(input: &str, output: &str, flags: &[String]) -> Result<FileJob, FileError> {
        if input == "-" || output == "-" {
            return Err(FileError::usage(
                "'-' (standard input or output) is not a file; give a path".into(),
            ));
        }
        let mut argv = vec!["kmquant".to_string(), "quantize".to_string()];
        argv.extend(flags.iter().cloned());
        // `--output=VALUE`, so that a name starting with `-` is a value, not a flag.
        argv.extend([format!("--output={output}"), "--".to_string(), input.to_string()]);
        let args = match Cli::try_parse_from(argv) {
            Ok(Cli {
                command: Command::Quantize(args),
            }) => args,
            Ok(_) => return Err(FileError::usage("not a quantize command line".into())),
            Err(e) => return Err(FileError::usage(super::one_line_usage(&e))),
        };
        if args.recursive
            || args.out_dir.is_some()
            || args.ext.is_some()
            || args.files_from.is_some()
            || args.shard.is_some()
            || args.inputs.len() != 1
        {
            return Err(FileError::usage(
                "one input and one output only: no --recursive, --out-dir, --ext, --files-from or --shard"
                    .into(),
            ));
        }
        let input = Input {
            path: input.to_string(),
            root: None,
            error: None,
        };
        Ok(FileJob { args, input })
    }

    /// The options `kmquant quantize` builds its quantizer with for this one file: under
    /// `--backend auto` without `--adapter`, the CPU when the image is too small for a device to
    /// pay for its start ([`crate::policy::worth_starting`]).
    pub fn options(&self) -> Result<Options, FileError> {
        let backend = quantize::run_backend(&self.args, std::slice::from_ref(&self.input));
        self.args.kmeans.options(backend).map_err(|e| FileError {
            kind: FileError::library_kind(&e),
            message: e.to_string(),
        })
    }

    /// Plans and runs the job on `quantizer` (built from [`FileJob::options`], or one with the
    /// same palette options kept open across files) and returns the report: the `"file"` object
    /// of `--json`, or the `"skipped"` one under `--skip-existing` or `--skip-if-larger`.
    pub fn run(&self, quantizer: &Quantizer) -> Result<serde_json::Value, FileError> {
        let start = Instant::now();
        let path = self.input.path.as_str();
        let job = Job::plan(&self.args, &self.input, false).map_err(|e| FileError::of(&e, path))?;
        match job.run(quantizer, start) {
            Ok((report, _)) => serde_json::to_value(&report).map_err(|e| FileError {
                kind: FileErrorKind::Other,
                message: format!("{path}: cannot write the report: {e}"),
            }),
            Err(e) => match e.downcast_ref::<Skipped>() {
                Some(s) => Ok(serde_json::json!({
                    "schema": SCHEMA,
                    "kind": "skipped",
                    "input": path,
                    "reason": s.0,
                })),
                None => Err(FileError::of(&e, path)),
            },
        }
    }
}
