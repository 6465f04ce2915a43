//! Command line definition. Every flag has a doc comment (it is the `--help` text) and an
//! explicit default.

use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use palisade_core::eval::Probe;
use palisade_core::focus::Focus;
use palisade_core::model::Protocol;

/// Kubernetes NetworkPolicy, enforced, explained and proven.
///
/// Inputs are files, directories (searched recursively for *.yaml, *.yml, *.json) or `-` for
/// standard input. Namespaces, Pods, NetworkPolicies, the pod templates of workloads and
/// `kubectl get -o yaml` Lists are understood; other kinds are skipped and counted.
#[derive(Debug, Parser)]
#[command(name = "palisade", version, propagate_version = true)]
pub struct Cli {
    /// When to color diagnostics.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate manifests the way the API server does, then lint them: the mistakes the guides
    /// warn about (no default deny, DNS cut off, OR meant as AND...), each at its line.
    ///
    /// Exit status: 0 valid (warnings allowed), 1 errors found (or warnings under
    /// `--deny warnings`), 2 usage or I/O error.
    Check(CheckArgs),
    /// Explain every policy, and every pod's effective isolation, in plain words.
    Explain(ExplainArgs),
    /// Who may reach whom: groups of identical connectivity (or every ordered pair), or truth
    /// tables per probe.
    Reach(ReachArgs),
    /// Why a connection is allowed or denied: the verdict and the rules on each side.
    Why(WhyArgs),
    /// What a change does to traffic: the connections gained and lost between two manifest sets.
    ///
    /// OLD and NEW are each a file, a directory or `-`; `--base` paths (the inventory: pods,
    /// namespaces, workloads) are added to both sides, so `diff --base cluster/ old/ new/`
    /// compares two versions of the policies over the same pods. Pods present on one side only
    /// are listed as added or removed, not compared.
    ///
    /// Exit status: 0 compared (with --fail-on: and nothing of that kind changed), 1 --fail-on
    /// matched or invalid objects were left out, 2 usage or I/O error.
    Diff(DiffArgs),
    /// Who may talk to whom as a graph (Graphviz DOT or Mermaid), grouped by namespace.
    Graph(GraphArgs),
    /// One self-contained HTML page: reachability matrix, graph, every policy in plain words and
    /// the findings, filterable by namespace.
    Report(ReportArgs),
    /// The nftables ruleset a node would run, as `nft -f` text (a script that replaces the
    /// `inet palisade` table in one transaction and touches nothing else).
    Compile(CompileArgs),
    /// Enforce: keep this node's nftables rules equal to what the NetworkPolicies say.
    ///
    /// Cluster mode (the default) watches Pods, Namespaces and NetworkPolicies on the Kubernetes
    /// API (in-cluster service account, or --kubeconfig/--context) and programs the pods of
    /// --node. Local mode (`--manifests DIR`) watches DIR instead. Either way changes are applied
    /// within milliseconds, an object that fails to validate never widens what is allowed, and
    /// rules stay in the kernel when the agent stops unless --cleanup-on-exit.
    Agent(AgentArgs),
    /// Prove it: build a cluster of network namespaces, enforce with the real agent, send real
    /// packets between every pair and compare with the prediction. Needs root, nft and ip.
    ///
    /// Exit status: 0 every observation matches the prediction, 1 disagreements or unobserved
    /// pairs, 2 usage error or missing prerequisite (root, nftables, iproute2).
    Lab(LabArgs),
    /// Remove palisade's nftables table (`inet palisade`) from this node: the uninstall step
    /// that stopping the agent deliberately does not do. Touches no other table.
    ///
    /// Exit status: 0 the table is gone (or was never there), 1 with --check when it is still
    /// there, 2 nft missing or not permitted.
    Cleanup(CleanupArgs),
    /// Read this node's live nftables ruleset back from the kernel and prove it enforces what
    /// the policies say: for every pair of endpoint classes and every port atom, the kernel's
    /// own rules (not the compiler's value) give the engine's verdict. Also lists other
    /// tables' base chains on the same hooks that can drop or accept around palisade's.
    ///
    /// Exit status: 0 verified, 1 drift (a disagreement, or a rule that cannot be read),
    /// 2 usage or I/O error (nft missing or not permitted, unreadable inputs).
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The node whose kernel this is: its pods (spec.nodeName) are the local ones.
    #[arg(long, value_name = "NAME")]
    pub node: String,
    /// A non-pod address to check as a peer too (ipBlock rules); repeatable. Default: none.
    #[arg(long = "external", value_name = "IP")]
    pub externals: Vec<IpAddr>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = VerifyFormat::Text)]
    pub format: VerifyFormat,
    #[command(flatten)]
    pub inputs: Inputs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VerifyFormat {
    /// A summary line, then each disagreement and foreign chain.
    Text,
    /// One JSON document.
    Json,
}

#[derive(Debug, Args)]
pub struct CleanupArgs {
    /// Only tell whether the table is gone (exit 0) or still there (exit 1); change nothing.
    #[arg(long, default_value_t = false, conflicts_with = "wait")]
    pub check: bool,
    /// After removing the table, keep running until SIGTERM (for a cleanup DaemonSet whose
    /// readiness probe runs `palisade cleanup --check`).
    #[arg(long, default_value_t = false)]
    pub wait: bool,
}

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// This node's name: the agent programs the pods whose spec.nodeName is NAME.
    #[arg(long, value_name = "NAME", env = "NODE_NAME")]
    pub node: String,
    /// Enforce the manifests in this directory (recursive) instead of a cluster's API.
    /// Without it the agent watches the Kubernetes API (in-cluster config, or --kubeconfig).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["kubeconfig", "context"])]
    pub manifests: Option<PathBuf>,
    /// Kubeconfig file for cluster mode. Default: the in-cluster service account when running
    /// in a pod, else $KUBECONFIG or ~/.kube/config.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context for cluster mode. Default: the current context.
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// Log line format on stderr: text, or JSON (one object per line) for log collectors.
    #[arg(long, value_enum, default_value_t = LogFormatArg::Text)]
    pub log_format: LogFormatArg,
    /// Write a small status file after every apply (generation, what changed).
    #[arg(long, value_name = "FILE")]
    pub ready_file: Option<PathBuf>,
    /// Least time between two applies, in milliseconds: bursts of changes coalesce.
    #[arg(long, value_name = "MS", default_value_t = 10)]
    pub min_gap_ms: u64,
    /// Full reload interval in seconds, repairing any drift of the table.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub resync_secs: u64,
    /// When the very first load fails and no palisade table is in force, let traffic through
    /// instead of dropping new forwarded connections.
    #[arg(long, default_value_t = false)]
    pub fail_open: bool,
    /// Remove palisade's table when the agent is asked to stop.
    #[arg(long, default_value_t = false)]
    pub cleanup_on_exit: bool,
    /// Serve Prometheus metrics (/metrics), liveness (/healthz) and readiness (/readyz) over
    /// HTTP on ADDR (IP:PORT); `off` or an empty value disables the server.
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:9690",
        value_parser = parse_metrics_address
    )]
    pub metrics_address: MetricsAddress,
    /// The nflog group every policy drop is logged to (rate-limited) and the agent reads, to
    /// report each drop with its pods and policies; 0 turns drop logging off.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub nflog_group: u16,
    /// Also write each drop event as a JSON line to FILE (appended).
    #[arg(long, value_name = "FILE")]
    pub drop_events: Option<PathBuf>,
    /// How often the per-policy packet counters are read from the kernel, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 15)]
    pub counter_interval_secs: u64,
    /// A pod CIDR of this node; repeatable. While a local pod that policies isolate has no
    /// address yet, traffic from or to addresses of these CIDRs that no known pod owns is
    /// dropped (fail closed). Default: none, no guard.
    #[arg(long = "pod-cidr", value_name = "CIDR")]
    pub pod_cidrs: Vec<ipnet::IpNet>,
    /// The packet mark bits that carry address class ids while palisade's chain runs (restored
    /// before the packet leaves it): one contiguous run of at least 8 bits, clear of
    /// kube-proxy's 0x4000/0x8000. New connections arriving with any of these bits set are
    /// dropped, so pick bits no other component of the node sets (docs/deploy.md lists CNIs).
    #[arg(
        long,
        value_name = "MASK",
        env = "PALISADE_CLASS_MARK_MASK",
        default_value = "0xffff0000",
        value_parser = parse_class_mask
    )]
    pub class_mark_mask: palisade_nft::ClassMask,
    /// Read the kernel's ruleset back and prove it against the policies every SECS seconds
    /// (and after every full apply), reloading the table on drift; 0 turns it off.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub verify_interval: u64,
}

/// `--class-mark-mask`: hexadecimal (`0xffff0000`) or decimal.
pub fn parse_class_mask(s: &str) -> Result<palisade_nft::ClassMask, String> {
    s.parse()
        .map_err(|e: palisade_nft::ClassMaskError| e.to_string())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}

/// `--metrics-address`: where to serve metrics, or nowhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsAddress(pub Option<SocketAddr>);

pub fn parse_metrics_address(s: &str) -> Result<MetricsAddress, String> {
    let s = s.trim();
    if s.is_empty() || s.eq_ignore_ascii_case("off") {
        return Ok(MetricsAddress(None));
    }
    s.parse()
        .map(|a| MetricsAddress(Some(a)))
        .map_err(|_| format!("`{s}` is not IP:PORT (e.g. 127.0.0.1:9690 or [::]:9690), nor `off`"))
}

#[derive(Debug, Args)]
pub struct CompileArgs {
    /// The node whose pods (spec.nodeName) the ruleset programs; peers come from every node.
    #[arg(long, value_name = "NAME")]
    pub node: String,
    /// Print ruleset statistics (chains, sets, elements, rules) to stderr.
    #[arg(long, default_value_t = false)]
    pub stats: bool,
    #[command(flatten)]
    pub inputs: Inputs,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct LabArgs {
    #[command(subcommand)]
    pub action: Option<LabAction>,
    /// Number of node namespaces; pods without spec.nodeName are spread round robin.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub nodes: u16,
    /// A connection to test on every pair, as PROTOCOL/PORT; repeatable. Default: every declared
    /// containerPort (at most 8), or tcp/80 and udp/53 when none is declared.
    #[arg(long = "probe", value_name = "PROTO/PORT", value_parser = parse_probe)]
    pub probes: Vec<Probe>,
    /// A non-pod host to create behind the fabric, as an extra endpoint; repeatable.
    #[arg(long = "external", value_name = "IP")]
    pub externals: Vec<IpAddr>,
    /// How long a blocked probe waits before it counts as blocked, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub timeout_ms: u64,
    /// Output format: observed truth tables and findings, or the observed tables as JSON in
    /// exactly the `reach --probe` shape.
    #[arg(long, value_enum, default_value_t = LabFormat::Table)]
    pub format: LabFormat,
    /// Manifest files or directories; `-` reads standard input.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum LabAction {
    /// Remove what a killed lab run left behind (namespaces, links, processes).
    Clean,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LabFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct Inputs {
    /// Manifest files or directories; `-` reads standard input.
    #[arg(value_name = "PATH", required_unless_present = "cluster")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// A live cluster as an input: its Namespaces, Pods and NetworkPolicies, read once with list
/// calls (the same read-only access the agent has).
#[derive(Debug, Clone, Args)]
pub struct ClusterArgs {
    /// Read Namespaces, Pods and NetworkPolicies from the cluster of the current kubeconfig
    /// context (or the in-cluster service account), as if they were one more input file named
    /// `cluster:CONTEXT`.
    #[arg(long, default_value_t = false)]
    pub cluster: bool,
    /// Kubeconfig file for --cluster. Default: $KUBECONFIG or ~/.kube/config.
    #[arg(long, value_name = "FILE", requires = "cluster")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context for --cluster. Default: the current context.
    #[arg(long, value_name = "NAME", requires = "cluster")]
    pub context: Option<String>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,
    /// Turn findings into errors, which make the exit status 1: `warnings` for every warning,
    /// or a lint code or name (`L003`, `dns-unreachable`); repeatable. Default: none.
    #[arg(long = "deny", value_name = "warnings|LINT")]
    pub deny: Vec<String>,
    /// Do not report this lint (code or name; docs/lints/README.md lists them); repeatable.
    /// Default: every lint runs. To silence one finding on one object instead, annotate the
    /// object with `palisade.dev/allow-lints: "CODE,..."`.
    #[arg(long = "allow", value_name = "LINT")]
    pub allow: Vec<String>,
    /// Validate only: run no lint.
    #[arg(long, default_value_t = false)]
    pub no_lints: bool,
    #[command(flatten)]
    pub inputs: Inputs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// Human-readable, the offending text underlined.
    Text,
    /// One JSON document with every diagnostic and a summary.
    Json,
    /// SARIF 2.1.0 for code-scanning tools.
    Sarif,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub inputs: Inputs,
}

#[derive(Debug, Args)]
pub struct ReachArgs {
    #[command(flatten)]
    pub focus: FocusArgs,
    /// A connection to test, as PROTOCOL/PORT (tcp/80, udp/53, sctp/9000); repeatable.
    /// Without probes, the allowed protocol/ports of every pair are listed.
    #[arg(long = "probe", value_name = "PROTO/PORT", value_parser = parse_probe)]
    pub probes: Vec<Probe>,
    /// A non-pod address to add as an endpoint after the pods; repeatable.
    #[arg(long = "external", value_name = "IP")]
    pub externals: Vec<IpAddr>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReachFormat::Table)]
    pub format: ReachFormat,
    /// `connectivity`: endpoints with identical connectivity once, and only the pairs that
    /// differ from what isolation implies (the default for tables, except truth tables of up
    /// to 100 endpoints). `pod`: every pair (and external address), the default for JSON and
    /// CSV. `workload`: replicas of a Deployment, StatefulSet, DaemonSet or Job collapse into
    /// one; a cell allowed for only some member pairs says so (`~` in truth tables,
    /// `some`/`every` sets in JSON and CSV).
    #[arg(long, value_enum)]
    pub group_by: Option<ReachGroupBy>,
    #[command(flatten)]
    pub inputs: Inputs,
}

/// `--from` and `--to`: which sources and destinations an answer is about.
#[derive(Debug, Clone, Default, Args)]
pub struct FocusArgs {
    /// Only connections from these sources: `NS/POD`, `NS/WORKLOAD`, `NS/*`, `*`, a label
    /// selector (`app=web,tier in (a,b)`, in one namespace as `NS:app=web`), or an IP/CIDR.
    #[arg(long, value_name = "FOCUS")]
    pub from: Option<Focus>,
    /// Only connections to these destinations (same forms as --from): "who can reach the
    /// payments database?" is `--to payments/postgres`.
    #[arg(long, value_name = "FOCUS")]
    pub to: Option<Focus>,
}

impl FocusArgs {
    pub fn is_set(&self) -> bool {
        self.from.is_some() || self.to.is_some()
    }

    /// Per endpoint (pods, then external addresses), whether each focus picks it.
    pub fn masks(
        &self,
        cluster: &palisade_core::model::Cluster,
        externals: &[IpAddr],
    ) -> palisade_core::reach::Focused {
        let mask = |focus: &Option<Focus>| {
            focus.as_ref().map(|f| {
                let mut m = vec![false; cluster.pods.len()];
                for i in f.pods(cluster) {
                    if let Some(slot) = m.get_mut(i) {
                        *slot = true;
                    }
                }
                m.extend(externals.iter().map(|&ip| f.matches_ip(ip)));
                m
            })
        };
        palisade_core::reach::Focused {
            from: mask(&self.from),
            to: mask(&self.to),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReachGroupBy {
    /// Endpoints with identical connectivity together, named by what selects them.
    Connectivity,
    /// Pods of one workload together, named `namespace/workload`.
    Workload,
    /// Every pod (and external address) on its own.
    Pod,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReachFormat {
    /// Truth tables (`.` allowed, `X` blocked) per probe, or lines (per group or pair).
    Table,
    /// JSON; with probes exactly {"endpoints": [...], "probes": [{"protocol", "port", "allowed"}]}.
    Json,
    /// Comma-separated values, one row per pair (and probe).
    Csv,
}

#[derive(Debug, Args)]
pub struct WhyArgs {
    /// The source: a pod as NAMESPACE/NAME (NAME alone means namespace `default`), or an IP address.
    #[arg(long, value_name = "ENDPOINT")]
    pub from: String,
    /// The destination: a pod as NAMESPACE/NAME, or an IP address.
    #[arg(long, value_name = "ENDPOINT")]
    pub to: String,
    /// The connection, as PROTOCOL/PORT (tcp/80).
    #[arg(long, value_name = "PROTO/PORT", value_parser = parse_probe)]
    pub probe: Probe,
    #[command(flatten)]
    pub inputs: Inputs,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub focus: FocusArgs,
    /// Manifests added to both sides (typically the inventory: pods, namespaces, workloads);
    /// repeatable.
    #[arg(long = "base", value_name = "PATH")]
    pub base: Vec<PathBuf>,
    /// Exit with status 1 when the change does this: `widen` (some connection gained),
    /// `narrow` (some connection lost), `change` (either); `never` only reports.
    #[arg(long, value_enum, default_value_t = FailOn::Never)]
    pub fail_on: FailOn,
    /// `connectivity`: endpoints whose connections were alike before and are alike after
    /// the change together, named by what selects them (the default for text). `pod`: one
    /// line per pod pair (the default for JSON and CSV). `workload`: replicas of a
    /// Deployment, StatefulSet, DaemonSet or Job collapse into one.
    #[arg(long, value_enum)]
    pub group_by: Option<GroupBy>,
    /// A non-pod address to compare as an endpoint on both sides; repeatable.
    #[arg(long = "external", value_name = "IP")]
    pub externals: Vec<IpAddr>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    pub format: DiffFormat,
    /// The manifests before the change: a file, a directory or `-`. With --cluster: the
    /// change (CHANGES), compared as "the cluster now" vs "the cluster with CHANGES applied"
    /// (objects of the same kind, namespace and name replaced, as `kubectl apply` does).
    #[arg(value_name = "OLD", required_unless_present = "cluster")]
    pub old: Option<PathBuf>,
    /// The manifests after the change: a file, a directory or `-` (not with --cluster).
    #[arg(value_name = "NEW", conflicts_with = "cluster")]
    pub new: Option<PathBuf>,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Report only; exit 0 whatever changed.
    Never,
    /// Exit 1 when any connection is gained.
    Widen,
    /// Exit 1 when any connection is lost.
    Narrow,
    /// Exit 1 when any connection is gained or lost.
    Change,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    /// Grouped by destination, then source; `+` gained, `-` lost.
    Text,
    /// One JSON document: added/removed endpoints and every change.
    Json,
    /// Comma-separated values, one row per changed pair.
    Csv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GroupBy {
    /// Endpoints with the same connectivity before and after the change together.
    Connectivity,
    /// Every pod (and external address) on its own.
    Pod,
    /// Pods of one workload together, named `namespace/workload`.
    Workload,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    #[command(flatten)]
    pub focus: FocusArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    pub format: GraphFormat,
    /// One node per group of identical connectivity (edges only where the answer differs
    /// from what isolation implies), per workload, or per pod.
    #[arg(long, value_enum, default_value_t = ReachGroupBy::Connectivity)]
    pub group_by: ReachGroupBy,
    /// A non-pod address to add as a node; repeatable.
    #[arg(long = "external", value_name = "IP")]
    pub externals: Vec<IpAddr>,
    #[command(flatten)]
    pub inputs: Inputs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// Graphviz DOT (`palisade graph ... | dot -Tsvg > graph.svg`).
    Dot,
    /// A Mermaid flowchart (renders in GitHub and GitLab Markdown).
    Mermaid,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub focus: FocusArgs,
    /// Where to write the HTML page; `-` is standard output.
    #[arg(short, long, value_name = "FILE", default_value = "-")]
    pub output: PathBuf,
    /// Matrix rows and graph nodes: `connectivity` (a matrix of namespaces, and per
    /// namespace its groups of identical connectivity, their pods and connections), per
    /// workload, or per pod.
    #[arg(long, value_enum, default_value_t = ReachGroupBy::Connectivity)]
    pub group_by: ReachGroupBy,
    /// A non-pod address to add as an endpoint; repeatable.
    #[arg(long = "external", value_name = "IP")]
    pub externals: Vec<IpAddr>,
    #[command(flatten)]
    pub inputs: Inputs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Color when writing to a terminal and NO_COLOR is unset.
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether to color output going to a stream that `is_terminal` or not.
    pub fn enabled(self, is_terminal: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => std::env::var_os("NO_COLOR").is_none() && is_terminal,
        }
    }

    pub fn for_stdout(self) -> bool {
        self.enabled(std::io::stdout().is_terminal())
    }

    pub fn for_stderr(self) -> bool {
        self.enabled(std::io::stderr().is_terminal())
    }
}

/// `tcp/80` -> Probe. Protocol names are case-insensitive here (it is a command line, not the
/// API); ports are numeric because a probe is a real connection attempt.
pub fn parse_probe(s: &str) -> Result<Probe, String> {
    let (proto, port) = s
        .split_once('/')
        .ok_or_else(|| format!("`{s}` is not PROTOCOL/PORT; write e.g. tcp/80 or udp/53"))?;
    let protocol = Protocol::from_api(&proto.to_ascii_uppercase())
        .ok_or_else(|| format!("unknown protocol `{proto}`; use tcp, udp or sctp"))?;
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("`{port}` is not a port number (1-65535)"))?;
    Ok(Probe { protocol, port })
}

/// `tcp/80`, the way probes are written on the command line and in truth tables.
pub fn probe_label(p: &Probe) -> String {
    format!("{}/{}", p.protocol.as_str().to_ascii_lowercase(), p.port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_parse_and_print() {
        let p = parse_probe("UDP/53").expect("valid probe");
        assert_eq!((p.protocol, p.port), (Protocol::Udp, 53));
        assert_eq!(probe_label(&p), "udp/53");
        for bad in ["tcp", "icmp/1", "tcp/0", "tcp/65536", "tcp/http"] {
            assert!(parse_probe(bad).is_err(), "{bad} must be rejected");
        }
    }

    #[test]
    fn metrics_addresses_parse() {
        let on = |a: &str| MetricsAddress(Some(a.parse().expect("socket address")));
        for (label, text, want) in [
            ("default", "127.0.0.1:9690", on("127.0.0.1:9690")),
            ("IPv6", "[::1]:9100", on("[::1]:9100")),
            ("off", "off", MetricsAddress(None)),
            ("OFF", "OFF", MetricsAddress(None)),
            ("empty", "", MetricsAddress(None)),
        ] {
            assert_eq!(parse_metrics_address(text), Ok(want), "{label}");
        }
        for bad in ["9690", "localhost:9690", "127.0.0.1", "127.0.0.1:99999"] {
            assert!(
                parse_metrics_address(bad).is_err(),
                "{bad} must be rejected"
            );
        }
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
