//! `shopgen-up STACK_FILE`: the runner `shopgen up` builds and hands over to.
//!
//! Not meant to be run by hand: `shopgen up SPEC` compiles the spec, builds this
//! binary with the generated crates, writes the stack (`shopgen-up-stack`) to a
//! private file and replaces itself with `shopgen-up STACK_FILE`. The file is deleted
//! once read.

use std::path::PathBuf;
use std::process::ExitCode;

use shopgen_up::Stack;

const USAGE: &str = "usage: shopgen-up STACK_FILE\n\
    shopgen-up is the runner of `shopgen up`, which writes the stack file and starts it; \
    run `shopgen up SPEC` instead (from a checkout: cargo run -p shopgen -- up SPEC)";

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let path = match args.as_slice() {
        [one] if !one.to_string_lossy().starts_with('-') => PathBuf::from(one),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let text = std::fs::read_to_string(&path);
    // Read once: it holds the API keys, so it does not outlive the start.
    let _ = std::fs::remove_file(&path);
    let stack = match text.map(|t| Stack::from_json(&t)) {
        Ok(Ok(stack)) => stack,
        Ok(Err(e)) => {
            eprintln!("error: {}: {e}", path.display());
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("error: cannot read {}: {e}\n{USAGE}", path.display());
            return ExitCode::from(2);
        }
    };
    match shopgen_up::run(stack) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
