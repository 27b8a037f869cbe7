/*
 * mountflags.c: the per-mount flags of mount(2). On a noexec mount
 * execve is EACCES, mmap with PROT_EXEC is EPERM and mprotect adding
 * PROT_EXEC is EACCES; on a nodev mount device nodes can be made but not
 * opened (EACCES); on a nosuid mount a set-user-ID program runs without
 * changing the effective UID. /proc/self/mounts shows the flags, a
 * remount changes them, statvfs(3) reports them, and a bind mount keeps
 * the source mount's.
 *
 * The program copies itself onto a tmpfs it mounts under /var/tmp and
 * runs the copy with the argument "euid", which makes it exit with the
 * low byte of its effective UID.
 *
 * runsc-do-flags: --cap-add=SYS_ADMIN
 */
#include "check.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

static char base[64], mnt[96], bnd[96], prog[128], bprog[128], dev[128];

/* mount_opts copies the options field of dir's line in /proc/self/mounts
 * into out ("" if it isn't listed). */
static void mount_opts(const char *dir, char *out, size_t len)
{
	FILE *f = fopen("/proc/self/mounts", "r");
	char line[512], d[256], o[256];

	out[0] = 0;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "%*s %255s %*s %255s", d, o) == 2 && strcmp(d, dir) == 0)
			snprintf(out, len, "%s", o);
	if (f)
		fclose(f);
}

static int has_opt(const char *dir, const char *opt)
{
	char o[256], *tok, *save;

	mount_opts(dir, o, sizeof o);
	for (tok = strtok_r(o, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (strcmp(tok, opt) == 0)
			return 1;
	return 0;
}

/*
 * run_as executes path "euid" in a child running as uid (if not 0) and
 * returns its exit status, or 1000 + errno if execve failed.
 */
static int run_as(const char *path, uid_t uid)
{
	int p[2];
	pid_t pid;
	int st, err = 0;

	if (pipe2(p, O_CLOEXEC) != 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		if (uid != 0 && setresuid(uid, uid, uid) != 0)
			_exit(99);
		execl(path, path, "euid", (char *)NULL);
		err = errno;
		write(p[1], &err, sizeof err);
		_exit(98);
	}
	close(p[1]);
	if (read(p[0], &err, sizeof err) != sizeof err)
		err = 0;
	close(p[0]);
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	if (err)
		return 1000 + err;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 500 + WTERMSIG(st);
}

static int copy_self(const char *to)
{
	char buf[65536];
	int in = open("/proc/self/exe", O_RDONLY), out;
	ssize_t n;

	out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	if (in < 0 || out < 0)
		return -1;
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, n) != n)
			return -1;
	close(in);
	close(out);
	return fchmodat(AT_FDCWD, to, 04755, 0);
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "euid") == 0)
		return geteuid() & 0xff;

	snprintf(base, sizeof base, "/var/tmp/mountflags.%d", getpid());
	snprintf(mnt, sizeof mnt, "%s/m", base);
	snprintf(bnd, sizeof bnd, "%s/b", base);
	snprintf(prog, sizeof prog, "%s/prog", mnt);
	snprintf(bprog, sizeof bprog, "%s/prog", bnd);
	snprintf(dev, sizeof dev, "%s/null", mnt);
	REQUIRE(mkdir(base, 0755) == 0 && mkdir(mnt, 0755) == 0 && mkdir(bnd, 0755) == 0,
		"make scratch directories under /var/tmp");

	/* Every flag. */
	CHECK_OK(mount("none", mnt, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755"),
		 "mount a tmpfs nosuid,nodev,noexec");
	CHECK(has_opt(mnt, "nosuid") && has_opt(mnt, "nodev") && has_opt(mnt, "noexec"),
	      "/proc/self/mounts shows nosuid, nodev and noexec");
	{
		struct statvfs sv;

		CHECK_OK(statvfs(mnt, &sv), "statvfs the mount");
		CHECK_EQ(sv.f_flag & (ST_NOSUID | ST_NODEV | ST_NOEXEC | ST_RDONLY), ST_NOSUID | ST_NODEV | ST_NOEXEC,
			 "statvfs's f_flag says nosuid, nodev and noexec");
	}
	REQUIRE(copy_self(prog) == 0, "copy the program onto the mount, set-user-ID");
	CHECK_EQ(run_as(prog, 0), 1000 + EACCES, "noexec: execve is EACCES");
	{
		int fd = CHECK_OK(open(prog, O_RDONLY), "open the copy for reading");
		void *p;

		void *x = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
		int e = errno;

		CHECK(x == MAP_FAILED, "noexec: mmap with PROT_EXEC fails");
		CHECK_EQ(e, EPERM, "with EPERM");
		p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
		CHECK(p != MAP_FAILED, "noexec: mmap without PROT_EXEC works");
		CHECK_ERR(mprotect(p, 4096, PROT_READ | PROT_EXEC), EACCES,
			  "noexec: mprotect adding PROT_EXEC is EACCES");
		munmap(p, 4096);
		close(fd);
	}
	CHECK_OK(mknod(dev, S_IFCHR | 0666, makedev(1, 3)), "nodev: mknod of /dev/null's numbers works");
	CHECK_ERR(open(dev, O_RDWR), EACCES, "nodev: opening the device is EACCES");

	/* Remount with nosuid only. */
	CHECK_OK(mount(NULL, mnt, NULL, MS_REMOUNT | MS_NOSUID, NULL), "remount nosuid only");
	CHECK(has_opt(mnt, "nosuid") && !has_opt(mnt, "nodev") && !has_opt(mnt, "noexec"),
	      "/proc/self/mounts shows only nosuid");
	CHECK_EQ(run_as(prog, 0), 0, "exec works once noexec is gone");
	CHECK_EQ(run_as(prog, 65534), 65534 & 0xff, "nosuid: a set-user-ID root program keeps euid 65534");
	{
		int fd = CHECK_OK(open(dev, O_RDWR), "the device opens once nodev is gone");

		CHECK_EQ(write(fd, "x", 1), 1, "and is /dev/null");
		close(fd);
	}

	/* No flags. */
	CHECK_OK(mount(NULL, mnt, NULL, MS_REMOUNT, NULL), "remount without flags");
	CHECK(!has_opt(mnt, "nosuid"), "nosuid is gone");
	{
		struct statvfs sv;

		CHECK_OK(statvfs(mnt, &sv), "statvfs the mount");
		CHECK_EQ(sv.f_flag & (ST_NOSUID | ST_NODEV | ST_NOEXEC), 0, "statvfs's f_flag has none of them");
	}
	CHECK_EQ(run_as(prog, 65534), 0, "the set-user-ID root program runs with euid 0");

	/* A bind mount keeps the source mount's flags. */
	CHECK_OK(mount(NULL, mnt, NULL, MS_REMOUNT | MS_NOEXEC, NULL), "remount noexec");
	CHECK_OK(mount(mnt, bnd, NULL, MS_BIND, NULL), "bind mount it elsewhere");
	CHECK(has_opt(bnd, "noexec"), "the bind mount is noexec too");
	CHECK_EQ(run_as(bprog, 0), 1000 + EACCES, "exec through the bind mount is EACCES");

	CHECK_OK(umount2(bnd, 0), "umount the bind mount");
	CHECK_OK(umount2(mnt, 0), "umount the tmpfs");
	rmdir(bnd);
	rmdir(mnt);
	rmdir(base);
	return check_done();
}
