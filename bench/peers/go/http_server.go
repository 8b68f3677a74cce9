// bench/peers/go/http_server.go: the Go peer of `cora serve` in the HTTP server
// benchmark: net/http answering GET /hello with 200 "Hello, World!" (text/plain),
// keep-alive, on one thread running Go code (GOMAXPROCS=1, set by bench/run.sh: the
// server gets one core, as a cora loop is one thread).
//
// The handler sets Content-Type and Content-Length itself, as the idiomatic fast
// handler does (net/http would otherwise sniff the type and buffer to find the
// length). Listens on 127.0.0.1 only (port 0: a free port the kernel picks), prints
// "listening <port>" once it accepts, runs until killed.
// Usage: http_server [port]
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
)

var hello = []byte("Hello, World!")

func main() {
	port := 0
	if len(os.Args) > 1 {
		p, err := strconv.Atoi(os.Args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, "usage: http_server [port]")
			os.Exit(2)
		}
		port = p
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/plain")
		h.Set("Content-Length", "13")
		w.Write(hello)
	})
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "Go net/http server, %s, GOMAXPROCS=%d\n", runtime.Version(),
		runtime.GOMAXPROCS(0))
	fmt.Printf("listening %d\n", ln.Addr().(*net.TCPAddr).Port)
	os.Stdout.Sync()
	srv := &http.Server{Handler: mux}
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
}
