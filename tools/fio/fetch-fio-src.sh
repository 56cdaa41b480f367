#!/bin/sh
# Fetch and configure the source of the installed fio, so the engine is built
# against the exact struct layouts of the fio binary that will load it.
# Uses a private apt sources list: the system's apt configuration is untouched.
# Usage: fetch-fio-src.sh CACHE_DIR   (prints the configured source dir)
set -eu
cache=${1:?cache dir}
ver=$(dpkg-query -W -f='${Version}' fio 2>/dev/null) || {
    echo "fetch-fio-src: fio is not installed (apt-get install fio)" >&2
    exit 1
}
upstream=${ver%-*}
upstream=${upstream#*:}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
src="$cache/fio-$upstream"
if [ -f "$src/config-host.h" ]; then
    echo "$src"
    exit 0
fi
apt="$cache/apt"
mkdir -p "$apt/lists/partial" "$apt/archives/partial"
cat >"$apt/sources.list" <<SRC
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-updates main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main
SRC
opts="-o Dir::Etc::SourceList=$apt/sources.list -o Dir::Etc::SourceParts=/dev/null \
      -o Dir::State::Lists=$apt/lists -o Dir::Cache=$apt"
# shellcheck disable=SC2086
apt-get $opts update >&2
# shellcheck disable=SC2086
(cd "$cache" && apt-get $opts source --only-source "fio=$ver" >&2)
[ -d "$src" ] || {
    echo "fetch-fio-src: $src missing after apt-get source" >&2
    exit 1
}
(cd "$src" && ./configure --disable-native >&2)
echo "$src"
