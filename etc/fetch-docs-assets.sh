#!/bin/sh
# Fetches what the documentation pages and their tests need from the npm
# registry, through npm itself.
#
#   etc/fetch-docs-assets.sh assets DIR      Swagger UI and ReDoc files into DIR
#   etc/fetch-docs-assets.sh test-tools DIR  playwright-core and @redocly/cli
#                                            (t/browser/package.json) into DIR
#
# The assets are compiled into the kairos binary (server/handlers_docs.c), so
# /docs and /redoc work with no internet access. Each package is pinned to a
# version and to the SHA-512 of its tarball, which is the digest in the
# registry's "integrity" field. A tarball with another digest is rejected.
set -eu

SWAGGER_UI_PACKAGE="swagger-ui-dist@5.35.0"
SWAGGER_UI_SHA512="534eaba4cb56f55dd73c638179a993512af4674f63317e0826e00da44fc465b021c341bc0a0c2bcd4e18997927fe1d3008336c5dd19aad334d1c2dec53cc9551"
REDOC_PACKAGE="redoc@2.5.4"
REDOC_SHA512="33a8d6846d6aa019c7e93166cc99ecb72099f3b1e6398fd4cc39bbf261e262284476557f61c4bda203a8d4d94496724c78bb32c4715edb215ce2c3631d3ac005"

usage() {
    echo "usage: $0 assets|test-tools DIR" >&2
    exit 2
}

require_npm() {
    if ! command -v npm >/dev/null 2>&1; then
        echo "kairos: npm is missing; install it with: make deps (Debian package npm)" >&2
        exit 1
    fi
}

# Downloads the tarball of package spec $1 into directory $2, checks it
# against the SHA-512 digest $3 and prints its path.
fetch_tarball() {
    spec=$1
    dir=$2
    digest=$3
    file=$(cd "$dir" && npm pack --silent --ignore-scripts "$spec" | tail -n 1)
    if [ -z "$file" ] || [ ! -f "$dir/$file" ]; then
        echo "kairos: npm pack $spec failed" >&2
        exit 1
    fi
    if ! echo "$digest  $dir/$file" | sha512sum -c --status; then
        echo "kairos: $spec: the tarball's SHA-512 differs from the pinned digest; rejected" >&2
        exit 1
    fi
    echo "$dir/$file"
}

fetch_assets() {
    out=$1
    work="$out.tmp"
    rm -rf "$work"
    mkdir -p "$work/npm"

    swagger=$(fetch_tarball "$SWAGGER_UI_PACKAGE" "$work/npm" "$SWAGGER_UI_SHA512")
    redoc=$(fetch_tarball "$REDOC_PACKAGE" "$work/npm" "$REDOC_SHA512")

    mkdir -p "$work/swagger" "$work/redoc"
    tar -xzf "$swagger" -C "$work/swagger" package/swagger-ui-bundle.js package/swagger-ui.css \
        package/favicon-32x32.png package/LICENSE package/NOTICE
    tar -xzf "$redoc" -C "$work/redoc" package/bundles/redoc.standalone.js package/LICENSE

    cp "$work/swagger/package/swagger-ui-bundle.js" "$work/swagger/package/swagger-ui.css" \
        "$work/swagger/package/favicon-32x32.png" "$work/"
    cp "$work/swagger/package/LICENSE" "$work/swagger-ui.LICENSE"
    cp "$work/swagger/package/NOTICE" "$work/swagger-ui.NOTICE"
    cp "$work/redoc/package/bundles/redoc.standalone.js" "$work/"
    cp "$work/redoc/package/LICENSE" "$work/redoc.LICENSE"
    rm -rf "$work/npm" "$work/swagger" "$work/redoc"
    echo "$SWAGGER_UI_PACKAGE $REDOC_PACKAGE" >"$work/VERSIONS"

    rm -rf "$out"
    mv "$work" "$out"
    echo "kairos: documentation assets ($SWAGGER_UI_PACKAGE, $REDOC_PACKAGE) are in $out" >&2
}

fetch_test_tools() {
    out=$1
    root=$(cd "$(dirname "$0")/.." && pwd)
    mkdir -p "$out"
    rm -f "$out/.installed"
    cp "$root/t/browser/package.json" "$out/package.json"
    (cd "$out" && npm install --silent --no-audit --no-fund --ignore-scripts --no-package-lock)
    touch "$out/.installed"
    echo "kairos: documentation test tools are in $out/node_modules" >&2
}

[ $# -eq 2 ] || usage
require_npm
case "$1" in
assets) fetch_assets "$2" ;;
test-tools) fetch_test_tools "$2" ;;
*) usage ;;
esac
