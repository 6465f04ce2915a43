use palisade_core::model::Protocol;
use palisade_test_support::builders::*;
fn main() {
    let cluster = mk_cluster(
        vec![ns("production", &[("env", "prod")]), ns("monitoring", &[])],
        vec![
            mk_pod("production", "web-1", |p| { p.labels = labels(&[("app", "web")]); p.ips = vec![ip("10.0.1.1"), ip("fd00::1:1")]; p.node = Some("n1".into()); p.ports = vec![cport("http", Protocol::Tcp, 8080)]; }),
            mk_pod("production", "web-2", |p| { p.labels = labels(&[("app", "web")]); p.ips = vec![ip("10.0.2.1")]; p.node = Some("n2".into()); p.ports = vec![cport("http", Protocol::Tcp, 8081)]; }),
            mk_pod("production", "db-1", |p| { p.labels = labels(&[("app", "db")]); p.ips = vec![ip("10.0.1.2")]; p.node = Some("n1".into()); p.ports = vec![cport("pg", Protocol::Tcp, 5432)]; }),
            mk_pod("production", "db-2", |p| { p.labels = labels(&[("app", "db")]); p.node = Some("n1".into()); }),
            mk_pod("monitoring", "prom", |p| { p.labels = labels(&[("app", "prom")]); p.ips = vec![ip("10.0.2.9")]; p.node = Some("n2".into()); }),
        ],
        vec![
            mk_policy("production", "default-deny", |p| { p.egress = Some(vec![]); }),
            mk_policy("production", "allow-web", |p| {
                p.subject = sel(&[("app", "web")]);
                p.ingress = Some(vec![rule(vec![], vec![tcp(8080), port_range(Protocol::Tcp, 9000, 9100)]), rule(vec![namespaces(sel(&[("kubernetes.io/metadata.name", "monitoring")]))], vec![named(Protocol::Tcp, "http")])]);
                p.egress = Some(vec![rule(vec![pods(sel(&[("app", "db")]))], vec![named(Protocol::Tcp, "pg"), udp(53)]), rule(vec![ip_block("0.0.0.0/0", &["10.0.0.0/8"])], vec![tcp(443)])]);
            }),
            mk_policy("production", "allow-db", |p| {
                p.subject = sel(&[("app", "db")]);
                p.ingress = Some(vec![rule(vec![pods(sel(&[("app", "web")]))], vec![tcp(5432), any_port(Protocol::Sctp)])]);
            }),
        ],
    );
    let rs = palisade_nft::compile(&cluster, "n1");
    print!("{}", rs.to_nft());
    println!("{:?}", rs.stats());
    println!("{:?}", rs.pending_pods);
}
