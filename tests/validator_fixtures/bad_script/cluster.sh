#!/usr/bin/env bash
# Fixture: runs fine with --dry-run but has shellcheck findings (unquoted
# variables, cd without error handling) and a flag gcloud does not know.
DRY_RUN=0
ZONE=us-east1-b
[ "$1" = "--dry-run" ] && DRY_RUN=1

run() {
  if [ $DRY_RUN -eq 1 ]; then
    printf '%q ' "$@"
    printf '\n'
  else
    "$@"
  fi
}

cd $(dirname "$0")
run gcloud container clusters create dask --zone $ZONE --num-nodes 1 --bogus-flag
run gcloud container clusters create dask --zone $ZONE --num-nodes 1 --release-channel sometimes
run gcloud container clusters get-credentials dask --zone $ZONE
