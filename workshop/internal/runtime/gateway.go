package runtime

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// ReceiverHost is the address the CLI's OTLP receiver listens on for a
// stage run as containers: reachable by the containers, which send to
// host.docker.internal (the engine's host-gateway, the default bridge's
// gateway), and by nothing else on the room's network. That is the default
// bridge's gateway when it is an address of this machine (Docker Engine on
// Linux); otherwise loopback, where Docker Desktop delivers what the
// containers send to host.docker.internal.
func ReceiverHost(ctx context.Context) (string, error) {
	prepareTestcontainers()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return "", noEngine(err)
	}
	defer cli.Close()
	res, err := cli.NetworkInspect(ctx, "bridge", client.NetworkInspectOptions{})
	if err != nil {
		return "", fmt.Errorf("asking the Docker engine for its bridge network: %w", err)
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", err
	}
	return receiverHost(bridgeGateways(res.Network.IPAM.Config), addrs), nil
}

// bridgeGateways lists the IPv4 gateways of a network's IPAM config; an
// entry without one (the default bridge on some engines) has the first
// address of its subnet, as the engine assigns it.
func bridgeGateways(config []network.IPAMConfig) []netip.Addr {
	var out []netip.Addr
	for _, c := range config {
		switch {
		case c.Gateway.Is4():
			out = append(out, c.Gateway)
		case !c.Gateway.IsValid() && c.Subnet.Addr().Is4():
			out = append(out, c.Subnet.Masked().Addr().Next())
		}
	}
	return out
}

// receiverHost picks the first gateway that is one of this machine's
// addresses, or loopback.
func receiverHost(gateways []netip.Addr, local []net.Addr) string {
	for _, gw := range gateways {
		for _, a := range local {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap() == gw {
					return gw.String()
				}
			}
		}
	}
	return "127.0.0.1"
}
