//! The `kmquant` binary: parse, run, print, exit. See `kmquant --help`.

fn main() {
    // Mesa's drivers print "XDG_RUNTIME_DIR is invalid" on every adapter probe when it is unset,
    // which would break the one-line error promise. Set it before any thread exists.
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir());
    }
    std::process::exit(kmquant::cli::main(std::env::args().collect()));
}
