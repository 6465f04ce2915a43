//! Property tests: validation and conversion never panic, and they agree: what validation
//! accepts, conversion turns into exactly the item the manifest wrote (nothing is dropped).

mod common;

use common::{ingress_rule, object};
use palisade_core::load::K8sObject;
use palisade_core::model::convert;
use palisade_core::model::{Peer, Peers, Ports};
use palisade_core::validate::validate;
use proptest::prelude::*;
use serde_json::{Value, json};

fn convert_rule(v: Value) -> (bool, palisade_core::model::Rule) {
    let obj = object(v);
    let valid = !validate(&obj).iter().any(|i| i.is_error());
    let K8sObject::NetworkPolicy(np) = obj else {
        panic!("not a policy")
    };
    let rule = convert::policy(&np, None)
        .ingress
        .and_then(|r| r.into_iter().next())
        .unwrap_or_else(|| panic!("no rule"));
    (valid, rule)
}

fn cidr_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}/[0-9]{1,2}",
        "(::ffff:)?[0-9a-fA-F]{0,4}:[0-9a-fA-F:]{0,8}/[0-9]{1,3}",
        "[0-9a-f:./]{0,16}",
    ]
}

/// An IPv4 cidr and except entries near it: mostly inside, sometimes equal, wider or outside.
fn ipv4_block() -> impl Strategy<Value = (String, Vec<String>)> {
    (
        any::<u32>(),
        0u32..=32,
        proptest::collection::vec((any::<u32>(), 0u32..=6, any::<bool>()), 0..3),
    )
        .prop_map(|(addr, prefix, excepts)| {
            let host_mask = u32::MAX.checked_shr(prefix).unwrap_or(0);
            let base = addr & !host_mask;
            let cidr = format!("{}/{prefix}", std::net::Ipv4Addr::from(base));
            let except = excepts
                .into_iter()
                .map(|(bits, extra, stray)| {
                    let inside = if stray {
                        bits
                    } else {
                        base | (bits & host_mask)
                    };
                    let len = (prefix + extra).min(32);
                    let mask = u32::MAX.checked_shr(len).unwrap_or(0);
                    format!("{}/{len}", std::net::Ipv4Addr::from(inside & !mask))
                })
                .collect();
            (cidr, except)
        })
}

fn port_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        (-2i64..70000).prop_map(|n| json!(n)),
        "[a-zA-Z0-9_-]{0,17}".prop_map(|s| json!(s)),
    ]
}

proptest! {
    #[test]
    fn ip_blocks_agree(cidr in cidr_text(), except in proptest::collection::vec(cidr_text(), 0..3)) {
        let (valid, rule) = convert_rule(ingress_rule(json!({"from": [{"ipBlock": {"cidr": cidr, "except": except}}]})));
        if valid {
            let Peers::OneOf(peers) = rule.peers else { panic!("from was not empty") };
            prop_assert_eq!(peers.len(), 1);
            let Some(Peer::IpBlock { cidr: net, except: nets }) = peers.first() else {
                panic!("not an ipBlock: {peers:?}")
            };
            prop_assert_eq!(nets.len(), except.len());
            for e in nets {
                // Validation only accepts except entries strictly inside the cidr.
                prop_assert!(net.contains(e) && e.prefix_len() > net.prefix_len(), "{} in {}", e, net);
            }
        }
    }

    #[test]
    fn ipv4_blocks_agree((cidr, except) in ipv4_block()) {
        let (valid, rule) = convert_rule(ingress_rule(json!({"from": [{"ipBlock": {"cidr": cidr, "except": except}}]})));
        let Peers::OneOf(peers) = rule.peers else { panic!("from was not empty") };
        let Some(Peer::IpBlock { cidr: net, except: nets }) = peers.first() else {
            panic!("well-formed CIDRs always convert: {peers:?}")
        };
        let strictly_inside = nets.iter().all(|e| net.contains(e) && e.prefix_len() > net.prefix_len());
        prop_assert_eq!(valid, strictly_inside, "{:?} {:?}", net, nets);
    }

    #[test]
    fn ports_agree(
        protocol in prop_oneof![Just(Value::Null), Just(json!("TCP")), Just(json!("udp")), Just(json!("SCTP")), Just(json!(""))],
        port in port_value(),
        end in prop_oneof![Just(Value::Null), (-2i64..70000).prop_map(|n| json!(n))],
    ) {
        let mut item = json!({});
        for (k, v) in [("protocol", protocol), ("port", port), ("endPort", end)] {
            if !v.is_null() {
                item[k] = v;
            }
        }
        let (valid, rule) = convert_rule(ingress_rule(json!({"ports": [item]})));
        if valid {
            let Ports::OneOf(ports) = rule.ports else { panic!("ports was not empty") };
            prop_assert_eq!(ports.len(), 1);
        }
    }

    #[test]
    fn never_panics_on_strings(
        name in "\\PC{0,70}",
        key in "\\PC{0,70}",
        value in "\\PC{0,70}",
        op in "\\PC{0,12}",
        ip in "\\PC{0,40}",
    ) {
        let np = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": value, "labels": {key.clone(): value}},
            "spec": {"podSelector": {"matchExpressions": [{"key": key, "operator": op, "values": [value]}]},
                "policyTypes": [name], "egress": [{"to": [{"ipBlock": {"cidr": ip, "except": [ip]}}], "ports": [{"port": name, "protocol": op}]}]}});
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": key, "ports": [{"containerPort": 80, "name": name, "protocol": op}]}]},
            "status": {"podIP": ip, "podIPs": [{"ip": ip}, {"ip": value}]}});
        for v in [np, pod] {
            let obj = object(v);
            let _ = validate(&obj);
            match &obj {
                K8sObject::NetworkPolicy(np) => { let _ = convert::policy(np, None); }
                K8sObject::Pod(p) => { let _ = convert::pod(p, None); }
                _ => {}
            }
        }
    }
}
