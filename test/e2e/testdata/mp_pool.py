# multiprocessing.Pool: fork, pipes, semaphores in /dev/shm, waits.
import multiprocessing, os, time

def square(x):
    time.sleep(0.01)  # so that work spreads over several workers
    return x * x, os.getpid()

if __name__ == "__main__":
    with multiprocessing.Pool(4) as p:
        res = p.map(square, range(40))
    print("sum", sum(r[0] for r in res))
    print("workers>1", len({r[1] for r in res}) > 1)
    print("parent not worker", os.getpid() not in {r[1] for r in res})
