//go:build tools

// Package tools pins crictl, which the harness tests use to drive containerd's
// CRI the way a kubelet does; tests/cluster/build.sh builds it from here.
package tools

import _ "sigs.k8s.io/cri-tools/cmd/crictl"
