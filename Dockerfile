# syntax=docker/dockerfile:1
# hookline's three binaries in one small image:
#   hookline  the CLI (migrate, keys rotate, dlq, jwt, up)   ingress   the HTTP front door
#   worker    the event consumers
# No secret is baked in: settings come from HOOKLINE_* variables at run time (docker-compose.yml).
#
#   docker build -t hookline .
#   docker run --rm hookline hookline --help

ARG RUST_VERSION=1

FROM rust:${RUST_VERSION}-bookworm AS chef
RUN cargo install cargo-chef --locked --version ^0.1.66
WORKDIR /src

# The recipe lists the manifests only, so the dependency layer below is rebuilt only when
# Cargo.toml or Cargo.lock change, not on every source edit.
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --no-default-features --recipe-path recipe.json \
      --bin hookline --bin ingress --bin worker
COPY . .
# No default features: the production hookline leaves out the demo and its simulator.
RUN cargo build --release --locked --no-default-features --bin hookline --bin ingress --bin worker \
 && strip target/release/hookline target/release/ingress target/release/worker

FROM debian:bookworm-slim AS runtime
# ca-certificates: calls to Jira/Confluence and the signed-install key server are HTTPS.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 hookline \
 && useradd --system --uid 10001 --gid hookline --home-dir /app --shell /usr/sbin/nologin hookline \
 && mkdir -p /app/data /var/lib/hookline/keys \
 && chown hookline:hookline /app/data /var/lib/hookline/keys \
 && chmod 0700 /var/lib/hookline/keys
COPY --from=builder /src/target/release/hookline /src/target/release/ingress /src/target/release/worker /usr/local/bin/
WORKDIR /app
USER hookline:hookline
# Containers listen on every interface; logs are JSON lines for the log pipeline.
ENV HOOKLINE_SERVER__HOST=0.0.0.0 \
    HOOKLINE_LOG__FORMAT=json
EXPOSE 8080 9091
CMD ["ingress"]
