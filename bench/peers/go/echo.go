// bench/peers/go/echo.go: the Go peer of bench/echo_server.c: a goroutine per
// connection, on one thread running Go code (GOMAXPROCS=1, set by bench/run.sh: the
// server gets one core, as a cora loop is one thread).
//
//	echo  each goroutine reads up to 64 KiB and writes it back, until end of stream.
//	      A read/write loop, not io.Copy(conn, conn): for TCP to TCP, Go's io.Copy
//	      takes TCPConn.ReadFrom, which splices through a pipe, more system calls per
//	      64-byte message; the loop is what a Go echo server is fastest with.
//	sink  each goroutine reads 64 KiB at a time and drops the bytes until end of
//	      stream, then closes (not io.Copy(io.Discard, conn), whose reads are 8 KiB).
//
// Go turns Nagle off on every TCP connection by default. Listens on 127.0.0.1 only
// (port 0: a free port), prints "listening <port>", runs until killed.
// Usage: echo [port [echo|sink]]
package main

import (
	"fmt"
	"net"
	"os"
	"runtime"
)

func echo(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 64*1024)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func sink(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 64*1024)
	for {
		if _, err := c.Read(buf); err != nil {
			return
		}
	}
}

func main() {
	port, mode := "0", "echo"
	if len(os.Args) > 1 {
		port = os.Args[1]
	}
	if len(os.Args) > 2 {
		mode = os.Args[2]
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "go %s %s server, GOMAXPROCS=%d\n", runtime.Version(), mode,
		runtime.GOMAXPROCS(0))
	fmt.Printf("listening %d\n", ln.Addr().(*net.TCPAddr).Port)
	serve := echo
	if mode == "sink" {
		serve = sink
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "echo: accept:", err)
			os.Exit(1)
		}
		go serve(c)
	}
}
