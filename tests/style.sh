#!/usr/bin/env bash
# The tree's style checks as TAP, one test per file: tests/run.sh style runs
# each tool as a step of its own and counts a misformatted file as a failed
# test.
#
#   tests/style.sh clang-format   every C file against .clang-format
#   tests/style.sh shellcheck     scripts/, tests/**/*.sh and *.bash, .ci/run (2 at a
#                                 time: VK_STYLE_JOBS)
#   tests/style.sh luacheck       providers/, lua/, tests/ against .luacheckrc (vk's fields from
#                                 the stubs); no tabs
#
# To fix a C file: clang-format -i FILE.  Shell findings that are wrong for
# one line get `# shellcheck disable=SCxxxx # why` on that line; the few that
# are wrong everywhere are listed in .shellcheckrc with their reason.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1

# Runs CMD over the FILEs and prints one TAP line per file, with the tool's
# first lines of complaint as diagnostics.  The tool names the file at the
# start of each complaint ("FILE:LINE:COL: ..."): the files go to it ten at
# a time, VK_STYLE_JOBS (default 2) runs at once, and its lines are sorted
# back to their files.  A run that failed without naming a file fails
# every file it was given.
tap_batched() { # TOOL CMD... -- FILE...
	local tool=$1 cmd=() f out i=0 dir
	shift
	while [[ $1 != -- ]]; do cmd+=("$1"); shift; done
	shift
	dir=$(mktemp -d)
	# shellcheck disable=SC2016 # $0, $@ and $? are the inner shell's
	printf '%s\0' "$@" | xargs -0 -n 10 -P "${VK_STYLE_JOBS:-2}" sh -c '
		out=$(mktemp "$0/run.XXXXXX") n=$1 i=0
		shift
		for a in "$@"; do i=$((i + 1)); [ "$i" -gt "$n" ] && printf "%s\n" "$a"; done >"$out.files"
		"$@" >"$out.txt" 2>&1
		echo "$?" >"$out"' "$dir" "${#cmd[@]}" "${cmd[@]}"
	echo "1..$#"
	for f in "$@"; do
		i=$((i + 1))
		out=$(cat "$dir"/run.*.txt | awk -v f="$f:" 'index($0, f) == 1')
		if [[ -z $out ]] && ! tap_batch_failed "$dir" "$f" >/dev/null; then
			echo "ok $i - $tool $f"
		else
			echo "not ok $i - $tool $f"
			[[ -n $out ]] || out=$(tap_batch_failed "$dir" "$f")
			sed -n '1,12s/^/# /p' <<<"$out"
		fi
	done
	rm -rf "$dir"
}

# True (and prints the run's output) when FILE went to a run that exited
# with an error although it named no file in its output: a crash.
tap_batch_failed() { # DIR FILE
	local r
	for r in "$1"/run.??????; do
		[[ $(cat "$r") != 0 ]] || continue
		grep -qE '^[^ :]+:[0-9]+:[0-9]+: ' "$r.txt" && continue
		grep -qxF "$2" "$r.files" 2>/dev/null || continue
		cat "$r.txt"
		return 0
	done
	return 1
}

need() { # TOOL PACKAGE
	command -v "$1" >/dev/null && return 0
	echo "1..1"
	echo "not ok 1 - $1 is not installed (Debian package $2; scripts/install-deps.sh installs it)"
	exit 1
}

case ${1:-} in
clang-format)
	need clang-format clang-format
	mapfile -t files < <(find src include tests -name '*.[ch]' -type f | sort)
	tap_batched clang-format clang-format --dry-run --Werror --style=file -- "${files[@]}"
	;;
shellcheck)
	need shellcheck shellcheck
	mapfile -t files < <({ find scripts tests -type f \( -name '*.sh' -o -name '*.bash' \); echo .ci/run; } | sort)
	tap_batched shellcheck shellcheck --format=gcc -- "${files[@]}"
	;;
luacheck)
	# luacheck with vk's globals (.luacheckrc) over providers/, lua/ and
	# tests/, and one indentation: two spaces, no tabs.
	need luacheck lua-check
	echo "1..3"
	if out=$(luacheck --formatter plain --codes providers lua tests 2>&1); then
		echo "ok 1 - luacheck: providers/, lua/ and tests/ are clean"
	else
		echo "not ok 1 - luacheck: providers/, lua/ and tests/ are clean"
		printf '# %s\n' "${out//$'\n'/$'\n'# }"
	fi
	out=$(git ls-files -co --exclude-standard '*.lua' | xargs grep -nP '^ *\t' 2>/dev/null)
	if [[ -z $out ]]; then
		echo "ok 2 - Lua files are indented with spaces, not tabs"
	else
		echo "not ok 2 - Lua files are indented with spaces, not tabs"
		printf '# %s\n' "${out//$'\n'/$'\n'# }"
	fi
	# .luacheckrc gives vk the fields of the editor stubs: a misspelt one is caught.
	out=$(printf 'local function f() return vk.timer.slep end\nreturn f\n' | luacheck --formatter plain --codes - 2>&1)
	if grep -q "W143.*'timer.slep' of global 'vk'" <<<"$out"; then
		echo "ok 3 - luacheck knows vk's fields from lua/vk*.d.lua (vk.timer.slep is a warning)"
	else
		echo "not ok 3 - luacheck knows vk's fields from lua/vk*.d.lua (vk.timer.slep is a warning)"
		printf '# %s\n' "${out//$'\n'/$'\n'# }"
	fi
	;;
*)
	echo "usage: $0 clang-format|shellcheck|luacheck" >&2
	exit 2
	;;
esac
