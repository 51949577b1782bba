#!/usr/bin/env bash
# Installs the Debian packages patrold needs when any is missing (as root), or prints the line to run.
set -euo pipefail
pkgs=(gcc make pkg-config libc6-dev postgresql-15 postgresql-15-postgis-3 libpq-dev libgeos-dev
      libproj-dev proj-bin libcivetweb-dev libjansson-dev libcmocka-dev libsodium-dev zlib1g-dev
      python3 python3-jsonschema curl clang-format nginx-light openssl libopencc-dev
      libturbojpeg0-dev libxlsxwriter-dev)
# the tests read the monthly report with another stack (openpyxl)
pkgs+=(python3-openpyxl)
# the dispatcher console: build (npm) and browser test (Debian's chromium, a Chinese font)
pkgs+=(nodejs chromium fonts-wqy-microhei)   # npm: Debian's package or the one in nodesource's nodejs
# more than one machine (make ha, tests/ha): Patroni with etcd
pkgs+=(patroni etcd-server etcd-client)
[ "${PATROLD_BENCH_DEPS:-0}" = 1 ] && pkgs+=(wrk postgresql-contrib valgrind)
[ "${PATROLD_FUZZ_DEPS:-0}" = 1 ] && pkgs+=(clang libclang-rt-14-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "patrold needs these Debian packages; run as root:" >&2
  echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
