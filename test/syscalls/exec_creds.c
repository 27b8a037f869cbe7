/*
 * exec_creds.c: what execve(2) does to credentials. Set-user-ID and
 * set-group-ID programs change the effective and saved IDs and set
 * AT_SECURE (set-group-ID needs group execute), no_new_privs disables
 * them, execute permission is checked against the caller's IDs, and
 * capabilities follow Linux's rules for files without file capabilities:
 * root gets its bounding set back, others lose theirs.
 *
 * The program copies itself to /var/tmp and runs the copy with the
 * argument "report", which prints its IDs, AT_SECURE and capabilities.
 */
#include "check.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <grp.h>

static char copy[64];

struct caps {
	unsigned long long eff, prm;
};

static struct caps getcaps(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];
	struct caps c = {0, 0};
	if (syscall(SYS_capget, &h, d) == 0) {
		c.eff = d[0].effective | (unsigned long long)d[1].effective << 32;
		c.prm = d[0].permitted | (unsigned long long)d[1].permitted << 32;
	}
	return c;
}

static int report(void)
{
	uid_t r, e, s;
	gid_t gr, ge, gs;
	getresuid(&r, &e, &s);
	getresgid(&gr, &ge, &gs);
	struct caps c = getcaps();
	printf("%u %u %u %u %u %u %lu %llx %llx\n", r, e, s, gr, ge, gs, getauxval(AT_SECURE), c.eff, c.prm);
	return 0;
}

/*
 * run_copy runs the copy in a child that first becomes uid/gid (unless
 * uid is 0), optionally with no_new_privs, and returns what it printed,
 * or "exec failed: <errno name>".
 */
static char out[256];

static const char *run_copy_x(uid_t uid, int nnp, int drop_eff)
{
	int p[2];
	pipe(p);
	pid_t c = fork();
	if (c == 0) {
		dup2(p[1], 1);
		if (uid != 0) {
			setgroups(0, NULL);
			if (setresgid(uid, uid, uid) != 0 || setresuid(uid, uid, uid) != 0)
				_exit(20);
		}
		if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
			_exit(21);
		if (drop_eff) {
			struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
			struct __user_cap_data_struct d[2];
			syscall(SYS_capget, &h, d);
			d[0].effective = d[1].effective = 0;
			if (syscall(SYS_capset, &h, d) != 0)
				_exit(22);
		}
		execl(copy, copy, "report", (char *)NULL);
		printf("exec failed: %s\n", strerrorname_np(errno));
		_exit(0);
	}
	close(p[1]);
	int n = read(p[0], out, sizeof out - 1);
	out[n > 0 ? n : 0] = 0;
	if (n > 0 && out[n - 1] == '\n')
		out[n - 1] = 0;
	close(p[0]);
	waitpid(c, NULL, 0);
	return out;
}

static const char *run_copy(uid_t uid, int nnp)
{
	return run_copy_x(uid, nnp, 0);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "report") == 0)
		return report();

	snprintf(copy, sizeof copy, "/var/tmp/exec_creds.%d", getpid());
	int in = open("/proc/self/exe", O_RDONLY), o = open(copy, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	REQUIRE(in >= 0 && o >= 0, "open /proc/self/exe and a copy in /var/tmp");
	char buf[65536];
	ssize_t n;
	while ((n = read(in, buf, sizeof buf)) > 0)
		REQUIRE(write(o, buf, n) == n, "copy the program");
	close(in);
	close(o);
	struct caps mine = getcaps();
	char want[256];

	REQUIRE(chown(copy, 65534, 65534) == 0, "chown the copy to 65534:65534");
	REQUIRE(chmod(copy, 04755) == 0, "make it set-user-ID");
	CHECK_STR(run_copy(1000, 0), "1000 65534 65534 1000 1000 1000 1 0 0",
		  "a set-user-ID program runs with the owner as effective and saved UID, AT_SECURE, no capabilities");
	CHECK_STR(run_copy(1000, 1), "1000 1000 1000 1000 1000 1000 0 0 0",
		  "under no_new_privs the set-user-ID bit does nothing");

	REQUIRE(chmod(copy, 02755) == 0, "make it set-group-ID");
	CHECK_STR(run_copy(1000, 0), "1000 1000 1000 1000 65534 65534 1 0 0",
		  "a set-group-ID program runs with the group as effective and saved GID");
	REQUIRE(chmod(copy, 02745) == 0, "set-group-ID without group execute");
	CHECK_STR(run_copy(1000, 0), "1000 1000 1000 1000 1000 1000 0 0 0",
		  "set-group-ID without group execute is not a set-group-ID program");

	REQUIRE(chown(copy, 0, 0) == 0 && chmod(copy, 0700) == 0, "a root-owned program only root may execute");
	CHECK_STR(run_copy(1000, 0), "exec failed: EACCES", "others get EACCES");
	REQUIRE(chmod(copy, 0701) == 0, "let others execute it");
	CHECK_STR(run_copy(1000, 0), "1000 1000 1000 1000 1000 1000 0 0 0", "now they may, and keep no capabilities");
	REQUIRE(chmod(copy, 0600) == 0, "no execute bit at all");
	CHECK_STR(run_copy(0, 0), "exec failed: EACCES", "not even root may execute a file without an execute bit");

	REQUIRE(chmod(copy, 0755) == 0, "executable again");
	snprintf(want, sizeof want, "0 0 0 0 0 0 0 %llx %llx", mine.prm, mine.prm);
	CHECK_STR(run_copy(0, 0), want, "root keeps its capabilities over exec");

	CHECK_STR(run_copy_x(0, 0, 1), want, "root with an emptied effective set gets it back over exec");

	unlink(copy);
	return check_done();
}
