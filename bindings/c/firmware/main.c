/* negsync on a microcontroller: two sets reconciled through the same C API as on Linux, checked,
 * with the figures a firmware engineer asks for (Rust code size, heap, allocations, stack).
 *
 * bindings/c/firmware/run.sh builds it for QEMU's mps2-an385 (Cortex-M3), mps2-an386 (Cortex-M4F),
 * lm3s6965evb (Cortex-M3, 64 KB of RAM), microbit (nRF51, Cortex-M0, 16 KB of RAM) and the
 * riscv32 virt machine (RV32IMC, picolibc), and for the host (-DNEGSYNC_HOST, linked with the
 * ordinary libnegsync.a): every run prints one "transcript" line per reconciliation, a digest of
 * every message exchanged and of the have/need lists, and run.sh requires them to be the same
 * on every target.
 *
 * The sets come from a seeded generator: `common` items in both, `only_a` and `only_b` items in
 * one each. Each ID carries its class and index in its last five bytes, so the expected have/need
 * lists are known by construction: the initiator (set A) must report exactly the only_a items as
 * have and exactly the only_b items as need, each once and byte for byte.
 *
 * Command line (on the boards: the semihosting arguments):
 *   main           the full check: API error paths, 500 items a side at frame limits 0, 1024 and
 *                  4096, edge cases, a larger set; prints the figures and checks the budgets.
 *   main small     the check for a 16 KB board: API error paths, 100 items a side at frame limit
 *                  200, edge cases; prints the figures for that size.
 *   main size N L [each]
 *                  one reconciliation of N items a side at frame limit L (default 4096), for the
 *                  search of the largest set that fits a board's RAM; with `each`, the initiator's
 *                  IDs are taken and forgotten each round (negsync_session_forget_ids).
 *   main panic     (built with -DPANIC_TEST) a deliberate panic inside negsync
 *                  (negsync_debug_panic): the panic hook must report it and end with status 3.
 * Exit status: 0 passed, 1 a check failed, 3 negsync panicked (running out of memory included),
 * 4 a CPU fault (startup.c).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "negsync.h"

#ifndef NEGSYNC_HOST
#include <malloc.h>

#include "board.h"
#endif

#ifndef BOARD
#define BOARD "host"
#endif

enum { EXIT_CHECK_FAILED = 1, EXIT_PANIC = 3 };

#define ITEM_BYTES (8 + NEGSYNC_ID_SIZE) /* what one item costs in a set: timestamp and ID */
#ifndef BATCH
#define BATCH 32 /* items per negsync_set_insert_many call (its arrays are on the stack) */
#endif
#ifndef MAX_DIFF
#define MAX_DIFF 8192 /* the most only_a or only_b items a case may have */
#endif
#define SEED 0x6e656773u

/* Budgets (docs/firmware.md), for 500 items a side at frame limit 1024: Rust .text at most 24 KB;
 * at most 2 allocator calls (malloc + realloc) per round trip and 16 more for the whole
 * reconciliation; at most 8 KB of heap beyond the two filled sets while both sessions run. */
#define BUDGET_RUST_TEXT (24u * 1024u)
#define BUDGET_ALLOCATIONS(round_trips) (2u * (round_trips) + 16u)
#define BUDGET_HEAP_BEYOND_SETS (8u * 1024u)

static int failures;

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            printf("FAILED %s:%d: %s\n", __FILE__, __LINE__, #cond);                     \
            ++failures;                                                                  \
        }                                                                                \
    } while (0)

/* Runs a negsync call that must succeed; on failure reports it and returns false. */
#define TRY(call)                                                                        \
    do {                                                                                 \
        negsync_result try_result_ = (call);                                             \
        if (try_result_ != NEGSYNC_OK) {                                                 \
            printf("FAILED %s:%d: %s -> %s\n", __FILE__, __LINE__, #call,                \
                   negsync_result_str(try_result_));                                     \
            ++failures;                                                                  \
            return false;                                                                \
        }                                                                                \
    } while (0)

/* ---- Heap accounting: every block negsync allocates goes through these (firmware only) ---- */

struct heap_counter {
    size_t current; /* usable bytes of the blocks negsync holds now */
    size_t peak;    /* the most it held at once (a moving realloc holds both blocks) */
    unsigned long mallocs, reallocs, frees, refused;
    bool refuse_large; /* when set, every request of refuse_from bytes or more is refused */
    size_t refuse_from;
};
static struct heap_counter heap;

#ifndef NEGSYNC_HOST
static void heap_add(size_t bytes)
{
    heap.current += bytes;
    if (heap.current > heap.peak) {
        heap.peak = heap.current;
    }
}

static void *count_malloc(size_t size)
{
    void *block = heap.refuse_large && size >= heap.refuse_from ? NULL : malloc(size);
    if (block == NULL) {
        ++heap.refused;
        return NULL;
    }
    ++heap.mallocs;
    heap_add(malloc_usable_size(block));
    return block;
}

static void *count_realloc(void *block, size_t size)
{
    if (block == NULL) {
        return count_malloc(size);
    }
    size_t before = malloc_usable_size(block);
    void *moved = heap.refuse_large && size >= heap.refuse_from ? NULL : realloc(block, size);
    if (moved == NULL) {
        ++heap.refused;
        return NULL;
    }
    ++heap.reallocs;
    if (moved != block) {
        heap_add(malloc_usable_size(moved)); /* old and new existed together during the copy */
        heap.current -= before;
    } else {
        heap.current -= before;
        heap_add(malloc_usable_size(moved));
    }
    return moved;
}

static void count_free(void *block)
{
    if (block != NULL) {
        heap.current -= malloc_usable_size(block);
        ++heap.frees;
        free(block);
    }
}

/* Without std, negsync cannot return NEGSYNC_PANIC: a panic (an allocation that failed
 * included) ends here, and the hook must not return. */
static void on_panic(const char *message, size_t length)
{
    printf("PANIC (negsync panic hook): %.*s\n", (int)length, message);
    printf("heap at the panic: %lu bytes held by negsync (peak %lu), %lu allocations refused\n",
           (unsigned long)heap.current, (unsigned long)heap.peak, heap.refused);
    exit(EXIT_PANIC);
}
#endif

/* ---- The sets, by construction ---- */

enum item_class { COMMON = 0, ONLY_A = 1, ONLY_B = 2 };

static uint32_t mix32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

/* Item `index` of a class: 27 pseudo-random bytes, the class, the index (big-endian), and a
 * timestamp within 30 days. */
static void make_item(uint32_t cls, uint32_t index, uint64_t *timestamp, uint8_t *id)
{
    uint32_t h = mix32(SEED ^ mix32(cls * 0x9e3779b9u + index));
    for (int i = 0; i < 27; ++i) {
        id[i] = (uint8_t)(mix32(h + (uint32_t)(i / 4)) >> (8 * (i % 4)));
    }
    id[27] = (uint8_t)cls;
    for (int i = 0; i < 4; ++i) {
        id[28 + i] = (uint8_t)(index >> (24 - 8 * i));
    }
    *timestamp = 1700000000u + mix32(h ^ 0x5bd1e995u) % (30u * 86400u);
}

static bool add_items(negsync_set *set, uint32_t cls, size_t count)
{
    uint64_t timestamps[BATCH];
    uint8_t ids[BATCH * NEGSYNC_ID_SIZE];
    for (size_t start = 0; start < count; start += BATCH) {
        size_t n = count - start < BATCH ? count - start : BATCH;
        for (size_t i = 0; i < n; ++i) {
            make_item(cls, (uint32_t)(start + i), &timestamps[i], &ids[i * NEGSYNC_ID_SIZE]);
        }
        TRY(negsync_set_insert_many(set, timestamps, ids, n));
    }
    return true;
}

static bool build_set(negsync_set **out, size_t common, uint32_t cls, size_t only)
{
    TRY(negsync_set_new(out));
    /* One exact allocation for the whole set: growing by doubling fragments a small heap. */
    TRY(negsync_set_reserve(*out, common + only));
    return add_items(*out, COMMON, common) && add_items(*out, cls, only);
}

/* Which IDs of each class were seen: [0] have (ONLY_A), [1] need (ONLY_B). */
static uint8_t seen_ids[2][MAX_DIFF / 8];

/* True when `id` is item 0..expected-1 of class `cls`; marks it in `seen` and says in *repeat
 * whether it was marked already. */
static bool mark_id(const uint8_t *id, uint32_t cls, size_t expected, uint8_t *seen, bool *repeat)
{
    uint32_t index = (uint32_t)id[28] << 24 | (uint32_t)id[29] << 16 | (uint32_t)id[30] << 8 |
                     id[31];
    uint64_t timestamp;
    uint8_t want[NEGSYNC_ID_SIZE];
    make_item(cls, index, &timestamp, want);
    if (id[27] != cls || index >= expected || memcmp(id, want, NEGSYNC_ID_SIZE) != 0) {
        return false;
    }
    *repeat = seen[index / 8] >> (index % 8) & 1;
    seen[index / 8] |= (uint8_t)(1u << (index % 8));
    return true;
}

/* True when `ids` holds exactly items 0..expected-1 of class `cls`, each once. */
static bool check_ids(const char *what, const uint8_t *ids, size_t count, uint32_t cls,
                      size_t expected)
{
    if (count != expected) {
        printf("FAILED: %s: %lu IDs, expected %lu\n", what, (unsigned long)count,
               (unsigned long)expected);
        ++failures;
        return false;
    }
    uint8_t *seen = seen_ids[cls == ONLY_B];
    memset(seen, 0, sizeof seen_ids[0]);
    for (size_t k = 0; k < count; ++k) {
        bool repeat;
        if (!mark_id(ids + k * NEGSYNC_ID_SIZE, cls, expected, seen, &repeat) || repeat) {
            printf("FAILED: %s: ID %lu is not one expected, or repeats\n", what,
                   (unsigned long)k);
            ++failures;
            return false;
        }
    }
    return true;
}

/* With `take_each_round`, the initiator's IDs are read as each round brings them and then
 * forgotten (negsync_session_forget_ids), as by a node that acts on IDs as they arrive: its lists
 * then hold one round's findings, not all the differences. A V1 peer can list an ID again after
 * a frame cut (the closing fingerprint reaches to the end), so a repeat of an earlier round's ID
 * is allowed; an ID that is not a difference is not. */
static bool take_each_round;

struct taken {
    size_t reported; /* IDs listed over all rounds, repeats included */
    size_t distinct; /* of which different */
};

static bool take_ids(const char *what, const uint8_t *ids, size_t count, uint32_t cls,
                     size_t expected, struct taken *taken)
{
    uint8_t *seen = seen_ids[cls == ONLY_B];
    for (size_t k = 0; k < count; ++k) {
        bool repeat;
        if (!mark_id(ids + k * NEGSYNC_ID_SIZE, cls, expected, seen, &repeat)) {
            printf("FAILED: %s: an ID taken in a round is not one expected\n", what);
            ++failures;
            return false;
        }
        taken->distinct += !repeat;
    }
    taken->reported += count;
    return true;
}

/* ---- One reconciliation ---- */

static uint32_t fnv1a(uint32_t hash, const uint8_t *bytes, size_t len)
{
    for (size_t i = 0; i < len; ++i) {
        hash = (hash ^ bytes[i]) * 16777619u;
    }
    return hash;
}

static uint32_t digest_message(uint32_t hash, const uint8_t *msg, size_t len)
{
    uint8_t length[4] = {(uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16),
                         (uint8_t)(len >> 24)};
    return fnv1a(fnv1a(hash, length, 4), msg, len);
}

struct outcome {
    size_t sets_bytes;             /* heap held by the two sets, sealed, before the sessions */
    size_t peak;                   /* the most negsync held at once during the whole case */
    unsigned long session_mallocs; /* malloc calls from session_new to session_free */
    unsigned long session_reallocs;
    unsigned long set_mallocs; /* malloc + realloc calls while the sets were filled */
    unsigned long rounds;      /* round trips */
};

static bool reconcile_case(size_t common, size_t only_a, size_t only_b, uint64_t limit,
                           struct outcome *out)
{
    memset(out, 0, sizeof *out);
    size_t baseline = heap.current;
    heap.peak = heap.current;
    unsigned long calls_before = heap.mallocs + heap.reallocs;

    negsync_set *a = NULL, *b = NULL;
    if (!build_set(&a, common, ONLY_A, only_a) || !build_set(&b, common, ONLY_B, only_b)) {
        return false;
    }
    CHECK(negsync_set_len(a) == common + only_a);
    CHECK(negsync_set_len(b) == common + only_b);
    out->set_mallocs = heap.mallocs + heap.reallocs - calls_before;
    out->sets_bytes = heap.current - baseline;

    unsigned long mallocs_before = heap.mallocs, reallocs_before = heap.reallocs;
    negsync_session *initiator = NULL, *responder = NULL;
    TRY(negsync_session_new(a, limit, &initiator));
    TRY(negsync_session_new(b, limit, &responder));

    const uint8_t *msg;
    size_t msg_len;
    uint32_t digest = 2166136261u;
    struct taken have_taken = {0, 0}, need_taken = {0, 0};
    bool taken_ok = true;
    memset(seen_ids, 0, sizeof seen_ids);
    unsigned rounds = 0;
    unsigned long sent = 0;
    bool done = false;
    TRY(negsync_session_initiate(initiator, &msg, &msg_len));
    while (!done) {
        if (++rounds > 1000) {
            printf("FAILED: no end after 1000 rounds\n");
            ++failures;
            return false;
        }
        digest = digest_message(digest, msg, msg_len);
        sent += msg_len;
        if (limit != 0) {
            CHECK(msg_len <= limit);
        }
        const uint8_t *reply;
        size_t reply_len;
        bool responder_done;
        TRY(negsync_session_reconcile(responder, msg, msg_len, &reply, &reply_len,
                                      &responder_done));
        CHECK(reply_len > 0);
        digest = digest_message(digest, reply, reply_len);
        sent += reply_len;
        TRY(negsync_session_reconcile(initiator, reply, reply_len, &msg, &msg_len, &done));
        if (take_each_round) {
            const uint8_t *ids;
            size_t count;
            TRY(negsync_session_have_ids(initiator, &ids, &count));
            taken_ok = take_ids("have", ids, count, ONLY_A, only_a, &have_taken) && taken_ok;
            digest = fnv1a(digest, ids, count * NEGSYNC_ID_SIZE);
            TRY(negsync_session_need_ids(initiator, &ids, &count));
            taken_ok = take_ids("need", ids, count, ONLY_B, only_b, &need_taken) && taken_ok;
            digest = fnv1a(digest, ids, count * NEGSYNC_ID_SIZE);
            TRY(negsync_session_forget_ids(initiator));
        }
        if (responder_done) {
            CHECK(done);
        }
    }
    CHECK(msg_len == 0 && msg == NULL);

    const uint8_t *have, *need;
    size_t have_count, need_count;
    TRY(negsync_session_have_ids(initiator, &have, &have_count));
    TRY(negsync_session_need_ids(initiator, &need, &need_count));
    negsync_session_stats stats;
    TRY(negsync_session_get_stats(initiator, &stats));
    CHECK(stats.complete && !stats.failed && stats.role == NEGSYNC_ROLE_INITIATOR);
    CHECK(stats.rounds == rounds);
    bool ok;
    if (take_each_round) {
        CHECK(have_count == 0 && need_count == 0); /* all taken and forgotten */
        CHECK(stats.have_count == have_taken.reported && stats.need_count == need_taken.reported);
        ok = taken_ok && have_taken.distinct == only_a && need_taken.distinct == only_b;
        if (!ok) {
            printf("FAILED: %lu of %lu have and %lu of %lu need IDs taken\n",
                   (unsigned long)have_taken.distinct, (unsigned long)only_a,
                   (unsigned long)need_taken.distinct, (unsigned long)only_b);
            ++failures;
        }
        have_count = have_taken.reported;
        need_count = need_taken.reported;
    } else {
        CHECK(stats.have_count == only_a && stats.need_count == only_b);
        ok = check_ids("have", have, have_count, ONLY_A, only_a) &&
             check_ids("need", need, need_count, ONLY_B, only_b);
        digest = fnv1a(digest, have, have_count * NEGSYNC_ID_SIZE);
        digest = fnv1a(digest, need, need_count * NEGSYNC_ID_SIZE);
    }

    negsync_session_free(initiator);
    negsync_session_free(responder);
    out->rounds = rounds;
    out->session_mallocs = heap.mallocs - mallocs_before;
    out->session_reallocs = heap.reallocs - reallocs_before;
    negsync_set_free(a);
    negsync_set_free(b);
    out->peak = heap.peak - baseline;
    CHECK(heap.current == baseline); /* everything negsync allocated came back */

    printf("transcript common=%lu only_a=%lu only_b=%lu limit=%lu: round_trips=%u bytes=%lu "
           "have=%lu need=%lu digest=%08lx\n",
           (unsigned long)common, (unsigned long)only_a, (unsigned long)only_b,
           (unsigned long)limit, rounds, sent, (unsigned long)have_count,
           (unsigned long)need_count, (unsigned long)digest);
    return ok;
}

/* ---- The C API's error paths, in this build ---- */

static bool check_api(void)
{
    char expected[32];
    snprintf(expected, sizeof expected, "%d.%d.%d", NEGSYNC_VERSION_MAJOR,
             NEGSYNC_VERSION_MINOR, NEGSYNC_VERSION_PATCH);
    CHECK(strcmp(negsync_version(), expected) == 0);
    CHECK(strlen(negsync_result_str(NEGSYNC_MALFORMED_MESSAGE)) > 0);

    /* SHA-256("abc"), the FIPS 180-2 test vector. */
    static const uint8_t abc[NEGSYNC_ID_SIZE] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22,
        0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00,
        0x15, 0xad};
    uint8_t id[NEGSYNC_ID_SIZE];
    TRY(negsync_id_for_key((const uint8_t *)"abc", 3, id));
    CHECK(memcmp(id, abc, sizeof id) == 0);

    size_t baseline = heap.current;
    negsync_set *set = NULL;
    TRY(negsync_set_new(&set));
    CHECK(negsync_set_insert(set, UINT64_MAX, id) == NEGSYNC_INVALID_ARGUMENT);
    TRY(negsync_set_insert(set, 1, id));
    negsync_session *session = NULL;
    CHECK(negsync_session_new(set, 100, &session) == NEGSYNC_INVALID_ARGUMENT && !session);
    TRY(negsync_session_new(set, 4096, &session));

    /* A truncated varint: the engine alone would read it as "all matches". */
    static const uint8_t truncated[] = {0x61, 0x80};
    const uint8_t *reply = NULL;
    size_t reply_len = 0;
    bool complete = false;
    CHECK(negsync_session_reconcile(session, truncated, sizeof truncated, &reply, &reply_len,
                                    &complete) == NEGSYNC_MALFORMED_MESSAGE);
    CHECK(strlen(negsync_session_last_error(session)) > 0);
    CHECK(negsync_session_reconcile(session, truncated, sizeof truncated, &reply, &reply_len,
                                    &complete) == NEGSYNC_WRONG_STATE);
    const uint8_t *ids;
    size_t count;
    CHECK(negsync_session_have_ids(session, &ids, &count) == NEGSYNC_WRONG_STATE);
    negsync_session_free(session);

#ifndef NEGSYNC_HOST
    /* Out of memory where negsync can tell: a session sizes its buffers from the frame limit
     * when its role is decided, and a refused buffer is NEGSYNC_NO_MEMORY (the session fails),
     * not a trip to the panic hook. Refuse every block as large as the message buffer. */
    heap.refuse_from = 1024;
    heap.refuse_large = true;
    for (int role = 0; role < 2; ++role) {
        TRY(negsync_session_new(set, 1024, &session));
        negsync_result r;
        if (role == 0) {
            r = negsync_session_initiate(session, &reply, &reply_len);
        } else {
            static const uint8_t empty_message[] = {0x61};
            r = negsync_session_reconcile(session, empty_message, sizeof empty_message, &reply,
                                          &reply_len, &complete);
        }
        CHECK(r == NEGSYNC_NO_MEMORY);
        CHECK(strstr(negsync_session_last_error(session), "memory") != NULL);
        CHECK(negsync_session_initiate(session, &reply, &reply_len) == NEGSYNC_WRONG_STATE);
        negsync_session_free(session);
    }
    heap.refuse_large = false;
    printf("out of memory in a session came back as %s\n", negsync_result_str(NEGSYNC_NO_MEMORY));
#endif
    negsync_set_free(set);
    CHECK(heap.current == baseline);
    return true;
}

/* ---- Main ---- */

#ifndef NEGSYNC_HOST
static void figure(const char *name, unsigned long value, const char *note)
{
    printf("figure %-38s %8lu  %s\n", name, value, note);
}

/* A figure with a budget it must not pass: printed with the verdict, and a failure if over. */
static void budget(const char *name, unsigned long value, unsigned long most, const char *note)
{
    bool met = value <= most;
    printf("figure %-38s %8lu  budget <= %lu: %s %s\n", name, value, most,
           met ? "met" : "NOT MET", note);
    if (!met) {
        ++failures;
    }
}

/* The figures of one reconciliation case. */
static void case_figures(const char *tag, const struct outcome *o)
{
    char name[64];
    snprintf(name, sizeof name, "heap_peak_%s_bytes", tag);
    figure(name, o->peak, "(both sets and both sessions)");
    snprintf(name, sizeof name, "heap_sets_%s_bytes", tag);
    figure(name, o->sets_bytes, "(both sets filled, before the sessions)");
    snprintf(name, sizeof name, "round_trips_%s", tag);
    figure(name, o->rounds, "");
    snprintf(name, sizeof name, "mallocs_%s", tag);
    figure(name, o->session_mallocs, "(session_new of the first to session_free of the last)");
    snprintf(name, sizeof name, "reallocs_%s", tag);
    figure(name, o->session_reallocs, "");
}
#endif

static int finish(void)
{
    if (failures) {
        printf("%s: %d check(s) FAILED\n", BOARD, failures);
        return EXIT_CHECK_FAILED;
    }
    printf("%s: all checks passed\n", BOARD);
    return 0;
}

static int run_size(size_t n, uint64_t limit)
{
    struct outcome o;
    size_t d = n / 10;
    if (d > MAX_DIFF) {
        printf("size %lu is larger than this program checks\n", (unsigned long)n);
        return EXIT_CHECK_FAILED;
    }
    if (!reconcile_case(n - d, d, d, limit, &o)) {
        return finish();
    }
#ifndef NEGSYNC_HOST
    printf("fits %s: %lu items a side at frame limit %lu; heap peak %lu of %lu bytes, "
           "stack peak %lu of %lu bytes\n",
           BOARD, (unsigned long)n, (unsigned long)limit, (unsigned long)o.peak,
           (unsigned long)board_heap_size(), (unsigned long)board_stack_peak(),
           (unsigned long)board_stack_size());
    CHECK(board_stack_peak() < board_stack_size());
#endif
    return finish();
}

/* What a 16 KB board runs: the API's error paths, 100 items a side at a LoRa-sized limit, edges.
 * (The largest size that fits is searched for separately: `main size N 200`.) */
static int run_small(void)
{
    printf("%s: negsync %s (small)\n", BOARD, negsync_version());
    check_api();
    struct outcome lora, o;
    reconcile_case(90, 10, 10, 200, &lora);
    reconcile_case(0, 0, 0, 200, &o);
    reconcile_case(0, 30, 0, 200, &o);
    reconcile_case(0, 0, 30, 0, &o);
    reconcile_case(100, 0, 0, 200, &o);
    take_each_round = true;
    reconcile_case(90, 10, 10, 128, &o);
    take_each_round = false;
#ifndef NEGSYNC_HOST
    if (board_rust_text() != 0) {
        figure("rust_text_bytes", board_rust_text(), "(.text linked from libnegsync.a)");
    }
    case_figures("100_limit_200", &lora);
    budget("allocations_100_limit_200", lora.session_mallocs + lora.session_reallocs,
           BUDGET_ALLOCATIONS(lora.rounds), "(malloc + realloc; 2 x round trips + 16)");
    figure("stack_peak_bytes", board_stack_peak(), "(deepest stack use since reset)");
    CHECK(board_stack_peak() < board_stack_size());
#endif
    return finish();
}

int main(int argc, char **argv)
{
#ifndef NEGSYNC_HOST
    static char line_buffer[128];
    setvbuf(stdout, line_buffer, _IOLBF, sizeof line_buffer);
    /* A partial allocator is refused. */
    if (negsync_set_allocator(count_malloc, NULL, NULL) != NEGSYNC_NULL_PARAMETER ||
        negsync_set_allocator(NULL, count_realloc, NULL) != NEGSYNC_NULL_PARAMETER ||
        negsync_set_allocator(NULL, NULL, count_free) != NEGSYNC_NULL_PARAMETER ||
        negsync_set_allocator(NULL, count_realloc, count_free) != NEGSYNC_NULL_PARAMETER ||
        negsync_set_allocator(count_malloc, NULL, count_free) != NEGSYNC_NULL_PARAMETER ||
        negsync_set_allocator(count_malloc, count_realloc, NULL) != NEGSYNC_NULL_PARAMETER) {
        printf("FAILED: a partial allocator was not refused with NEGSYNC_NULL_PARAMETER\n");
        return EXIT_CHECK_FAILED;
    }
    /* Before any other negsync call: every block must be freed by the allocator that made it. */
    if (negsync_set_allocator(count_malloc, count_realloc, count_free) != NEGSYNC_OK ||
        negsync_set_panic_hook(on_panic) != NEGSYNC_OK) {
        printf("FAILED: cannot register the allocator and panic hook\n");
        return EXIT_CHECK_FAILED;
    }
#endif
#ifdef __PICOLIBC__
    argc = board_command_line(&argv);
#endif
    if (argc >= 3 && strcmp(argv[1], "size") == 0) {
        take_each_round = argc >= 5 && strcmp(argv[4], "each") == 0;
        return run_size((size_t)strtoul(argv[2], NULL, 10),
                        argc >= 4 ? (uint64_t)strtoul(argv[3], NULL, 10) : 4096);
    }
    if (argc >= 2 && strcmp(argv[1], "small") == 0) {
        return run_small();
    }
#ifdef PANIC_TEST /* only in the lm3s6965evb image: the measured mps2 images stay free of it */
    if (argc >= 2 && strcmp(argv[1], "panic") == 0) {
        /* Without std a panic cannot come back as NEGSYNC_PANIC: the hook must end the program. */
        negsync_result result = negsync_debug_panic(NULL);
        printf("FAILED: negsync_debug_panic returned %s\n", negsync_result_str(result));
        return EXIT_CHECK_FAILED;
    }
#endif

    printf("%s: negsync %s\n", BOARD, negsync_version());
    check_api();

    /* The headline: 500 items a side, 50 on each side that the other lacks, with no limit, a
     * radio-sized limit and the smallest limit other V1 implementations take. */
    struct outcome unlimited, radio, framed, o;
    reconcile_case(450, 50, 50, 0, &unlimited);
    reconcile_case(450, 50, 50, 1024, &radio);
    reconcile_case(450, 50, 50, 4096, &framed);
    /* Edges, and a set large enough that frame limits cut messages. */
    reconcile_case(0, 0, 0, 0, &o);
    reconcile_case(0, 30, 0, 4096, &o);
    reconcile_case(0, 0, 30, 0, &o);
    reconcile_case(500, 0, 0, 4096, &o);
    reconcile_case(4000, 300, 200, 4096, &o);
    reconcile_case(4000, 300, 200, 0, &o);
    reconcile_case(4000, 300, 200, 200, &o);
    reconcile_case(450, 50, 50, 128, &o);
    /* A node that acts on IDs as each round brings them, and forgets them. */
    take_each_round = true;
    reconcile_case(450, 50, 50, 200, &o);
    reconcile_case(4000, 300, 200, 4096, &o);
    take_each_round = false;

#ifndef NEGSYNC_HOST
    unsigned long text = board_rust_text();
    if (text != 0) { /* 0: this board's linker script does not set the Rust code apart */
        budget("rust_text_bytes", text, BUDGET_RUST_TEXT, "(.text linked from libnegsync.a)");
        figure("rust_rodata_bytes", board_rust_rodata(), "(.rodata linked from libnegsync.a)");
    }
    case_figures("500_limit_1024", &radio);
    budget("allocations_500_limit_1024", radio.session_mallocs + radio.session_reallocs,
           BUDGET_ALLOCATIONS(radio.rounds), "(malloc + realloc; 2 x round trips + 16)");
    budget("heap_beyond_sets_500_limit_1024", (unsigned long)(radio.peak - radio.sets_bytes),
           BUDGET_HEAP_BEYOND_SETS, "(peak less the two filled sets)");
    case_figures("500_limit_4096", &framed);
    case_figures("500_limit_0", &unlimited);
    figure("allocations_to_fill_both_sets", framed.set_mallocs,
           "(malloc + realloc calls, 500 a side in batches)");
    figure("stack_peak_bytes", board_stack_peak(), "(deepest stack use since reset)");
    CHECK(board_stack_peak() < board_stack_size());
#endif
    (void)argv;
    return finish();
}
