# shellcheck shell=bash
# shellcheck disable=SC2154,SC2034  # dry_run, refused, …: the runtime's, above this file
# ---------------------------------------------------------------- hardening runtime
# The egress and project parts of the reconciler (issue 21), the same bytes
# in every build (dkgen/render/cluster_hardening.sh), after the runtime
# above and under its data contract. The data adds:
#
#   want_egress MODE ROUTER NAT NAT_WANT DESCRIPTION REGION
#       MODE cloud_nat: the Cloud Router ROUTER (in REGION) carries the NAT NAT, whose
#       "allocation|ranges" read as NAT_WANT; other modes: no router of
#       this cluster's (one whose description is DESCRIPTION) may remain.
#       Commands: router ROUTER read/create/delete, nat NAT read/create/update.
#   project=… node_account=…
#       set before the data when cluster.project is null, from gcloud's
#       configured project (configured_project).

egress_mode=""
router_name=""
nat_name=""
nat_want=""
router_description=""
router_region=""

want_egress() {
  egress_mode="$1" router_name="$2" nat_name="$3" nat_want="$4" router_description="$5"
  router_region="$6"
}

# gcloud's configured project, for settings without cluster.project; under
# --dry-run the placeholder gcloud-config-project (a dry run reads nothing; a
# valid project ID, so the printed commands still pass gcloud's own parser).
configured_project() {
  if ((dry_run)); then
    echo gcloud-config-project
    return
  fi
  local found
  found="$(gcloud config get-value project 2>/dev/null)" || found=""
  if [[ -z "$found" ]]; then
    note "no project: set cluster.project, or run gcloud config set project PROJECT_ID"
    exit 1
  fi
  printf '%s\n' "$found"
}

# Whether this cluster's router exists: one of that name carrying our description.
# A router of that name that someone else made is never ours to change or delete.
has_router() {
  local cmd=() found
  load_command router "$router_name" read
  if ((dry_run)); then
    run "${cmd[@]}"
    return 1
  fi
  found="$(checked "${cmd[@]}")" || fail_lookup "${cmd[*]}"
  found="$(awk -F'|' -v name="$router_name" -v region="$router_region" \
    '$1 == name && $2 == region' <<<"$found")"
  [[ -n "$found" ]] || return 1
  if [[ "$found" != "$router_name|$router_region|$router_description" ]]; then
    note "Cloud Router $router_name exists but was not made by this cluster's cluster.sh; left alone"
    foreign_router=1
    return 1
  fi
}

foreign_router=0

# The Cloud Router and NAT private nodes reach the internet through, before
# the cluster (its nodes pull their images through it).
reconcile_egress() {
  [[ -n "$egress_mode" ]] || return 0
  if [[ "$egress_mode" != cloud_nat ]]; then
    if has_router || ((dry_run)); then
      change "cloud router $router_name: delete (cluster.egress: $egress_mode)"
      mutate_stored router "$router_name" delete
    fi
    return 0
  fi
  if ! has_router; then
    if ((foreign_router)); then
      refused=1
      return 0
    fi
    change "cloud router $router_name: create"
    mutate_stored router "$router_name" create
    change "cloud NAT $nat_name: create"
    mutate_stored nat "$nat_name" create
    if ((dry_run)); then
      # Every command shown: the NAT's read and update as well.
      run_stored nat "$nat_name" read
      mutate_stored nat "$nat_name" update
    fi
    return 0
  fi
  local cmd=() live line
  load_command nat "$nat_name" read
  live="$("${cmd[@]}")" || fail_lookup "${cmd[*]}"
  line="$(awk -F'|' -v nat="$nat_name" '$1 == nat' <<<"$live")"
  if [[ -z "$line" ]]; then
    change "cloud NAT $nat_name: create"
    mutate_stored nat "$nat_name" create
  elif [[ "${line#*|}" != "$nat_want" ]]; then
    change "cloud NAT $nat_name: ${line#*|} -> $nat_want (in place)"
    mutate_stored nat "$nat_name" update
  fi
}

# After the cluster: its router, and the NAT inside it.
delete_egress() {
  [[ -n "$egress_mode" ]] || return 0
  if has_router || ((dry_run)); then
    run_stored router "$router_name" delete
  fi
}
# ---------------------------------------------------------------- end of hardening runtime
