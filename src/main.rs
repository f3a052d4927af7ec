//! The `ror-search` binary: the command line of [`ror_search::cli`].

fn main() -> std::process::ExitCode {
    ror_search::cli::main()
}
