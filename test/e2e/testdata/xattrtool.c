/*
 * xattrtool is a tiny getfattr/setfattr for the e2e tests:
 *   xattrtool get PATH NAME         prints the value
 *   xattrtool set PATH NAME VALUE   sets it
 *   xattrtool list PATH             prints the names, one a line, sorted
 *   xattrtool rm PATH NAME          removes it
 * It exits 1 with the errno's name on stderr when the call fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int fail(const char *what)
{
	fprintf(stderr, "%s: %s\n", what, strerrorname_np(errno));
	return 1;
}

int main(int argc, char **argv)
{
	static char buf[65536];
	ssize_t n;

	if (argc == 4 && strcmp(argv[1], "get") == 0) {
		if ((n = getxattr(argv[2], argv[3], buf, sizeof buf)) < 0)
			return fail("getxattr");
		printf("%.*s\n", (int)n, buf);
	} else if (argc == 5 && strcmp(argv[1], "set") == 0) {
		if (setxattr(argv[2], argv[3], argv[4], strlen(argv[4]), 0) < 0)
			return fail("setxattr");
	} else if (argc == 4 && strcmp(argv[1], "rm") == 0) {
		if (removexattr(argv[2], argv[3]) < 0)
			return fail("removexattr");
	} else if (argc == 3 && strcmp(argv[1], "list") == 0) {
		char *names[1024];
		int k = 0;
		if ((n = listxattr(argv[2], buf, sizeof buf)) < 0)
			return fail("listxattr");
		for (ssize_t i = 0; i < n && k < 1024; i += strlen(buf + i) + 1)
			names[k++] = buf + i;
		qsort(names, k, sizeof *names, cmp);
		for (int i = 0; i < k; i++)
			puts(names[i]);
	} else {
		fprintf(stderr, "usage: xattrtool get|set|list|rm PATH [NAME [VALUE]]\n");
		return 2;
	}
	return 0;
}
