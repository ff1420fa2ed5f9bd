//! `shopgen up`: the whole stack on one machine, from the generated files.
//!
//! The command's spec-side half: it compiles the spec, checks that the output folder
//! holds what `shopgen build` writes (the same expected output `build` and `check`
//! use, so `up` works after any schema change a build migrates), checks the seed
//! file against the model, and describes the stack for the runner. The runner, which
//! starts processes, binds ports and serves the local API Gateway emulator, is the
//! crate `shopgen-up`; it links tokio and hyper, so the `shopgen` command includes it
//! only with the cargo feature `up`. Without it, `shopgen up` says how to get it.

#[cfg(feature = "up")]
mod seed;

use std::path::PathBuf;
use std::process::ExitCode;

/// Environment variable with API keys, comma-separated.
pub const API_KEYS_ENV: &str = "SHOPGEN_API_KEYS";

/// `shopgen up` flags.
#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// The spec file, e.g. specs/shop.toml.
    pub spec: PathBuf,
    /// Folder of the generated code (default generated/<spec stem>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Port of the local API Gateway emulator (0: any free port).
    #[arg(long, default_value_t = 8080)]
    pub gateway_port: u16,
    /// Port of the relay (0: any free port).
    #[arg(long, default_value_t = 8081)]
    pub relay_port: u16,
    /// Port of the backend (default: the spec's service port, 3000; 0: any free port).
    #[arg(long)]
    pub backend_port: Option<u16>,
    /// Backend database: sqlite://FILE or postgres://… (default: SQLite at
    /// .shopgen/<spec stem>.db).
    #[arg(long)]
    pub database_url: Option<String>,
    /// An API key the gateway accepts (repeatable); when none is given, one is generated
    /// and printed.
    #[arg(long = "api-key", env = API_KEYS_ENV, value_delimiter = ',')]
    pub api_keys: Vec<String>,
    /// Sample data to load through the internal API after start (JSON: resources'
    /// plural names → records; has-many members hold child records), e.g.
    /// specs/shop.seed.json.
    #[arg(long)]
    pub seed: Option<PathBuf>,
}

/// The command that runs `shopgen up` with the same arguments from a build that has
/// the `up` feature.
#[cfg_attr(feature = "up", allow(dead_code))]
fn with_feature(args: &[String]) -> String {
    let mut command = String::from("cargo run -p shopgen --features up -- up");
    for arg in args {
        command.push(' ');
        let plain = !arg.is_empty()
            && arg
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c));
        if plain {
            command.push_str(arg);
        } else {
            command.push('\'');
            command.push_str(&arg.replace('\'', r"'\''"));
            command.push('\'');
        }
    }
    command
}

/// Runs `shopgen up` to the end; the exit code to give. `raw` is the command line
/// after `up`, for the message of a build without the runner.
#[cfg(not(feature = "up"))]
pub fn run(_args: UpArgs, raw: &[String]) -> anyhow::Result<ExitCode> {
    eprintln!(
        "error: this shopgen was built without `shopgen up` (it links a web server stack, \
         so it is the cargo feature `up`, off by default)\n\
         run it with: {}",
        with_feature(raw)
    );
    Ok(ExitCode::from(2))
}

/// Runs `shopgen up` to the end; the exit code to give.
#[cfg(feature = "up")]
pub fn run(args: UpArgs, _raw: &[String]) -> anyhow::Result<ExitCode> {
    use anyhow::Context;

    let source = shopgen::source_for(&args.spec);
    let Some(compiled) = crate::compile(&args.spec)? else {
        return Ok(ExitCode::from(1));
    };
    let model = &compiled.model;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| crate::default_out(&args.spec));
    if crate::current(&args.spec, &compiled, &out, args.out.is_some())?.is_none() {
        eprintln!("error: `shopgen up` runs the generated code, so it must be current first");
        return Ok(ExitCode::from(1));
    }
    let seed = match &args.seed {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the seed file {}", path.display()))?;
            let seed = seed::parse(&text, model)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            Some(seed)
        }
        None => None,
    };
    let database_url = match &args.database_url {
        Some(url) => url.clone(),
        None => {
            std::fs::create_dir_all(".shopgen").context("cannot create .shopgen/")?;
            format!("sqlite://.shopgen/{}.db", source.stem)
        }
    };
    let example_path = model
        .public_endpoints()
        .map(|e| e.path)
        .find(|p| !p.contains('{'))
        .unwrap_or("/")
        .to_string();
    // The relay's settings from the spec, as the deployed relay gets them from Terraform.
    let relay_env: Vec<(String, String)> = model
        .relay_env()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let names = &model.service.names;
    shopgen_up::run(shopgen_up::Stack {
        service_name: model.service.name.clone(),
        out,
        backend_crate: names.backend_crate.clone(),
        relay_crate: names.relay_crate.clone(),
        gateway_port: args.gateway_port,
        relay_port: args.relay_port,
        backend_port: args.backend_port.unwrap_or(model.service.container_port),
        database_url,
        // The per-route Cache-Control policy, as k8s/deployment.yaml sets it.
        backend_env: vec![(
            shopgen_facts::backend::env::CACHE_CONTROL_ROUTES.into(),
            model.cache_control_routes().unwrap_or_default(),
        )],
        relay_env,
        api_key_header: model.gateway.api_key_header.clone(),
        api_keys: args
            .api_keys
            .iter()
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty())
            .collect(),
        example_path,
        seed,
    })
}

#[cfg(test)]
mod tests {
    use super::with_feature;

    #[test]
    fn the_command_with_the_feature_repeats_the_arguments() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            with_feature(&args(&["specs/shop.toml"])),
            "cargo run -p shopgen --features up -- up specs/shop.toml"
        );
        assert_eq!(
            with_feature(&args(&["specs/shop.toml", "--api-key", "it's mine"])),
            r"cargo run -p shopgen --features up -- up specs/shop.toml --api-key 'it'\''s mine'"
        );
    }
}
