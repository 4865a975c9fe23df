#!/usr/bin/env bash
# Builds the libcurl vk links by default: Debian's own curl source, of the
# version the installed libcurl4-openssl-dev was built from (Debian's
# patches applied, Debian's compiler flags), configured for what vk uses and
# nothing else: HTTP and HTTPS (OpenSSL), HTTP/2 (nghttp2), unix sockets,
# proxies, gzip (zlib), the threaded resolver.  Prints the prefix to pass to
# meson:
#
#   meson setup build -Dcurl_dir="$(scripts/build-curl.sh)"
#
# Why: Debian's libcurl.so also loads what vk never speaks (LDAP, Kerberos,
# RTMP, SSH, GnuTLS, p11-kit, IDN, PSL, brotli, zstd: 26 more shared
# libraries), which costs each vk process about 3 MiB of memory and runs
# their set-up code at start.  docs/design.md ("Libraries, and vk's own
# libcurl") has the figures and what this means for security updates.
#
# The result is cached under ${XDG_CACHE_HOME:-~/.cache}/vk/curl/VERSION-HASH/
# (HASH: of this script) and built once per Debian version (about 30 s on 2
# cores): when Debian ships a curl update, or this recipe changes, the next
# build of vk builds it again.  PREFIX/VERSION names the source ("curl
# VERSION").  Needs the packages of scripts/install-deps.sh --build and
# network access to the Debian archive the package came from, once.
set -euo pipefail
say() { echo "[curl] $*" >&2; }
die() { say "$*"; exit 1; }

pkg=libcurl4-openssl-dev
ver=$(dpkg-query -W -f='${source:Version}' "$pkg" 2>/dev/null) ||
	die "$pkg is not installed (scripts/install-deps.sh --build installs it)"
src=$(dpkg-query -W -f='${source:Package}' "$pkg")
cache=${XDG_CACHE_HOME:-$HOME/.cache}/vk/curl
dir=$cache/$ver-$(sha256sum "$0" | cut -c1-8)
prefix=$dir/prefix
if [[ -f $prefix/.complete ]]; then
	echo "$prefix"
	exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9 # another build of vk may be building it right now
if [[ -f $prefix/.complete ]]; then
	echo "$prefix"
	exit 0
fi
for tool in apt-get dpkg-source dpkg-buildflags make; do
	command -v "$tool" >/dev/null || die "$tool is missing (scripts/install-deps.sh --build installs it)"
done

rm -rf "$dir"
mkdir -p "$dir/apt/lists/partial" "$dir/src"
log=$dir/build.log
: >"$log"
trap 'say "failed: see $log"' ERR

# The archive that holds the installed version, from apt's own policy
# lines ("500 URI SUITE/COMPONENT arch Packages") under the installed
# version, as deb-src lines in a list of vk's own: the machine's apt
# configuration is left as it is.
archives() {
	apt-cache policy "$pkg" | awk -v v="$ver" '
		$1 == "***" { on = ($2 == v); next }
		NF == 2 && $2 ~ /^-?[0-9]+$/ { on = ($1 == v); next }
		on && $2 ~ /^https?:/ { split($3, sc, "/"); print "deb-src", $2, sc[1], sc[2] }
	' | sort -u >"$dir/apt/sources.list"
	[[ -s $dir/apt/sources.list ]]
}
if ! archives; then # apt's lists were cleaned after the install (as in many images)
	sudo=""
	[[ $(id -u) -eq 0 ]] || sudo=sudo
	$sudo apt-get update -qq >>"$log" 2>&1 || true
	archives || die "no archive apt knows offers $src $ver (apt-cache policy $pkg): upgrade $pkg, or run scripts/install-deps.sh"
fi
apt_o=(-o "Dir::Etc::SourceList=$dir/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
	-o "Dir::State::Lists=$dir/apt/lists" -o Debug::NoLocking=1)
say "fetching Debian's $src $ver source ($(awk '{ print $2, $3 }' "$dir/apt/sources.list" | paste -sd,))"
apt-get "${apt_o[@]}" update >>"$log" 2>&1
(cd "$dir/src" && apt-get "${apt_o[@]}" source --download-only "$src=$ver") >>"$log" 2>&1
dsc=$(ls "$dir"/src/*.dsc)
dpkg-source --no-check -x "$dsc" "$dir/src/tree" >>"$log" 2>&1

say "building libcurl $ver for vk (HTTP, HTTPS, HTTP/2 only)"
cd "$dir/src/tree"
eval "$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --export=sh)"
# A section per function, so that vk's link (--gc-sections) keeps only what
# it calls: 134 KB less text.  A socket hash of 97 buckets, not 911: vk's one
# multi handle holds a few connections (HTTP/2 carries the watches), and
# the 911 empty lists were 28 KiB of heap.
CFLAGS+=" -ffunction-sections -fdata-sections"
CPPFLAGS+=" -DCURL_SOCKET_HASH_TABLE_SIZE=97"
./configure --prefix="$prefix" --disable-shared --enable-static --with-pic \
	--disable-dependency-tracking --enable-threaded-resolver \
	--with-openssl --with-nghttp2 --with-zlib \
	--with-ca-path=/etc/ssl/certs --with-ca-bundle=/etc/ssl/certs/ca-certificates.crt \
	--without-libpsl --without-libidn2 --without-librtmp --without-libssh2 --without-libssh \
	--without-brotli --without-zstd --without-gssapi \
	--disable-ldap --disable-ldaps --disable-ftp --disable-file --disable-dict --disable-telnet \
	--disable-tftp --disable-pop3 --disable-imap --disable-smtp --disable-gopher --disable-mqtt \
	--disable-rtsp --disable-smb --disable-ntlm --disable-ntlm-wb --disable-tls-srp \
	--disable-cookies --disable-mime --disable-netrc --disable-doh --disable-alt-svc --disable-hsts \
	--disable-progress-meter --disable-get-easy-options --disable-libcurl-option \
	--disable-websockets --disable-manual >>"$log" 2>&1
grep -E '^ +(Protocols|Features):' "$log" >&2 || true
{
	make -j"$(nproc)" -C lib
	make -C lib install
	make -C include install
} >>"$log" 2>&1
echo "$src $ver" >"$prefix/VERSION"
cd "$dir"
rm -rf "$dir/src" "$dir/apt"
touch "$prefix/.complete"
say "done: $prefix"
echo "$prefix"
