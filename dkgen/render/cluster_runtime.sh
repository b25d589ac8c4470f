# shellcheck shell=bash
# ---------------------------------------------------------------- dkgen runtime
# The reconciler every cluster.sh carries, the same bytes in every build
# (dkgen/render/cluster_runtime.sh). It knows no setting: the lines after it,
# rendered by dkgen, declare the wanted state as data, and the runtime walks
# that data generically. The data contract:
#
#   define_command KIND NAME VERB WORD...
#       a command the runtime may run for one resource, stored word for
#       word. KIND is cluster, pool, account, grant or keda (NAME '-' when
#       there is one); VERB is read, create, delete, resize, update:GROUP,
#       clear:GROUP, lookup, add, remove, credentials, status, install, ...
#   want_field KIND NAME GROUP INDEX COMPARE LABEL WANT
#       one live field apply compares: position INDEX of the resource's
#       read projection (fields separated by |, lists by ;), compared as
#       COMPARE (text, bool, count, enum, list, contains) with WANT. GROUP
#       names the update command that changes it (update:GROUP), or
#       "replace" when GKE cannot change it in place.
#   want_pool NAME ROLE NODES
#       a node pool, in order; ROLE core (GKE creates it with the cluster)
#       or worker; NODES the nodes per zone of a fixed-size pool, '' when
#       the autoscaler owns the size.
#   want_account EMAIL
#       a Google service account this cluster owns (created by apply,
#       deleted by delete; commands: account EMAIL lookup/create/delete).
#   want_grant TARGET MEMBER ROLE MODE ATTEMPTS
#       MEMBER holds ROLE in TARGET's IAM policy (commands: grant TARGET
#       read/add/remove; add and remove get --member and --role appended).
#       MODE owned: the member's roles on TARGET are exactly the wanted
#       ones (others are revoked) and delete revokes them; added: only
#       added, never removed (a member dkgen does not own). ATTEMPTS > 1
#       retries the policy calls while IAM propagates a new account.
#
# A new kind (say a Cloud NAT router) is a few want_*/define_command lines
# in dkgen/render/cluster_script.py and one reconcile_KIND function here,
# called from walk in order.
#
# Every value reaches a command through arrays, never through word
# splitting; stored commands are printf %q words, read back with eval.

# Set by the data (see above).
cluster_name=""
url_field=0
delete_question_suffix=""
project_flag=()
keda_version=""
keda_manifest=""
keda_sha256=""
keda_wanted=0
err_file=/dev/null

declare -A commands=() groups=() pool_role=() pool_nodes=()
fields=()
pools=()
accounts=()
grants=()
changes=0
refused=0
new_cluster=0
new_account=0
pool_replaced=0
live_cluster=""
live_pools=""
live_groups=""

# ---------------------------------------------------------------- the data

define_command() {
  local owner="$1 $2" verb="$3"
  shift 3
  local quoted
  printf -v quoted '%q ' "$@"
  commands[$owner $verb]="$quoted"
  # update:GROUP and clear:GROUP: the resource's groups, in the order given.
  if [[ "$verb" == update:* || "$verb" == clear:* ]] &&
    [[ " ${groups[$owner]:-} " != *" ${verb#*:} "* ]]; then
    groups[$owner]+="${verb#*:} "
  fi
}

want_field() {
  local record
  printf -v record '%q ' "$@"
  fields+=("$record")
}

want_pool() {
  pools+=("$1")
  pool_role[$1]="$2"
  pool_nodes[$1]="$3"
}

want_account() {
  accounts+=("$1")
}

want_grant() {
  local record
  printf -v record '%q ' "$@"
  grants+=("$record")
}

has_command() {
  [[ -n "${commands[$1 $2 $3]+set}" ]]
}

# load_command KIND NAME VERB [WORD...]: the stored command into the array
# "cmd" (the caller's local), WORD... appended.
load_command() {
  local key="$1 $2 $3"
  shift 3
  if [[ -z "${commands[$key]+set}" ]]; then
    note "internal error: no command for $key"
    exit 3
  fi
  eval "cmd=(${commands[$key]})"
  cmd+=("$@")
}

# ---------------------------------------------------------------- running

# Run a command, or under --dry-run print it shell-quoted on one line.
run() {
  if ((dry_run)); then
    local quoted
    printf -v quoted '%q ' "$@"
    printf '%s\n' "${quoted% }"
  else
    "$@"
  fi
}

note() {
  printf 'cluster.sh: %s\n' "$1" >&2
}

# One change apply makes: diff prints it on stdout, apply announces it on stderr.
change() {
  changes=$((changes + 1))
  if [[ "$action" == diff ]]; then
    printf '%s\n' "$1"
  else
    note "$1"
  fi
}

# A request that changes the cloud: apply runs it, diff only counts it.
mutate() {
  if [[ "$action" == diff ]]; then
    return 0
  fi
  run "$@"
}

# run_stored / mutate_stored KIND NAME VERB [WORD...]: the stored command.
run_stored() {
  local cmd=()
  load_command "$@"
  run "${cmd[@]}"
}

mutate_stored() {
  local cmd=()
  load_command "$@"
  mutate "${cmd[@]}"
}

fail_lookup() {
  note "could not read the live state, so nothing was changed after this point: $*"
  note "  (fix the cause above and run it again; every step is re-runnable)"
  exit 1
}

# checked COMMAND…: run a read; print what it prints. gcloud answers some
# partly failed reads (a zone it may not read, say) with a warning on stderr
# and exit 0: any word on stderr fails the read, as a failure does, and is
# shown. A failed read never passes for "nothing there".
checked() {
  local status=0
  "$@" 2>"$err_file" || status=$?
  if ((status)) || [[ -s "$err_file" ]]; then
    cat "$err_file" >&2
    return 1
  fi
}

# exists KIND NAME VERB WANT: whether the stored lookup prints the line WANT.
# Under --dry-run: print the lookup and take it as "not found".
exists() {
  local cmd=() found
  load_command "$1" "$2" "$3"
  if ((dry_run)); then
    run "${cmd[@]}"
    return 1
  fi
  found="$(checked "${cmd[@]}")" || fail_lookup "${cmd[*]}"
  grep -Fxq -- "$4" <<<"$found"
}

# Whether the last command's stderr says what it asked for does not exist.
said_not_found() {
  grep -Eq 'NOT_FOUND|HTTPError 404|[Nn]ot found|does not exist' "$err_file"
}

# retry ATTEMPTS COMMAND…: run it until it succeeds, at most ATTEMPTS times,
# waiting 1, 2, 4 … s, while the failure is IAM not knowing a new account yet
# (NOT_FOUND); any other failure (no permission, no connection) is final.
retry() {
  local attempts="$1" attempt=1 wait=1 status
  shift
  while :; do
    status=0
    "$@" 2>"$err_file" || status=$?
    if ((status == 0)); then
      cat "$err_file" >&2
      return 0
    fi
    if ((attempt >= attempts)) || ! said_not_found; then
      cat "$err_file" >&2
      return "$status"
    fi
    note "retrying in ${wait}s (IAM reaches new accounts slowly): $1 $2 $3 $4"
    sleep "$wait"
    attempt=$((attempt + 1))
    wait=$((wait * 2))
  done
}

# ---------------------------------------------------------------- live state

# The live cluster, its node pools and their instance groups, read once.
read_live() {
  local cmd=()
  if ((dry_run)); then
    run_stored cluster - read
    run_stored pool - read
    run_stored pool - read-sizes
    return
  fi
  load_command cluster - read
  live_cluster="$(checked "${cmd[@]}")" || fail_lookup "${cmd[*]}"
  live_cluster="$(awk -F'|' -v name="$cluster_name" '$1 == name' <<<"$live_cluster")"
  if [[ -n "$live_cluster" ]]; then
    load_command pool - read
    live_pools="$(checked "${cmd[@]}")" || fail_lookup "${cmd[*]}"
    load_command pool - read-sizes
    live_groups="$(checked "${cmd[@]}")" || fail_lookup "${cmd[*]}"
  fi
}

has_cluster() {
  [[ -n "$live_cluster" ]]
}

has_pool() {
  [[ -n "$live_pools" ]] &&
    awk -F'|' -v pool="$1" '$1 == pool {found = 1} END {exit !found}' <<<"$live_pools"
}

# live_field KIND NAME INDEX: one field of the live cluster or node pool.
live_field() {
  if [[ "$1" == cluster ]]; then
    awk -F'|' -v field="$3" '{print $field}' <<<"$live_cluster"
  else
    awk -F'|' -v pool="$2" -v field="$3" '$1 == pool {print $field}' <<<"$live_pools"
  fi
}

# The pool's node counts per zone, distinct, comma-separated (from its instance groups).
pool_sizes() {
  local urls
  urls="$(live_field pool "$1" "$url_field")"
  awk -F'|' -v urls="$urls" '
    BEGIN {
      n = split(urls, u, ";")
      for (i = 1; i <= n; i++) { sub(/.*\//, "", u[i]); mine[u[i]] = 1 }
    }
    ($1 in mine) && !seen[$2]++ { sizes = sizes (sizes == "" ? "" : ",") $2 }
    END { print sizes }' <<<"$live_groups"
}

# ---------------------------------------------------------------- comparing

# normal COMPARE VALUE: the value as compared. GKE answers proto3 JSON, which
# leaves out every field at its default, so a missing value is false, 0 or
# the enum's …UNSPECIFIED; lists (labels as key=value) compare as sets.
normal() {
  case "$1" in
    bool) [[ "$2" == True ]] && echo True || echo "" ;;
    count) echo "${2:-0}" ;;
    enum) [[ "$2" == *UNSPECIFIED ]] && echo "" || printf '%s\n' "$2" ;;
    list) tr ';' '\n' <<<"$2" | LC_ALL=C sort -u | paste -sd';' - ;;
    *) printf '%s\n' "$2" ;;
  esac
}

# How a value reads in a change line.
shown() {
  if [[ "$2" == bool ]]; then
    [[ "$1" == True ]] && echo on || echo off
  else
    echo "${1:-none}"
  fi
}

# field_differs COMPARE LIVE WANT
field_differs() {
  if [[ "$1" == contains ]]; then
    [[ ";$2;" != *";$3;"* ]]
  else
    [[ "$(normal "$1" "$2")" != "$(normal "$1" "$3")" ]]
  fi
}

# group_differs KIND NAME GROUP HOW: announce each field of GROUP that differs
# ("… (HOW)"); succeed when one did. Under --dry-run every group differs.
group_differs() {
  local kind="$1" name="$2" group="$3" how="$4" record found=1 live want noun rec=()
  if ((dry_run)); then
    return 0
  fi
  noun="node pool $name"
  if [[ "$kind" == cluster ]]; then
    noun="cluster $cluster_name"
  fi
  for record in "${fields[@]}"; do
    eval "rec=($record)"
    if [[ "${rec[0]}" != "$kind" || "${rec[1]}" != "$name" || "${rec[2]}" != "$group" ]]; then
      continue
    fi
    local compare="${rec[4]}"
    live="$(live_field "$kind" "$name" "${rec[3]}")" want="${rec[6]}"
    if field_differs "$compare" "$live" "$want"; then
      # Lists show sorted; other values as GKE sent them (none: left out).
      if [[ "$compare" == list ]]; then
        live="$(normal list "$live")" want="$(normal list "$want")"
      fi
      change "$noun: ${rec[5]} $(shown "$live" "$compare") -> $(shown "$want" "$compare") ($how)"
      found=0
    fi
  done
  return "$found"
}

# first_field KIND NAME GROUP: the group's first field record.
first_field() {
  local record rec=()
  for record in "${fields[@]}"; do
    eval "rec=($record)"
    if [[ "${rec[0]} ${rec[1]} ${rec[2]}" == "$1 $2 $3" ]]; then
      printf '%s\n' "$record"
      return
    fi
  done
}

# update_groups KIND NAME: run each group's update command when one of its
# fields differs. A group with a clear:GROUP command and nothing wanted
# clears what is there instead (gcloud's --remove-labels takes the keys).
update_groups() {
  local kind="$1" name="$2" group record live keys rec=()
  for group in ${groups[$kind $name]:-}; do
    if [[ "$group" == replace ]] || ! group_differs "$kind" "$name" "$group" 'in place'; then
      continue
    fi
    if ! has_command "$kind" "$name" "clear:$group"; then
      mutate_stored "$kind" "$name" "update:$group"
      continue
    fi
    record="$(first_field "$kind" "$name" "$group")"
    eval "rec=($record)"
    if [[ -n "${rec[6]}" ]]; then
      mutate_stored "$kind" "$name" "update:$group"
    elif ((dry_run)); then
      mutate_stored "$kind" "$name" "clear:$group" KEY
    else
      live="$(live_field "$kind" "$name" "${rec[3]}")"
      keys="$(tr ';' '\n' <<<"$live" | cut -d= -f1 | paste -sd, -)"
      mutate_stored "$kind" "$name" "clear:$group" "$keys"
    fi
  done
}

# ---------------------------------------------------------------- questions

# confirm QUESTION: yes from --yes, or from the terminal (never from stdin,
# which may carry data). With no terminal, stop and say what needed asking.
confirm() {
  if ((assume_yes || dry_run)) || [[ "$action" == diff ]]; then
    return 0
  fi
  local answer=""
  if ! { : </dev/tty; } 2>/dev/null; then
    note "no terminal to ask: $1"
    note "  run it from a terminal to answer, or add --yes to confirm"
    exit 1
  fi
  read -r -p "$1 [y/N] " answer </dev/tty || answer=""
  [[ "$answer" == [yY] ]]
}

# ---------------------------------------------------------------- cluster

reconcile_cluster() {
  if ! has_cluster; then
    change "cluster $cluster_name: create"
    mutate_stored cluster - create
    new_cluster=1
    if [[ "$action" == apply ]] && ! ((dry_run)); then
      read_live
    fi
  fi
  if has_cluster || ((dry_run)); then
    update_groups cluster -
  fi
}

# ---------------------------------------------------------------- node pools

reconcile_pool() {
  local pool="$1"
  # GKE creates the core pool with the cluster.
  if ! has_pool "$pool" && ! { [[ "${pool_role[$pool]}" == core ]] && ((new_cluster)); }; then
    change "node pool $pool: create"
    mutate_stored pool "$pool" create
  fi
  if ! has_pool "$pool" && ! ((dry_run)); then
    return 0
  fi
  pool_replaced=0
  if group_differs pool "$pool" replace replace; then
    replace_pool "$pool"
  fi
  # A replaced pool is new; under --dry-run every command is shown.
  if ((pool_replaced)) && ! ((dry_run)); then
    return 0
  fi
  update_groups pool "$pool"
  # A fixed-size pool holds NODES per zone; an autoscaled one is the autoscaler's.
  if [[ -n "${pool_nodes[$pool]}" ]] && size_differs "$pool" "${pool_nodes[$pool]}"; then
    mutate_stored pool "$pool" resize
  fi
}

size_differs() {
  if ((dry_run)); then
    return 0
  fi
  local live
  live="$(pool_sizes "$1")"
  if [[ "$live" == "$2" ]]; then
    return 1
  fi
  change "node pool $1: nodes per zone ${live:-none} -> $2 (in place)"
}

# GKE cannot change the replace group's fields in place: replace the pool, or refuse.
replace_pool() {
  pool_replaced=1
  if ((replace || dry_run)) || [[ "$action" == diff ]]; then
    mutate_stored pool "$1" delete
    mutate_stored pool "$1" create
    return
  fi
  note "node pool $1: GKE cannot change the above in place. To replace the pool (its nodes"
  note "  and the pods on them go away, then come back on new nodes), run"
  note "  ./cluster.sh apply --replace, or by hand: ${commands[pool $1 delete]}&& ${commands[pool $1 create]% }"
  refused=1
}

# Node pools the settings no longer have (the command gets the pool's name).
delete_other_pools() {
  local pool cmd=()
  if ((dry_run)); then
    load_command pool - delete-other NAME
    note "then each node pool the settings do not name: ${cmd[*]}"
    return
  fi
  while IFS='|' read -r pool _; do
    if [[ -z "$pool" || -n "${pool_role[$pool]+set}" ]]; then
      continue
    fi
    change "node pool $pool: delete"
    if [[ "$action" == diff ]]; then
      continue
    fi
    if confirm "Delete node pool $pool and the pods on it?"; then
      run_stored pool - delete-other "$pool"
    else
      note "node pool $pool kept"
      refused=1
    fi
  done <<<"$live_pools"
}

reconcile_pools() {
  local pool
  for pool in "${pools[@]}"; do
    reconcile_pool "$pool"
  done
  delete_other_pools
}

# ---------------------------------------------------------------- IAM

reconcile_accounts() {
  local email
  for email in "${accounts[@]}"; do
    if ! exists account "$email" lookup "$email"; then
      change "service account $email: create"
      mutate_stored account "$email" create
      new_account=1
    fi
  done
}

# read_policy TARGET ATTEMPTS [gone-is-empty]: the policy's "ROLE|MEMBER"
# lines into "policy". With gone-is-empty (delete), a target that no longer
# exists holds nothing; any other failure (a 403) stops the run.
read_policy() {
  local cmd=()
  load_command grant "$1" read
  if ((dry_run)); then
    run "${cmd[@]}"
    policy=""
    return
  fi
  # diff cannot read the policy of an account it has not created.
  if [[ "$action" == diff && "$1" == "service account "* ]] && ((new_account && $2 > 1)); then
    policy=""
    return
  fi
  if policy="$(retry "$2" "${cmd[@]}" 2>"$err_file.read")"; then
    return
  fi
  mv "$err_file.read" "$err_file"
  if [[ "${3:-}" == gone-is-empty ]] && said_not_found; then
    note "$1 does not exist; nothing of ours to remove there"
    policy=""
    return
  fi
  cat "$err_file" >&2
  fail_lookup "${cmd[*]}"
}

# mutate_grant TARGET VERB MEMBER ROLE ATTEMPTS
mutate_grant() {
  local cmd=()
  load_command grant "$1" "$2" --member "$3" --role "$4"
  if ((dry_run)) || [[ "$action" == diff ]]; then
    mutate "${cmd[@]}"
  else
    retry "$5" "${cmd[@]}"
  fi
}

# grant_in WHICH TARGET: whether reconcile_grants WHICH takes TARGET's grants.
# The project's (the nodes' roles) come before the cluster, whose nodes need
# them; the others after it (Workload Identity's pool exists only then).
grant_in() {
  case "$1" in
    project) [[ "$2" == "project "* ]] ;;
    other) [[ "$2" != "project "* ]] ;;
    *) return 0 ;;
  esac
}

# reconcile_grants [project|other]: each (TARGET, MEMBER): add the wanted roles
# it lacks; when dkgen owns the member's roles there, revoke the others (a
# lowered or removed grant).
reconcile_grants() {
  local which="${1:-all}" record done_pairs=" " target member mode attempts policy role other \
    rec=() wanted=()
  for record in "${grants[@]}"; do
    eval "rec=($record)"
    target="${rec[0]}" member="${rec[1]}" mode="${rec[3]}" attempts="${rec[4]}"
    if ! grant_in "$which" "$target" || [[ "$done_pairs" == *" $target|$member "* ]]; then
      continue
    fi
    done_pairs+="$target|$member "
    wanted=()
    for other in "${grants[@]}"; do
      eval "rec=($other)"
      if [[ "${rec[0]}|${rec[1]}" == "$target|$member" ]]; then
        wanted+=("${rec[2]}")
      fi
    done
    read_policy "$target" "$attempts"
    for role in "${wanted[@]}"; do
      if ! grep -Fxq -- "$role|$member" <<<"$policy"; then
        change "$target: grant $role to $member"
        mutate_grant "$target" add "$member" "$role" "$attempts"
      fi
    done
    if [[ "$mode" != owned ]]; then
      continue
    fi
    while IFS='|' read -r role other; do
      if [[ "$other" != "$member" || " ${wanted[*]} " == *" $role "* ]]; then
        continue
      fi
      change "$target: revoke $role from $member"
      mutate_grant "$target" remove "$member" "$role" "$attempts"
    done <<<"$policy"
  done
}

# Every grant dkgen owns goes, then the accounts it made.
delete_grants_and_accounts() {
  local record target member policy role other done_pairs=" " email rec=()
  for record in "${grants[@]}"; do
    eval "rec=($record)"
    target="${rec[0]}" member="${rec[1]}"
    if [[ "${rec[3]}" != owned || "$done_pairs" == *" $target|$member "* ]]; then
      continue
    fi
    done_pairs+="$target|$member "
    read_policy "$target" 1 gone-is-empty
    if ((dry_run)); then
      run_stored grant "$target" remove --member "$member" --role ROLE
      continue
    fi
    while IFS='|' read -r role other; do
      if [[ "$other" == "$member" ]]; then
        run_stored grant "$target" remove --member "$member" --role "$role"
      fi
    done <<<"$policy"
  done
  for email in "${accounts[@]}"; do
    if exists account "$email" lookup "$email" || ((dry_run)); then
      run_stored account "$email" delete
    fi
  done
}

# ---------------------------------------------------------------- Kubernetes

credentials() {
  run_stored cluster - credentials
}

# Ingresses and Services of type LoadBalancer, in every namespace, own cloud
# forwarding rules; their finalizers hold the delete until the rules are gone.
delete_load_balancers() {
  run kubectl delete ingress --all-namespaces --all --wait=true || return 1
  if ((dry_run)); then
    note "then each Service of type LoadBalancer: kubectl delete service --namespace NS NAME"
    return
  fi
  local jsonpath namespace service
  jsonpath='{range .items[?(@.spec.type=="LoadBalancer")]}'
  jsonpath+='{.metadata.namespace} {.metadata.name}{"\n"}{end}'
  local services
  services="$(kubectl get services --all-namespaces -o "jsonpath=$jsonpath")" || return 1
  while read -r namespace service; do
    if [[ -n "$service" ]]; then
      run kubectl delete service --namespace "$namespace" "$service" --wait=true || return 1
    fi
  done <<<"$services"
}

# KEDA, the engine of adaptive worker groups, when the settings have one:
# installed when missing or at another version than keda_version (read from
# the image tag of its operator Deployment), from the release manifest
# fetched to a temporary file and checked against keda_sha256 first: the
# settings' keda.manifest_sha256, else the digest dkgen pins; with neither,
# apply installs nothing and prints the digest of what it fetched, to review.
keda_installed_version() {
  local cmd=()
  load_command keda - read
  if ((dry_run)); then
    run "${cmd[@]}"
    return 0
  fi
  checked "${cmd[@]}" || fail_lookup "${cmd[*]}"
}

reconcile_keda() {
  if ! has_command keda - install; then
    return 0
  fi
  local live=""
  # diff and apply read what the cluster runs; a cluster not there yet runs nothing.
  if has_cluster && ! ((dry_run)); then
    credentials >/dev/null
    live="$(keda_installed_version)"
  elif ((dry_run)); then
    keda_installed_version
  fi
  # The operator's image tag is the release it runs (ghcr.io/kedacore/keda:2.20.2).
  if [[ -n "$live" ]]; then
    live="${live##*:}"
  fi
  if [[ "$live" == "$keda_version" ]] && ! ((dry_run)); then
    return 0
  fi
  change "KEDA: ${live:-not installed} -> $keda_version (install)"
  keda_wanted=1
  # apply says it when it gets there (install_keda), with the digest it fetched.
  if [[ -z "$keda_sha256" && "$action" == diff ]]; then
    note "apply will refuse to install KEDA until keda.manifest_sha256 is set"
    note "  (the sha256 of $keda_manifest, reviewed; README \"Adaptive scaling\")"
  fi
}

install_keda() {
  if ! ((keda_wanted)); then
    return 0
  fi
  local manifest=KEDA-MANIFEST-FILE
  if ! ((dry_run)); then
    manifest="$(mktemp)"
  fi
  run_stored keda - fetch "$manifest"
  if ! ((dry_run)); then
    # The file checked is the file applied: it is never fetched twice.
    local got
    got="$(sha256sum <"$manifest")"
    got="${got%% *}"
    if [[ -z "$keda_sha256" ]]; then
      rm -f "$manifest"
      note "KEDA not installed: keda.manifest_sha256 is not set, and apply installs"
      note "  nothing it cannot check. Review what it fetched:"
      note "    $keda_manifest"
      note "  and, once you trust it, pin its sha256 in the settings, build and apply again:"
      note "    keda: {manifest_sha256: \"$got\"}"
      exit 1
    fi
    if [[ "$got" != "$keda_sha256" ]]; then
      rm -f "$manifest"
      note "KEDA not installed: $keda_manifest has sha256 $got,"
      note "  not $keda_sha256 (keda.manifest_sha256, else the digest dkgen pins)."
      note "  Review the file; pin the new digest only if you trust what changed."
      exit 1
    fi
  fi
  run_stored keda - install "$manifest"
  rm -f "$manifest"
  run_stored keda - wait
}

# ---------------------------------------------------------------- actions

# apply and diff share this walk; mutate and change know which one runs.
walk() {
  read_live
  # Before the cluster: the egress its private nodes pull images through, the
  # accounts (GKE refuses nodes whose account does not exist) and their roles.
  reconcile_egress
  reconcile_accounts
  reconcile_grants project
  reconcile_cluster
  reconcile_pools
  reconcile_grants other
  reconcile_keda
}

apply() {
  walk
  if ((refused)); then
    note "not everything was applied (see above); the rest is done"
    exit 1
  fi
  if ((changes == 0)); then
    note "cluster $cluster_name matches the settings; nothing to change"
  fi
  credentials
  install_keda
}

diff() {
  walk
  if ((exit_code && changes)); then
    exit 1
  fi
}

status() {
  run_stored cluster - status
  run_stored pool - list
}

delete() {
  if ! confirm "Delete GKE cluster $cluster_name and everything on it$delete_question_suffix?"; then
    note "not deleted"
    exit 1
  fi
  read_live
  if has_cluster || ((dry_run)); then
    if ! { credentials && delete_load_balancers; }; then
      note "the cluster's Kubernetes API did not answer: its Ingresses and LoadBalancer"
      note "  Services were not deleted, and the forwarding rules GKE made for them may be"
      note "  left (and billed) once the cluster is gone. Find them with:"
      note "  gcloud compute forwarding-rules list ${project_flag[*]} --filter=description~kubernetes.io/service-name"
      note "  and delete each with: gcloud compute forwarding-rules delete NAME --region REGION"
      note "deleting the cluster anyway"
    fi
  fi
  if has_cluster || ((dry_run)); then
    run_stored cluster - delete
  else
    note "cluster $cluster_name does not exist"
  fi
  # After the cluster: its nodes run as their account and reach out through
  # the NAT until they are gone.
  delete_egress
  delete_grants_and_accounts
}

main() {
  dry_run=0 assume_yes=0 replace=0 exit_code=0 action=""
  local arg
  for arg in "$@"; do
    case "$arg" in
      apply | create) action=apply ;;
      diff | credentials | status | delete) action="$arg" ;;
      --dry-run) dry_run=1 ;;
      --yes) assume_yes=1 ;;
      --replace) replace=1 ;;
      --exit-code) exit_code=1 ;;
      -h | --help)
        usage
        exit 0
        ;;
      *)
        echo "cluster.sh: unknown argument: $arg" >&2
        exit 2
        ;;
    esac
  done
  if [[ -z "$action" ]]; then
    usage >&2
    exit 2
  fi
  # A dry run reads nothing, so it needs no file for what reads say (and runs
  # with no tool on PATH at all).
  if ! ((dry_run)); then
    err_file="$(mktemp)"
    trap 'rm -f "$err_file" "$err_file.read"' EXIT
  fi
  wanted_state
  "$action"
}
# ---------------------------------------------------------------- end of runtime
