# syntax=docker/dockerfile:1
# The parking service as a container: build in a Rust image, run in a slim Debian one as an
# unprivileged user. Data and backups live in volumes.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Dependencies first, so that a change to the service's own code does not rebuild them.
COPY Cargo.toml Cargo.lock ./
# The phone number parser's regular expression cache, patched in by Cargo.toml.
COPY vendor vendor
# The manifest names the benchmark examples, so their sources must be present to build.
COPY bench/ws_load.rs bench/bare_lookup.rs bench/page_search.rs bench/propagation.rs bench/
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cargo build --release --locked --bin parking \
    && rm -rf src
COPY build.rs ./
COPY migrations migrations
# The operator page, embedded in the binary.
COPY web web
COPY src src
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin parking

FROM debian:bookworm-slim
# curl is for the health check only.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system parking \
    && useradd --system --gid parking --home-dir /var/lib/parking --shell /usr/sbin/nologin parking \
    && mkdir -p /var/lib/parking/backups \
    && chown -R parking:parking /var/lib/parking \
    && chmod 700 /var/lib/parking /var/lib/parking/backups
COPY --from=build /src/target/release/parking /usr/local/bin/parking

ENV PARKING_BIND=0.0.0.0:8080 \
    PARKING_DATABASE_URL=sqlite:///var/lib/parking/parking.db \
    PARKING_BACKUP_DIR=/var/lib/parking/backups \
    PARKING_LOG_FORMAT=json
USER parking
WORKDIR /var/lib/parking
VOLUME ["/var/lib/parking", "/var/lib/parking/backups"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/health/ready >/dev/null || exit 1
# SIGTERM drains in-flight requests and closes live searches with 1001.
STOPSIGNAL SIGTERM
ENTRYPOINT ["parking"]
CMD ["serve"]
