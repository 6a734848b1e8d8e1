// Two peers reconcile their sets with the C++ wrapper (include/negsync.hpp): alice initiates, bob
// responds, and alice learns which documents to send and which to fetch.
#include <negsync.hpp>

#include <cstdio>
#include <string>

namespace {
void print_ids(const char *label, const negsync::IdList &ids) {
    std::printf("%s: %zu\n", label, ids.size());
    for (const negsync::Id id : ids) {
        std::printf("  %02x%02x%02x%02x...\n", id[0], id[1], id[2], id[3]);
    }
}
} // namespace

int main() {
    try {
        negsync::ItemSet alice, bob;
        for (int i = 0; i < 5; i++) {
            const negsync::Id id = negsync::id_for_key("doc-" + std::to_string(i));
            if (i != 4) alice.insert(1700000000 + i, id);  // bob has doc-4 only
            if (i != 0) bob.insert(1700000000 + i, id);    // alice has doc-0 only
        }
        negsync::Session initiator(alice), responder(bob);
        negsync::Bytes message = initiator.initiate();
        int rounds = 0;
        for (bool complete = false; !complete; rounds++) {
            const negsync::Bytes reply = responder.reconcile(message).message;
            const negsync::Session::Step step = initiator.reconcile(reply);
            message = step.message;
            complete = step.complete;
        }
        std::printf("negsync %s, %d round(s)\n", negsync::version(), rounds);
        print_ids("alice has, bob lacks", initiator.have_ids());
        print_ids("bob has, alice lacks", initiator.need_ids());
        return 0;
    } catch (const negsync::Error &error) {
        std::fprintf(stderr, "negsync error %u: %s\n", static_cast<unsigned>(error.code()),
                     error.what());
        return 1;
    }
}
