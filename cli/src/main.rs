/// See `mimalloc` in the workspace Cargo.toml.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // A failure is one line, never a backtrace: a panic (a bug in relic or a library) is reported as
    // such, and one the store catches while opening damaged files is reported by it as an error.
    std::panic::set_hook(Box::new(|info| {
        if relic_store::db::panic_is_caught() {
            return;
        }
        let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        eprintln!("relic: error: internal failure{at}: {}", relic_store::db::panic_message(info.payload()));
    }));
    let code = relic_cli::run(std::env::args_os(), &mut std::io::stdout().lock(), &mut std::io::stderr().lock());
    std::process::exit(code);
}
