//! `shopgen up`: the whole stack on one machine, from the generated files.
//!
//! The command's spec-side half: it compiles the spec, checks that the output folder
//! holds what `shopgen build` writes (the same expected output `build` and `check`
//! use, so `up` works after any schema change a build migrates), checks the seed
//! file against the model, claims the ports, and describes the stack for the runner.
//! [`runner`] then builds the generated backend and relay and the runner itself
//! (`shopgen-up`, which links tokio, hyper and the local API Gateway emulator, so
//! this command does not) and hands over to it. Why it is split this way:
//! `shopgen-up-stack`'s decisions.

mod runner;
mod seed;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use shopgen_facts::backend::env as backend_env;
use shopgen_up_stack::{FORMAT, Ports, Stack};

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
    /// Signing keys of an identity provider as a local JWKS file, instead of the
    /// provider's `jwks_uri` (repeatable; PROVIDER is the name under
    /// `[gateway.identity]`): for development and tests with tokens you sign yourself.
    #[arg(long = "jwks", value_name = "PROVIDER=FILE")]
    pub jwks: Vec<String>,
    /// For a spec with `[upstream]`: the base URL of the existing service, already
    /// running on this machine (`http://127.0.0.1:3000`); the gateway emulator and the
    /// relay run in front of it, and no backend is built or started.
    #[arg(long, value_name = "URL")]
    pub upstream: Option<String>,
}

/// Runs `shopgen up`: on success the runner takes over this process, so this returns
/// only on an error before it starts (a bad spec, stale output, a busy port, a
/// failed build), with the exit code to give.
pub fn run(args: UpArgs) -> anyhow::Result<ExitCode> {
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
    let upstream = upstream_target(&args, model)?;
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
    let jwks = local_jwks(&args.jwks, model)?;
    // Before the build, so a busy port is reported at once; `0` becomes a free port.
    let ports = shopgen_up_stack::claim(Ports {
        gateway: args.gateway_port,
        relay: args.relay_port,
        // In front of an existing service the backend's port is not used: any free one.
        backend: match upstream {
            Some(_) => 0,
            None => args.backend_port.unwrap_or(model.service.container_port),
        },
    })?;
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
    let names = &model.service.names;
    let backend_crate = upstream.is_none().then_some(names.backend_crate.as_str());
    let built = runner::build(&out, backend_crate, &names.relay_crate)?;
    let stack = Stack {
        format: FORMAT,
        service_name: model.service.name.clone(),
        backend_exe: built.backend,
        upstream,
        relay_exe: built.relay,
        gateway_document: out.join("openapi").join("gateway.yaml"),
        ports,
        database_url,
        // The deadline budget and the Cache-Control policy, as k8s/deployment.yaml
        // sets them; the relay's settings as Terraform sets them.
        backend_env: {
            let mut env = owned(model.backend_env());
            // The backend verifies user tokens again, with the same local keys.
            if !jwks.is_empty() {
                let files: Vec<String> = jwks
                    .iter()
                    .map(|j| format!("{}={}", j.provider, j.path.display()))
                    .collect();
                env.push((
                    backend_env::IDENTITY_JWKS_FILES.to_string(),
                    files.join(";"),
                ));
            }
            env
        },
        relay_env: owned(model.relay_env()),
        api_key_header: model.gateway.api_key_header.clone(),
        api_keys: args
            .api_keys
            .iter()
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty())
            .collect(),
        example_path,
        seed,
        // The gateway emulator finds a provider by its scheme in the document.
        jwks: jwks.into_iter().map(|j| (j.scheme, j.path)).collect(),
    };
    runner::hand_over(&built.runner, &stack)
}

/// `--upstream URL`: required for a spec with `[upstream]` and refused for any other,
/// with the flags that only a generated backend takes.
fn upstream_target(
    args: &UpArgs,
    model: &shopgen::model::Model,
) -> anyhow::Result<Option<shopgen_up_stack::Upstream>> {
    let Some(spec_upstream) = &model.upstream else {
        if args.upstream.is_some() {
            anyhow::bail!(
                "--upstream: {} describes a backend shopgen generates (it has no `[upstream]` \
                 table); `shopgen up` builds and starts that backend itself",
                args.spec.display()
            );
        }
        return Ok(None);
    };
    let Some(url) = &args.upstream else {
        anyhow::bail!(
            "{} exposes an existing service (`[upstream]`): give the address it runs at on \
             this machine, e.g. `--upstream http://127.0.0.1:{}`",
            args.spec.display(),
            model.service.container_port
        );
    };
    for (flag, given) in [
        ("--seed", args.seed.is_some()),
        ("--database-url", args.database_url.is_some()),
        ("--backend-port", args.backend_port.is_some()),
    ] {
        if given {
            anyhow::bail!(
                "{flag}: there is no generated backend in front of an existing service \
                 (`--upstream`); the service keeps its own data and port"
            );
        }
    }
    let base = url.trim_end_matches('/');
    let Some(rest) = base.strip_prefix("http://") else {
        anyhow::bail!(
            "--upstream {url}: write a plain http URL such as http://127.0.0.1:3000 (the \
             relay reaches the upstream without TLS, as it reaches the internal load balancer)"
        );
    };
    if rest.is_empty() || rest.contains(['?', '#']) {
        anyhow::bail!("--upstream {url}: write a URL such as http://127.0.0.1:3000");
    }
    Ok(Some(shopgen_up_stack::Upstream {
        url: base.to_string(),
        health_url: spec_upstream
            .health_path
            .as_ref()
            .map(|p| format!("{base}{p}")),
    }))
}

/// An environment the model describes, as the stack carries it.
fn owned(env: Vec<(&'static str, String)>) -> Vec<(String, String)> {
    env.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// A `--jwks PROVIDER=FILE` flag, checked: the provider's name (the backend's
/// `IDENTITY_JWKS_FILES` names it so), its scheme in the gateway document (the
/// emulator's), and the file's absolute path.
struct LocalJwks {
    provider: String,
    scheme: String,
    path: PathBuf,
}

/// The `--jwks PROVIDER=FILE` flags, each checked: an unknown provider or a missing
/// file is an error before anything starts.
fn local_jwks(flags: &[String], model: &shopgen::model::Model) -> anyhow::Result<Vec<LocalJwks>> {
    let mut out = Vec::new();
    for flag in flags {
        let Some((name, file)) = flag.split_once('=') else {
            anyhow::bail!("--jwks {flag}: write PROVIDER=FILE");
        };
        let Some(provider) = model.gateway.identity.iter().find(|p| p.name == name) else {
            let known: Vec<&str> = model
                .gateway
                .identity
                .iter()
                .map(|p| p.name.as_str())
                .collect();
            anyhow::bail!(
                "--jwks {flag}: the spec has no identity provider `{name}` (it has: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            );
        };
        let path = std::fs::canonicalize(file)
            .with_context(|| format!("--jwks {flag}: cannot read {file}"))?;
        out.push(LocalJwks {
            provider: provider.name.clone(),
            scheme: provider.scheme.clone(),
            path,
        });
    }
    Ok(out)
}
