#!/usr/bin/env bash
# Fixture: a dry-run bug - it asks gcloud for the project even in dry-run mode.
set -euo pipefail
DRY_RUN=0
if [[ "${1:-}" == "--dry-run" ]]; then DRY_RUN=1; fi

run() {
  if [[ "$DRY_RUN" -eq 1 ]]; then
    printf '%q ' "$@"
    printf '\n'
  else
    "$@"
  fi
}

PROJECT="$(gcloud config get-value project || true)"
run gcloud container clusters create dask --zone us-east1-b --project "$PROJECT"
