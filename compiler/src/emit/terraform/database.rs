//! Emit `database.tf`: Cloud SQL for PostgreSQL on a private IP (private services
//! access on a pinned range), its database and user, and the URL in Secret Manager,
//! when the spec asks for it.

use super::*;

pub(super) fn database(model: &Model) -> Option<File> {
    let Database::CloudSql {
        instance,
        tier,
        database_version,
        database,
        user,
        deletion_protection,
        edition,
        allocated_range,
    } = &model.database
    else {
        return None;
    };
    let (secret, _) = model.database_secret();
    let (range_address, range_prefix) = allocated_range
        .split_once('/')
        .and_then(|(a, p)| Some((a, p.parse::<u8>().ok()?)))
        .unwrap_or((allocated_range.as_str(), 16));
    let mut f = File::new();
    f.push_commented(
        "Private services access: Cloud SQL gets a private IP in this VPC.",
        resource(
            "google_compute_global_address",
            "sql_private_range",
            Body::new()
                .attr("name", str(&model.service.names.derived.sql_private_range))
                .attr("purpose", str("VPC_PEERING"))
                .attr("address_type", str("INTERNAL"))
                .attr("address", str(range_address))
                .attr("prefix_length", num(u32::from(range_prefix)))
                .attr("network", data_ref("google_compute_network", "vpc", "id"))
                .blank()
                .attr("depends_on", depends_on_apis()),
        ),
    );
    f.push(resource(
        "google_service_networking_connection",
        "sql",
        Body::new()
            .attr("network", data_ref("google_compute_network", "vpc", "id"))
            .attr("service", str("servicenetworking.googleapis.com"))
            .attr(
                "reserved_peering_ranges",
                list(vec![res(
                    "google_compute_global_address",
                    "sql_private_range",
                    "name",
                )]),
            )
            .comment("Left in place on destroy: the peering cannot be deleted while Cloud SQL's")
            .comment("producer side still holds it, and it is reused when the stack is recreated.")
            .attr("deletion_policy", str("ABANDON")),
    ));
    f.push_commented(
        "PostgreSQL on a private IP only.",
        resource(
            "google_sql_database_instance",
            "db",
            Body::new()
                .attr("name", str(instance))
                .attr("region", var("region"))
                .attr("database_version", str(database_version))
                .attr("deletion_protection", bool(*deletion_protection))
                .blank()
                .block(block(
                    "settings",
                    Body::new()
                        .attr("tier", str(tier))
                        .comment(
                            "Explicit: POSTGRES_16 and later default to ENTERPRISE_PLUS, which",
                        )
                        .comment("refuses shared-core and custom tiers.")
                        .attr("edition", str(edition))
                        .blank()
                        .block(block(
                            "ip_configuration",
                            Body::new()
                                .attr("ipv4_enabled", bool(false))
                                .attr(
                                    "private_network",
                                    data_ref("google_compute_network", "vpc", "id"),
                                )
                                // TLS only: the backend's URL says `sslmode=require`.
                                .attr("ssl_mode", str("ENCRYPTED_ONLY")),
                        ))
                        .blank()
                        .block(block(
                            "backup_configuration",
                            Body::new().attr("enabled", bool(true)),
                        )),
                ))
                .blank()
                .attr(
                    "depends_on",
                    depends_on(&[Ref::resource("google_service_networking_connection", "sql")]),
                ),
        ),
    );
    f.push(resource(
        "google_sql_database",
        "db",
        Body::new().attr("name", str(database)).attr(
            "instance",
            res("google_sql_database_instance", "db", "name"),
        ),
    ));
    f.push(resource(
        "random_password",
        "db",
        Body::new()
            .attr("length", num(32u32))
            .attr("special", bool(false)),
    ));
    f.push(resource(
        "google_sql_user",
        "app",
        Body::new()
            .attr("name", str(user))
            .attr(
                "instance",
                res("google_sql_database_instance", "db", "name"),
            )
            .attr("password", res("random_password", "db", "result")),
    ));
    f.push_commented(
        "DATABASE_URL for the backend; copy it into the Kubernetes Secret (docs/deploy.md).",
        resource(
            "google_secret_manager_secret",
            "database_url",
            Body::new()
                .attr("secret_id", str(&secret))
                .blank()
                .block(block(
                    "replication",
                    Body::new().block(block("auto", Body::new())),
                ))
                .blank()
                .attr("depends_on", depends_on_apis()),
        ),
    );
    f.push(resource(
        "google_secret_manager_secret_version",
        "database_url",
        Body::new()
            .attr(
                "secret",
                res("google_secret_manager_secret", "database_url", "id"),
            )
            .attr(
                "secret_data",
                template(vec![
                    text("postgres://"),
                    interp(res("google_sql_user", "app", "name")),
                    text(":"),
                    interp(res("random_password", "db", "result")),
                    text("@"),
                    interp(res(
                        "google_sql_database_instance",
                        "db",
                        "private_ip_address",
                    )),
                    text(":5432/"),
                    interp(res("google_sql_database", "db", "name")),
                    // Encrypted; the certificate is not checked (Cloud SQL's per-instance
                    // CA is not in the backend's roots; it reaches the private IP only).
                    text("?sslmode=require"),
                ]),
            ),
    ));
    Some(f)
}
