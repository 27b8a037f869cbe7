# Python's use of threads, signals, timers and condition variables, as the
# processes issue lists them. Prints one line per feature.
import os
import signal
import threading
import time

res = [0] * 8
def work(i):
    res[i] = sum(range(i * 100000))
ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("threads", sum(res))

got = []
signal.signal(signal.SIGUSR1, lambda s, f: got.append(s))
os.kill(os.getpid(), signal.SIGUSR1)
print("sigusr1", got)

signal.signal(signal.SIGALRM, lambda s, f: None)
signal.setitimer(signal.ITIMER_REAL, 0.1)
t0 = time.monotonic()
signal.pause()
print("pause after itimer", time.monotonic() - t0 >= 0.09)

c = threading.Condition()
state = [0]
def pong():
    for _ in range(10000):
        with c:
            while state[0] != 1:
                c.wait()
            state[0] = 0
            c.notify()
th = threading.Thread(target=pong)
th.start()
for _ in range(10000):
    with c:
        state[0] = 1
        c.notify()
        while state[0] != 0:
            c.wait()
th.join()
print("condition ping-pong 10000")
