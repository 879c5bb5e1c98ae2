// CoreDNS with only the plugins the test cluster's DNS uses (the upstream binary carries ~50,
// among them cloud DNS backends whose dependencies would dominate the build).
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
)

// Order matters: it is the order in which the plugins handle a query.
var directives = []string{
	"reload", "health", "ready", "errors", "log", "loadbalance", "cache", "kubernetes",
}

func init() { dnsserver.Directives = directives }

func main() { coremain.Run() }
