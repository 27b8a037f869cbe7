/*
 * inotify.c: inotify_init1, inotify_add_watch, inotify_rm_watch and reading
 * events: create, open, modify, access, close, attrib, moves with a shared
 * cookie, delete, directory events with IN_ISDIR, a file's own watch
 * (IN_DELETE_SELF then IN_IGNORED), IN_ONESHOT, IN_MASK_ADD/IN_MASK_CREATE,
 * coalescing of repeated events, FIONREAD, O_NONBLOCK, poll, and errors.
 */
#include "check.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

static char dir[64], file[96], file2[96], sub[96];

struct ev {
	int wd;
	uint32_t mask, cookie;
	char name[64];
};

static struct ev evs[64];
static int nev;

/* drain reads every queued event into evs. */
static int drain(int in)
{
	char buf[4096] __attribute__((aligned(8)));
	nev = 0;
	for (;;) {
		ssize_t n = read(in, buf, sizeof buf);
		if (n <= 0)
			break;
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)p;
			if (nev < 64) {
				evs[nev].wd = e->wd;
				evs[nev].mask = e->mask;
				evs[nev].cookie = e->cookie;
				snprintf(evs[nev].name, sizeof evs[nev].name, "%s", e->len ? e->name : "");
				nev++;
			}
			p += sizeof *e + e->len;
		}
	}
	return nev;
}

/* has says whether the drained events include (wd, mask, name). */
static int has(int wd, uint32_t mask, const char *name)
{
	for (int i = 0; i < nev; i++)
		if (evs[i].wd == wd && evs[i].mask == mask && strcmp(evs[i].name, name) == 0)
			return 1;
	return 0;
}

static int index_of(int wd, uint32_t mask, const char *name)
{
	for (int i = 0; i < nev; i++)
		if (evs[i].wd == wd && evs[i].mask == mask && strcmp(evs[i].name, name) == 0)
			return i;
	return -1;
}

int main(void)
{
	snprintf(dir, sizeof dir, "/dev/shm/inotify.%d", getpid());
	snprintf(file, sizeof file, "%s/f", dir);
	snprintf(file2, sizeof file2, "%s/g", dir);
	snprintf(sub, sizeof sub, "%s/sub", dir);
	REQUIRE(mkdir(dir, 0700) == 0, "make a scratch directory in /dev/shm");

	CHECK_ERR(inotify_init1(0x1234), EINVAL, "inotify_init1 with unknown flags is EINVAL");
	int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	REQUIRE(in >= 0, "inotify_init1(IN_NONBLOCK|IN_CLOEXEC)");
	CHECK_EQ(fcntl(in, F_GETFD), FD_CLOEXEC, "IN_CLOEXEC sets close-on-exec");
	char buf[256];
	CHECK_ERR(read(in, buf, sizeof buf), EAGAIN, "reading with no events is EAGAIN");

	int dw = inotify_add_watch(in, dir, IN_ALL_EVENTS);
	CHECK(dw > 0, "watch the directory");
	CHECK_EQ(inotify_add_watch(in, dir, IN_ALL_EVENTS), dw, "watching it again returns the same descriptor");

	int fd = open(file, O_RDWR | O_CREAT, 0600);
	write(fd, "hello", 5);
	write(fd, "hello", 5);
	close(fd);
	drain(in);
	CHECK(has(dw, IN_CREATE, "f"), "creating a file: IN_CREATE with its name");
	CHECK(has(dw, IN_OPEN, "f"), "IN_OPEN");
	CHECK(has(dw, IN_MODIFY, "f"), "writing: IN_MODIFY");
	int modifies = 0;
	for (int i = 0; i < nev; i++)
		modifies += evs[i].mask == IN_MODIFY;
	CHECK_EQ(modifies, 1, "two writes in a row queue one IN_MODIFY");
	CHECK(has(dw, IN_CLOSE_WRITE, "f"), "closing a written file: IN_CLOSE_WRITE");
	CHECK(index_of(dw, IN_CREATE, "f") < index_of(dw, IN_CLOSE_WRITE, "f"), "in order");

	fd = open(file, O_RDONLY);
	read(fd, buf, 3);
	close(fd);
	drain(in);
	CHECK(has(dw, IN_ACCESS, "f"), "reading: IN_ACCESS");
	CHECK(has(dw, IN_CLOSE_NOWRITE, "f"), "closing a read-only file: IN_CLOSE_NOWRITE");

	chmod(file, 0644);
	drain(in);
	CHECK(has(dw, IN_ATTRIB, "f"), "chmod: IN_ATTRIB");

	truncate(file, 1);
	drain(in);
	CHECK(has(dw, IN_MODIFY, "f"), "truncate: IN_MODIFY");

	rename(file, file2);
	drain(in);
	int from = index_of(dw, IN_MOVED_FROM, "f"), to = index_of(dw, IN_MOVED_TO, "g");
	CHECK(from >= 0 && to >= 0, "rename: IN_MOVED_FROM and IN_MOVED_TO");
	CHECK(from >= 0 && to >= 0 && evs[from].cookie != 0 && evs[from].cookie == evs[to].cookie,
	      "sharing one non-zero cookie");

	mkdir(sub, 0700);
	rmdir(sub);
	drain(in);
	CHECK(has(dw, IN_CREATE | IN_ISDIR, "sub"), "mkdir: IN_CREATE|IN_ISDIR");
	CHECK(has(dw, IN_DELETE | IN_ISDIR, "sub"), "rmdir: IN_DELETE|IN_ISDIR");

	/* A file's own watch. */
	int fw = inotify_add_watch(in, file2, IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF);
	CHECK(fw > 0 && fw != dw, "watch the file itself: a new descriptor");
	fd = open(file2, O_WRONLY);
	write(fd, "x", 1);
	close(fd);
	drain(in);
	CHECK(has(fw, IN_MODIFY, ""), "the file's watch sees IN_MODIFY without a name");
	CHECK(!has(fw, IN_CLOSE_WRITE, ""), "but not events outside its mask");
	unlink(file2);
	drain(in);
	int del = index_of(fw, IN_DELETE_SELF, ""), ign = index_of(fw, IN_IGNORED, "");
	CHECK(has(fw, IN_ATTRIB, ""), "unlink: IN_ATTRIB on the file (its link count)");
	CHECK(del >= 0, "unlinking the last link: IN_DELETE_SELF");
	CHECK(ign > del, "then IN_IGNORED: the watch is gone");
	CHECK(has(dw, IN_DELETE, "g"), "and IN_DELETE with the name in the directory");
	CHECK_ERR(inotify_rm_watch(in, fw), EINVAL, "removing a watch that ended is EINVAL");

	/* IN_ONESHOT, IN_MASK_ADD, IN_MASK_CREATE, rm_watch. */
	fd = open(file, O_RDWR | O_CREAT, 0600);
	drain(in);
	int ow = inotify_add_watch(in, file, IN_MODIFY | IN_ONESHOT);
	CHECK(ow > 0, "an IN_ONESHOT watch");
	write(fd, "a", 1);
	write(fd, "bb", 2);
	fsync(fd);
	chmod(file, 0600);
	drain(in);
	int n = 0;
	for (int i = 0; i < nev; i++)
		n += evs[i].wd == ow;
	CHECK(has(ow, IN_MODIFY, "") && has(ow, IN_IGNORED, "") && n == 2,
	      "fires once, then IN_IGNORED");
	int aw = inotify_add_watch(in, file, IN_ATTRIB);
	CHECK_EQ(inotify_add_watch(in, file, IN_MODIFY | IN_MASK_ADD), aw, "IN_MASK_ADD keeps the descriptor");
	write(fd, "c", 1);
	chmod(file, 0644);
	drain(in);
	CHECK(has(aw, IN_MODIFY, "") && has(aw, IN_ATTRIB, ""), "and adds to the mask");
	CHECK_ERR(inotify_add_watch(in, file, IN_MODIFY | IN_MASK_CREATE), EEXIST,
		  "IN_MASK_CREATE on a watched file is EEXIST");
	CHECK_OK(inotify_rm_watch(in, aw), "inotify_rm_watch");
	drain(in);
	CHECK(has(aw, IN_IGNORED, ""), "queues IN_IGNORED");
	write(fd, "d", 1);
	drain(in);
	CHECK(!has(aw, IN_MODIFY, ""), "and the watch sees nothing more");
	close(fd);

	/* FIONREAD, small buffers, poll, blocking. */
	drain(in);
	chmod(file, 0600);
	int avail = 0;
	CHECK_OK(ioctl(in, FIONREAD, &avail), "FIONREAD");
	CHECK_EQ(avail, sizeof(struct inotify_event) + 16, "counts the event and its padded name");
	struct pollfd pfd = {.fd = in, .events = POLLIN};
	CHECK_EQ(poll(&pfd, 1, 0), 1, "poll: readable with events queued");
	CHECK_ERR(read(in, buf, sizeof(struct inotify_event)), EINVAL, "a buffer too small for the event is EINVAL");
	CHECK_EQ(read(in, buf, sizeof buf), sizeof(struct inotify_event) + 16, "a big enough one gets it");
	CHECK_EQ(poll(&pfd, 1, 0), 0, "poll: not readable once drained");

	/* Errors. */
	CHECK_ERR(inotify_add_watch(in, dir, 0), EINVAL, "a mask with no events is EINVAL");
	CHECK_ERR(inotify_add_watch(in, file, IN_MODIFY | IN_ONLYDIR), ENOTDIR, "IN_ONLYDIR on a file is ENOTDIR");
	CHECK_ERR(inotify_add_watch(in, "/dev/shm/no/such", IN_MODIFY), ENOENT, "a missing path is ENOENT");
	int nfd = open("/dev/null", O_RDONLY);
	CHECK_ERR(inotify_add_watch(nfd, dir, IN_MODIFY), EINVAL, "a non-inotify descriptor is EINVAL");
	CHECK_ERR(inotify_rm_watch(in, 12345), EINVAL, "removing an unknown watch is EINVAL");
	CHECK_ERR(inotify_add_watch(-1, dir, IN_MODIFY), EBADF, "a bad descriptor is EBADF");
	close(nfd);

	close(in);
	unlink(file);
	rmdir(dir);
	return check_done();
}
