# One image for both ways Kairos runs: `kairos lambda` when AWS Lambda starts
# it (AWS_LAMBDA_RUNTIME_API is set), `kairos serve` on port 8080 anywhere
# else. Any arguments replace the default command, e.g. `docker run IMAGE version`.

# Build stage: the same steps as CI (etc/install-deps.sh, then make), without the test-only packages.
FROM debian:bookworm-slim AS build
WORKDIR /src
COPY . .
RUN sh etc/install-deps.sh --build \
    && make clean \
    && make -j"$(nproc)"

# Runtime stage: the shared libraries the binary links, and nothing to build with.
FROM debian:bookworm-slim
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        ca-certificates \
        libbson-1.0-0 \
        libcrypt1 \
        libcurl4 \
        libh2o-evloop0.13 \
        libjansson4 \
        libjwt0 \
        libmongoc-1.0-0 \
        libsodium23 \
        libsqlite3-0 \
        libsqlite3-mod-spatialite \
        libssl3 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home-dir /var/lib/kairos --create-home --shell /usr/sbin/nologin kairos

COPY --from=build /src/kairos /usr/local/bin/kairos

# Lambda mounts the image read-only except /tmp, so the var directory lives there.
ENV KAIROS_LISTEN=0.0.0.0:8080 \
    KAIROS_LOG_FORMAT=json \
    KAIROS_VAR_DIR=/tmp/kairos
WORKDIR /var/lib/kairos
USER kairos
EXPOSE 8080

ENTRYPOINT ["/bin/sh", "-c", "if [ $# -gt 0 ]; then exec /usr/local/bin/kairos \"$@\"; elif [ -n \"${AWS_LAMBDA_RUNTIME_API:-}\" ]; then exec /usr/local/bin/kairos lambda; else exec /usr/local/bin/kairos serve; fi", "kairos"]
