# palisade agent image. Build from the repository root:
#   docker build -t palisade:dev .
# (Not built in palisade's CI: no container runtime is available there. See docs/deploy.md.)

# --- build ---------------------------------------------------------------------------------
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# --locked: the image gets exactly the dependency versions the tests ran with.
RUN cargo build --release -p palisade-cli --locked

# --- runtime -------------------------------------------------------------------------------
# Same Debian release as the build stage, so the binary's glibc matches.
FROM debian:bookworm-slim
# nftables provides the `nft` the agent pipes its rulesets to (`nft -f -`).
RUN apt-get update \
    && apt-get install -y --no-install-recommends nftables \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/palisade /usr/local/bin/palisade
# No USER line: the agent must run as root. Kubernetes cannot give a non-root process ambient
# capabilities, so NET_ADMIN would never be effective for it, and file capabilities are not
# gained under allowPrivilegeEscalation: false. The DaemonSet confines root instead: every
# capability dropped except NET_ADMIN and NET_RAW, read-only root filesystem, no privilege
# escalation, RuntimeDefault seccomp.
ENTRYPOINT ["/usr/local/bin/palisade"]
CMD ["--help"]
