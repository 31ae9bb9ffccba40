"""Goroutine dump texts the debug tests share."""

LEAK = """goroutine 7 [chan receive, 12 minutes]:
runtime.gopark(0x0?, 0x0?, 0x0?, 0x0?, 0x0?)
\t/usr/lib/go-1.19/src/runtime/proc.go:363 +0xd6
runtime.chanrecv(0xc00001e0c0, 0x0, 0x1)
\t/usr/lib/go-1.19/src/runtime/chan.go:583 +0x49b
main.leakyWorker(0xc00001e0c0?)
\t/src/app/main.go:17 +0x25
created by main.handleWork
\t/src/app/main.go:23 +0x5a
"""


def leaked(n: int, first_id: int = 7, minutes: int = 12) -> str:
    blocks = []
    for i in range(n):
        text = LEAK.replace("goroutine 7 ", f"goroutine {first_id + i} ")
        text = text.replace("12 minutes", f"{minutes} minutes")
        blocks.append(text.replace("0xc00001e0c0", f"0xc0000{i:05x}"))
    return "\n".join(blocks)


MAIN = """goroutine 1 [running]:
main.main()
\t/src/app/main.go:30 +0x1d
"""
