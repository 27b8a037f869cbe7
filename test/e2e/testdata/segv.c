// segv dereferences an unmapped address.
#include <stdio.h>

int main(void) {
	fflush(stdout);
	return *(volatile int *)16;
}
