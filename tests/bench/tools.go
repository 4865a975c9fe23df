//go:build tools

// Package tools pins upstream virtual-kubelet (its cmd/virtual-kubelet with
// the built-in mock provider), the peer that tests/bench/run.sh measures vk
// against.  The version is the one required in go.mod.
package tools

import (
	_ "github.com/virtual-kubelet/virtual-kubelet/cmd/virtual-kubelet"
)
