fn main() -> std::process::ExitCode {
    ror_search::cli::main()
}
