#!/usr/bin/env bash
# vk links the libcurl scripts/build-curl.sh builds from Debian's curl
# source with HTTP(S) only, so none of the 26 libraries that Debian's
# libcurl.so loads for protocols vk never speaks (LDAP, Kerberos, RTMP, SSH,
# GnuTLS and p11-kit, IDN, PSL, brotli, zstd) is mapped into it: about 3 MiB
# of RSS per vk.  The dynamic linker lists what the binary loads; nothing is
# run.  A -Dcurl_dir that holds no libcurl is refused at meson setup, with
# the command that makes one.  No cluster needed.
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 4
tmp_dir tmp
bin=${VK_VALGRIND_BIN:-$VK_BIN} # the binary itself, not the valgrind wrapper
libs=$(LD_TRACE_LOADED_OBJECTS=1 "$bin" | awk '{ print $1 }')
tap_like "$libs" 'libssl\.so' "the dynamic linker lists what vk loads (libssl among them)"
tap_is "$(grep -c '^libcurl' <<<"$libs" || true)" 0 "no libcurl.so is loaded: vk's libcurl is linked in"
unused=$(grep -E '^lib(gnutls|nettle|hogweed|gmp|p11-kit|tasn1|unistring|idn2|psl|rtmp|ssh2?|ldap|lber|sasl2|gssapi_krb5|krb5|k5crypto|krb5support|com_err|keyutils|brotli(dec|common)|zstd)\.so' <<<"$libs" || true)
tap_is "$unused" "" "none of the libraries Debian's libcurl.so brings along is loaded"
out=$(meson setup "$tmp/b" "$VK_ROOT" -Dcurl_dir="$tmp/none" 2>&1) && rc=0 || rc=$?
tap_like "$rc:$out" "^[1-9][0-9]*:.*-Dcurl_dir=$tmp/none holds no lib/libcurl.a.*scripts/build-curl.sh" \
	"meson setup refuses a -Dcurl_dir without a libcurl, naming scripts/build-curl.sh"
tap_done
