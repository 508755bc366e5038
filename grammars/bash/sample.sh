#!/usr/bin/env bash
set -euo pipefail

MAX_RETRIES=3

log() {
  echo "[shop] $*" >&2
}

function place_order {
  local id=$1
  log "placing $id"
  submit "$id"
}

submit() {
  curl -s "https://example.invalid/orders/$1"
}

place_order "42"
