// The seed's Go PaymentClient (seed 003), unchanged in what it does: GET http://payment-service.finance/process with
// net/http's default client and print the answer. The one addition is what a pod's /etc/resolv.conf would give it on
// the host: with CLUSTER_DNS=HOST:PORT set, names are looked up at that server through a pod's search list
// (POD_NAMESPACE.svc.cluster.local, svc.cluster.local, cluster.local; ndots 5), because the sandbox's cluster DNS is
// not the host's resolver. The address it answers is a ClusterIP: the connection goes through the service proxy.
// Standard library only (go.mod has no requirements): built offline by the tests.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	// Accessing the service via its DNS name
	// Format: http://<service-name>.<namespace>
	serviceUrl := "http://payment-service.finance"

	if dns := os.Getenv("CLUSTER_DNS"); dns != "" {
		http.DefaultTransport.(*http.Transport).DialContext = podDialer(dns, os.Getenv("POD_NAMESPACE"))
	}

	resp, err := http.Get(serviceUrl + "/process")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()

	body, _ := io.ReadAll(resp.Body)
	fmt.Println("Response:", string(body))
}

// podDialer resolves as a pod in namespace ns would (search list, ndots 5) at the cluster DNS server, then dials.
func podDialer(server, ns string) func(ctx context.Context, network, address string) (net.Conn, error) {
	if ns == "" {
		ns = "default"
	}
	resolver := &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, server)
		},
	}
	search := []string{ns + ".svc.cluster.local", "svc.cluster.local", "cluster.local"}
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(address)
		if err != nil {
			return nil, err
		}
		if net.ParseIP(host) != nil {
			return dialer.DialContext(ctx, network, address)
		}
		var names []string
		if strings.Count(host, ".") < 5 {
			for _, s := range search {
				names = append(names, host+"."+s+".")
			}
		}
		names = append(names, host+".")
		var lastErr error
		for _, name := range names {
			addrs, err := resolver.LookupHost(ctx, name)
			if err != nil {
				lastErr = err
				continue
			}
			return dialer.DialContext(ctx, network, net.JoinHostPort(addrs[0], port))
		}
		return nil, fmt.Errorf("cluster DNS %s: %s: %w", server, host, lastErr)
	}
}
