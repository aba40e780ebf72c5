//! The `relic` command line as a separate process for tests that run several at once or kill one
//! mid-way (the same `relic_cli::run` the real binary calls).

fn main() {
    let code = relic_cli::run(std::env::args_os(), &mut std::io::stdout().lock(), &mut std::io::stderr().lock());
    std::process::exit(code);
}
