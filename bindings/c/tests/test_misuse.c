/*
 * test_misuse.c: every export called the wrong way (NULL pointers, out-of-range values, calls in
 * the wrong state) returns its documented code and leaves its out-parameters untouched.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "negsync.h"
#include "check.h"

/* Compile-time: an ID is 32 bytes (a negative array size fails the build otherwise). */
typedef char id_size_is_32[NEGSYNC_ID_SIZE == 32 ? 1 : -1];

/* ---- sentinels: what out-parameters hold before a call that must not write them ---- */

static char sentinel_object;
#define SENTINEL_POINTER ((void *)&sentinel_object)
#define SENTINEL_SIZE ((size_t)0x5eed5eedu)
#define SENTINEL_BYTE 0xee
#define SENTINEL_LIMIT 0xa5a5a5a5a5a5a5a5ull

/* A bool out-parameter whose storage can hold (and be checked for) a byte that is no bool value. */
typedef union {
    bool value;
    unsigned char raw;
} bool_slot;

static void bool_slot_fill(bool_slot *slot) {
    memset(slot, SENTINEL_BYTE, sizeof *slot);
}

static bool bool_slot_untouched(const bool_slot *slot) {
    return slot->raw == SENTINEL_BYTE;
}

static bool bytes_all(const uint8_t *bytes, size_t len, uint8_t value) {
    size_t i;
    for (i = 0; i < len; i++) {
        if (bytes[i] != value) {
            return false;
        }
    }
    return true;
}

static bool limits_untouched(const negsync_limits *limits) {
    return limits->max_message_size == SENTINEL_LIMIT && limits->max_rounds == SENTINEL_LIMIT &&
           limits->max_id_bytes == SENTINEL_LIMIT;
}

static void limits_fill(negsync_limits *limits) {
    limits->max_message_size = SENTINEL_LIMIT;
    limits->max_rounds = SENTINEL_LIMIT;
    limits->max_id_bytes = SENTINEL_LIMIT;
}

/* A set holding `count` items with IDs 1..count (every byte) at timestamps 10..10+count-1. */
static negsync_set *set_of(size_t count) {
    negsync_set *set = NULL;
    size_t i;
    if (negsync_set_new(&set) != NEGSYNC_OK) {
        return NULL;
    }
    for (i = 0; i < count; i++) {
        uint8_t id[NEGSYNC_ID_SIZE];
        memset(id, (int)(i + 1), sizeof id);
        if (negsync_set_insert(set, 10 + i, id) != NEGSYNC_OK) {
            negsync_set_free(set);
            return NULL;
        }
    }
    return set;
}

/* A fresh session over `set` with no frame limit, or NULL. */
static negsync_session *session_of(const negsync_set *set) {
    negsync_session *session = NULL;
    if (negsync_session_new(set, 0, &session) != NEGSYNC_OK) {
        return NULL;
    }
    return session;
}

/* ---- NULL in every pointer position ---- */

/* id_for_key / id_for_version: NULL data with a length, or a NULL out_id, is refused. */
static void test_id_functions_refuse_null(void) {
    uint8_t out[NEGSYNC_ID_SIZE];
    const uint8_t key[] = "key", version[] = "v1";

    memset(out, SENTINEL_BYTE, sizeof out);
    CHECK_EQ(negsync_id_for_key(NULL, 3, out), NEGSYNC_NULL_PARAMETER);
    CHECK(bytes_all(out, sizeof out, SENTINEL_BYTE));
    CHECK_EQ(negsync_id_for_key(key, 3, NULL), NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_id_for_key(NULL, 0, NULL), NEGSYNC_NULL_PARAMETER);

    CHECK_EQ(negsync_id_for_version(NULL, 3, version, 2, out), NEGSYNC_NULL_PARAMETER);
    CHECK(bytes_all(out, sizeof out, SENTINEL_BYTE));
    CHECK_EQ(negsync_id_for_version(key, 3, NULL, 2, out), NEGSYNC_NULL_PARAMETER);
    CHECK(bytes_all(out, sizeof out, SENTINEL_BYTE));
    CHECK_EQ(negsync_id_for_version(key, 3, version, 2, NULL), NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_id_for_version(NULL, 0, NULL, 0, NULL), NEGSYNC_NULL_PARAMETER);
}

/* A NULL key (or version) of length 0 is the empty string: SHA-256("") for id_for_key. */
static void test_id_functions_accept_null_when_empty(void) {
    static const uint8_t sha256_empty[NEGSYNC_ID_SIZE] = {
        0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
        0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55};
    /* SHA-256 of eight zero bytes: u64_le(0) with an empty key and an empty version. */
    static const uint8_t empty_version_id[NEGSYNC_ID_SIZE] = {
        0xaf, 0x55, 0x70, 0xf5, 0xa1, 0x81, 0x0b, 0x7a, 0xf7, 0x8c, 0xaf, 0x4b, 0xc7, 0x0a, 0x66, 0x0f,
        0x0d, 0xf5, 0x1e, 0x42, 0xba, 0xf9, 0x1d, 0x4d, 0xe5, 0xb2, 0x32, 0x8d, 0xe0, 0xe8, 0x3d, 0xfc};
    uint8_t out[NEGSYNC_ID_SIZE], with_pointer[NEGSYNC_ID_SIZE];
    const uint8_t key[] = "k";

    CHECK_EQ(negsync_id_for_key(NULL, 0, out), NEGSYNC_OK);
    CHECK(memcmp(out, sha256_empty, NEGSYNC_ID_SIZE) == 0);
    CHECK_EQ(negsync_id_for_key(key, 0, with_pointer), NEGSYNC_OK);
    CHECK(memcmp(out, with_pointer, NEGSYNC_ID_SIZE) == 0);
    CHECK_EQ(negsync_id_for_version(NULL, 0, NULL, 0, out), NEGSYNC_OK);
    CHECK(memcmp(out, empty_version_id, NEGSYNC_ID_SIZE) == 0);
}

/* limits_default, set_limits and get_limits refuse NULL and leave *out alone. */
static void test_limit_functions_refuse_null(void) {
    negsync_set *set = set_of(0);
    negsync_session *session = session_of(set);
    negsync_limits limits, stored;
    REQUIRE(session != NULL);

    CHECK_EQ(negsync_limits_default(NULL), NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_limits_default(&limits), NEGSYNC_OK);
    CHECK_EQ(negsync_session_set_limits(NULL, &limits), NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_session_set_limits(session, NULL), NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_session_set_limits(NULL, NULL), NEGSYNC_NULL_PARAMETER);

    limits_fill(&stored);
    CHECK_EQ(negsync_session_get_limits(NULL, &stored), NEGSYNC_NULL_PARAMETER);
    CHECK(limits_untouched(&stored));
    CHECK_EQ(negsync_session_get_limits(session, NULL), NEGSYNC_NULL_PARAMETER);
    /* The refused calls changed nothing: the session still has the defaults. */
    CHECK_EQ(negsync_session_get_limits(session, &stored), NEGSYNC_OK);
    CHECK(memcmp(&stored, &limits, sizeof limits) == 0);

    negsync_session_free(session);
    negsync_set_free(set);
}

/* set_new, insert, insert_many and remove refuse NULL; nothing is added or removed. */
static void test_set_functions_refuse_null(void) {
    negsync_set *set = (negsync_set *)SENTINEL_POINTER;
    uint8_t id[NEGSYNC_ID_SIZE];
    uint64_t timestamp = 5;
    memset(id, 1, sizeof id);

    CHECK_EQ(negsync_set_new(NULL), NEGSYNC_NULL_PARAMETER);
    CHECK(set == SENTINEL_POINTER);
    set = set_of(1); /* holds (10, 01..01) */
    REQUIRE(set != NULL);

    CHECK_EQ(negsync_set_insert(NULL, 5, id), NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_set_insert(set, 5, NULL), NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_set_insert_many(NULL, &timestamp, id, 1), NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_set_insert_many(set, NULL, id, 1), NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_set_insert_many(set, &timestamp, NULL, 1), NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_set_insert_many(set, NULL, NULL, 1), NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_set_insert_many(NULL, NULL, NULL, 0), NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_set_len(set), 1);

    CHECK_EQ(negsync_set_remove(NULL, 10, id), NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_set_remove(set, 10, NULL), NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_set_reserve(NULL, 5), NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_set_reserve(set, 5), NEGSYNC_OK);
    CHECK_EQ(negsync_set_len(set), 1);
    negsync_set_free(set);
}

/* session_new refuses a NULL set or out, and leaves *out alone. */
static void test_session_new_refuses_null(void) {
    negsync_set *set = set_of(2);
    negsync_session *session = (negsync_session *)SENTINEL_POINTER;
    REQUIRE(set != NULL);
    CHECK_EQ(negsync_session_new(NULL, 0, &session), NEGSYNC_NULL_PARAMETER);
    CHECK(session == SENTINEL_POINTER);
    CHECK_EQ(negsync_session_new(set, 0, NULL), NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_session_new(NULL, 1, NULL), NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_session_new_window(NULL, 0, 10, 0, &session), NEGSYNC_NULL_PARAMETER);
    CHECK(session == SENTINEL_POINTER);
    CHECK_EQ(negsync_session_new_window(set, 0, 10, 0, NULL), NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_session_new_window(set, 10, 9, 0, &session), NEGSYNC_INVALID_ARGUMENT);
    CHECK_EQ(negsync_session_new_window(set, 0, 10, 127, &session), NEGSYNC_INVALID_ARGUMENT);
    CHECK(session == SENTINEL_POINTER);
    negsync_set_free(set);
}

/* initiate refuses NULL, writes no out-parameter, and the session can still initiate after. */
static void test_initiate_refuses_null(void) {
    negsync_set *set = set_of(3);
    negsync_session *session = session_of(set);
    const uint8_t *msg = SENTINEL_POINTER;
    size_t msg_len = SENTINEL_SIZE;
    REQUIRE(session != NULL);

    CHECK_EQ(negsync_session_initiate(NULL, &msg, &msg_len), NEGSYNC_NULL_PARAMETER);
    CHECK(msg == SENTINEL_POINTER && msg_len == SENTINEL_SIZE);
    CHECK_EQ(negsync_session_initiate(session, NULL, &msg_len), NEGSYNC_NULL_PARAMETER);
    CHECK(msg_len == SENTINEL_SIZE);
    CHECK_EQ(negsync_session_initiate(session, &msg, NULL), NEGSYNC_NULL_PARAMETER);
    CHECK(msg == SENTINEL_POINTER);
    CHECK_EQ(negsync_session_initiate(session, NULL, NULL), NEGSYNC_NULL_PARAMETER);

    /* None of these made the session an initiator. */
    CHECK_EQ(negsync_session_initiate(session, &msg, &msg_len), NEGSYNC_OK);
    CHECK(msg != NULL && msg != SENTINEL_POINTER && msg_len > 0 && msg_len != SENTINEL_SIZE);
    negsync_session_free(session);
    negsync_set_free(set);
}

/* reconcile refuses NULL in each pointer position, writes nothing, and the session still works. */
static void test_reconcile_refuses_null(void) {
    negsync_set *set = set_of(3);
    negsync_session *initiator = session_of(set), *responder = session_of(set);
    const uint8_t *lent = NULL, *msg = NULL, *reply = SENTINEL_POINTER;
    size_t msg_len = 0, reply_len = SENTINEL_SIZE;
    uint8_t copy[4096];
    bool_slot complete;
    REQUIRE(initiator != NULL && responder != NULL);
    REQUIRE(negsync_session_initiate(initiator, &lent, &msg_len) == NEGSYNC_OK);
    /* Our own copy: the refused calls below are calls on the initiator, which lent `lent`. */
    REQUIRE(msg_len <= sizeof copy);
    memcpy(copy, lent, msg_len);
    msg = copy;
    bool_slot_fill(&complete);

    CHECK_EQ(negsync_session_reconcile(NULL, msg, msg_len, &reply, &reply_len, &complete.value),
             NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_session_reconcile(responder, NULL, msg_len, &reply, &reply_len,
                                       &complete.value),
             NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_session_reconcile(responder, msg, msg_len, NULL, &reply_len,
                                       &complete.value),
             NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_session_reconcile(responder, msg, msg_len, &reply, NULL, &complete.value),
             NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_session_reconcile(responder, msg, msg_len, &reply, &reply_len, NULL),
             NEGSYNC_NULL_PARAMETER);
    CHECK(reply == SENTINEL_POINTER && reply_len == SENTINEL_SIZE);
    CHECK(bool_slot_untouched(&complete));
    /* The same refusals on an initiator awaiting its reply. */
    CHECK_EQ(negsync_session_reconcile(initiator, NULL, 1, &reply, &reply_len, &complete.value),
             NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_session_reconcile(initiator, msg, msg_len, &reply, &reply_len, NULL),
             NEGSYNC_NULL_PARAMETER);
    CHECK(reply == SENTINEL_POINTER && reply_len == SENTINEL_SIZE);
    CHECK(bool_slot_untouched(&complete));

    /* Neither session was changed: the exchange still runs (identical sets, one round trip). */
    CHECK(!negsync_session_is_complete(responder));
    CHECK_EQ(negsync_session_reconcile(responder, msg, msg_len, &reply, &reply_len,
                                       &complete.value),
             NEGSYNC_OK);
    CHECK(reply_len > 0 && reply != NULL && reply != SENTINEL_POINTER);
    CHECK(complete.value);
    CHECK_EQ(negsync_session_reconcile(initiator, reply, reply_len, &msg, &msg_len,
                                       &complete.value),
             NEGSYNC_OK);
    CHECK(complete.value);
    CHECK(msg_len == 0 && msg == NULL);
    negsync_session_free(initiator);
    negsync_session_free(responder);
    negsync_set_free(set);
}

/* have_ids / need_ids refuse NULL and write no out-parameter. */
static void test_have_and_need_refuse_null(void) {
    negsync_set *set = set_of(3);
    negsync_session *session = session_of(set);
    const uint8_t *msg, *ids = SENTINEL_POINTER;
    size_t msg_len, count = SENTINEL_SIZE;
    REQUIRE(session != NULL);
    REQUIRE(negsync_session_initiate(session, &msg, &msg_len) == NEGSYNC_OK);

    CHECK_EQ(negsync_session_have_ids(NULL, &ids, &count), NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_session_have_ids(session, NULL, &count), NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_session_have_ids(session, &ids, NULL), NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_session_need_ids(NULL, &ids, &count), NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_session_need_ids(session, NULL, &count), NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_session_need_ids(session, &ids, NULL), NEGSYNC_NULL_PARAMETER);
    CHECK(ids == SENTINEL_POINTER && count == SENTINEL_SIZE);

    /* An initiator that has found nothing yet lends an empty list as NULL, 0. */
    CHECK_EQ(negsync_session_have_ids(session, &ids, &count), NEGSYNC_OK);
    CHECK(ids == NULL && count == 0);
    negsync_session_free(session);
    negsync_set_free(set);
}

/* get_stats refuses a NULL session or out, leaves *out untouched and last_error as it was. */
static void test_get_stats_refuses_null(void) {
    negsync_set *set = set_of(3);
    negsync_session *session = session_of(set);
    negsync_session_stats stats;
    const uint8_t *msg = NULL;
    size_t msg_len = 0;
    REQUIRE(session != NULL);
    memset(&stats, SENTINEL_BYTE, sizeof stats);

    CHECK_EQ(negsync_session_get_stats(NULL, &stats), NEGSYNC_NULL_PARAMETER);
    CHECK(bytes_all((const uint8_t *)&stats, sizeof stats, SENTINEL_BYTE));
    CHECK_EQ(negsync_session_get_stats(session, NULL), NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_session_get_stats(NULL, NULL), NEGSYNC_NULL_PARAMETER);

    /* A read, not a mutating call: the detail of an earlier refusal survives it. */
    CHECK_EQ(negsync_session_initiate(session, NULL, &msg_len), NEGSYNC_NULL_PARAMETER);
    CHECK(negsync_session_last_error(session)[0] != '\0');
    CHECK_EQ(negsync_session_get_stats(session, NULL), NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_session_get_stats(session, &stats), NEGSYNC_OK);
    CHECK(negsync_session_last_error(session)[0] != '\0');
    /* The refused calls left the session as it was. */
    CHECK_EQ(stats.role, NEGSYNC_ROLE_UNDECIDED);
    CHECK(!stats.complete && !stats.failed);
    CHECK_EQ(stats.rounds, 0);
    CHECK_EQ(stats.bytes_in, 0);
    CHECK_EQ(stats.bytes_out, 0);
    CHECK_EQ(negsync_session_initiate(session, &msg, &msg_len), NEGSYNC_OK);
    CHECK_EQ(negsync_session_get_stats(session, &stats), NEGSYNC_OK);
    CHECK_EQ(stats.role, NEGSYNC_ROLE_INITIATOR);
    CHECK_EQ(stats.bytes_out, msg_len);
    negsync_session_free(session);
    negsync_set_free(set);
}

/* A mutating call refused for a NULL out-parameter (or NULL input) on a live session says why in
 * last_error; the next call that succeeds clears it. */
static void test_last_error_describes_refused_null(void) {
    negsync_set *set = set_of(3);
    negsync_session *initiator = session_of(set), *responder = session_of(set);
    const uint8_t *msg = NULL, *reply = NULL;
    size_t msg_len = 0, reply_len = 0;
    bool complete = false;
    uint8_t copy[4096];
    REQUIRE(initiator != NULL && responder != NULL);

    CHECK_EQ(negsync_session_initiate(initiator, NULL, &msg_len), NEGSYNC_NULL_PARAMETER);
    CHECK(negsync_session_last_error(initiator)[0] != '\0');
    CHECK_EQ(negsync_session_initiate(initiator, &msg, NULL), NEGSYNC_NULL_PARAMETER);
    CHECK(negsync_session_last_error(initiator)[0] != '\0');
    CHECK_EQ(negsync_session_set_limits(initiator, NULL), NEGSYNC_NULL_PARAMETER);
    CHECK(negsync_session_last_error(initiator)[0] != '\0');
    CHECK_EQ(negsync_session_initiate(initiator, &msg, &msg_len), NEGSYNC_OK);
    CHECK(negsync_session_last_error(initiator)[0] == '\0');
    REQUIRE(msg_len <= sizeof copy);
    memcpy(copy, msg, msg_len);

    CHECK_EQ(negsync_session_reconcile(responder, copy, msg_len, &reply, &reply_len, NULL),
             NEGSYNC_NULL_PARAMETER);
    CHECK(negsync_session_last_error(responder)[0] != '\0');
    CHECK_EQ(negsync_session_reconcile(responder, copy, msg_len, NULL, &reply_len, &complete),
             NEGSYNC_NULL_PARAMETER);
    CHECK(negsync_session_last_error(responder)[0] != '\0');
    CHECK_EQ(negsync_session_reconcile(responder, copy, msg_len, &reply, NULL, &complete),
             NEGSYNC_NULL_PARAMETER);
    CHECK(negsync_session_last_error(responder)[0] != '\0');
    CHECK_EQ(negsync_session_reconcile(responder, NULL, msg_len, &reply, &reply_len, &complete),
             NEGSYNC_NULL_PARAMETER);
    CHECK(negsync_session_last_error(responder)[0] != '\0');
    CHECK_EQ(negsync_session_reconcile(responder, copy, msg_len, &reply, &reply_len, &complete),
             NEGSYNC_OK);
    CHECK(negsync_session_last_error(responder)[0] == '\0');
    CHECK(complete);
    negsync_session_free(initiator);
    negsync_session_free(responder);
    negsync_set_free(set);
}

/* The value-returning functions have a defined answer for NULL; free(NULL) is a no-op. */
static void test_value_functions_answer_null(void) {
    const char *error = negsync_session_last_error(NULL);
    CHECK_EQ(negsync_set_len(NULL), 0);
    CHECK(negsync_session_is_complete(NULL) == false);
    CHECK(error != NULL);
    CHECK(error != NULL && error[0] != '\0');
    negsync_session_free(NULL);
    negsync_set_free(NULL);
}

/* ---- out-of-range values ---- */

/* Frame limits 1..127 are refused (and *out untouched); 0 and NEGSYNC_MIN_FRAME_SIZE_LIMIT (128)
 * and above are accepted. */
static void test_frame_limit_range(void) {
    static const uint64_t refused[] = {1, 100, NEGSYNC_MIN_FRAME_SIZE_LIMIT - 1};
    static const uint64_t accepted[] = {0, NEGSYNC_MIN_FRAME_SIZE_LIMIT, 200, 4095, 4096, 60000, UINT64_MAX};
    negsync_set *set = set_of(1);
    size_t i;
    REQUIRE(set != NULL);
    for (i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        negsync_session *session = (negsync_session *)SENTINEL_POINTER;
        CHECK_EQ(negsync_session_new(set, refused[i], &session), NEGSYNC_INVALID_ARGUMENT);
        CHECK(session == SENTINEL_POINTER);
    }
    for (i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        negsync_session *session = NULL;
        const uint8_t *msg = NULL;
        size_t msg_len = 0;
        CHECK_EQ(negsync_session_new(set, accepted[i], &session), NEGSYNC_OK);
        CHECK(session != NULL);
        CHECK_EQ(negsync_session_initiate(session, &msg, &msg_len), NEGSYNC_OK);
        negsync_session_free(session);
    }
    negsync_set_free(set);
}

/* The timestamp UINT64_MAX is refused; in insert_many it makes the whole call add nothing. */
static void test_reserved_timestamp_is_refused(void) {
    negsync_set *set = set_of(0);
    uint8_t ids[3 * NEGSYNC_ID_SIZE];
    uint64_t timestamps[3] = {1, UINT64_MAX, 2};
    REQUIRE(set != NULL);
    memset(ids, 7, sizeof ids);
    ids[NEGSYNC_ID_SIZE] = 8;
    ids[2 * NEGSYNC_ID_SIZE] = 9;

    CHECK_EQ(negsync_set_insert(set, UINT64_MAX, ids), NEGSYNC_INVALID_ARGUMENT);
    CHECK_EQ(negsync_set_len(set), 0);
    CHECK_EQ(negsync_set_insert_many(set, timestamps, ids, 3), NEGSYNC_INVALID_ARGUMENT);
    CHECK_EQ(negsync_set_len(set), 0);
    CHECK_EQ(negsync_set_insert(set, UINT64_MAX - 1, ids), NEGSYNC_OK);
    CHECK_EQ(negsync_set_len(set), 1);
    timestamps[1] = 3;
    CHECK_EQ(negsync_set_insert_many(set, timestamps, ids, 3), NEGSYNC_OK);
    CHECK_EQ(negsync_set_len(set), 4);
    negsync_set_free(set);
}

/* insert_many with a count whose byte size overflows size_t is refused before reading memory. */
static void test_insert_many_refuses_overflowing_count(void) {
    negsync_set *set = set_of(0);
    uint64_t timestamp = 1;
    uint8_t id[NEGSYNC_ID_SIZE] = {0};
    REQUIRE(set != NULL);
    CHECK_EQ(negsync_set_insert_many(set, &timestamp, id, SIZE_MAX), NEGSYNC_INVALID_ARGUMENT);
    CHECK_EQ(negsync_set_insert_many(set, &timestamp, id, SIZE_MAX / NEGSYNC_ID_SIZE + 1),
             NEGSYNC_INVALID_ARGUMENT);
    CHECK_EQ(negsync_set_len(set), 0);
    negsync_set_free(set);
}

/*
 * insert_many reads a misaligned timestamps array (as C code pointing into a packet buffer has):
 * for every offset 1..7 the right items go in, and UINT64_MAX in it still adds nothing.
 */
static void test_insert_many_accepts_misaligned_timestamps(void) {
    enum { COUNT = 9 };
    /* A union keeps the storage 8-byte aligned, so storage.bytes + offset is misaligned. */
    union {
        uint64_t align;
        uint8_t bytes[COUNT * sizeof(uint64_t) + 8];
    } storage;
    uint64_t timestamps[COUNT];
    uint8_t ids[COUNT * NEGSYNC_ID_SIZE];
    size_t offset, i;
    for (i = 0; i < COUNT; i++) {
        /* Every byte of each timestamp matters: a misread one would not match on removal. */
        timestamps[i] = 0x0102030405060708ull * (i + 1) + (uint64_t)i;
        memset(ids + i * NEGSYNC_ID_SIZE, (int)(0x40 + i), NEGSYNC_ID_SIZE);
        ids[i * NEGSYNC_ID_SIZE + 5] = (uint8_t)(i * 37);
    }
    for (offset = 1; offset < 8; offset++) {
        negsync_set *set = set_of(0);
        /* The header promises `timestamps` need not be aligned; ISO C frowns on forming the
         * misaligned pointer, but it is never dereferenced on this side (no UBSan report). */
        const uint64_t *misaligned = (const uint64_t *)(const void *)(storage.bytes + offset);
        uint64_t reserved = UINT64_MAX;
        REQUIRE(set != NULL);
        CHECK(((uintptr_t)misaligned) % sizeof(uint64_t) != 0);
        memcpy(storage.bytes + offset, timestamps, sizeof timestamps);

        CHECK_EQ(negsync_set_insert_many(set, misaligned, ids, COUNT), NEGSYNC_OK);
        CHECK_EQ(negsync_set_len(set), COUNT);
        /* Exactly these items: removing each (timestamp, id) pair as given empties the set. */
        for (i = 0; i < COUNT; i++) {
            CHECK_EQ(negsync_set_remove(set, timestamps[i], ids + i * NEGSYNC_ID_SIZE),
                     NEGSYNC_OK);
            CHECK_EQ(negsync_set_len(set), COUNT - 1 - i);
        }

        /* All or nothing holds on the misaligned path too. */
        memcpy(storage.bytes + offset + 4 * sizeof(uint64_t), &reserved, sizeof reserved);
        CHECK_EQ(negsync_set_insert_many(set, misaligned, ids, COUNT), NEGSYNC_INVALID_ARGUMENT);
        CHECK_EQ(negsync_set_len(set), 0);
        negsync_set_free(set);
    }
}

/* ---- wrong state ---- */

/* A second initiate is refused (out-parameters untouched) and the first exchange goes on. */
static void test_initiate_twice_is_wrong_state(void) {
    negsync_set *set = set_of(3);
    negsync_session *initiator = session_of(set), *responder = session_of(set);
    const uint8_t *msg = NULL, *again = SENTINEL_POINTER, *reply = NULL, *next = NULL;
    size_t msg_len = 0, again_len = SENTINEL_SIZE, reply_len = 0, next_len = 0;
    bool complete = false;
    REQUIRE(initiator != NULL && responder != NULL);

    CHECK_EQ(negsync_session_initiate(initiator, &msg, &msg_len), NEGSYNC_OK);
    CHECK_EQ(negsync_session_initiate(initiator, &again, &again_len), NEGSYNC_WRONG_STATE);
    CHECK(again == SENTINEL_POINTER && again_len == SENTINEL_SIZE);
    CHECK(negsync_session_last_error(initiator)[0] != '\0');
    /* "Nothing was changed": the first message is still lent out and the exchange completes. */
    CHECK_EQ(negsync_session_reconcile(responder, msg, msg_len, &reply, &reply_len, &complete),
             NEGSYNC_OK);
    CHECK_EQ(negsync_session_reconcile(initiator, reply, reply_len, &next, &next_len, &complete),
             NEGSYNC_OK);
    CHECK(complete);
    CHECK(negsync_session_last_error(initiator)[0] == '\0');
    negsync_session_free(initiator);
    negsync_session_free(responder);
    negsync_set_free(set);
}

/* A session that answered a message is a responder: initiate is refused, and it keeps answering. */
static void test_initiate_after_responding_is_wrong_state(void) {
    negsync_set *small = set_of(3), *large = set_of(40);
    negsync_session *initiator = NULL, *responder = NULL;
    const uint8_t *msg = NULL, *reply = NULL, *out = SENTINEL_POINTER;
    size_t msg_len = 0, reply_len = 0, out_len = SENTINEL_SIZE;
    bool complete = true;
    unsigned round;
    REQUIRE(small != NULL && large != NULL);
    /* 4096-byte frames and 40 items against 3 make the exchange take more than one round trip. */
    REQUIRE(negsync_session_new(large, 4096, &initiator) == NEGSYNC_OK);
    REQUIRE(negsync_session_new(small, 0, &responder) == NEGSYNC_OK);
    REQUIRE(negsync_session_initiate(initiator, &msg, &msg_len) == NEGSYNC_OK);
    CHECK_EQ(negsync_session_reconcile(responder, msg, msg_len, &reply, &reply_len, &complete),
             NEGSYNC_OK);

    CHECK_EQ(negsync_session_initiate(responder, &out, &out_len), NEGSYNC_WRONG_STATE);
    CHECK(out == SENTINEL_POINTER && out_len == SENTINEL_SIZE);
    /* It is still the responder: have/need are not its to read, and it finishes the exchange. */
    CHECK_EQ(negsync_session_have_ids(responder, &out, &out_len), NEGSYNC_WRONG_STATE);
    for (round = 0; round < 100; round++) {
        CHECK_EQ(negsync_session_reconcile(initiator, reply, reply_len, &msg, &msg_len,
                                           &complete),
                 NEGSYNC_OK);
        if (complete) {
            break;
        }
        CHECK_EQ(negsync_session_reconcile(responder, msg, msg_len, &reply, &reply_len,
                                           &complete),
                 NEGSYNC_OK);
    }
    CHECK(negsync_session_is_complete(initiator));
    CHECK_EQ(negsync_session_have_ids(initiator, &out, &out_len), NEGSYNC_OK);
    CHECK_EQ(out_len, 37);
    negsync_session_free(initiator);
    negsync_session_free(responder);
    negsync_set_free(small);
    negsync_set_free(large);
}

/* After completion, reconcile is refused on both sides and writes no out-parameter. */
static void test_reconcile_after_complete_is_wrong_state(void) {
    negsync_set *set = set_of(5);
    negsync_session *initiator = session_of(set), *responder = session_of(set);
    const uint8_t *msg = NULL, *reply = NULL, *next = NULL, *out = SENTINEL_POINTER;
    size_t msg_len = 0, reply_len = 0, next_len = 0, out_len = SENTINEL_SIZE;
    bool complete = false;
    bool_slot slot;
    REQUIRE(initiator != NULL && responder != NULL);

    REQUIRE(negsync_session_initiate(initiator, &msg, &msg_len) == NEGSYNC_OK);
    CHECK_EQ(negsync_session_reconcile(responder, msg, msg_len, &reply, &reply_len, &complete),
             NEGSYNC_OK);
    CHECK(complete); /* identical sets: the responder's reply holds no fingerprint */
    CHECK_EQ(negsync_session_reconcile(initiator, reply, reply_len, &next, &next_len, &complete),
             NEGSYNC_OK);
    CHECK(complete);
    CHECK(negsync_session_is_complete(initiator) && negsync_session_is_complete(responder));

    bool_slot_fill(&slot);
    CHECK_EQ(negsync_session_reconcile(initiator, reply, reply_len, &out, &out_len, &slot.value),
             NEGSYNC_WRONG_STATE);
    CHECK(negsync_session_last_error(initiator)[0] != '\0');
    CHECK_EQ(negsync_session_reconcile(responder, msg, msg_len, &out, &out_len, &slot.value),
             NEGSYNC_WRONG_STATE);
    CHECK(negsync_session_last_error(responder)[0] != '\0');
    CHECK(out == SENTINEL_POINTER && out_len == SENTINEL_SIZE);
    CHECK(bool_slot_untouched(&slot));
    CHECK_EQ(negsync_session_initiate(initiator, &out, &out_len), NEGSYNC_WRONG_STATE);
    /* Still complete: the refused calls changed nothing. */
    CHECK(negsync_session_is_complete(initiator) && negsync_session_is_complete(responder));
    CHECK_EQ(negsync_session_have_ids(initiator, &out, &out_len), NEGSYNC_OK);
    CHECK(out == NULL && out_len == 0);
    negsync_session_free(initiator);
    negsync_session_free(responder);
    negsync_set_free(set);
}

/* have/need IDs are the initiator's alone: refused before initiate and for a responder. */
static void test_have_and_need_outside_initiator_are_wrong_state(void) {
    negsync_set *set = set_of(3);
    negsync_session *fresh = session_of(set), *initiator = session_of(set),
                    *responder = session_of(set);
    const uint8_t *msg = NULL, *reply = NULL, *ids = SENTINEL_POINTER;
    size_t msg_len = 0, reply_len = 0, count = SENTINEL_SIZE;
    bool complete = false;
    REQUIRE(fresh != NULL && initiator != NULL && responder != NULL);

    CHECK_EQ(negsync_session_have_ids(fresh, &ids, &count), NEGSYNC_WRONG_STATE);
    CHECK_EQ(negsync_session_need_ids(fresh, &ids, &count), NEGSYNC_WRONG_STATE);
    REQUIRE(negsync_session_initiate(initiator, &msg, &msg_len) == NEGSYNC_OK);
    CHECK_EQ(negsync_session_reconcile(responder, msg, msg_len, &reply, &reply_len, &complete),
             NEGSYNC_OK);
    CHECK_EQ(negsync_session_have_ids(responder, &ids, &count), NEGSYNC_WRONG_STATE);
    CHECK_EQ(negsync_session_need_ids(responder, &ids, &count), NEGSYNC_WRONG_STATE);
    CHECK(ids == SENTINEL_POINTER && count == SENTINEL_SIZE);
    /* A fresh session refused have_ids but is still free to take either role. */
    CHECK_EQ(negsync_session_initiate(fresh, &msg, &msg_len), NEGSYNC_OK);
    negsync_session_free(fresh);
    negsync_session_free(initiator);
    negsync_session_free(responder);
    negsync_set_free(set);
}

/* ---- constants and strings ---- */

/* result_str: a distinct, non-empty string for each code 0..8; non-NULL for unknown codes. */
static void test_result_strings(void) {
    const char *texts[9];
    negsync_result code, other;
    for (code = 0; code <= 8; code++) {
        texts[code] = negsync_result_str(code);
        CHECK(texts[code] != NULL);
        CHECK(texts[code] != NULL && texts[code][0] != '\0');
    }
    for (code = 0; code <= 8; code++) {
        for (other = code + 1; other <= 8; other++) {
            CHECK(texts[code] == NULL || texts[other] == NULL ||
                  strcmp(texts[code], texts[other]) != 0);
        }
    }
    CHECK(negsync_result_str(9999) != NULL);
    CHECK(negsync_result_str(9) != NULL);
    CHECK(negsync_result_str(UINT32_MAX) != NULL);
    /* The codes are the documented, stable numbers. */
    CHECK_EQ(NEGSYNC_OK, 0);
    CHECK_EQ(NEGSYNC_NULL_PARAMETER, 1);
    CHECK_EQ(NEGSYNC_INVALID_ARGUMENT, 2);
    CHECK_EQ(NEGSYNC_MALFORMED_MESSAGE, 3);
    CHECK_EQ(NEGSYNC_UNSUPPORTED_VERSION, 4);
    CHECK_EQ(NEGSYNC_WRONG_STATE, 5);
    CHECK_EQ(NEGSYNC_LIMIT_EXCEEDED, 6);
    CHECK_EQ(NEGSYNC_PANIC, 7);
    CHECK_EQ(NEGSYNC_INTERNAL, 8);
}

/* negsync_version() is "MAJOR.MINOR.PATCH" of the header's macros (plus an optional suffix). */
static void test_version_matches_header(void) {
    const char *version = negsync_version();
    char expected[64];
    size_t len;
    REQUIRE(version != NULL);
    len = (size_t)snprintf(expected, sizeof expected, "%d.%d.%d", NEGSYNC_VERSION_MAJOR,
                           NEGSYNC_VERSION_MINOR, NEGSYNC_VERSION_PATCH);
    CHECK(strncmp(version, expected, len) == 0);
    CHECK(version[len] == '\0' || version[len] == '-' || version[len] == '+');
    CHECK(negsync_version() == version); /* static: the same string every time */
}

/* NEGSYNC_ID_SIZE is 32 (also checked at compile time above). */
static void test_id_size(void) {
    CHECK_EQ(NEGSYNC_ID_SIZE, 32);
    CHECK_EQ(sizeof(id_size_is_32), 1);
}

int main(int argc, char **argv) {
    check_init(argc, argv);
    CHECK_RUN(test_id_functions_refuse_null);
    CHECK_RUN(test_id_functions_accept_null_when_empty);
    CHECK_RUN(test_limit_functions_refuse_null);
    CHECK_RUN(test_set_functions_refuse_null);
    CHECK_RUN(test_session_new_refuses_null);
    CHECK_RUN(test_initiate_refuses_null);
    CHECK_RUN(test_reconcile_refuses_null);
    CHECK_RUN(test_have_and_need_refuse_null);
    CHECK_RUN(test_get_stats_refuses_null);
    CHECK_RUN(test_last_error_describes_refused_null);
    CHECK_RUN(test_value_functions_answer_null);
    CHECK_RUN(test_frame_limit_range);
    CHECK_RUN(test_reserved_timestamp_is_refused);
    CHECK_RUN(test_insert_many_refuses_overflowing_count);
    CHECK_RUN(test_insert_many_accepts_misaligned_timestamps);
    CHECK_RUN(test_initiate_twice_is_wrong_state);
    CHECK_RUN(test_initiate_after_responding_is_wrong_state);
    CHECK_RUN(test_reconcile_after_complete_is_wrong_state);
    CHECK_RUN(test_have_and_need_outside_initiator_are_wrong_state);
    CHECK_RUN(test_result_strings);
    CHECK_RUN(test_version_matches_header);
    CHECK_RUN(test_id_size);
    return check_summary();
}
