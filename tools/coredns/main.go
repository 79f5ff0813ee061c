// Command coredns is CoreDNS with only the plugins kubeadm's default Corefile uses, for the kind
// tier's node image (scripts/kind-node-image). Upstream's main imports every plugin, which pulls in
// every cloud provider's SDK; the cluster DNS needs none of them.
package main

import (
	"github.com/coredns/coredns/coremain"

	// The plugins of kubeadm's Corefile (cmd/kubeadm/app/phases/addons/dns), plus log for debugging.
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
)

func main() {
	coremain.Run()
}
