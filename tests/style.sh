#!/usr/bin/env bash
# The tree's style checks as TAP, one test per file: tests/run.sh style runs
# each tool as a step of its own and counts a misformatted file as a failed
# test.
#
#   tests/style.sh clang-format   every C file against .clang-format
#   tests/style.sh shellcheck     scripts/, tests/**/*.sh and *.bash, .ci/run
#   tests/style.sh luacheck       providers/, lua/, tests/ against .luacheckrc (vk's fields from
#                                 the stubs); no tabs
#
# To fix a C file: clang-format -i FILE.  Shell findings that are wrong for
# one line get `# shellcheck disable=SCxxxx # why` on that line; the few that
# are wrong everywhere are listed in .shellcheckrc with their reason.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1

# Runs CMD FILE for each FILE and prints one TAP line per file, with the
# tool's first lines of complaint as diagnostics.
tap_each() { # TOOL CMD... -- FILE...
	local tool=$1 cmd=() f out i=0
	shift
	while [[ $1 != -- ]]; do cmd+=("$1"); shift; done
	shift
	echo "1..$#"
	for f in "$@"; do
		i=$((i + 1))
		if out=$("${cmd[@]}" "$f" 2>&1) && [[ -z $out ]]; then
			echo "ok $i - $tool $f"
		else
			echo "not ok $i - $tool $f"
			sed -n '1,12s/^/# /p' <<<"$out"
		fi
	done
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
	tap_each clang-format clang-format --dry-run --Werror --style=file -- "${files[@]}"
	;;
shellcheck)
	need shellcheck shellcheck
	mapfile -t files < <({ find scripts tests -type f \( -name '*.sh' -o -name '*.bash' \); echo .ci/run; } | sort)
	tap_each shellcheck shellcheck --format=gcc -- "${files[@]}"
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
