// bench/peers/go/spawn.go: the peer of bench/spawn.c: spawn and wait for a trivial
// goroutine, on one OS thread running Go code (GOMAXPROCS=1, as a cora loop is one
// thread).
//
//	serial  wg.Add(1); go trivial(); wg.Wait(), n times;
//	batch   wg.Add(batch); start batch goroutines; wg.Wait(), n/batch times.
//
// The figure is wall ns per goroutine. Usage: spawn [n [batch]]
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
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

// A goroutine does need some work to call; this is the counterpart of cora's
// trivial task, which returns its argument.
func trivial(wg *sync.WaitGroup) {
	wg.Done()
}

func serial(n int) float64 {
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go trivial(&wg)
		wg.Wait()
	}
	return float64(time.Since(t0).Nanoseconds()) / float64(n)
}

func batched(n, batch int) float64 {
	var wg sync.WaitGroup
	t0 := time.Now()
	rounds := n / batch
	for r := 0; r < rounds; r++ {
		wg.Add(batch)
		for i := 0; i < batch; i++ {
			go trivial(&wg)
		}
		wg.Wait()
	}
	return float64(time.Since(t0).Nanoseconds()) / float64(rounds*batch)
}

func main() {
	runtime.GOMAXPROCS(1)
	n := arg(1, 1000000)
	batch := arg(2, 1000)
	serial(10000) // warm, as bench/spawn.c does: the scheduler's free goroutine lists
	batched(10*batch, batch)
	s := serial(n)
	b := batched(n, batch)
	fmt.Printf("go %s, GOMAXPROCS=1: goroutine + WaitGroup, serial: %.1f ns per goroutine\n",
		runtime.Version(), s)
	fmt.Printf("go: batches of %d: %.1f ns per goroutine\n", batch, b)
	fmt.Printf("RESULT go_spawn_serial %.6g ns/task\n", s)
	fmt.Printf("RESULT go_spawn_batch %.6g ns/task\n", b)
}
