// bench/peers/go/sleep.go: the peer of bench/sleep_rss.c: n goroutines blocked in
// time.Sleep, and the resident memory each costs.
//
// VmRSS is read from /proc/self/status after a forced GC, before starting the
// goroutines and once every one of them is asleep; the difference over n is the
// figure. VmPTE (page tables) is reported beside it, as cora's side does.
// Usage: sleep [n]
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
)

func statusKiB(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		if strings.HasPrefix(line, field+":") {
			v, _ := strconv.ParseInt(strings.Fields(line[len(field)+1:])[0], 10, 64)
			return v
		}
	}
	return -1
}

// Collect garbage and return freed memory to the OS so that neither reading
// carries garbage the other does not.
func settle() {
	runtime.GC()
	debug.FreeOSMemory()
}

func main() {
	runtime.GOMAXPROCS(1)
	n := 100000
	if len(os.Args) > 1 {
		v, err := strconv.ParseFloat(os.Args[1], 64)
		if err == nil {
			n = int(v)
		}
	}

	settle()
	rss0, pte0 := statusKiB("VmRSS"), statusKiB("VmPTE")
	t0 := time.Now()
	var started sync.WaitGroup
	started.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			started.Done()
			time.Sleep(time.Hour)
		}()
	}
	started.Wait()
	// The last goroutine to call Done may not have reached time.Sleep yet: let every
	// runnable goroutine run on before measuring.
	for i := 0; i < 10; i++ {
		runtime.Gosched()
	}
	time.Sleep(50 * time.Millisecond)
	asleep := time.Since(t0)
	settle()
	rss1, pte1 := statusKiB("VmRSS"), statusKiB("VmPTE")

	rss := float64(rss1-rss0) / float64(n)
	pte := float64(pte1-pte0) / float64(n)
	fmt.Printf("go %s: %d goroutines in time.Sleep: %.3f KiB RSS per goroutine, plus %.3f KiB of page tables; started and asleep in %.2f s\n",
		runtime.Version(), n, rss, pte, asleep.Seconds())
	fmt.Printf("RESULT go_sleep_rss_%d %.6g KiB/task\n", n, rss)
	fmt.Printf("RESULT go_sleep_pte_%d %.6g KiB/task\n", n, pte)
	// Exiting ends the goroutines; Go has no way to cancel a time.Sleep.
}
