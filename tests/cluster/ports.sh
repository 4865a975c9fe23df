# free_port_to VAR: a TCP port on 127.0.0.1 that nothing listens on, into
# VAR.  Below the kernel's ephemeral range, so that an outgoing connection
# cannot take it before the caller's server binds it, and never one this
# shell picked before: the picks are kept in this shell, so call it as a
# command, not in $(...), whose picks would be lost with the subshell.
# Sourced by common.sh (the cluster's scripts) and tests/e2e/lib.sh.
# shellcheck shell=bash
picked_ports=${picked_ports:-" "} # kept if sourced twice
free_port_to() { # VAR (its locals are named so that VAR can be any name)
	local _fpt_port _fpt_tries=0
	while ((_fpt_tries++ < 200)); do
		_fpt_port=$((20000 + RANDOM % 12000))
		[[ $picked_ports != *" $_fpt_port "* ]] || continue
		[[ -z $(ss -Htan "sport = :$_fpt_port" 2>/dev/null) ]] || continue
		picked_ports+="$_fpt_port "
		printf -v "$1" '%s' "$_fpt_port"
		return 0
	done
	echo "free_port_to: no free port on 127.0.0.1 in 200 tries" >&2
	return 1
}
