# shellcheck shell=bash
# Sourced by the benchmark scripts: the binaries they run, built once.
#
#   bench_vk                    VK_BIN, unless set: a release build of vk in
#                               build-bench/, as the Debian package builds it
#                               (-O2, scripts/build-curl.sh's libcurl;
#                               benchmarks never use the sanitizer build)
#   bench_gobuild DIR OUT PKG [LDFLAGS]
#                               go build PKG in DIR to OUT, unless OUT exists
#   bench_tool NAME             the path of tests/bench/NAME (loadgen, tunedvk,
#                               churn), built under the cache by a hash of its
#                               source and go.sum
#
# Needs VK_ROOT (e2e/lib.sh) and a say function; progress goes to stderr.
bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bench_cache=${XDG_CACHE_HOME:-$HOME/.cache}/vk/bench

bench_vk() {
	[[ -z ${VK_BIN:-} ]] || return 0
	local curl_dir
	curl_dir=$("$VK_ROOT/scripts/build-curl.sh")
	if [[ ! -f $VK_ROOT/build-bench/build.ninja ]]; then
		meson setup "$VK_ROOT/build-bench" "$VK_ROOT" -Dbuildtype=release -Doptimization=2 -Dsanitize=false -Dcurl_dir="$curl_dir" >&2
	else
		meson setup --reconfigure "$VK_ROOT/build-bench" -Dbuildtype=release -Doptimization=2 -Dcurl_dir="$curl_dir" >&2
	fi
	meson compile -C "$VK_ROOT/build-bench" -j2 vk >&2
	VK_BIN=$VK_ROOT/build-bench/vk
}

bench_gobuild() { # DIR OUT PKG [LDFLAGS]
	[[ -x $2 ]] && return 0
	say "building $3 (first run only; minutes on 2 cores)"
	mkdir -p "$(dirname "$2")"
	(cd "$1" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w ${4:-}" -o "$2.tmp" "$3") >&2
	mv "$2.tmp" "$2"
}

bench_tool() { # NAME: prints its path
	local hash out
	hash=$(cat "$bench_dir/$1/"*.go "$bench_dir/go.sum" | sha256sum | cut -c1-12)
	out=$bench_cache/$1-$hash/$1
	bench_gobuild "$bench_dir" "$out" "./$1"
	echo "$out"
}
