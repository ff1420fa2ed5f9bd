//! Emit: the backend's Kubernetes manifests, `k8s/*.yaml` plus `kustomization.yaml`.
//!
//! Stage: `emit`. Takes the [`Model`]; gives typed `k8s-openapi` objects (Namespace,
//! ServiceAccount, Deployment, Service, PodDisruptionBudget, HorizontalPodAutoscaler)
//! serialised with `serde-saphyr`, which quotes every YAML-ambiguous scalar, and the
//! kustomization that lists them and names the backend image.
//!
//! The Service is a GKE internal passthrough load balancer on the address Terraform
//! reserves (`networking.gke.io/load-balancer-ip-addresses` takes the address *name*),
//! `service_port` → `container_port`; global access is requested only when the relay
//! runs in another region than the cluster. It admits only the relay's egress range
//! and the spec's `gcp.ilb_source_ranges` (`loadBalancerSourceRanges`; without it
//! GKE's firewall rule admits the whole VPC). Two values are known only after
//! Terraform ran, so `shopgen deploy` patches them in at deploy time, never into
//! these files: `spec.loadBalancerIP` (the reserved IP, which clusters without GKE
//! subsetting read instead of the annotation) and, for Direct VPC egress on an
//! existing subnetwork, that subnetwork's range.
//!
//! The Deployment has no `replicas`: the HorizontalPodAutoscaler owns the count.

use std::collections::BTreeMap;

use super::{CommentSyntax, EmittedFile};
use crate::model::Model;
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec,
    MetricTarget, ResourceMetricSource,
};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EmptyDirVolumeSource, EnvVar, EnvVarSource,
    HTTPGetAction, Lifecycle, LifecycleHandler, Namespace, PodSecurityContext, PodSpec,
    PodTemplateSpec, Probe, ResourceRequirements, SeccompProfile, SecretKeySelector,
    SecurityContext, Service, ServiceAccount, ServicePort, ServiceSpec, SleepAction, Volume,
    VolumeMount,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;
use shopgen_facts::{backend, container};

/// GKE: make a `LoadBalancer` Service an internal passthrough load balancer.
pub const LB_TYPE_ANNOTATION: &str = "networking.gke.io/load-balancer-type";
/// GKE: the reserved address (by name) the internal load balancer uses.
pub const LB_ADDRESS_ANNOTATION: &str = "networking.gke.io/load-balancer-ip-addresses";
/// GKE: accept clients from other regions.
pub const LB_GLOBAL_ACCESS_ANNOTATION: &str =
    "networking.gke.io/internal-load-balancer-allow-global-access";
/// The backend's readiness and liveness endpoints.
/// The backend container's name in the pod.
pub const CONTAINER_NAME: &str = "backend";
/// The non-root user the images run as (distroless `nonroot`).
/// Seconds the pod gets beyond the backend's own drain before SIGKILL.
pub const GRACE_MARGIN_SECONDS: u32 = 10;
/// Seconds a terminating pod keeps serving before it gets SIGTERM: the time GKE's
/// load balancer and kube-proxy need to stop sending it new connections. A `sleep`
/// pre-stop hook (no shell needed in the distroless image; GA in Kubernetes 1.34,
/// on by default since 1.30).
pub const PRE_STOP_SLEEP_SECONDS: u32 = 5;
/// The tag the base kustomization gives the backend image; overlays set a real one.
pub const DEFAULT_IMAGE_TAG: &str = "latest";

/// The manifest files, in the order the kustomization lists them.
pub const MANIFESTS: [&str; 6] = [
    "namespace.yaml",
    "serviceaccount.yaml",
    "deployment.yaml",
    "service.yaml",
    "pdb.yaml",
    "hpa.yaml",
];

/// The manifest files for an existing service (`[upstream]`): its load balancer only.
pub const UPSTREAM_MANIFESTS: [&str; 1] = ["service.yaml"];

pub fn emit(model: &Model) -> Vec<EmittedFile> {
    if model.upstream.is_some() {
        // An existing service: only the internal load balancer in front of its pods.
        // shopgen never creates or deletes the user's namespace or workloads.
        return [
            ("service.yaml", to_yaml(&service(model))),
            ("kustomization.yaml", to_yaml(&kustomization(model))),
        ]
        .into_iter()
        .map(|(name, body)| EmittedFile::new(format!("k8s/{name}"), body, CommentSyntax::Hash))
        .collect();
    }
    let files = [
        ("namespace.yaml", to_yaml(&namespace(model))),
        ("serviceaccount.yaml", to_yaml(&service_account(model))),
        ("deployment.yaml", to_yaml(&deployment(model))),
        ("service.yaml", to_yaml(&service(model))),
        ("pdb.yaml", to_yaml(&pdb(model))),
        ("hpa.yaml", to_yaml(&hpa(model))),
        ("kustomization.yaml", to_yaml(&kustomization(model))),
    ];
    files
        .into_iter()
        .map(|(name, body)| EmittedFile::new(format!("k8s/{name}"), body, CommentSyntax::Hash))
        .collect()
}

fn to_yaml<T: Serialize>(value: &T) -> String {
    serde_saphyr::to_string(value)
        .unwrap_or_else(|e| panic!("internal error: Kubernetes object does not serialise: {e}"))
}

/// The Artifact Registry path of the backend image, without a tag. The Deployment
/// names it; kustomize sets its tag.
pub fn backend_image_name(model: &Model) -> String {
    format!(
        "{}-docker.pkg.dev/{}/{}/{}",
        model.gcp.region,
        model.gcp.project,
        model.service.names.derived.artifact_repository,
        model.service.names.backend_image
    )
}

/// The labels every object carries; the first two select the pods.
fn labels(model: &Model) -> BTreeMap<String, String> {
    model.k8s_labels()
}

/// The pods the Service selects: the backend's, or an existing service's own labels.
fn selector_labels(model: &Model) -> BTreeMap<String, String> {
    match &model.upstream {
        Some(u) => u.selector.clone(),
        None => model.k8s_selector_labels(),
    }
}

fn meta(model: &Model, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(model.service.namespace.clone()),
        labels: Some(labels(model)),
        ..Default::default()
    }
}

fn namespace(model: &Model) -> Namespace {
    let mut labels = labels(model);
    // The pods meet the "restricted" Pod Security Standard; enforce it.
    labels.insert(
        "pod-security.kubernetes.io/enforce".into(),
        "restricted".into(),
    );
    Namespace {
        metadata: ObjectMeta {
            name: Some(model.service.namespace.clone()),
            labels: Some(labels),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn service_account(model: &Model) -> ServiceAccount {
    ServiceAccount {
        metadata: meta(model, &model.service.names.derived.k8s_name),
        // The backend never calls the Kubernetes API.
        automount_service_account_token: Some(false),
        ..Default::default()
    }
}

fn quantities(cpu: &str, memory: &str) -> BTreeMap<String, Quantity> {
    BTreeMap::from([
        ("cpu".to_string(), Quantity(cpu.to_string())),
        ("memory".to_string(), Quantity(memory.to_string())),
    ])
}

fn http_probe(path: &str, period: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_string()),
            port: IntOrString::String("http".into()),
            ..Default::default()
        }),
        period_seconds: Some(period),
        timeout_seconds: Some(2),
        failure_threshold: Some(failures),
        ..Default::default()
    }
}

/// The pod's termination grace period: the pre-stop sleep, the backend's drain and a margin.
pub fn termination_grace_seconds(model: &Model) -> i64 {
    i64::from(model.service.drain_seconds + PRE_STOP_SLEEP_SECONDS + GRACE_MARGIN_SECONDS)
}

fn deployment(model: &Model) -> Deployment {
    let s = &model.service;
    let (secret, key) = model.database_secret();
    let container = Container {
        name: CONTAINER_NAME.into(),
        image: Some(backend_image_name(model)),
        ports: Some(vec![ContainerPort {
            name: Some("http".into()),
            container_port: i32::from(s.container_port),
            protocol: Some("TCP".into()),
            ..Default::default()
        }]),
        env: Some(
            vec![
                EnvVar {
                    name: backend::env::PORT.into(),
                    value: Some(s.container_port.to_string()),
                    ..Default::default()
                },
                EnvVar {
                    name: backend::env::DATABASE_URL.into(),
                    value_from: Some(EnvVarSource {
                        secret_key_ref: Some(SecretKeySelector {
                            name: secret,
                            key,
                            optional: Some(false),
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            ]
            .into_iter()
            .chain(model.backend_env().into_iter().map(|(name, value)| EnvVar {
                name: name.into(),
                value: Some(value),
                ..Default::default()
            }))
            .collect(),
        ),
        readiness_probe: Some(http_probe(backend::READINESS_PATH, 5, 2)),
        liveness_probe: Some(http_probe(backend::LIVENESS_PATH, 10, 3)),
        startup_probe: Some(http_probe(backend::LIVENESS_PATH, 2, 30)),
        lifecycle: Some(Lifecycle {
            pre_stop: Some(LifecycleHandler {
                sleep: Some(SleepAction {
                    seconds: i64::from(PRE_STOP_SLEEP_SECONDS),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        resources: Some(ResourceRequirements {
            requests: Some(quantities(&s.cpu_request, &s.memory_request)),
            limits: Some(quantities(&s.cpu_limit, &s.memory_limit)),
            ..Default::default()
        }),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                ..Default::default()
            }),
            ..Default::default()
        }),
        volume_mounts: Some(vec![VolumeMount {
            name: "tmp".into(),
            mount_path: "/tmp".into(),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let pod = PodSpec {
        service_account_name: Some(s.names.derived.k8s_name.clone()),
        automount_service_account_token: Some(false),
        termination_grace_period_seconds: Some(termination_grace_seconds(model)),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(container::RUN_AS_USER),
            run_as_group: Some(container::RUN_AS_USER),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        containers: vec![container],
        volumes: Some(vec![Volume {
            name: "tmp".into(),
            empty_dir: Some(EmptyDirVolumeSource {
                size_limit: Some(Quantity("64Mi".into())),
                ..Default::default()
            }),
            ..Default::default()
        }]),
        ..Default::default()
    };
    Deployment {
        metadata: meta(model, &s.names.derived.k8s_name),
        spec: Some(DeploymentSpec {
            // The HorizontalPodAutoscaler owns the replica count: a count here would
            // reset its choice on every `kubectl apply`.
            replicas: None,
            revision_history_limit: Some(5),
            selector: LabelSelector {
                match_labels: Some(selector_labels(model)),
                ..Default::default()
            },
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(IntOrString::Int(1)),
                    max_unavailable: Some(IntOrString::Int(0)),
                }),
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(model)),
                    ..Default::default()
                }),
                spec: Some(pod),
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The source ranges the internal load balancer admits, as far as the spec fixes them.
pub fn ilb_source_ranges(model: &Model) -> Vec<String> {
    let mut r: Vec<String> = model.relay_egress_range().into_iter().collect();
    r.extend(model.gcp.ilb_source_ranges.iter().cloned());
    r
}

fn service(model: &Model) -> Service {
    let s = &model.service;
    let ranges = ilb_source_ranges(model);
    let mut annotations = BTreeMap::from([
        (LB_TYPE_ANNOTATION.to_string(), "Internal".to_string()),
        (
            LB_ADDRESS_ANNOTATION.to_string(),
            s.names.derived.ilb_address.clone(),
        ),
    ]);
    if model.needs_global_access() {
        annotations.insert(LB_GLOBAL_ACCESS_ANNOTATION.to_string(), "true".to_string());
    }
    let mut metadata = meta(model, &s.names.derived.k8s_name);
    metadata.annotations = Some(annotations);
    Service {
        metadata,
        spec: Some(ServiceSpec {
            type_: Some("LoadBalancer".into()),
            load_balancer_source_ranges: (!ranges.is_empty()).then_some(ranges),
            selector: Some(selector_labels(model)),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                protocol: Some("TCP".into()),
                port: i32::from(s.service_port),
                target_port: Some(IntOrString::Int(i32::from(s.container_port))),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn pdb(model: &Model) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: meta(model, &model.service.names.derived.k8s_name),
        spec: Some(PodDisruptionBudgetSpec {
            // One pod at a time, whatever the replica count (minAvailable would block
            // node drains of a one-replica service).
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector {
                match_labels: Some(selector_labels(model)),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn hpa(model: &Model) -> HorizontalPodAutoscaler {
    let s = &model.service;
    HorizontalPodAutoscaler {
        metadata: meta(model, &s.names.derived.k8s_name),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".into()),
                kind: "Deployment".into(),
                name: s.names.derived.k8s_name.clone(),
            },
            min_replicas: Some(s.min_replicas as i32),
            max_replicas: s.max_replicas as i32,
            metrics: Some(vec![MetricSpec {
                type_: "Resource".into(),
                resource: Some(ResourceMetricSource {
                    name: "cpu".into(),
                    target: MetricTarget {
                        type_: "Utilization".into(),
                        average_utilization: Some(s.target_cpu_percent as i32),
                        ..Default::default()
                    },
                }),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// `kustomization.yaml` (kustomize has no typed crate; its few fields are here).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Kustomization {
    api_version: &'static str,
    kind: &'static str,
    resources: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    images: Vec<KustomizeImage>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct KustomizeImage {
    name: String,
    new_tag: &'static str,
}

fn kustomization(model: &Model) -> Kustomization {
    if model.upstream.is_some() {
        return Kustomization {
            api_version: "kustomize.config.k8s.io/v1beta1",
            kind: "Kustomization",
            resources: UPSTREAM_MANIFESTS.to_vec(),
            images: Vec::new(),
        };
    }
    Kustomization {
        api_version: "kustomize.config.k8s.io/v1beta1",
        kind: "Kustomization",
        resources: MANIFESTS.to_vec(),
        images: vec![KustomizeImage {
            name: backend_image_name(model),
            new_tag: DEFAULT_IMAGE_TAG,
        }],
    }
}
