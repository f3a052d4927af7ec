//! The `ror-search` binary: the command line of [`ror_search::cli`].

// The service allocates per request on every worker and frees across threads (a capacity
// write's answer is built on the log's writer thread, dropped on a request worker): glibc's
// malloc spent ~30 % of the workers' CPU on it under the ORSAN write load; mimalloc's
// thread-local free lists do not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    ror_search::cli::main()
}
