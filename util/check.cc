#include "util/check.h"

#include <stdio.h>
#include <stdlib.h>

namespace migemu::util {

void CheckFailed(const char* file, int line, const char* cond, const char* message) {
  ::fprintf(stderr, "%s:%d: check failed: %s: %s\n", file, line, cond, message);
  ::fflush(stderr);
  ::abort();
}

}  // namespace migemu::util
