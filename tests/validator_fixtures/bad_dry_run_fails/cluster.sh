#!/usr/bin/env bash
# Fixture: the script rejects --dry-run (exit 2).
set -euo pipefail
echo "usage: $0 up|down" >&2
exit 2
