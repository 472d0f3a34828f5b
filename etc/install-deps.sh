#!/bin/sh
# Installs the Debian 12 packages Kairos needs to build, test and run, when
# any is missing. As root (or with sudo) it runs apt-get; otherwise it prints
# the exact command to run. With --build it installs only what `make` needs,
# for the container image's build stage. Without it, it also installs what
# `make test` and `make bench` use: Perl modules, the sqlite3 shell, wrk, and
# Chromium for the documentation pages.
set -eu

PACKAGES="build-essential pkg-config perl libh2o-evloop-dev libmongoc-dev libbson-dev libsqlite3-dev \
libsqlite3-mod-spatialite libjansson-dev libjwt-dev libsodium-dev libcurl4-openssl-dev libcrypt-dev \
libssl-dev curl ca-certificates"
TEST_PACKAGES="libyaml-tiny-perl sqlite3 wrk chromium"

case "${1:-}" in
--build) ;;
"") PACKAGES="$PACKAGES $TEST_PACKAGES" ;;
*)
    echo "usage: sh etc/install-deps.sh [--build]" >&2
    exit 2
    ;;
esac

missing=""
for pkg in $PACKAGES; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    case "$status" in
    *"install ok installed"*) ;;
    *) missing="$missing $pkg" ;;
    esac
done

# The documentation assets come from the npm registry. A machine whose Node.js
# already ships npm (for example NodeSource's nodejs package, which conflicts
# with Debian's npm) needs nothing more.
if ! command -v npm >/dev/null 2>&1; then
    missing="$missing npm"
fi

if [ -z "$missing" ]; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo"
else
    echo "kairos: missing Debian packages:$missing" >&2
    echo "kairos: install them with: sudo apt-get install -y$missing" >&2
    exit 1
fi

echo "kairos: installing:$missing" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
