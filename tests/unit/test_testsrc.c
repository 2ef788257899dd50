#include "tests/unit/test.h"
int main(void) { TEST_SKIP("not written yet"); }
