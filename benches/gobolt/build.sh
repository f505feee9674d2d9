#!/usr/bin/env bash
# Builds gobolt (benches/gobolt/main.go) against Debian's Go sources of bbolt.
# usage: benches/gobolt/build.sh [OUT]   (default /tmp/gobolt)
set -euo pipefail
out=${1:-/tmp/gobolt}
if ! command -v go >/dev/null || [ ! -d /usr/share/gocode/src/go.etcd.io/bbolt ]; then
  apt-get update -qq && apt-get install -y -qq golang-go golang-etcd-server-dev >/dev/null
fi
work=$(mktemp -d)
mkdir -p "$work/src/gobolt"
cp "$(dirname "$0")/main.go" "$work/src/gobolt/"
(cd "$work" && GOPATH="$work:/usr/share/gocode" GO111MODULE=off GOFLAGS= go build -o "$out" gobolt)
rm -rf "$work"
echo "$out"
