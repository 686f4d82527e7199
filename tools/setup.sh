#!/usr/bin/env bash
# Sets up a podkit checkout on Debian 12, as root: the Debian packages the project uses, the npm
# dependencies, and the native + TypeScript builds. Safe to run again; it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS=(
  busybox-static              # test rootfs and images
  containernetworking-plugins # the real CNI plugins, in /usr/lib/cni
  docker-registry             # a real distribution-spec registry, run on 127.0.0.1 in tests
  skopeo umoci                # independent image tools, to seed registries and cross-check unpacking
  runc containerd             # peers to compare with and to interoperate with
  iproute2 iptables           # network namespaces, veths, portmap rules inside test namespaces
  libseccomp-dev pkg-config   # seccomp for the native core
  cmake make g++ util-linux   # the native build (flock comes with util-linux)
  hyperfine                   # benchmarks
  apache2-utils               # htpasswd -B: the registry's basic auth in the image auth e2e tests
  openssl                     # a private CA and client certificates in the registry TLS tests
  zstd                        # zstd layers: made in tests; podkit decodes them with it when present (else pure JS)
)

missing=()
for p in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then echo "setup: run as root to install Debian packages" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's docker-registry package starts a registry on :5000 where an init system runs; podkit's tests
# never use it (each test starts its own on a free 127.0.0.1 port), so nothing here depends on it.

echo "setup: npm ci"
npm ci --no-audit --no-fund --loglevel=error

# The native build (cmake-js) is an nx target that every build depends on: it runs here on purpose,
# not from an install script (npm blocks dependencies' install scripts; see allowScripts).
echo "setup: build"
NX_DAEMON=false npx nx run-many -t build --outputStyle=static
