// bench/peers/go/lock.go: the peer of bench/lock.c: `tasks` goroutines (100) each
// loop {mu.Lock(); critical section; mu.Unlock()} on one sync.Mutex, n acquisitions
// in all, on one OS thread running Go code (GOMAXPROCS=1), joined with a WaitGroup.
//
//	contended  runtime.Gosched() inside the critical section, where bench/lock.c
//	           calls cora_yield(): with one thread, a goroutine that never gives
//	           way holds the CPU through its whole loop and no other ever finds the
//	           mutex taken;
//	noyield    nothing inside: the mutex's fast path.
//
// The critical section also notes when the holder differs from the previous one, so
// the program reports what share of acquisitions were hand-overs: in its normal mode
// sync.Mutex lets a running goroutine take it ahead of the waiter Unlock woke (it
// hands over directly only in starvation mode, once a waiter has waited over 1 ms),
// where cora's lock always hands over to the first waiter.
// The figure is wall ns per acquisition, best of `repeats` runs.
// Usage: lock [acquisitions [repeats [contended|noyield|all [tasks]]]]
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

var (
	mu         sync.Mutex
	counter    int
	handovers  int
	lastHolder int
)

func worker(me, perTask int, yield bool, wg *sync.WaitGroup) {
	for i := 0; i < perTask; i++ {
		mu.Lock()
		if lastHolder != me {
			handovers++
			lastHolder = me
		}
		counter++
		if yield {
			runtime.Gosched()
		}
		mu.Unlock()
	}
	wg.Done()
}

// One run: ns per acquisition and the share of hand-overs. The goroutines are
// started before the clock, as bench/lock.c spawns its tasks first; with one thread
// they run only once main blocks in Wait.
func run(tasks, perTask int, yield bool) (float64, float64) {
	var wg sync.WaitGroup
	counter, handovers, lastHolder = 0, 0, -1
	wg.Add(tasks)
	for i := 0; i < tasks; i++ {
		go worker(i, perTask, yield, &wg)
	}
	t0 := time.Now()
	wg.Wait()
	ns := float64(time.Since(t0).Nanoseconds()) / float64(counter)
	if counter != tasks*perTask {
		panic("lock: lost an increment")
	}
	return ns, float64(handovers) / float64(counter)
}

func measure(tasks, n, repeats int, yield bool, what, key string) {
	run(tasks, 100, yield) // warm, as bench/lock.c does
	perTask := n / tasks
	best, bestShare := 0.0, 0.0
	for r := 0; r < repeats; r++ {
		if ns, share := run(tasks, perTask, yield); r == 0 || ns < best {
			best, bestShare = ns, share
		}
	}
	fmt.Printf("go %s, GOMAXPROCS=1: sync.Mutex, %s, %d goroutines: %.2f ns per acquisition, "+
		"%.2f M acquisitions/s, %.2f of them hand-overs (best of %d runs of %d)\n",
		runtime.Version(), what, tasks, best, 1e3/best, bestShare, repeats, perTask*tasks)
	fmt.Printf("RESULT %s %.6g ns/acq\n", key, best)
	fmt.Printf("RESULT %s_rate %.6g acq/s\n", key, 1e9/best)
	fmt.Printf("RESULT %s_share %.6g handovers/acq\n", key, bestShare)
}

func main() {
	runtime.GOMAXPROCS(1)
	n := arg(1, 1000000)
	repeats := arg(2, 3)
	mode := "all"
	if len(os.Args) > 3 {
		mode = os.Args[3]
	}
	tasks := arg(4, 100)
	if mode == "all" || mode == "contended" {
		measure(tasks, n, repeats, true, "Gosched inside (contended)", "go_lock_contended")
	}
	if mode == "all" || mode == "noyield" {
		measure(tasks, n, repeats, false, "nothing inside (fast path)", "go_lock_noyield")
	}
}
