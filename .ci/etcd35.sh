#!/usr/bin/env bash
# Fetches etcd 3.5 (server, etcdctl, etcdutl) from Debian's unstable suite — static Go
# binaries — and unpacks them with dpkg -x into a directory of their own, beside (never over)
# the system's etcd 3.4. Prints the directory that holds the three binaries.
# Usage: .ci/etcd35.sh [DIR]   (default: ${TMPDIR:-/tmp}/reshift-etcd-3.5)
set -euo pipefail
dir="${1:-${TMPDIR:-/tmp}/reshift-etcd-3.5}"
if [ -x "$dir/usr/bin/etcd" ] && "$dir/usr/bin/etcd" --version 2>/dev/null | grep -q 'Version: 3\.5\.'; then
  echo "$dir/usr/bin"; exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/etc" "$work/lists/partial" "$work/cache/archives/partial"
cat >"$work/etc/unstable.sources" <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: unstable
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
: >"$work/status"
opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$work/etc"
      -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache"
      -o "Dir::State::Status=$work/status" -o APT::Sandbox::User=root)
apt-get "${opts[@]}" update -qq >&2
(cd "$work" && apt-get "${opts[@]}" download etcd-server etcd-client >&2)
rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
for f in "$work"/etcd-*.deb; do dpkg -x "$f" "$dir.tmp"; done
"$dir.tmp/usr/bin/etcd" --version | grep -q 'Version: 3\.5\.' || { echo "etcd35.sh: unstable no longer has etcd 3.5" >&2; exit 1; }
rm -rf "$dir" && mv "$dir.tmp" "$dir"
echo "$dir/usr/bin"
