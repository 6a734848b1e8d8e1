/*
 * test_items.c: reading a set back through the C ABI (negsync_set_contains,
 * negsync_set_copy_items): protocol order, paging, NULL and overflow checks, unaligned
 * timestamp buffers, out-parameters untouched on failure.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "negsync.h"

#define COUNT 40

static void id_of(unsigned n, uint8_t id[NEGSYNC_ID_SIZE]) {
    memset(id, 0, NEGSYNC_ID_SIZE);
    id[0] = (uint8_t)(n * 7u); /* IDs not in timestamp order */
    id[31] = (uint8_t)n;
}

/* A set with COUNT items: timestamp (COUNT - n) / 2, so timestamps repeat and order by ID too. */
static negsync_set *filled_set(void) {
    negsync_set *set = NULL;
    uint8_t id[NEGSYNC_ID_SIZE];
    unsigned n;
    if (negsync_set_new(&set) != NEGSYNC_OK) return NULL;
    for (n = 0; n < COUNT; n++) {
        id_of(n, id);
        if (negsync_set_insert(set, (COUNT - n) / 2, id) != NEGSYNC_OK) {
            negsync_set_free(set);
            return NULL;
        }
    }
    return set;
}

static void test_items_come_out_in_protocol_order(void) {
    negsync_set *set = filled_set();
    uint64_t timestamps[COUNT];
    uint8_t ids[COUNT * NEGSYNC_ID_SIZE];
    size_t copied = 0, total = 0, i;
    REQUIRE(set != NULL);
    CHECK_EQ(negsync_set_copy_items(set, 0, timestamps, ids, COUNT, &copied, &total), NEGSYNC_OK);
    CHECK_EQ(copied, COUNT);
    CHECK_EQ(total, COUNT);
    for (i = 1; i < copied; i++) {
        int cmp = memcmp(ids + (i - 1) * NEGSYNC_ID_SIZE, ids + i * NEGSYNC_ID_SIZE, NEGSYNC_ID_SIZE);
        CHECK(timestamps[i - 1] < timestamps[i] || (timestamps[i - 1] == timestamps[i] && cmp < 0));
    }
    for (i = 0; i < copied; i++) {
        bool found = false;
        CHECK_EQ(negsync_set_contains(set, timestamps[i], ids + i * NEGSYNC_ID_SIZE, &found), NEGSYNC_OK);
        CHECK(found);
        CHECK_EQ(negsync_set_contains(set, timestamps[i] + 100, ids + i * NEGSYNC_ID_SIZE, &found),
                 NEGSYNC_OK);
        CHECK(!found);
    }
    negsync_set_free(set);
}

static void test_pages_and_total(void) {
    negsync_set *set = filled_set();
    uint64_t all_ts[COUNT], page_ts[7];
    uint8_t all_ids[COUNT * NEGSYNC_ID_SIZE], page_ids[7 * NEGSYNC_ID_SIZE];
    size_t copied = 0, total = 0, start;
    REQUIRE(set != NULL);
    REQUIRE(negsync_set_copy_items(set, 0, all_ts, all_ids, COUNT, &copied, &total) == NEGSYNC_OK);
    for (start = 0; start < COUNT; start += 7) {
        size_t expect = COUNT - start < 7 ? COUNT - start : 7;
        CHECK_EQ(negsync_set_copy_items(set, start, page_ts, page_ids, 7, &copied, &total), NEGSYNC_OK);
        CHECK_EQ(copied, expect);
        CHECK_EQ(total, COUNT);
        CHECK(memcmp(page_ts, all_ts + start, expect * sizeof(uint64_t)) == 0);
        CHECK(memcmp(page_ids, all_ids + start * NEGSYNC_ID_SIZE, expect * NEGSYNC_ID_SIZE) == 0);
    }
    /* Past the end: nothing copied, the total still told. Capacity 0 with NULL buffers: the total. */
    CHECK_EQ(negsync_set_copy_items(set, COUNT + 5, page_ts, page_ids, 7, &copied, &total), NEGSYNC_OK);
    CHECK_EQ(copied, 0);
    CHECK_EQ(negsync_set_copy_items(set, 0, NULL, NULL, 0, &copied, &total), NEGSYNC_OK);
    CHECK_EQ(copied, 0);
    CHECK_EQ(total, COUNT);
    negsync_set_free(set);
}

static void test_unaligned_timestamp_buffer(void) {
    negsync_set *set = filled_set();
    unsigned char raw[COUNT * sizeof(uint64_t) + 1];
    uint64_t aligned[COUNT], value;
    uint8_t ids[COUNT * NEGSYNC_ID_SIZE];
    size_t copied = 0, total = 0, i;
    REQUIRE(set != NULL);
    REQUIRE(negsync_set_copy_items(set, 0, aligned, ids, COUNT, &copied, &total) == NEGSYNC_OK);
    /* An odd address, as C code pointing into a packet buffer may pass. */
    CHECK_EQ(negsync_set_copy_items(set, 0, (uint64_t *)(void *)(raw + 1), ids, COUNT, &copied, &total),
             NEGSYNC_OK);
    for (i = 0; i < COUNT; i++) {
        memcpy(&value, raw + 1 + i * sizeof(uint64_t), sizeof value);
        CHECK_EQ(value, aligned[i]);
    }
    negsync_set_free(set);
}

static void test_refusals_write_nothing(void) {
    negsync_set *set = filled_set();
    uint64_t timestamps[2];
    uint8_t ids[2 * NEGSYNC_ID_SIZE], id[NEGSYNC_ID_SIZE] = {0};
    size_t copied = 77, total = 88;
    bool found = true;
    REQUIRE(set != NULL);
    CHECK_EQ(negsync_set_copy_items(NULL, 0, timestamps, ids, 2, &copied, &total), NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_set_copy_items(set, 0, NULL, ids, 2, &copied, &total), NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_set_copy_items(set, 0, timestamps, NULL, 2, &copied, &total), NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_set_copy_items(set, 0, timestamps, ids, 2, NULL, &total), NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_set_copy_items(set, 0, timestamps, ids, 2, &copied, NULL), NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_set_copy_items(set, 0, timestamps, ids, SIZE_MAX / 16, &copied, &total),
             NEGSYNC_INVALID_ARGUMENT);
    CHECK_EQ(copied, 77);
    CHECK_EQ(total, 88);
    CHECK_EQ(negsync_set_contains(NULL, 1, id, &found), NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_set_contains(set, 1, NULL, &found), NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_set_contains(set, 1, id, NULL), NEGSYNC_NULL_PARAMETER);
    CHECK(found);
    negsync_set_free(set);
}

int main(int argc, char **argv) {
    check_init(argc, argv);
    CHECK_RUN(test_items_come_out_in_protocol_order);
    CHECK_RUN(test_pages_and_total);
    CHECK_RUN(test_unaligned_timestamp_buffer);
    CHECK_RUN(test_refusals_write_nothing);
    return check_summary();
}
