// Package control is the RPC surface runsc uses to drive a running
// sandbox: start a container's process, wait for it. It is net/rpc over
// the unix socket in the container's state directory, whose listening FD
// runsc hands to the sentry.
package control

import (
	"errors"
	"net"
	"net/rpc"
	"syscall"
)

// ServiceName is the RPC service's name.
const ServiceName = "Container"

// StartArgs are the arguments of Container.Start.
type StartArgs struct {
	ContainerID string
}

// Result carries an error across RPC with its errno, so that runsc can
// choose an exit status (127 for a missing program, as shells do).
type Result struct {
	Err   string
	Errno int
}

// WaitArgs are the arguments of Container.Wait.
type WaitArgs struct {
	ContainerID string
}

// WaitReply is the result of Container.Wait: a wait(2) status.
type WaitReply struct {
	Status uint32
}

// Loader is what the sentry side implements.
type Loader interface {
	StartContainer(id string) error
	WaitContainer(id string) (uint32, error)
}

// Container is the RPC service.
type Container struct {
	l Loader
}

// Start starts the container's process.
func (c *Container) Start(args *StartArgs, reply *Result) error {
	if err := c.l.StartContainer(args.ContainerID); err != nil {
		reply.Err = err.Error()
		var e syscall.Errno
		if errors.As(err, &e) {
			reply.Errno = int(e)
		}
	}
	return nil
}

// Wait waits for the container's process to exit.
func (c *Container) Wait(args *WaitArgs, reply *WaitReply) error {
	s, err := c.l.WaitContainer(args.ContainerID)
	reply.Status = s
	return err
}

// Serve serves the control RPCs on l until it is closed.
func Serve(l net.Listener, loader Loader) error {
	srv := rpc.NewServer()
	if err := srv.RegisterName(ServiceName, &Container{l: loader}); err != nil {
		return err
	}
	for {
		conn, err := l.Accept()
		if err != nil {
			return err
		}
		go srv.ServeConn(conn)
	}
}
