//! The library's one error type.

use std::fmt;

/// Everything that can go wrong in the library.
///
/// The variants carry enough context to print a one-line message; the binary adds the file name.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An option is outside its valid range; raised when the options are built.
    #[error("invalid {name}: {value} ({expected})")]
    InvalidOption {
        /// The option's name, as the command line spells it.
        name: &'static str,
        /// The rejected value.
        value: String,
        /// What would have been accepted.
        expected: &'static str,
    },
    /// The image has no pixels, or its pixel buffer does not match its size.
    #[error("invalid image: {0}")]
    InvalidImage(String),
    /// The image is larger than the configured pixel limit.
    #[error("image is {width}x{height} ({pixels} pixels), over the limit of {limit} pixels")]
    TooLarge {
        /// Width in pixels.
        width: u64,
        /// Height in pixels.
        height: u64,
        /// width * height.
        pixels: u64,
        /// The limit that was exceeded.
        limit: u64,
    },
    /// `--backend gpu` was asked for and no adapter could be opened.
    #[error("no GPU adapter: {0}")]
    NoAdapter(String),
    /// The GPU reported an error (validation, out of memory, device lost, timeout).
    #[error("GPU error: {0}")]
    Gpu(String),
    /// No palette size (or JPEG quality) gives a file within the byte limit.
    #[error("does not fit in {max} bytes even {at} ({smallest} bytes)")]
    DoesNotFit {
        /// The limit.
        max: u64,
        /// The size of the smallest file tried.
        smallest: u64,
        /// What the smallest file was: "with 1 color" or "at JPEG quality 1".
        at: &'static str,
    },
    /// The input could not be decoded.
    #[error("cannot decode image: {0}")]
    Decode(String),
    /// The output could not be encoded.
    #[error("cannot encode image: {0}")]
    Encode(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn invalid(name: &'static str, value: impl fmt::Display, expected: &'static str) -> Self {
        Error::InvalidOption {
            name,
            value: value.to_string(),
            expected,
        }
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
