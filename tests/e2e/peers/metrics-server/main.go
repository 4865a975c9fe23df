// metrics-server, as released (sigs.k8s.io/metrics-server), for the e2e
// test of `kubectl top` against vk's /metrics/resource.  Its command lives
// in a package main, so this file only starts the same cobra command.
package main

import (
	"os"

	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/component-base/logs"

	"sigs.k8s.io/metrics-server/cmd/metrics-server/app"
)

func main() {
	logs.InitLogs()
	defer logs.FlushLogs()
	if err := app.NewMetricsServerCommand(genericapiserver.SetupSignalHandler()).Execute(); err != nil {
		os.Exit(1)
	}
}
