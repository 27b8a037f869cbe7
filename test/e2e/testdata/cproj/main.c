#include <stdio.h>
#include "calc.h"
int main(void) {
	printf("result %d\n", add(mul(5, 8), 2));
	return 0;
}
