#!/usr/bin/env bash
# Fixture: dry-run output with arguments that plain shlex cannot parse.
# The description contains spaces, both quote kinds, $(...), backticks, a glob,
# a backslash, a tab, a newline and non-ASCII; printf %q renders it as $'...'.
set -euo pipefail

DRY_RUN=0
for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY_RUN=1 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

run() {
  if [[ "$DRY_RUN" -eq 1 ]]; then
    printf '%q ' "$@"
    printf '\n'
  else
    "$@"
  fi
}

TRICKY=$'it\'s a "dask" cluster; $(touch /tmp/pwned) `id` * [a-z]?\nsecond line\twith tab \\ caf\u00e9'
echo "note: gcloud commands follow"
run gcloud compute instances create dask-vm --zone us-east1-b --description "$TRICKY"
run gcloud compute instances create dask-vm2 --zone us-east1-b --description ""
run kubectl get pods
