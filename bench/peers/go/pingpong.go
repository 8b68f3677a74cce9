// bench/peers/go/pingpong.go: the peer of bench/pingpong.c's channel shape: two
// goroutines passing an int back and forth over two unbuffered `chan int`, one each
// way, on one OS thread running Go code (GOMAXPROCS=1, as a cora loop is one thread).
//
// One message is one send and the receive that takes it; a round trip is two. The
// figure is wall ns per message, best of `repeats` runs of n round trips.
// Usage: pingpong [round-trips [repeats]]
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
)

func arg(i int, def int) int {
	if len(os.Args) > i {
		v, err := strconv.ParseFloat(os.Args[i], 64)
		if err == nil {
			return int(v)
		}
	}
	return def
}

func ponger(ping <-chan int, pong chan<- int) {
	for v := range ping {
		pong <- v
	}
	close(pong)
}

// n round trips over a fresh pair of channels; ns per message. The goroutine is
// started outside the timing, as bench/pingpong.c spawns its task outside it.
func run(n int) float64 {
	ping, pong := make(chan int), make(chan int)
	go ponger(ping, pong)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		ping <- i
		if <-pong != i {
			panic("pingpong: wrong value back")
		}
	}
	ns := float64(time.Since(t0).Nanoseconds()) / (2 * float64(n))
	close(ping)
	<-pong // the ponger has ended
	return ns
}

func main() {
	runtime.GOMAXPROCS(1)
	n := arg(1, 1000000)
	repeats := arg(2, 3)
	run(1000) // warm, as bench/pingpong.c does
	best := 0.0
	for r := 0; r < repeats; r++ {
		if ns := run(n); r == 0 || ns < best {
			best = ns
		}
	}
	fmt.Printf("go %s, GOMAXPROCS=1: unbuffered chan int ping-pong: %.2f ns per message, "+
		"%.2f M messages/s (best of %d runs of %d round trips)\n",
		runtime.Version(), best, 1e3/best, repeats, n)
	fmt.Printf("RESULT go_chan_pingpong %.6g ns/msg\n", best)
	fmt.Printf("RESULT go_chan_pingpong_rate %.6g msg/s\n", 1e9/best)
}
