#!/usr/bin/env bash
# Checks the binary's stage order (docs/design.md): each room of src/ (a folder, or a
# file at its top) may name only rooms of earlier layers, and never a room of its own
# layer. Layers, earliest first:
#
#   1  source kernel       frames in; the kernel programs' loader
#   2  state               flows, owners, containers
#   3  signatures encode   detections; formatting (neither names the other)
#   4  pipeline            the per-frame path and the ports it hands to
#   5  sink                outputs and packet taps, implementing the ports
#   6  cli                 the flags
#   7  plan                the run the flags ask for, decided once
#   8  run                 the topology (the only room that makes decoding threads) and drivers
#   9  main                the entry point
#
# A name counts wherever `crate::ROOM` appears outside a comment, in `use` lines and in
# paths alike. Exits 1 naming each arrow that points to a later layer or sideways.
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A layer=(
    [source]=1 [kernel]=1 [state]=2 [signatures]=3 [encode]=3
    [pipeline]=4 [sink]=5 [cli]=6 [plan]=7 [run]=8 [main]=9
)

room_of() {
    local path=${1#src/}
    path=${path%%/*}
    echo "${path%.rs}"
}

found=()
while IFS= read -r hit; do
    file=${hit%%:*}
    from=$(room_of "$file")
    for to in $(sed -E 's://.*$::' <<<"${hit#*:}" | grep -oE 'crate::[a-z_]+' | sed 's/crate:://' | sort -u); do
        [ "$to" = "$from" ] && continue
        if [ -z "${layer[$from]:-}" ] || [ -z "${layer[$to]:-}" ]; then
            echo "check-layers: $file names crate::$to; give both rooms a layer in $0" >&2
            exit 1
        fi
        if [ "${layer[$to]}" -ge "${layer[$from]}" ]; then
            found+=("$from -> $to|$file")
        fi
    done
done < <(grep -rn --include='*.rs' 'crate::' src | grep -vE '^[^:]+:[0-9]+:\s*//' | sed -E 's/^([^:]+):[0-9]+:/\1:/')

status=0
arrows=$(printf '%s\n' "${found[@]+"${found[@]}"}" | cut -d'|' -f1 | sort -u | sed '/^$/d')
while IFS= read -r arrow; do
    [ -z "$arrow" ] && continue
    files=$(printf '%s\n' "${found[@]}" | grep -F "$arrow|" | cut -d'|' -f2 | sort -u | tr '\n' ' ')
    echo "check-layers: $arrow points to a later layer or sideways: ${files}" >&2
    status=1
done <<<"$arrows"
[ "$status" -eq 0 ] && echo "check-layers: every arrow points to an earlier layer"
exit "$status"
