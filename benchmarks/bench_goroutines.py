"""Grouping a dump of 100,000 goroutines (the figure of issue 15: <= 1 s).

    PYTHONPATH=src python benchmarks/bench_goroutines.py [--goroutines 100000] [--repeat 3]

The dump is real: a Go program (built here with `go build`) starts the goroutines as a leaking
service would (workers parked on channels and mutexes, a few with deeper stacks, each created by
a handler) and writes its own /debug/pprof/goroutine?debug=2 text. Prints the dump's size and
the best and median time of parse + group.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from perflab.debug import group_goroutines, parse_goroutines

PROGRAM = """package main

import (
	"os"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"
)

var mu sync.Mutex

func leakyWorker(c chan int) { <-c }

func waitLock() { mu.Lock(); mu.Unlock() }

func deep(n int, c chan int) {
	if n == 0 {
		<-c
		return
	}
	deep(n-1, c)
}

func handle(i int) {
	switch i % 10 {
	case 0:
		go waitLock()
	case 1:
		go deep(8, make(chan int))
	default:
		go leakyWorker(make(chan int))
	}
}

func main() {
	n, _ := strconv.Atoi(os.Args[1])
	mu.Lock()
	for i := 0; i < n; i++ {
		handle(i)
	}
	time.Sleep(500 * time.Millisecond)
	pprof.Lookup("goroutine").WriteTo(os.Stdout, 2)
}
"""


def real_dump(n: int) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp)
        (src / "go.mod").write_text("module benchdump\n\ngo 1.19\n")
        (src / "main.go").write_text(PROGRAM)
        subprocess.run(["go", "build", "-o", "dumper", "."], cwd=src, check=True, timeout=300)
        out = subprocess.run([str(src / "dumper"), str(n)], capture_output=True, text=True,
                             check=True, timeout=300)
    return out.stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--goroutines", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    text = real_dump(args.goroutines)
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        dump = parse_goroutines(text)
        groups = group_goroutines(dump)
        times.append(time.perf_counter() - t0)
    print(f"dump: {len(dump.goroutines)} goroutines, {len(text) / 1e6:.1f} MB, "
          f"{len(groups)} groups")
    print(f"parse + group: best {min(times):.3f} s, median {statistics.median(times):.3f} s "
          f"(target <= 1 s)")


if __name__ == "__main__":
    main()
