package class

import (
	"net"
	"slices"
	"strings"
)

// virtualInterfaces are interfaces learners' laptops cannot reach the
// server through: container bridges and their veth ends.
var virtualInterfaces = []string{"docker", "br-", "veth", "virbr", "cni", "flannel", "podman", "vmnet", "vboxnet", "lo"}

// LANAddresses lists the IPv4 addresses of this machine that other
// laptops in the room may reach: the one of the default route first, then
// the other private ones. Empty when the machine has no network.
func LANAddresses() []string {
	var out []string
	if c, err := net.Dial("udp", "192.0.2.1:9"); err == nil { // no packet is sent: it asks the routing table
		if a, ok := c.LocalAddr().(*net.UDPAddr); ok && !a.IP.IsLoopback() {
			out = append(out, a.IP.String())
		}
		c.Close()
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		return out
	}
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 || slices.ContainsFunc(virtualInterfaces, func(p string) bool {
			return strings.HasPrefix(ifc.Name, p)
		}) {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok || ipn.IP.To4() == nil || !ipn.IP.IsPrivate() {
				continue
			}
			if ip := ipn.IP.String(); !slices.Contains(out, ip) {
				out = append(out, ip)
			}
		}
	}
	return out
}
