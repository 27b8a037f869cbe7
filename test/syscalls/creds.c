/*
 * creds.c checks credentials and their capabilities against the Linux man
 * pages (setresuid(2), setreuid(2), setuid(2), setgroups(2), setfsuid(2),
 * capget(2), prctl(2), capabilities(7), credentials(7)): the uid and gid
 * setters as root and unprivileged, the capability sets following uid
 * changes (with and without PR_SET_KEEPCAPS, and for the filesystem uid),
 * capset rules, the bounding set, and the prctl name, no_new_privs, dumpable
 * and keepcaps attributes.
 *
 * The program must run as root, but it may hold any capability sets: full
 * root natively, the container default set (no CAP_SYS_ADMIN,
 * CAP_DAC_READ_SEARCH, ...) in a sandbox. main reads the sets it started
 * with (capget, PR_CAPBSET_READ) and every check whose outcome depends on
 * them expects what Linux does for those sets: the success path where the
 * capability is held, the exact error and nothing changed where it is not.
 * Every scenario runs in its own child, since it gives privileges away; the
 * child's checks are added to the totals.
 */
#include "check.h"

#include <grp.h>
#include <linux/capability.h>
#include <stdint.h>
#include <sys/fsuid.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static int *child_counts;

/* in_child runs fn in a child and adds the child's check counts to ours. */
static void in_child(void (*fn)(void), const char *name)
{
	char what[160];
	int status = -1;

	child_counts[0] = child_counts[1] = 0;
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		check_total = check_failed = 0;
		fn();
		child_counts[0] = check_total;
		child_counts[1] = check_failed;
		_exit(0);
	}
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	check_total += child_counts[0];
	check_failed += child_counts[1];
	snprintf(what, sizeof(what), "%s: the child ran to completion", name);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, what);
}

#define BIT(c) (1ULL << (c))

struct capsets {
	uint64_t eff, perm, inh;
};

static int capget_(pid_t pid, struct capsets *c)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, pid };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d) != 0)
		return -1;
	c->eff = d[0].effective | (uint64_t)d[1].effective << 32;
	c->perm = d[0].permitted | (uint64_t)d[1].permitted << 32;
	c->inh = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
	return 0;
}

static int capset_(uint64_t eff, uint64_t perm, uint64_t inh)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = {
		{ (uint32_t)eff, (uint32_t)perm, (uint32_t)inh },
		{ (uint32_t)(eff >> 32), (uint32_t)(perm >> 32), (uint32_t)(inh >> 32) },
	};

	return syscall(SYS_capset, &h, d);
}

/*
 * The capability sets and the bounding set the program started with (read
 * by main before any child runs). Each scenario's child starts with them.
 */
static struct capsets start;
static uint64_t start_bset;

/* held says whether the program started with capability c effective. */
static int held(int c)
{
	return (start.eff & BIT(c)) != 0;
}

static const char *const cap_names[] = {
	"chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid",
	"setpcap", "linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw",
	"ipc_lock", "ipc_owner", "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct",
	"sys_admin", "sys_boot", "sys_nice", "sys_resource", "sys_time", "sys_tty_config", "mknod",
	"lease", "audit_write", "audit_control", "setfcap", "mac_override", "mac_admin", "syslog",
	"wake_alarm", "block_suspend", "audit_read", "perfmon", "bpf", "checkpoint_restore",
};
#define NCAPNAMES ((int)(sizeof(cap_names) / sizeof(cap_names[0])))

/* note_caps prints a "# note" line naming the capabilities of mask (held or not). */
static void note_caps(const char *what, uint64_t mask, int want)
{
	printf("# note: %s:", what);
	int any = 0;
	for (int c = 0; c < NCAPNAMES; c++) {
		if (!!(mask & BIT(c)) == want) {
			printf(" %s", cap_names[c]);
			any = 1;
		}
	}
	printf("%s\n", any ? "" : " (none)");
}

static int resuid_is(uid_t r, uid_t e, uid_t s)
{
	uid_t a, b, c;

	return getresuid(&a, &b, &c) == 0 && a == r && b == e && c == s;
}

static int resgid_is(gid_t r, gid_t e, gid_t s)
{
	gid_t a, b, c;

	return getresgid(&a, &b, &c) == 0 && a == r && b == e && c == s;
}

static void ids_setres(void)
{
	struct capsets c;

	CHECK(resuid_is(0, 0, 0), "getresuid of root is 0, 0, 0");
	CHECK(resgid_is(0, 0, 0), "getresgid of root is 0, 0, 0");
	gid_t list[3] = { 10, 20, 30 }, got[64], before[64];
	if (held(CAP_SETGID)) {
		CHECK_EQ(setresgid(1000, 1001, 1002), 0, "setresgid as root");
		CHECK(resgid_is(1000, 1001, 1002), "getresgid shows the real, effective and saved gids set");
		CHECK(getgid() == 1000 && getegid() == 1001, "getgid and getegid agree");
		CHECK_EQ(setresgid(-1, -1, -1), 0, "setresgid(-1, -1, -1) changes nothing");
		CHECK(resgid_is(1000, 1001, 1002), "the gids are unchanged");

		CHECK_EQ(setgroups(3, list), 0, "setgroups as root");
		CHECK_EQ(getgroups(0, NULL), 3, "getgroups counts the supplementary groups");
		CHECK(getgroups(64, got) == 3 && got[0] == 10 && got[1] == 20 && got[2] == 30, "getgroups returns them");
		CHECK_ERR(setgroups(65537, list), EINVAL, "setgroups with more than NGROUPS_MAX groups is EINVAL");
	} else {
		CHECK_ERR(setresgid(1000, 1001, 1002), EPERM, "setresgid to new gids without CAP_SETGID is EPERM");
		CHECK(resgid_is(0, 0, 0), "the gids are unchanged");
		CHECK_EQ(setresgid(-1, -1, -1), 0, "setresgid(-1, -1, -1) changes nothing");
		CHECK(resgid_is(0, 0, 0), "the gids are unchanged");

		int n = getgroups(64, before);
		CHECK_ERR(setgroups(3, list), EPERM, "setgroups without CAP_SETGID is EPERM");
		CHECK(n >= 0 && getgroups(64, got) == n && memcmp(got, before, n * sizeof(gid_t)) == 0,
		      "the supplementary groups are unchanged");
		CHECK_ERR(setgroups(65537, list), EPERM,
			  "setgroups without CAP_SETGID is EPERM even with more than NGROUPS_MAX groups");
	}

	if (!held(CAP_SETUID)) {
		CHECK_ERR(setresuid(1000, 1001, 1002), EPERM, "setresuid to new uids without CAP_SETUID is EPERM");
		CHECK(resuid_is(0, 0, 0), "the uids are unchanged");
		CHECK_EQ(capget_(0, &c), 0, "capget");
		CHECK(c.eff == start.eff && c.perm == start.perm, "the capabilities are unchanged");
		return;
	}
	CHECK_EQ(setresuid(1000, 1001, 1002), 0, "setresuid as root");
	CHECK(resuid_is(1000, 1001, 1002), "getresuid shows the real, effective and saved uids set");
	CHECK(getuid() == 1000 && geteuid() == 1001, "getuid and geteuid agree");
	CHECK_EQ(capget_(0, &c), 0, "capget");
	CHECK(c.eff == 0 && c.perm == 0,
	      "with all uids nonzero and no keepcaps, the permitted and effective capabilities are cleared");
	CHECK_ERR(setresuid(0, -1, -1), EPERM, "unprivileged setresuid to an id not among the current ones is EPERM");
	CHECK_ERR(setresuid(-1, 5, -1), EPERM, "unprivileged setresuid of the effective uid to a new id is EPERM");
	CHECK_EQ(setresuid(1002, 1000, 1001), 0, "unprivileged setresuid may permute the current ids");
	CHECK(resuid_is(1002, 1000, 1001), "the ids are permuted");
	CHECK_EQ(setuid(1001), 0, "unprivileged setuid to the saved uid");
	CHECK(resuid_is(1002, 1001, 1001), "unprivileged setuid changes only the effective uid");
	CHECK_ERR(setuid(0), EPERM, "unprivileged setuid(0) is EPERM");
	if (held(CAP_SETGID))
		CHECK_ERR(setgid(0), EPERM, "unprivileged setgid(0) is EPERM");
	else /* the gids are still 0 */
		CHECK_ERR(setgid(1000), EPERM, "unprivileged setgid to a gid not among ours is EPERM");
	CHECK_ERR(setgroups(0, NULL), EPERM, "unprivileged setgroups is EPERM");
	CHECK_EQ(setfsuid(0), 1001, "setfsuid returns the previous fsuid (which follows the euid)");
	CHECK_EQ(setfsuid(-1), 1001, "unprivileged setfsuid(0) did not change the fsuid");
}

static void ids_setuid(void)
{
	struct capsets c;

	if (!held(CAP_SETUID)) {
		CHECK_ERR(setuid(1000), EPERM, "setuid to a uid not among ours without CAP_SETUID is EPERM");
		CHECK(resuid_is(0, 0, 0), "the uids are unchanged");
		CHECK_EQ(capget_(0, &c), 0, "capget");
		CHECK(c.eff == start.eff && c.perm == start.perm, "the capabilities are unchanged");
		return;
	}
	CHECK_EQ(setuid(1000), 0, "setuid as root");
	CHECK(resuid_is(1000, 1000, 1000), "setuid as root sets the real, effective and saved uids");
	CHECK_EQ(capget_(0, &c), 0, "capget");
	CHECK(c.eff == 0 && c.perm == 0, "after setuid to non-root the capabilities are gone");
	CHECK_ERR(setuid(0), EPERM, "setuid(0) after dropping root is EPERM");
	CHECK_ERR(setgid(1000), EPERM, "setgid without CAP_SETGID to a gid not among ours is EPERM");
}

static void ids_setreuid(void)
{
	struct capsets c;

	if (!held(CAP_SETUID)) {
		CHECK_ERR(setreuid(-1, 1001), EPERM, "setreuid to a uid not among ours without CAP_SETUID is EPERM");
		CHECK(resuid_is(0, 0, 0), "the uids are unchanged");
		CHECK_EQ(capget_(0, &c), 0, "capget");
		CHECK(c.eff == start.eff && c.perm == start.perm, "the capabilities are unchanged");
		return;
	}
	CHECK_EQ(setreuid(-1, 1001), 0, "setreuid(-1, 1001) as root");
	CHECK(resuid_is(0, 1001, 1001), "an effective uid different from the real one also sets the saved uid");
	CHECK_EQ(capget_(0, &c), 0, "capget");
	CHECK(c.eff == 0 && c.perm == start.perm,
	      "euid 0 to nonzero clears the effective set; with ruid 0 the permitted set stays");
	CHECK_EQ(setreuid(-1, 0), 0, "setreuid(-1, 0): an unprivileged process may set euid to its real uid");
	CHECK(resuid_is(0, 0, 1001), "the saved uid is kept when the euid goes back to the real uid");
	CHECK_EQ(capget_(0, &c), 0, "capget");
	CHECK(c.eff == c.perm && c.perm == start.perm, "euid nonzero to 0 copies the permitted set into the effective set");
	CHECK_EQ(setreuid(1000, 1001), 0, "setreuid(1000, 1001) as root");
	CHECK(resuid_is(1000, 1001, 1001), "setting the real uid sets the saved uid to the new euid");
	CHECK_EQ(capget_(0, &c), 0, "capget");
	CHECK(c.eff == 0 && c.perm == 0, "with all uids nonzero the capabilities are cleared");
	CHECK_ERR(setreuid(0, -1), EPERM, "unprivileged setreuid to a new real uid is EPERM");
	CHECK_EQ(setreuid(1001, -1), 0, "unprivileged setreuid may set the real uid to the effective uid");
	CHECK(resuid_is(1001, 1001, 1001), "the ids after setreuid(1001, -1)");
}

/* The capabilities that follow the filesystem uid (capabilities(7)). */
#define FS_CAPS                                                                                          \
	(BIT(CAP_CHOWN) | BIT(CAP_DAC_OVERRIDE) | BIT(CAP_DAC_READ_SEARCH) | BIT(CAP_FOWNER) | BIT(CAP_FSETID) | \
	 BIT(CAP_LINUX_IMMUTABLE) | BIT(CAP_MAC_OVERRIDE) | BIT(CAP_MKNOD))

static void ids_fsuid(void)
{
	struct capsets c;

	if (held(CAP_SETUID)) {
		CHECK_EQ(setfsuid(1234), 0, "setfsuid returns the previous fsuid, 0");
		CHECK_EQ(setfsuid(1234), 1234, "setfsuid returns the previous fsuid, 1234");
		CHECK(resuid_is(0, 0, 0), "setfsuid leaves the other uids alone");
		CHECK_EQ(capget_(0, &c), 0, "capget");
		CHECK(c.eff == (start.eff & ~FS_CAPS) && c.perm == start.perm,
		      "fsuid 0 to nonzero clears only the filesystem capabilities from the effective set");
		CHECK_EQ(setfsuid(0), 1234, "setfsuid(0) returns 1234");
		CHECK_EQ(capget_(0, &c), 0, "capget");
		CHECK(c.eff == ((start.eff & ~FS_CAPS) | (start.perm & FS_CAPS)) && c.perm == start.perm,
		      "fsuid back to 0 restores the filesystem capabilities that are in the permitted set");
	} else {
		CHECK_EQ(setfsuid(1234), 0, "setfsuid returns the previous fsuid, 0");
		CHECK_EQ(setfsuid(1234), 0, "setfsuid to a uid not among ours without CAP_SETUID leaves the fsuid at 0");
		CHECK_EQ(capget_(0, &c), 0, "capget");
		CHECK(c.eff == start.eff && c.perm == start.perm, "the capabilities are unchanged");
	}
	if (held(CAP_SETGID)) {
		CHECK_EQ(setfsgid(555), 0, "setfsgid returns the previous fsgid, 0");
		CHECK_EQ(setfsgid(555), 555, "setfsgid returns the previous fsgid, 555");
		CHECK(resgid_is(0, 0, 0), "setfsgid leaves the other gids alone");
		CHECK_EQ(setfsgid(-1), 555, "setfsgid(-1) is refused and returns the current fsgid");
	} else {
		CHECK_EQ(setfsgid(555), 0, "setfsgid returns the previous fsgid, 0");
		CHECK_EQ(setfsgid(555), 0, "setfsgid to a gid not among ours without CAP_SETGID leaves the fsgid at 0");
		CHECK(resgid_is(0, 0, 0), "setfsgid leaves the other gids alone");
	}
	if (held(CAP_SETUID)) {
		CHECK_EQ(setresuid(-1, 777, -1), 0, "setresuid of the effective uid");
		CHECK_EQ(setfsuid(-1), 777, "changing the effective uid also sets the fsuid");
	} else {
		CHECK_ERR(setresuid(-1, 777, -1), EPERM, "setresuid of the effective uid without CAP_SETUID is EPERM");
		CHECK_EQ(setfsuid(-1), 0, "the fsuid is still 0");
	}
}

static void caps_set(void)
{
	struct capsets c, own;
	struct __user_cap_header_struct h = { 0, 0 };
	struct __user_cap_data_struct d[2];

	CHECK_ERR(syscall(SYS_capget, &h, d), EINVAL, "capget with an unknown version is EINVAL");
	CHECK_EQ(h.version, _LINUX_CAPABILITY_VERSION_3, "capget with an unknown version writes the preferred version");
	CHECK_EQ(capget_(0, &own), 0, "capget");
	CHECK(own.eff == own.perm, "root's effective set equals its permitted set");
	CHECK(own.eff == start.eff && own.perm == start.perm && own.inh == start.inh,
	      "a child of fork has its parent's capability sets");
	CHECK_EQ(capget_(getppid(), &c), 0, "capget of another process");
	CHECK(c.eff == start.eff && c.perm == start.perm && c.inh == start.inh,
	      "capget of another process returns its sets");
	CHECK_ERR(capget_(0x3fffffff, &c), ESRCH, "capget of a missing process is ESRCH");

	if (held(CAP_SETUID)) {
		CHECK_EQ(capset_(start.eff & ~BIT(CAP_SETUID), start.perm, start.inh), 0,
			 "capset drops CAP_SETUID from the effective set");
		CHECK_EQ(capget_(0, &c), 0, "capget");
		CHECK(!(c.eff & BIT(CAP_SETUID)) && (c.perm & BIT(CAP_SETUID)),
		      "capget shows it effective-dropped, still permitted");
		CHECK_ERR(setuid(1000), EPERM, "setuid to another uid needs CAP_SETUID in the effective set");
		CHECK(resuid_is(0, 0, 0), "the uids are unchanged");
		CHECK_EQ(capset_(start.eff, start.perm, start.inh), 0, "capset raises it again from the permitted set");
		CHECK_EQ(capset_(start.eff & ~BIT(CAP_SETUID), start.perm & ~BIT(CAP_SETUID), start.inh), 0,
			 "capset drops CAP_SETUID from the permitted set");
		CHECK_ERR(capset_(start.eff, start.perm & ~BIT(CAP_SETUID), start.inh), EPERM,
			  "capset of an effective set beyond the permitted set is EPERM");
		CHECK_ERR(capset_(start.eff, start.perm, start.inh), EPERM, "capset cannot add back to the permitted set");
	} else {
		CHECK_ERR(setuid(1000), EPERM, "setuid to another uid without CAP_SETUID is EPERM");
		CHECK(resuid_is(0, 0, 0), "the uids are unchanged");
		CHECK_ERR(capset_(start.eff, start.perm | BIT(CAP_SETUID), start.inh), EPERM,
			  "capset cannot add CAP_SETUID to the permitted set");
		CHECK_ERR(capset_(start.eff | BIT(CAP_SETUID), start.perm, start.inh), EPERM,
			  "capset of an effective set beyond the permitted set is EPERM");
	}
	CHECK_EQ(capget_(0, &c), 0, "capget");
	CHECK(c.eff == (start.eff & ~BIT(CAP_SETUID)) && c.perm == (start.perm & ~BIT(CAP_SETUID)) && c.inh == start.inh,
	      "a refused capset changes nothing");

	struct __user_cap_header_struct other = { _LINUX_CAPABILITY_VERSION_3, getppid() };
	memset(d, 0, sizeof(d));
	CHECK_ERR(syscall(SYS_capset, &other, d), EPERM, "capset of another process is EPERM");
}

static void caps_keepcaps(void)
{
	struct capsets c;

	CHECK_EQ(prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0), 0, "PR_GET_KEEPCAPS starts 0");
	CHECK_EQ(prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0), 0, "PR_SET_KEEPCAPS 1");
	CHECK_EQ(prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0), 1, "PR_GET_KEEPCAPS reads back 1");
	CHECK_ERR(prctl(PR_SET_KEEPCAPS, 2, 0, 0, 0), EINVAL, "PR_SET_KEEPCAPS 2 is EINVAL");
	if (!held(CAP_SETUID)) {
		CHECK_ERR(setresuid(1000, 1000, 1000), EPERM, "setresuid to new uids without CAP_SETUID is EPERM");
		CHECK(resuid_is(0, 0, 0), "the uids are unchanged");
		CHECK_EQ(capget_(0, &c), 0, "capget");
		CHECK(c.eff == start.eff && c.perm == start.perm, "the capabilities are unchanged");
		return;
	}
	CHECK_EQ(setresuid(1000, 1000, 1000), 0, "setresuid to all nonzero with keepcaps set");
	CHECK_EQ(capget_(0, &c), 0, "capget");
	CHECK(c.perm == start.perm && c.eff == 0,
	      "keepcaps keeps the permitted set; the effective set is still cleared");
	CHECK_EQ(capset_(c.perm, c.perm, c.inh), 0, "capset raises the effective set from the kept permitted set");
	CHECK_EQ(setresuid(0, 0, 0), 0, "with CAP_SETUID effective again, setresuid back to root works");
	CHECK(resuid_is(0, 0, 0), "the uids are root again");
}

static void caps_bounding(void)
{
	struct capsets c;

	if (start_bset & BIT(CAP_SETUID))
		CHECK_EQ(prctl(PR_CAPBSET_READ, CAP_SETUID, 0, 0, 0), 1,
			 "PR_CAPBSET_READ: CAP_SETUID is in the bounding set");
	else
		CHECK_EQ(prctl(PR_CAPBSET_READ, CAP_SETUID, 0, 0, 0), 0,
			 "PR_CAPBSET_READ: CAP_SETUID is not in the bounding set");
	CHECK_ERR(prctl(PR_CAPBSET_READ, 200, 0, 0, 0), EINVAL, "PR_CAPBSET_READ of an unknown capability is EINVAL");

	if (!held(CAP_SETPCAP)) {
		CHECK_ERR(prctl(PR_CAPBSET_DROP, CAP_SETUID, 0, 0, 0), EPERM,
			  "PR_CAPBSET_DROP without CAP_SETPCAP is EPERM");
		CHECK_EQ(prctl(PR_CAPBSET_READ, CAP_SETUID, 0, 0, 0), !!(start_bset & BIT(CAP_SETUID)),
			 "PR_CAPBSET_READ shows the bounding set unchanged");
		/* Without CAP_SETPCAP, only inheritable or permitted capabilities may become inheritable. */
		for (int cap = 0; cap < NCAPNAMES; cap++) {
			if ((start.inh | start.perm) & BIT(cap))
				continue;
			char what[160];
			snprintf(what, sizeof(what),
				 "capset without CAP_SETPCAP cannot add to the inheritable set CAP_%s, which is not permitted",
				 cap_names[cap]);
			CHECK_ERR(capset_(start.eff, start.perm, start.inh | BIT(cap)), EPERM, what);
			break;
		}
		CHECK_EQ(capget_(0, &c), 0, "capget");
		CHECK(c.eff == start.eff && c.perm == start.perm && c.inh == start.inh, "the capabilities are unchanged");
		return;
	}

	CHECK_EQ(prctl(PR_CAPBSET_DROP, CAP_SETUID, 0, 0, 0), 0, "PR_CAPBSET_DROP CAP_SETUID");
	CHECK_EQ(prctl(PR_CAPBSET_READ, CAP_SETUID, 0, 0, 0), 0, "PR_CAPBSET_READ shows CAP_SETUID dropped");
	CHECK_EQ(capget_(0, &c), 0, "capget");
	CHECK(c.eff == start.eff && c.perm == start.perm && c.inh == start.inh,
	      "dropping from the bounding set leaves the permitted, effective and inheritable sets alone");
	CHECK_EQ(capset_(c.eff, c.perm, c.inh & ~BIT(CAP_SETUID)), 0,
		 "capset may remove CAP_SETUID from the inheritable set (where it may have been)");
	CHECK_ERR(capset_(c.eff, c.perm, c.inh | BIT(CAP_SETUID)), EPERM,
		  "capset cannot add to the inheritable set a capability outside the bounding set");
	c.inh &= ~BIT(CAP_SETUID);
	if ((start_bset | c.inh) & BIT(CAP_SETGID))
		CHECK_EQ(capset_(c.eff, c.perm, c.inh | BIT(CAP_SETGID)), 0,
			 "capset adds to the inheritable set a bounding capability (with CAP_SETPCAP)");
	else
		CHECK_ERR(capset_(c.eff, c.perm, c.inh | BIT(CAP_SETGID)), EPERM,
			  "capset cannot add to the inheritable set CAP_SETGID, which is outside the bounding set");
	pid_t pid = fork();
	if (pid == 0)
		_exit(prctl(PR_CAPBSET_READ, CAP_SETUID, 0, 0, 0));
	int status = -1;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a child of fork inherits the bounding set");
	CHECK_EQ(capset_(c.eff & ~BIT(CAP_SETPCAP), c.perm, c.inh), 0,
		 "capset drops CAP_SETPCAP from the effective set");
	CHECK_ERR(prctl(PR_CAPBSET_DROP, CAP_CHOWN, 0, 0, 0), EPERM, "PR_CAPBSET_DROP without CAP_SETPCAP is EPERM");
	CHECK_EQ(prctl(PR_CAPBSET_READ, CAP_CHOWN, 0, 0, 0), !!(start_bset & BIT(CAP_CHOWN)),
		 "the refused PR_CAPBSET_DROP left CAP_CHOWN's bit alone");
}

static void prctl_attrs(void)
{
	char name[32];

	CHECK_EQ(prctl(PR_SET_NAME, "palisade-creds", 0, 0, 0), 0, "PR_SET_NAME");
	memset(name, 'x', sizeof(name));
	CHECK_EQ(prctl(PR_GET_NAME, name, 0, 0, 0), 0, "PR_GET_NAME");
	CHECK_STR(name, "palisade-creds", "PR_GET_NAME returns the name set");
	CHECK_EQ(prctl(PR_SET_NAME, "0123456789abcdefghij", 0, 0, 0), 0, "PR_SET_NAME of a 20-byte name");
	prctl(PR_GET_NAME, name, 0, 0, 0);
	CHECK_STR(name, "0123456789abcde", "names are truncated to 15 bytes");

	CHECK_ERR(prctl(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0), EINVAL, "PR_SET_NO_NEW_PRIVS 0 is EINVAL");
	CHECK_ERR(prctl(PR_SET_NO_NEW_PRIVS, 1, 1, 0, 0), EINVAL, "PR_SET_NO_NEW_PRIVS with a nonzero arg3 is EINVAL");
	CHECK_EQ(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0, "PR_SET_NO_NEW_PRIVS 1");
	CHECK_EQ(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 1, "PR_GET_NO_NEW_PRIVS reads back 1");
	CHECK_ERR(prctl(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0), EINVAL, "no_new_privs cannot be unset");
	pid_t pid = fork();
	if (pid == 0)
		_exit(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	int status = -1;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1, "a child of fork inherits no_new_privs");

	CHECK_EQ(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1, "PR_GET_DUMPABLE of an ordinary process is 1");
	CHECK_EQ(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), 0, "PR_SET_DUMPABLE 0");
	CHECK_EQ(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0, "PR_GET_DUMPABLE reads back 0");
	CHECK_EQ(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), 0, "PR_SET_DUMPABLE 1");
	CHECK_EQ(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1, "PR_GET_DUMPABLE reads back 1");
	CHECK_ERR(prctl(PR_SET_DUMPABLE, 2, 0, 0, 0), EINVAL, "PR_SET_DUMPABLE 2 is EINVAL");
	CHECK_ERR(prctl(12345, 0, 0, 0, 0), EINVAL, "an unknown prctl option is EINVAL");
}

int main(void)
{
	REQUIRE(geteuid() == 0, "the program runs as root");
	child_counts = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	REQUIRE(child_counts != MAP_FAILED, "shared anonymous mmap");

	/* The capabilities held decide which path each check expects. */
	REQUIRE(capget_(0, &start) == 0, "capget of the starting capabilities");
	for (int cap = 0; cap < 64; cap++) {
		int r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
		if (r < 0)
			break;
		if (r)
			start_bset |= BIT(cap);
	}
	printf("# note: capabilities at start: effective %#llx, permitted %#llx, inheritable %#llx, bounding %#llx\n",
	       (unsigned long long)start.eff, (unsigned long long)start.perm, (unsigned long long)start.inh,
	       (unsigned long long)start_bset);
	note_caps("effective capabilities not held", start.eff, 0);
	printf("# note: paths: CAP_SETUID %s, CAP_SETGID %s, CAP_SETPCAP %s\n", held(CAP_SETUID) ? "held" : "NOT held",
	       held(CAP_SETGID) ? "held" : "NOT held", held(CAP_SETPCAP) ? "held" : "NOT held");

	in_child(ids_setres, "setresuid/setresgid");
	in_child(ids_setuid, "setuid");
	in_child(ids_setreuid, "setreuid");
	in_child(ids_fsuid, "setfsuid/setfsgid");
	in_child(caps_set, "capget/capset");
	in_child(caps_keepcaps, "PR_SET_KEEPCAPS");
	in_child(caps_bounding, "bounding set");
	in_child(prctl_attrs, "prctl attributes");
	return check_done();
}
