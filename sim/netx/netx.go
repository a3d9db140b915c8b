// Package netx is the seam between mail agents and the network they run on.
//
// Every agent is given a Network and never knows whether it is the
// simulated network of package netsim or the machine's real sockets
// (Real). A Tap turns the bytes of a stream connection into trace events,
// line by line, for either kind of network.
package netx

import (
	"context"
	"net"
)

// Network is what every agent is given to listen and dial with.
type Network interface {
	Listen(network, address string) (net.Listener, error)
	ListenPacket(network, address string) (net.PacketConn, error)
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}
