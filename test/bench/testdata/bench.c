// bench times one operation and prints the cost per operation in
// nanoseconds. Modes:
//   getpid N        N raw getpid system calls
//   pagefault MB    map MB of anonymous memory and write one byte per page
//   fork N          N times: fork, the child _exits, the parent waits
//   thread N        N times: create a thread and join it
//   open N PATH     N times: open PATH read-only and close it
//   stat N PATH     N stat calls of PATH
//   pread N PATH    N 4 KiB preads of PATH at offsets cycling over its first 32 KiB
//   write MB PATH   write MB MiB to a new file PATH in 64 KiB writes; ns per MiB
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void *nothing(void *arg) { return arg; }

int main(int argc, char **argv) {
	if (argc < 3) {
		fprintf(stderr, "usage: bench MODE N [PATH]\n");
		return 2;
	}
	const char *path = argc > 3 ? argv[3] : NULL;
	long n = atol(argv[2]);
	double t0, t1;
	if (strcmp(argv[1], "getpid") == 0) {
		t0 = now();
		for (long i = 0; i < n; i++)
			syscall(SYS_getpid);
		t1 = now();
		printf("%.1f\n", (t1 - t0) / n);
	} else if (strcmp(argv[1], "pagefault") == 0) {
		size_t len = (size_t)n << 20;
		long pages = len / 4096;
		t0 = now();
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			perror("mmap");
			return 1;
		}
		for (long i = 0; i < pages; i++)
			p[i * 4096] = 1;
		t1 = now();
		munmap(p, len);
		printf("%.1f\n", (t1 - t0) / pages);
	} else if (strcmp(argv[1], "fork") == 0) {
		t0 = now();
		for (long i = 0; i < n; i++) {
			pid_t pid = fork();
			if (pid == 0)
				_exit(0);
			if (pid < 0 || waitpid(pid, NULL, 0) != pid) {
				perror("fork/wait");
				return 1;
			}
		}
		t1 = now();
		printf("%.1f\n", (t1 - t0) / n);
	} else if (strcmp(argv[1], "thread") == 0) {
		t0 = now();
		for (long i = 0; i < n; i++) {
			pthread_t t;
			if (pthread_create(&t, NULL, nothing, NULL) != 0 || pthread_join(t, NULL) != 0) {
				fprintf(stderr, "pthread_create/join failed\n");
				return 1;
			}
		}
		t1 = now();
		printf("%.1f\n", (t1 - t0) / n);
	} else if (strcmp(argv[1], "open") == 0 && path) {
		t0 = now();
		for (long i = 0; i < n; i++) {
			int fd = open(path, O_RDONLY);
			if (fd < 0) {
				perror("open");
				return 1;
			}
			close(fd);
		}
		t1 = now();
		printf("%.1f\n", (t1 - t0) / n);
	} else if (strcmp(argv[1], "stat") == 0 && path) {
		struct stat st;
		t0 = now();
		for (long i = 0; i < n; i++) {
			if (stat(path, &st) != 0) {
				perror("stat");
				return 1;
			}
		}
		t1 = now();
		printf("%.1f\n", (t1 - t0) / n);
	} else if (strcmp(argv[1], "pread") == 0 && path) {
		static char buf[4096];
		int fd = open(path, O_RDONLY);
		if (fd < 0) {
			perror("open");
			return 1;
		}
		t0 = now();
		for (long i = 0; i < n; i++) {
			if (pread(fd, buf, sizeof buf, (i % 8) * 4096) != sizeof buf) {
				perror("pread");
				return 1;
			}
		}
		t1 = now();
		printf("%.1f\n", (t1 - t0) / n);
	} else if (strcmp(argv[1], "write") == 0 && path) {
		static char buf[65536];
		memset(buf, 'x', sizeof buf);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0) {
			perror("open");
			return 1;
		}
		t0 = now();
		for (long i = 0; i < n * 16; i++) {
			if (write(fd, buf, sizeof buf) != sizeof buf) {
				perror("write");
				return 1;
			}
		}
		t1 = now();
		close(fd);
		unlink(path);
		printf("%.1f\n", (t1 - t0) / n);
	} else {
		fprintf(stderr, "unknown mode %s\n", argv[1]);
		return 2;
	}
	return 0;
}
