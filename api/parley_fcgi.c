#include <stdio.h>
int main(void) { fputs("parley.fcgi: not built yet\n", stderr); return 1; }
