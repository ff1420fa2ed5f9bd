//! Address ranges: the preflight's check that no range the stack creates in the
//! network (the connector's /28, a created cluster's node, pod, service and
//! control-plane ranges, …) overlaps a range the network or an existing cluster
//! already uses. Such a collision otherwise surfaces deep in the full apply, as an
//! error about the connector or the subnetwork; the most common one is a /28 chosen
//! inside the /14 a GKE cluster took for its pods.
//!
//! Pure functions: the preflight feeds them what `gcloud` reports
//! (`gcloud compute networks subnets list --format=json(…)` and the cluster's
//! `clusterIpv4Cidr,servicesIpv4Cidr`).

/// An IPv4 range (`10.8.0.0/28`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    first: u32,
    last: u32,
}

impl Cidr {
    /// Parses `a.b.c.d/n`; a bare address is a /32. Host bits are ignored (the range
    /// is the whole block the prefix names).
    pub fn parse(text: &str) -> Option<Cidr> {
        let text = text.trim();
        let (addr, len) = match text.split_once('/') {
            Some((a, l)) => (a, l.parse::<u32>().ok()?),
            None => (text, 32),
        };
        if len > 32 {
            return None;
        }
        let octets: Vec<u8> = addr
            .split('.')
            .map(|o| o.parse::<u8>().ok())
            .collect::<Option<_>>()?;
        let [a, b, c, d] = octets[..] else {
            return None;
        };
        let addr = u32::from_be_bytes([a, b, c, d]);
        let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
        Some(Cidr {
            first: addr & mask,
            last: (addr & mask) | !mask,
        })
    }
}

/// Whether two ranges share at least one address.
pub fn overlap(a: Cidr, b: Cidr) -> bool {
    a.first <= b.last && b.first <= a.last
}

/// A range in use, with what uses it (`subnetwork default (europe-west2)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InUse {
    pub owner: String,
    pub range: String,
}

/// `gcloud` output the preflight cannot read.
#[derive(Debug, thiserror::Error)]
pub enum ListingError {
    /// Not JSON at all.
    #[error("cannot read the {what} gcloud listed: {error}")]
    NotJson {
        /// What was listed (`subnetworks`, `addresses`).
        what: &'static str,
        error: serde_json::Error,
    },
    /// JSON, but not the array `--format=json` prints.
    #[error("the {what} gcloud listed are not a JSON array")]
    NotAnArray { what: &'static str },
}

/// The JSON array of a `gcloud … list --format=json(…)` listing of `what`.
fn listing(json: &str, what: &'static str) -> Result<Vec<serde_json::Value>, ListingError> {
    match serde_json::from_str(json) {
        Ok(serde_json::Value::Array(list)) => Ok(list),
        Ok(_) => Err(ListingError::NotAnArray { what }),
        Err(error) => Err(ListingError::NotJson { what, error }),
    }
}

/// The primary and secondary ranges of the subnetworks in
/// `gcloud compute networks subnets list --format=json(name,region,ipCidrRange,secondaryIpRanges)`
/// output, except those of `skip` (`(name, region)`: the subnetwork shopgen itself
/// creates for a created cluster, whose ranges are the planned ones on a rerun).
pub fn subnet_ranges(json: &str, skip: Option<(&str, &str)>) -> Result<Vec<InUse>, ListingError> {
    let list = listing(json, "subnetworks")?;
    let mut out = Vec::new();
    for s in &list {
        let name = s["name"].as_str().unwrap_or("?");
        // `region` is a URL (…/regions/europe-west2).
        let region = s["region"]
            .as_str()
            .map(|r| r.rsplit('/').next().unwrap_or(r))
            .unwrap_or("?");
        if skip == Some((name, region)) {
            continue;
        }
        if let Some(r) = s["ipCidrRange"].as_str() {
            out.push(InUse {
                owner: format!("subnetwork {name} ({region})"),
                range: r.to_string(),
            });
        }
        for sec in s["secondaryIpRanges"].as_array().into_iter().flatten() {
            if let Some(r) = sec["ipCidrRange"].as_str() {
                out.push(InUse {
                    owner: format!(
                        "secondary range {} of subnetwork {name} ({region})",
                        sec["rangeName"].as_str().unwrap_or("?")
                    ),
                    range: r.to_string(),
                });
            }
        }
    }
    Ok(out)
}

/// `gcloud compute addresses list --global --filter=purpose=VPC_PEERING
/// --format=json(name,address,prefixLength,network)` output: the ranges allocated to
/// private services access (Cloud SQL, Memorystore, …) in `network`, except the one
/// named `skip` (the stack's own Cloud SQL range, which holds the planned range on a
/// rerun).
pub fn peering_ranges(
    json: &str,
    network: &str,
    skip: Option<&str>,
) -> Result<Vec<InUse>, ListingError> {
    let list = listing(json, "addresses")?;
    let mut out = Vec::new();
    for a in &list {
        let name = a["name"].as_str().unwrap_or("?");
        // `network` is a URL (…/global/networks/default).
        let on = a["network"]
            .as_str()
            .map(|n| n.rsplit('/').next().unwrap_or(n));
        if Some(name) == skip || on.is_some_and(|n| n != network) {
            continue;
        }
        let (Some(address), Some(prefix)) = (a["address"].as_str(), a["prefixLength"].as_u64())
        else {
            continue;
        };
        out.push(InUse {
            owner: format!("private services access range {name}"),
            range: format!("{address}/{prefix}"),
        });
    }
    Ok(out)
}

/// Every planned range (`(what, range)`) that overlaps a range in use, as a sentence
/// naming both ranges and their owners. Ranges that do not parse as IPv4 are left out
/// (IPv6 ranges cannot collide with the IPv4 ones the stack plans).
pub fn collisions(planned: &[(String, String)], in_use: &[InUse]) -> Vec<String> {
    let mut out = Vec::new();
    for (what, range) in planned {
        let Some(p) = Cidr::parse(range) else {
            continue;
        };
        for u in in_use {
            if Cidr::parse(&u.range).is_some_and(|r| overlap(p, r)) {
                out.push(format!(
                    "{range} ({what}) overlaps {} ({})",
                    u.range, u.owner
                ));
            }
        }
    }
    out
}

/// The region of a cluster location (`europe-west2-a` → `europe-west2`).
pub fn region_of(location: &str) -> &str {
    match location.rsplit_once('-') {
        Some((region, zone)) if zone.len() == 1 && region.matches('-').count() == 1 => region,
        _ => location,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Cidr {
        Cidr::parse(s).unwrap()
    }

    #[test]
    fn ranges_parse() {
        assert_eq!(c("10.8.0.0/28"), c("10.8.0.5/28"), "host bits ignored");
        assert_eq!(c("10.0.0.1"), c("10.0.0.1/32"));
        for bad in [
            "10.0.0/24",
            "10.0.0.0/33",
            "300.0.0.0/8",
            "x",
            "",
            "fd00::/8",
        ] {
            assert_eq!(Cidr::parse(bad), None, "{bad}");
        }
        assert!(overlap(c("0.0.0.0/0"), c("192.168.1.0/24")));
    }

    #[test]
    fn overlapping_ranges() {
        // A connector /28 inside a GKE pod /14: the common collision.
        assert!(overlap(c("10.8.0.0/28"), c("10.8.0.0/14")));
        assert!(overlap(c("10.8.0.0/14"), c("10.11.255.240/28")));
        assert!(overlap(c("10.8.0.0/28"), c("10.8.0.0/28")));
        assert!(overlap(c("10.8.0.15/32"), c("10.8.0.0/28")));
        // Adjacent ranges do not overlap.
        assert!(!overlap(c("10.8.0.0/28"), c("10.8.0.16/28")));
        assert!(!overlap(c("10.12.0.0/14"), c("10.8.0.0/14")));
        assert!(!overlap(c("10.154.0.0/20"), c("10.8.0.0/28")));
    }

    #[test]
    fn subnetworks_and_their_secondary_ranges_are_in_use() {
        let json = r#"[
          {"name": "default", "region": "https://www.googleapis.com/compute/v1/projects/p/regions/europe-west2",
           "ipCidrRange": "10.154.0.0/20",
           "secondaryIpRanges": [{"rangeName": "gke-pods", "ipCidrRange": "10.8.0.0/14"}]},
          {"name": "shop-gke-nodes", "region": "https://www.googleapis.com/compute/v1/projects/p/regions/europe-west2",
           "ipCidrRange": "10.20.0.0/22"},
          {"name": "shop-gke-nodes", "region": "https://www.googleapis.com/compute/v1/projects/p/regions/us-east1",
           "ipCidrRange": "10.30.0.0/22"}
        ]"#;
        let all = subnet_ranges(json, None).unwrap();
        assert_eq!(all.len(), 4);
        assert_eq!(
            all[1],
            InUse {
                owner: "secondary range gke-pods of subnetwork default (europe-west2)".into(),
                range: "10.8.0.0/14".into()
            }
        );
        // The subnetwork shopgen creates is skipped in its own region only.
        let some = subnet_ranges(json, Some(("shop-gke-nodes", "europe-west2"))).unwrap();
        assert_eq!(some.len(), 3);
        assert!(some.iter().all(|u| u.range != "10.20.0.0/22"));
        assert_eq!(
            subnet_ranges("{}", None).unwrap_err().to_string(),
            "the subnetworks gcloud listed are not a JSON array"
        );
        let not_json = subnet_ranges("not json", None).unwrap_err().to_string();
        assert!(
            not_json.starts_with("cannot read the subnetworks gcloud listed: expected"),
            "{not_json}"
        );
        assert_eq!(subnet_ranges("[]", None).unwrap(), vec![]);
    }

    #[test]
    fn private_services_ranges_of_the_network_are_in_use_but_the_stacks_own() {
        let json = r#"[
            {"name": "shop-api-sql-range", "address": "10.96.0.0", "prefixLength": 16, "network": "https://www.googleapis.com/compute/v1/projects/p/global/networks/default"},
            {"name": "redis-range", "address": "10.100.0.0", "prefixLength": 20, "network": "https://www.googleapis.com/compute/v1/projects/p/global/networks/default"},
            {"name": "other-net", "address": "10.110.0.0", "prefixLength": 16, "network": "https://www.googleapis.com/compute/v1/projects/p/global/networks/other"}
        ]"#;
        let in_use = peering_ranges(json, "default", Some("shop-api-sql-range")).unwrap();
        assert_eq!(
            in_use,
            [InUse {
                owner: "private services access range redis-range".into(),
                range: "10.100.0.0/20".into()
            }]
        );
        assert_eq!(peering_ranges(json, "default", None).unwrap().len(), 2);
        assert_eq!(
            peering_ranges("{}", "default", None)
                .unwrap_err()
                .to_string(),
            "the addresses gcloud listed are not a JSON array"
        );
    }

    #[test]
    fn collisions_name_both_ranges_and_their_owners() {
        let planned = vec![
            (
                "the relay's VPC connector".to_string(),
                "10.8.0.0/28".to_string(),
            ),
            (
                "the cluster's nodes".to_string(),
                "10.20.0.0/22".to_string(),
            ),
        ];
        let in_use = vec![
            InUse {
                owner: "secondary range gke-pods of subnetwork default (europe-west2)".into(),
                range: "10.8.0.0/14".into(),
            },
            InUse {
                owner: "subnetwork default (europe-west2)".into(),
                range: "10.154.0.0/20".into(),
            },
        ];
        assert_eq!(
            collisions(&planned, &in_use),
            vec![
                "10.8.0.0/28 (the relay's VPC connector) overlaps 10.8.0.0/14 (secondary range gke-pods of subnetwork default (europe-west2))"
            ]
        );
        assert!(collisions(&planned[1..], &in_use).is_empty());
    }

    #[test]
    fn regions_of_locations() {
        assert_eq!(region_of("europe-west2-a"), "europe-west2");
        assert_eq!(region_of("europe-west2"), "europe-west2");
        assert_eq!(region_of("us-central1-f"), "us-central1");
        assert_eq!(
            region_of("northamerica-northeast1-b"),
            "northamerica-northeast1"
        );
    }
}
