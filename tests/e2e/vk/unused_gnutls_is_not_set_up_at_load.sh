#!/usr/bin/env bash
# gnutls is mapped into vk only because Debian's libcurl links librtmp and
# libldap; vk's TLS is OpenSSL's.  vk defines and exports the hook gnutls's
# constructor asks first (_gnutls_global_init_skip), so gnutls skips its
# set-up at load (0.9 MiB of RSS) however vk is started.  The dynamic
# linker's own trace shows gnutls's call bound to vk's definition, not to
# the library's weak default.  No cluster needed.
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 2
bin=${VK_VALGRIND_BIN:-$VK_BIN} # the binary itself, not the valgrind wrapper
trace=$(LD_DEBUG=bindings "$bin" --version 2>&1 >/dev/null | grep '_gnutls_global_init_skip' || true)
tap_like "$trace" "libgnutls\.so[^ ]* \[0\] to [^ ]*vk \[0\]: normal symbol \`_gnutls_global_init_skip'" \
	"gnutls's constructor calls vk's _gnutls_global_init_skip"
tap_ok "vk --version still answers" "$bin" --version
tap_done
