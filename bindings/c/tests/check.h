/*
 * check.h: a tiny test framework for negsync's C tests (libc only).
 *
 *   static void test_something(void) { CHECK(1 + 1 == 2); CHECK_EQ(code, NEGSYNC_OK); }
 *   int main(int argc, char **argv) {
 *       check_init(argc, argv);          // optional: run only the tests named on the command line
 *       CHECK_RUN(test_something);
 *       return check_summary();          // prints "N passed, N failed"; non-zero if any failed
 *   }
 *
 * A test passes when none of its CHECKs failed. A failed CHECK prints file:line, the test's name
 * and the expression, and the test goes on; REQUIRE does the same and then returns from the test
 * (for checks whose failure would make the rest crash). Counts in the summary are tests.
 */
#ifndef NEGSYNC_CHECK_H
#define NEGSYNC_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*check_test_fn)(void);

static struct {
    const char *current;      /* name of the running test */
    unsigned current_failures; /* failed checks in the running test */
    unsigned passed;           /* tests without a failed check */
    unsigned failed;           /* tests with at least one */
    int argc;                  /* names given on the command line select tests */
    char **argv;
} check_state;

/* Remembers the command line: when it names tests, only those run. */
static inline void check_init(int argc, char **argv) {
    check_state.argc = argc;
    check_state.argv = argv;
}

/* Records one failed check (used by the macros). */
static inline void check_failed(const char *file, int line, const char *what) {
    check_state.current_failures++;
    fprintf(stderr, "%s:%d: %s: CHECK failed: %s\n", file, line,
            check_state.current ? check_state.current : "(no test)", what);
}

/* Records a failed equality check with both values (used by CHECK_EQ). */
static inline void check_failed_eq(const char *file, int line, const char *what,
                                   unsigned long long left, unsigned long long right) {
    check_failed(file, line, what);
    fprintf(stderr, "    left = %llu (0x%llx), right = %llu (0x%llx)\n", left, left, right, right);
}

/* True when `name` should run under the command line given to check_init. */
static inline int check_selected(const char *name) {
    int i;
    if (check_state.argc <= 1) {
        return 1;
    }
    for (i = 1; i < check_state.argc; i++) {
        if (strcmp(check_state.argv[i], name) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Runs one named test and counts it as passed or failed. */
static inline void check_run(const char *name, check_test_fn test) {
    if (!check_selected(name)) {
        return;
    }
    check_state.current = name;
    check_state.current_failures = 0;
    test();
    if (check_state.current_failures == 0) {
        check_state.passed++;
        printf("ok   %s\n", name);
    } else {
        check_state.failed++;
        printf("FAIL %s (%u failed checks)\n", name, check_state.current_failures);
    }
    fflush(stdout);
    check_state.current = NULL;
}

/* Prints the final "N passed, N failed" line; returns the process exit status. */
static inline int check_summary(void) {
    printf("%u passed, %u failed\n", check_state.passed, check_state.failed);
    fflush(stdout);
    return check_state.failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* Records a failure when `expr` is false; the test goes on. */
#define CHECK(expr)                                          \
    do {                                                     \
        if (!(expr)) {                                       \
            check_failed(__FILE__, __LINE__, #expr);         \
        }                                                    \
    } while (0)

/* Records a failure, printing both integer values, when `left != right`; the test goes on. */
#define CHECK_EQ(left, right)                                                              \
    do {                                                                                   \
        unsigned long long check_left_ = (unsigned long long)(left);                       \
        unsigned long long check_right_ = (unsigned long long)(right);                     \
        if (check_left_ != check_right_) {                                                 \
            check_failed_eq(__FILE__, __LINE__, #left " == " #right, check_left_,          \
                            check_right_);                                                 \
        }                                                                                  \
    } while (0)

/* Records a failure when `expr` is false and returns from the (void) test function. */
#define REQUIRE(expr)                                        \
    do {                                                     \
        if (!(expr)) {                                       \
            check_failed(__FILE__, __LINE__, #expr);         \
            return;                                          \
        }                                                    \
    } while (0)

/* Runs the test function `fn` under its own name. */
#define CHECK_RUN(fn) check_run(#fn, fn)

#endif /* NEGSYNC_CHECK_H */
