/* Prints 1 if this build is sanitizer-instrumented, else 0: run_pytest.sh
 * then knows a plain python3 cannot load this build's extension. */
#include <stdio.h>

#include "tests/sanitizer_build.h"

int main(void) {
  printf("%d\n", RINGBUF_PYTHON_CANNOT_LOAD_LIB);
  return 0;
}
