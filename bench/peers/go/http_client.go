// bench/peers/go/http_client.go: the Go peer of bench/http_client.c in the HTTP
// client benchmark: net/http's Client making N GET requests over C keep-alive
// connections to one server, with C goroutines each looping {Get; read the body;
// Close; check the status} until N requests have been made in all.
//
// The Transport is a clone of http.DefaultTransport with MaxIdleConnsPerHost = C
// (its default, 2, would close most connections after each request) and
// MaxConnsPerHost = C, so that C connections carry every request. bench/run.sh sets
// GOMAXPROCS=1 (one thread running Go code, as a cora loop is one thread); the
// program prints the GOMAXPROCS it ran with and the CPUs it may use, since under
// `taskset -c 1` Go's default is 1 as well.
//
// One warm-up round of C x 10 requests opens the connections; then `rounds` rounds of
// N requests each are timed. Printed: the best round's requests per second, the
// median round's, and the client's CPU time (getrusage: user + system, all threads)
// per request over the timed rounds. Any request that fails or answers other than
// 200 is counted as an error and makes the program exit 1.
// Usage: http_client URL [requests [conns [rounds [label]]]]
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func cpuNs() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func argInt(i, def int) int {
	if len(os.Args) > i {
		v, err := strconv.ParseFloat(os.Args[i], 64)
		if err == nil {
			return int(v)
		}
	}
	return def
}

// round makes n requests with conns goroutines; returns the errors.
func round(client *http.Client, url string, n, conns int) int64 {
	var next, errs int64
	var wg sync.WaitGroup
	wg.Add(conns)
	for i := 0; i < conns; i++ {
		go func() {
			defer wg.Done()
			for atomic.AddInt64(&next, 1) <= int64(n) {
				resp, err := client.Get(url)
				if err != nil {
					atomic.AddInt64(&errs, 1)
					continue
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					atomic.AddInt64(&errs, 1)
				}
			}
		}()
	}
	wg.Wait()
	return errs
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: http_client URL [requests [conns [rounds [label]]]]")
		os.Exit(2)
	}
	url := os.Args[1]
	n, conns, rounds := argInt(2, 10000), argInt(3, 64), argInt(4, 5)
	label := "go"
	if len(os.Args) > 5 {
		label = os.Args[5]
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = conns
	tr.MaxConnsPerHost = conns
	if tr.MaxIdleConns < conns {
		tr.MaxIdleConns = conns
	}
	client := &http.Client{Transport: tr}

	if errs := round(client, url, conns*10, conns); errs > 0 {
		fmt.Fprintf(os.Stderr, "warm-up: %d errors\n", errs)
		os.Exit(1)
	}
	rates := make([]float64, 0, rounds)
	var errs int64
	cpu0 := cpuNs()
	for r := 0; r < rounds; r++ {
		t0 := time.Now()
		errs += round(client, url, n, conns)
		rates = append(rates, float64(n)/time.Since(t0).Seconds())
	}
	cpu := cpuNs() - cpu0
	sort.Float64s(rates)
	best, median := rates[len(rates)-1], rates[len(rates)/2]
	fmt.Printf("Go net/http client (%s, GOMAXPROCS=%d, %d CPUs usable): %d x %d GET over %d conns: best %.0f req/s, median %.0f, %.2f us CPU/req, %d errors\n",
		runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(), rounds, n, conns, best,
		median, float64(cpu)/float64(n*rounds)/1e3, errs)
	fmt.Printf("RESULT %s_http_client_rate %.6g req/s\n", label, best)
	fmt.Printf("RESULT %s_http_client_median %.6g req/s\n", label, median)
	fmt.Printf("RESULT %s_http_client_cpu %.6g us\n", label, float64(cpu)/float64(n*rounds)/1e3)
	fmt.Printf("RESULT %s_http_client_procs %d count\n", label, runtime.GOMAXPROCS(0))
	if errs > 0 {
		os.Exit(1)
	}
}
