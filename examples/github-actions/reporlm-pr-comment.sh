#!/usr/bin/env bash
# Run reporlm on the checked-out repository and write a pull-request comment in Markdown.
#
#   reporlm-pr-comment.sh ask  "question"  comment.md
#   reporlm-pr-comment.sh plan "goal"      comment.md
#
# Exits 0 when the comment was written: answered, or partial (a budget ran out; the comment says
# so). Otherwise exits with reporlm's code (2 usage or configuration, 3 model provider) and writes
# no comment, so the job fails with the reason in its log.
# Environment: REPORLM_REPO (default .), REPORLM_TRACE (default reporlm-trace.jsonl), REPORLM_FLAGS
# (extra flags, e.g. "--max-cost 1"), and the provider settings reporlm reads (ANTHROPIC_API_KEY, ...).
set -uo pipefail

if [ $# -ne 3 ] || { [ "$1" != ask ] && [ "$1" != plan ]; }; then
  echo "usage: $0 ask|plan TEXT OUT.md" >&2
  exit 2
fi
verb=$1 text=$2 out=$3
body=$(mktemp)
trap 'rm -f "$body"' EXIT

# shellcheck disable=SC2086  # REPORLM_FLAGS is a list of flags
reporlm "$verb" "$text" --repo "${REPORLM_REPO:-.}" --trace "${REPORLM_TRACE:-reporlm-trace.jsonl}" \
  ${REPORLM_FLAGS:-} >"$body"
code=$?
case $code in
  0) note="" ;;
  1) note="> **Partial**: reporlm ran out of budget before a final answer; this is the best it had." ;;
  *) echo "reporlm $verb failed (exit $code); no comment written" >&2; exit "$code" ;;
esac

title=$([ "$verb" = plan ] && echo "Change plan" || echo "Answer")
{
  echo "<!-- reporlm -->"
  echo "### reporlm · $title"
  echo
  # The request, quoted line by line so that it renders as a quote and nothing else.
  printf '%s\n' "$text" | sed 's/^/> /'
  echo
  if [ -n "$note" ]; then echo "$note"; echo; fi
  cat "$body"
  echo
  echo "<sub>Every \`path:line\` above was checked against the repository at $(git -C "${REPORLM_REPO:-.}" rev-parse --short HEAD 2>/dev/null || echo 'this commit'); the ones that could not be verified are listed.</sub>"
} >"$out"
echo "reporlm: comment written to $out" >&2
