# shellcheck disable=SC2154 # assigned by name: ns by vk_setup (common.bash), tmp by tmp_dir (lib.sh)
# Helpers for the hot-reload tests (sourced after common.bash).
# shellcheck shell=bash

# A copy of recorder.lua in $tmp/prov that the test edits, and its config.
reload_setup() {
	mkdir -p "$tmp/prov"
	cp "$VK_ROOT/tests/e2e/vk/providers/recorder.lua" "$tmp/prov/recorder.lua"
	prov=$tmp/prov/recorder.lua
	printf 'record: %s\n' "$tmp/calls.jsonl" >"$tmp/config.yaml"
}

# Sets the Ready message of the copy, saving like most editors do (a
# temporary file renamed over the original) or in place with "inplace".
set_message() { # MESSAGE [inplace]
	if [[ ${2:-} == inplace ]]; then
		local text
		text=$(sed "s/^local MESSAGE = .*/local MESSAGE = \"$1\"/" "$prov")
		printf '%s\n' "$text" >"$prov"
	else
		sed -i "s/^local MESSAGE = .*/local MESSAGE = \"$1\"/" "$prov"
	fi
}

# The Events of the Node with REASON, as "reason|message" lines.
node_events() { # NODE REASON
	k -n default get events --field-selector "involvedObject.name=$1,reason=$2" \
		-o jsonpath='{range .items[*]}{.reason}{"|"}{.message}{"\n"}{end}' 2>/dev/null
}
node_event_count() { node_events "$@" | grep -c . || true; }

# How many callbacks named CALL the recorder saw (optionally for pod KEY).
calls() { # CALL [NS/NAME]
	local pat="\"call\":\"$1\""
	[[ -n ${2:-} ]] && pat="$pat.*\"key\":\"$2\""
	grep -c "$pat" "$tmp/calls.jsonl" 2>/dev/null || true
}

# The Ready condition's message of every pod in $ns, one per line.
ready_messages() {
	k -n "$ns" get pods -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].message}{"\n"}{end}'
}
all_messages_are() { # MESSAGE COUNT
	[[ $(ready_messages | grep -cx "$1") == "$2" ]]
}
reloads_logged() { grep -c 'provider .* reloaded: code' "$tmp/$1.log" || true; }
reload_failures_logged() { grep -c 'provider reload failed' "$tmp/$1.log" || true; }
