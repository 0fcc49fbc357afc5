//! The command-line front end: arguments, subcommands, output handling and reports.

pub mod args;
pub mod compare;
pub mod fit;
pub mod inputs;
pub mod output;
pub mod quantize;
pub mod report;

use args::{AdaptersArgs, Cli, Command, SUBCOMMANDS};
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

/// `kmquant adapters`.
fn adapters(args: &AdaptersArgs) -> anyhow::Result<i32> {
    let (all, auto) = kmquant::list_adapters();
    if args.json {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            adapters: &'a [kmquant::AdapterSummary],
            auto: Option<usize>,
        }
        println!("{}", serde_json::to_string(&Out { adapters: &all, auto })?);
        return Ok(0);
    }
    if all.is_empty() {
        println!("no wgpu adapters found; --backend auto uses the CPU");
    }
    for (i, a) in all.iter().enumerate() {
        let mark = if Some(i) == auto { "  <- auto" } else { "" };
        let driver = if a.driver.is_empty() { "?" } else { &a.driver };
        println!("{i}: {a}  driver: {driver}{mark}");
        match &a.reason {
            Some(why) => println!("   cannot run kmquant: {why}"),
            None if a.is_software() => println!("   runs kmquant (software: --backend gpu only)"),
            None => println!("   runs kmquant"),
        }
    }
    if auto.is_none() && !all.is_empty() {
        println!("no usable hardware adapter: --backend auto uses the CPU");
    }
    Ok(0)
}

/// Parses `argv` (inserting `quantize` when no subcommand is named) and runs; returns the exit code.
pub fn main(mut argv: Vec<String>) -> i32 {
    let first = argv.get(1).map(String::as_str);
    let is_meta = matches!(first, Some("-h" | "--help" | "-V" | "--version") | None);
    if !is_meta && !first.is_some_and(|f| SUBCOMMANDS.contains(&f)) {
        argv.insert(1, "quantize".into());
    }
    let cli = match Cli::try_parse_from(&argv) {
        Ok(c) => c,
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            return 2;
        }
        Err(e) if e.use_stderr() => {
            // Usage errors: one line, e.g. "kmquant: invalid value '0' for '--colors <K>': ...".
            let text = e.render().to_string();
            let first = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid usage");
            eprintln!("kmquant: {} (see --help)", first.trim_start_matches("error: "));
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
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kmquant: {}", quantize::one_line(&e));
            1
        }
    }
}
