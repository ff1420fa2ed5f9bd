//! `shopgen destroy` and `shopgen status`. Both open the state exactly as deploy does
//! (the same `terraform init`) and reach the cluster through deploy's own kubeconfig.
//!
//! Destroy deletes the backend's Kubernetes objects by their label (never by the
//! generated folder, which may have changed since the deploy), first: the Service
//! holds the reserved address Terraform releases. The namespace goes only when deploy
//! created it and nothing but what deploy put there is left in it; the operator's own
//! database Secret is never deleted.

use std::io::Write;

use crate::context::{
    Facts, K8S_KINDS, Progress, context, credentials, fail, image_tag, init, must, plan_state,
    read_outputs,
};
use crate::phases::smoke_test;
use crate::runner::{Runner, Show};
use crate::{Database, Failure, Options, Stack, preflight};

/// Resources `destroy` keeps while Cloud SQL's deletion protection holds: the
/// database and what it depends on (the project services stay enabled anyway).
fn kept_while_protected(address: &str) -> bool {
    [
        "google_sql_",
        "google_service_networking_connection.",
        "google_compute_global_address.sql_private_range",
        "random_password.db",
        "google_secret_manager_secret",
        "google_project_service.apis",
        "data.",
    ]
    .iter()
    .any(|p| address.starts_with(p))
}

/// What is left in a namespace (`kubectl get all,secrets,configmaps -o name`) that
/// neither Kubernetes nor deploy put there: the cluster's CA bundle, the default
/// service account's token Secrets (clusters before 1.24) and deploy's Cloud SQL
/// Secret do not count.
fn left_in_namespace(listed: &str, deploys_secret: Option<&str>) -> Vec<String> {
    listed
        .lines()
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .filter(|o| {
            *o != "configmap/kube-root-ca.crt"
                && *o != "serviceaccount/default"
                && !o.starts_with("secret/default-token-")
                && deploys_secret.is_none_or(|s| *o != format!("secret/{s}"))
        })
        .map(str::to_owned)
        .collect()
}

/// `shopgen destroy`.
pub fn destroy(stack: &Stack, opts: &Options, out: &mut dyn Write) -> Result<(), Failure> {
    if !opts.yes && !opts.dry_run {
        return Err(Failure::Refused(format!(
            "destroy deletes the stack of {} in project {} (the gateway, the relay, the API key, the backend's Kubernetes objects{}); run again with --yes to confirm, or --dry-run to see the commands",
            stack.spec,
            opts.project.as_deref().unwrap_or(&stack.project),
            if stack.cluster_created {
                ", the cluster"
            } else {
                ""
            }
        )));
    }
    // Destroy never builds: the tag only has to name a value for the variable.
    let tag = image_tag(stack, opts, Some("destroy"))?;
    let mut cx = context(stack, opts, tag)?;
    let mut r = Runner {
        dry_run: opts.dry_run,
        out,
        dir: opts.root.clone(),
    };
    const P: &str = "destroy";
    r.say(format!(
        "shopgen destroy {}: project {}, region {}, gateway region {}{}",
        stack.spec,
        cx.project,
        cx.region,
        cx.gateway_region,
        if opts.dry_run { " (dry run)" } else { "" }
    ));
    r.say("==> [1/3] the stack's Terraform state and the cluster's credentials");
    plan_state(&mut r, &mut cx, P)?;
    r.say(format!("    state: {}", cx.state.location(&cx.tf_dir())));
    init(&mut r, &cx, P)?;
    preflight::endpoint(&mut r, &mut cx)?;
    credentials(&mut r, &cx, P)?;

    r.say("==> [2/3] the backend's Kubernetes objects (they hold the reserved address)");
    let ns = &stack.namespace;
    // Deploy's Cloud SQL Secret carries the labels too; the operator's own database
    // Secret is never among the kinds deleted.
    let (kinds, deploys_secret) = match &stack.database {
        // An existing service: its Service is the only object shopgen made.
        _ if stack.existing_service => ("service".to_string(), None),
        Database::CloudSql { secret, .. } => (format!("{K8S_KINDS},secret"), Some(secret.as_str())),
        Database::ExistingSecret { .. } => (K8S_KINDS.to_string(), None),
    };
    // Foreground: the Deployment is gone only once its ReplicaSets and Pods are.
    must(
        &mut r,
        P,
        &cx.kubectl().args([
            "delete",
            &kinds,
            "-n",
            ns,
            "-l",
            &stack.k8s_selector,
            "--ignore-not-found",
            "--wait",
            "--cascade=foreground",
        ]),
        Show::Stream,
        "delete the Service first: Terraform cannot release the address while the load balancer holds it",
    )?;
    let state_path = cx.state_file(&opts.root);
    let mut progress = Progress::load(&state_path, "");
    let id = cx.namespace_id();
    if !r.dry_run && !progress.created_namespaces.contains(&id) {
        r.say(format!(
            "    namespace {ns} is kept: deploy did not create it"
        ));
    } else {
        if r.dry_run {
            r.say(format!(
                "    namespace {ns}: deleted only if deploy created it and nothing else is left in it"
            ));
        }
        let listed = r
            .run(
                &cx.kubectl()
                    .args(["-n", ns, "get", "all,secrets,configmaps", "-o", "name"]),
                Show::Quiet,
            )
            .map_err(|e| fail(P, e.to_string()))?;
        let left = match &listed {
            Some(o) if o.ok() => left_in_namespace(&o.stdout, deploys_secret),
            Some(o) => {
                return Err(fail(
                    P,
                    format!(
                        "cannot list what is left in namespace {ns}: {}",
                        o.stderr.trim()
                    ),
                ));
            }
            None => Vec::new(),
        };
        if left.is_empty() {
            must(
                &mut r,
                P,
                &cx.kubectl()
                    .args(["delete", "namespace", ns, "--ignore-not-found", "--wait"]),
                Show::Stream,
                "you need permission to delete namespaces in the cluster",
            )?;
            if !r.dry_run {
                progress.created_namespaces.remove(&id);
                progress.save(&state_path);
            }
        } else {
            r.say(format!(
                "    namespace {ns} is kept: it still holds {}",
                left.join(", ")
            ));
        }
    }

    r.say("==> [3/3] the cloud resources (terraform destroy)");
    let protected = matches!(
        stack.database,
        Database::CloudSql {
            deletion_protection: true,
            ..
        }
    );
    let mut cmd = cx.tf_vars(
        cx.terraform("destroy")
            .args(["-input=false", "-auto-approve"]),
    );
    if let Database::CloudSql { instance, .. } = &stack.database
        && protected
    {
        r.say(format!(
            "    Cloud SQL instance {instance} has deletion_protection = true: it, its network peering and its secret are kept (set deletion_protection = false in the spec, rebuild and run destroy again to remove them)"
        ));
        let list = must(
            &mut r,
            P,
            &cx.terraform("state").arg("list"),
            Show::Quiet,
            "terraform lists the resources of the stack's state",
        )?;
        match list {
            Some(o) => {
                let targets: Vec<&str> = o
                    .stdout
                    .lines()
                    .map(str::trim)
                    .filter(|a| !a.is_empty() && !kept_while_protected(a))
                    .collect();
                if targets.is_empty() {
                    r.say("    nothing else to destroy");
                    return Ok(());
                }
                for t in targets {
                    cmd = cmd.arg(format!("-target={t}"));
                }
            }
            None => cmd = cmd.arg("-target=<every resource but the database's>"),
        }
    }
    must(
        &mut r,
        P,
        &cmd,
        Show::Stream,
        "fix the error above and run shopgen destroy --yes again",
    )?;
    if !opts.dry_run {
        // Nothing is done any more; a namespace deploy created and destroy kept is
        // still deploy's.
        progress.done.clear();
        progress.key.clear();
        if progress.created_namespaces.is_empty() {
            let _ = std::fs::remove_file(&state_path);
        } else {
            progress.save(&state_path);
        }
    }
    r.say(format!(
        "==> destroyed (the project's services stay enabled; the Terraform state stays in {})",
        cx.state.location(&cx.tf_dir())
    ));
    Ok(())
}

/// `shopgen status`.
pub fn status(stack: &Stack, opts: &Options, out: &mut dyn Write) -> Result<(), Failure> {
    let tag = image_tag(stack, opts, Some("status"))?;
    let mut cx = context(stack, opts, tag)?;
    let mut r = Runner {
        dry_run: opts.dry_run,
        out,
        dir: opts.root.clone(),
    };
    const P: &str = "status";
    r.say(format!(
        "shopgen status {}: project {}",
        stack.spec, cx.project
    ));
    plan_state(&mut r, &mut cx, P)?;
    r.say(format!("    state: {}", cx.state.location(&cx.tf_dir())));
    let mut facts = Facts::default();
    read_outputs(&mut r, &cx, &mut facts, P)?;
    if !r.dry_run && facts.output("gateway_url").is_none() {
        return Err(fail(
            P,
            "nothing is deployed (Terraform has no outputs); run shopgen deploy",
        ));
    }
    r.say(format!(
        "    gateway:      {}",
        facts.output_str("gateway_url")
    ));
    r.say(format!(
        "    relay:        {}",
        facts.output_str("relay_url")
    ));
    r.say(format!(
        "    internal LB:  {}",
        facts.output_str("internal_lb_ip")
    ));
    r.say(format!(
        "    relay image:  {}",
        facts.output_str("relay_image")
    ));
    preflight::endpoint(&mut r, &mut cx)?;
    credentials(&mut r, &cx, P)?;
    // An existing service's Deployment is the user's: only shopgen's Service is shown.
    let deployment = format!("deployment/{}", stack.k8s_name);
    let service = format!("service/{}", stack.k8s_name);
    let objects: Vec<&str> = if stack.existing_service {
        vec![&service]
    } else {
        vec![&deployment, &service]
    };
    must(
        &mut r,
        P,
        &cx.kubectl()
            .args(["-n", &stack.namespace, "get"])
            .args(objects)
            .args(["-o", "wide"]),
        Show::Stream,
        if stack.existing_service {
            "the internal load balancer's Service is not deployed; run shopgen deploy"
        } else {
            "the backend is not deployed; run shopgen deploy"
        },
    )?;
    smoke_test(&mut r, &cx, &mut facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protected_database_resources_are_kept() {
        for kept in [
            "google_sql_database_instance.db",
            "google_sql_user.app",
            "google_service_networking_connection.sql",
            "google_compute_global_address.sql_private_range",
            "google_secret_manager_secret_version.database_url",
            "random_password.db",
        ] {
            assert!(kept_while_protected(kept), "{kept}");
        }
        for gone in [
            "google_cloud_run_v2_service.relay",
            "google_apikeys_key.client",
            "random_id.api_key",
            "google_container_cluster.cluster",
        ] {
            assert!(!kept_while_protected(gone), "{gone}");
        }
    }

    #[test]
    fn only_what_others_put_in_the_namespace_keeps_it() {
        let k8s_own = "configmap/kube-root-ca.crt\nsecret/default-token-x7k2p\n";
        assert!(left_in_namespace(k8s_own, None).is_empty());
        assert!(left_in_namespace("", None).is_empty());
        let with_sql = format!("{k8s_own}secret/shop-api-db\n");
        assert!(left_in_namespace(&with_sql, Some("shop-api-db")).is_empty());
        // The operator's database Secret (an existing database) keeps the namespace.
        assert_eq!(left_in_namespace(&with_sql, None), ["secret/shop-api-db"]);
        assert_eq!(
            left_in_namespace(
                "pod/other-5d8f\nconfigmap/kube-root-ca.crt\nservice/other\n",
                Some("shop-api-db")
            ),
            ["pod/other-5d8f", "service/other"]
        );
    }
}
