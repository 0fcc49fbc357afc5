//! The command-line front end (the `cli` feature, on by default): arguments, subcommands, output
//! handling and reports. The `kmquant` binary is [`main`]; [`check_args`] parses and validates a
//! command line without running it (for the fuzzer).

mod args;
mod batch;
mod compare;
pub mod embed;
mod explore;
mod fit;
mod inputs;
mod output;
mod quantize;
mod report;

use args::{AdaptersArgs, Cli, Command, CompletionsArgs, ManArgs, SUBCOMMANDS};
use clap::Parser;

/// Ends the process at once with `code`, after flushing standard output and error, without
/// running exit handlers: used when every output is written while the device is still opening
/// on its own thread, whose driver code must not race the drivers' exit handlers.
pub fn exit_now(code: i32) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    #[cfg(unix)]
    // SAFETY: _exit only ends the process; every file this run wrote is already closed.
    unsafe {
        libc::_exit(code)
    }
    #[cfg(not(unix))]
    std::process::exit(code)
}

/// `kmquant completions SHELL`: the script on standard output.
fn completions(args: &CompletionsArgs) -> anyhow::Result<i32> {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "kmquant", &mut std::io::stdout());
    Ok(0)
}

/// `kmquant man [SUBCOMMAND]`: the man page, from the same definitions as `--help`.
fn man(args: &ManArgs) -> anyhow::Result<i32> {
    use clap::CommandFactory;
    let cmd = Cli::command();
    let page = match args.subcommand.as_deref() {
        None => cmd,
        Some(name) => {
            let sub = cmd.find_subcommand(name).cloned().ok_or_else(|| {
                usage(format!(
                    "man {name}: no such subcommand (quantize, compare, explore, adapters, completions, man)"
                ))
            })?;
            let full = format!("kmquant-{name}");
            sub.name(full.clone()).bin_name(full)
        }
    };
    clap_mangen::Man::new(page).render(&mut std::io::stdout())?;
    Ok(0)
}

/// `kmquant adapters`.
fn adapters(args: &AdaptersArgs) -> anyhow::Result<i32> {
    let (all, auto) = crate::list_adapters();
    if args.json {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            schema: u32,
            kind: &'static str,
            adapters: &'a [crate::AdapterSummary],
            auto: Option<usize>,
        }
        println!(
            "{}",
            serde_json::to_string(&Out {
                schema: report::SCHEMA,
                kind: "adapters",
                adapters: &all,
                auto,
            })?
        );
        return Ok(0);
    }
    if all.is_empty() {
        println!("no wgpu adapters found; --backend auto uses the CPU");
    }
    for (i, a) in all.iter().enumerate() {
        let mark = if Some(i) == auto { "  <- auto" } else { "" };
        let driver = if a.driver.is_empty() { "?" } else { &a.driver };
        println!("{i}: {a}  driver: {driver}{mark}");
        println!("   {}", fitness(a));
    }
    if auto.is_none() && !all.is_empty() {
        println!("no usable hardware adapter: --backend auto uses the CPU");
    }
    Ok(0)
}

/// One line on whether the engine runs on `a`, and what it gets there or what is missing.
fn fitness(a: &crate::AdapterSummary) -> String {
    if let Some(e) = &a.engine {
        let histogram = if e.histogram_on_device {
            "on the device"
        } else {
            "on the CPU"
        };
        let software = if a.is_software() {
            "; software: --backend gpu or --adapter only"
        } else {
            ""
        };
        return format!(
            "runs kmquant: {} MiB bindings, {} pixels or {} colors per chunk, histogram {histogram}{software}",
            e.storage_binding_bytes >> 20,
            e.pixels_per_chunk,
            e.colors_per_chunk
        );
    }
    let mut why: Vec<String> = a
        .missing_features
        .iter()
        .map(|f| format!("missing feature {f}"))
        .chain(
            a.missing_limits
                .iter()
                .map(|m| format!("missing limit {} (has {}, needs {})", m.name, m.have, m.need)),
        )
        .collect();
    if let Some(e) = &a.open_error {
        why.push(format!("failed to open: {e}"));
    }
    if why.is_empty() {
        why.push(a.reason.clone().unwrap_or_else(|| "unknown".into()));
    }
    format!("cannot run kmquant: {}", why.join("; "))
}

/// A mistake in how the command was called: reported on one line, exit status 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A usage error, as an anyhow error.
pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    UsageError(msg.into()).into()
}

/// Whether the first argument starts the `kmquant INPUT...` shorthand for `kmquant quantize
/// INPUT...`: an option, `-`, or an existing path. Any other word is a subcommand, and clap
/// reports an unknown one with a "similar subcommand" tip.
fn starts_shorthand(first: &str) -> bool {
    first.starts_with('-') || std::path::Path::new(first).exists()
}

/// A first word that is neither a subcommand nor an existing file but looks like a file name
/// (it has an extension or a path separator): the message for it, since "unrecognized
/// subcommand 'photo.jpg'" would hide that the photo is missing.
fn missing_input(first: &str) -> Option<String> {
    let looks_like_file = first.contains(['/', '\\']) || std::path::Path::new(first).extension().is_some();
    (looks_like_file && !starts_shorthand(first) && !SUBCOMMANDS.contains(&first))
        .then(|| format!("'{first}' is neither an existing file nor a subcommand"))
}

/// clap's message as one line: the error and what follows it up to the usage, the tips
/// included ("tip: a similar subcommand exists: 'compare'"), the argument at fault named.
fn one_line_usage(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let body: Vec<&str> = text
        .lines()
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    body.join(" ")
        .trim_start_matches("error: ")
        .replace(" tip: ", "; ")
}

/// `argv` with `quantize` inserted for the `kmquant INPUT...` shorthand.
fn with_subcommand(mut argv: Vec<String>) -> Vec<String> {
    let first = argv.get(1).map(String::as_str);
    let is_meta = matches!(first, Some("-h" | "--help" | "-V" | "--version") | None);
    if let Some(f) = first {
        if !is_meta && !SUBCOMMANDS.contains(&f) && starts_shorthand(f) {
            argv.insert(1, "quantize".into());
        }
    }
    argv
}

/// Parses a command line and builds the library options it asks for, without reading or
/// writing anything: Ok, or the one-line message the binary would print for a usage error.
pub fn check_args(argv: Vec<String>) -> Result<(), String> {
    if let Some(msg) = argv.get(1).and_then(|f| missing_input(f)) {
        return Err(msg);
    }
    let cli = Cli::try_parse_from(with_subcommand(argv)).map_err(|e| one_line_usage(&e))?;
    let kmeans = match &cli.command {
        Command::Quantize(a) => &a.kmeans,
        Command::Compare(a) => &a.kmeans,
        Command::Adapters(_) | Command::Explore(_) | Command::Completions(_) | Command::Man(_) => {
            return Ok(())
        }
    };
    kmeans
        .options(crate::BackendChoice::Cpu)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Writes wgpu's, the drivers' and the library's log records to stderr, each on one line with
/// the seconds since the logger was installed, from the level `KMQUANT_LOG` names on (error,
/// warn, info, debug or trace).
struct StderrLog;

static STDERR_LOG: StderrLog = StderrLog;
static LOG_START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

impl log::Log for StderrLog {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::max_level()
    }
    fn log(&self, r: &log::Record) {
        if self.enabled(r.metadata()) {
            let text = r.args().to_string().replace('\n', " ");
            let t = LOG_START
                .get_or_init(std::time::Instant::now)
                .elapsed()
                .as_secs_f64();
            eprintln!("kmquant log: {t:.3}s {} {}: {text}", r.level(), r.target());
        }
    }
    fn flush(&self) {}
}

/// Installs [`StderrLog`] when `KMQUANT_LOG` names a level (again on a later call in the same
/// process, with that call's level); an unknown level is a one-line error.
fn init_log() -> Result<(), String> {
    let Some(level) = std::env::var_os("KMQUANT_LOG") else {
        return Ok(());
    };
    let level = level.to_string_lossy();
    let filter: log::LevelFilter = level
        .parse()
        .map_err(|_| format!("KMQUANT_LOG={level} is not a level: use error, warn, info, debug or trace"))?;
    LOG_START.get_or_init(std::time::Instant::now);
    // Fails only when a logger is already installed: this one, from an earlier call.
    let _ = log::set_logger(&STDERR_LOG);
    log::set_max_level(filter);
    Ok(())
}

/// Parses `argv` (inserting `quantize` for the shorthand) and runs; returns the exit code.
pub fn main(argv: Vec<String>) -> i32 {
    if let Err(e) = init_log() {
        eprintln!("kmquant: {e}");
        return 2;
    }
    // A closed pipe (`kmquant ... | head`) ends the process quietly, as for any Unix tool,
    // instead of a panic in println!.
    #[cfg(unix)]
    // SAFETY: called before any thread starts; it only restores the default action for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    if let Some(msg) = argv.get(1).and_then(|f| missing_input(f)) {
        eprintln!("kmquant: {msg} (see --help)");
        return 2;
    }
    let argv = with_subcommand(argv);
    let cli = match Cli::try_parse_from(&argv) {
        Ok(c) => c,
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            return 2;
        }
        Err(e) if e.use_stderr() => {
            eprintln!("kmquant: {} (see --help)", one_line_usage(&e));
            return 2;
        }
        Err(e) => {
            let _ = e.print();
            return 0;
        }
    };
    let result = match &cli.command {
        Command::Quantize(a) => quantize::run(a),
        Command::Adapters(a) => adapters(a),
        Command::Compare(a) => compare::run(a),
        Command::Explore(a) => explore::run(a),
        Command::Completions(a) => completions(a),
        Command::Man(a) => man(a),
    };
    match result {
        Ok(code) => code,
        Err(e) if e.downcast_ref::<UsageError>().is_some() => {
            eprintln!("kmquant: {e} (see --help)");
            2
        }
        Err(e) => {
            eprintln!("kmquant: {}", quantize::one_line(&e));
            1
        }
    }
}
